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
    out = []
    for f in sorted(glob.glob(os.path.join(d, pattern))):
        r = json.load(open(f))
        r["results_file"] = os.path.basename(f)  # ends with the run's time stamp
        out.append(r)
    return out


allruns = {}
for r in load("*-pin1-*.json"):
    fx = os.path.basename(r["fixture"])[:-5]
    allruns.setdefault((r["label"], fx), []).append(r)
# bench-webhook.sh flags a run noisy when other processes used more than
# QUIET_MAX % of the CPUs: use the clean runs of a configuration if it has
# any, all of them otherwise.
runs = {k: [r for r in v if not r["noisy"]] or v for k, v in allruns.items()}
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


noisy = sum(r["noisy"] for rs in allruns.values() for r in rs)
total = sum(len(rs) for rs in allruns.values())
used = ", ".join(f"{lab} {fx}: {len(runs[(lab, fx)])}" for (lab, fx) in sorted(runs))
bg = [r["background_cpu_pct"]["during_all"] for rs in allruns.values() for r in rs]
print(f"Runs: {total}, {noisy} flagged noisy by bench-webhook.sh (other processes above its QUIET_MAX); "
      f"background CPU of other processes: median {med(bg) if bg else 0:.0f}%, max {max(bg) if bg else 0:.0f}% "
      f"of 2 CPUs. Medians over the clean runs where there are any; runs used: {used}.\n")
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
    # The machine's speed drifts between repetitions, for both servers
    # alike: the ratio is the median of each repetition's ratio (the k-th
    # run of one server with the k-th of the other; they ran back to back).
    pairs = list(zip(sorted(allruns.get(("podtuner", fx), []), key=lambda r: r["results_file"]),
                     sorted(allruns.get(("webhook-go", fx), []), key=lambda r: r["results_file"])))
    per_rep = [a["wrk_closed_loop_http1"]["rps"] / b["wrk_closed_loop_http1"]["rps"] for a, b in pairs
               if b["wrk_closed_loop_http1"]["rps"]]
    ratio = med(per_rep) if per_rep else float("nan")
    reps = ", ".join(f"{x:.1f}" for x in per_rep)
    rows = [
        ("throughput, wrk closed loop (req/s)", f"{rps['podtuner']:.0f}", f"{rps['webhook-go']:.0f}",
         f"{ratio:.1f}x (runs: {reps})", ">= 5x (stretch 10x)", verdict(ratio >= 5)),
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
    print("Engine, in process (tests/bench/engine_bench, one core, us per request: median of 15 rounds, "
          "and the best round):\n")
    print("| Fixture | cJSON_Parse + Delete (malloc) | cJSON parse into the arena | json_parse into the arena | "
          "review_parse + review_respond (parse, engine, patch, base64, response) | ops | Target | |")
    print("|---|---|---|---|---|---|---|---|")
    for fx, name, tgt in (("pod-create", "10 KB", 40), ("pod-create-large", "60 KB", 300)):
        e = engine.get(fx)
        if e:
            cell = lambda k: f"{e[k]:.1f} (best {e.get(k + '_best', e[k]):.1f})"
            print(f"| {name} | {cell('cjson_parse_us')} | {cell('arena_parse_us')} | {cell('json_parse_us')} | "
                  f"{cell('full_us')} | "
                  f"{e['ops']} | <= {tgt} | {verdict(e['full_us'] <= tgt)} |")
