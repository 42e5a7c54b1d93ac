#!/usr/bin/env bash
# Every benchmark, one after the other, with the figures the README's Performance section quotes.
#   bench/all.sh       (root, after ./install.sh; ~5 minutes)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/container-start.sh" 100
"$here/hook-latency.sh" 30
"$here/syscall-cost.sh" 200000
"$here/throughput.sh" 200000
