# Shared by the bench/ scripts: temporary work directory, busybox bundles, timing, statistics,
# sleepers in cgroups of their own registered with memguard's hook. Sourced, not run.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "benchmarks need root (real containers, BPF)" >&2; exit 1; }
memguard=$(command -v memguard) || { echo "memguard is not installed: run ./install.sh" >&2; exit 1; }
wrapper=$(dirname "$memguard")/memguard-runc
attack=$(dirname "$memguard")/../libexec/memguard/mg-attack
runc=$(command -v runc)
work=$(mktemp -d /tmp/memguard-bench.XXXXXX)
export MEMGUARD_LOG_DIR=$work/log MEMGUARD_STATE_DIR=$work/run MEMGUARD_METRICS_DIR=$work/metrics MEMGUARD_DATA_DIR=$work/data
unified=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
cleanups=()
cleanup() { for c in "${cleanups[@]}"; do eval "$c" >/dev/null 2>&1 || true; done; [ -n "${MEMGUARD_BENCH_KEEP:-}" ] && cp -a "$work/log" "$MEMGUARD_BENCH_KEEP"; rm -rf "$work"; }
trap cleanup EXIT

# Times come from bash's own clock ($EPOCHREALTIME, µs): no process is started to read it.
micros() { local t=$EPOCHREALTIME; echo "${t//[.,]/}"; }
stamp() { echo $(( $(micros) * 1000 )); }
# measure LABEL COMMAND...: appends the command's wall time (µs) to $work/times-LABEL
measure() {
	local t0=$EPOCHREALTIME t1
	"${@:2}" >/dev/null 2>&1 || { echo "failed: ${*:2}" >&2; exit 1; }
	t1=$EPOCHREALTIME
	echo $(( ${t1//[.,]/} - ${t0//[.,]/} )) >> "$work/times-$1"
}
# stats LABEL -> "median p95" in ms
stats() { sort -n "$work/times-$1" | awk '{v[NR]=$1} END {m=v[int((NR+1)/2)]; p=v[int(NR*0.95+0.999)]; printf "%7.2f %7.2f", m/1000, p/1000}'; }
median() { stats "$1" | awk '{print $1}'; }
# iqm LABEL -> the mean of the middle half (ms): steadier than the median on a noisy host.
iqm() { sort -n "$work/times-$1" | awk '{v[NR]=$1} END {lo=int(NR/4)+1; hi=NR-int(NR/4); for (i=lo; i<=hi; i++) s+=v[i]; printf "%.2f", s/(hi-lo+1)/1000}'; }

# bundle DIR ANNOTATIONS_JSON WITH_HOOKS ARGS_JSON
bundle() {
	mkdir -p "$1/rootfs/bin"
	cp /bin/busybox "$1/rootfs/bin/"; for a in true sleep sh; do ln -sf busybox "$1/rootfs/bin/$a"; done
	cp "$attack" "$1/rootfs/mg-attack"
	(cd "$1" && "$runc" spec)
	python3 - "$1/config.json" "$2" "$3" "$4" "$memguard" "$work" <<'PY'
import json, sys
path, notes, hooks, args, memguard, work = sys.argv[1:]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = json.loads(args)
c["root"]["readonly"] = False
c["annotations"] = json.loads(notes)
if hooks == "yes":
    env = [f"MEMGUARD_LOG_DIR={work}/log", f"MEMGUARD_STATE_DIR={work}/run", f"MEMGUARD_METRICS_DIR={work}/metrics"]
    c["hooks"] = {s: [{"path": memguard, "args": ["memguard", "hook", s], "env": env, "timeout": 30}]
                  for s in ("createRuntime", "poststop")}
json.dump(c, open(path, "w"))
PY
}

# sleeper NAME: a process in a cgroup of its own, registered with the hook (a stand-in
# container); its pid is left in $sleeper_pid. Stopped at exit. (Not in $(...): the cleanup
# must be registered in this shell.)
sleeper() {
	mkdir -p "$unified/mgbench-$1"
	sleep 3600 >/dev/null 2>&1 </dev/null & local pid=$!
	sleeper_pid=$pid
	echo "$pid" > "$unified/mgbench-$1/cgroup.procs"
	printf '{"ociVersion":"1.0.2","id":"bench-%s","status":"creating","pid":%d,"bundle":"/","annotations":{"io.memguard.monitor":"true"}}' "$1" "$pid" > "$work/state-$1"
	"$memguard" hook createRuntime < "$work/state-$1" >/dev/null
	cleanups+=("printf '{\"ociVersion\":\"1\",\"id\":\"bench-$1\",\"status\":\"stopped\",\"annotations\":{\"io.memguard.monitor\":\"true\"}}' | $memguard hook poststop; kill $pid; sleep 0.3; rmdir $unified/mgbench-$1")
}
waitclean() { for _ in $(seq 1 100); do [ -z "$(ls -A "$work/run/containers" 2>/dev/null)" ] && return; sleep 0.05; done; }
machine() { echo "$(uname -r), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"; }
# The peer a user would otherwise pick is measured in the same run: bpftrace from Debian,
# installed here if it is missing (benchmarks only; install.sh does not need it).
need_peer() {
	command -v bpftrace >/dev/null && return
	echo "installing bpftrace (the peer measured alongside memguard)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bpftrace >/dev/null 2>&1 ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bpftrace >/dev/null; } ||
		{ echo "bpftrace could not be installed: the peer comparison needs it (apt-get install bpftrace)" >&2; exit 1; }
}
