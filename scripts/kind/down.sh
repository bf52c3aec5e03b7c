#!/usr/bin/env bash
# Delete the kind lab's clusters and its local state.
#
# Usage: scripts/kind/down.sh [--dry-run]
# shellcheck source=scripts/kind/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_common_flags "$@"
require kind
for c in "${CLUSTERS[@]}"; do
  log "deleting kind cluster $c"
  run kind delete cluster --name "$c"
done
run rm -rf "$LAB_DIR"
