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

Resources are pluggable: a Resource describes one kind (group, version,
plural, scope, validation) and the Router serves every registered kind.
Another test can import this module, register more kinds (Pods, with a
watch handler) and call serve().

Usage:
  fake_apiserver.py --cert C --key K --token T --port-file F --log L
                    [--state objects.json] [--forbid VERB:PLURAL[:NAME]]...
                    [--fault hang | --fault race-once:PLURAL/NAME]
Run it with /usr/bin/python3 (Debian's python3-jsonpatch).
"""

import argparse
import base64
import binascii
import copy
import datetime
import json
import os
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


RESOURCES = [
    Resource("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
             "MutatingWebhookConfiguration", False, validate_webhook_config),
    Resource("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
             "ValidatingWebhookConfiguration", False, validate_webhook_config),
    Resource("", "v1", "secrets", "Secret", True, validate_secret),
    Resource("", "v1", "configmaps", "ConfigMap", True),
    Resource("", "v1", "pods", "Pod", True),
]


class Store:
    """Objects by (plural, namespace, name), one resourceVersion counter."""

    def __init__(self):
        self.lock = threading.Lock()
        self.objects = {}
        self.rv = 1000

    def stamp(self, obj):
        self.rv += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)

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

    def __init__(self, addr, handler, opts, tls):
        super().__init__(addr, handler)
        self.opts, self.tls = opts, tls
        self.store = Store()
        self.router = Router(RESOURCES)
        self.log_lock = threading.Lock()
        self.raced = set()

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the connection's thread, so a client
        # that never completes it cannot stall the accept loop.
        try:
            request = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)

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
        try:
            body = self.read_body()
            entry["body"] = body.decode("utf-8", "replace")
            if srv.opts.fault == "hang":
                entry["status"] = "hang"
                srv.log_request_line(entry)
                time.sleep(3600)
                return
            auth = self.headers.get("Authorization", "")
            entry["authorized"] = auth == f"Bearer {srv.opts.token}"
            if not entry["authorized"]:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            status, obj = self.dispatch(url, body)
            self.send_json(status, obj)
        except ApiError as err:
            status = err.code
            entry["message"] = err.message
            self.send_json(err.code, err.status())
        entry["status"] = status
        srv.log_request_line(entry)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    def check_rbac(self, verb, res, ns, name):
        for rule in self.server.opts.forbid:
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
        self.check_rbac(verb, res, ns, name)
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
        items = [o for (p, n, _), o in sorted(self.server.store.objects.items())
                 if p == res.plural and (ns is None or n == ns)]
        return 200, {"apiVersion": res.api_version, "kind": res.kind + "List",
                     "metadata": {"resourceVersion": str(self.server.store.rv)}, "items": items}

    def do_create(self, res, ns, name, body):
        if name is not None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        obj = self.decode(body)
        oname = obj.get("metadata", {}).get("name")
        if not oname:
            raise ApiError(422, "Invalid", f'{res.kind} "" is invalid: metadata.name: Required value: name or generateName is required')
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
        self.existing(res, ns, name)
        del self.server.store.objects[(res.plural, ns, name)]
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
        if new != old:  # a no-op write keeps the resourceVersion, as the apiserver
            self.server.store.stamp(new)
        else:
            meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        self.server.store.objects[(res.plural, ns, name)] = new
        return new


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
    opts = ap.parse_args(argv)

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_cert_chain(opts.cert, opts.key)
    srv = Server(("127.0.0.1", 0), Handler, opts, tls)
    if opts.state:
        load_state(srv, opts.state)
    tmp = opts.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, opts.port_file)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(serve())
