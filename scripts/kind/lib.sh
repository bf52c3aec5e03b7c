#!/usr/bin/env bash
# Shared helpers of the kind lab scripts. Every command goes through `run`, so `--dry-run` prints
# exactly what would be executed, in order, and executes nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LAB_DIR="${LAB_DIR:-$ROOT/.lab/kind}"
CLUSTERS=(east west)
# Tagged with the version (package.json's), so the pods' app.kubernetes.io/version says what runs
# and `isthmus check` finds the CLI's version there (built here, never pulled: pull policy Never).
ISTHMUS_VERSION="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$ROOT/package.json")"
export IMAGE="${ISTHMUS_IMAGE:-isthmus:${ISTHMUS_VERSION}}"
TRUST_DOMAIN="${TRUST_DOMAIN:-cluster.local}"
# shellcheck disable=SC2034 # used by the scripts that source this file
ISTHMUS=(node "$ROOT/bin/isthmus.mjs")
# The same, quoted for the command strings of run_sh (a checkout path with spaces stays one word).
# shellcheck disable=SC2034
ISTHMUS_SH=$(printf '%q ' "${ISTHMUS[@]}")
ISTHMUS_SH=${ISTHMUS_SH% }
# The Docker network kind puts its nodes on (kind's own override of the name).
KIND_NETWORK="${KIND_EXPERIMENTAL_DOCKER_NETWORK:-kind}"
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

# run_sh 'a | b': a pipeline or redirection, through bash -c, with pipefail: `isthmus install ...
# | kubectl apply -f -` fails with install's own error, not kubectl's "no objects passed to apply".
# (Under pipefail a reader that stops early, `grep -q`, can fail its writer: use grep >/dev/null.)
run_sh() {
  printf '+ %s\n' "$1"
  if [[ $DRY_RUN -eq 0 ]]; then bash -o pipefail -c "$1"; fi
}

# retry SECONDS CMD ARGS...: run CMD (a command or a function) until it succeeds, every 2 seconds,
# for at most SECONDS; then fail. For what is eventually true and has no `kubectl wait` form.
# LAB_RETRY_SECONDS, when set, replaces every such deadline (a slow machine: more; 0: one try).
retry() {
  local limit=${LAB_RETRY_SECONDS:-$1}
  shift
  printf '# retried for up to %ss:\n+ %s\n' "$limit" "$*"
  if [[ $DRY_RUN -eq 1 ]]; then return 0; fi
  local deadline=$((SECONDS + limit))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      echo "gave up after ${limit}s: $*" >&2
      return 1
    fi
    sleep 2
  done
}

# retry_sh SECONDS 'a | b': retry for a pipeline (through bash -c, with pipefail).
retry_sh() {
  local limit=${LAB_RETRY_SECONDS:-$1}
  printf '# retried for up to %ss:\n+ %s\n' "$limit" "$2"
  if [[ $DRY_RUN -eq 1 ]]; then return 0; fi
  local deadline=$((SECONDS + limit))
  until bash -o pipefail -c "$2"; do
    if ((SECONDS >= deadline)); then
      echo "gave up after ${limit}s: $2" >&2
      return 1
    fi
    sleep 2
  done
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

# ipv4_subnet 'SUBNET...': the first IPv4 subnet of a list (`docker network inspect` lists the kind
# network's IPv6 subnet too, and in either order).
ipv4_subnet() {
  local s
  for s in $1; do
    if [[ $s =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$ ]]; then
      echo "$s"
      return 0
    fi
  done
  echo "no IPv4 subnet in the $KIND_NETWORK Docker network (got: ${1:-nothing})" >&2
  return 1
}

# metallb_range SUBNET INDEX: 20 addresses near the top of SUBNET (Docker gives containers the
# lowest ones), a separate slice per cluster index: in 172.18.0.0/16, 172.18.255.200-219 for 0 and
# .220-.239 for 1; in 10.89.0.0/24, 10.89.0.200-219 and .220-.239.
metallb_range() {
  local subnet=$1 index=$2 a b c d len
  IFS=./ read -r a b c d len <<<"$subnet"
  if ((len > 25)); then
    echo "the $KIND_NETWORK Docker network ($subnet) is too small for the MetalLB pools" >&2
    return 1
  fi
  local size=$((1 << (32 - len)))
  local base=$((((a << 24) | (b << 16) | (c << 8) | d) & ~(size - 1) & 0xFFFFFFFF))
  local first=$((base + size - 1 - 55 + 20 * index))
  echo "$(int_to_ipv4 "$first")-$(int_to_ipv4 $((first + 19)))"
}

int_to_ipv4() { echo "$(($1 >> 24 & 255)).$(($1 >> 16 & 255)).$(($1 >> 8 & 255)).$(($1 & 255))"; }

# version_at_least HAVE WANT: true when the dotted version HAVE (a Docker API version: 1.47, 1.52)
# is WANT or later, compared part by part as numbers (1.100 is after 1.48).
version_at_least() {
  local -a have want
  IFS=. read -r -a have <<<"$1"
  IFS=. read -r -a want <<<"$2"
  local i
  for ((i = 0; i < ${#want[@]}; i++)); do
    local h=${have[i]:-0} w=${want[i]}
    [[ $h =~ ^[0-9]+$ ]] || return 1
    if ((10#$h != 10#$w)); then ((10#$h > 10#$w)); return; fi
  done
  return 0
}
