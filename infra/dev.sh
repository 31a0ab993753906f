#!/usr/bin/env bash
# One command from a fresh machine to a result:
#   bash infra/dev.sh demo [demo options]   Node 24 + dependencies, the local stack, then the demo
#   bash infra/dev.sh test                  the same set-up, then the whole test suite (npm test)
# Later runs reuse what is installed and running; `npm run stack -- down` stops the stack.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source infra/bootstrap.sh
cmd=${1:-}; shift || true
case "$cmd" in
  demo) npm run stack -- up && npm run demo -- "$@" ;;
  test) npm run stack -- up && npm test -- "$@" ;;
  *) echo "usage: bash infra/dev.sh demo|test [args]" >&2; exit 2 ;;
esac
