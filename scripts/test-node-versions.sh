#!/usr/bin/env bash
# Runs the vitest suite again under the other Node.js majors package.json's `engines` accepts
# (20 is the machines' own; 22 is the container image's). Node's http, http2, tls and net change
# between majors in ways that only show at run time: on 22 and 24, for one, a corked write followed
# by end() after flushHeaders() is lost, which broke the sandbox's in-band 410 watch errors.
#
# The Node binaries come from the npm registry (the node-<platform>-<arch> packages that the `node`
# package installs), pinned so CI is reproducible, and are cached under .cache/node/.
# ISTHMUS_TEST_NODE_VERSIONS="22.23.3" narrows or changes the list; "" skips this step.
set -euo pipefail
cd "$(dirname "$0")/.."

versions=${ISTHMUS_TEST_NODE_VERSIONS-22.23.3 24.21.0}
current_major=$(node -p 'process.versions.node.split(".")[0]')
package="node-$(node -p 'process.platform')-$(node -p 'process.arch')"

for version in $versions; do
  if [[ ${version%%.*} == "$current_major" ]]; then continue; fi
  dir=".cache/node/$version"
  if [[ ! -x $dir/bin/node ]]; then
    echo "test-node-versions: fetching $package@$version" >&2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "$package@$version" >/dev/null)
    mkdir -p "$dir"
    tar -xzf "$tmp"/*.tgz -C "$dir" --strip-components=1
    rm -rf "$tmp"
  fi
  echo "test-node-versions: vitest under Node $("$dir/bin/node" --version)" >&2
  # Child processes the tests start (gateways, controllers, kubectl plugins) find this node first.
  PATH="$PWD/$dir/bin:$PATH" "$dir/bin/node" node_modules/vitest/vitest.mjs run
done
