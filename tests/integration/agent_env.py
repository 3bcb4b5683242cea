#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The node agent's surroundings for tests and benchmarks, on loopback.

  agent_env.py tree --root DIR --pods N --podlist F [--state F] [--scopes F]
                    [--weights 100,200,...]
      A fake cgroup v2 tree laid out as the kubelet's systemd driver lays
      it out (kubepods.slice/kubepods-burstable.slice/
      kubepods-burstable-pod<uid_>.slice/cri-containerd-<64 hex>.scope),
      with the files the agent reads (cpu.weight, cpu.stat, memory.current/
      max/high, memory.events, cpu/memory/io.pressure), and the same pods
      as a PodList (--podlist) and as a JSON array of Pods for
      fake_apiserver.py --state (--state). Pod i is "web-<i>" in namespace
      "shop", label tier=web and podtuner.io/runtime=go, Burstable, pod IP
      127.0.<1 + i / 250>.<2 + i % 250>, running container "app". Its uid
      and container ID are derived from i, so runs are reproducible.

  agent_env.py serve --sample F --port P --pods N --port-file F
      One epoll loop serving a Prometheus page on every pod IP at port P
      (0: one free port, the same on every IP; HTTP/1.1 keep-alive), plus a
      control listener on 127.0.0.1; "<control port> <metrics port>" goes
      to --port-file. The control listener takes
        GET /mode?pod=I&m=normal|bad|hung|garbage   change pod I's endpoint
        GET /stats                                  requests per pod, JSON
      normal: the sample as is (its GC-pause histogram is constant, so its
      rate is 0); bad: the sample with the high buckets of
      go_gc_pauses_seconds_bucket (le >= 0.1 s) grown by 50 on every request,
      so histogram_quantile(0.99, rate(...)) goes to ~0.1 s; back to normal,
      the counts stay where they got to (a rate of 0, not a reset);
      hung: reads the request and never answers; garbage: a 200 whose body
      is binary junk.

Bounded: the server keeps at most MAX_CONNS connections and reads at most
MAX_REQ bytes of a request.
"""

import argparse
import hashlib
import json
import os
import re
import selectors
import socket
import sys
from urllib.parse import parse_qs, urlsplit

MAX_CONNS = 4096
MAX_REQ = 16384
BAD_FROM = 0.05  # buckets above this bound grow in "bad" mode
BAD_STEP = 50


def pod_uid(i):
    h = hashlib.sha256(b"uid-%d" % i).hexdigest()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def ctr_id(i):
    return hashlib.sha256(b"ctr-%d" % i).hexdigest()


def pod_ip(i):
    return f"127.0.{1 + i // 250}.{2 + i % 250}"


def scope_dir(root, i):
    uid_ = pod_uid(i).replace("-", "_")
    return os.path.join(root, "kubepods.slice", "kubepods-burstable.slice",
                        f"kubepods-burstable-pod{uid_}.slice", f"cri-containerd-{ctr_id(i)}.scope")


PSI = "some avg10=0.00 avg60=0.00 avg300=0.00 total={some}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total={full}\n"


def write_files(d, weight):
    os.makedirs(d, exist_ok=True)
    files = {
        "cpu.weight": f"{weight}\n",
        "cpu.stat": "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n"
                    "nr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
        "memory.current": f"{100 << 20}\n",
        "memory.max": f"{512 << 20}\n",
        "memory.high": "max\n",
        "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
        "cpu.pressure": PSI.format(some=1000, full=500),
        "memory.pressure": PSI.format(some=0, full=0),
        "io.pressure": PSI.format(some=0, full=0),
    }
    for name, text in files.items():
        with open(os.path.join(d, name), "w", encoding="ascii") as f:
            f.write(text)


def pod_object(i, node):
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"web-{i}", "namespace": "shop", "uid": pod_uid(i),
                     "labels": {"tier": "web", "podtuner.io/runtime": "go"}},
        "spec": {"nodeName": node, "containers": [{
            "name": "app", "image": "ghcr.io/acme/web:1",
            "resources": {"requests": {"cpu": "500m", "memory": "128Mi"},
                          "limits": {"cpu": "1", "memory": "512Mi"}}}]},
        "status": {"phase": "Running", "qosClass": "Burstable", "podIP": pod_ip(i),
                   "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0,
                                          "containerID": f"containerd://{ctr_id(i)}",
                                          "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}]},
    }


def cmd_tree(a):
    weights = [int(w) for w in a.weights.split(",")] if a.weights else []
    pods = []
    for i in range(a.pods):
        w = weights[i] if i < len(weights) else 100
        write_files(scope_dir(a.root, i), w)
        # The pod slice: a pool that spans pods moves cpu.weight here,
        # where the pods are siblings.
        write_files(os.path.dirname(scope_dir(a.root, i)), w)
        pods.append(pod_object(i, a.node))
    # The driver is detected from kubepods.slice; the QoS slices hold
    # their own cpu.weight, which the agent must never touch.
    write_files(os.path.join(a.root, "kubepods.slice"), 100)
    write_files(os.path.join(a.root, "kubepods.slice", "kubepods-burstable.slice"), 100)
    with open(a.podlist, "w", encoding="utf-8") as f:
        json.dump({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"},
                   "items": pods}, f)
    if a.state:
        with open(a.state, "w", encoding="utf-8") as f:
            json.dump(pods, f)
    if a.scopes:
        with open(a.scopes, "w", encoding="utf-8") as f:
            f.write("".join(scope_dir(a.root, i) + "\n" for i in range(a.pods)))
    return 0


class Endpoint:
    def __init__(self, idx):
        self.idx, self.mode, self.grown, self.requests = idx, "normal", 0, 0


def split_sample(text):
    """(head, [(bound, count)], tail) around go_gc_pauses_seconds_bucket."""
    lines = text.splitlines(keepends=True)
    pat = re.compile(r'^go_gc_pauses_seconds_bucket\{le="([^"]+)"\} (\S+)\n$')
    idx = [k for k, ln in enumerate(lines) if pat.match(ln)]
    if not idx:
        raise SystemExit("the sample has no go_gc_pauses_seconds_bucket")
    buckets = []
    for k in idx:
        m = pat.match(lines[k])
        buckets.append((m.group(1), float(m.group(2))))
    return "".join(lines[:idx[0]]), buckets, "".join(lines[idx[-1] + 1:])


def http_response(body, ctype="text/plain; version=0.0.4; charset=utf-8", status="200 OK"):
    return (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def cmd_serve(a):
    with open(a.sample, encoding="utf-8") as f:
        head, buckets, tail = split_sample(f.read())
    normal = (head + "".join(f'go_gc_pauses_seconds_bucket{{le="{b}"}} {int(c)}\n' for b, c in buckets)
              + tail).encode()
    normal_resp = http_response(normal)
    garbage = bytes(range(256)) * 64

    def page(ep, grow):
        """The sample with ep's high buckets grown so far (and now, if grow):
        they never shrink, so recovering is a rate of 0, not a reset."""
        if grow:
            ep.grown += BAD_STEP
        if not ep.grown:
            return normal_resp
        out = []
        for b, c in buckets:
            v = c + (ep.grown if b == "+Inf" or float(b) >= BAD_FROM else 0)
            out.append(f'go_gc_pauses_seconds_bucket{{le="{b}"}} {int(v)}\n')
        return http_response((head + "".join(out) + tail).encode())

    sel = selectors.DefaultSelector()
    eps = [Endpoint(i) for i in range(a.pods)]
    port = a.port
    for ep in eps:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((pod_ip(ep.idx), port))
        port = s.getsockname()[1]  # --port 0: the first bind picks it for all
        s.listen(64)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("listen", ep))
    ctl = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ctl.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ctl.bind(("127.0.0.1", 0))
    ctl.listen(16)
    ctl.setblocking(False)
    sel.register(ctl, selectors.EVENT_READ, ("listen", None))
    tmp = a.port_file + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{ctl.getsockname()[1]} {port}\n")
    os.rename(tmp, a.port_file)
    conns = {}

    def control(path):
        u = urlsplit(path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        if u.path == "/mode":
            ep = eps[int(q["pod"])]
            ep.mode = q["m"]
            return http_response(b"ok\n", "text/plain")
        if u.path == "/stats":
            return http_response(json.dumps({str(e.idx): e.requests for e in eps}).encode(), "application/json")
        return http_response(b"no such control\n", "text/plain", "404 Not Found")

    def close(s):
        sel.unregister(s)
        conns.pop(s, None)
        s.close()

    while True:
        for key, _ in sel.select():
            kind, ep = key.data
            s = key.fileobj
            if kind == "listen":
                try:
                    c, _ = s.accept()
                except OSError:
                    continue
                if len(conns) >= MAX_CONNS:
                    c.close()
                    continue
                c.settimeout(2.0)  # recv only when readable; sends may wait briefly
                conns[c] = b""
                sel.register(c, selectors.EVENT_READ, ("conn", ep))
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                close(s)
                continue
            buf = conns[s] + data
            if len(buf) > MAX_REQ:
                close(s)
                continue
            while b"\r\n\r\n" in buf:
                req, buf = buf.split(b"\r\n\r\n", 1)
                line = req.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
                path = line[1] if len(line) > 1 else "/"
                if ep is None:
                    resp = control(path)
                else:
                    ep.requests += 1
                    if ep.mode == "hung":
                        continue  # read, never answered
                    resp = http_response(garbage) if ep.mode == "garbage" else page(ep, ep.mode == "bad")
                try:
                    s.sendall(resp)
                except OSError:
                    close(s)
                    break
            else:
                conns[s] = buf


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tree")
    t.add_argument("--root", required=True)
    t.add_argument("--pods", type=int, required=True)
    t.add_argument("--podlist", required=True)
    t.add_argument("--state")
    t.add_argument("--scopes", help="write the scope directories here, one a line, in pod order")
    t.add_argument("--weights", default="")
    t.add_argument("--node", default="node-1")
    s = sub.add_parser("serve")
    s.add_argument("--sample", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--pods", type=int, required=True)
    s.add_argument("--port-file", required=True)
    a = ap.parse_args()
    return cmd_tree(a) if a.cmd == "tree" else cmd_serve(a)


if __name__ == "__main__":
    sys.exit(main())
