#!/usr/bin/env bash
# Benchmark: what `windlass-deploy` adds on top of Helm. In one run, on the
# test cluster of `scripts/services.sh` and its test chart
# (crates/windlass-deploy/tests/charts/app), with the same values for both:
#
#   1. install + upgrade: `windlass-deploy up dev --image app=REPO@DIGEST`
#      (a windlass.toml with one environment) against `helm upgrade
#      --install --wait --timeout 2m` with the values Windlass sends (read
#      back with `helm get values` from a warm-up release, so both do the
#      same work). Each run installs into a fresh namespace, then upgrades
#      to a second image digest; the tools alternate, run by run.
#   2. the same with the Kubernetes API behind `windlass-netem` at 25 ms
#      each way and 200 Mbit/s (a copy of the kubeconfig whose server is the
#      proxy: TLS passes through it, and the API server's certificate names
#      127.0.0.1), because loopback hides what round trips cost.
#   3. a promotion across three environments, end to end, and each step:
#      `up dev`, `promote dev staging`, `approve prod BUNDLE`, `promote
#      staging prod` (prod has an approval gate). No peer: Helm has no
#      such thing.
#
# Then a breakdown of one Windlass install + upgrade: the time spent in
# each Helm command it runs (through a timing wrapper) and the rest, which
# is Windlass's own (lease, ledger records, chart packaging).
#
# Usage: scripts/bench/deploy.sh [WORK_DIR]
#   WINDLASS_DEPLOY  the windlass-deploy binary (default: target/release/windlass-deploy)
#   WINDLASS_NETEM   the windlass-netem binary (default: target/release/windlass-netem)
#                    build both with `cargo build --release -p windlass-deploy -p windlass-testkit`
#   BENCH_HELM       helm (default: the services' helm, else helm on PATH)
#   BENCH_KUBECTL    kubectl (default: the services' kubectl, else kubectl on PATH)
#   BENCH_RUNS       runs per tool and case (default: 5)
#   BENCH_DELAY      the proxy's delay each way (default: 25ms)
#   BENCH_RATE       the proxy's bandwidth each way (default: 200mbit)
#   BENCH_KEEP       1 keeps the namespaces made (default: deleted at the end)
# Prints wall-time medians and the ratio windlass / helm; the target:
# at most 1.15.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=${1:-$(mktemp -d -t windlass-deploy-bench.XXXXXX)}

# shellcheck source=scripts/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

target_dir=${CARGO_TARGET_DIR:-$repo_root/target}
windlass=${WINDLASS_DEPLOY:-$target_dir/release/windlass-deploy}
netem=${WINDLASS_NETEM:-$target_dir/release/windlass-netem}
helm=${BENCH_HELM:-$(service_var WINDLASS_TEST_HELM)}
helm=${helm:-$(command -v helm || echo helm)}
kubectl=${BENCH_KUBECTL:-$(service_var WINDLASS_TEST_KUBECTL)}
kubectl=${kubectl:-$(command -v kubectl || echo kubectl)}
kubeconfig=$(service_var WINDLASS_TEST_KUBECONFIG)
context=$(service_var WINDLASS_TEST_KUBE_CONTEXT)
server=$(service_var WINDLASS_TEST_KUBE_SERVER)
runs=${BENCH_RUNS:-5}
delay=${BENCH_DELAY:-25ms}
rate=${BENCH_RATE:-200mbit}
chart=$repo_root/crates/windlass-deploy/tests/charts/app
repository=registry.test/bench/app
digest_a=sha256:$(printf 'a%.0s' $(seq 64))
digest_b=sha256:$(printf 'b%.0s' $(seq 64))

if [[ -z $kubeconfig || -z $context || -z $server ]]; then
  echo "error: $services_env has no WINDLASS_TEST_KUBE* variables" >&2
  echo "hint: run \`scripts/services.sh start\` (or \`scripts/services.sh env\`)" >&2
  exit 2
fi
require_tools python3 "$windlass" "$netem" "$helm" "$kubectl"

mkdir -p "$work/home"
# Both tools keep their caches and settings in here, not in the user's.
export HOME="$work/home" XDG_CACHE_HOME="$work/home/.cache" XDG_CONFIG_HOME="$work/home/.config"
export WINDLASS_HELM="$helm" USER=bench
unset KUBECONFIG

kube() { "$kubectl" --kubeconfig "$kubeconfig" --context "$context" "$@"; }
# Creates a namespace named after $1 and a random suffix; prints its name.
fresh_namespace() {
  local name
  name="bench-$1-$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
  kube create namespace "$name" >/dev/null
  echo "$name"
}
cleanup() {
  stop_netem
  if [[ ${BENCH_KEEP:-0} != 1 && -s $work/namespaces ]]; then
    # Deleting a namespace takes the controller a while: do not wait.
    xargs "$kubectl" --kubeconfig "$kubeconfig" --context "$context" delete namespace \
      --wait=false --ignore-not-found <"$work/namespaces" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
: >"$work/namespaces"
remember() { echo "$1" >>"$work/namespaces"; }
# The test cluster's node takes a few hundred pods, shared with the tests:
# a run's namespaces go as soon as it is measured (without waiting).
drop() { [[ -z $1 ]] || kube delete namespace --wait=false --ignore-not-found "$@" >/dev/null 2>&1 || true; }

# The proxy in front of the API server, and a kubeconfig that goes through it.
start_netem "$netem" "${server#https://}" "$delay" "$rate" "$work"
proxy_port=$netem_port
# The kubeconfig holds the test cluster's token: private, like the original.
(umask 077 && sed "s#server: $server\$#server: https://127.0.0.1:$proxy_port#" \
  "$kubeconfig" >"$work/kubeconfig.proxy")
grep -q "127.0.0.1:$proxy_port" "$work/kubeconfig.proxy" || {
  echo "error: cannot point a copy of $kubeconfig at the proxy" >&2
  exit 2
}
kubeconfig_for() { if [[ $1 == direct ]]; then echo "$kubeconfig"; else echo "$work/kubeconfig.proxy"; fi; }

# The application values both tools deploy (Windlass adds the image).
cat >"$work/values.yaml" <<'EOF'
replicaCount: 2
config:
  message: benchmark
EOF

# Writes a project with one environment per "NAME=NAMESPACE" argument, the
# first with no `from`, each next promoted from the one before, the last
# behind an approval when there are three.
write_project() {
  local dir=$1 network=$2
  shift 2
  mkdir -p "$dir"
  {
    cat <<EOF
[deploy]
chart = "$chart"
release = "app"
values = ["$work/values.yaml"]
timeout = "2m"

[deploy.images.app]
repository = "$repository"
values-key = "image"
EOF
    local previous="" pair name namespace
    for pair in "$@"; do
      name=${pair%%=*} namespace=${pair#*=}
      printf '\n[deploy.environments.%s]\nkubeconfig = "%s"\ncontext = "%s"\nnamespace = "%s"\n' \
        "$name" "$(kubeconfig_for "$network")" "$context" "$namespace"
      if [[ -n $previous ]]; then printf 'from = "%s"\n' "$previous"; fi
      if [[ $name == prod ]]; then printf 'gates = { approval = true }\n'; fi
      previous=$name
    done
  } >"$dir/windlass.toml"
}

now() { date +%s%N; }
results=$work/results.tsv
: >"$results"
# record CASE TOOL NETWORK STEP RUN START_NS
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$(( $(now) - $6 ))" >>"$results"; }

# A command that fails is shown and counted; its run is left out of the
# medians (the test cluster's fake kubelet now and then leaves a pod
# unready until the timeout).
: >"$work/failures"
failed() { # WHAT
  echo "warning: failed: $1 (left out of the medians):" >&2
  sed 's/^/  /' "$work/last.out" >&2
  echo "$1" >>"$work/failures"
  return 1
}
windlass_up() { # PROJECT_DIR DIGEST
  "$windlass" --quiet --config "$1/windlass.toml" up dev --image "app=$repository@$2" \
    >"$work/last.out" 2>&1 || failed "windlass-deploy up dev ($1)"
}
helm_up() { # NETWORK NAMESPACE VALUES_FILE
  "$helm" --kubeconfig "$(kubeconfig_for "$1")" --kube-context "$context" -n "$2" \
    upgrade --install --wait --timeout 2m app "$chart" -f "$3" >"$work/last.out" 2>&1 \
    || failed "helm upgrade --install ($2)"
}
helm_values() { # NAMESPACE
  "$helm" --kubeconfig "$kubeconfig" --kube-context "$context" -n "$1" get values app -o json
}

# Warm-up: Windlass deploys both digests once; what it sent Helm is what
# Helm gets below. It also fills the chart cache, as a real project has.
echo "warm-up: the values Windlass sends" >&2
ns=$(fresh_namespace warm)
remember "$ns"
write_project "$work/warm" direct "dev=$ns"
windlass_up "$work/warm" "$digest_a" || exit 1
helm_values "$ns" >"$work/values-a.json"
windlass_up "$work/warm" "$digest_b" || exit 1
helm_values "$ns" >"$work/values-b.json"
ns=$(fresh_namespace warm-helm)
remember "$ns"
helm_up direct "$ns" "$work/values-a.json" || exit 1

# Cases 1 and 2: install + upgrade, alternating the tools run by run.
last_windlass_ns="" last_helm_ns=""
for network in direct proxy; do
  for run in $(seq "$runs"); do
    if ((run % 2)); then order=(windlass helm); else order=(helm windlass); fi
    for tool in "${order[@]}"; do
      echo "install + upgrade, $network, run $run/$runs: $tool" >&2
      ns=$(fresh_namespace "${tool:0:1}-$network")
      remember "$ns"
      if [[ $tool == windlass ]]; then
        write_project "$work/p-$ns" "$network" "dev=$ns"
        t=$(now); windlass_up "$work/p-$ns" "$digest_a" || continue; record up "$tool" "$network" install "$run" "$t"
        t=$(now); windlass_up "$work/p-$ns" "$digest_b" || continue; record up "$tool" "$network" upgrade "$run" "$t"
        drop "$last_windlass_ns"
        last_windlass_ns=$ns
      else
        t=$(now); helm_up "$network" "$ns" "$work/values-a.json" || continue; record up "$tool" "$network" install "$run" "$t"
        t=$(now); helm_up "$network" "$ns" "$work/values-b.json" || continue; record up "$tool" "$network" upgrade "$run" "$t"
        drop "$last_helm_ns"
        last_helm_ns=$ns
      fi
    done
  done
done

# The work is equal: both releases hold the same values.
helm_values "$last_windlass_ns" >"$work/sent-windlass.json" || echo null >"$work/sent-windlass.json"
helm_values "$last_helm_ns" >"$work/sent-helm.json" || echo "\"none\"" >"$work/sent-helm.json"

# Case 3: dev -> staging -> prod, with the approval in between.
for network in direct proxy; do
  for run in $(seq "$runs"); do
    echo "promotion across three environments, $network, run $run/$runs" >&2
    pairs=()
    for env in dev staging prod; do
      ns=$(fresh_namespace "p-$network-$env")
      remember "$ns"
      pairs+=("$env=$ns")
    done
    project=$work/promote-$network-$run
    write_project "$project" "$network" "${pairs[@]}"
    cli=("$windlass" --quiet --config "$project/windlass.toml")
    start=$(now)
    t=$(now)
    "${cli[@]}" --json up dev --image "app=$repository@$digest_a" >"$work/up.json" 2>"$work/last.out" \
      || { cat "$work/up.json" >>"$work/last.out"; failed "up dev ($project)" || continue; }
    record promote windlass "$network" "up dev" "$run" "$t"
    bundle=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["data"]["bundle"])' "$work/up.json")
    t=$(now)
    "${cli[@]}" promote dev staging >"$work/last.out" 2>&1 \
      || failed "promote dev staging ($project)" || continue
    record promote windlass "$network" "promote dev staging" "$run" "$t"
    t=$(now)
    "${cli[@]}" approve prod "$bundle" --reason benchmark >"$work/last.out" 2>&1 \
      || failed "approve prod ($project)" || continue
    record promote windlass "$network" "approve prod" "$run" "$t"
    t=$(now)
    "${cli[@]}" promote staging prod >"$work/last.out" 2>&1 \
      || failed "promote staging prod ($project)" || continue
    record promote windlass "$network" "promote staging prod" "$run" "$t"
    record promote windlass "$network" "end to end" "$run" "$start"
    drop "${pairs[@]#*=}"
  done
done

# Where Windlass's time goes: one install + upgrade with Helm behind a
# wrapper that logs how long each of its commands takes.
cat >"$work/helm-timed" <<EOF
#!/usr/bin/env bash
start=\$(date +%s%N)
status=0
"$helm" "\$@" || status=\$?
sub=""
for arg in "\$@"; do
  case \$arg in upgrade|history|status|rollback|get|list|uninstall|package|version|show|pull|template) sub+="\${sub:+ }\$arg" ;; esac
done
printf '%s\t%s\n' "\${sub:-other}" "\$(( \$(date +%s%N) - start ))" >>"$work/helm-calls.tsv"
exit \$status
EOF
chmod +x "$work/helm-timed"
: >"$work/profile.tsv"
for network in direct proxy; do
  ns=$(fresh_namespace "profile-$network")
  remember "$ns"
  write_project "$work/profile-$network" "$network" "dev=$ns"
  for step in install upgrade; do
    : >"$work/helm-calls.tsv"
    if [[ $step == install ]]; then digest=$digest_a; else digest=$digest_b; fi
    t=$(now)
    WINDLASS_HELM="$work/helm-timed" windlass_up "$work/profile-$network" "$digest" || continue
    total=$(( $(now) - t ))
    while IFS=$'\t' read -r sub ns_taken; do
      printf '%s\t%s\thelm %s\t%s\n' "$network" "$step" "$sub" "$ns_taken" >>"$work/profile.tsv"
    done <"$work/helm-calls.tsv"
    printf '%s\t%s\ttotal\t%s\n' "$network" "$step" "$total" >>"$work/profile.tsv"
  done
done

stop_netem

python3 - "$results" "$work/profile.tsv" "$work/sent-windlass.json" "$work/sent-helm.json" \
  "$delay" "$rate" "$runs" "$work/failures" <<'PY'
import collections, json, statistics, sys

results, profile, sent_w, sent_h, delay, rate, runs, failures = sys.argv[1:]
times = collections.defaultdict(dict)
for line in open(results):
    case, tool, network, step, run, ns = line.rstrip("\n").split("\t")
    times[(case, tool, network, step)][run] = int(ns) / 1e9
# install + upgrade: the two steps of each run, added.
for key in [k for k in times if k[0] == "up" and k[3] == "install"]:
    upgrade = times[key[:3] + ("upgrade",)]
    times[key[:3] + ("install + upgrade",)] = {
        run: s + upgrade[run] for run, s in times[key].items() if run in upgrade}
def median(key):
    values = list(times[key].values())
    return statistics.median(values) if values else float("nan")
label = {"direct": "loopback", "proxy": "proxy (%s each way, %s)" % (delay, rate)}

failed = [line.strip() for line in open(failures) if line.strip()]
if failed:
    print("%d failed commands, their runs left out: %s" % (len(failed), "; ".join(failed)))
print("values sent to helm (helm get values): %s" %
      ("equal" if json.load(open(sent_w)) == json.load(open(sent_h)) else "DIFFER"))
print("install + upgrade, %s runs each, wall-time medians (runs counted: windlass %d, helm %d):"
      % (runs, len(times[("up", "windlass", "direct", "install + upgrade")])
         + len(times[("up", "windlass", "proxy", "install + upgrade")]),
         len(times[("up", "helm", "direct", "install + upgrade")])
         + len(times[("up", "helm", "proxy", "install + upgrade")])))
for network in ("direct", "proxy"):
    print("  %s" % label[network])
    for step in ("install", "upgrade", "install + upgrade"):
        w, h = median(("up", "windlass", network, step)), median(("up", "helm", network, step))
        verdict = "ok" if w / h <= 1.15 else "MISSED"
        print("    %-18s windlass %6.3f s   helm %6.3f s   ratio %.2f (target <= 1.15: %s)"
              % (step, w, h, w / h, verdict))
print("promotion dev -> staging -> prod (approval before prod), wall-time medians:")
for network in ("direct", "proxy"):
    print("  %s" % label[network])
    for step in ("up dev", "promote dev staging", "approve prod", "promote staging prod",
                 "end to end"):
        print("    %-22s %6.3f s" % (step, median(("promote", "windlass", network, step))))
print("one windlass install + upgrade, where the time goes:")
rows = collections.OrderedDict()
for line in open(profile):
    network, step, what, ns = line.rstrip("\n").split("\t")
    rows.setdefault((network, step), []).append((what, int(ns) / 1e9))
for (network, step), parts in rows.items():
    total = dict(parts)["total"]
    in_helm = sum(s for what, s in parts if what != "total")
    calls = ", ".join("%s %.3f s" % (what, s) for what, s in parts if what != "total")
    print("  %-8s %-7s total %.3f s = %s; windlass itself %.3f s"
          % (network, step, total, calls, total - in_helm))
PY
