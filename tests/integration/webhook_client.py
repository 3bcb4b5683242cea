#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Helpers for tests/integration/webhook.sh: TLS clients the shell cannot
write with curl alone. Every client verifies the server against a CA file
by the name podtuner.podtuner.svc while connecting to 127.0.0.1, as the
apiserver does through the Service. Standard library only.

  gen DIR                      write the request cases (AdmissionReviews)
  expect CASE REQ MUTATED      semantic checks of a mutated Pod
  load PORT CA BODY OUT        keep-alive and fresh-connection load until
                               OUT.stop exists (or 60 s); summary in OUT
  slow PORT CA OUT             slowloris clients; seconds until each is cut
  inflight PORT CA BODY DIR    a request held half-sent until DIR/go exists
  rollover PORT CA BODY OUT    a kept-alive client across SIGTERM
  fresh PORT CA BODY N         median ms of N requests on new connections
  metrics FILE                 parse Prometheus text, print {series: value}
"""
import copy
import hashlib
import http.client
import json
import math
import os
import re
import socket
import ssl
import sys
import threading
import time

NAME = "podtuner.podtuner.svc"
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "tools",
                        "fixtures")


def tls_context(ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def tls_connect(port, ctx, timeout=10):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    # http.client writes the headers and the body separately: without
    # this, Nagle holds the body until the server's delayed ACK (40 ms).
    # Go's net/http, the apiserver's client, sets TCP_NODELAY too.
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx.wrap_socket(raw, server_hostname=NAME)


class Conn(http.client.HTTPConnection):
    """HTTPS to 127.0.0.1 verified as podtuner.podtuner.svc."""

    def __init__(self, port, ctx, timeout=10):
        super().__init__(NAME, port, timeout=timeout)
        self.ctx = ctx

    def connect(self):
        self.sock = tls_connect(self.port, self.ctx, self.timeout)


# --- request cases ----------------------------------------------------------

def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


def review(obj, uid, op="CREATE", kind="Pod", group="", version="v1", resource="pods", old=None, **extra):
    req = {
        "uid": uid,
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "namespace": "shop",
        "operation": op,
        "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
        "object": obj,
        "oldObject": old,
        "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    req.update(extra)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


def container(name, cpu="1500m", mem="256Mi", env=None, image=None):
    c = {"name": name, "image": image or f"registry.example.com/{name}:1",
         "resources": {"limits": {"cpu": cpu, "memory": mem}, "requests": {"cpu": "100m", "memory": mem}}}
    if env is not None:
        c["env"] = env
    return c


def pod(containers, init=None, labels=None, annotations=None):
    meta = {"generateName": "t-", "namespace": "shop"}
    if labels is not None:
        meta["labels"] = labels
    if annotations is not None:
        meta["annotations"] = annotations
    spec = {"containers": containers}
    if init is not None:
        spec["initContainers"] = init
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def gen(d):
    os.makedirs(d, exist_ok=True)
    small = fixture("pod-create.json")
    cases = {}
    env1 = [{"name": "USER_VAR", "value": "kept"}]
    ann1 = {"example.com/a~b": "x"}  # a key that needs ~0 and ~1 in a pointer
    cases["env-ann"] = review(pod([container("app", env=copy.deepcopy(env1))], annotations=dict(ann1)), "u-env-ann")
    cases["noenv-noann"] = review(pod([container("app"), container("side", cpu="2", mem="1Gi")]), "u-noenv-noann")
    cases["env-noann"] = review(pod([container("app", env=copy.deepcopy(env1))]), "u-env-noann")
    cases["noenv-ann"] = review(pod([container("app")], annotations=dict(ann1)), "u-noenv-ann")
    cases["empty-env-ann"] = review(pod([container("app", env=[])], annotations={}), "u-empty")
    cases["init"] = review(pod([container("app", env=copy.deepcopy(env1))],
                               init=[container("init-a", cpu="500m", mem="64Mi"),
                                     container("init-b", env=[{"name": "GOMAXPROCS", "value": "7"}])]),
                           "u-init")
    java = copy.deepcopy(small)
    java["request"]["uid"] = "u-java"
    java["request"]["object"]["metadata"]["labels"]["podtuner.io/runtime"] = "java"
    java["request"]["object"]["spec"]["containers"][0]["env"].append(
        {"name": "JAVA_TOOL_OPTIONS", "value": "-Dfoo=bar"})
    cases["java"] = java
    dry = copy.deepcopy(small)
    dry["request"]["uid"] = "u-dry"
    dry["request"]["dryRun"] = True
    cases["dryrun"] = dry
    skip = copy.deepcopy(small)
    skip["request"]["uid"] = "u-skip"
    skip["request"]["object"]["metadata"]["annotations"]["podtuner.io/skip"] = "true"
    cases["skip"] = skip
    mirror = copy.deepcopy(small)
    mirror["request"]["uid"] = "u-mirror"
    mirror["request"]["object"]["metadata"]["annotations"]["kubernetes.io/config.mirror"] = "abc"
    cases["mirror"] = mirror
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"},
          "data": {"a": "b"}}
    cases["configmap"] = review(cm, "u-cm", kind="ConfigMap", resource="configmaps")
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
              "spec": {"template": small["request"]["object"]}}
    cases["deployment"] = review(deploy, "u-deploy", kind="Deployment", group="apps", resource="deployments")
    p = small["request"]["object"]
    cases["delete"] = review(None, "u-delete", op="DELETE", old=copy.deepcopy(p),
                             options={"apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions"})
    cases["update"] = review(copy.deepcopy(p), "u-update", op="UPDATE", old=copy.deepcopy(p),
                             options={"apiVersion": "meta.k8s.io/v1", "kind": "UpdateOptions"})
    cases["connect"] = review(None, "u-connect", op="CONNECT", kind="PodExecOptions", resource="pods",
                              subResource="exec")
    beta = copy.deepcopy(small)
    beta["apiVersion"] = "admission.k8s.io/v1beta1"
    beta["request"]["uid"] = "u-beta"
    cases["v1beta1"] = beta
    # A Pod CREATE whose object is not Pod-shaped: allowed, with a warning.
    bad_obj = copy.deepcopy(small)
    bad_obj["request"]["uid"] = "u-badobj"
    bad_obj["request"]["object"]["spec"]["containers"] = "not a list"
    cases["bad-object"] = bad_obj
    for name, v in cases.items():
        with open(os.path.join(d, name + ".json"), "w") as f:
            json.dump(v, f)

    # Bodies that must be refused with 400, each with a word its reason has.
    text = json.dumps(small)
    bad = {
        "truncated": (text[: len(text) // 2], "json"),
        "nonjson": ("hello, webhook", "json"),
        "empty-object": ("{}", "apiVersion"),
        "array": ("[1,2,3]", "apiVersion"),
        "null": ("null", "apiVersion"),
        "not-review": (json.dumps(dict(small, kind="Pod")), "kind"),
        "wrong-version": (json.dumps(dict(small, apiVersion="admission.k8s.io/v2")), "apiVersion"),
        "version-number": (json.dumps(dict(small, apiVersion=1)), "apiVersion"),
        "request-string": (json.dumps(dict(small, request="x")), "request"),
        "uid-number": (json.dumps(dict(small, request=dict(small["request"], uid=5))), "uid"),
        "no-uid": (json.dumps(dict(small, request={k: v for k, v in small["request"].items() if k != "uid"})),
                   "uid"),
        "trailing-garbage": (text + " x", "json"),
        "nul-byte": (text[:100] + "\0" + text[100:], "json"),
        "deep": ("[" * 100000 + "]" * 100000, "json"),
    }
    os.makedirs(os.path.join(d, "bad"), exist_ok=True)
    with open(os.path.join(d, "bad", "index.txt"), "w") as idx:
        for name, (body, word) in bad.items():
            with open(os.path.join(d, "bad", name + ".json"), "w") as f:
                f.write(body)
            idx.write(f"{name} {word}\n")

    # The apiserver's cap is 3 MiB: exactly that is served, one byte more is 413.
    cap = 3 << 20
    big = copy.deepcopy(small)
    big["request"]["uid"] = "u-cap"
    base = len(json.dumps(big).encode())
    with open(os.path.join(d, "cap.json"), "w") as f:
        f.write(json.dumps(big) + " " * (cap - base))
    with open(os.path.join(d, "cap-plus-1.json"), "w") as f:
        f.write(json.dumps(big) + " " * (cap - base + 1))


# --- semantic expectations ---------------------------------------------------

SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "m": 1e-3,
          "": 1}


def quantity(s):
    m = re.fullmatch(r"\+?([0-9]*\.?[0-9]*)([A-Za-z]*)", s)
    if not m or m.group(2) not in SUFFIX:
        raise ValueError(f"quantity {s!r}")
    return float(m.group(1)) * SUFFIX[m.group(2)]


def go_bytes(s):
    m = re.fullmatch(r"([0-9]+)(([KMGT]i)?B)?", s)
    if not m:
        raise AssertionError(f"GOMEMLIMIT {s!r} is not in the Go runtime's syntax")
    return int(m.group(1)) * {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}[m.group(3)]


def all_containers(p):
    spec = p.get("spec", {})
    for kind in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(kind) or []):
            yield f"{kind}[{i}]", c


def envmap(c):
    return {e["name"]: e.get("value") for e in c.get("env") or []}


def expect_go(before, after, gogc="100"):
    """Every container (init ones too) ends with the policy's values, or
    keeps the value it set; the pod's own env entries stay first, in order."""
    bc = dict(all_containers(before))
    n = 0
    for where, a in all_containers(after):
        b = bc[where]
        benv, aenv = envmap(b), envmap(a)
        names = [e["name"] for e in a.get("env") or []]
        if len(names) != len(set(names)):
            raise AssertionError(f"{where}: duplicate env names {names}")
        if (a.get("env") or [])[: len(b.get("env") or [])] != (b.get("env") or []):
            raise AssertionError(f"{where}: the pod's own env entries changed")
        lim = (b.get("resources") or {}).get("limits") or {}
        want = {"GOGC": gogc}
        if "cpu" in lim:
            want["GOMAXPROCS"] = str(max(1, math.floor(quantity(lim["cpu"]) + 1e-9)))
        for k, v in want.items():
            exp = benv.get(k, v)
            if aenv.get(k) != exp:
                raise AssertionError(f"{where}: {k}={aenv.get(k)!r}, want {exp!r}")
        if "memory" in lim and "GOMEMLIMIT" not in benv:
            got = go_bytes(aenv.get("GOMEMLIMIT") or "missing")
            cap = 0.9 * quantity(lim["memory"])
            # The engine may round down to whole MiB; never up.
            if not (cap - 2**20 <= got <= cap):
                raise AssertionError(f"{where}: GOMEMLIMIT {aenv['GOMEMLIMIT']} is not 0.9 x {lim['memory']}")
        n += 1
    tuned = json.loads(after["metadata"]["annotations"]["podtuner.io/tuned"])
    for k, v in (before["metadata"].get("annotations") or {}).items():
        if after["metadata"]["annotations"].get(k) != v:
            raise AssertionError(f"annotation {k} changed")
    return f"{n} containers as the policy says; tuned annotation for {sorted(tuned)}"


def expect_java(before, after):
    out = []
    for where, a in all_containers(after):
        b = dict(all_containers(before))[where]
        lim = (b.get("resources") or {}).get("limits") or {}
        opts = envmap(a).get("JAVA_TOOL_OPTIONS") or ""
        old = envmap(b).get("JAVA_TOOL_OPTIONS")
        if old and old not in opts:
            raise AssertionError(f"{where}: the pod's JAVA_TOOL_OPTIONS {old!r} were dropped: {opts!r}")
        pct = [float(o.split("=", 1)[1]) for o in opts.split() if o.startswith("-XX:MaxRAMPercentage=")]
        if pct != [75.0]:
            raise AssertionError(f"{where}: want one -XX:MaxRAMPercentage of 75 in {opts!r}")
        if "cpu" in lim:
            n = max(1, math.ceil(quantity(lim["cpu"]) - 1e-9))
            if f"-XX:ActiveProcessorCount={n}" not in opts.split():
                raise AssertionError(f"{where}: no -XX:ActiveProcessorCount={n} in {opts!r}")
        for k in ("GOMAXPROCS", "GOMEMLIMIT"):
            if k in envmap(a) and k not in envmap(b):
                raise AssertionError(f"{where}: a Go knob {k} on a java pod")
        out.append(opts)
    return f"JAVA_TOOL_OPTIONS {out[0]!r} ..."


def expect(case, reqf, mutf):
    with open(reqf) as f:
        before = json.load(f)["request"]["object"]
    with open(mutf) as f:
        after = json.load(f)
    if case == "java":
        return expect_java(before, after)
    if case.startswith("gogc="):
        return expect_go(before, after, gogc=case[5:])
    return expect_go(before, after)


# --- load --------------------------------------------------------------------

def load(port, ca, body_file, out):
    """Two keep-alive connections and one new connection per request, until
    OUT.stop exists. A failure is anything but a 200 with a well-formed
    answer for our uid: a refused connection, a reset, a TLS error."""
    with open(body_file, "rb") as f:
        body = f.read()
    uid = json.loads(body)["request"]["uid"]
    ctx = tls_context(ca)
    lock = threading.Lock()
    st = {"requests": 0, "failures": 0, "errors": [], "patches": {}, "serials": {}, "keepalive_reconnects": 0}
    stop = out + ".stop"
    deadline = time.monotonic() + 60

    def one(conn):
        conn.request("POST", "/mutate?timeout=10s", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"status {r.status}: {data[:200]!r}")
        resp = json.loads(data)["response"]
        if resp["uid"] != uid or resp["allowed"] is not True:
            raise RuntimeError(f"bad answer {data[:200]!r}")
        return resp.get("patch", "")

    def note(patch, serial=None):
        with lock:
            st["requests"] += 1
            h = hashlib.sha256(patch.encode()).hexdigest()[:16]
            p = st["patches"].setdefault(h, {"count": 0, "first": time.time(), "patch": patch})
            p["count"] += 1
            p["last"] = time.time()
            if serial:
                s = st["serials"].setdefault(serial, {"count": 0, "first": time.time()})
                s["count"] += 1
                s["last"] = time.time()

    def fail(e):
        with lock:
            st["requests"] += 1
            st["failures"] += 1
            if len(st["errors"]) < 20:
                st["errors"].append(f"{time.strftime('%T')} {type(e).__name__}: {e}")

    def keepalive():
        conn = Conn(port, ctx)
        while not os.path.exists(stop) and time.monotonic() < deadline:
            try:
                note(one(conn))
            except Exception as e:  # noqa: BLE001 - every failure counts
                fail(e)
                conn.close()
                conn = Conn(port, ctx)
                with lock:
                    st["keepalive_reconnects"] += 1
        conn.close()

    def fresh():
        while not os.path.exists(stop) and time.monotonic() < deadline:
            conn = Conn(port, ctx)
            try:
                conn.connect()
                cert = conn.sock.getpeercert()
                note(one(conn), "%X" % int(cert["serialNumber"], 16))
            except Exception as e:  # noqa: BLE001
                fail(e)
            finally:
                conn.close()

    threads = [threading.Thread(target=keepalive), threading.Thread(target=keepalive),
               threading.Thread(target=fresh)]
    for t in threads:
        t.start()
    with open(out + ".started", "w") as f:
        f.write("1")
    for t in threads:
        t.join()
    with open(out, "w") as f:
        json.dump(st, f, indent=1)


def rollover(port, ca, body_file, out):
    """A kept-alive client across SIGTERM, as the apiserver is: it follows
    `Connection: close` by reconnecting. With one replica the reconnects end
    in refusals once the listener shuts (the apiserver would reach another
    replica through the Service); anything else - a request cut after it
    was sent - is a failure the apiserver could not retry."""
    with open(body_file, "rb") as f:
        body = f.read()
    ctx = tls_context(ca)
    st = {"ok": 0, "closes": 0, "refused": 0, "cut": []}
    conn = Conn(port, ctx)
    t0 = time.monotonic()
    with open(out + ".started", "w") as f:
        f.write("1")
    while time.monotonic() - t0 < 20 and st["refused"] < 3:
        try:
            conn.request("POST", "/mutate?timeout=10s", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError(f"status {r.status}")
            st["ok"] += 1
            if (r.getheader("Connection") or "").lower() == "close":
                st["closes"] += 1
                conn.close()
                conn = Conn(port, ctx)
        except ConnectionRefusedError:
            st["refused"] += 1
            conn.close()
            conn = Conn(port, ctx)
            time.sleep(0.05)
        except Exception as e:  # noqa: BLE001 - a cut request
            st["cut"].append(f"{time.monotonic() - t0:.2f} {type(e).__name__}: {e}")
            conn.close()
            conn = Conn(port, ctx)
    with open(out, "w") as f:
        json.dump(st, f)


def fresh(port, ca, body_file, n):
    """Median milliseconds of n requests, each on a new TLS connection."""
    with open(body_file, "rb") as f:
        body = f.read()
    ctx = tls_context(ca)
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        conn = Conn(port, ctx)
        conn.request("POST", "/mutate", body, {"Content-Type": "application/json", "Connection": "close"})
        r = conn.getresponse()
        r.read()
        conn.close()
        if r.status != 200:
            sys.exit(f"status {r.status}")
        times.append((time.monotonic() - t0) * 1000)
    times.sort()
    print(f"{times[len(times) // 2]:.1f}")


# --- slow clients -------------------------------------------------------------

def slow(port, ca, out):
    """Clients that never finish a request. Each must be cut by the server
    (request deadline); reports seconds from connect to the cut."""
    ctx = tls_context(ca)
    res = {}
    limit = 25.0

    def wait_cut(s, t0, trickle):
        """Trickle bytes (or none) until the server ends the connection."""
        s.settimeout(0.5)
        i = 0
        while time.monotonic() - t0 < limit:
            try:
                if trickle:
                    s.sendall(trickle[i % len(trickle):i % len(trickle) + 1])
                    i += 1
                d = s.recv(4096)
                if not d:
                    return time.monotonic() - t0, "eof"
                return time.monotonic() - t0, "data:" + d[:60].decode("latin1")
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except (OSError, ssl.SSLError) as e:
                return time.monotonic() - t0, type(e).__name__
        return None, "not cut"

    def tcp_only():
        t0 = time.monotonic()
        s = socket.create_connection(("127.0.0.1", port))
        res["tcp-no-handshake"] = wait_cut(s, t0, b"")
        s.close()

    def tls_idle():
        t0 = time.monotonic()
        s = tls_connect(port, ctx)
        res["tls-idle"] = wait_cut(s, t0, b"")
        s.close()

    def headers():
        t0 = time.monotonic()
        s = tls_connect(port, ctx)
        s.sendall(b"POST /mutate HTTP/1.1\r\nHost: " + NAME.encode() + b"\r\n")
        res["trickled-headers"] = wait_cut(s, t0, b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n")
        s.close()

    def body():
        t0 = time.monotonic()
        s = tls_connect(port, ctx)
        s.sendall(b"POST /mutate HTTP/1.1\r\nHost: " + NAME.encode() +
                  b"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        res["trickled-body"] = wait_cut(s, t0, b" ")
        s.close()

    threads = [threading.Thread(target=f) for f in (tcp_only, tls_idle, headers, body)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out, "w") as f:
        json.dump(res, f)


# --- a request in flight across SIGTERM ---------------------------------------

def inflight(port, ca, body_file, d):
    with open(body_file, "rb") as f:
        body = f.read()
    s = tls_connect(port, tls_context(ca), timeout=30)
    head = (f"POST /mutate?timeout=10s HTTP/1.1\r\nHost: {NAME}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    half = len(body) // 2
    s.sendall(head + body[:half])
    open(os.path.join(d, "sent"), "w").close()
    t0 = time.monotonic()
    while not os.path.exists(os.path.join(d, "go")):
        if time.monotonic() - t0 > 30:
            sys.exit("no go")
        time.sleep(0.02)
    s.sendall(body[half:])
    data = b""
    while True:
        try:
            d0 = s.recv(65536)
        except ssl.SSLError:
            break
        if not d0:
            break
        data += d0
        hdr, sep, rest = data.partition(b"\r\n\r\n")
        m = re.search(rb"(?i)content-length: *([0-9]+)", hdr)
        if sep and m and len(rest) >= int(m.group(1)):
            break
    hdr, _, rest = data.partition(b"\r\n\r\n")
    with open(os.path.join(d, "status"), "w") as f:
        f.write(hdr.split(b"\r\n")[0].decode("latin1") + "\n")
        f.write(hdr.decode("latin1"))
    with open(os.path.join(d, "resp.json"), "wb") as f:
        f.write(rest)


# --- metrics ------------------------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
                    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*,?)?\})? '
                    r'([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))(?: -?[0-9]+)?$')


def metrics(path):
    out, types = {}, {}
    with open(path) as f:
        text = f.read()
    if not text.endswith("\n"):
        sys.exit("metrics: no final newline")
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                sys.exit(f"metrics:{n}: bad TYPE line {line!r}")
            if parts[2] in types:
                sys.exit(f"metrics:{n}: TYPE given twice for {parts[2]}")
            types[parts[2]] = parts[3]
            continue
        if line.startswith("# HELP ") or not line:
            continue
        m = SAMPLE.match(line)
        if not m:
            sys.exit(f"metrics:{n}: not a sample line: {line!r}")
        key = m.group(1) + (m.group(2) or "")
        if key in out:
            sys.exit(f"metrics:{n}: duplicate series {key}")
        out[key] = float(m.group(3))
    json.dump({"types": types, "samples": out}, sys.stdout)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "gen":
        gen(args[0])
    elif cmd == "expect":
        try:
            print(expect(*args))
        except (AssertionError, KeyError, ValueError) as e:
            sys.exit(f"{type(e).__name__}: {e}")
    elif cmd == "load":
        load(int(args[0]), args[1], args[2], args[3])
    elif cmd == "rollover":
        rollover(int(args[0]), args[1], args[2], args[3])
    elif cmd == "fresh":
        fresh(int(args[0]), args[1], args[2], int(args[3]))
    elif cmd == "slow":
        slow(int(args[0]), args[1], args[2])
    elif cmd == "inflight":
        inflight(int(args[0]), args[1], args[2], args[3])
    elif cmd == "metrics":
        metrics(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
