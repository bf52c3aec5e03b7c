#!/usr/bin/env bash
# Installs the system tools the test suite uses beyond Node (npm runs this before `npm test`):
# ShellCheck, to lint the kind lab scripts. kubectl, openssl and curl are expected on the machine.
set -euo pipefail
missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
if [[ ${#missing[@]} -eq 0 ]]; then exit 0; fi
if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null 2>&1; then
  echo "ensure-test-tools: please install: ${missing[*]}" >&2
  exit 1
fi
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO=sudo
echo "ensure-test-tools: installing ${missing[*]}" >&2
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
