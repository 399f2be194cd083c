#!/usr/bin/env bash
# The one test command, for developers and CI alike (.ci/run calls exactly this).
#
# usage: scripts/test.sh [--keep-services]
#
# Installs what is missing (Debian packages, cargo-deny, the test services and
# their clients; see scripts/services.sh), starts the services, then runs
# rustfmt, clippy, cargo-deny, shellcheck and the whole test suite against the
# real services. Services are stopped at the end unless --keep-services.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

keep_services=0
for arg in "$@"; do
  case $arg in
    --keep-services) keep_services=1 ;;
    -h | --help)
      sed -n '2,9p' "$0"
      exit 0
      ;;
    *)
      printf 'test.sh: unknown argument %s\n' "$arg" >&2
      exit 2
      ;;
  esac
done

TEST_APT_PACKAGES=(shellcheck jq curl openssl groff-base man-db)

timings=()
current_phase=
phase_start=

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }

begin() {
  current_phase=$1
  phase_start=$(now)
  printf '\n==> %s\n' "$current_phase" >&2
}

end() {
  timings+=("$(awk -v a="$phase_start" -v b="$(now)" -v n="$current_phase" \
    'BEGIN { printf "%8.1f s  %s", b - a, n }')")
  current_phase=
}

finish() {
  local rc=$?
  if [[ -n $current_phase ]]; then
    end
    timings[-1]="${timings[-1]}  (FAILED)"
  fi
  if ((keep_services)); then
    printf '\nservices left running (--keep-services); stop them with scripts/services.sh stop\n' >&2
  else
    scripts/services.sh stop >/dev/null 2>&1 || true
  fi
  printf '\ntiming per phase:\n' >&2
  printf '  %s\n' "${timings[@]}" >&2
  exit "$rc"
}
trap finish EXIT

begin "install (apt packages, cargo-deny, services and clients)"
missing=()
for pkg in "${TEST_APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update -q >/dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends "${missing[@]}" >/dev/null
fi
# cargo-deny is cached in ~/.cargo/bin; build it only when it is missing.
command -v cargo-deny >/dev/null || cargo install --locked cargo-deny@0.20.2
for component in rustfmt clippy-driver; do
  command -v "$component" >/dev/null || {
    printf 'test.sh: %s is missing: rustup component add %s\n' "$component" "${component%-driver}" >&2
    exit 1
  }
done
scripts/services.sh install
end

begin "start services"
scripts/services.sh start >/dev/null
WINDLASS_SERVICES_ENV=$(scripts/services.sh env)
export WINDLASS_SERVICES_ENV
scripts/services.sh status >&2
# The Kubernetes test namespaces of the previous run go first.
scripts/services.sh clean
end

begin "cargo fmt --all --check"
cargo fmt --all --check
end

begin "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
end

begin "cargo deny (licenses bans sources)"
# Advisories are not checked here: the RustSec advisory database is fetched
# from a git host, and the test command must pass where only package
# registries are reachable. Run `cargo deny check advisories` where it is.
cargo deny check licenses bans sources
end

begin "shellcheck"
shellcheck scripts/*.sh scripts/bench/*.sh .ci/run
end

begin "cargo test (against the real services)"
cargo test --workspace --locked --no-fail-fast
end
