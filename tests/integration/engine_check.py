#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Driver for tests/integration/engine.sh.

For each input (the shared AdmissionReview fixtures, plus every Pod and
workload in examples/ and tests/fixtures/pods/ wrapped as a review):
  1. podtuner mutate -o review, checked by check-response.py (apiserver
     rules + python3-jsonpatch), which prints the mutated object;
  2. the containers' env and the pod's annotations compared with
     tests/fixtures/engine/golden/<name>.json (UPDATE_GOLDEN=1 rewrites them);
  3. the mutated object posted again: the response must carry no patch.
Prints one line per case and "N passed, N failed".
"""
import copy
import glob
import json
import os
import subprocess
import sys
import tempfile

import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("SHARED", os.path.join(os.path.dirname(TOP), "shared"))
PODTUNER = os.environ.get("PODTUNER", os.path.join(TOP, "build/rel/podtuner"))
CHECKER = os.path.join(SHARED, "tools/check-response.py")
POLICIES = os.path.join(TOP, "tests/fixtures/engine/policies")
GOLDEN = os.path.join(TOP, "tests/fixtures/engine/golden")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

passed = failed = 0


def result(ok, name, why=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {why}")


def review(obj, ns, uid):
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "resource": {"group": "", "version": "v1", "resource": "pods"},
                        "namespace": ns, "operation": "CREATE", "object": obj}}


def pod_of(obj):
    kind = obj.get("kind", "Pod")
    if kind == "Pod":
        return obj
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return obj["spec"]["template"]


def inputs():
    for f in ("pod-create.json", "pod-create-large.json"):
        with open(os.path.join(SHARED, "tools/fixtures", f)) as fh:
            yield f.replace(".json", ""), json.load(fh)
    files = sorted(glob.glob(os.path.join(TOP, "examples/*.yaml"))) + \
        sorted(glob.glob(os.path.join(TOP, "tests/fixtures/pods/*.yaml")))
    for path in files:
        with open(path) as fh:
            for i, doc in enumerate(d for d in yaml.safe_load_all(fh) if d):
                pod = copy.deepcopy(pod_of(doc))
                pod.setdefault("metadata", {})
                name = doc["metadata"].get("name", f"doc{i}")
                ns = doc["metadata"].get("namespace", "default")
                yield f"{os.path.basename(path)[:-5]}-{name}", review(pod, ns, f"uid-{name}")


def mutate(req, tmp):
    rq = os.path.join(tmp, "req.json")
    rs = os.path.join(tmp, "resp.json")
    with open(rq, "w") as fh:
        json.dump(req, fh)
    p = subprocess.run([PODTUNER, "mutate", "-p", os.path.join(TOP, "policies"), "-p", POLICIES, "-o", "review", rq],
                       capture_output=True, text=True, timeout=30)
    if p.returncode not in (0, 1):
        raise RuntimeError(f"podtuner exited {p.returncode}: {p.stderr}")
    with open(rs, "w") as fh:
        fh.write(p.stdout)
    c = subprocess.run([CHECKER, rq, rs], capture_output=True, text=True, timeout=30)
    if c.returncode != 0:
        raise RuntimeError(f"check-response: {c.stderr.strip()}")
    return json.loads(p.stdout), json.loads(c.stdout)


def summary(pod):
    spec = pod.get("spec", {})
    out = {"annotations": {k: v for k, v in (pod.get("metadata", {}).get("annotations") or {}).items()
                           if k.startswith("podtuner.io/")}}
    for kind in ("initContainers", "containers"):
        for c in spec.get(kind) or []:
            out[f"{kind}/{c['name']}"] = [e for e in (c.get("env") or [])]
    return out


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for name, req in inputs():
            try:
                resp, mutated = mutate(req, tmp)
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                result(False, name, str(e))
                continue
            got = summary(mutated)
            gpath = os.path.join(GOLDEN, name + ".json")
            if UPDATE:
                with open(gpath, "w") as fh:
                    json.dump(got, fh, indent=1, sort_keys=True)
                    fh.write("\n")
            try:
                with open(gpath) as fh:
                    want = json.load(fh)
            except OSError:
                result(False, name, f"no golden file {gpath} (run with UPDATE_GOLDEN=1)")
                continue
            result(got == want, name + " (golden)",
                   f"differs from {gpath}:\n got  {json.dumps(got, sort_keys=True)}\n want {json.dumps(want, sort_keys=True)}")
            again = copy.deepcopy(req)
            again["request"]["object"] = mutated
            try:
                resp2, _ = mutate(again, tmp)
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                result(False, name + " (reinvocation)", str(e))
                continue
            r2 = resp2["response"]
            result("patch" not in r2 and "patchType" not in r2, name + " (reinvocation)",
                   f"second pass patched: {r2}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
