#!/usr/bin/env bash
# Two kind clusters (east, west) linked both ways by Isthmus, with the podinfo example.
#
# Usage: scripts/kind/up.sh [--dry-run]
#   --dry-run  print every command it would run, run nothing
#
# Needs Docker, kind and kubectl. Pod and Service CIDRs do not overlap between the clusters, and
# each node routes the other cluster's pod CIDR (a flat pod network, for remote discovery);
# MetalLB gives each gateway a LoadBalancer address from its own slice of the kind network.
# shellcheck source=scripts/kind/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_common_flags "$@"
require docker kind kubectl node

create_cluster() {
  local name=$1 i
  i=$(cluster_index "$name")
  log "kind cluster $name (pods 10.$((240 + i)).0.0/16, services 10.$((250 + i)).0.0/16)"
  run_sh "kind get clusters 2>/dev/null | grep -x $name >/dev/null || kind create cluster --name $name --wait 120s --config - <<'KIND'
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  podSubnet: 10.$((240 + i)).0.0/16
  serviceSubnet: 10.$((250 + i)).0.0/16
KIND"
  # kubeadm labels the control-plane node node.kubernetes.io/exclude-from-external-load-balancers,
  # and MetalLB (v0.14+) announces no address from such a node: on a one-node kind cluster the
  # gateway would get an address nobody answers for. Not an error when the label is absent.
  run kubectl --context "$(ctx "$name")" label nodes --all node.kubernetes.io/exclude-from-external-load-balancers-
}

# Remote discovery (podinfo-direct) needs a flat pod network: each kind cluster is one node, so a
# route on it sends the other cluster's pod CIDR to the other node over the kind Docker network.
connect_pod_networks() {
  local from=$1 to=$2 i via
  i=$(cluster_index "$to")
  if [[ $DRY_RUN -eq 1 ]]; then
    via="<$to-control-plane address>"
  else
    via=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$KIND_NETWORK\").IPAddress}}" "$to-control-plane")
  fi
  log "route $from -> pods of $to (10.$((240 + i)).0.0/16 via $via)"
  run docker exec "$from-control-plane" ip route replace "10.$((240 + i)).0.0/16" via "$via"
}

install_metallb() {
  local name=$1 i subnet range
  i=$(cluster_index "$name")
  log "MetalLB in $name"
  run kubectl --context "$(ctx "$name")" apply -f "https://raw.githubusercontent.com/metallb/metallb/$METALLB_VERSION/config/manifests/metallb-native.yaml"
  run kubectl --context "$(ctx "$name")" -n metallb-system rollout status deployment/controller --timeout=180s
  run kubectl --context "$(ctx "$name")" -n metallb-system rollout status daemonset/speaker --timeout=180s
  # A separate pool per cluster, from the top of the kind Docker network's IPv4 subnet.
  if [[ $DRY_RUN -eq 1 ]]; then
    subnet="172.18.0.0/16"
  else
    subnet=$(ipv4_subnet "$(docker network inspect "$KIND_NETWORK" -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}')")
  fi
  range=$(metallb_range "$subnet" "$i")
  # The pool goes through MetalLB's validating webhook, served by the controller, which may refuse
  # connections or present a certificate not yet in the webhook's caBundle for a while after the
  # controller is ready: retried.
  retry_sh 120 "kubectl --context $(ctx "$name") apply -f - <<'POOL'
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: isthmus-lab, namespace: metallb-system}
spec:
  addresses: [$range]
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: isthmus-lab, namespace: metallb-system}
spec:
  ipAddressPools: [isthmus-lab]
POOL"
}

# Docker 29 keeps images in its containerd store by default, where `kind load docker-image` can
# fail with "ctr: content digest ...: not found" (kind#3795): `docker save` exports the whole image
# index, attestation manifests included, without all of their content. A single-platform archive
# (`docker image save --platform`, API 1.48+, Docker 28+) loads under either store; older Dockers
# have no such flag and no such failure, and keep `kind load docker-image`.
build_image() {
  log "image $IMAGE, loaded into both clusters"
  run docker build -t "$IMAGE" "$ROOT"
  local api platform archive="$LAB_DIR/isthmus-image.tar"
  if [[ $DRY_RUN -eq 1 ]]; then
    api=${LAB_DRY_RUN_DOCKER_API:-1.52}
    platform="<docker server os/arch>"
  else
    api=$(docker version -f '{{.Server.APIVersion}}')
    platform=$(docker version -f '{{.Server.Os}}/{{.Server.Arch}}')
  fi
  if version_at_least "$api" 1.48; then
    run docker image save --platform "$platform" -o "$archive" "$IMAGE"
    for c in "${CLUSTERS[@]}"; do run kind load image-archive "$archive" --name "$c"; done
    run rm -f "$archive"
  else
    for c in "${CLUSTERS[@]}"; do run kind load docker-image "$IMAGE" --name "$c"; done
  fi
}

install_isthmus() {
  local name=$1
  log "isthmus install in $name"
  run "${ISTHMUS[@]}" check --pre --context "$(ctx "$name")"
  local certs
  certs=$(printf '%q' "$LAB_DIR/certs")
  run_sh "$ISTHMUS_SH install --cluster-name $name --trust-domain $TRUST_DOMAIN --image $IMAGE --image-pull-policy Never \
    --trust-anchor $certs/ca.crt --issuer-cert $certs/$name/issuer.crt --issuer-key $certs/$name/issuer.key \
    | kubectl --context $(ctx "$name") apply -f -"
  for d in identity gateway controller; do
    run kubectl --context "$(ctx "$name")" -n isthmus-system rollout status "deployment/isthmus-$d" --timeout=180s
  done
  run kubectl --context "$(ctx "$name")" -n isthmus-system wait --for=jsonpath='{.status.loadBalancer.ingress}' service/isthmus-gateway --timeout=120s
}

link() {
  local from=$1 to=$2
  log "link $from -> $to"
  # A read-only account in $to for $from alone: deleting it revokes $from without touching others.
  run_sh "$ISTHMUS_SH allow --context $(ctx "$to") --service-account-name $from-reader | kubectl --context $(ctx "$to") apply -f -"
  run kubectl --context "$(ctx "$to")" -n isthmus-system wait --for=jsonpath='{.data.token}' "secret/$from-reader-token" --timeout=60s
  # Pods of $from reach $to's API server by its control-plane container name on the kind network.
  run_sh "$ISTHMUS_SH link --context $(ctx "$to") --cluster-name $to --trust-domain $TRUST_DOMAIN \
    --service-account-name $from-reader --api-server-address https://$to-control-plane:6443 | kubectl --context $(ctx "$from") apply -f -"
}

deploy_example() {
  local name=$1
  log "podinfo example in $name"
  run kubectl --context "$(ctx "$name")" apply -k "$ROOT/examples/podinfo/overlays/$name"
  for d in podinfo frontend; do
    run kubectl --context "$(ctx "$name")" -n test rollout status "deployment/$d" --timeout=180s
  done
}

run mkdir -p "$LAB_DIR"
for c in "${CLUSTERS[@]}"; do create_cluster "$c"; done
for c in "${CLUSTERS[@]}"; do connect_pod_networks "$c" "$(other_cluster "$c")"; done
for c in "${CLUSTERS[@]}"; do install_metallb "$c"; done
if [[ -f "$LAB_DIR/certs/ca.crt" ]]; then
  log "reusing certificates in $LAB_DIR/certs"
else
  run "${ISTHMUS[@]}" certs --out "$LAB_DIR/certs" --clusters "$(IFS=,; echo "${CLUSTERS[*]}")" --trust-domain "$TRUST_DOMAIN"
fi
build_image
for c in "${CLUSTERS[@]}"; do install_isthmus "$c"; done
link east west
link west east
for c in "${CLUSTERS[@]}"; do deploy_example "$c"; done
log "ready: kubectl --context kind-east -n test get svc podinfo-west   |   scripts/kind/verify.sh"
