#!/usr/bin/env bash
# Container start (and stop) of /bin/true, busybox rootfs, three ways side by side, interleaved
# in rotating order: runc with no memguard at all; memguard-runc with a bundle that does not opt
# in; memguard-runc with an opted-in bundle (hooks added, monitor started and stopped) while
# another monitored container keeps the probes loaded, as on a busy host.
# Run-to-run noise on a small VM is several ms, so the added cost is given at the median and
# as the mean of the middle half (IQM) of each series.
#   bench/container-start.sh [RUNS]    (default 100; root, after ./install.sh)
here=$(cd "$(dirname "$0")" && pwd); source "$here/lib.sh"
runs=${1:-100}
bundle "$work/plain" '{}' no '["/bin/true"]'
bundle "$work/opted" '{"io.memguard.monitor":"true"}' no '["/bin/true"]'
cp "$work/opted/config.json" "$work/opted.config.json"
sleeper keeper

for i in $(seq 1 "$runs"); do
	order=$(( i % 3 ))
	for k in 0 1 2; do
		case $(( (order + k) % 3 )) in
			0) measure none "$runc" run --bundle "$work/plain" "s-n-$i" ;;
			1) measure nonopted "$wrapper" run --bundle "$work/plain" "s-w-$i" ;;
			2) cp "$work/opted.config.json" "$work/opted/config.json"
			   measure opted "$wrapper" run --bundle "$work/opted" "s-o-$i" ;;
		esac
	done
done
waitclean
echo "container start+stop of /bin/true, $runs runs each, interleaved (ms: median p95 iqm)"
printf '  no memguard (runc)              %s %7.2f\n' "$(stats none)" "$(iqm none)"
printf '  non-opted through memguard-runc %s %7.2f\n' "$(stats nonopted)" "$(iqm nonopted)"
printf '  opted-in through memguard-runc  %s %7.2f\n' "$(stats opted)" "$(iqm opted)"
awk -v a="$(median none)" -v b="$(median nonopted)" -v c="$(median opted)" \
	'BEGIN { printf "  added at the median: non-opted %+.2f ms (target <= 1), opted-in %+.2f ms (target <= 10)\n", b - a, c - a }'
awk -v a="$(iqm none)" -v b="$(iqm nonopted)" -v c="$(iqm opted)" \
	'BEGIN { printf "  added, middle-half mean: non-opted %+.2f ms, opted-in %+.2f ms\n", b - a, c - a }'
# The wrapper's own cost, without runc's noise: handing over to /bin/true instead; and, as the
# floor for any wrapper, a static C program that does nothing but exec /bin/true.
printf '#include <unistd.h>\nint main(int c, char **v) { execv("/bin/true", v); return 127; }\n' > "$work/floor.c"
gcc -O2 -static -o "$work/floor" "$work/floor.c"
for i in $(seq 1 "$runs"); do
	measure wrapper-alone env MEMGUARD_RUNTIME=/bin/true "$wrapper" run --bundle "$work/plain" "w-$i"
	measure true-alone env /bin/true run --bundle "$work/plain" "t-$i"
	measure floor-alone env "$work/floor" run --bundle "$work/plain" "f-$i"
done
awk -v a="$(median true-alone)" -v b="$(median wrapper-alone)" -v c="$(median floor-alone)" \
	'BEGIN { printf "  memguard-runc alone (handing over to /bin/true): %+.2f ms over exec of /bin/true itself (a static C exec-only program: %+.2f ms)\n", b - a, c - a }'
echo "reproduce: bench/container-start.sh $runs   ($(machine))"
