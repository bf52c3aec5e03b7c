#!/usr/bin/env bash
# Runs the vitest suite again under the other Node.js majors package.json's `engines` accepts
# (20 is the machines' own; 24 is the container image's). Node's http, http2, tls and net change
# between majors in ways that only show at run time: on 22 and 24, for one, a corked write followed
# by end() after flushHeaders() is lost, which broke the sandbox's in-band 410 watch errors.
#
# The binaries are pinned builds from the npm registry (scripts/fetch-node.sh, cached in .cache/node/).
# ISTHMUS_TEST_NODE_MAJORS="22" narrows the list, "22 24 26" widens it (26 passes too, but CI keeps
# to the majors the project promises, to stay well inside its time budget); "" skips this step.
set -euo pipefail
cd "$(dirname "$0")/.."

majors=${ISTHMUS_TEST_NODE_MAJORS-22 24}
current_major=$(node -p 'process.versions.node.split(".")[0]')

for major in $majors; do
  if [[ $major == "$current_major" ]]; then continue; fi
  node_bin=$(bash scripts/fetch-node.sh "$major")
  echo "test-node-versions: vitest under Node $("$node_bin" --version)" >&2
  # Child processes the tests start (gateways, controllers, kubectl plugins) find this node first.
  PATH="$(dirname "$node_bin"):$PATH" "$node_bin" node_modules/vitest/vitest.mjs run
done
