#!/usr/bin/env bash
# Fuzzes memguard's parsers of hostile input (OCI state, annotations, host policy, seccomp
# profiles, config.json as the wrapper reads it, baselines, ids in log lines, state records) with
# libFuzzer for SECONDS (default 60). New crashes land in fuzz/crashes/ and fail the run; commit
# them there and they become regression inputs for `swift test` (FuzzRegressionTests).
#   fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
swift build --product memguard-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING --scratch-path .build/fuzz >/dev/null
work=$(mktemp -d /tmp/memguard-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp fuzz/corpus/* "$work/"
mkdir -p fuzz/crashes
status=0
.build/fuzz/debug/memguard-fuzz "$work" fuzz/corpus -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix=fuzz/crashes/ -print_final_stats=1 >"$work/log" 2>&1 || status=$?
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE|ERROR|SUMMARY" "$work/log" | tail -6
if [ "$status" != 0 ]; then
	echo "fuzz/run.sh: libFuzzer found a problem (exit $status); the input is in fuzz/crashes/" >&2
	tail -40 "$work/log" >&2
	exit 1
fi
echo "fuzz/run.sh: ${seconds}s, no crash"
