#!/usr/bin/env bash
# Benchmark: resolve 20 secrets from OpenBao and run `true` with
# `windlass-secrets exec`, side by side with 20 sequential `bao kv get`
# calls, in one hyperfine run, twice: direct (loopback) and through
# `windlass-netem` at 25 ms each way and 200 Mbit/s, because loopback hides
# what round trips cost. Prints the medians and the ratios (target: <= 0.1).
#
# usage: scripts/bench/secrets.sh [RUNS]
#
# Needs the services of `scripts/services.sh start` (OpenBao) and hyperfine.
# WINDLASS_SECRETS_BIN and WINDLASS_NETEM override the binaries (default:
# release builds). BENCH_DELAY and BENCH_RATE shape the proxy (default:
# 25ms, 200mbit).
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RUNS=${1:-20}

die() {
  printf 'bench: %s\n' "$*" >&2
  exit 1
}
command -v hyperfine >/dev/null || die "hyperfine is not installed (apt-get install hyperfine)"
command -v jq >/dev/null || die "jq is not installed"
[[ -r $services_env ]] || die "no services env file at $services_env: run scripts/services.sh start"

VAULT_ADDR=$(service_var WINDLASS_TEST_BAO_ADDR)
BAO=$(service_var WINDLASS_TEST_BAO_BIN)
ROOT_TOKEN=$(service_var WINDLASS_TEST_BAO_TOKEN)
READ_TOKEN=$(service_var WINDLASS_TEST_BAO_READ_TOKEN)
[[ -n $VAULT_ADDR && -x $BAO ]] || die "OpenBao is not described in $services_env"
export VAULT_ADDR BAO_ADDR=$VAULT_ADDR

if [[ -n ${WINDLASS_SECRETS_BIN:-} ]]; then
  BIN=$WINDLASS_SECRETS_BIN
else
  (cd "$ROOT" && cargo build --quiet --release -p windlass-secrets)
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/windlass-secrets
fi
[[ -x $BIN ]] || die "no binary at $BIN"
if [[ -n ${WINDLASS_NETEM:-} ]]; then
  NETEM=$WINDLASS_NETEM
else
  (cd "$ROOT" && cargo build --quiet --release -p windlass-testkit --bin windlass-netem)
  NETEM=${CARGO_TARGET_DIR:-$ROOT/target}/release/windlass-netem
fi
[[ -x $NETEM ]] || die "no binary at $NETEM"

WORK=$(mktemp -d)
cleanup() {
  stop_netem
  rm -rf "$WORK"
}
trap cleanup EXIT

# OpenBao behind a network: delay each way, a bandwidth cap.
UPSTREAM=${VAULT_ADDR#*://}
UPSTREAM=${UPSTREAM%%/*}
start_netem "$NETEM" "$UPSTREAM" "${BENCH_DELAY:-25ms}" "${BENCH_RATE:-200mbit}" "$WORK"
PROXY_ADDR="${VAULT_ADDR%%://*}://127.0.0.1:$netem_port"

# Seed 20 secrets (the root token goes by environment, never argv) and a
# windlass.toml naming them.
printf '[secrets]\n' >"$WORK/windlass.toml"
for i in $(seq -w 1 20); do
  VAULT_TOKEN=$ROOT_TOKEN BAO_TOKEN=$ROOT_TOKEN \
    "$BAO" kv put -mount=secret "ci/bench/s$i" "value=bench-value-$i-$RANDOM$RANDOM" >/dev/null
  printf 'S%s = "vault://secret/ci/bench/s%s#value"\n' "$i" "$i" >>"$WORK/windlass.toml"
done

cat >"$WORK/bao-20.sh" <<'SCRIPT'
#!/usr/bin/env bash
set -euo pipefail
for i in $(seq -w 1 20); do
  "$BAO" kv get -mount=secret -field=value "ci/bench/s$i" >/dev/null
done
SCRIPT
chmod +x "$WORK/bao-20.sh"

export VAULT_TOKEN=$READ_TOKEN BAO_TOKEN=$READ_TOKEN BAO WINDLASS_CONFIG=$WORK/windlass.toml
# Runs both tools against $1 (an OpenBao address) and prints the result
# under the name $2.
bench() {
  VAULT_ADDR=$1 BAO_ADDR=$1 hyperfine --warmup 2 --runs "$RUNS" --shell=none \
    --export-json "$WORK/$2.json" \
    --command-name windlass "$BIN exec --all -- true" \
    --command-name bao-kv-get "$WORK/bao-20.sh" >&2
  jq -r --arg network "$2" '
    (.results[] | select(.command == "windlass") | .median) as $w
    | (.results[] | select(.command == "bao-kv-get") | .median) as $b
    | "\($network):",
      "  median windlass secrets exec (20 secrets): \($w * 1000 | floor) ms",
      "  median 20 x bao kv get:                     \($b * 1000 | floor) ms",
      "  ratio: \(($w / $b) * 1000 | round / 1000) (target <= 0.1)"
  ' "$WORK/$2.json"
}
bench "$VAULT_ADDR" direct
bench "$PROXY_ADDR" "through the proxy (${BENCH_DELAY:-25ms} each way, ${BENCH_RATE:-200mbit})"
