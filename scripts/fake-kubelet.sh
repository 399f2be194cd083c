#!/usr/bin/env bash
# A minimal kwok-like kubelet for the test control plane of
# scripts/services.sh: one Node, `fake-node`, that is always Ready; every pod
# bound to it is reported Running and Ready at once (pods of Jobs: Succeeded),
# except pods with an image containing `broken`, which never become ready (to
# test stuck rollouts); pods being deleted are removed at once. It talks only
# to the API server, through kubectl (>= 1.24 for --subresource) and jq.
#
# env: KUBECONFIG (the test cluster), KUBECTL (default: kubectl on PATH)
set -uo pipefail

KUBECTL=${KUBECTL:-kubectl}
NODE=fake-node

k() { "$KUBECTL" "$@"; }

register_node() {
  local now
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  k apply -f - >/dev/null <<YAML || return 1
apiVersion: v1
kind: Node
metadata: {name: $NODE, labels: {kubernetes.io/hostname: $NODE, kubernetes.io/os: linux, type: fake}}
YAML
  k patch node "$NODE" --subresource=status --type=merge -p "$(jq -cn --arg t "$now" '{status: {
    capacity: {cpu: "32", memory: "256Gi", pods: "500"},
    allocatable: {cpu: "32", memory: "256Gi", pods: "500"},
    conditions: [{type: "Ready", status: "True", reason: "KubeletReady", message: "fake",
      lastHeartbeatTime: $t, lastTransitionTime: $t}],
    addresses: [{type: "InternalIP", address: "127.0.0.1"}],
    nodeInfo: {kubeletVersion: "v1.20.2", machineID: "", systemUUID: "", bootID: "",
      kernelVersion: "", osImage: "", containerRuntimeVersion: "fake://0", kubeProxyVersion: "",
      operatingSystem: "linux", architecture: "amd64"}}}')" >/dev/null || return 1
  # TaintNodesByCondition adds not-ready at creation; the node lifecycle
  # controller that would lift it is off.
  k taint node "$NODE" node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
  node_ok
}

# The node exists, is Ready and has no taints.
node_ok() {
  k get node "$NODE" -o json 2>/dev/null | jq -e '
    ([.status.conditions[]? | select(.type == "Ready" and .status == "True")] | length > 0)
    and ((.spec.taints // []) | length == 0)' >/dev/null
}

until register_node; do sleep 0.5; done

# What a pod needs, as one TSV line `NAMESPACE NAME ACTION PATCH` (nothing
# for a pod that is done, or broken): jq picks the pods and writes their
# status patch, so pods that need nothing cost no process.
# shellcheck disable=SC2016 # jq's variables, not the shell's
POD_ACTION='
  (now | todate) as $t
  | [.spec.containers[] | {name, image}] as $c
  | [.metadata.namespace, .metadata.name] as $id
  | if .metadata.deletionTimestamp != null then $id + ["delete", "-"]
    elif any(.metadata.ownerReferences[]?; .kind == "Job") then
      if .status.phase == "Succeeded" then empty
      else $id + ["patch", ({status: {phase: "Succeeded", hostIP: "127.0.0.1", podIP: "127.0.0.1",
        startTime: $t, containerStatuses: [$c[] | {name, image, imageID: "", ready: false,
        started: false, restartCount: 0, state: {terminated: {exitCode: 0, reason: "Completed",
        startedAt: $t, finishedAt: $t}}}]}} | tojson)]
      end
    elif any(.status.conditions[]?; .type == "Ready" and .status == "True") then empty
    elif any(.spec.containers[]; .image | test("broken")) then empty
    else $id + ["patch", ({status: {phase: "Running", hostIP: "127.0.0.1", podIP: "127.0.0.1",
      startTime: $t,
      conditions: [["Initialized", "Ready", "ContainersReady", "PodScheduled"][]
        | {type: ., status: "True", lastTransitionTime: $t}],
      containerStatuses: [$c[] | {name, image, imageID: "", ready: true, started: true,
        restartCount: 0, state: {running: {startedAt: $t}}}]}} | tojson)]
    end
  | @tsv'

# Carries out the lines of POD_ACTION.
act() {
  local ns n action patch
  while IFS=$'\t' read -r ns n action patch; do
    case $action in
      delete) k delete pod "$n" -n "$ns" --grace-period=0 --force >/dev/null 2>&1 ;;
      patch) k patch pod "$n" -n "$ns" --subresource=status --type=merge -p "$patch" >/dev/null 2>&1 ;;
    esac
  done
}

# Every change to the node's pods as the API server reports it, so a pod is
# Ready a moment after it is bound, as with a real kubelet (a poll would
# round every rollout up to its interval). The watch is opened again when
# it ends (the server closes watches after a while, or restarted).
watch_pods() {
  while true; do
    k get pods -A --field-selector "spec.nodeName=$NODE" --watch --output-watch-events -o json 2>/dev/null |
      jq --unbuffered -r "select(.type == \"ADDED\" or .type == \"MODIFIED\") | .object | $POD_ACTION" |
      act
    sleep 0.2
  done
}

# One pass over all of the node's pods: what a watch might have missed.
sync_pods() {
  k get pods -A --field-selector "spec.nodeName=$NODE" -o json | jq -r ".items[] | $POD_ACTION" | act
}

watch_pods &
# The watch ends with this script (services.sh ends the process group).
trap 'kill $! 2>/dev/null' EXIT

# A full pass and the node itself every five seconds (the API server may
# have lost the node, or a restart left the not-ready taint).
while true; do
  if ! node_ok; then
    until register_node; do sleep 0.5; done
  fi
  sync_pods
  sleep 5
done
