#!/usr/bin/env bash
# Check the kind lab end to end: the frontend in east reaches podinfo in both clusters; with
# east's podinfo scaled to zero, the TrafficSplit fails over and every request is served by west;
# scaled back, traffic returns to east. podinfo is a federation member in both clusters, so east
# has podinfo-federated over east's pod and west's (through the gateways), and podinfo-direct-west
# reaches west's pod directly (remote discovery over the routed pod networks). First, `isthmus gateways` in east: west's gateway is alive
# (read from the controller pod through the API server's pod proxy). Not `isthmus check`: the Links
# name the remote API servers by their kind node names (west-control-plane), which resolve inside
# the Docker network, where the controllers run, but not on the host.
#
# Usage: scripts/kind/verify.sh [--dry-run]
# VERIFY_READ_ONLY=1 (what `isthmus lab status` sets) stops before the failover steps, which scale
# east's podinfo to zero and back: a status must not change the cluster.
# shellcheck source=scripts/kind/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_common_flags "$@"
require kubectl node

EAST=$(ctx east)

# served_by SERVICE: which clusters answered 20 requests from east's frontend to SERVICE, sorted
# and comma-separated (podinfo's message names its cluster: "greetings from west").
served_by() {
  kubectl --context "$EAST" -n test exec deploy/frontend -- \
    sh -c "for i in \$(seq 20); do curl -s --max-time 3 http://$1:9898/; echo; done" |
    sed -n 's/.*"message": *"greetings from \([a-z]*\)".*/\1/p' | sort -u | paste -sd, -
}

# answered_by SERVICE CLUSTERS: every answer of SERVICE came from CLUSTERS (e.g. east,west: both).
answered_by() {
  local got
  got=$(served_by "$1" || true)
  echo "  $1: answered by ${got:-nobody} (want $2)"
  [[ $got == "$2" ]]
}

# Everything below becomes true shortly after up.sh (Links, probes, mirrors, kube-proxy), so each
# check is retried up to a deadline rather than asserted once.
log "isthmus gateways in east: west alive"
retry_sh 120 "$ISTHMUS_SH gateways --context $EAST | grep -E '^west +True'"

log "mirror podinfo-west exists in east"
retry 60 kubectl --context "$EAST" -n test get svc podinfo-west
run kubectl --context "$EAST" -n test get endpointslices -l kubernetes.io/service-name=podinfo-west

log "direct call east -> west through the tunnel"
retry 60 answered_by podinfo-west west

log "federated podinfo-federated in east: its endpoints are east's pod and west through the gateway"
retry_sh 60 "kubectl --context $EAST -n test get svc podinfo-federated -o jsonpath='{.metadata.annotations.isthmus\\.dev/federation-members}' | grep -x east,west"
retry 60 answered_by podinfo-federated east,west

log "remote discovery: podinfo-direct-west in east lists west's pods, reached without the gateways"
retry 60 answered_by podinfo-direct-west west
run kubectl --context "$EAST" -n test get endpointslices -l kubernetes.io/service-name=podinfo-direct-west

log "primary (east) serves while healthy"
retry 60 answered_by podinfo east

if [[ ${VERIFY_READ_ONLY:-} == 1 ]]; then
  log "verified (read-only: failover not exercised; run scripts/kind/verify.sh for that)"
  exit 0
fi

log "scale east podinfo to 0: failover to west"
run kubectl --context "$EAST" -n test scale deployment/podinfo --replicas=0
run kubectl --context "$EAST" -n test wait --for=jsonpath='{.status.state}'=Fallback trafficsplit/podinfo --timeout=60s
retry 60 answered_by podinfo west

log "scale back: traffic returns to east"
run kubectl --context "$EAST" -n test scale deployment/podinfo --replicas=1
run kubectl --context "$EAST" -n test rollout status deployment/podinfo --timeout=120s
run kubectl --context "$EAST" -n test wait --for=jsonpath='{.status.state}'=Primary trafficsplit/podinfo --timeout=60s
retry 60 answered_by podinfo east
log "verified"
