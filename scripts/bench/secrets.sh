#!/usr/bin/env bash
# Benchmark: resolve 20 secrets from OpenBao and run `true` with
# `windlass-secrets exec`, side by side with 20 sequential `bao kv get`
# calls, in one hyperfine run. Prints both medians and their ratio
# (target: <= 0.1).
#
# usage: scripts/bench/secrets.sh [RUNS]
#
# Needs the services of `scripts/services.sh start` (OpenBao) and hyperfine.
# WINDLASS_SECRETS_BIN overrides the binary (default: a release build).
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
RUNS=${1:-20}
STATE_DIR=${WINDLASS_STATE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/windlass-dev}
ENV_FILE=${WINDLASS_SERVICES_ENV:-$STATE_DIR/run/services.env}

die() {
  printf 'bench: %s\n' "$*" >&2
  exit 1
}
command -v hyperfine >/dev/null || die "hyperfine is not installed (apt-get install hyperfine)"
command -v jq >/dev/null || die "jq is not installed"
[[ -r $ENV_FILE ]] || die "no services env file at $ENV_FILE: run scripts/services.sh start"

env_value() { sed -n "s/^$1=//p" "$ENV_FILE" | head -n 1; }
VAULT_ADDR=$(env_value WINDLASS_TEST_BAO_ADDR)
BAO=$(env_value WINDLASS_TEST_BAO_BIN)
ROOT_TOKEN=$(env_value WINDLASS_TEST_BAO_TOKEN)
READ_TOKEN=$(env_value WINDLASS_TEST_BAO_READ_TOKEN)
[[ -n $VAULT_ADDR && -x $BAO ]] || die "OpenBao is not described in $ENV_FILE"
export VAULT_ADDR BAO_ADDR=$VAULT_ADDR

if [[ -n ${WINDLASS_SECRETS_BIN:-} ]]; then
  BIN=$WINDLASS_SECRETS_BIN
else
  (cd "$ROOT" && cargo build --quiet --release -p windlass-secrets)
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/windlass-secrets
fi
[[ -x $BIN ]] || die "no binary at $BIN"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

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
hyperfine --warmup 2 --runs "$RUNS" --shell=none --export-json "$WORK/result.json" \
  --command-name windlass "$BIN exec --all -- true" \
  --command-name bao-kv-get "$WORK/bao-20.sh"

jq -r '
  (.results[] | select(.command == "windlass") | .median) as $w
  | (.results[] | select(.command == "bao-kv-get") | .median) as $b
  | "median windlass secrets exec (20 secrets): \($w * 1000 | floor) ms",
    "median 20 x bao kv get:                     \($b * 1000 | floor) ms",
    "ratio: \(($w / $b) * 1000 | round / 1000) (target <= 0.1)"
' "$WORK/result.json"
