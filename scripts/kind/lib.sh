#!/usr/bin/env bash
# Shared helpers of the kind lab scripts. Every command goes through `run`, so `--dry-run` prints
# exactly what would be executed, in order, and executes nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LAB_DIR="${LAB_DIR:-$ROOT/.lab/kind}"
CLUSTERS=(east west)
export IMAGE="${ISTHMUS_IMAGE:-isthmus:dev}"
TRUST_DOMAIN="${TRUST_DOMAIN:-cluster.local}"
# shellcheck disable=SC2034 # used by the scripts that source this file
ISTHMUS=(node "$ROOT/bin/isthmus.mjs")
METALLB_VERSION="${METALLB_VERSION:-v0.14.9}"
DRY_RUN=0

parse_common_flags() {
  for arg in "$@"; do
    case "$arg" in
      --dry-run) DRY_RUN=1 ;;
      -h | --help)
        # The script's opening comment, without the shebang and shellcheck directives.
        sed -n '2,/^[^#]/p' "$0" | sed -e '/^[^#]/d' -e '/^# shellcheck /d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
      *)
        echo "unknown argument: $arg (try --help)" >&2
        exit 2
        ;;
    esac
  done
}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# run CMD ARGS...: print it; execute it unless --dry-run.
run() {
  printf '+ %s\n' "$*"
  if [[ $DRY_RUN -eq 0 ]]; then "$@"; fi
}

# run_sh 'a | b': a pipeline or redirection, through bash -c.
run_sh() {
  printf '+ %s\n' "$1"
  if [[ $DRY_RUN -eq 0 ]]; then bash -c "$1"; fi
}

require() {
  local missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $DRY_RUN -eq 1 ]]; then
      echo "# (dry run) missing tools ignored: ${missing[*]}" >&2
    else
      echo "missing tools: ${missing[*]} (the kind lab needs Docker, kind and kubectl)" >&2
      exit 1
    fi
  fi
}

ctx() { echo "kind-$1"; }

# Index of a cluster in CLUSTERS: 0 for east, 1 for west. Drives non-overlapping CIDRs and pools.
cluster_index() {
  local i
  for i in "${!CLUSTERS[@]}"; do [[ "${CLUSTERS[$i]}" == "$1" ]] && echo "$i" && return; done
  return 1
}

other_cluster() { if [[ "$1" == east ]]; then echo west; else echo east; fi; }
