#!/usr/bin/env bash
# The hook alone, on stand-in containers (a process in a cgroup of its own): createRuntime while
# the probes are loaded (another container monitored), createRuntime for the first container
# (load, attach, pin), poststop, and how long until everything of the container is gone.
#   bench/hook-latency.sh [RUNS]    (default 30; root, after ./install.sh)
here=$(cd "$(dirname "$0")" && pwd); source "$here/lib.sh"
runs=${1:-30}
nonopted='{"ociVersion":"1.0.2","id":"n","status":"creating","pid":1,"bundle":"/","annotations":{}}'
for i in $(seq 1 "$runs"); do
	mkdir -p "$unified/mgbench-h"
	sleep 3600 & pid=$!
	echo "$pid" > "$unified/mgbench-h/cgroup.procs"
	printf '{"ociVersion":"1.0.2","id":"h","status":"creating","pid":%d,"bundle":"/","annotations":{"io.memguard.monitor":"true"}}' "$pid" > "$work/h.json"
	printf '{"ociVersion":"1.0.2","id":"h","status":"stopped","annotations":{"io.memguard.monitor":"true"}}' > "$work/h-stop.json"
	label=first; [ -n "${keeper:-}" ] && label=joining
	measure "create-$label" sh -c "$memguard hook createRuntime < $work/h.json"
	t0=$(stamp)
	measure poststop sh -c "$memguard hook poststop < $work/h-stop.json"
	while [ -e "$work/run/containers/h.state" ]; do sleep 0.001; done
	echo $(( ($(stamp) - t0) / 1000 )) >> "$work/times-gone"
	kill "$pid"; wait "$pid" 2>/dev/null || true
	rmdir "$unified/mgbench-h" 2>/dev/null || { sleep 0.1; rmdir "$unified/mgbench-h"; }
	measure nonopted sh -c "echo '$nonopted' | $memguard hook createRuntime"
	measure true sh -c "echo '$nonopted' | /bin/true"
	# half the runs with the probes already loaded by another container
	if [ "$i" = $(( runs / 2 )) ]; then sleeper keeper; keeper=$sleeper_pid; fi
done
echo "the hook alone, $runs runs (ms: median p95; includes starting a shell around it)"
printf '  createRuntime, first container (load+attach+pin)  %s\n' "$(stats create-first)"
printf '  createRuntime, probes already loaded               %s\n' "$(stats create-joining)"
printf '  poststop (returns; the monitor finishes alone)     %s\n' "$(stats poststop)"
printf '  poststop until every trace of the container gone   %s   (target <= 1000)\n' "$(stats gone)"
printf '  non-opted container                                %s   vs /bin/true %s\n' "$(stats nonopted)" "$(stats true)"
echo "reproduce: bench/hook-latency.sh $runs   ($(machine))"
