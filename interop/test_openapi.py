#!/usr/bin/env python3
"""The REST API checked against its own OpenAPI document by schemathesis.

Starts `phalanx serve` on a free loopback port against a fresh node with
an analyst (alice, cleared SECRET) and the node's admin, seeds a few
objects (public, green in two versions, EU RESTRICTED, a relationship)
through `POST /api/v1/objects`, then runs `schemathesis run` against
`/api/v1/openapi.json` twice: as alice (Bearer) and as the admin (Basic).
The checks: no 5xx (`not_a_server_error`), every response conforms to the
documented schema and content type, and schemathesis itself does not
crash. Bounded: a few examples per operation and a time budget per run.

Usage: .venv-interop/bin/python interop/test_openapi.py --phalanx target/debug/phalanx
Only loopback traffic. Prints one line per check and `N passed, M failed`
last; exit 1 on any failure.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
TLP_CLEAR = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
LABEL_NS = uuid.UUID("a695434a-e898-43a6-9662-afb02ffa663b")
LABEL_EXT = "extension-definition--8ea66e3e-9f13-48ea-8a0f-a87be27069e0"
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}"[:4000])


def run(phalanx, data, *args):
    return subprocess.run([phalanx, "--data", data, *args], capture_output=True, text=True, timeout=120)


def token_of(out, what):
    token = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    check(what, out.returncode == 0 and token.startswith("phx_"), out.stderr)
    return token


class Node:
    """A `phalanx serve` process on 127.0.0.1 with an OS-chosen port."""

    def __init__(self, phalanx, data):
        self.log = os.path.join(data, "serve.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([phalanx, "--data", data, "serve", "--listen", "127.0.0.1:0"],
                                         stdout=subprocess.PIPE, stderr=log, text=True)
        line = [None]
        reader = threading.Thread(target=lambda: line.__setitem__(0, self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(60)
        if not line[0] or not line[0].startswith("listening on "):
            self.stop()
            raise RuntimeError(f"server did not start: {line[0]!r}")
        self.base = line[0].split("listening on ", 1)[1].strip()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode


def indicator(oid, modified, name, markings):
    return {"type": "indicator", "spec_version": "2.1", "id": oid, "created": "2026-01-01T00:00:00.000Z",
            "modified": modified, "name": name, "pattern": "[domain-name:value = 'evil.example']",
            "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z", "object_marking_refs": markings}


def seed(base, token):
    canonical = "EU|RESTRICTED||||"
    marking_id = f"marking-definition--{uuid.uuid5(LABEL_NS, canonical)}"
    marking = {"type": "marking-definition", "spec_version": "2.1", "id": marking_id,
               "created": "2026-01-01T00:00:00.000Z", "name": "RESTREINT UE/EU RESTRICTED",
               "extensions": {LABEL_EXT: {"extension_type": "property-extension", "policy": "EU",
                                          "classification": "RESTRICTED"}}}
    ind = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
    public = "indicator--a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [
        indicator(ind, "2026-01-01T00:00:00.000Z", "beacon v1", [TLP_GREEN]),
        indicator(ind, "2026-02-01T00:00:00.000Z", "beacon v2", [TLP_GREEN]),
        marking,
        indicator("indicator--d2e3f4a5-0b1c-4d2e-8f3a-4b5c6d7e8f90", "2026-01-05T00:00:00.000Z", "classified",
                  [TLP_GREEN, marking_id]),
        indicator(public, "2026-01-06T00:00:00.000Z", "public", [TLP_CLEAR]),
        {"type": "relationship", "spec_version": "2.1", "id": "relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad",
         "created": "2026-01-07T00:00:00.000Z", "modified": "2026-01-07T00:00:00.000Z",
         "relationship_type": "related-to", "source_ref": ind, "target_ref": public,
         "object_marking_refs": [TLP_GREEN]},
    ]}
    request = urllib.request.Request(f"{base}/api/v1/objects", data=json.dumps(bundle).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        report = json.load(response)
    check("seed through POST /api/v1/objects", report.get("refused") == 0 and report.get("stored") == 6,
          json.dumps(report))


def schemathesis(base, auth_args, label, max_examples, max_time, workdir):
    exe = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    if not os.path.exists(exe):
        exe = shutil.which("schemathesis") or "schemathesis"
    cmd = [exe, "run", f"{base}/api/v1/openapi.json", "--url", base,
           "--checks", CHECKS, "--max-examples", str(max_examples), "--max-time", str(max_time),
           "--workers", "1", "--request-timeout", "30", "--phases", "examples,coverage,fuzzing",
           "--suppress-health-check", "all", "--seed", "1", "--no-color", *auth_args]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": ""}
    # Run in a scratch directory: schemathesis keeps its example database in the working directory.
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=max_time * 3 + 300, env=env, cwd=workdir)
    tail = (out.stdout + out.stderr)[-6000:]
    print(f"--- schemathesis ({label}), exit {out.returncode}")
    print(tail)
    check(f"schemathesis {label}: no 5xx, responses conform to the document", out.returncode == 0, "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phalanx", required=True)
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("OPENAPI_MAX_EXAMPLES", "10")))
    parser.add_argument("--max-time", type=int, default=int(os.environ.get("OPENAPI_MAX_TIME", "150")))
    args = parser.parse_args()
    phalanx = os.path.abspath(args.phalanx)
    data = tempfile.mkdtemp(prefix="phalanx-openapi-")
    node = None
    try:
        out = run(phalanx, data, "init", "--org-name", "CERT-LT", "--country", "LTU", "--member-of", "EU,NATO")
        check("init", out.returncode == 0, out.stderr)
        alice = token_of(run(phalanx, data, "user", "add", "--org", "CERT-LT", "--name", "alice", "--role",
                             "analyst", "--clearance", "SECRET", "--briefed", "EU,NATO"), "user add alice")
        admin = token_of(run(phalanx, data, "token", "new", "--user", "admin"), "token new admin")
        node = Node(phalanx, data)
        seed(node.base, alice)
        with urllib.request.urlopen(f"{node.base}/api/v1/openapi.json", timeout=30) as response:
            doc = json.load(response)
        check("openapi.json is OpenAPI 3.1", str(doc.get("openapi", "")).startswith("3.1"), doc.get("openapi"))
        schemathesis(node.base, ["--header", f"Authorization: Bearer {alice}"], "as an analyst (Bearer)",
                     args.max_examples, args.max_time, data)
        schemathesis(node.base, ["--auth", f"admin:{admin}"], "as the node admin (Basic)",
                     args.max_examples, args.max_time, data)
        check("the server survived", node.alive(), "the server process exited")
        if failed:
            # What the node logged about its 5xx answers.
            with open(node.log, errors="replace") as log:
                errors = [line for line in log if "ERROR" in line or "panicked" in line]
            print("".join(errors[-20:])[-6000:])
    finally:
        if node is not None:
            code = node.stop()
            check("graceful stop", code == 0, f"exit code {code}")
        shutil.rmtree(data, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
