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
# shellcheck source=scripts/kind/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_common_flags "$@"
require kubectl

EAST=$(ctx east)

# Ask the frontend in east for N answers; print the distinct podinfo messages (they name the cluster).
sample() {
  run_sh "kubectl --context $EAST -n test exec deploy/frontend -- sh -c 'for i in \$(seq 20); do curl -s http://podinfo:9898/; echo; done' | grep -o '\"message\": *\"[^\"]*\"' | sort | uniq -c"
}

log "isthmus gateways in east: west alive"
run_sh "${ISTHMUS[*]} gateways --context $EAST | grep -E '^west +True'"

log "mirror podinfo-west exists in east"
run kubectl --context "$EAST" -n test get svc podinfo-west
run kubectl --context "$EAST" -n test get endpointslices -l kubernetes.io/service-name=podinfo-west

log "direct call east -> west through the tunnel"
run_sh "kubectl --context $EAST -n test exec deploy/frontend -- curl -sf http://podinfo-west:9898/ | grep -q west"

log "federated podinfo-federated in east: its endpoints are east's pod and west through the gateway"
run_sh "for i in \$(seq 30); do kubectl --context $EAST -n test get svc podinfo-federated -o jsonpath='{.metadata.annotations.isthmus\\.dev/federation-members}' 2>/dev/null | grep -qx east,west && exit 0; sleep 2; done; exit 1"
run_sh "kubectl --context $EAST -n test exec deploy/frontend -- sh -c 'for i in \$(seq 20); do curl -s http://podinfo-federated:9898/; echo; done' | grep -o '\"message\": *\"[^\"]*\"' | sort | uniq -c"

log "remote discovery: podinfo-direct-west in east lists west's pods, reached without the gateways"
run kubectl --context "$EAST" -n test get endpointslices -l kubernetes.io/service-name=podinfo-direct-west
run_sh "kubectl --context $EAST -n test exec deploy/frontend -- curl -sf http://podinfo-direct-west:9898/ | grep -q west"

log "primary (east) serves while healthy"
sample

log "scale east podinfo to 0: failover to west"
run kubectl --context "$EAST" -n test scale deployment/podinfo --replicas=0
run kubectl --context "$EAST" -n test wait --for=jsonpath='{.status.state}'=Fallback trafficsplit/podinfo --timeout=30s
sample

log "scale back: traffic returns to east"
run kubectl --context "$EAST" -n test scale deployment/podinfo --replicas=1
run kubectl --context "$EAST" -n test rollout status deployment/podinfo --timeout=120s
run kubectl --context "$EAST" -n test wait --for=jsonpath='{.status.state}'=Primary trafficsplit/podinfo --timeout=60s
sample
log "verified"
