#!/usr/bin/env bash
# Container lifecycle churn: COUNT lifecycles (default 300) on real runc, half one at a time and
# half ten at a time, through every ending (normal exit, SIGSEGV, runc kill + delete, killed and
# never deleted, the monitor SIGKILLed, two starts as the last container leaves), plus a share
# through a private containerd. Prints the counts and what was left behind (nothing, or it fails).
#   bench/churn.sh [COUNT]        (root; after ./install.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
MEMGUARD_CHURN=${1:-300} swift test --filter "Integration.Churn" 2>&1 | grep -E '^churn:|✘|passed after|failed after'
