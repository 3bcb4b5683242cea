#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The table of a `make bench` run: medians over the repetitions of
bench-webhook.sh results (RESULTS/*.json, labels podtuner and webhook-go),
memory samples (RESULTS/mem-*.json), ready times (RESULTS/ready-*.json)
and the engine micro-benchmark (RESULTS/engine.txt), against issue 3's
targets. Markdown on stdout.

usage: summarize.py RESULTS_DIR"""
import glob
import json
import os
import statistics
import sys

d = sys.argv[1]
SERVERS = ("podtuner", "webhook-go")
FIXTURES = ("pod-create", "pod-create-large")
med = statistics.median


def load(pattern):
    return [json.load(open(f)) for f in sorted(glob.glob(os.path.join(d, pattern)))]


runs = {}
for r in load("*-pin1-*.json"):
    fx = os.path.basename(r["fixture"])[:-5]
    runs.setdefault((r["label"], fx), []).append(r)
mem = {}
for m in load("mem-*.json"):
    mem.setdefault((m["label"], m["fixture"]), []).append(m)
ready = {r["label"]: r for r in load("ready-*.json")}
engine = {}
if os.path.exists(os.path.join(d, "engine.txt")):
    for line in open(os.path.join(d, "engine.txt")):
        if line.startswith("RESULT "):
            e = json.loads(line[7:])
            engine[os.path.basename(e["fixture"])[:-5]] = e


def m(label, fx, f):
    xs = [f(r) for r in runs.get((label, fx), [])]
    return med(xs) if xs else float("nan")


def mm(label, fx, key, agg=med):
    xs = [x[key] for x in mem.get((label, fx), [])]
    return agg(xs) if xs else float("nan")


def mib(kb):
    return f"{kb / 1024:.1f}"


def verdict(ok):
    return "met" if ok else "**missed**"


noisy = sum(r["noisy"] for rs in runs.values() for r in rs)
total = sum(len(rs) for rs in runs.values())
bg = [r["background_cpu_pct"]["during_all"] for rs in runs.values() for r in rs]
print(f"Runs: {total} ({len(runs.get(('podtuner', 'pod-create'), []))} per server and fixture), "
      f"{noisy} flagged noisy by bench-webhook.sh; background CPU of other processes during the runs: "
      f"median {med(bg) if bg else 0:.0f}%, max {max(bg) if bg else 0:.0f}% of 2 CPUs.\n")
print("| Fixture | Metric | podtuner | Go peer | podtuner / Go | Target | |")
print("|---|---|---|---|---|---|---|")
for fx, name in zip(FIXTURES, ("10 KB", "60 KB")):
    rps = {s: m(s, fx, lambda r: r["wrk_closed_loop_http1"]["rps"]) for s in SERVERS}
    cpu = {s: m(s, fx, lambda r: r["wrk_closed_loop_http1"]["server_cpu_us_per_req"]) for s in SERVERS}
    p50 = {s: m(s, fx, lambda r: r["wrk_closed_loop_http1"]["lat_us"]["p50"] / 1000) for s in SERVERS}
    p99 = {s: m(s, fx, lambda r: r["wrk_closed_loop_http1"]["lat_us"]["p99"] / 1000) for s in SERVERS}
    fr = {s: m(s, fx, lambda r: r["h2load_fixed_rate_http1"]["rps"]) for s in SERVERS}
    fp50 = {s: m(s, fx, lambda r: r["h2load_fixed_rate_http1"]["lat_us"]["p50"] / 1000) for s in SERVERS}
    fp99 = {s: m(s, fx, lambda r: r["h2load_fixed_rate_http1"]["lat_us"]["p99"] / 1000) for s in SERVERS}
    errs = {s: sum(sum(r["wrk_closed_loop_http1"]["errors"].values()) for r in runs.get((s, fx), []))
            for s in SERVERS}
    ratio = rps["podtuner"] / rps["webhook-go"] if rps["webhook-go"] else float("nan")
    rows = [
        ("throughput, wrk closed loop (req/s)", f"{rps['podtuner']:.0f}", f"{rps['webhook-go']:.0f}",
         f"{ratio:.1f}x", ">= 5x (stretch 10x)", verdict(ratio >= 5)),
        ("server CPU per request (us)", f"{cpu['podtuner']:.0f}", f"{cpu['webhook-go']:.0f}",
         f"{cpu['podtuner'] / cpu['webhook-go']:.2f}",
         "<= 60 us" if fx == "pod-create" else "", verdict(cpu["podtuner"] <= 60) if fx == "pod-create" else ""),
        ("closed loop p50 / p99 (ms, 32 conns)", f"{p50['podtuner']:.2f} / {p99['podtuner']:.2f}",
         f"{p50['webhook-go']:.2f} / {p99['webhook-go']:.2f}", "", "", ""),
        ("fixed rate = half own peak (req/s)", f"{fr['podtuner']:.0f}", f"{fr['webhook-go']:.0f}", "", "", ""),
        ("fixed rate p50 / p99 (ms)", f"{fp50['podtuner']:.2f} / {fp99['podtuner']:.2f}",
         f"{fp50['webhook-go']:.2f} / {fp99['webhook-go']:.2f}", "", "p99 <= 1 ms", verdict(fp99["podtuner"] <= 1)),
        ("wrk errors (all runs)", str(errs["podtuner"]), str(errs["webhook-go"]), "", "0",
         verdict(errs["podtuner"] == 0)),
        ("RSS idle (MiB)", mib(mm("podtuner", fx, "idle_rss")), mib(mm("webhook-go", fx, "idle_rss")), "", "<= 4",
         verdict(mm("podtuner", fx, "idle_rss") <= 4096)),
        ("PSS / USS idle (MiB)", f"{mib(mm('podtuner', fx, 'idle_pss'))} / {mib(mm('podtuner', fx, 'idle_uss'))}",
         f"{mib(mm('webhook-go', fx, 'idle_pss'))} / {mib(mm('webhook-go', fx, 'idle_uss'))}", "", "", ""),
        ("RSS peak under load, VmHWM (MiB, max)",
         mib(max([r["rss_kb"]["peak_during_run"] for r in runs.get(("podtuner", fx), [])] or [float("nan")])),
         mib(max([r["rss_kb"]["peak_during_run"] for r in runs.get(("webhook-go", fx), [])] or [float("nan")])),
         "", "<= 16", verdict(max([r["rss_kb"]["peak_during_run"] for r in runs.get(("podtuner", fx), [])]
                                  or [1e9]) <= 16384)),
        ("PSS / USS peak under load (MiB, sampled)",
         f"{mib(mm('podtuner', fx, 'peak_pss', max))} / {mib(mm('podtuner', fx, 'peak_uss', max))}",
         f"{mib(mm('webhook-go', fx, 'peak_pss', max))} / {mib(mm('webhook-go', fx, 'peak_uss', max))}", "", "", ""),
    ]
    for i, row in enumerate(rows):
        print(f"| {name if i == 0 else ''} | " + " | ".join(row) + " |")
if ready:
    p, g = ready.get("podtuner"), ready.get("webhook-go")
    if p and g:
        print(f"| both | ready: exec to first 200 (ms, median of {p['runs']}; min-max) | "
              f"{p['median_ms']:.1f} ({p['min_ms']:.1f}-{p['max_ms']:.1f}) | "
              f"{g['median_ms']:.1f} ({g['min_ms']:.1f}-{g['max_ms']:.1f}) | | <= 20 ms | "
              f"{verdict(p['median_ms'] <= 20)} |")
print()
if engine:
    print("Engine, in process (tests/bench/engine_bench, one core, median of 15 rounds, us per request):\n")
    print("| Fixture | cJSON_Parse + Delete (malloc) | cJSON parse into the arena | "
          "review_parse + review_respond (parse, engine, patch, base64, response) | ops | Target | |")
    print("|---|---|---|---|---|---|---|")
    for fx, name, tgt in (("pod-create", "10 KB", 40), ("pod-create-large", "60 KB", 300)):
        e = engine.get(fx)
        if e:
            print(f"| {name} | {e['cjson_parse_us']:.1f} | {e['arena_parse_us']:.1f} | {e['full_us']:.1f} | "
                  f"{e['ops']} | <= {tgt} | {verdict(e['full_us'] <= tgt)} |")
