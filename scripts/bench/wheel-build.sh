#!/usr/bin/env bash
# Benchmark, in two parts, outside the repository:
#
# native: windlass-wheel's native builder against `uv build` and
#   `python -m build --no-isolation` (hatchling) on a generated pure-Python
#   project of 2,000 modules (~20 MB). Prints medians, ratios and peak
#   memory; the target is native <= 0.5 x uv build's wall time.
# sdists: real projects built from their published sdists as a new user
#   would (sdist, then the wheel from it, in isolated environments):
#   six, certifi, flake8 and annotated-types, with `windlass-wheel build`
#   (auto: they all go to their PEP 517 backend) against `python -m build`.
#   Cold is an empty Windlass environment cache; warm reuses it (the pip
#   and uv download caches stay as they are for both). Prints the total of
#   the four per run (median) and the ratios; the targets are cold <= 1.0
#   and warm <= 0.5 x `python -m build`.
#
# Usage: scripts/bench/wheel-build.sh [WORK_DIR]
#   BENCH_PARTS     `native sdists` (default), or one of them
#   WINDLASS_WHEEL  the windlass-wheel binary (default: target/release/windlass-wheel)
#   BENCH_PYTHON    a Python with `build` and `hatchling` installed (default:
#                   the peers venv of scripts/services.sh, else python3)
#   BENCH_UV        uv (default: the peers venv's, else uv on PATH)
#   BENCH_DISTS     the published sdists (default: WINDLASS_TEST_DISTS_DIR of
#                   the services env, fetched by `scripts/services.sh install`)
# Needs hyperfine and GNU time (/usr/bin/time).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/windlass-wheel-bench.XXXXXX")}
wheel_bin=${WINDLASS_WHEEL:-$repo_root/target/release/windlass-wheel}
# Defaults: the peers venv that scripts/services.sh installs, else PATH.
state_dir=${WINDLASS_STATE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/windlass-dev}
services_env=${WINDLASS_SERVICES_ENV:-$state_dir/run/services.env}
service_var() {
  [[ -f $services_env ]] && sed -n "s/^$1=//p" "$services_env" | head -n 1
}
python=${BENCH_PYTHON:-$(service_var WINDLASS_TEST_PYTHON || true)}
python=${python:-python3}
uv=${BENCH_UV:-$(service_var WINDLASS_TEST_UV || true)}
uv=${uv:-uv}
modules=2000
parts=${BENCH_PARTS:-native sdists}
dists=${BENCH_DISTS:-$(service_var WINDLASS_TEST_DISTS_DIR || true)}

for tool in hyperfine /usr/bin/time "$wheel_bin" "$python" "$uv"; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found" >&2; exit 2; }
done

bench_native() {
project=$work/project
if [[ ! -f $project/pyproject.toml ]]; then
  echo "generating $modules modules in $project" >&2
  mkdir -p "$project/src/benchpkg"
  cat >"$project/pyproject.toml" <<'TOML'
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "benchpkg"
version = "1.0.0"
description = "Generated benchmark project"
readme = "README.md"
requires-python = ">=3.9"
license = "MIT"
TOML
  printf '# benchpkg\n\nGenerated.\n' >"$project/README.md"
  printf 'MIT License\n' >"$project/LICENSE"
  : >"$project/src/benchpkg/__init__.py"
  "$python" - "$project/src/benchpkg" "$modules" <<'PY'
import random, sys
from pathlib import Path
root, count = Path(sys.argv[1]), int(sys.argv[2])
rng = random.Random(42)
words = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "theta", "kappa"]
for i in range(count):
    lines = [f'"""Module {i}."""', ""]
    while sum(len(l) for l in lines) < 10_000:
        name = f"{rng.choice(words)}_{rng.randrange(10**6)}"
        lines.append(f"def {name}(x, y={rng.randrange(100)}):")
        lines.append(f"    return [x * y + {rng.randrange(10**6)} for _ in range({rng.randrange(9)})]")
        lines.append("")
    (root / f"mod_{i:04}.py").write_text("\n".join(lines))
PY
fi
du -sh "$project/src" >&2

out=$work/out
export SOURCE_DATE_EPOCH=315532800
hyperfine --warmup 1 --runs "${BENCH_RUNS:-5}" --export-json "$work/hyperfine.json" \
  --prepare "rm -rf '$out'" \
  -n native "'$wheel_bin' -q build '$project' --backend native --wheel --out '$out'" \
  -n uv "'$uv' build --quiet --wheel --out-dir '$out' '$project'" \
  -n build "'$python' -m build --wheel --no-isolation --outdir '$out' '$project'"

peak() {
  rm -rf "$out"
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}'
}
native_kb=$(peak "$wheel_bin" -q build "$project" --backend native --wheel --out "$out")
uv_kb=$(peak "$uv" build --quiet --wheel --out-dir "$out" "$project")
build_kb=$(peak "$python" -m build --wheel --no-isolation --outdir "$out" "$project")

"$python" - "$work/hyperfine.json" "$native_kb" "$uv_kb" "$build_kb" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
peaks = dict(zip(["native", "uv", "build"], sys.argv[2:5]))
native = results["native"]["median"]
print(f"{'command':<8} {'median s':>9} {'x native':>9} {'peak RSS MB':>12}")
for name in ["native", "uv", "build"]:
    median = results[name]["median"]
    print(f"{name:<8} {median:>9.3f} {median / native:>9.2f} {int(peaks[name]) / 1024:>12.1f}")
ratio = native / results["uv"]["median"]
print(f"native / uv = {ratio:.2f} (target <= 0.50): {'met' if ratio <= 0.5 else 'NOT met'}")
PY
}

bench_sdists() {
  local sdists=(six-1.17.0 certifi-2026.10.18 flake8-7.5.0 annotated_types-0.8.0)
  local src=$work/sdists name
  [[ -n $dists ]] || { echo "error: no BENCH_DISTS: run scripts/services.sh install" >&2; exit 2; }
  rm -rf "$src"
  mkdir -p "$src"
  for name in "${sdists[@]}"; do
    tar -xzf "$dists/$name.tar.gz" -C "$src"
  done
  local out=$work/sdists-out cache=$work/windlass-cache
  local windlass="for p in '$src'/*/; do '$wheel_bin' -q build \"\$p\" --out '$out' || exit 1; done"
  local build="for p in '$src'/*/; do '$python' -m build -q --outdir '$out' \"\$p\" >/dev/null || exit 1; done"
  # The built trees keep what the backends leave behind (build/, *.egg-info).
  local clean="rm -rf '$out'; find '$src' -mindepth 2 -maxdepth 2 \\( -name build -o -name '*.egg-info' -o -name dist \\) -exec rm -rf {} +"
  WINDLASS_CACHE_DIR=$cache hyperfine --runs "${BENCH_RUNS:-3}" \
    --export-json "$work/sdists.json" \
    -n windlass-cold --prepare "$clean; rm -rf '$cache'" "$windlass" \
    -n windlass-warm --prepare "$clean" "$windlass" \
    -n build --prepare "$clean" "$build"
  "$python" - "$work/sdists.json" <<'PY'
import json, sys
results = {r["command"]: r["median"] for r in json.load(open(sys.argv[1]))["results"]}
build = results["build"]
print(f"{'command':<14} {'median s':>9} {'x build':>8}")
for name in ["windlass-cold", "windlass-warm", "build"]:
    print(f"{name:<14} {results[name]:>9.2f} {results[name] / build:>8.2f}")
cold, warm = results["windlass-cold"] / build, results["windlass-warm"] / build
print(f"cold / build = {cold:.2f} (target <= 1.00): {'met' if cold <= 1 else 'NOT met'}")
print(f"warm / build = {warm:.2f} (target <= 0.50): {'met' if warm <= 0.5 else 'NOT met'}")
PY
}

for part in $parts; do
  case $part in
    native) bench_native ;;
    sdists) bench_sdists ;;
    *) echo "error: unknown part $part (native, sdists)" >&2; exit 2 ;;
  esac
done
