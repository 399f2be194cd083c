#!/usr/bin/env bash
# Benchmark: `windlass release run` against the pipeline the peer tools
# make of the same release, side by side in one run, on the test services:
#
#   windlass  `windlass release run --base REGISTRY/python:TAG` in a
#             copy of examples/ml-job beside examples/ml-project (a git
#             repository, as crates/windlass-release/tests/release.rs makes
#             it): wheel + sdist built and published, the image built from
#             the published wheel and pushed, the bundle deployed to dev, the
#             manifest written and attached to the image.
#   peers     in another copy: `uv build` (wheel + sdist) -> `uv publish
#             --check-url` -> `podman build` of the Containerfile (FROM the
#             same base, PIP_INDEX_URL = the index) -> `skopeo copy` to the
#             registry -> `helm upgrade --install --wait` of the chart with
#             the pushed digest in its values (image.repository, .digest,
#             .tag, .reference: what Windlass writes).
#
# Both publish to one pypiserver of the benchmark's own (htpasswd auth for
# uploads, no fallback to another index), push to the open registry of the
# services (a repository per tool and benchmark), build from its Python
# base and deploy to the test cluster, each run into a fresh namespace.
# Every run releases a version of its own (the copy's version bumped to
# 0.4.N, in pyproject.toml and requirements.txt, and committed), so nothing
# is skipped. Right after it, the same release runs again ("re-run"):
# Windlass skips the publishes, the push, the deploy and the attach (it
# builds again: builds are reproducible); the peers' re-run is the same
# pipeline again (uv publish skips the files through --check-url, podman
# builds from its layer cache, skopeo copies the same digest, helm upgrades
# again).
#
# Two link profiles: loopback, and every server (pypiserver, registry,
# Kubernetes API server) behind a `windlass-netem` of its own, at 25 ms each
# way and 200 Mbit/s (the kubeconfig's server rewritten to its proxy, as in
# deploy.sh). Each profile starts with a warm-up release of each side, not
# measured: podman's copy of the base, Windlass's base cache, uv's and pip's
# caches and the chart cache are warm in the measured runs, as on a CI
# runner that has run before. The sides alternate, run by run.
#
# Measured: the wall time, the user and sys CPU time of the side's processes
# (the children the shell waited for: not the servers'), and the time of
# each step (the peers' commands; Windlass's from when its status lines
# arrive: each step's line as it finishes, which is its `--json` step event
# in words, and the `Pushing` and `Started promotion` lines that say when
# the push and the deploy begin).
#
# Usage: scripts/bench/release.sh [WORK_DIR]
#   WINDLASS        the windlass binary (default: $CARGO_TARGET_DIR or
#                   target, then release/windlass)
#   WINDLASS_NETEM  the windlass-netem binary (default: release/windlass-netem there)
#                   build both with `cargo build --release -p windlass -p windlass-testkit`
#   BENCH_UV        uv (default: the services' peers venv, else uv on PATH)
#   BENCH_HELM      helm (default: the services' helm, else helm on PATH)
#   BENCH_KUBECTL   kubectl (default: the services' kubectl, else kubectl on PATH)
#   BENCH_RUNS      measured runs per tool and profile (default: 3)
#   BENCH_PROFILES  the link profiles (default: "loopback proxy")
#   BENCH_DELAY     the proxies' delay each way (default: 25ms)
#   BENCH_RATE      the proxies' bandwidth each way (default: 200mbit)
#   BENCH_KEEP      1 keeps the namespaces made (default: deleted at the end)
# Needs the services of `scripts/services.sh start` (the registry with the
# Python base, the Kubernetes API server, podman's configuration, the
# services' pypi-server), podman, skopeo, git, htpasswd and python3.
# Prints the medians (wall, user, sys), the ratio windlass / peers and each
# side's median per step; a failed run is shown and left out.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/windlass-release-bench.XXXXXX")}
mkdir -p "$work"
work=$(cd "$work" && pwd)

target_dir=${CARGO_TARGET_DIR:-$repo_root/target}
windlass=${WINDLASS:-$target_dir/release/windlass}
netem=${WINDLASS_NETEM:-$target_dir/release/windlass-netem}
uv=${BENCH_UV:-$(service_var WINDLASS_TEST_UV)}
uv=${uv:-$(command -v uv || echo uv)}
helm=${BENCH_HELM:-$(service_var WINDLASS_TEST_HELM)}
helm=${helm:-$(command -v helm || echo helm)}
kubectl=${BENCH_KUBECTL:-$(service_var WINDLASS_TEST_KUBECTL)}
kubectl=${kubectl:-$(command -v kubectl || echo kubectl)}
python=$(service_var WINDLASS_TEST_PYTHON)
python=${python:-$(command -v python3 || echo python3)}
kubeconfig=$(service_var WINDLASS_TEST_KUBECONFIG)
context=$(service_var WINDLASS_TEST_KUBE_CONTEXT)
server=$(service_var WINDLASS_TEST_KUBE_SERVER)
registry=$(service_var WINDLASS_TEST_REGISTRY_OPEN)
base_ref=$(service_var WINDLASS_TEST_PYTHON_BASE_REF)
services_state=$(service_var WINDLASS_TEST_STATE_DIR)
pypi_server=${services_state:+$services_state/venv-services/bin/pypi-server}
CONTAINERS_CONF=$(service_var WINDLASS_TEST_CONTAINERS_CONF)
CONTAINERS_STORAGE_CONF=$(service_var WINDLASS_TEST_CONTAINERS_STORAGE_CONF)
export CONTAINERS_CONF CONTAINERS_STORAGE_CONF
runs=${BENCH_RUNS:-3}
read -ra profiles <<<"${BENCH_PROFILES:-loopback proxy}"
for profile in "${profiles[@]}"; do
  [[ $profile == loopback || $profile == proxy ]] || {
    echo "error: BENCH_PROFILES: unknown profile \`$profile\` (known: loopback, proxy)" >&2
    exit 2
  }
done
delay=${BENCH_DELAY:-25ms}
rate=${BENCH_RATE:-200mbit}

if [[ -z $kubeconfig || -z $context || -z $server || -z $registry || -z $base_ref \
  || -z $pypi_server || -z $CONTAINERS_CONF || -z $CONTAINERS_STORAGE_CONF ]]; then
  echo "error: $services_env lacks the cluster, the registry, the Python base or podman's configuration" >&2
  echo "hint: run \`scripts/services.sh install && scripts/services.sh start\`" >&2
  exit 2
fi
# The base's repository and tag, pulled through each profile's registry.
base_path=${base_ref#"$registry"/}
require_tools python3 git htpasswd podman skopeo "$windlass" "$netem" "$uv" "$helm" "$kubectl" \
  "$python" "$pypi_server"
podman_cmd=(podman --runtime runc --cgroup-manager cgroupfs)

mkdir -p "$work/home" "$work/logs"
# The tools keep their caches and settings in here, not in the user's.
export HOME="$work/home" XDG_CACHE_HOME="$work/home/.cache" XDG_CONFIG_HOME="$work/home/.config"
export WINDLASS_CACHE_DIR="$work/home/.cache/windlass" WINDLASS_HELM="$helm" WINDLASS_PYTHON="$python"
export USER=bench
unset KUBECONFIG PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL
export PIP_DISABLE_PIP_VERSION_CHECK=1
bench_id=$(python3 -c 'import secrets; print(secrets.token_hex(4))')

# The index: a pypiserver of the benchmark's own; uploads need the password.
pypi_port=$(free_port python3)
user=bench
password=bench-$(python3 -c 'import secrets; print(secrets.token_hex(12))')
htpasswd -Bbc -C 5 "$work/htpasswd" "$user" "$password" 2>/dev/null
mkdir -p "$work/packages"
"$pypi_server" run -i 127.0.0.1 -p "$pypi_port" --disable-fallback -a update -P "$work/htpasswd" \
  "$work/packages" >"$work/pypiserver.log" 2>&1 &
bench_pids+=("$!")
export TWINE_USERNAME=$user TWINE_PASSWORD=$password
export UV_PUBLISH_USERNAME=$user UV_PUBLISH_PASSWORD=$password

# The namespaces made, deleted at the end without waiting (the controller
# takes a while).
: >"$work/namespaces"
: >"$work/podman-images"
cleanup() {
  bench_cleanup
  if [[ ${BENCH_KEEP:-0} != 1 && -s $work/namespaces ]]; then
    xargs "$kubectl" --kubeconfig "$kubeconfig" --context "$context" delete namespace \
      --wait=false --ignore-not-found <"$work/namespaces" >/dev/null 2>&1 || true
  fi
  if [[ -s $work/podman-images ]]; then
    xargs "${podman_cmd[@]}" rmi -f <"$work/podman-images" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
wait_for_port "$pypi_port" "$work/pypiserver.log"

kube() { "$kubectl" --kubeconfig "$kubeconfig" --context "$context" "$@"; }
# Creates a namespace named after $1 and a random suffix; prints its name.
fresh_namespace() {
  local name
  name="bench-rel-$1-$(python3 -c 'import secrets; print(secrets.token_hex(3))')"
  kube create namespace "$name" >/dev/null
  echo "$name" >>"$work/namespaces"
  echo "$name"
}
# The test cluster's node is shared with the tests: a run's namespace goes
# once it is measured (without waiting).
drop() { [[ -z $1 ]] || kube delete namespace --wait=false --ignore-not-found "$1" >/dev/null 2>&1 || true; }

# Loopback: the servers themselves. Proxy: one windlass-netem in front of
# each (the API server's TLS passes through it; its certificate names
# 127.0.0.1).
declare -A index_url registry_host kubeconfig_of
index_url[loopback]=http://127.0.0.1:$pypi_port/
registry_host[loopback]=$registry
kubeconfig_of[loopback]=$kubeconfig
# Starts windlass-netem in front of $2 (HOST:PORT), its files in
# $work/netem-$1; sets netem_port.
proxy() { # NAME UPSTREAM
  mkdir -p "$work/netem-$1"
  start_netem "$netem" "$2" "$delay" "$rate" "$work/netem-$1"
  bench_pids+=("$netem_pid")
  netem_pid=
}
proxy pypi "127.0.0.1:$pypi_port"
index_url[proxy]=http://127.0.0.1:$netem_port/
proxy registry "$registry"
registry_host[proxy]=127.0.0.1:$netem_port
proxy kube "${server#https://}"
kubeconfig_of[proxy]=$work/kubeconfig.proxy
# The kubeconfig holds the test cluster's token: private, like the original.
(umask 077 && sed "s#server: $server\$#server: https://127.0.0.1:$netem_port#" \
  "$kubeconfig" >"$work/kubeconfig.proxy")
grep -q "127.0.0.1:$netem_port" "$work/kubeconfig.proxy" || {
  echo "error: cannot point a copy of $kubeconfig at the proxy" >&2
  exit 2
}

# Each side's copy of the examples, a git repository.
for side in windlass peers; do
  repo=$work/$side
  rm -rf "$repo"
  mkdir -p "$repo"
  for example in ml-job ml-project; do
    cp -r "$repo_root/examples/$example" "$repo/$example"
    rm -rf "$repo/$example/dist" "$repo/$example/.venv"
  done
  printf 'dist/\n' >"$repo/.gitignore"
  git -C "$repo" init -q -b main
done
git_commit() { # REPO MESSAGE
  git -C "$1" -c user.name=bench -c user.email=bench@example.invalid add -A
  git -C "$1" -c user.name=bench -c user.email=bench@example.invalid commit -q -m "$2"
}

# Every release gets a version of its own.
released=0
# Sets the version of the copy $1 to the next 0.4.N (in `version`) and, for
# Windlass, writes its windlass.toml for the profile $2 and the namespace
# $3; commits.
next_release() {
  local repo=$1 profile=$2 namespace=$3
  released=$((released + 1))
  version=0.4.$released
  sed -i "s/^version = \".*\"/version = \"$version\"/" "$repo/ml-project/pyproject.toml"
  sed -i "s/^sentiment-lab==.*/sentiment-lab==$version/" "$repo/ml-job/requirements.txt"
  grep -q "^version = \"$version\"" "$repo/ml-project/pyproject.toml"
  grep -q "^sentiment-lab==$version" "$repo/ml-job/requirements.txt"
  if [[ $repo == "$work/windlass" ]]; then
    cat >"$repo/ml-job/windlass.toml" <<EOF
[deploy]
chart = "chart"
release = "ml-job"
timeout = "5m"

[deploy.images.job]
repository = "${registry_host[$profile]}/bench-release/$bench_id-windlass"
values-key = "image"

[deploy.environments.dev]
kubeconfig = "${kubeconfig_of[$profile]}"
context = "$context"
namespace = "$namespace"

[release]
wheels = ["../ml-project"]
repository = "${index_url[$profile]}"
environment = "dev"

[release.images.job]
containerfile = "Containerfile"
context = "."
tags = ["{version}"]
EOF
  fi
  git_commit "$repo" "release $version"
}

# Prints each line read with the time it arrived (microseconds) before it.
stamp() {
  local line
  while IFS= read -r line; do
    printf '%s\t%s\n' "${EPOCHREALTIME/./}" "$line"
  done
}

# One Windlass release of the copy for the profile $1, its output (stdout
# and stderr, each line stamped) in $2.
windlass_release() { # PROFILE LOG
  (cd "$work/windlass/ml-job" \
    && NO_COLOR=1 "$windlass" release run --base "${registry_host[$1]}/$base_path" 2>&1) | stamp >"$2"
}

# The peers' pipeline for the profile $1, the namespace $2 and the version
# $3; each command's output in $4, each step's time (microseconds) in $4.steps.
peers_release() { # PROFILE NAMESPACE VERSION LOG
  local profile=$1 namespace=$2 version=$3 log=$4
  local dir=$work/peers index=${index_url[$1]}
  local repository=${registry_host[$profile]}/bench-release/$bench_id-peers
  local image=localhost/bench-release-$bench_id-peers:$version t
  : >"$log"
  : >"$log.steps"
  t=${EPOCHREALTIME/./}
  rm -rf "$dir/dist"
  "$uv" build --quiet --out-dir "$dir/dist" "$dir/ml-project" >>"$log" 2>&1 || return 1
  printf 'build\t%s\n' "$((${EPOCHREALTIME/./} - t))" >>"$log.steps"
  t=${EPOCHREALTIME/./}
  "$uv" publish --quiet --publish-url "$index" --check-url "${index}simple/" "$dir"/dist/* \
    >>"$log" 2>&1 || return 1
  printf 'publish\t%s\n' "$((${EPOCHREALTIME/./} - t))" >>"$log.steps"
  t=${EPOCHREALTIME/./}
  "${podman_cmd[@]}" build -q --isolation chroot --network host --tls-verify=false \
    --from "${registry_host[$profile]}/$base_path" \
    --env "PIP_INDEX_URL=${index}simple/" --env PIP_DISABLE_PIP_VERSION_CHECK=1 \
    -f "$dir/ml-job/Containerfile" -t "$image" "$dir/ml-job" >>"$log" 2>&1 || return 1
  printf 'image\t%s\n' "$((${EPOCHREALTIME/./} - t))" >>"$log.steps"
  t=${EPOCHREALTIME/./}
  skopeo copy -q --dest-tls-verify=false --digestfile "$work/peers.digest" \
    "containers-storage:$image" "docker://$repository:$version" >>"$log" 2>&1 || return 1
  printf 'push\t%s\n' "$((${EPOCHREALTIME/./} - t))" >>"$log.steps"
  t=${EPOCHREALTIME/./}
  local digest
  digest=$(<"$work/peers.digest")
  printf '{"image": {"repository": "%s", "digest": "%s", "tag": "%s", "reference": "%s@%s"}}\n' \
    "$repository" "$digest" "$version" "$repository" "$digest" >"$work/peers-values.json"
  "$helm" --kubeconfig "${kubeconfig_of[$profile]}" --kube-context "$context" -n "$namespace" \
    upgrade --install --wait --timeout 5m ml-job "$dir/ml-job/chart" -f "$work/peers-values.json" \
    >>"$log" 2>&1 || return 1
  printf 'deploy\t%s\n' "$((${EPOCHREALTIME/./} - t))" >>"$log.steps"
}

results=$work/results.tsv
: >"$results"
: >"$work/failures"
# Runs one release, timed: PROFILE SIDE KIND RUN NAMESPACE VERSION. The
# CPU times are the shell's children's (`times`), before and after, read
# in this shell (a subshell starts from zero).
measure() {
  local profile=$1 side=$2 kind=$3 run=$4 namespace=$5 version=$6
  local log=$work/logs/$profile-$side-$kind-$run.log status=0 start end
  local user0 sys0 user1 sys1
  echo "$profile, $kind, run $run/$runs: $side $version" >&2
  times >"$work/times"
  { read -r _; read -r user0 sys0; } <"$work/times"
  start=${EPOCHREALTIME/./}
  if [[ $side == windlass ]]; then
    windlass_release "$profile" "$log" || status=$?
  else
    peers_release "$profile" "$namespace" "$version" "$log" || status=$?
  fi
  end=${EPOCHREALTIME/./}
  times >"$work/times"
  { read -r _; read -r user1 sys1; } <"$work/times"
  if ((status != 0)); then
    echo "warning: failed: $side $kind ($profile, run $run, exit $status; left out of the medians):" >&2
    tail -n 30 "$log" | sed 's/^/  /' >&2
    echo "$profile $side $kind $run" >>"$work/failures"
    return 1
  fi
  # The index password is in the environment only: never in what a tool
  # printed or wrote.
  if grep -rqF -- "$password" "$log" "$work/$side/ml-job/dist" 2>/dev/null; then
    echo "warning: the index password is in the output of $side ($log)" >&2
    echo "$profile $side $kind $run: the password leaked" >>"$work/failures"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s %s\t%s %s\t%s\n' "$profile" "$side" "$kind" "$run" \
    "$start" "$end" "$user0" "$user1" "$sys0" "$sys1" "$log" >>"$results"
}

# A release of the side $1 for the profile $2 into a fresh namespace: the
# first run, then the re-run, both measured as run $3; or, when $3 is
# `warm-up`, one run not measured (a failure stops the benchmark).
release_pair() { # SIDE PROFILE RUN
  local side=$1 profile=$2 run=$3 namespace
  namespace=$(fresh_namespace "${side:0:1}-$profile")
  next_release "$work/$side" "$profile" "$namespace"
  if [[ $side == peers ]]; then
    echo "localhost/bench-release-$bench_id-peers:$version" >>"$work/podman-images"
  fi
  if [[ $run == warm-up ]]; then
    measure "$profile" "$side" warm-up 0 "$namespace" "$version" || exit 1
  elif measure "$profile" "$side" first "$run" "$namespace" "$version"; then
    measure "$profile" "$side" re-run "$run" "$namespace" "$version" || true
  fi
  drop "$namespace"
}

for profile in "${profiles[@]}"; do
  release_pair windlass "$profile" warm-up
  release_pair peers "$profile" warm-up
  for run in $(seq "$runs"); do
    if ((run % 2)); then order=(windlass peers); else order=(peers windlass); fi
    for side in "${order[@]}"; do
      release_pair "$side" "$profile" "$run"
    done
  done
done

# The servers stopped; what went through each proxy (connections, bytes),
# which it logs on its exit.
for pid in "${bench_pids[@]}"; do
  if kill -TERM "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; fi
done
bench_pids=()
for name in pypi registry kube; do
  echo "windlass-netem in front of $name: $(tail -n 1 "$work/netem-$name/netem.log")" >&2
done

python3 - "$results" "$work/failures" "$delay" "$rate" "$runs" <<'PY'
import collections, re, statistics, sys

results, failures, delay, rate, runs = sys.argv[1:]

def seconds(text):  # bash `times`: 1m2.345s
    m = re.fullmatch(r"(\d+)m([\d.]+)s", text)
    return int(m.group(1)) * 60 + float(m.group(2))

def windlass_steps(log, start, end):
    """Step times from when Windlass's status lines arrived: each step's
    line (`Done build ...`, `Skipped push ...`) as it finishes, `Pushing`
    when the image is built and its push starts, `Started promotion` when
    the bundle is made and the deploy starts. A step whose start line is
    missing (a skipped push or deploy prints none) ends where the next
    step's line is, so the check that skips it counts in the next step."""
    last_of, starts = {}, {}
    for line in open(log):
        stamp, _, text = line.rstrip("\n").partition("\t")
        words = text.split()
        if len(words) < 2:
            continue
        verb, what = words[0], words[1]
        if verb in ("Done", "Skipped", "Failed"):
            last_of[what] = int(stamp)
        elif verb == "Pushing":
            starts["push"] = int(stamp)
        elif verb == "Started" and what == "promotion":
            starts["deploy"] = int(stamp)
    # The image's and the bundle's lines come with the next step's: they
    # end where the next step starts, if it says so.
    for step, before in (("push", "image"), ("deploy", "bundle")):
        if step in last_of:
            last_of[before] = starts.get(step, last_of[step])
    steps, previous = {}, start
    for kind in ("build", "publish", "image", "push", "bundle", "deploy", "attach"):
        if kind in last_of:
            steps[kind] = (last_of[kind] - previous) / 1e6
            previous = last_of[kind]
    steps["rest"] = (end - previous) / 1e6
    return steps

rows = collections.defaultdict(list)  # (profile, side, kind) -> [(wall, user, sys)]
steps = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(results):
    profile, side, kind, run, start, end, user, sys_, log = line.rstrip("\n").split("\t")
    if kind == "warm-up":
        continue
    start, end = int(start), int(end)
    u0, u1 = map(seconds, user.split())
    s0, s1 = map(seconds, sys_.split())
    rows[(profile, side, kind)].append(((end - start) / 1e6, u1 - u0, s1 - s0))
    if side == "windlass":
        taken = windlass_steps(log, start, end)
    else:
        taken = {k: int(v) / 1e6 for k, v in (l.split("\t") for l in open(log + ".steps"))}
    for step, value in taken.items():
        steps[(profile, side, kind)][step].append(value)

def med(values):
    return statistics.median(values) if values else float("nan")

failed = [l.strip() for l in open(failures) if l.strip()]
if failed:
    print("%d failed runs, left out: %s" % (len(failed), "; ".join(failed)))
label = {"loopback": "loopback", "proxy": "proxy (%s each way, %s)" % (delay, rate)}
print("windlass release run against uv build + uv publish + podman build + skopeo copy + helm upgrade --install --wait")
print("medians over %s runs (counted: n); wall, user and sys CPU time in seconds\n" % runs)
print("| link | run | windlass wall | user | sys | peers wall | user | sys | windlass / peers | n |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
profiles = [p for p in ("loopback", "proxy") if (p, "windlass", "first") in rows or (p, "peers", "first") in rows]
for profile in profiles:
    for kind in ("first", "re-run"):
        w = rows[(profile, "windlass", kind)]
        p = rows[(profile, "peers", kind)]
        wm = [med([r[i] for r in w]) for i in range(3)]
        pm = [med([r[i] for r in p]) for i in range(3)]
        print("| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | **%.2f** | %d/%d |" % (
            label[profile], kind, *wm, *pm, wm[0] / pm[0], len(w), len(p)))
print("\nper step, wall-time medians in seconds (windlass: from when its status lines arrived)\n")
for profile in profiles:
    for kind in ("first", "re-run"):
        for side in ("windlass", "peers"):
            parts = steps[(profile, side, kind)]
            print("  %-9s %-7s %-9s %s" % (profile, kind, side, ", ".join(
                "%s %.2f" % (step, med(values)) for step, values in parts.items())))
PY
