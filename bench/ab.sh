#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/ab.sh -- interleaved A/B of two servers already running on loopback (say two builds of
# gatekeeperd, pinned to the server core with taskset -c 0): N pairs of short gkload runs,
# A then B, B then A, ..., and the median [quartiles] of the per-pair ratios A/B. This VM's
# speed modes last seconds (bench/README.md), so adjacent runs mostly share one.
#
#   bench/ab.sh peak  N PID_A PORT_A PID_B PORT_B   closed loop (gkload -c 8 -W 64), 2 s runs:
#                                                   qps and server CPU us/query
#   bench/ab.sh fixed N PID_A PORT_A PID_B PORT_B   20,000 qps (gkload -Q 20000 -c 4), 3 s runs:
#                                                   p50, p99 and server CPU
# Env: GKLOAD (default build/bench/gkload), QUERIES (default bench/data/queries.txt).
# Server CPU is utime+stime of every thread of PID and of its children and grandchildren.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=$1 n=$2 pa=$3 a=$4 pb=$5 b=$6
G=${GKLOAD:-build/bench/gkload}
Q=${QUERIES:-bench/data/queries.txt}

tree() {
	local c
	c=$(pgrep -P "$1" || true)
	echo "$1" $c $(for x in $c; do pgrep -P "$x" || true; done)
}
ticks() { # clock ticks (1/100 s) used so far by the process tree
	local s=0 p t f
	for p in $(tree "$1"); do
		for t in /proc/"$p"/task/*/stat; do
			f=($(sed 's/.*) //' "$t"))
			s=$((s + f[11] + f[12]))
		done
	done
	echo $s
}
one() { # pid port -> "figure... cpu_ticks elapsed_ns"
	local c0 c1 t0 t1 out
	c0=$(ticks "$1")
	t0=$(date +%s%N)
	if [ "$mode" = peak ]; then
		out=$(nice -n -10 taskset -c 1 "$G" -s 127.0.0.1 -p "$2" -d "$Q" -l 2 -e -t 1000 -c 8 -W 64 2>&1)
		out=$(grep -o 'received=[0-9]*' <<<"$out" | cut -d= -f2)
	else
		out=$(nice -n -10 taskset -c 1 "$G" -s 127.0.0.1 -p "$2" -d "$Q" -l 3 -e -t 1000 -Q 20000 -c 4 2>&1)
		out="$(grep -o 'p50_us=[0-9.]*' <<<"$out" | cut -d= -f2) $(grep -o 'p99_us=[0-9.]*' <<<"$out" | cut -d= -f2)"
	fi
	c1=$(ticks "$1")
	t1=$(date +%s%N)
	echo "$out $((c1 - c0)) $((t1 - t0))"
}
for i in $(seq 1 "$n"); do
	if [ $((i % 2)) = 1 ]; then ra=$(one "$pa" "$a"); rb=$(one "$pb" "$b"); else rb=$(one "$pb" "$b"); ra=$(one "$pa" "$a"); fi
	echo "$ra | $rb"
done | /usr/bin/python3 -c '
import sys, statistics as st
mode = sys.argv[1]
rows = [[list(map(float, side.split())) for side in l.split("|")] for l in sys.stdin if l.strip()]
def show(name, fa, fb):
	a = [fa(x) for x, _ in rows]; b = [fb(y) for _, y in rows]
	r = sorted(p / q for p, q in zip(a, b)); n = len(r)
	print("%-12s A %9.2f  B %9.2f  A/B paired median %.3f [%.3f-%.3f] (%d pairs)" % (
		name, st.median(a), st.median(b), st.median(r), r[n // 4], r[(3 * n) // 4], n))
if mode == "peak":
	qps = lambda x: x[0] / 2.0
	show("qps", qps, qps)
	show("us/query", lambda x: x[1] * 1e4 / x[0], lambda y: y[1] * 1e4 / y[0])
else:
	show("p50 us", lambda x: x[0], lambda y: y[0])
	show("p99 us", lambda x: x[1], lambda y: y[1])
	show("cpu %", lambda x: x[2] * 1e9 / x[3], lambda y: y[2] * 1e9 / y[3])
' "$mode"
