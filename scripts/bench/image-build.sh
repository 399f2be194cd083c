#!/usr/bin/env bash
# Benchmark: `windlass-image build` against `podman build` of the same
# Containerfile, in one hyperfine run, outside the repository.
#
# The job is the lecture's, unchanged: examples/ml-job's Containerfile
# (`FROM python:3.11-bookworm`, `RUN mkdir /job/`, the requirements file,
# `RUN pip install --no-cache-dir -r /job/requirements.txt`, `train.py`,
# `WORKDIR /job`, `ENTRYPOINT`). Both builders start from the test
# services' Python base layout (`--base` for Windlass, `--from` for
# podman) and install `sentiment-lab`, the example project's wheel built
# here with `windlass wheel build`, from a local find-links page
# (PIP_FIND_LINKS, PIP_NO_INDEX): Windlass fetches it with the host's pip
# into its wheel cache (warm after the warm-up run) and installs it
# natively; podman runs the image's pip in a container.
#
# A second Windlass run builds the same file with the requirement pinned
# by hash (`sentiment-lab==0.4.0 --hash=sha256:...`, a copy of the context):
# warm, it takes the wheel pip chose before from the cache and runs no pip.
# Both Windlass runs byte-compile, as pip in podman does (the host's
# python3 must be the base's 3.11).
#
# podman builds with `--no-cache` (its layer cache would skip the work) and
# a warm base (already in its storage after the warm-up run); Windlass
# writes a fresh output layout each run. Prints medians and the ratio; the
# target is windlass <= 0.2 x podman build's wall time.
#
# Usage: scripts/bench/image-build.sh [WORK_DIR]
#   WINDLASS_IMAGE  the windlass-image binary (default: $CARGO_TARGET_DIR or
#                   target, then release/windlass-image)
#   WINDLASS        the windlass binary, for the wheel (default: release/windlass there)
#   BENCH_RUNS      runs per command (default 5)
# Needs hyperfine, python3 with pip, podman, runc and skopeo (scripts/services.sh
# install), and the services env (the Python base, podman's configuration).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/windlass-image-bench.XXXXXX")}
target_dir=${CARGO_TARGET_DIR:-$repo_root/target}
image_bin=${WINDLASS_IMAGE:-$target_dir/release/windlass-image}
windlass_bin=${WINDLASS:-$target_dir/release/windlass}
base_layout=$(service_var WINDLASS_TEST_PYTHON_BASE_LAYOUT)
base_tag=$(service_var WINDLASS_TEST_PYTHON_BASE_TAG)
[[ -n $base_layout && -f $base_layout/index.json ]] || {
  echo "error: no Python base image in $services_env; run scripts/services.sh install && scripts/services.sh start" >&2
  exit 2
}
CONTAINERS_CONF=$(service_var WINDLASS_TEST_CONTAINERS_CONF)
CONTAINERS_STORAGE_CONF=$(service_var WINDLASS_TEST_CONTAINERS_STORAGE_CONF)
export CONTAINERS_CONF CONTAINERS_STORAGE_CONF
[[ -n $CONTAINERS_CONF && -n $CONTAINERS_STORAGE_CONF ]] || {
  echo "error: no podman configuration in $services_env; run scripts/services.sh start" >&2
  exit 2
}
require_tools hyperfine python3 podman skopeo "$image_bin" "$windlass_bin"
podman_run=(podman --runtime runc --cgroup-manager cgroupfs)

# The project's wheel, on a find-links page both pips read.
links=$work/links
if ! compgen -G "$links/sentiment_lab-*.whl" >/dev/null; then
  rm -rf "$work/project" "$links"
  cp -r "$repo_root/examples/ml-project" "$work/project"
  "$windlass_bin" wheel build -q --wheel -o "$links" "$work/project"
fi
port=$(free_port python3)
python3 -m http.server --bind 127.0.0.1 --directory "$links" "$port" >"$work/links.log" 2>&1 &
stop_on_exit $!
wait_for_port "$port" "$work/links.log"
export PIP_NO_INDEX=1 PIP_FIND_LINKS=http://127.0.0.1:$port/
export WINDLASS_CACHE_DIR=$work/cache

# podman's copy of the base, in its storage (`--from` takes a name only).
podman_base=localhost/windlass-bench-python:$base_tag
skopeo copy -q "oci:$base_layout:$base_tag" "containers-storage:$podman_base"

# The job's build context: the example, unchanged.
ctx=$work/job
rm -rf "$ctx"
cp -r "$repo_root/examples/ml-job" "$ctx"

# The same job with its requirement pinned by hash.
hashed=$work/job-hashed
rm -rf "$hashed"
cp -r "$repo_root/examples/ml-job" "$hashed"
wheel=$(compgen -G "$links/sentiment_lab-*.whl" | head -n 1)
sha=$(sha256sum "$wheel" | cut -d' ' -f1)
printf 'sentiment-lab==0.4.0 --hash=sha256:%s\n' "$sha" >"$hashed/requirements.txt"

out=$work/out
hyperfine --warmup 1 --runs "${BENCH_RUNS:-5}" --export-json "$work/hyperfine.json" \
  --command-name windlass --prepare "rm -rf '$out'" \
  "'$image_bin' build -q -f '$ctx/Containerfile' --base 'oci:$base_layout:$base_tag' -o 'oci:$out:job' '$ctx'" \
  --command-name windlass-hashed \
  "'$image_bin' build -q -f '$hashed/Containerfile' --base 'oci:$base_layout:$base_tag' -o 'oci:$out:hashed' '$hashed'" \
  --command-name podman \
  "${podman_run[*]} build -q --isolation chroot --network host --no-cache --from '$podman_base' --env PIP_NO_INDEX=1 --env PIP_FIND_LINKS=$PIP_FIND_LINKS -f '$ctx/Containerfile' -t localhost/windlass-bench-job:1 '$ctx'"

python3 - "$work/hyperfine.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
windlass = results["windlass"]["median"]
podman = results["podman"]["median"]
print(f"{'command':<15} {'median s':>9} {'user s':>8} {'sys s':>7}")
for name in ("windlass", "windlass-hashed", "podman"):
    r = results[name]
    print(f"{name:<15} {r['median']:>9.3f} {r['user']:>8.3f} {r['system']:>7.3f}")
ratio = windlass / podman
print(f"windlass / podman build = {ratio:.3f} (target <= 0.20): {'met' if ratio <= 0.2 else 'NOT met'}")
hashed = results["windlass-hashed"]["median"] / podman
print(f"windlass-hashed / podman build = {hashed:.3f}")
PY
