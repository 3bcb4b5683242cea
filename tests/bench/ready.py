#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Ready time: from exec to the first successful admission request.

usage: ready.py RUNS CA BODY CPU -- CMD... ({port} is replaced)

Each run picks a free loopback port, starts CMD on CPU (taskset), and
from this process (on another CPU) tries, back to back, a TLS connection
verified against CA by the name podtuner.podtuner.svc and a POST /mutate
of BODY, until one answers 200. The time includes that first handshake
and request, as an apiserver's first call would. Prints one JSON line:
median, min and max in milliseconds."""
import json
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time

NAME = "podtuner.podtuner.svc"
LIMIT_S = 10.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def try_once(port, ctx, req):
    """True when a full request got a 200; False on any failure."""
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=1)
    except OSError:
        return False
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = ctx.wrap_socket(raw, server_hostname=NAME)
        s.sendall(req)
        data = b""
        while b"\r\n\r\n" not in data:
            d = s.recv(65536)
            if not d:
                return False
            data += d
        return data.startswith(b"HTTP/1.1 200")
    except (OSError, ssl.SSLError):
        return False
    finally:
        raw.close()


def main():
    runs, ca, body_file, cpu = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    with open(body_file, "rb") as f:
        body = f.read()
    ctx = ssl.create_default_context(cafile=ca)
    req = (f"POST /mutate?timeout=10s HTTP/1.1\r\nHost: {NAME}\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    # Warm the page cache and this client (the first handshake in a
    # process loads OpenSSL's algorithms): not part of the measurement.
    times = []
    for i in range(runs + 1):
        port = free_port()
        argv = ["taskset", "-c", cpu] + [a.replace("{port}", str(port)) for a in cmd]
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok = False
        while time.perf_counter() - t0 < LIMIT_S:
            if try_once(port, ctx, req):
                ok = True
                break
        t = (time.perf_counter() - t0) * 1000
        p.send_signal(signal.SIGKILL)
        p.wait()
        if not ok:
            sys.exit(f"ready.py: no successful request within {LIMIT_S} s: {' '.join(argv)}")
        if i:
            times.append(t)
    print(json.dumps({"runs": runs, "median_ms": round(statistics.median(times), 2),
                      "min_ms": round(min(times), 2), "max_ms": round(max(times), 2)}))


if __name__ == "__main__":
    main()
