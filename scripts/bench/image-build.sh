#!/usr/bin/env bash
# Benchmark: `windlass-image build` against `podman build` of the same
# Containerfile, in one hyperfine run, outside the repository.
#
# The job is the lecture's: a base image, `RUN mkdir /job/`, the
# requirements file, `train.py` and the example project's data copied in,
# `WORKDIR /job`, `ENTRYPOINT`. The base is a busybox image written with
# umoci into an OCI layout, which both builders read (`FROM oci:...`).
# Until the native Python installer is merged, the Containerfile has no
# `RUN pip install` line: this measures the build itself (layers, config,
# manifest), not the packages.
#
# podman builds with `--no-cache` (its layer cache would skip the work) and
# a warm base (already in its storage after the warm-up run); Windlass
# writes a fresh output layout each run. Prints medians and the ratio; the
# target is windlass <= 0.2 x podman build's wall time.
#
# Usage: scripts/bench/image-build.sh [WORK_DIR]
#   WINDLASS_IMAGE  the windlass-image binary (default: target/release/windlass-image)
#   BENCH_RUNS      runs per command (default 5)
# Needs hyperfine, python3, umoci, podman and runc (scripts/services.sh
# install), and the services env for podman's configuration.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/windlass-image-bench.XXXXXX")}
image_bin=${WINDLASS_IMAGE:-$repo_root/target/release/windlass-image}
state_dir=${WINDLASS_STATE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/windlass-dev}
services_env=${WINDLASS_SERVICES_ENV:-$state_dir/run/services.env}
service_var() {
  [[ -f $services_env ]] && sed -n "s/^$1=//p" "$services_env" | head -n 1
}
busybox=$(service_var WINDLASS_TEST_BUSYBOX || true)
busybox=${busybox:-/bin/busybox}
CONTAINERS_CONF=$(service_var WINDLASS_TEST_CONTAINERS_CONF || true)
CONTAINERS_STORAGE_CONF=$(service_var WINDLASS_TEST_CONTAINERS_STORAGE_CONF || true)
export CONTAINERS_CONF CONTAINERS_STORAGE_CONF
[[ -n $CONTAINERS_CONF && -n $CONTAINERS_STORAGE_CONF ]] || {
  echo "error: no podman configuration in $services_env; run scripts/services.sh start" >&2
  exit 2
}
for tool in hyperfine python3 umoci podman "$image_bin" "$busybox"; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found" >&2; exit 2; }
done
podman_run=(podman --runtime runc --cgroup-manager cgroupfs)

# The base: busybox with one relative link per applet.
base=$work/base
if [[ ! -f $base/index.json ]]; then
  echo "making the busybox base in $base" >&2
  rootfs=$work/rootfs
  rm -rf "$rootfs" "$base"
  mkdir -p "$rootfs/bin" "$rootfs/tmp"
  cp "$busybox" "$rootfs/bin/busybox"
  for applet in $("$busybox" --list); do
    [[ $applet == busybox ]] || ln -s busybox "$rootfs/bin/$applet"
  done
  tar -C "$rootfs" -cf "$work/rootfs.tar" .
  umoci init --layout "$base"
  umoci new --image "$base:busybox"
  umoci raw add-layer --image "$base:busybox" "$work/rootfs.tar"
  umoci config --image "$base:busybox" --config.cmd sh --os linux \
    --architecture amd64 --config.env PATH=/bin
fi

# The job's build context.
ctx=$work/job
mkdir -p "$ctx"
cat >"$ctx/train.py" <<'PY'
"""Train the sentiment model on data/reviews.csv."""
import csv

with open("data/reviews.csv") as f:
    rows = list(csv.reader(f))
print(f"trained on {len(rows)} reviews")
PY
printf 'numpy==2.1.0\nscikit-learn==1.5.2\n' >"$ctx/requirements.txt"
mkdir -p "$ctx/data"
if [[ -f $repo_root/examples/ml-project/data/reviews.csv ]]; then
  cp "$repo_root/examples/ml-project/data/reviews.csv" "$ctx/data/reviews.csv"
else
  python3 -c 'import sys; [print(f"{i},review number {i} was fine,1") for i in range(20000)]' \
    >"$ctx/data/reviews.csv"
fi
cat >"$ctx/Containerfile" <<EOF
FROM oci:$base:busybox
RUN mkdir /job/
COPY requirements.txt /job/requirements.txt
COPY train.py /job/train.py
COPY data /job/data
WORKDIR /job
ENTRYPOINT ["python", "train.py"]
EOF

out=$work/out
hyperfine --warmup 1 --runs "${BENCH_RUNS:-5}" --export-json "$work/hyperfine.json" \
  --command-name windlass --prepare "rm -rf '$out'" \
  "'$image_bin' build -q -f '$ctx/Containerfile' -o 'oci:$out:job' '$ctx'" \
  --command-name podman \
  "${podman_run[*]} build -q --isolation chroot --network host --no-cache -f '$ctx/Containerfile' -t localhost/windlass-bench-job:1 '$ctx'"

python3 - "$work/hyperfine.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
windlass = results["windlass"]["median"]
podman = results["podman"]["median"]
print(f"{'command':<9} {'median s':>9} {'user s':>8} {'sys s':>7}")
for name in ("windlass", "podman"):
    r = results[name]
    print(f"{name:<9} {r['median']:>9.3f} {r['user']:>8.3f} {r['system']:>7.3f}")
ratio = windlass / podman
print(f"windlass / podman build = {ratio:.3f} (target <= 0.20): {'met' if ratio <= 0.2 else 'NOT met'}")
print("note: no `RUN pip install` yet (the native Python installer is not merged)")
PY
