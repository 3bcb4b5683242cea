#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A fake kube-apiserver for integration tests, on loopback with real TLS.

No kube-apiserver can run on the test machines (no etcd, no images, no
network), so this fake is built from the apiserver's real wire format:
REST paths (/api/v1/..., /apis/<group>/<version>/[namespaces/<ns>/]<plural>
[/<name>]), metav1.Status error bodies with the apiserver's own messages
and reasons, resourceVersion bumps, 409 on stale updates, the PATCH media
types the apiserver accepts (415 with its message otherwise), and RFC 6902
JSON patches applied for real with python3-jsonpatch (a failed patch, test
ops included, is 422 as in apiserver/pkg/endpoints/handlers/patch.go).
It checks a bearer token (401), can forbid verbs (403, with the RBAC
message), can inject faults, and logs every request as a JSON line.

Lists and watches follow the real semantics too (apimachinery's
metav1.ListOptions and the watch protocol of the API concepts page):
fieldSelector (metadata.name, metadata.namespace, spec.nodeName), limit
and continue over a consistent snapshot (metadata.continue,
remainingItemCount; an expired token is 410 Expired with the apiserver's
message; resourceVersion next to continue is 400), resourceVersion "" /
"0" / N (N above the newest is 504 with cause ResourceVersionTooLarge),
and ?watch=true streams: HTTP/1.1 chunked, one WatchEvent JSON object
({"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...}) per line,
events after the requested resourceVersion replayed from history,
objects entering or leaving a field selector sent as ADDED / DELETED,
BOOKMARKs ({"kind":"Pod","apiVersion":"v1","metadata":
{"resourceVersion":...}}) when allowWatchBookmarks=true, timeoutSeconds
honoured, and a resourceVersion older than the compacted history answered
"too old resource version" (410 Expired) either as an ERROR event or as
the HTTP status. Lists are served as with the watch cache disabled (paged
whenever limit is set). Event lines are cut into random chunks (seeded),
so clients see lines split across chunks and several in one chunk.

Tests change objects with the ordinary verbs (POST/PUT/PATCH/DELETE) while
watches are open, and steer the fake through /fake/... (no auth needed):
  POST /fake/watch?action=drop|gone|close|bookmark|oversize&bytes=N
       drop: cut every open watch mid-line (no terminating chunk);
       gone: ERROR 410 event then end; close: end normally;
       oversize: one N-byte line; action=inject: the request body as is
  POST /fake/compact?mode=event|status   history gone, later watches from
       an older resourceVersion get 410 as an ERROR event or HTTP status
       (open watches get the ERROR event, or are closed)
  POST /fake/continue-expire[?next=1]    every continue token expires (and
       the one the next paged list hands out, before its second page)
  POST /fake/token?value=T               the accepted bearer token changes
  POST /fake/forbid  (JSON list of VERB:PLURAL[:NAME])
  POST /fake/restart?down_ms=N&compact=1 close every connection and the
       listener, refuse connections for N ms, come back on the same port
  GET  /fake/stats   counts and the last requests (verb, query, status)

Kinds served: MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
Secret, ConfigMap, Pod, and Event (core/v1, validated as the apiserver
validates classic Events: the Event's namespace must be its object's), so a
test can list the Events a client posted.

Resources are pluggable: a Resource describes one kind (group, version,
plural, scope, validation) and the Router serves every registered kind.
Another test can import this module, register more kinds and call serve().

Usage:
  fake_apiserver.py --cert C --key K --token T --port-file F --log L
                    [--state objects.json] [--forbid VERB:PLURAL[:NAME]]...
                    [--fault hang | --fault race-once:PLURAL/NAME]
                    [--bookmark-interval S] [--seed N]
Run it with /usr/bin/python3 (Debian's python3-jsonpatch).
"""

import argparse
import base64
import binascii
import copy
import datetime
import json
import os
import random
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jsonpatch

MAX_BODY = 3 << 20  # the apiserver's request body limit (3 MiB)

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH]


class ApiError(Exception):
    """An error answered as a metav1.Status."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            st["details"] = self.details
        return st


class Resource:
    """One kind. validate(new, old) raises ApiError for an invalid object."""

    def __init__(self, group, version, plural, kind, namespaced, validate=None):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced, self.validate = namespaced, validate

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self):
        """The name the apiserver uses in messages: plural.group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def details(self, name):
        return {"name": name, "group": self.group, "kind": self.plural} if self.group \
            else {"name": name, "kind": self.plural}

    def not_found(self, name):
        return ApiError(404, "NotFound", f'{self.qualified} "{name}" not found', self.details(name))


def strict_b64(value, field):
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        # encoding/json's []byte decoding error, as the apiserver reports it
        raise ApiError(400, "BadRequest", f"{field}: illegal base64 data: {exc}")


def validate_webhook_config(new, old):
    for i, hook in enumerate(new.get("webhooks") or []):
        cc = hook.get("clientConfig")
        if not isinstance(cc, dict):
            raise ApiError(422, "Invalid", f"webhooks[{i}].clientConfig: Required value")
        if "caBundle" in cc:
            if not isinstance(cc["caBundle"], str):
                raise ApiError(400, "BadRequest", f"webhooks[{i}].clientConfig.caBundle: not a string")
            strict_b64(cc["caBundle"], f"webhooks[{i}].clientConfig.caBundle")


def validate_secret(new, old):
    name = new.get("metadata", {}).get("name", "")
    data = new.get("data") or {}
    for k, v in data.items():
        strict_b64(v, f"data[{k}]")
    typ = new.get("type", "Opaque")
    if old is not None and old.get("type", "Opaque") != typ:
        raise ApiError(422, "Invalid",
                       f'Secret "{name}" is invalid: type: Invalid value: "{typ}": field is immutable')
    if typ == "kubernetes.io/tls":
        for k in ("tls.crt", "tls.key"):
            if k not in data:
                raise ApiError(422, "Invalid", f'Secret "{name}" is invalid: data[{k}]: Required value')


def validate_event(new, old):
    # pkg/apis/core/validation/events.go, legacyValidateEvent: a core/v1
    # Event without eventTime ("classic", as client-go's recorder makes
    # them) only needs its namespace to agree with its involvedObject's.
    meta = new.get("metadata", {})
    ns, name = meta.get("namespace", ""), meta.get("name", "")
    obj_ns = (new.get("involvedObject") or {}).get("namespace", "")
    if new.get("eventTime"):
        raise ApiError(500, "InternalError", "the fake apiserver only takes Events without eventTime")
    if (not obj_ns and ns not in ("", "default")) or (obj_ns and ns != obj_ns):
        raise ApiError(422, "Invalid", f'Event "{name}" is invalid: involvedObject.namespace: '
                                       f'Invalid value: "{obj_ns}": does not match event.namespace')


RESOURCES = [
    Resource("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
             "MutatingWebhookConfiguration", False, validate_webhook_config),
    Resource("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
             "ValidatingWebhookConfiguration", False, validate_webhook_config),
    Resource("", "v1", "secrets", "Secret", True, validate_secret),
    Resource("", "v1", "configmaps", "ConfigMap", True),
    Resource("", "v1", "pods", "Pod", True),
    Resource("", "v1", "events", "Event", True, validate_event),
]


class Store:
    """Objects by (plural, namespace, name), one resourceVersion counter."""

    def __init__(self):
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)  # watchers wait on it
        self.objects = {}
        self.rv = 1000
        # Every change as (rv, plural, type, object, previous object),
        # the history a watch replays; older versions are "compacted".
        self.history = []
        self.compacted_rv = 0

    def stamp(self, obj):
        self.rv += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)

    def record(self, plural, etype, obj, prev):
        self.history.append((self.rv, plural, etype, copy.deepcopy(obj), copy.deepcopy(prev)))
        self.cond.notify_all()

    def compact(self):
        """Drop the history: the current version is the oldest servable."""
        self.rv += 1
        self.compacted_rv = self.rv
        self.history = []
        self.cond.notify_all()

    def put_new(self, res, ns, obj):
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp",
                        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if res.namespaced:
            meta["namespace"] = ns
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        self.stamp(obj)
        self.objects[(res.plural, ns, meta["name"])] = obj
        self.record(res.plural, "ADDED", obj, None)


class Router:
    """Maps a path to (resource, namespace, name) for every registered kind."""

    def __init__(self, resources):
        self.by_prefix = {}
        for r in resources:
            self.register(r)

    def register(self, res):
        prefix = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
        self.by_prefix[(prefix, res.plural)] = res

    def match(self, path):
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "api":
            prefix, rest = "/api/" + parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            prefix, rest = f"/apis/{parts[1]}/{parts[2]}", parts[3:]
        else:
            return None
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest or len(rest) > 2:
            return None
        res = self.by_prefix.get((prefix, rest[0]))
        if res is None or (ns is not None and not res.namespaced):
            return None
        if res.namespaced and ns is None and len(rest) == 2:
            return None  # a namespaced object is only reachable in its namespace
        return res, ns, rest[1] if len(rest) == 2 else None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, opts, tls, previous=None):
        super().__init__(addr, handler)
        self.opts, self.tls = opts, tls
        self.conns = set()  # every open connection, cut by a restart
        self.conns_lock = threading.Lock()
        self.restart_down_ms = None
        if previous is not None:  # a restart keeps the "etcd" state
            for k in ("store", "router", "log_lock", "raced", "watchers", "snapshots", "counts",
                      "recent", "token", "rng", "gone_mode", "expire_next_continue"):
                setattr(self, k, getattr(previous, k))
            return
        self.store = Store()
        self.router = Router(RESOURCES)
        self.log_lock = threading.Lock()
        self.raced = set()
        self.watchers = set()   # open watches (Watcher), guarded by store.lock
        self.snapshots = {}     # continue token id -> items (a consistent list)
        self.counts = {"list": 0, "watch": 0}
        self.recent = []        # the last requests, for /fake/stats
        self.token = opts.token
        self.rng = random.Random(opts.seed)
        self.gone_mode = "event"
        self.expire_next_continue = False

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the connection's thread, so a client
        # that never completes it cannot stall the accept loop.
        try:
            request = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self.conns_lock:
            self.conns.add(request)
        try:
            super().finish_request(request, client_address)
        except (OSError, ValueError):
            pass  # a connection cut by the fake itself
        finally:
            with self.conns_lock:
                self.conns.discard(request)

    def cut_connections(self):
        with self.conns_lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def note_request(self, verb, query, status):
        with self.log_lock:
            self.recent.append({"verb": verb, "query": query, "status": status})
            del self.recent[:-100]

    def log_request_line(self, entry):
        if not self.opts.log:
            return
        with self.log_lock, open(self.opts.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the apiserver
    server_version = "fake-kube-apiserver"

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        srv = self.server
        url = urlsplit(self.path)
        entry = {"method": self.command, "path": url.path, "query": url.query,
                 "content_type": self.headers.get("Content-Type"),
                 "user_agent": self.headers.get("User-Agent")}
        status = 500
        self.verb = "?"
        try:
            body = self.read_body()
            entry["body"] = body.decode("utf-8", "replace")[:4096]
            if url.path.startswith("/fake/"):
                status, obj = self.control(url, body)
                self.send_json(status, obj)
                return
            if srv.opts.fault == "hang":
                entry["status"] = "hang"
                srv.log_request_line(entry)
                time.sleep(3600)
                return
            auth = self.headers.get("Authorization", "")
            entry["authorized"] = auth == f"Bearer {srv.token}"
            if not entry["authorized"]:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            result = self.dispatch(url, body)
            if result is None:  # a watch: streamed already
                status = 200
            else:
                status, obj = result
                self.send_json(status, obj)
        except ApiError as err:
            status = err.code
            entry["message"] = err.message
            self.send_json(err.code, err.status())
        entry["status"] = status
        if self.verb != "watch":
            srv.note_request(self.verb, url.query, status)
        srv.log_request_line(entry)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    def check_rbac(self, verb, res, ns, name):
        for rule in self.server.opts.forbid:
            if not rule:
                continue
            parts = rule.split(":")
            if parts[0] == verb and parts[1] == res.plural and (len(parts) < 3 or parts[2] == name):
                scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
                subject = f'{res.qualified} "{name}" is forbidden' if name else f"{res.qualified} is forbidden"
                group = res.group
                raise ApiError(403, "Forbidden",
                               f'{subject}: User "system:serviceaccount:podtuner:certgen" cannot {verb} '
                               f'resource "{res.plural}" in API group "{group}" {scope}',
                               res.details(name or ""))

    def dispatch(self, url, body):
        srv = self.server
        m = srv.router.match(url.path)
        if m is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        res, ns, name = m
        method = self.command
        verb = {"GET": "get" if name else ("watch" if parse_qs(url.query).get("watch") else "list"),
                "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
        self.verb = verb
        self.check_rbac(verb, res, ns, name)
        if verb == "watch":
            return self.do_watch(res, ns, url)  # takes the lock itself
        handler = getattr(self, f"do_{verb}", None)
        if handler is None:
            raise ApiError(405, "MethodNotAllowed", f"{verb} is not supported by this fake")
        with srv.store.lock:
            return handler(res, ns, name, body)

    def decode(self, body):
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ApiError(400, "BadRequest", f"error decoding request body: {exc}")

    def existing(self, res, ns, name):
        obj = self.server.store.objects.get((res.plural, ns, name))
        if obj is None:
            raise res.not_found(name)
        return obj

    def do_get(self, res, ns, name, body):
        return 200, self.existing(res, ns, name)

    def do_list(self, res, ns, name, body):
        srv, store = self.server, self.server.store
        q = parse_qs(urlsplit(self.path).query)
        srv.counts["list"] += 1
        rv = q.get("resourceVersion", [""])[0]
        cont = q.get("continue", [""])[0]
        try:
            limit = int(q.get("limit", ["0"])[0])
        except ValueError:
            raise ApiError(400, "BadRequest", "limit: Invalid value: must be an integer")
        if cont and rv not in ("", "0"):
            # apimachinery's ListOptions validation
            raise ApiError(400, "BadRequest", "specifying resource version is not allowed when using continue")
        if rv not in ("", "0"):
            if not rv.isdigit():
                raise ApiError(400, "BadRequest", f"invalid resource version: {rv}")
            if int(rv) > store.rv:
                # the watch cache's "Too large resource version" (a 504
                # Timeout with cause ResourceVersionTooLarge)
                raise ApiError(504, "Timeout", f"Too large resource version: {rv}, current: {store.rv}",
                               {"causes": [{"reason": "ResourceVersionTooLarge",
                                            "message": "Too large resource version"}], "retryAfterSeconds": 1})
        if cont:
            try:
                tok = json.loads(base64.b64decode(cont, validate=True))
                sid, start = tok["id"], int(tok["start"])
            except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                raise ApiError(400, "BadRequest", f"continue key is not valid: {exc}")
            if srv.expire_next_continue:
                srv.expire_next_continue = False
                srv.snapshots.pop(sid, None)
            if sid not in srv.snapshots:  # compacted since the first page
                raise ApiError(410, "Expired",
                               "The provided continue parameter is too old to display a consistent list "
                               "result. You can start a new list without the continue parameter, or use the "
                               "continue token in this response to retrieve the remainder of the results. "
                               "Continuing with the provided token results in an inconsistent list - objects "
                               "that were created, modified, or deleted between the time the first chunk was "
                               "returned and now may show up in the list.")
            list_rv, items = srv.snapshots[sid]
        else:
            sel = parse_field_selector(q.get("fieldSelector", [""])[0])
            items = [copy.deepcopy(o) for (p, n, _), o in sorted(store.objects.items())
                     if p == res.plural and (ns is None or n == ns) and selected(o, sel)]
            list_rv, start, sid = store.rv, 0, None
        meta = {"resourceVersion": str(list_rv)}
        page = items[start:]
        if limit > 0 and len(page) > limit:
            if sid is None:
                sid = str(uuid.uuid4())
                srv.snapshots[sid] = (list_rv, items)
            page = page[:limit]
            tok = {"id": sid, "start": start + limit, "rv": list_rv}
            meta["continue"] = base64.b64encode(json.dumps(tok).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
        for o in page:  # list items carry no kind/apiVersion, as the apiserver's
            o.pop("kind", None)
            o.pop("apiVersion", None)
        return 200, {"apiVersion": res.api_version, "kind": res.kind + "List", "metadata": meta, "items": page}

    def do_watch(self, res, ns, url):
        """Stream WatchEvents, one JSON object per line, chunked."""
        srv, store = self.server, self.server.store
        q = parse_qs(url.query)
        rv = q.get("resourceVersion", [""])[0]
        bookmarks = q.get("allowWatchBookmarks", ["false"])[0] == "true"
        timeout = float(q.get("timeoutSeconds", ["1800"])[0])
        sel = parse_field_selector(q.get("fieldSelector", [""])[0])
        first = []
        srv.note_request("watch", url.query, "open")
        with store.lock:
            srv.counts["watch"] += 1
            if rv not in ("", "0"):
                if not rv.isdigit():
                    raise ApiError(400, "BadRequest", f"invalid resource version: {rv}")
                pos = int(rv)
                if pos < store.compacted_rv:
                    gone = ApiError(410, "Expired", f"too old resource version: {pos} ({store.compacted_rv})")
                    if srv.gone_mode == "status":
                        raise gone
                    first.append({"type": "ERROR", "object": gone.status()})
            else:  # "start at any": synthetic ADDED events for what exists
                pos = store.rv
                for (p, n, _), o in sorted(store.objects.items()):
                    if p == res.plural and (ns is None or n == ns) and selected(o, sel):
                        first.append({"type": "ADDED", "object": copy.deepcopy(o)})
            w = Watcher()
            srv.watchers.add(w)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        deadline = time.monotonic() + timeout
        interval = srv.opts.bookmark_interval
        next_bookmark = time.monotonic() + interval if interval > 0 else None
        try:
            if first:
                self.send_events(first)
                if first[0]["type"] == "ERROR":
                    self.end_chunks()
                    return None
            while True:
                with store.lock:
                    now = time.monotonic()
                    wait = deadline - now
                    if next_bookmark is not None:
                        wait = min(wait, next_bookmark - now)
                    if wait > 0 and not w.commands and not any(h[0] > pos for h in store.history):
                        store.cond.wait(min(wait, 0.2))
                    events = []
                    for hrv, plural, etype, obj, prev in store.history:
                        if hrv <= pos or plural != res.plural:
                            continue
                        onamespace = obj.get("metadata", {}).get("namespace")
                        if ns is not None and onamespace != ns:
                            continue
                        was, now_in = prev is not None and selected(prev, sel), selected(obj, sel)
                        if etype == "DELETED":
                            etype = "DELETED" if was else None
                        elif was and not now_in:
                            etype = "DELETED"  # left the selector
                        elif now_in and not was:
                            etype = "ADDED"
                        elif not now_in:
                            etype = None
                        if etype:
                            events.append({"type": etype, "object": obj})
                    if store.history:
                        pos = max(pos, store.history[-1][0])
                    cmds, w.commands = w.commands, []
                    cur_rv = store.rv
                if events:
                    self.send_events(events)
                for cmd, arg in cmds:
                    if cmd == "drop":
                        # half a line, then the connection is cut
                        line = json.dumps({"type": "MODIFIED", "object": {"metadata": {"name": "cut"}}})
                        self.send_chunk(line[: len(line) // 2].encode())
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return None
                    if cmd == "gone":
                        st = ApiError(410, "Expired", f"too old resource version: {pos} ({cur_rv})").status()
                        self.send_events([{"type": "ERROR", "object": st}])
                        self.end_chunks()
                        return None
                    if cmd == "close":
                        self.end_chunks()
                        return None
                    if cmd == "bookmark" and bookmarks:
                        self.send_events([bookmark(res, cur_rv)])
                    if cmd == "inject":
                        self.send_chunk(arg)
                    if cmd == "oversize":
                        head = b'{"type":"ADDED","object":{"metadata":{"name":"big","annotations":{"x":"'
                        left = arg - len(head)
                        self.send_chunk(head)
                        while left > 0:
                            n = min(left, 65536)
                            self.send_chunk(b"x" * n)
                            left -= n
                        self.send_chunk(b'"}}}}\n')
                now = time.monotonic()
                if next_bookmark is not None and now >= next_bookmark:
                    if bookmarks:
                        self.send_events([bookmark(res, cur_rv)])
                    next_bookmark = now + interval
                if now >= deadline:
                    self.end_chunks()
                    return None
        except OSError:
            self.close_connection = True
            return None
        finally:
            with store.lock:
                srv.watchers.discard(w)

    def send_chunk(self, data):
        self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")

    def end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")

    def send_events(self, events):
        """The lines of a batch, cut at random points into 1-4 chunks."""
        data = b"".join(json.dumps(e).encode() + b"\n" for e in events)
        rng = self.server.rng
        cuts = sorted(rng.randrange(1, len(data)) for _ in range(rng.randrange(0, 4))) if len(data) > 1 else []
        start = 0
        for c in cuts + [len(data)]:
            if c > start:
                self.send_chunk(data[start:c])
                start = c

    def control(self, url, body):
        """The test's remote control (see the module's docstring)."""
        srv, store = self.server, self.server.store
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path[len("/fake/"):]
        if path == "stats":
            with store.lock:
                return 200, {"counts": dict(srv.counts), "open_watches": len(srv.watchers), "rv": store.rv,
                             "compacted_rv": store.compacted_rv, "recent": list(srv.recent)}
        if path == "watch":
            action = q.get("action", "")
            if action not in ("drop", "gone", "close", "bookmark", "oversize", "inject"):
                raise ApiError(400, "BadRequest", f"unknown action {action!r}")
            arg = int(q.get("bytes", "0")) if action == "oversize" else body
            with store.lock:
                for w in srv.watchers:
                    w.commands.append((action, arg))
                n = len(srv.watchers)
                store.cond.notify_all()
            return 200, {"watchers": n}
        if path == "compact":
            mode = q.get("mode", "event")
            if mode not in ("event", "status"):
                raise ApiError(400, "BadRequest", f"unknown mode {mode!r}")
            with store.lock:
                srv.gone_mode = mode
                store.compact()
                for w in srv.watchers:
                    w.commands.append(("gone" if mode == "event" else "close", None))
                store.cond.notify_all()
                return 200, {"rv": store.rv}
        if path == "continue-expire":
            with store.lock:
                srv.snapshots.clear()
                if q.get("next") == "1":  # also the token of the next list
                    srv.expire_next_continue = True
            return 200, {}
        if path == "token":
            srv.token = q.get("value", "")
            return 200, {}
        if path == "forbid":
            srv.opts.forbid = json.loads(body or b"[]")
            return 200, {}
        if path == "restart":
            srv.restart_down_ms = int(q.get("down_ms", "1000"))
            if q.get("compact") == "1":
                with store.lock:
                    store.compact()
            def later():  # after this answer has gone out
                time.sleep(0.1)
                srv.shutdown()
            threading.Thread(target=later, daemon=True).start()
            return 200, {}
        raise ApiError(404, "NotFound", f"no fake control {path!r}")

    def do_create(self, res, ns, name, body):
        if name is not None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        obj = self.decode(body)
        oname = obj.get("metadata", {}).get("name")
        if not oname:
            raise ApiError(422, "Invalid", f'{res.kind} "" is invalid: metadata.name: Required value: name or generateName is required')
        if res.namespaced:
            # an empty namespace is the URL's, another one is refused
            # (apiserver/pkg/registry/rest, EnsureObjectNamespaceMatchesRequestNamespace)
            ons = obj["metadata"].get("namespace")
            if ons and ons != ns:
                raise ApiError(400, "BadRequest",
                               "the namespace of the provided object does not match the namespace sent on the request")
            obj["metadata"]["namespace"] = ns
        if (res.plural, ns, oname) in self.server.store.objects:
            raise ApiError(409, "AlreadyExists", f'{res.qualified} "{oname}" already exists', res.details(oname))
        if res.validate:
            res.validate(obj, None)
        obj.get("metadata", {}).pop("resourceVersion", None)
        self.server.store.put_new(res, ns, obj)
        return 201, obj

    def do_update(self, res, ns, name, body):
        old = self.existing(res, ns, name)
        obj = self.decode(body)
        rv = obj.get("metadata", {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict",
                           f'Operation cannot be fulfilled on {res.qualified} "{name}": the object has been '
                           "modified; please apply your changes to the latest version and try again",
                           res.details(name))
        if obj.get("metadata", {}).get("name") != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        return 200, self.commit(res, ns, name, old, obj)

    def do_patch(self, res, ns, name, body):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype not in PATCH_TYPES:
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media types include: "
                           + ", ".join(PATCH_TYPES))
        if ctype in (STRATEGIC_PATCH, APPLY_PATCH):
            raise ApiError(500, "InternalError", f"the fake apiserver does not implement {ctype}")
        old = self.existing(res, ns, name)
        fault = self.server.opts.fault or ""
        key = f"{res.plural}/{name}"
        if fault == f"race-once:{key}" and key not in self.server.raced:
            # Someone else wrote the object between the client's GET and
            # this PATCH: only its resourceVersion changes.
            self.server.raced.add(key)
            self.server.store.stamp(old)
        patch = self.decode(body)
        try:
            if ctype == JSON_PATCH:
                if not isinstance(patch, list):
                    raise ApiError(400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
                new = jsonpatch.JsonPatch(patch).apply(copy.deepcopy(old))
            else:
                new = jsonpatch_merge(copy.deepcopy(old), patch)
        except jsonpatch.JsonPatchTestFailed as exc:
            # evanphx/json-patch's wording for a failed test op
            path = next((op.get("path") for op in patch if op.get("op") == "test"), "")
            raise ApiError(422, "Invalid", f"testing value {path} failed: test failed ({exc})")
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise ApiError(422, "Invalid", str(exc))
        return 200, self.commit(res, ns, name, old, new)

    def do_delete(self, res, ns, name, body):
        old = self.existing(res, ns, name)
        store = self.server.store
        del store.objects[(res.plural, ns, name)]
        # the DELETED event carries the final state at a new version
        gone = copy.deepcopy(old)
        store.stamp(gone)
        store.record(res.plural, "DELETED", gone, old)
        return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                     "details": res.details(name)}

    def commit(self, res, ns, name, old, new):
        if res.validate:
            res.validate(new, old)
        meta = new.setdefault("metadata", {})
        for k in ("uid", "creationTimestamp"):
            meta[k] = old["metadata"].get(k)
        meta["name"] = name
        if res.namespaced:
            meta["namespace"] = ns
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        changed = new != old
        if changed:  # a no-op write keeps the resourceVersion, as the apiserver
            self.server.store.stamp(new)
        else:
            meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        self.server.store.objects[(res.plural, ns, name)] = new
        if changed:
            self.server.store.record(res.plural, "MODIFIED", new, old)
        return new


class Watcher:
    """One open watch: commands from /fake/watch, guarded by store.lock."""

    def __init__(self):
        self.commands = []


def bookmark(res, rv):
    # A BOOKMARK's object is an empty object of the kind with only its
    # resourceVersion set (API concepts, "Watch bookmarks").
    return {"type": "BOOKMARK", "object": {"kind": res.kind, "apiVersion": res.api_version,
                                            "metadata": {"resourceVersion": str(rv)}}}


FIELDS = {"metadata.name": ("metadata", "name"), "metadata.namespace": ("metadata", "namespace"),
          "spec.nodeName": ("spec", "nodeName")}


def parse_field_selector(text):
    """'a=b,c!=d' into [(field, op, value)]; the fields pods support here."""
    terms = []
    for term in filter(None, text.split(",")):
        for op in ("!=", "==", "="):
            if op in term:
                field, value = term.split(op, 1)
                break
        else:
            raise ApiError(400, "BadRequest", f'invalid field selector: "{term}"')
        if field not in FIELDS:
            raise ApiError(400, "BadRequest", f'field label not supported: {field}')
        terms.append((field, "!=" if op == "!=" else "=", value))
    return terms


def selected(obj, terms):
    for field, op, value in terms:
        a, b = FIELDS[field]
        have = (obj.get(a) or {}).get(b) or ""
        if (have == value) != (op == "="):
            return False
    return True


def jsonpatch_merge(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = jsonpatch_merge(target.get(k), v)
    return target


def load_state(srv, path):
    with open(path, encoding="utf-8") as f:
        objs = json.load(f)
    for obj in objs:
        res = next(r for r in RESOURCES if r.kind == obj["kind"])
        with srv.store.lock:
            srv.store.put_new(res, obj["metadata"].get("namespace") if res.namespaced else None, obj)


def serve(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--port-file", required=True, help="written with the port once listening")
    ap.add_argument("--log", help="JSON line per request")
    ap.add_argument("--state", help="JSON array of objects to start with")
    ap.add_argument("--forbid", action="append", default=[], help="VERB:PLURAL[:NAME] answered 403")
    ap.add_argument("--fault", help="hang | race-once:PLURAL/NAME")
    ap.add_argument("--bookmark-interval", type=float, default=60.0,
                    help="seconds between BOOKMARKs on a watch that asked for them (0: only on demand)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the chunk cutting")
    opts = ap.parse_args(argv)

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_cert_chain(opts.cert, opts.key)
    srv = Server(("127.0.0.1", 0), Handler, opts, tls)
    if opts.state:
        load_state(srv, opts.state)
    port = srv.server_address[1]
    tmp = opts.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(str(port))
    os.rename(tmp, opts.port_file)
    try:
        while True:
            srv.serve_forever(poll_interval=0.2)
            if srv.restart_down_ms is None:
                break
            # A restart: the listener and every connection go away, the
            # port refuses connections for a while, then the same state
            # is served again on the same port.
            srv.server_close()  # first, so that reconnects are refused
            with srv.store.lock:
                for w in srv.watchers:
                    w.commands.append(("drop", None))
                srv.store.cond.notify_all()
            srv.cut_connections()
            time.sleep(srv.restart_down_ms / 1000.0)
            srv = Server(("127.0.0.1", port), Handler, opts, tls, previous=srv)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(serve())
