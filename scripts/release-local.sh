#!/usr/bin/env bash
# The main job with no server: the example project released locally.
#
# usage: scripts/release-local.sh
#
# Builds the Python base image as an OCI layout from Debian packages
# (`scripts/services.sh python-base`) and installs Helm for the GitOps
# render (`scripts/services.sh helm`, unless WINDLASS_HELM names one), both
# cached outside the checkout, copies
# examples/ml-job and examples/ml-project under target/release-example/, and
# runs `windlass release run --local` there: the wheel into a static index,
# the job's image into an OCI layout, the bundle rendered per environment,
# then `windlass verify` of the manifest. Everything lands in
# target/release-example/ml-job/dist/release/local/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
base=$("$root/scripts/services.sh" python-base)
if [[ -z ${WINDLASS_HELM:-} ]] && ! command -v helm >/dev/null; then
  WINDLASS_HELM=$("$root/scripts/services.sh" helm)
  export WINDLASS_HELM
fi
work=$root/target/release-example
rm -rf "$work"
mkdir -p "$work"
cp -r "$root/examples/ml-job" "$root/examples/ml-project" "$work/"
rm -rf "$work/ml-project/dist" "$work/ml-job/dist"

windlass() {
  cargo run --quiet --locked --manifest-path "$root/Cargo.toml" -p windlass -- "$@"
}

cd "$work/ml-job"
windlass release run --local --base "$base"
windlass verify dist/release/local/manifest.json
