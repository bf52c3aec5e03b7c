#!/usr/bin/env bash
# Prints the path of a Node.js binary of the given major, fetching it first if needed: the pinned
# node-<platform>-<arch> build from the npm registry (what the `node` package installs), cached
# under .cache/node/<version>/. Used by scripts/test-node-versions.sh (the test suite under the
# other supported majors) and bench/gateway.ts (the gateway pair under the container image's Node).
set -euo pipefail
cd "$(dirname "$0")/.."

# One pin per major, so CI is reproducible. 24 is the container image's major (Dockerfile).
declare -A PINNED=([22]=22.23.3 [24]=24.21.0 [26]=26.10.0)

major=${1:?usage: fetch-node.sh <major>}
version=${PINNED[$major]:-}
if [[ -z $version ]]; then
  echo "fetch-node: no pinned version for Node $major (known: ${!PINNED[*]})" >&2
  exit 2
fi
dir=".cache/node/$version"
if [[ ! -x $dir/bin/node ]]; then
  package="node-$(node -p 'process.platform')-$(node -p 'process.arch')"
  echo "fetch-node: fetching $package@$version" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$package@$version" >/dev/null)
  mkdir -p "$dir.partial"
  tar -xzf "$tmp"/*.tgz -C "$dir.partial" --strip-components=1
  rm -rf "$dir" && mv "$dir.partial" "$dir"
fi
echo "$PWD/$dir/bin/node"
