#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Check podtuner's rendered manifests (`kubectl kustomize` output) against
the rules of docs/operations.md and DESIGN §3, and against the Kubernetes
OpenAPI schema as Debian ships it.

  manifests_check.py [--tls certgen|cert-manager] [--opt-in KEY=VALUE]
                     [--policies DIR] [--podtuner BIN] [--no-schema] RENDERED
  manifests_check.py --rbac-log LOG [--service-account SA] RENDERED

Every violation is printed as `RULE: Kind/name: message` and makes the exit
status 1; 0 means every rule held; 2 is a usage or input error. The rule
ids are stable: tests/integration/manifests.sh expects them by name for
the broken fixtures in tests/fixtures/manifests/.

The schema is the one of python3-kubernetes (Debian 12: 22.6.0, generated
from the Kubernetes 1.22 OpenAPI document): each model's attribute_map
gives the known fields, openapi_types their types, and the setters the
required ones. kubectl's own validation needs a live apiserver's /openapi/v2,
and Debian ships neither the swagger.json nor kubeconform. Fields newer than
1.22 that the manifests use are listed in NEWER_FIELDS with their version;
cert-manager's kinds have no schema here and get the semantic rules only.

Needs Debian's python3 (/usr/bin/python3) with python3-yaml and
python3-kubernetes.
"""
import argparse
import inspect
import os
import re
import subprocess
import sys
import tempfile

import yaml

NS = "podtuner"
CONFIGMAP = "podtuner-policies"
MIRROR_CEL = "!has(object.metadata.annotations) || !('kubernetes.io/config.mirror' in object.metadata.annotations)"
NAME_LABEL = "kubernetes.io/metadata.name"  # set on every namespace by the apiserver (GA 1.22)
EXCLUDED_NAMESPACES = ["kube-system", "kube-node-lease", NS]
SKIP_LABEL = "podtuner.io/skip"
MAX_TIMEOUT_SECONDS = 5  # the webhook answers in microseconds; see webhook-config.yaml
# Capabilities a component may add on top of drop: [ALL], and why.
ALLOWED_CAPS = {"agent": {"SYS_RESOURCE"}}  # prlimit(2) on other users' processes
# hostPath volumes the agent may mount: the cgroup2 tree and its state.
AGENT_HOSTPATHS = {"/sys/fs/cgroup", "/var/lib/podtuner"}

# The RBAC rules, exactly: (kind, name) -> set of (apiGroup, resource,
# resourceName or "", verb). Anything more, less or else is a violation.
RBAC_COMMON = {
    ("ClusterRole", "podtuner-agent"): {
        ("", "pods", "", "get"), ("", "pods", "", "list"), ("", "pods", "", "watch"),
        ("", "events", "", "create"),
    },
}
RBAC_CERTGEN = {
    ("Role", "podtuner-certgen"): {
        ("", "secrets", "podtuner-tls", "get"), ("", "secrets", "podtuner-tls", "update"),
        ("", "secrets", "", "create"),
    },
    ("ClusterRole", "podtuner-certgen"): {
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "podtuner", "get"),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "podtuner", "patch"),
    },
}
# Which ServiceAccount each role is bound to; the webhook's is bound to none.
BINDINGS_COMMON = {("ClusterRole", "podtuner-agent"): "podtuner-agent"}
BINDINGS_CERTGEN = {("Role", "podtuner-certgen"): "podtuner-certgen",
                    ("ClusterRole", "podtuner-certgen"): "podtuner-certgen"}

# Fields the manifests use that the 1.22 schema predates: (model, JSON
# field) -> why it is fine. The minimum Kubernetes version is 1.28.
NEWER_FIELDS = {
    ("V1MutatingWebhook", "matchConditions"):
        "AdmissionWebhookMatchConditions: alpha 1.27, beta (on) 1.28, GA 1.30",
    ("V1PodDisruptionBudgetSpec", "unhealthyPodEvictionPolicy"):
        "PDBUnhealthyPodEvictionPolicy: beta (on) 1.27, GA 1.31",
}

WORKLOAD_KINDS = {"Deployment", "DaemonSet", "StatefulSet", "Job", "CronJob", "Pod"}
CLUSTER_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration",
                 "ValidatingWebhookConfiguration", "PriorityClass", "CustomResourceDefinition"}


class Checker:
    def __init__(self, objs, args):
        self.objs = objs
        self.args = args
        self.violations = []
        self.notes = []

    def bad(self, rule, obj, msg):
        where = "%s/%s" % (obj.get("kind", "?"), obj.get("metadata", {}).get("name", "?")) if obj else "-"
        self.violations.append("%s: %s: %s" % (rule, where, msg))

    def find(self, kind, name=None):
        return [o for o in self.objs if o.get("kind") == kind and
                (name is None or o.get("metadata", {}).get("name") == name)]

    def one(self, rule, kind, name=None):
        found = self.find(kind, name)
        if len(found) != 1:
            self.bad(rule, None, "want exactly one %s%s, found %d" %
                     (kind, " named '%s'" % name if name else "", len(found)))
            return None
        return found[0]


# --- label selectors, quantities, pod specs -----------------------------------

def selector_matches(sel, labels):
    """metav1.LabelSelector semantics; an empty or absent selector matches all."""
    if not sel:
        return True
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def wanted_labels(sel, fixed):
    """The labels an object would carry to be matched by sel as hard as it
    can, except the keys in `fixed`, which it cannot choose."""
    labels = {}
    for k, v in (sel.get("matchLabels") or {}).items() if sel else []:
        labels[k] = v
    for e in (sel.get("matchExpressions") or []) if sel else []:
        if e.get("operator") == "In" and e.get("values"):
            labels[e["key"]] = e["values"][0]
        elif e.get("operator") == "Exists":
            labels[e["key"]] = "x"
    for k in fixed:
        labels.pop(k, None)
    labels.update(fixed)
    return labels


QTY = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|e[0-9]+|E[0-9]+)?$")
MULT = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
        "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity(v):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    m = QTY.match(str(v))
    if not m:
        return None
    suf = m.group(2)
    if suf and suf[0] in "eE" and suf[1:].isdigit():
        return float(m.group(1)) * 10 ** int(suf[1:])
    return float(m.group(1)) * MULT[suf]


def pod_templates(obj):
    """(pod metadata, pod spec) of a workload."""
    k, spec = obj.get("kind"), obj.get("spec") or {}
    if k == "Pod":
        return obj.get("metadata") or {}, spec
    if k == "CronJob":
        t = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    else:
        t = spec.get("template") or {}
    return t.get("metadata") or {}, t.get("spec") or {}


def component(obj):
    md, _ = pod_templates(obj)
    return (md.get("labels") or {}).get("app.kubernetes.io/component", "")


def arg_value(args, flag):
    """--flag=V or --flag V; None when absent."""
    for i, a in enumerate(args or []):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a[len(flag) + 1:]
    return None


def port_of(listen):
    return int(listen.rsplit(":", 1)[1]) if listen and ":" in listen else None


def mount_for(container, spec, path):
    """The (volumeMount, volume) whose mountPath is path or its closest parent."""
    best = None
    for m in container.get("volumeMounts") or []:
        mp = m.get("mountPath", "").rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            if not best or len(mp) > len(best.get("mountPath", "")):
                best = m
    if not best:
        return None, None
    vol = next((v for v in spec.get("volumes") or [] if v.get("name") == best.get("name")), None)
    return best, vol


def container_port(container, port):
    """A containerPort given by number or by name."""
    for p in container.get("ports") or []:
        if port == p.get("containerPort") or port == p.get("name"):
            return p.get("containerPort")
    return None


# --- the rules ----------------------------------------------------------------

def check_common(c):
    """Every object: namespaced ones in podtuner, all labelled part-of."""
    if not c.find("Namespace", NS):
        c.bad("namespace.missing", None, "no Namespace '%s'" % NS)
    for o in c.objs:
        md = o.get("metadata") or {}
        if o.get("kind") not in CLUSTER_KINDS and md.get("namespace") != NS:
            c.bad("namespace.object", o, "in namespace '%s', want '%s'" % (md.get("namespace"), NS))
        if (md.get("labels") or {}).get("app.kubernetes.io/part-of") != "podtuner":
            c.bad("labels.part-of", o, "no label app.kubernetes.io/part-of=podtuner")


def check_webhook_config(c, tls):
    mwc = c.one("webhook.config", "MutatingWebhookConfiguration")
    if not mwc:
        return
    hooks = mwc.get("webhooks") or []
    if not hooks:
        c.bad("webhook.config", mwc, "no webhooks")
    for h in hooks:
        name = h.get("name", "?")
        if h.get("failurePolicy") != "Ignore":
            c.bad("webhook.failurePolicy", mwc, "%s: failurePolicy %r, want Ignore (fail open)" %
                  (name, h.get("failurePolicy")))
        if h.get("sideEffects") != "None":
            c.bad("webhook.sideEffects", mwc, "%s: sideEffects %r, want None" % (name, h.get("sideEffects")))
        if h.get("admissionReviewVersions") != ["v1"]:
            c.bad("webhook.admissionReviewVersions", mwc, "%s: %r, want [v1]" %
                  (name, h.get("admissionReviewVersions")))
        t = h.get("timeoutSeconds")
        if not isinstance(t, int) or not 1 <= t <= MAX_TIMEOUT_SECONDS:
            c.bad("webhook.timeoutSeconds", mwc, "%s: timeoutSeconds %r, want 1..%d (the default is 10)" %
                  (name, t, MAX_TIMEOUT_SECONDS))
        if h.get("reinvocationPolicy") != "IfNeeded":
            c.bad("webhook.reinvocationPolicy", mwc, "%s: %r, want IfNeeded" % (name, h.get("reinvocationPolicy")))
        want_rule = {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}
        rules = [{k: r.get(k) for k in want_rule} for r in h.get("rules") or []]
        if rules != [want_rule] or any(r.get("scope") not in (None, "Namespaced", "*") for r in h["rules"]):
            c.bad("webhook.rules", mwc, "%s: rules %r, want exactly Pod CREATE" % (name, h.get("rules")))

        # Namespaces: the excluded ones never match, whatever labels they
        # carry, except their name, which the apiserver sets.
        nsel = h.get("namespaceSelector")
        for ns in EXCLUDED_NAMESPACES:
            labels = wanted_labels(nsel, {NAME_LABEL: ns})
            if selector_matches(nsel, labels):
                c.bad("webhook.namespaceSelector", mwc, "%s: namespace '%s' would be sent to the webhook "
                      "(with labels %r)" % (name, ns, labels))
        ordinary = wanted_labels(nsel, {NAME_LABEL: "shop"})
        if not selector_matches(nsel, ordinary):
            c.bad("webhook.namespaceSelector", mwc, "%s: no ordinary namespace can match" % name)
        if selector_matches(nsel, dict(ordinary, **{SKIP_LABEL: "true"})):
            c.bad("webhook.namespaceSelector", mwc, "%s: a namespace labelled %s=true still matches" %
                  (name, SKIP_LABEL))
        if c.args.opt_in:
            k, v = c.args.opt_in
            if selector_matches(nsel, {NAME_LABEL: "shop"}):
                c.bad("webhook.optIn", mwc, "%s: a namespace without %s=%s matches" % (name, k, v))
            if not selector_matches(nsel, {NAME_LABEL: "shop", k: v}):
                c.bad("webhook.optIn", mwc, "%s: a namespace with %s=%s does not match" % (name, k, v))

        osel = h.get("objectSelector")
        if selector_matches(osel, {SKIP_LABEL: "true"}) or not selector_matches(osel, {}):
            c.bad("webhook.objectSelector", mwc, "%s: want pods labelled %s=true left out and others in, "
                  "got %r" % (name, SKIP_LABEL, osel))
        conds = h.get("matchConditions") or []
        if not any(m.get("expression") == MIRROR_CEL for m in conds):
            c.bad("webhook.matchConditions", mwc, "%s: no matchCondition %r" % (name, MIRROR_CEL))
        for m in conds:
            if set(m) != {"name", "expression"} or not all(isinstance(m[k], str) for k in m):
                c.bad("webhook.matchConditions", mwc, "%s: malformed matchCondition %r" % (name, m))

        svc_ref = (h.get("clientConfig") or {}).get("service")
        if not svc_ref or (h.get("clientConfig") or {}).get("url"):
            c.bad("webhook.clientConfig", mwc, "%s: want clientConfig.service and no url" % name)
            continue
        if svc_ref.get("namespace") != NS or svc_ref.get("path") != "/mutate":
            c.bad("webhook.clientConfig", mwc, "%s: service %r, want namespace %s, path /mutate" %
                  (name, svc_ref, NS))
        svc = c.one("webhook.clientConfig", "Service", svc_ref.get("name"))
        if svc:
            check_service(c, svc, svc_ref.get("port", 443))
        if tls == "certgen" and (h.get("clientConfig") or {}).get("caBundle"):
            c.bad("webhook.caBundle", mwc, "%s: a caBundle in the manifest; certgen sets it" % name)

    ann = (mwc.get("metadata") or {}).get("annotations") or {}
    inject = ann.get("cert-manager.io/inject-ca-from")
    if tls == "cert-manager":
        cert = c.one("certmanager.certificate", "Certificate", (inject or "/").split("/", 1)[1])
        if not inject or inject.split("/")[0] != NS:
            c.bad("certmanager.inject", mwc, "inject-ca-from %r, want %s/<Certificate>" % (inject, NS))
        if cert:
            check_certificate(c, cert)
    elif inject:
        c.bad("certmanager.inject", mwc, "inject-ca-from set, but this overlay uses certgen")


def check_service(c, svc, port):
    dep = webhook_deployment(c)
    if not dep:
        return
    md, spec = pod_templates(dep)
    sel = (svc.get("spec") or {}).get("selector") or {}
    if not sel or not selector_matches({"matchLabels": sel}, md.get("labels") or {}):
        c.bad("service.selector", svc, "selector %r does not select the webhook pods" % sel)
    sp = next((p for p in (svc.get("spec") or {}).get("ports") or [] if p.get("port") == port), None)
    ctr = (spec.get("containers") or [{}])[0]
    listen = port_of(arg_value(ctr.get("args"), "--listen") or ":8443")
    if not sp:
        c.bad("service.port", svc, "no port %s, which the webhook configuration calls" % port)
    elif container_port(ctr, sp.get("targetPort", port)) != listen:
        c.bad("service.port", svc, "targetPort %r is not the webhook's --listen port %s" %
              (sp.get("targetPort"), listen))


def tls_secret_name(c, tls):
    if tls == "certgen":
        job = next(iter(c.find("Job")), None)
        if job:
            ctr = (pod_templates(job)[1].get("containers") or [{}])[0]
            return arg_value(ctr.get("args"), "--secret-name")
        return None
    mwc = next(iter(c.find("MutatingWebhookConfiguration")), {})
    inject = ((mwc.get("metadata") or {}).get("annotations") or {}).get("cert-manager.io/inject-ca-from", "/")
    cert = c.find("Certificate", inject.split("/", 1)[1])
    return (cert[0].get("spec") or {}).get("secretName") if cert else None


def webhook_deployment(c):
    deps = [d for d in c.find("Deployment") if component(d) == "webhook"]
    return deps[0] if len(deps) == 1 else None


def check_certificate(c, cert):
    spec = cert.get("spec") or {}
    svc = next(iter(c.find("Service")), {}).get("metadata", {}).get("name", "podtuner")
    if "%s.%s.svc" % (svc, NS) not in (spec.get("dnsNames") or []):
        c.bad("certmanager.certificate", cert, "dnsNames %r lack %s.%s.svc (the apiserver checks the SAN)" %
              (spec.get("dnsNames"), svc, NS))
    ref = (spec.get("issuerRef") or {}).get("name")
    if not c.find((spec.get("issuerRef") or {}).get("kind", "Issuer"), ref):
        c.bad("certmanager.certificate", cert, "issuer %r is not in the manifests" % ref)


def check_webhook_deployment(c, tls):
    dep = webhook_deployment(c)
    if not dep:
        c.bad("webhook.deployment", None, "want exactly one Deployment with component=webhook")
        return
    spec = dep.get("spec") or {}
    md, pod = pod_templates(dep)
    labels = md.get("labels") or {}
    replicas = spec.get("replicas") if isinstance(spec.get("replicas"), int) else 0
    if replicas < 2:
        c.bad("webhook.replicas", dep, "replicas %r, want 2 or more" % spec.get("replicas"))
    terms = (((pod.get("affinity") or {}).get("podAntiAffinity") or {})
             .get("preferredDuringSchedulingIgnoredDuringExecution") or [])
    terms = [t.get("podAffinityTerm") or {} for t in terms] + \
        (((pod.get("affinity") or {}).get("podAntiAffinity") or {})
         .get("requiredDuringSchedulingIgnoredDuringExecution") or [])
    if not any(t.get("topologyKey") == "kubernetes.io/hostname" and
               selector_matches(t.get("labelSelector"), labels) for t in terms):
        c.bad("webhook.antiAffinity", dep, "no pod anti-affinity on kubernetes.io/hostname for its own pods")
    pdbs = [p for p in c.find("PodDisruptionBudget")
            if selector_matches((p.get("spec") or {}).get("selector"), labels)]
    if len(pdbs) != 1:
        c.bad("webhook.pdb", dep, "%d PodDisruptionBudgets select the webhook pods, want 1" % len(pdbs))
    else:
        ps = pdbs[0].get("spec") or {}
        ok = (isinstance(ps.get("maxUnavailable"), int) and 1 <= ps["maxUnavailable"] < replicas) or \
             (isinstance(ps.get("minAvailable"), int) and 1 <= ps["minAvailable"] < replicas)
        if not ok:
            c.bad("webhook.pdb", pdbs[0], "want maxUnavailable or minAvailable between 1 and replicas-1")
    if pod.get("automountServiceAccountToken") is not False:
        c.bad("webhook.token", dep, "the webhook needs no API access: automountServiceAccountToken: false")
    ctrs = pod.get("containers") or []
    if len(ctrs) != 1:
        c.bad("webhook.deployment", dep, "want one container, found %d" % len(ctrs))
        return
    ctr = ctrs[0]
    args = ctr.get("args") or []
    if not args or args[0] != "webhook":
        c.bad("webhook.args", dep, "args %r do not start with the subcommand 'webhook'" % args)
    listen = port_of(arg_value(args, "--listen") or ":8443")
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        g = (ctr.get(probe) or {}).get("httpGet") or {}
        if g.get("path") != path or g.get("scheme") != "HTTPS" or container_port(ctr, g.get("port")) != listen:
            c.bad("webhook.probes", dep, "%s %r, want GET %s over HTTPS on port %s" % (probe, g, path, listen))
    check_policy_mount(c, dep, pod, ctr)
    secret = tls_secret_name(c, tls)
    for flag, default in (("--tls-cert", "/etc/podtuner/tls/tls.crt"), ("--tls-key", "/etc/podtuner/tls/tls.key")):
        path = arg_value(args, flag) or default
        m, v = mount_for(ctr, pod, path)
        if not v or (v.get("secret") or {}).get("secretName") != secret:
            c.bad("webhook.tls", dep, "%s %s is not in a volume of the Secret %r" % (flag, path, secret))
        elif (v.get("secret") or {}).get("optional") is not False or m.get("subPath"):
            c.bad("webhook.tls", dep, "mount the Secret whole (no subPath, reloads) with optional: false")


def check_policy_mount(c, obj, pod, ctr):
    path = arg_value(ctr.get("args"), "--policies") or arg_value(ctr.get("args"), "-p")
    if not path:
        c.bad("policies.mount", obj, "no --policies: it would run with the built-in policies")
        return
    m, v = mount_for(ctr, pod, path)
    if not v or (v.get("configMap") or {}).get("name") != CONFIGMAP or m.get("subPath") or \
            m.get("mountPath").rstrip("/") != path.rstrip("/"):
        c.bad("policies.mount", obj, "--policies %s is not a whole mount of the ConfigMap %s" % (path, CONFIGMAP))


def check_agent(c):
    ds = [d for d in c.find("DaemonSet") if component(d) == "agent"]
    if len(ds) != 1:
        c.bad("agent.daemonset", None, "want exactly one DaemonSet with component=agent")
        return
    ds = ds[0]
    md, pod = pod_templates(ds)
    ctr = (pod.get("containers") or [{}])[0]
    args = ctr.get("args") or []
    if not args or args[0] != "rebalance":
        c.bad("agent.args", ds, "args %r do not start with the subcommand 'rebalance'" % args)
    if pod.get("hostPID") is not True:
        c.bad("agent.hostPID", ds, "hostPID must be true: prlimit(2) takes host pids")
    env = {e.get("name"): e for e in ctr.get("env") or []}
    ref = (((env.get("NODE_NAME") or {}).get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
    if ref != "spec.nodeName" and not arg_value(args, "--node-name"):
        c.bad("agent.nodeName", ds, "NODE_NAME must come from the downward API (spec.nodeName)")
    for flag, default, host in (("--cgroup-root", "/sys/fs/cgroup", "/sys/fs/cgroup"),
                                ("--checkpoint", "/var/lib/podtuner/checkpoint.json", "/var/lib/podtuner")):
        path = arg_value(args, flag) or default
        m, v = mount_for(ctr, pod, path)
        hp = (v or {}).get("hostPath") or {}
        if hp.get("path") != host or (m or {}).get("readOnly"):
            c.bad("agent.hostPath", ds, "%s %s must be in a read-write hostPath mount of %s" % (flag, path, host))
    for v in pod.get("volumes") or []:
        if v.get("hostPath") and v["hostPath"].get("path") not in AGENT_HOSTPATHS:
            c.bad("agent.hostPath", ds, "hostPath %s is not one the agent needs" % v["hostPath"].get("path"))
    listen = port_of(arg_value(args, "--listen") or ":9101")
    if not any(p.get("containerPort") == listen and p.get("name") == "metrics" for p in ctr.get("ports") or []):
        c.bad("agent.metrics", ds, "no container port 'metrics' %s (the --listen port)" % listen)
    if not pod.get("tolerations"):
        c.bad("agent.tolerations", ds, "no tolerations: tainted nodes get no agent")
    check_policy_mount(c, ds, pod, ctr)


def check_containers(c):
    images = set()
    for o in c.objs:
        if o.get("kind") not in WORKLOAD_KINDS:
            continue
        md, pod = pod_templates(o)
        comp = component(o)
        psc = pod.get("securityContext") or {}
        for flag in ("hostNetwork", "hostIPC"):
            if pod.get(flag):
                c.bad("pod.host", o, "%s is not needed by any podtuner component" % flag)
        if pod.get("hostPID") and comp != "agent":
            c.bad("pod.host", o, "hostPID is for the agent only")
        if comp != "agent" and any(v.get("hostPath") for v in pod.get("volumes") or []):
            c.bad("pod.host", o, "hostPath volumes are for the agent only")
        if (md.get("labels") or {}).get(SKIP_LABEL) != "true":
            c.bad("pod.skip", o, "podtuner's own pods carry %s=true" % SKIP_LABEL)
        for ctr in (pod.get("initContainers") or []) + (pod.get("containers") or []):
            who = "container '%s'" % ctr.get("name")
            images.add(ctr.get("image"))
            res = ctr.get("resources") or {}
            lim, req = res.get("limits") or {}, res.get("requests") or {}
            for r in ("cpu", "memory"):
                if r not in lim:
                    c.bad("container.limits", o, "%s: no %s limit" % (who, r))
                if r not in req:
                    c.bad("container.requests", o, "%s: no %s request" % (who, r))
                if r in lim and r in req:
                    ql, qr = quantity(lim[r]), quantity(req[r])
                    if ql is None or qr is None:
                        c.bad("container.limits", o, "%s: unreadable %s quantity %r/%r" % (who, r, req[r], lim[r]))
                    elif qr > ql:
                        c.bad("container.requests", o, "%s: %s request %s above limit %s" % (who, r, req[r], lim[r]))
            sc = ctr.get("securityContext")
            if not sc:
                c.bad("container.securityContext", o, "%s: no securityContext" % who)
                sc = {}
            if sc.get("allowPrivilegeEscalation") is not False:
                c.bad("container.securityContext", o, "%s: allowPrivilegeEscalation must be false" % who)
            if sc.get("privileged"):
                c.bad("container.securityContext", o, "%s: privileged" % who)
            if sc.get("readOnlyRootFilesystem") is not True:
                c.bad("container.securityContext", o, "%s: readOnlyRootFilesystem must be true" % who)
            caps = sc.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                c.bad("container.capabilities", o, "%s: capabilities must drop ALL" % who)
            extra = set(caps.get("add") or []) - ALLOWED_CAPS.get(comp, set())
            if extra:
                c.bad("container.capabilities", o, "%s: adds %s; only %s may be added for '%s'" %
                      (who, sorted(extra), sorted(ALLOWED_CAPS.get(comp, set())) or "none", comp))
            seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
            if seccomp != "RuntimeDefault":
                c.bad("container.seccomp", o, "%s: seccompProfile %r, want RuntimeDefault" % (who, seccomp))
            if comp != "agent":
                uid = sc.get("runAsUser", psc.get("runAsUser"))
                nonroot = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
                if nonroot is not True or uid == 0:
                    c.bad("container.nonroot", o, "%s: must run as non-root (runAsNonRoot %r, runAsUser %r)" %
                          (who, nonroot, uid))
            if not ctr.get("imagePullPolicy"):
                c.bad("container.image", o, "%s: no imagePullPolicy" % who)
    if len(images) != 1:
        c.bad("container.image", None, "want one image for every container, found %s" % sorted(map(str, images)))


def check_rbac(c, tls):
    want = dict(RBAC_COMMON)
    bindings = dict(BINDINGS_COMMON)
    if tls == "certgen":
        want.update(RBAC_CERTGEN)
        bindings.update(BINDINGS_CERTGEN)
    have = {}
    for kind in ("Role", "ClusterRole"):
        for r in c.find(kind):
            rules = set()
            for rule in r.get("rules") or []:
                for g in rule.get("apiGroups") or [""]:
                    for res in rule.get("resources") or []:
                        for n in rule.get("resourceNames") or [""]:
                            for v in rule.get("verbs") or []:
                                rules.add((g, res, n, v))
            have[(kind, r["metadata"]["name"])] = (r, rules)
    for key, rules in want.items():
        if key not in have:
            c.bad("rbac.missing", None, "no %s '%s'" % key)
            continue
        r, got = have[key]
        if got != rules:
            more, less = sorted(got - rules), sorted(rules - got)
            c.bad("rbac.rules", r, "grants %s too many%s" % (more or "none", ", lacks %s" % less if less else ""))
    for key, (r, _) in have.items():
        if key not in want:
            c.bad("rbac.extra", r, "a role the rules do not list")
    bound = {}
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        for b in c.find(kind):
            ref = b.get("roleRef") or {}
            key = (ref.get("kind"), ref.get("name"))
            for s in b.get("subjects") or []:
                if s.get("kind") != "ServiceAccount" or s.get("namespace") != NS:
                    c.bad("rbac.binding", b, "subject %r is not a ServiceAccount in %s" % (s, NS))
                    continue
                bound.setdefault(key, set()).add(s.get("name"))
    for key, sa in bindings.items():
        if bound.get(key) != {sa}:
            c.bad("rbac.binding", None, "%s '%s' bound to %s, want {'%s'}" % (key[0], key[1],
                  sorted(bound.get(key, set())), sa))
    for key in bound:
        if key not in bindings:
            c.bad("rbac.binding", None, "%s '%s' is bound but not expected" % key)
    if any("podtuner-webhook" in sas for sas in bound.values()):
        c.bad("rbac.binding", None, "the webhook's ServiceAccount is bound to a role; it needs none")


def check_certgen(c):
    jobs, crons = c.find("Job"), c.find("CronJob")
    if len(jobs) != 1 or len(crons) != 1:
        c.bad("certgen.jobs", None, "want one certgen Job and one CronJob, found %d and %d" % (len(jobs), len(crons)))
        return
    job_pod, cron_pod = pod_templates(jobs[0])[1], pod_templates(crons[0])[1]
    if job_pod != cron_pod:
        c.bad("certgen.jobs", crons[0], "the CronJob's pod spec differs from the Job's")
    ctr = (job_pod.get("containers") or [{}])[0]
    args = ctr.get("args") or []
    svc = next(iter(c.find("Service")), {}).get("metadata", {}).get("name")
    mwc = next(iter(c.find("MutatingWebhookConfiguration")), {}).get("metadata", {}).get("name")
    ns = arg_value(args, "--namespace")
    if ns == "$(POD_NAMESPACE)":
        e = next((e for e in ctr.get("env") or [] if e.get("name") == "POD_NAMESPACE"), {})
        ns = NS if ((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath") == "metadata.namespace" else None
    if not args or args[0] != "certgen" or arg_value(args, "--service") != svc or ns != NS or \
            "--secret-apply" not in args or arg_value(args, "--patch-webhook") != mwc or \
            not arg_value(args, "--secret-name"):
        c.bad("certgen.args", jobs[0], "args %r do not make the Secret for Service %s.%s and patch %s" %
              (args, svc, NS, mwc))
    if job_pod.get("serviceAccountName") != "podtuner-certgen":
        c.bad("certgen.serviceAccount", jobs[0], "runs as %r" % job_pod.get("serviceAccountName"))


def policy_files(d):
    return sorted(f for f in os.listdir(d) if not f.startswith(".") and
                  (f.endswith(".yaml") or f.endswith(".yml")) and os.path.isfile(os.path.join(d, f)))


def check_configmap(c):
    cm = c.one("configmap.missing", "ConfigMap", CONFIGMAP)
    if not cm or not c.args.policies:
        return
    data = cm.get("data") or {}
    files = policy_files(c.args.policies)
    if sorted(data) != files:
        c.bad("configmap.files", cm, "holds %s, but %s has %s (list them in policies/Kustomization)" %
              (sorted(data), c.args.policies, files))
    for f in files:
        with open(os.path.join(c.args.policies, f), encoding="utf-8") as fh:
            if f in data and data[f] != fh.read():
                c.bad("configmap.content", cm, "'%s' differs from the file" % f)
    if cm.get("binaryData"):
        c.bad("configmap.files", cm, "binaryData is not read by the policy loader")
    if not c.args.podtuner:
        return
    # What the pods will read: the ConfigMap's data as files in a directory.
    with tempfile.TemporaryDirectory(prefix="podtuner-cm.") as d:
        for k, v in data.items():
            with open(os.path.join(d, k), "w", encoding="utf-8") as fh:
                fh.write(v)
        p = subprocess.run([c.args.podtuner, "validate", d], capture_output=True, text=True, timeout=60)
        out = (p.stdout + p.stderr).strip().replace(d + "/", "")
        if p.returncode != 0:
            c.bad("configmap.validate", cm, "podtuner validate exit %d:\n    %s" %
                  (p.returncode, out.replace("\n", "\n    ")))
        else:
            c.notes.append("podtuner validate on the ConfigMap: " + out)


# --- the OpenAPI schema (python3-kubernetes) ----------------------------------

class Schema:
    """Kubernetes 1.22 OpenAPI types as generated into python3-kubernetes."""

    def __init__(self):
        import kubernetes.client.models as models
        self.models = models
        self.cache = {}

    def model(self, name):
        return getattr(self.models, name, None)

    def info(self, cls):
        if cls not in self.cache:
            src = inspect.getsource(cls)
            req = set(re.findall(r"client_side_validation and (\w+) is None:", src))
            json_of = dict(cls.attribute_map)
            self.cache[cls] = ({json_of[p]: (p, t) for p, t in cls.openapi_types.items()},
                               {json_of[p] for p in req if p in json_of})
        return self.cache[cls]

    def top_model(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        prefix = "".join(w.capitalize() for w in (group.split(".")[0] if group else "core").split("-"))
        v = version.capitalize()
        return self.model(prefix + v + kind) or self.model(v + kind)

    def check(self, c, obj):
        cls = self.top_model(obj.get("apiVersion", ""), obj.get("kind", ""))
        if not cls:
            c.notes.append("schema: no Kubernetes 1.22 schema for %s %s/%s (checked by the rules only)" %
                           (obj.get("apiVersion"), obj.get("kind"), obj.get("metadata", {}).get("name")))
            return
        self.walk(c, obj, obj, cls.__name__, "")

    def walk(self, c, top, v, typ, path):
        if v is None:
            return
        if typ.startswith("list["):
            if not isinstance(v, list):
                c.bad("schema.type", top, "%s: want a list, got %r" % (path, v))
                return
            for i, x in enumerate(v):
                self.walk(c, top, x, typ[5:-1], "%s[%d]" % (path, i))
            return
        if typ.startswith("dict("):
            if not isinstance(v, dict):
                c.bad("schema.type", top, "%s: want a map, got %r" % (path, v))
                return
            inner = typ[typ.index(",") + 1:-1].strip()
            for k, x in v.items():
                if not isinstance(k, str):
                    c.bad("schema.type", top, "%s: key %r is not a string" % (path, k))
                self.walk(c, top, x, inner, "%s.%s" % (path, k))
            return
        prim = {"str": str, "int": int, "bool": bool, "float": (int, float)}
        if typ in prim:
            if isinstance(v, bool) and typ != "bool" or not isinstance(v, prim[typ]):
                c.bad("schema.type", top, "%s: want %s, got %r" % (path, typ, v))
            return
        if typ in ("object", "datetime", "date"):
            return
        cls = self.model(typ)
        if cls is None:
            return
        if not isinstance(v, dict):
            c.bad("schema.type", top, "%s: want an object (%s), got %r" % (path, typ, v))
            return
        fields, required = self.info(cls)
        for k, x in v.items():
            if k not in fields:
                if (typ, k) not in NEWER_FIELDS:
                    c.bad("schema.unknown-field", top, "%s: unknown field '%s' in %s" % (path, k, typ))
                continue
            ftyp = fields[k][1]
            # Quantities (resources) are strings in the generated types, but
            # the apiserver takes JSON numbers too.
            if typ == "V1ResourceRequirements" and isinstance(x, dict):
                for q, qv in x.items():
                    if quantity(qv) is None:
                        c.bad("schema.type", top, "%s.%s.%s: %r is not a quantity" % (path, k, q, qv))
                continue
            self.walk(c, top, x, ftyp, "%s.%s" % (path, k) if path else k)
        for k in sorted(required - set(v)):
            c.bad("schema.required", top, "%s: required field '%s' of %s is missing" % (path or "(top)", k, typ))


# --- requests made against the rendered RBAC ----------------------------------

API_PATH = re.compile(r"^/(?:api/(?P<cv>v1)|apis/(?P<g>[^/]+)/(?P<v>[^/]+))"
                      r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<res>[^/]+)(?:/(?P<name>[^/]+))?/?$")
METHOD_VERB = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def authorized(objs, sa, verb, group, res, ns, name):
    """RBAC's decision for ServiceAccount sa (in podtuner) from the rendered
    Roles, ClusterRoles and their bindings."""
    def rule_allows(rule):
        return ((group in (rule.get("apiGroups") or []) or "*" in (rule.get("apiGroups") or [])) and
                (res in (rule.get("resources") or []) or "*" in (rule.get("resources") or [])) and
                (verb in (rule.get("verbs") or []) or "*" in (rule.get("verbs") or [])) and
                (not rule.get("resourceNames") or name in rule["resourceNames"]))
    for b in objs:
        if b.get("kind") not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        bns = (b.get("metadata") or {}).get("namespace")
        if b["kind"] == "RoleBinding" and bns != ns:
            continue
        if not any(s.get("kind") == "ServiceAccount" and s.get("name") == sa and s.get("namespace") == NS
                   for s in b.get("subjects") or []):
            continue
        ref = b.get("roleRef") or {}
        for r in objs:
            if r.get("kind") != ref.get("kind") or (r.get("metadata") or {}).get("name") != ref.get("name"):
                continue
            if r["kind"] == "Role" and (r.get("metadata") or {}).get("namespace") != bns:
                continue
            if any(rule_allows(rule) for rule in r.get("rules") or []):
                return True
    return False


def check_request_log(objs, log, sa):
    """Every request in a fake apiserver's JSON log must be one the rendered
    RBAC allows sa to make. Returns the violations."""
    import json
    bad = []
    n = 0
    with open(log, encoding="utf-8") as fh:
        for line in fh:
            e = json.loads(line)
            m = API_PATH.match(e.get("path", ""))
            if not m:
                continue
            n += 1
            name = m.group("name")
            if e["method"] == "GET":
                verb = "get" if name else ("watch" if "watch=true" in e.get("query", "") else "list")
            else:
                verb = METHOD_VERB.get(e["method"], e["method"].lower())
            group = m.group("g") or ""
            if not authorized(objs, sa, verb, group, m.group("res"), m.group("ns"), name):
                bad.append("rbac.request: %s %s%s: '%s' may not %s %s%s%s" % (
                    e["method"], e["path"], "?" + e["query"] if e.get("query") else "", sa, verb,
                    "%s/" % group if group else "", m.group("res"), " '%s'" % name if name else ""))
    if n == 0:
        bad.append("rbac.request: the log '%s' holds no API request" % log)
    return bad, n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rendered", help="kubectl kustomize output (multi-document YAML)")
    ap.add_argument("--tls", choices=["certgen", "cert-manager"], default="certgen")
    ap.add_argument("--opt-in", help="KEY=VALUE: namespaces must carry this label to be tuned")
    ap.add_argument("--policies", help="the policies/ folder the ConfigMap must equal")
    ap.add_argument("--podtuner", help="binary for `podtuner validate` on the ConfigMap's files")
    ap.add_argument("--no-schema", action="store_true")
    ap.add_argument("--rbac-log", help="instead of the rules: check that every request in this fake "
                    "apiserver log is allowed for --service-account by the rendered RBAC")
    ap.add_argument("--service-account", default="podtuner-certgen")
    args = ap.parse_args()
    if args.opt_in:
        if "=" not in args.opt_in:
            ap.error("--opt-in wants KEY=VALUE")
        args.opt_in = tuple(args.opt_in.split("=", 1))
    try:
        with open(args.rendered, encoding="utf-8") as fh:
            objs = [o for o in yaml.safe_load_all(fh) if o is not None]
    except (OSError, yaml.YAMLError) as e:
        print("cannot read '%s': %s" % (args.rendered, e), file=sys.stderr)
        return 2
    if not objs or not all(isinstance(o, dict) and o.get("kind") for o in objs):
        print("'%s' holds no Kubernetes objects" % args.rendered, file=sys.stderr)
        return 2

    if args.rbac_log:
        bad, n = check_request_log(objs, args.rbac_log, args.service_account)
        for b in bad:
            print(b)
        print("%d requests, %d not allowed for %s" % (n, len(bad), args.service_account))
        return 1 if bad else 0

    c = Checker(objs, args)
    rules = [lambda: check_common(c), lambda: check_webhook_config(c, args.tls),
             lambda: check_webhook_deployment(c, args.tls), lambda: check_agent(c),
             lambda: check_containers(c), lambda: check_rbac(c, args.tls), lambda: check_configmap(c)]
    if args.tls == "certgen":
        rules.append(lambda: check_certgen(c))
    if not args.no_schema:
        s = Schema()
        rules += [lambda o=o: s.check(c, o) for o in objs]
    for rule in rules:
        # A manifest malformed enough to trip a rule is a violation too, not
        # a traceback that hides the other rules' findings.
        try:
            rule()
        except (AttributeError, KeyError, TypeError, ValueError, IndexError) as e:
            c.bad("checker.malformed", None, "a rule could not read the manifests: %s: %s" %
                  (type(e).__name__, e))
    for n in c.notes:
        print("note: " + n)
    for v in c.violations:
        print(v)
    print("%d objects, %d violations" % (len(objs), len(c.violations)))
    return 1 if c.violations else 0


if __name__ == "__main__":
    sys.exit(main())
