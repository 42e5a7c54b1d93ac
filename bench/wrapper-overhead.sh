#!/usr/bin/env bash
# What memguard-runc adds to a container start, measured side by side in one run:
#   bench/wrapper-overhead.sh [RUNS]      (default 30; needs ./install.sh first; root)
# 1. a non-opted bundle: `runc run` vs `memguard-runc run` (the wrapper reads config.json and
#    execs runc: its whole cost).
# 2. an opted-in bundle: runc with memguard's hooks already in config.json vs memguard-runc
#    adding them (both monitored, so the difference is the wrapper's rewrite), while another
#    monitored container keeps the probes loaded.
# Prints medians and p95 in milliseconds; runs are interleaved so drift hits both sides.
set -euo pipefail
runs=${1:-30}
memguard=$(command -v memguard) || { echo "memguard is not installed: run ./install.sh" >&2; exit 1; }
wrapper=$(dirname "$memguard")/memguard-runc
runc=$(command -v runc)
work=$(mktemp -d /tmp/memguard-bench.XXXXXX)
export MEMGUARD_LOG_DIR=$work/log MEMGUARD_STATE_DIR=$work/run
trap 'rm -rf "$work"' EXIT

bundle() { # DIR ANNOTATIONS_JSON WITH_HOOKS
	mkdir -p "$1/rootfs/bin"
	cp /bin/busybox "$1/rootfs/bin/"; ln -sf busybox "$1/rootfs/bin/true"
	(cd "$1" && "$runc" spec)
	python3 - "$1/config.json" "$2" "$3" "$memguard" "$work" <<'PY'
import json, sys
path, notes, hooks, memguard, work = sys.argv[1:]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["annotations"] = json.loads(notes)
if hooks == "yes":
    env = [f"MEMGUARD_LOG_DIR={work}/log", f"MEMGUARD_STATE_DIR={work}/run"]
    c["hooks"] = {s: [{"path": memguard, "args": ["memguard", "hook", s], "env": env, "timeout": 30}]
                  for s in ("createRuntime", "poststop")}
json.dump(c, open(path, "w"))
PY
}

stamp() { date +%s%N; }
measure() { # LABEL-FILE COMMAND...
	local t0; t0=$(stamp); "${@:2}" >/dev/null 2>&1 || { echo "failed: ${*:2}" >&2; exit 1; }
	echo $(( ($(stamp) - t0) / 1000 )) >> "$work/$1"
}
stats() { # FILE -> "median p95" in ms
	sort -n "$work/$1" | awk '{v[NR]=$1} END {m=v[int((NR+1)/2)]; p=v[int(NR*0.95+0.999)]; printf "%6.2f %6.2f", m/1000, p/1000}'
}

bundle "$work/plain" '{}' no
# A long-running monitored container keeps the shared probes loaded, as on a host that already
# monitors something: the opted-in figures are then a container joining, not the first one.
bundle "$work/keeper" '{"io.memguard.monitor":"true"}' yes
python3 - "$work/keeper/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["process"]["args"] = ["/bin/sleep", "3600"]; json.dump(c, open(sys.argv[1], "w"))
PY
ln -sf busybox "$work/keeper/rootfs/bin/sleep"
"$runc" run -d --bundle "$work/keeper" bench-keeper >/dev/null
trap '"$runc" delete -f bench-keeper >/dev/null 2>&1; rm -rf "$work"' EXIT
bundle "$work/opted-hooks" '{"io.memguard.monitor":"true"}' yes
bundle "$work/opted" '{"io.memguard.monitor":"true"}' no
cp "$work/opted/config.json" "$work/opted.config.json"

# Interleaved, and in alternating order (ABBA), so neither side always runs after the other.
for i in $(seq 1 "$runs"); do
	if [ $((i % 2)) = 1 ]; then
		measure plain-runc "$runc" run --bundle "$work/plain" "b-p-r-$i"
		measure plain-wrapper "$wrapper" run --bundle "$work/plain" "b-p-w-$i"
	else
		measure plain-wrapper "$wrapper" run --bundle "$work/plain" "b-p-w-$i"
		measure plain-runc "$runc" run --bundle "$work/plain" "b-p-r-$i"
	fi
	cp "$work/opted.config.json" "$work/opted/config.json"
	if [ $((i % 2)) = 1 ]; then
		measure opted-runc "$runc" run --bundle "$work/opted-hooks" "b-o-r-$i"
		measure opted-wrapper "$wrapper" run --bundle "$work/opted" "b-o-w-$i"
	else
		measure opted-wrapper "$wrapper" run --bundle "$work/opted" "b-o-w-$i"
		measure opted-runc "$runc" run --bundle "$work/opted-hooks" "b-o-r-$i"
	fi
done

echo "container start of /bin/true, busybox rootfs, $runs runs each, interleaved (ms: median p95)"
printf '  non-opted  runc %s   memguard-runc %s\n' "$(stats plain-runc)" "$(stats plain-wrapper)"
printf '  opted-in   runc+hooks %s   memguard-runc adding them %s\n' "$(stats opted-runc)" "$(stats opted-wrapper)"
awk -v a="$(stats plain-runc | awk '{print $1}')" -v b="$(stats plain-wrapper | awk '{print $1}')" \
    -v c="$(stats opted-runc | awk '{print $1}')" -v d="$(stats opted-wrapper | awk '{print $1}')" \
    'BEGIN { printf "  wrapper adds (median): non-opted %+.2f ms, opted-in %+.2f ms\n", b - a, d - c }'
echo "reproduce: bench/wrapper-overhead.sh $runs   (on $(uname -r), $(nproc) cores)"
