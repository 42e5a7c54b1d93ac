#!/usr/bin/env bash
# Event throughput: an audit-mode container breaking W^X in a tight loop (a page flipped RW -> RWX -> RW),
# all events written to its log: events per second and events lost (target: >= 100k/s, none
# lost over a ~1 s burst). Then the monitor's resident memory and the BPF memory per container,
# and the same burst under a bpftrace script with a cgroup filter (the peer a user might pick).
#   bench/throughput.sh [EVENTS]     (default 150000; root, after ./install.sh)
here=$(cd "$(dirname "$0")" && pwd); source "$here/lib.sh"
need_peer
events=${1:-150000}
bundle "$work/burst" '{"io.memguard.monitor":"true"}' yes "[\"/mg-attack\",\"sleep\",\"0.5\",\"loop\",\"wx-flip\",\"$events\",\"sleep\",\"1\"]"
# In the foreground (in the background of this shell): polling `runc state` during the burst
# would put the harness's own CPU load on the two cores the monitor needs.
"$runc" run --bundle "$work/burst" bench-burst >/dev/null 2>&1 &
burst=$!
sleep 0.3
monitor=$(pgrep -f "^memguard monitor" || true); monitor=${monitor%%$'\n'*}
ring=$(bpftool map show 2>/dev/null | awk '/name mg_ring / {getline; for (i=1;i<=NF;i++) if ($i=="memlock") {sub("B","",$(i+1)); print $(i+1); exit}}')
scopes=$(bpftool map show name mg_scopes 2>/dev/null | awk '{for (i=1;i<=NF;i++) if ($i=="memlock") {sub("B","",$(i+1)); print $(i+1); exit}}')
rss=$(awk '/VmRSS/ {print $2}' "/proc/$monitor/status" 2>/dev/null || echo 0)
anon=$(awk '/RssAnon/ {print $2}' "/proc/$monitor/status" 2>/dev/null || echo 0)
wait "$burst" || true
waitclean
log=$work/log/bench-burst.log
logged=$(grep -c '"event":"wx-mprotect"' "$log" || true)
lost=$(grep -o '"lost":[0-9]*' "$log" | tail -1 | cut -d: -f2)
first=$(awk '/"event":"wx-mprotect"/ { print; exit }' "$log" | grep -o '"time":"[^"]*"' | cut -d'"' -f4)
last=$(awk '/"event":"wx-mprotect"/ { line = $0 } END { print line }' "$log" | grep -o '"time":"[^"]*"' | cut -d'"' -f4)
span=$(python3 -c "import datetime as d,sys; f=lambda s: d.datetime.fromisoformat(s[:26]); print((f('$last')-f('$first')).total_seconds())")
echo "event throughput: one audit container, $events W^X violations in a tight loop"
awk -v n="$logged" -v s="$span" -v l="$lost" 'BEGIN { printf "  memguard: %d events logged in %.3f s = %.0f events/s, lost %d\n", n, s, (s > 0 ? n / s : 0), l }'
echo "  monitor resident memory: ${rss} kB (${anon} kB anonymous; the rest is the shared binary)"
echo "  BPF memory per container: ring buffer ${ring:-?} bytes; the shared scope map ${scopes:-?} bytes for all containers"

mkdir -p "$unified/mgbench-bt"
bpftrace -e 'tracepoint:syscalls:sys_enter_mprotect /cgroup == cgroupid("'"$unified"'/mgbench-bt") && (args->prot & 6) == 6/ { printf("%d %s wx %lx\n", pid, comm, args->start); }' > "$work/bt.out" 2>&1 &
bt=$!; sleep 4
t0=$(stamp)
sh -c "echo \$\$ > $unified/mgbench-bt/cgroup.procs; exec $attack loop wx-flip $events" >/dev/null
t=$(( ($(stamp) - t0) / 1000 ))
sleep 1; kill -INT "$bt"; wait "$bt" 2>/dev/null || true
rmdir "$unified/mgbench-bt"
seen=$(grep -c ' wx ' "$work/bt.out" || true)
btlost=$( { grep -o 'Lost [0-9]* events' "$work/bt.out" || true; } | awk '{s+=$2} END {print s+0}')
awk -v n="$seen" -v us="$t" -v l="$btlost" -v e="$events" 'BEGIN { printf "  bpftrace (peer): %d of %d events printed in %.3f s = %.0f events/s, lost %d\n", n, e, us/1e6, n/(us/1e6), l }'
echo "reproduce: bench/throughput.sh $events   ($(machine))"
