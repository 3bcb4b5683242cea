#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The node agent's cost on loopback: PODS containers (a PodList file, a
# fake systemd-driver cgroup tree, one pod IP 127.0.x.y each), every one
# serving the real client_golang page (../shared/tools/metrics/
# metrics-go.txt) from one epoll server (tests/integration/agent_env.py),
# the agent at a 1 s tick with the rebalance policy of
# docs/examples/rebalance.yaml (a GC-pause histogram trigger and two PSI
# triggers). Measured after a warm-up:
#   - CPU per tick: the agent's own podtuner_agent_tick_cpu_seconds (its
#     thread) and its phases, and the whole process from /proc/PID/stat,
#     with each page scraped every tick (the issue's 1 s) and then at each
#     scrape interval of EVERY (the example policy's 5s);
#   - RSS (VmRSS, RssAnon = the agent's own memory, RssFile = mapped
#     libraries) at PODS, then at each of SCALE pod counts.
# Prints a Markdown table (for docs/benchmarks.md) and writes the figures
# as JSON to OUT. Bounded: fixed run lengths, loopback only.
#   PODS=250 SECS=30 EVERY="5s" SCALE="0 250 500 1000" SCALE_SECS=12 PIN=1 (agent on
#   CPU 1, the pages' server on CPU 0) OUT=build/bench/agent.json
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
PODTUNER=${PODTUNER:-build/rel/podtuner}
PAGESRV=${PAGESRV:-${O:-build/rel}/tests/bench/pagesrv}
PY=/usr/bin/python3
ENV=tests/integration/agent_env.py
SAMPLE=$ROOT/../shared/tools/metrics/metrics-go.txt
PODS=${PODS:-250}
SECS=${SECS:-30}
WARM=5
EVERY=${EVERY-5s}
SCALE=${SCALE:-0 250 500 1000}
SCALE_SECS=${SCALE_SECS:-12}
OUT=${OUT:-build/bench/agent.json}
T=$(mktemp -d /tmp/agent_bench.XXXXXX)
PIDS=""

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$(dirname "$OUT")"

[ -x "$PODTUNER" ] || { echo "no podtuner binary at '$PODTUNER' (make)" >&2; exit 1; }
[ -x "$PAGESRV" ] || [ "${PAGES:-c}" = python ] || { echo "no '$PAGESRV' (make bench builds it)" >&2; exit 1; }
[ -f "$SAMPLE" ] || { echo "no Go metrics sample at '$SAMPLE'" >&2; exit 1; }
for n in $PODS $SCALE; do
	[ "$n" -le 4000 ] || { echo "at most 4000 pods (127.0.1.2 .. 127.0.16.x)" >&2; exit 1; }
done
pin() { # cpu cmd...: run in the background (exec: $! is the command), on cpu when PIN=1
	local cpu=$1
	shift
	if [ "${PIN:-0}" = 1 ]; then exec taskset -c "$cpu" "$@"; else exec "$@"; fi
}

# start N [SCRAPE_INTERVAL]: the tree, the pages and the agent for N pods,
# scraping every tick or at the interval given; sets APID, MPORT.
RUN=0
start() {
	local n=$1 every=${2:-1s} d
	RUN=$((RUN + 1))
	d=$T/run$RUN-$n
	mkdir -p "$d"
	$PY "$ENV" tree --root "$d/cg" --pods "$n" --podlist "$d/pods.json" || exit 1
	# The pages: a C epoll server (tests/bench/pagesrv.c), fast as a Go
	# exporter; PAGES=python uses the integration tests' Python server.
	if [ "${PAGES:-c}" = python ]; then
		pin 0 $PY "$ENV" serve --sample "$SAMPLE" --port 0 --pods "$n" --port-file "$d/port" >"$d/serve.log" 2>&1 &
	else
		pin 0 "$PAGESRV" "$SAMPLE" "$n" "$d/port" >"$d/serve.log" 2>&1 &
	fi
	SPID=$!
	PIDS="$PIDS $SPID"
	for _ in $(seq 100); do [ -s "$d/port" ] && break; sleep 0.1; done
	[ -s "$d/port" ] || { echo "the pages' server did not start" >&2; cat "$d/serve.log" >&2; exit 1; }
	read -r _ port <"$d/port"
	[ "$port" != 0 ] || port=9090 # no pods, no pages: any valid port
	sed -e 's/^  name: shop-web/  name: bench/' -e "s/port: 9090/port: $port/" \
		-e 's/namespaces: \["shop", "shop-\*"\]/namespaces: ["shop"]/' -e "s/interval: 5s}/interval: $every}/" \
		docs/examples/rebalance.yaml >"$d/policy.yaml"
	grep -q "interval: $every}" "$d/policy.yaml" || { echo "cannot set the scrape interval in the policy" >&2; exit 1; }
	pin 1 "$PODTUNER" rebalance -p "$d/policy.yaml" --pods-file "$d/pods.json" --cgroup-root "$d/cg" \
		--checkpoint "$d/ck.json" --interval 1s --listen 127.0.0.1:0 --ready-file "$d/ready" >"$d/agent.log" 2>&1 &
	APID=$!
	PIDS="$PIDS $APID"
	for _ in $(seq 300); do [ -s "$d/ready" ] && break; sleep 0.1; done
	[ -s "$d/ready" ] || { echo "the agent did not start" >&2; tail "$d/agent.log" >&2; exit 1; }
	MPORT=$(cat "$d/ready")
}
stop() {
	kill "$APID" "$SPID" 2>/dev/null
	wait "$APID" "$SPID" 2>/dev/null
}
scrape() { curl -sf "http://127.0.0.1:$MPORT/metrics" >"$1"; }
val() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$1"; }
proc_cpu() { awk '{ print $14 + $15 }' "/proc/$APID/stat"; } # clock ticks
status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$APID/status"; } # kB

# --- CPU at PODS, for each scrape interval --------------------------------
# cpu EVERY OUT: measure the agent at PODS with pages every EVERY.
cpu() {
	start "$PODS" "$1"
	scrape "$T/m_first"
	sleep "$WARM"
	scrape "$T/m0"
	c0=$(proc_cpu)
	sleep "$((SECS - WARM))"
	scrape "$T/m1"
	c1=$(proc_cpu)
	rss=$(status VmRSS)
	anon=$(status RssAnon)
	file=$(status RssFile)
	hwm=$(status VmHWM)
	stop
	$PY - "$T/m_first" "$T/m0" "$T/m1" "$c0" "$c1" "$HZ" "$PODS" "$rss" "$anon" "$file" "$hwm" "$2" "$1" <<'EOF'
import json, re, sys
first, m0, m1 = ({}, {}, {})
for path, d in zip(sys.argv[1:4], (first, m0, m1)):
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        k, v = line.rsplit(" ", 1)
        d[k] = float(v)
c0, c1, hz, pods = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
rss, anon, filerss, hwm = (int(x) for x in sys.argv[8:12])
d = lambda k: m1.get(k, 0) - m0.get(k, 0)
ticks = d("podtuner_agent_ticks_total")
r = {"pods": pods, "scrape_interval": sys.argv[13], "ticks": int(ticks),
     "tick_cpu_ms": 1000 * d("podtuner_agent_tick_cpu_seconds_sum") / ticks,
     "process_cpu_ms": 1000 * (c1 - c0) / hz / ticks,
     "tick_wall_ms": 1000 * d("podtuner_agent_tick_duration_seconds_sum") / ticks,
     "first_tick_cpu_ms": 1000 * first.get("podtuner_agent_tick_cpu_seconds_sum", 0),
     "scrape_errors": int(d('podtuner_agent_scrapes_total{result="error"}')),
     "scrapes": int(d('podtuner_agent_scrapes_total{result="ok"}')),
     "series": int(m1.get("podtuner_agent_series", 0)),
     "series_bytes": int(m1.get("podtuner_agent_series_bytes", 0)),
     "rss_kb": rss, "rss_anon_kb": anon, "rss_file_kb": filerss, "hwm_kb": hwm, "phases_ms": {}}
# the tick CPU histogram: share of ticks under each bound
buckets = sorted((float(re.search(r'le="([^"]+)"', k).group(1)), d(k)) for k in m1
                 if k.startswith("podtuner_agent_tick_cpu_seconds_bucket"))
r["tick_cpu_le_10ms"] = next((c for b, c in buckets if b == 0.01), 0) / ticks
for k in m1:
    m = re.match(r'podtuner_agent_tick_phase_cpu_seconds_total\{phase="(\w+)"\}', k)
    if m:
        r["phases_ms"][m.group(1)] = 1000 * d(k) / ticks
json.dump(r, open(sys.argv[12], "w"))
EOF
}
HZ=$(getconf CLK_TCK)
cpu 1s "$OUT.cpu"
for e in $EVERY; do cpu "$e" "$OUT.cpu.$e"; done

# --- RSS as pods grow -------------------------------------------------------
echo "[]" >"$OUT.scale"
for n in $SCALE; do
	start "$n"
	sleep 3
	scrape "$T/s0"
	sleep "$((SCALE_SECS - 3))"
	scrape "$T/s"
	$PY - "$OUT.scale" "$n" "$(status VmRSS)" "$(status RssAnon)" "$(status RssFile)" \
		"$(val "$T/s" podtuner_agent_series_bytes)" \
		"$(($(val "$T/s" podtuner_agent_ticks_total) - $(val "$T/s0" podtuner_agent_ticks_total)))" \
		"$(val "$T/s0" podtuner_agent_tick_cpu_seconds_sum)" "$(val "$T/s" podtuner_agent_tick_cpu_seconds_sum)" \
		"$(val "$T/s" 'podtuner_agent_scrapes_total{result="error"}')" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
n, rss, anon, filerss, sb, ticks, cpu0, cpu1, errs = sys.argv[2:11]
rows.append({"pods": int(n), "rss_kb": int(rss), "rss_anon_kb": int(anon), "rss_file_kb": int(filerss),
             "series_bytes": int(float(sb)),
             "tick_cpu_ms": 1000 * (float(cpu1) - float(cpu0)) / max(float(ticks), 1),
             "scrape_errors": int(float(errs))})
json.dump(rows, open(sys.argv[1], "w"))
EOF
	stop
done

$PY - "$OUT.cpu" "$OUT.scale" "$OUT" "$PODS" "$SECS" "${PIN:-0}" $EVERY <<'EOF'
import json, os, sys
cpu, scale = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
every = [json.load(open(f"{sys.argv[1]}.{e}")) for e in sys.argv[7:]]
json.dump({"cpu": cpu, "cpu_by_scrape_interval": every, "scale": scale, "pin": sys.argv[6] == "1",
           "loadavg": os.getloadavg()}, open(sys.argv[3], "w"), indent=1)
mib = lambda kb: f"{kb / 1024:.1f}"
print(f"### CPU per tick, {cpu['pods']} containers, 1 s tick ({cpu['ticks']} ticks measured)\n")
print("| | per tick |\n|---|---|")
print(f"| agent thread (podtuner_agent_tick_cpu_seconds) | {cpu['tick_cpu_ms']:.1f} ms |")
print(f"| whole process (/proc/PID/stat: all threads) | {cpu['process_cpu_ms']:.1f} ms |")
print(f"| ticks at or under 10 ms | {100 * cpu['tick_cpu_le_10ms']:.0f}% |")
print(f"| wall time of a tick | {cpu['tick_wall_ms']:.1f} ms |")
print(f"| first tick (baselines written, connections opened) | {cpu['first_tick_cpu_ms']:.0f} ms |")
for p, ms in sorted(cpu["phases_ms"].items(), key=lambda x: -x[1]):
    print(f"| &nbsp;&nbsp;phase {p} | {ms:.2f} ms |")
print(f"\nScrapes: {cpu['scrapes']} ok, {cpu['scrape_errors']} failed; {cpu['series']} series kept "
      f"({cpu['series_bytes'] / 1024:.0f} KiB).\n")
if every:
    print(f"### CPU per tick by scrape interval, {cpu['pods']} containers, 1 s tick\n")
    print("| scrape interval | agent thread | whole process | scrape + ingest | pages per tick | ticks at or under 10 ms |")
    print("|---|---|---|---|---|---|")
    for r in [cpu] + every:
        ph = r["phases_ms"]
        print(f"| {r['scrape_interval']} | {r['tick_cpu_ms']:.1f} ms | {r['process_cpu_ms']:.1f} ms "
              f"| {ph.get('scrape', 0) + ph.get('ingest', 0):.1f} ms | {r['scrapes'] / r['ticks']:.0f} "
              f"| {100 * r['tick_cpu_le_10ms']:.0f}% |")
    print()
print("### Memory as pods grow\n")
print("| pods | VmRSS | RssAnon (agent) | RssFile (libraries) | series store | agent thread CPU per tick |")
print("|---|---|---|---|---|---|")
for r in scale:
    print(f"| {r['pods']} | {mib(r['rss_kb'])} MiB | {mib(r['rss_anon_kb'])} MiB | {mib(r['rss_file_kb'])} MiB "
          f"| {r['series_bytes'] / 1048576:.2f} MiB | {r['tick_cpu_ms']:.1f} ms |")
print(f"\nLoad average during the run: {os.getloadavg()[0]:.2f}; PIN={sys.argv[6]}.")
EOF
rm -f "$OUT.cpu" "$OUT.scale"
for e in $EVERY; do rm -f "$OUT.cpu.$e"; done
