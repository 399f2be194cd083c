#!/usr/bin/env bash
# Benchmark: `windlass-image push` against `skopeo copy oci:... docker://...`,
# in one hyperfine run, pushing a 200 MB image of 5 layers (random,
# incompressible data, gzip-framed so that neither tool recompresses it)
# from an OCI layout to a fresh, stock distribution registry on a free port.
# Each tool runs four ways: cold (the registry emptied before every run)
# and warm (every blob already there), each direct (loopback) and through
# `windlass-netem` at 25 ms each way and 200 Mbit/s, because loopback hides
# what round trips and parallelism cost. Both tools talk plain HTTP to the
# loopback registry and read no credentials.
#
# Usage: scripts/bench/image-push.sh [WORK_DIR]
#   WINDLASS_IMAGE  the windlass-image binary (default: target/release/windlass-image)
#   WINDLASS_NETEM  the windlass-netem binary (default: target/release/windlass-netem)
#                   build both with `cargo build --release -p windlass-image -p windlass-testkit`
#   BENCH_SKOPEO    skopeo (default: the services' skopeo, else skopeo on PATH)
#   BENCH_REGISTRY  the distribution registry binary (default: docker-registry)
#   BENCH_RUNS      runs per tool and case (default: 5)
#   BENCH_JOBS      windlass blobs at once (default: its own default)
#   BENCH_DELAY     the proxy's delay each way (default: 25ms)
#   BENCH_RATE      the proxy's bandwidth each way (default: 200mbit)
# Prints wall-time medians, client CPU (user + system, mean) and ratios; the
# targets: cold <= 0.8 x skopeo's wall time (<= 0.6 through the proxy), warm
# <= 1.0, client CPU <= 0.5.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
work=${1:-$(mktemp -d -t windlass-image-push-bench.XXXXXX)}

target_dir=${CARGO_TARGET_DIR:-$repo_root/target}
windlass=${WINDLASS_IMAGE:-$target_dir/release/windlass-image}
netem=${WINDLASS_NETEM:-$target_dir/release/windlass-netem}
skopeo=${BENCH_SKOPEO:-$(service_var WINDLASS_TEST_SKOPEO)}
skopeo=${skopeo:-$(command -v skopeo || echo skopeo)}
registry=${BENCH_REGISTRY:-docker-registry}
runs=${BENCH_RUNS:-5}
delay=${BENCH_DELAY:-25ms}
rate=${BENCH_RATE:-200mbit}
jobs_flag=${BENCH_JOBS:+--jobs $BENCH_JOBS}

require_tools hyperfine python3 "$windlass" "$netem" "$skopeo" "$registry"

mkdir -p "$work/storage" "$work/home"
export HOME="$work/home"

# The image: 5 layers of 40 MB each, written once.
if [[ ! -s $work/layout/index.json ]]; then
  python3 - "$work/layout" <<'PY'
import gzip, hashlib, json, os, sys

root = sys.argv[1]
blobs = os.path.join(root, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)

def put(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}

layers, diff_ids = [], []
for _ in range(5):
    raw = os.urandom(40 * 1000 * 1000)
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    layers.append(dict(put(gzip.compress(raw, compresslevel=1, mtime=0)),
                       mediaType="application/vnd.oci.image.layer.v1.tar+gzip"))
config = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": diff_ids},
                     "config": {}}).encode()
manifest = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": dict(put(config), mediaType="application/vnd.oci.image.config.v1+json"),
    "layers": layers,
}).encode()
desc = dict(put(manifest), mediaType="application/vnd.oci.image.manifest.v1+json",
            annotations={"org.opencontainers.image.ref.name": "v1"})
with open(os.path.join(root, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
with open(os.path.join(root, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
               "manifests": [desc]}, f)
PY
fi

port=$(free_port python3)
# The stock configuration, without a blob descriptor cache (emptying the
# storage directory then empties the registry).
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
"$registry" serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
stop_on_exit $!
wait_for_port "$port" "$work/registry.log"

start_netem "$netem" "127.0.0.1:$port" "$delay" "$rate" "$work"
proxy="127.0.0.1:$netem_port"
direct="127.0.0.1:$port"

empty="rm -rf $work/storage/docker"
fill="$windlass --quiet push oci:$work/layout:v1 $direct/bench/image:v1"
commands=()
for network in direct proxy; do
  if [[ $network == direct ]]; then host=$direct; else host=$proxy; fi
  dest="$host/bench/image:v1"
  commands+=(
    -n "windlass cold $network" --prepare "$empty"
    "$windlass --quiet push $jobs_flag oci:$work/layout:v1 $dest"
    -n "skopeo cold $network" --prepare "$empty"
    "$skopeo copy --quiet --dest-tls-verify=false oci:$work/layout:v1 docker://$dest"
    -n "windlass warm $network" --prepare "$fill"
    "$windlass --quiet push $jobs_flag oci:$work/layout:v1 $dest"
    -n "skopeo warm $network" --prepare "$fill"
    "$skopeo copy --quiet --dest-tls-verify=false oci:$work/layout:v1 docker://$dest"
  )
done
cd "$work"
hyperfine --runs "$runs" --export-json "$work/results.json" "${commands[@]}"

stop_netem

image_bytes=$(du -cb "$work"/layout/blobs/sha256/* | tail -n 1 | cut -f 1)
python3 - "$work/results.json" "$delay" "$rate" "$image_bytes" <<'PY'
import json, re, sys

results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
for name, r in results.items():
    print("%-22s median %7.3f s   cpu %6.3f s" % (name, r["median"], r["user"] + r["system"]))
def ratio(label, a, b, target, key="median"):
    pick = (lambda r: r["median"]) if key == "median" else (lambda r: r["user"] + r["system"])
    value = pick(results[a]) / pick(results[b])
    verdict = "ok" if value <= target else "MISSED"
    print("%-40s %.2f (target <= %.2f: %s)" % (label, value, target, verdict))
print("wall time, windlass / skopeo:")
ratio("  cold, direct", "windlass cold direct", "skopeo cold direct", 0.8)
ratio("  cold, proxy (%s, %s)" % (sys.argv[2], sys.argv[3]), "windlass cold proxy", "skopeo cold proxy", 0.6)
ratio("  warm, direct", "windlass warm direct", "skopeo warm direct", 1.0)
ratio("  warm, proxy", "windlass warm proxy", "skopeo warm proxy", 1.0)
# What the link alone costs: the image's bytes at the proxy's rate.
match = re.fullmatch(r"(\d+)(k|m|g)?bit", sys.argv[3].lower())
if match:
    bits = int(match.group(1)) * {None: 1, "k": 1e3, "m": 1e6, "g": 1e9}[match.group(2)]
    floor = int(sys.argv[4]) * 8 / bits
    print("  the link alone: %.2f s for %d bytes, %.2f of skopeo's cold time through the proxy"
          % (floor, int(sys.argv[4]), floor / results["skopeo cold proxy"]["median"]))
print("client cpu (user + system), windlass / skopeo:")
ratio("  cold, direct", "windlass cold direct", "skopeo cold direct", 0.5, "cpu")
ratio("  cold, proxy", "windlass cold proxy", "skopeo cold proxy", 0.5, "cpu")
ratio("  warm, direct", "windlass warm direct", "skopeo warm direct", 0.5, "cpu")
PY
