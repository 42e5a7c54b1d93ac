#!/usr/bin/env bash
# What a syscall costs with memguard's probes loaded, for a process outside any monitored
# container and for one inside, with 0, 1, 10 and 50 monitored containers: the outside cost must
# stay flat as containers are added (one shared program set), the inside cost for calls that
# break nothing should stay near the no-memguard cost. Also the same outside cost under a
# bpftrace script doing the same kind of W^X filter, for comparison.
#   bench/syscall-cost.sh [CALLS]     (default 200000; root, after ./install.sh)
here=$(cd "$(dirname "$0")" && pwd); source "$here/lib.sh"
need_peer
calls=${1:-200000}
cc -O2 -o "$work/cost" "$here/syscall-cost.c"
cc -O2 -static -o "$work/cost-static" "$here/syscall-cost.c"
row() { printf '  %-34s getppid %5s ns   mprotect %5s ns   mmap+munmap %5s ns\n' "$1" $2 $3 $4; }
inside() { # runs the measurement inside a monitored stand-in container (same cgroup, own pidns)
	mkdir -p "$unified/mgbench-in"
	unshare --pid --fork --mount-proc sh -c "echo \$\$ >/dev/null; sleep 0.5; exec $work/cost-static $calls" > "$work/inside.out" &
	local outer=$!; sleep 0.1
	local inner; inner=$(pgrep -P "$outer" | head -1)
	echo "$inner" > "$unified/mgbench-in/cgroup.procs"
	printf '{"ociVersion":"1.0.2","id":"bench-in","status":"creating","pid":%d,"bundle":"/","annotations":{"io.memguard.monitor":"true"}}' "$inner" | "$memguard" hook createRuntime >/dev/null
	wait "$outer"
	printf '{"ociVersion":"1","id":"bench-in","status":"stopped","annotations":{"io.memguard.monitor":"true"}}' | "$memguard" hook poststop
	sleep 0.3; rmdir "$unified/mgbench-in"
	cat "$work/inside.out"
}

echo "syscall cost (median of 7 rounds of $calls calls)"
row "no memguard loaded" $("$work/cost" "$calls")
base=$("$work/cost" "$calls" | awk '{print $1}')
for n in 1 10 50; do
	while [ "$(ls "$work/run/containers" 2>/dev/null | wc -l)" -lt "$n" ]; do sleeper "c$(ls "$work/run/containers" 2>/dev/null | wc -l)-$RANDOM"; done
	row "outside, $n monitored container(s)" $("$work/cost" "$calls")
done
row "inside a monitored container (50 others)" $(inside)
for c in "${cleanups[@]}"; do eval "$c" >/dev/null 2>&1 || true; done; cleanups=(); waitclean; sleep 1
mkdir -p "$unified/mgbench-bt"
bpftrace -e 'tracepoint:syscalls:sys_enter_mprotect /cgroup == cgroupid("'"$unified"'/mgbench-bt") && (args->prot & 6) == 6/ { printf("%d wx\n", pid); }' >/dev/null 2>&1 &
bt=$!; sleep 4
row "outside, under bpftrace (peer)" $("$work/cost" "$calls")
kill "$bt"; wait "$bt" 2>/dev/null || true; rmdir "$unified/mgbench-bt"
echo "reproduce: bench/syscall-cost.sh $calls   ($(machine))"
