#!/usr/bin/env bash
# Benchmark: `windlass-wheel publish` against `twine upload` and `uv publish`,
# in one hyperfine run, uploading 50 small wheels plus one 20 MB wheel to a
# fresh, stock pypiserver on a free port: htpasswd auth, fallback to the
# public index ON (its default), every tool given the credentials. Each tool
# runs twice: direct (loopback) and through `windlass-netem` at 25 ms each
# way and 200 Mbit/s (a CI runner talking to PyPI), because loopback hides
# what round trips and parallelism cost. Before every timed run the index is
# emptied and a fresh set of wheels with a new version is generated, so
# nothing is ever skipped and every tool starts from the same index.
#
# Usage: scripts/bench/publish.sh [WORK_DIR]
#   WINDLASS_WHEEL  the windlass-wheel binary (default: target/release/windlass-wheel)
#   WINDLASS_NETEM  the windlass-netem binary (default: target/release/windlass-netem)
#                   build both with `cargo build --release -p windlass-wheel -p windlass-testkit`
#   BENCH_PYTHON    a Python (default: the services' peers venv, else python3)
#   BENCH_TWINE     twine (default: the services' peers venv, else twine on PATH)
#   BENCH_UV        uv (default: the services' peers venv, else uv on PATH)
#   PYPI_SERVER     pypi-server (default: the services' venv, else pypi-server on PATH)
#   BENCH_RUNS      runs per tool and network (default: 5)
#   BENCH_JOBS      windlass uploads at once (default: its own default)
#   BENCH_DELAY     the proxy's delay each way (default: 25ms)
#   BENCH_RATE      the proxy's bandwidth each way (default: 200mbit)
# The defaults come from the env file of `scripts/services.sh` when it
# exists. Prints medians and ratios; the targets: through the proxy,
# windlass <= 0.25 x twine's and <= 0.5 x uv's wall time; direct,
# windlass <= 1.0 x uv's.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
work=${1:-$(mktemp -d -t windlass-publish-bench.XXXXXX)}

# The first of the candidates that is an executable file.
first_tool() {
  local candidate
  for candidate in "$@"; do
    if [[ -n $candidate && -x $candidate ]]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

target_dir=${CARGO_TARGET_DIR:-$repo_root/target}
windlass=${WINDLASS_WHEEL:-$target_dir/release/windlass-wheel}
netem=${WINDLASS_NETEM:-$target_dir/release/windlass-netem}
python=${BENCH_PYTHON:-$(first_tool "$(service_var WINDLASS_TEST_PYTHON)" || command -v python3)}
twine=${BENCH_TWINE:-$(first_tool "$(service_var WINDLASS_TEST_TWINE)" || command -v twine || echo twine)}
uv=${BENCH_UV:-$(first_tool "$(service_var WINDLASS_TEST_UV)" || command -v uv || echo uv)}
services_state=$(service_var WINDLASS_TEST_STATE_DIR)
server=${PYPI_SERVER:-$(first_tool "${services_state:+$services_state/venv-services/bin/pypi-server}" || command -v pypi-server || echo pypi-server)}
runs=${BENCH_RUNS:-5}
delay=${BENCH_DELAY:-25ms}
rate=${BENCH_RATE:-200mbit}
jobs_flag=${BENCH_JOBS:+--jobs $BENCH_JOBS}

require_tools hyperfine htpasswd "$windlass" "$netem" "$python" "$twine" "$uv" "$server"

mkdir -p "$work/packages" "$work/dists"
port=$(free_port "$python")
url="http://127.0.0.1:$port/"

# The stock configuration: uploads need a password from the htpasswd file,
# and the look-up of a project the index lacks is redirected to the public
# index (windlass does not follow a look-up to another origin; twine and uv
# do not look files up).
user=bench
password=bench-$RANDOM$RANDOM
htpasswd -Bbc "$work/htpasswd" "$user" "$password" 2>/dev/null
"$server" run -i 127.0.0.1 -p "$port" -a update -P "$work/htpasswd" "$work/packages" >"$work/server.log" 2>&1 &
stop_on_exit $!
wait_for_port "$port" "$work/server.log"

# The same index behind a network: delay each way, a bandwidth cap.
start_netem "$netem" "127.0.0.1:$port" "$delay" "$rate" "$work"
proxy_url="http://127.0.0.1:$netem_port/"

# Empties the index's package directory and $work/dists, then writes 50
# small wheels and one 20 MB wheel with a fresh version into $work/dists.
cat >"$work/generate.py" <<'PY'
import os, sys, time, zipfile, base64, hashlib

out, packages = sys.argv[1], sys.argv[2]
for directory in (out, packages):
    for name in os.listdir(directory):
        os.remove(os.path.join(directory, name))
version = "1.%d.%d" % (time.time(), time.perf_counter_ns() % 1000000)

def wheel(project, size):
    module = project.replace("-", "_")
    di = "%s-%s.dist-info" % (module, version)
    files = {
        module + "/__init__.py": b"VALUE = 1\n",
        module + "/data.bin": os.urandom(size),
        di + "/METADATA": (
            "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: bench\n"
            "Description-Content-Type: text/markdown\n\n# %s\n\nA benchmark package.\n"
            % (project, version, project)
        ).encode(),
        di + "/WHEEL": b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    path = os.path.join(out, "%s-%s-py3-none-any.whl" % (module, version))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for member, data in files.items():
            z.writestr(member, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append("%s,sha256=%s,%d" % (member, digest, len(data)))
        record.append(di + "/RECORD,,")
        z.writestr(di + "/RECORD", "\n".join(record) + "\n")

for i in range(50):
    wheel("bench-small-%02d" % i, 2048)
wheel("bench-large", 20 * 1024 * 1024)
PY

prepare="$python $work/generate.py $work/dists $work/packages"
dists="$work/dists/*.whl"
# Every tool gets the same credentials by environment; none reads a config
# file.
export HOME="$work/home"
mkdir -p "$HOME"
export TWINE_USERNAME=$user TWINE_PASSWORD=$password
export UV_PUBLISH_USERNAME=$user UV_PUBLISH_PASSWORD=$password
commands=()
for network in direct proxy; do
  if [[ $network == direct ]]; then target=$url; else target=$proxy_url; fi
  commands+=(
    -n "windlass $network" "$windlass publish --quiet --repository $target $jobs_flag $dists"
    -n "twine $network" "$twine upload --non-interactive --disable-progress-bar --repository-url $target $dists"
    -n "uv $network" "$uv publish --quiet --publish-url $target $dists"
  )
done
hyperfine --runs "$runs" --export-json "$work/results.json" --prepare "$prepare" "${commands[@]}"

# What went through the proxy (connections, bytes), on its exit.
stop_netem
cat "$work/netem.log" >&2

"$python" - "$work/results.json" "$delay" "$rate" <<'PY'
import json, sys

results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
median = {name: r["median"] for name, r in results.items()}
for name, value in median.items():
    print("%-16s median %.3f s" % (name, value))
def ratio(label, a, b, target):
    value = median[a] / median[b]
    verdict = "ok" if value <= target else "MISSED"
    print("%-44s %.2f (target <= %.2f: %s)" % (label, value, target, verdict))
print("through the proxy (%s each way, %s):" % (sys.argv[2], sys.argv[3]))
ratio("  windlass / twine", "windlass proxy", "twine proxy", 0.25)
ratio("  windlass / uv", "windlass proxy", "uv proxy", 0.5)
print("direct (loopback):")
ratio("  windlass / uv", "windlass direct", "uv direct", 1.0)
print("  %-42s %.2f" % ("windlass / twine", median["windlass direct"] / median["twine direct"]))
PY
