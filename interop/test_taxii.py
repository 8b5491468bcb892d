#!/usr/bin/env python3
"""Phalanx's TAXII 2.1 server driven by the OASIS client, checked by OASIS tools.

Starts `phalanx serve` on a free loopback port against a fresh node with two
users of different rights made with `phalanx user add` (alice: analyst,
cleared SECRET; bob: viewer, not cleared), then drives every endpoint with taxii2-client 2.3.0 (and raw
`requests`/`http.client` where the client hides the status code):
discovery, API root, collections, add_objects + status, get_objects with
every filter, as_pages over objects and manifest, get_object, versions,
delete_object; the permission matrix and 401/403/404/406/413/415; label
filtering between the two users; an HTTPS server with a self-signed
certificate. Every object served is validated with stix2-validator, and
objects posted come back JSON-equal.

Usage: .venv-interop/bin/python interop/test_taxii.py --phalanx target/debug/phalanx
Only loopback traffic; every loop is bounded. Prints one line per check and
`N passed, M failed` last; exit 1 on any failure.
"""
import argparse
import datetime
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import requests
from stix2validator import ValidationOptions, validate_instance
from taxii2client.common import TokenAuth
from taxii2client.v21 import Server, as_pages

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")

TAXII = "application/taxii+json;version=2.1"
TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
TLP_CLEAR = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
LABEL_NS = uuid.UUID("a695434a-e898-43a6-9662-afb02ffa663b")
LABEL_EXT = "extension-definition--8ea66e3e-9f13-48ea-8a0f-a87be27069e0"
MAX_PAGES = 2000
SCO_TYPES = {"artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message", "file",
             "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software", "url",
             "user-account", "windows-registry-key", "x509-certificate"}

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}"[:2000])


def status_of(fn):
    """HTTP status of a taxii2-client call that should fail (None if it did not)."""
    try:
        fn()
    except requests.exceptions.HTTPError as e:
        return e.response.status_code
    return None


def run(phalanx, data, *args):
    return subprocess.run([phalanx, "--data", data, *args], capture_output=True, text=True, timeout=120)


def add_user(phalanx, data, name, role, clearance, briefed, org="CERT-LT"):
    """`phalanx user add` in `org` (the node's organisation by default);
    returns the API token it prints alone on its last line."""
    args = ["user", "add", "--org", org, "--name", name, "--role", role, "--clearance", clearance]
    if briefed:
        args += ["--briefed", ",".join(briefed)]
    out = run(phalanx, data, *args)
    token = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    check(f"user add {name}", out.returncode == 0 and token.startswith("phx_"), out.stderr)
    return token


class Node:
    """A `phalanx serve` process on 127.0.0.1 with an OS-chosen port."""

    def __init__(self, phalanx, data, extra=(), env=None):
        self.proc = subprocess.Popen([phalanx, "--data", data, "serve", "--listen", "127.0.0.1:0", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env={**os.environ, **(env or {})})
        line = [None]
        reader = threading.Thread(target=lambda: line.__setitem__(0, self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(60)
        if not line[0] or not line[0].startswith("listening on "):
            self.stop()
            raise RuntimeError(f"server did not start: {line[0]!r}")
        self.base = line[0].split("listening on ", 1)[1].strip()

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


def label_marking(policy, classification):
    """A Phalanx label marking definition (security-labels.md §6) without
    empty lists or nulls, which STIX forbids (absent = empty)."""
    canonical = f"{policy}|{classification}||||"
    return {
        "type": "marking-definition", "spec_version": "2.1",
        "id": f"marking-definition--{uuid.uuid5(LABEL_NS, canonical)}",
        "created": "2026-01-01T00:00:00.000Z", "name": "RESTREINT UE/EU RESTRICTED",
        "extensions": {LABEL_EXT: {"extension_type": "property-extension", "policy": policy,
                                   "classification": classification}},
    }


def indicator(oid, modified, name, markings):
    return {"type": "indicator", "spec_version": "2.1", "id": oid, "created": "2026-01-01T00:00:00.000Z",
            "modified": modified, "name": name, "pattern": "[domain-name:value = 'evil.example']",
            "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z", "object_marking_refs": markings}


def third_party_objects():
    """Objects of the OASIS bundles that stix2-validator accepts."""
    if not os.path.isdir(SHARED):
        return []
    out = subprocess.run([sys.executable, os.path.join(HERE, "validate_bundles.py"), "--list-valid", SHARED],
                         capture_output=True, text=True, check=True, timeout=600)
    objects, seen = [], set()
    for path in out.stdout.split():
        if "oasis" not in path:
            continue
        with open(path, encoding="utf-8") as f:
            for o in json.load(f).get("objects", []):
                key = (o.get("id"), o.get("modified") or o.get("created"))
                if key not in seen:
                    seen.add(key)
                    objects.append(o)
    return objects


def pages(func, per_request, **kw):
    """as_pages, bounded."""
    out = []
    for n, envelope in enumerate(as_pages(func, per_request=per_request, **kw)):
        if n >= MAX_PAGES:
            raise RuntimeError("too many pages")
        out.append(envelope)
    return out


def validate(objects, label):
    """stix2-validator over a bundle of served objects; returns error texts."""
    if not objects:
        return []
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
    result = validate_instance(bundle, ValidationOptions(version="2.1"))
    errors = []
    for r in getattr(result, "object_results", None) or [result]:
        errors += [f"{label} {getattr(r, 'object_id', '')}: {e}" for e in (r.errors or [])]
    if not result.is_valid and not errors:
        errors.append(f"{label}: bundle invalid")
    return errors


def raw(method, url, user=None, token=None, headers=None, **kw):
    h = {"Accept": TAXII, **(headers or {})}
    auth = (user, token) if user else None
    return requests.request(method, url, auth=auth, headers=h, timeout=30, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--phalanx", required=True)
    args = ap.parse_args()
    phalanx = os.path.abspath(args.phalanx)
    work = tempfile.mkdtemp(prefix="phalanx-taxii-")
    nodes = []
    try:
        data = os.path.join(work, "node")
        init = run(phalanx, data, "init", "--org-name", "CERT-LT", "--country", "LTU", "--member-of", "EU,NATO")
        check("init", init.returncode == 0, init.stderr)
        tokens = {"alice": add_user(phalanx, data, "alice", "analyst", "SECRET", ["EU", "NATO"]),
                  "bob": add_user(phalanx, data, "bob", "viewer", "UNCLASSIFIED", [])}
        # An organisation in the EU but not in NATO: its users do not reach
        # the community-nato collection.
        org = run(phalanx, data, "org", "add", "--name", "CERT-FI", "--country", "FIN", "--member-of", "EU",
                  "--kind", "national-authority")
        check("org add CERT-FI", org.returncode == 0, org.stderr)
        tokens["erin"] = add_user(phalanx, data, "erin", "analyst", "SECRET", ["EU", "NATO"], org="CERT-FI")
        node = Node(phalanx, data)
        nodes.append(node)
        drive(node, tokens)
        code = node.stop()
        check("SIGTERM stops the server cleanly", code == 0, f"exit {code}")
        https(phalanx, data, work, tokens)
    finally:
        for n in nodes:
            n.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def drive(node, tokens):
    discovery = f"{node.base}/taxii2/"
    a = Server(discovery, user="alice", password=tokens["alice"])
    b = Server(discovery, user="bob", password=tokens["bob"])
    anon = Server(discovery)

    # Discovery and API root.
    check("discovery title", bool(a.title))
    check("default is one of api_roots", a.default is not None and a.default.url in [r.url for r in a.api_roots])
    root_a = a.default
    check("api root versions", TAXII in root_a.versions, root_a.versions)
    check("api root max_content_length", isinstance(root_a.max_content_length, int) and root_a.max_content_length > 0)
    check("anonymous discovery", bool(anon.title))
    tok = Server(discovery, auth=TokenAuth(tokens["alice"]))
    check("TokenAuth discovery", bool(tok.title))

    # Collections.
    colls_a = {c.alias: c for c in root_a.collections}
    colls_b = {c.alias: c for c in b.default.collections}
    check("collections listed", {"all", "indicators", "observables", "reports", "inbox"} <= set(colls_a), list(colls_a))
    for alias, c in colls_a.items():
        check(f"collection {alias} id in its url", c.id in c.url and bool(c.title))
    check("alice can read and write all", colls_a["all"].can_read and colls_a["all"].can_write)
    check("bob can read, not write all", colls_b["all"].can_read and not colls_b["all"].can_write)
    check("inbox is write-only", not colls_a["inbox"].can_read and colls_a["inbox"].can_write)
    all_a, all_b = colls_a["all"], colls_b["all"]

    # Add objects: third-party data, versions, a classified and a public object.
    posted = third_party_objects()
    marking = label_marking("EU", "RESTRICTED")
    ind = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
    classified = "indicator--d2e3f4a5-0b1c-4d2e-8f3a-4b5c6d7e8f90"
    public = "indicator--a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
    own = [
        indicator(ind, "2026-01-01T00:00:00.000Z", "v1", [TLP_GREEN]),
        indicator(ind, "2026-02-01T00:00:00.123Z", "v2", [TLP_GREEN]),
        indicator(ind, "2026-03-01T00:00:00.123456Z", "v3", [TLP_GREEN]),
        marking,
        indicator(classified, "2026-01-05T00:00:00.000Z", "classified", [TLP_GREEN, marking["id"]]),
        indicator(public, "2026-01-06T00:00:00.000Z", "public", [TLP_CLEAR]),
    ]
    stored = []
    for start in range(0, len(posted), 200):
        chunk = posted[start:start + 200]
        st = all_a.add_objects({"objects": chunk}, wait_for_completion=True, poll_interval=1, timeout=30)
        ok = st.status == "complete" and st.success_count + st.failure_count + st.pending_count == st.total_count
        check(f"add third-party objects {start}..{start + len(chunk)}: status adds up", ok, st)
        failed_ids = {f["id"] for f in (st.failures or [])}
        stored += [o for o in chunk if o["id"] not in failed_ids]
    st = all_a.add_objects({"objects": own}, wait_for_completion=True, poll_interval=1, timeout=30)
    check("add own objects: all succeed", st.success_count == len(own) and st.failure_count == 0, st.failures)
    check("status successes carry id and version",
          all("id" in s and "version" in s for s in st.successes) and
          any(s["id"] == ind and s["version"] == "2026-02-01T00:00:00.123Z" for s in st.successes))
    stored += own
    st.refresh()
    check("status resource queryable", st.status == "complete" and st.total_count == len(own))
    dup = all_a.add_objects({"objects": own[:1]}, wait_for_completion=True, poll_interval=1, timeout=30)
    check("exact duplicate is a success", dup.success_count == 1 and dup.failure_count == 0)
    bad = all_a.add_objects({"objects": [{"type": "bogus"}, indicator(ind, "2026-01-01T00:00:00.000Z", "changed", [TLP_GREEN])]},
                            wait_for_completion=True, poll_interval=1, timeout=30)
    check("refused objects are failures with a message",
          bad.failure_count == 2 and all(f.get("message") for f in bad.failures), bad.failures)
    r = raw("GET", f"{root_a.url}status/{st.id}/", "bob", tokens["bob"])
    check("another user's status is 404", r.status_code == 404, r.status_code)

    # Get objects: filters, order, headers.
    env = all_a.get_objects(type="indicator", id=[ind, public])
    check("match[type] and match[id]", sorted(o["id"] for o in env["objects"]) == sorted([ind, public]))
    names = lambda e: [o["name"] for o in e.get("objects", [])]
    check("match[version] default last", names(all_a.get_objects(id=ind)) == ["v3"])
    check("match[version]=first", names(all_a.get_objects(id=ind, version="first")) == ["v1"])
    check("match[version]=all", names(all_a.get_objects(id=ind, version="all")) == ["v1", "v2", "v3"])
    check("match[version]=<timestamp> (any precision)",
          names(all_a.get_objects(id=ind, version="2026-02-01T00:00:00.123000Z")) == ["v2"])
    ts = datetime.datetime(2026, 3, 1, 0, 0, 0, 123456, tzinfo=datetime.timezone.utc)
    check("match[version]=<datetime>", names(all_a.get_objects(id=ind, version=ts)) == ["v3"])
    check("match[spec_version]=2.1", len(all_a.get_objects(spec_version="2.1", type="indicator").get("objects", [])) > 0)
    check("match[spec_version]=2.0 gives {}", all_a.get_objects(spec_version="2.0") == {})
    r = raw("GET", f"{all_a.url}objects/", "alice", tokens["alice"], params={"limit": 10})
    body = r.json()
    ids = [o["id"] for o in body["objects"]]
    check("limit=10", len(ids) == 10 and body.get("more") is True and body.get("next"))
    m = raw("GET", f"{all_a.url}manifest/", "alice", tokens["alice"], params={"limit": 10}).json()
    dates = [x["date_added"] for x in m["objects"]]
    check("manifest ascending by date_added", dates == sorted(dates) and len(set(dates)) == len(dates))
    check("date_added has 6 fractional digits", all(len(d) == 27 and d[19] == "." and d.endswith("Z") for d in dates), dates[:2])
    check("X-TAXII-Date-Added headers", r.headers.get("X-TAXII-Date-Added-First") == dates[0]
          and r.headers.get("X-TAXII-Date-Added-Last") == dates[-1], dict(r.headers))
    check("Content-Type on objects", r.headers.get("Content-Type") == TAXII)
    after = datetime.datetime.strptime(dates[4], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    later = all_a.get_manifest(added_after=after, limit=5)
    check("added_after is strictly after", later["objects"][0]["date_added"] == dates[5], later["objects"][0])
    for q in ({"limit": 0}, {"limit": -1}, {"limit": "x"}, {"added_after": "yesterday"}, {"match[version]": "newest"},
              {"match[id]": "not-an-id"}, {"next": "forged"}):
        r = raw("GET", f"{all_a.url}objects/", "alice", tokens["alice"], params=q)
        check(f"400 for {q}", r.status_code == 400 and r.headers.get("Content-Type") == TAXII
              and r.json().get("http_status") == "400", r.text)
    r = requests.get(f"{all_a.url}objects/?match[type]=indicator&match[type]=report",
                     auth=("alice", tokens["alice"]), headers={"Accept": TAXII}, timeout=30)
    check("repeated match field is 400", r.status_code == 400, r.status_code)
    nxt = body["next"]
    r = raw("GET", f"{all_a.url}objects/", "alice", tokens["alice"], params={"limit": 10, "next": nxt, "match[type]": "report"})
    check("next with other filters is 400", r.status_code == 400, r.status_code)
    r = raw("GET", f"{all_a.url}objects/", "bob", tokens["bob"], params={"limit": 10, "next": nxt})
    check("next of another user is 400", r.status_code == 400, r.status_code)
    r = raw("GET", f"{all_a.url}objects/", "alice", tokens["alice"], params={"limit": 3, "next": nxt})
    check("next with another limit continues", r.status_code == 200 and r.json()["objects"][0]["id"] not in ids, r.text[:300])

    # Pagination with as_pages, per user.
    served = {}
    for user, coll in (("alice", all_a), ("bob", all_b)):
        envs = pages(coll.get_objects, 7, version="all", spec_version="2.1")
        objs = [o for e in envs for o in e.get("objects", [])]
        whole = raw("GET", f"{coll.url}objects/", user, tokens[user], params={"match[version]": "all", "limit": 1000}).json()
        check(f"as_pages(get_objects) as {user} equals one big page", [o["id"] for o in objs] == [o["id"] for o in whole.get("objects", [])]
              and whole.get("more") is not True, f"{len(objs)} vs {len(whole.get('objects', []))}")
        man = [x for e in pages(coll.get_manifest, 7, version="all") for x in e.get("objects", [])]
        check(f"as_pages(get_manifest) as {user} lists the same", [x["id"] for x in man] == [o["id"] for o in objs])
        served[user] = objs
    keys = lambda objs: {(o["id"], o.get("modified") or o.get("created")) for o in objs}
    check("label filtering: alice sees the classified object", classified in {o["id"] for o in served["alice"]})
    check("label filtering: bob does not", classified not in {o["id"] for o in served["bob"]})
    check("bob sees a subset of alice", keys(served["bob"]) <= keys(served["alice"]))
    anon_objs = Server(discovery).default.collections[0].get_objects().get("objects", [])
    check("anonymous sees only TLP:CLEAR", public in {o["id"] for o in anon_objs} and ind not in {o["id"] for o in anon_objs})
    check("bob: classified object is 404 like a missing one",
          status_of(lambda: all_b.get_object(classified)) == 404 and status_of(lambda: all_b.get_object("indicator--00000000-0000-4000-8000-000000000000")) == 404)
    back = {(o["id"], o.get("modified") or o.get("created")): o for o in served["alice"]}
    diffs = [o["id"] for o in stored if back.get((o["id"], o.get("modified") or o.get("created"))) != o]
    check("posted objects come back JSON-equal", not diffs, diffs[:5])
    for user in ("alice", "bob"):
        errors = validate(served[user], user)
        check(f"stix2-validator accepts every object served to {user} ({len(served[user])})", not errors, errors[:5])
    for alias, types in (("indicators", {"indicator"}), ("observables", SCO_TYPES), ("reports", {"report"})):
        objs = [o for e in pages(colls_a[alias].get_objects, 50) for o in e.get("objects", [])]
        errors = validate(objs, alias)
        check(f"view {alias}: {len(objs)} objects, valid, of its types",
              objs and not errors and all(o["type"] in types for o in objs), errors[:3])

    # One object and its versions.
    env = all_a.get_object(ind, version="all")
    check("get_object all versions", names(env) == ["v1", "v2", "v3"])
    check("object_versions", all_a.object_versions(ind)["versions"] ==
          ["2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.123Z", "2026-03-01T00:00:00.123456Z"])
    r = raw("GET", f"{all_a.url}objects/{ind}/versions/", "alice", tokens["alice"])
    check("versions carry X-TAXII-Date-Added headers", "X-TAXII-Date-Added-First" in r.headers)

    # Media types and sizes.
    for accept, want in (("application/taxii+json", 200), ("application/json", 406),
                         ("application/taxii+json;version=2.0", 406), ("*/*", 200),
                         ("application/json;q=0.5, application/taxii+json;version=2.1", 200)):
        r = requests.get(discovery, headers={"Accept": accept}, timeout=30)
        check(f"Accept {accept} -> {want}", r.status_code == want and r.headers.get("Content-Type") == TAXII, r.status_code)
    r = raw("POST", f"{all_a.url}objects/", "alice", tokens["alice"], headers={"Content-Type": "application/json"}, data=b'{"objects":[]}')
    check("415 for application/json body", r.status_code == 415 and r.json()["http_status"] == "415", r.status_code)
    conn = http.client.HTTPConnection(node.base.split("//", 1)[1], timeout=30)
    path = "/" + all_a.url.split("/", 3)[3] + "objects/"
    conn.putrequest("POST", path)
    for k, v in (("Accept", TAXII), ("Content-Type", TAXII), ("Content-Length", str(root_a.max_content_length + 1)),
                 ("Authorization", requests.auth._basic_auth_str("alice", tokens["alice"]))):
        conn.putheader(k, v)
    conn.endheaders()
    resp = conn.getresponse()
    check("413 over max_content_length", resp.status == 413 and resp.getheader("Content-Type") == TAXII, resp.status)
    conn.close()

    # Auth and permissions.
    r = requests.get(f"{all_a.url}objects/", auth=("alice", "phx_" + "0" * 64), headers={"Accept": TAXII}, timeout=30)
    check("401 + WWW-Authenticate for a bad token", r.status_code == 401 and r.headers.get("WWW-Authenticate", "").startswith("Basic")
          and r.json()["http_status"] == "401", r.status_code)
    r = requests.post(f"{all_a.url}objects/", headers={"Accept": TAXII, "Content-Type": TAXII}, data=b'{"objects":[]}', timeout=30)
    check("anonymous POST is 401", r.status_code == 401 and "WWW-Authenticate" in r.headers, r.status_code)
    r = raw("POST", f"{all_b.url}objects/", "bob", tokens["bob"], headers={"Content-Type": TAXII}, data=b'{"objects":[]}')
    check("viewer POST is 403", r.status_code == 403, r.status_code)
    inbox = colls_a["inbox"]
    r = raw("GET", f"{inbox.url}objects/", "alice", tokens["alice"])
    check("reading the inbox is 403", r.status_code == 403, r.status_code)
    st = inbox.add_objects({"objects": []}, wait_for_completion=True, poll_interval=1, timeout=30)
    check("posting to the inbox is 202", st.total_count == 0)
    for user, alias, want in (("bob", "all", 403), ("bob", "inbox", 404), ("alice", "inbox", 403), ("alice", "indicators", 403)):
        url = f"{colls_a[alias].url}objects/{ind}/"
        r = raw("DELETE", url, user, tokens[user])
        check(f"DELETE as {user} on {alias} -> {want}", r.status_code == want, r.status_code)
    r = requests.delete(f"{all_a.url}objects/{ind}/", headers={"Accept": TAXII}, timeout=30)
    check("anonymous DELETE is 401", r.status_code == 401, r.status_code)

    # Delete one version, then the object.
    all_a.delete_object(ind, version="2026-03-01T00:00:00.123456Z")
    check("deleted version is 404", status_of(lambda: all_a.get_object(ind, version="2026-03-01T00:00:00.123456Z")) == 404)
    check("previous version is the latest", names(all_a.get_object(ind)) == ["v2"])
    all_a.delete_object(ind)
    check("deleted object is 404", status_of(lambda: all_a.get_object(ind)) == 404)
    check("deleted object has no versions", status_of(lambda: all_a.object_versions(ind)) == 404)
    man = [x["id"] for e in pages(all_a.get_manifest, 100, version="all") for x in e.get("objects", [])]
    check("manifest no longer lists it", ind not in man)

    # Community collections: members only; objects posted without a label
    # marking are labelled releasable to the community.
    check("community collections listed", {"community-eu", "community-nato"} <= set(colls_a), list(colls_a))
    nato_a, nato_b = colls_a["community-nato"], colls_b["community-nato"]
    check("alice can read and write community-nato", nato_a.can_read and nato_a.can_write)
    check("bob can read, not write community-nato", nato_b.can_read and not nato_b.can_write)
    comm = "indicator--c0000000-0000-4000-8000-00000000c001"
    no_label = indicator(comm, "2026-01-01T00:00:00.000Z", "for nato", [TLP_GREEN])
    st = nato_a.add_objects({"objects": [no_label]}, wait_for_completion=True, poll_interval=1, timeout=30)
    check("post to community-nato", st.success_count == 1 and st.failure_count == 0, st.failures)
    rel_nato = f"marking-definition--{uuid.uuid5(LABEL_NS, 'UNCLASSIFIED|UNCLASSIFIED|NATO|||')}"
    got = nato_b.get_object(comm)["objects"][0]
    check("object without a label marking is labelled REL TO NATO", rel_nato in got.get("object_marking_refs", []), got)
    nato_objs = [o for e in pages(nato_b.get_objects, 50) for o in e.get("objects", [])]
    nato_ids = [o["id"] for o in nato_objs]
    check("community-nato lists it, not the EU RESTRICTED object", comm in nato_ids and classified not in nato_ids, nato_ids)
    errors = validate(nato_objs, "community-nato")
    check("community-nato objects pass stix2-validator", not errors, errors[:5])
    eu_ids = [o["id"] for e in pages(colls_a["community-eu"].get_objects, 50) for o in e.get("objects", [])]
    check("community-eu lists the EU RESTRICTED object, not the NATO one", classified in eu_ids and comm not in eu_ids, eu_ids)
    r = raw("POST", f"{nato_b.url}objects/", "bob", tokens["bob"], headers={"Content-Type": TAXII},
            data=json.dumps({"objects": [no_label]}))
    check("bob may not post to community-nato (403; the client refuses it before sending)", r.status_code == 403, r.status_code)
    e = Server(discovery, user="erin", password=tokens["erin"])
    colls_e = {c.alias: c for c in e.default.collections}
    check("erin (not in NATO) sees community-eu, not community-nato",
          "community-eu" in colls_e and "community-nato" not in colls_e, list(colls_e))
    r = raw("GET", f"{nato_a.url}objects/", "erin", tokens["erin"])
    check("community-nato objects are 404 for erin", r.status_code == 404, r.status_code)
    check("erin does not read the NATO object in all", comm not in
          [o["id"] for env in pages(colls_e["all"].get_objects, 50) for o in env.get("objects", [])])

    # Metrics and health.
    h = requests.get(f"{node.base}/api/v1/health", timeout=30)
    check("health", h.status_code == 200 and h.json().get("status") == "ok")
    mt = requests.get(f"{node.base}/metrics", timeout=30).text
    check("metrics count requests by route and status", 'phalanx_http_requests_total{method="GET",route="/taxii2/"' in mt
          and "phalanx_objects_stored_total" in mt)


def https(phalanx, data, work, tokens):
    """The same node over HTTPS with a self-signed certificate."""
    if shutil.which("openssl") is None:
        check("https (skipped: no openssl)", True)
        return
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                           "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext",
                           "subjectAltName=IP:127.0.0.1,DNS:localhost", "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
                           "-addext", "extendedKeyUsage=serverAuth", "-keyout", key, "-out", cert],
                          capture_output=True, timeout=60)
    if made.returncode != 0:
        check("https certificate", False, made.stderr)
        return
    # requests prefers REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE over a session's
    # own `verify` path: drop them so the client trusts exactly our cert.
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        os.environ.pop(var, None)
    node = Node(phalanx, data, extra=["--tls-cert", cert, "--tls-key", key])
    try:
        check("https listener", node.base.startswith("https://127.0.0.1:"), node.base)
        srv = Server(f"{node.base}/taxii2/", user="alice", password=tokens["alice"], verify=cert)
        coll = [c for c in srv.default.collections if c.alias == "all"][0]
        env = coll.get_objects(limit=5)
        check("taxii2-client over https", len(env.get("objects", [])) == 5)
    except Exception as e:  # report, do not crash: the count must print
        check("taxii2-client over https", False, repr(e))
    finally:
        code = node.stop()
        check("https server stops cleanly", code == 0, f"exit {code}")


if __name__ == "__main__":
    sys.exit(main())
