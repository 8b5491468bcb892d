#!/usr/bin/env python3
"""Differential test: the phalanx-matcher pattern evaluator against OASIS stix2-matcher 3.0.0.

Generates seeded cases (a STIX pattern and a bundle of observed-data with its SCOs), asks
  - the reference: stix2matcher.matcher.match(pattern, [bundle], stix_version="2.1") is non-empty
    (an exception counts as "error"), and
  - ours: the `match_cases` example of crates/phalanx-matcher (`true`, `false` or `error ...`),
and compares the verdicts. Cases listed in ```known-difference blocks of DIFFERENCES.md (as the
JSON case line) must differ; every other case must agree (both "error" counts as agreement).
Prints each mismatch and ends with `N passed, M failed`; exits 1 on any failure.

Usage (needs the interop venv, see interop/install.sh):
  .venv-interop/bin/python interop/matcher/differential.py [--cases N] [--seed S] [--bin PATH] [-v]
"""

import argparse
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

IPS = ["10.0.0.1", "10.0.0.2", "192.168.1.5", "203.0.113.9"]
CIDRS = ["10.0.0.0/8", "10.0.0.0/31", "192.168.0.0/16", "203.0.113.0/24", "10.0.0.2/32"]
DOMAINS = ["evil.example", "a.evil.example", "good.example", "Evil.Example"]
PORTS = [53, 80, 443, 8080]
PROTOCOLS = ["tcp", "udp", "dns", "tls"]
MD5S = ["d41d8cd98f00b204e9800998ecf8427e", "0cc175b9c0f1b6a831c399e269772661"]
SHA256S = ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]
NAMES = ["a.exe", "b.dll", "abc.exe", "readme.txt"]
SIZES = [0, 10, 1024, 10.5]
EMAILS = ["bad@evil.example", "boss@good.example"]
URLS = ["http://evil.example/x", "https://good.example/"]
BASE = 1577836800  # 2020-01-01T00:00:00Z


def ts(secs):
    import datetime
    return datetime.datetime.fromtimestamp(BASE + secs, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def lit(v):
    if isinstance(v, str):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(v)


class Gen:
    def __init__(self, rng):
        self.r = rng
        self.n = 0

    def ident(self, t):
        self.n += 1
        return "%s--00000000-0000-4000-8000-%012d" % (t, self.n)

    def scos(self):
        r = self.r
        objs = []
        ips = []
        for _ in range(r.randint(0, 2)):
            o = {"type": "ipv4-addr", "id": self.ident("ipv4-addr"), "value": r.choice(IPS)}
            ips.append(o["id"])
            objs.append(o)
        kinds = r.sample(["domain", "traffic", "file", "email", "url", "artifact"], r.randint(1, 3))
        for k in kinds:
            if k == "domain":
                o = {"type": "domain-name", "id": self.ident("domain-name"), "value": r.choice(DOMAINS)}
                if ips and r.random() < 0.5:
                    o["resolves_to_refs"] = ips[:]
            elif k == "traffic":
                o = {"type": "network-traffic", "id": self.ident("network-traffic"),
                     "protocols": r.sample(PROTOCOLS, r.randint(1, 2))}
                if ips:
                    o["src_ref"] = ips[0]
                    o["dst_ref"] = ips[-1]
                if r.random() < 0.8:
                    o["dst_port"] = r.choice(PORTS)
                if r.random() < 0.5:
                    o["src_port"] = r.choice(PORTS + [40000])
            elif k == "file":
                o = {"type": "file", "id": self.ident("file"), "hashes": {"MD5": r.choice(MD5S)}}
                if r.random() < 0.5:
                    o["hashes"]["SHA-256"] = r.choice(SHA256S)
                if r.random() < 0.7:
                    o["name"] = r.choice(NAMES)
                if r.random() < 0.7:
                    o["size"] = r.choice(SIZES)
                if r.random() < 0.5:
                    o["ctime"] = ts(r.choice([0, 3600, 86400]))
            elif k == "artifact":
                o = {"type": "artifact", "id": self.ident("artifact"), "payload_bin": r.choice(["AAE=", "aGVsbG8=", "/w=="])}
            elif k == "email":
                o = {"type": "email-addr", "id": self.ident("email-addr"), "value": r.choice(EMAILS)}
            else:
                o = {"type": "url", "id": self.ident("url"), "value": r.choice(URLS)}
            objs.append(o)
        return objs

    def bundle(self):
        r = self.r
        objects = []
        for _ in range(r.randint(1, 3)):
            scos = self.scos()
            first = r.randint(0, 600)
            od = {"type": "observed-data", "spec_version": "2.1", "id": self.ident("observed-data"),
                  "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z",
                  "first_observed": ts(first), "last_observed": ts(first + r.choice([0, 0, 30, 120])),
                  "number_observed": r.choice([1, 1, 2, 3]), "object_refs": [o["id"] for o in scos]}
            objects.append(od)
            objects.extend(scos)
        return objects

    def comparison(self):
        r = self.r
        neg = "NOT " if r.random() < 0.15 else ""
        choice = r.randrange(16)
        if choice == 14:
            return "file:ctime %s%s t'%s'" % (neg, r.choice(["=", "<", ">="]), ts(r.choice([0, 3600, 7200])))
        if choice == 15:
            return "artifact:payload_bin %s" % r.choice(["= h'0001'", "= b'aGVsbG8='", "= 'hello'", "> h'00'", "LIKE 'hel%'", "MATCHES '^h'"])
        if choice == 0:
            return "ipv4-addr:value %s= %s" % (r.choice(["", "!"]), lit(r.choice(IPS)))
        if choice == 1:
            return "ipv4-addr:value %sISSUBSET %s" % (neg, lit(r.choice(CIDRS)))
        if choice == 2:
            return "ipv4-addr:value %sIN (%s)" % (neg, ", ".join(lit(x) for x in r.sample(IPS, 2)))
        if choice == 3:
            return "domain-name:value %s= %s" % (neg, lit(r.choice(DOMAINS)))
        if choice == 4:
            return "domain-name:value %sLIKE %s" % (neg, lit(r.choice(["%.evil.example", "evil%", "_.evil.example", "%Example"])))
        if choice == 5:
            return "domain-name:value %sMATCHES %s" % (neg, lit(r.choice(["evil", "^a\\.", "example$", "[Ee]vil"])))
        if choice == 6:
            return "domain-name:resolves_to_refs[*].value = %s" % lit(r.choice(IPS))
        if choice == 7:
            op = r.choice(["=", "!=", "<", ">", "<=", ">="])
            return "network-traffic:dst_port %s%s %d" % (neg, op, r.choice(PORTS))
        if choice == 8:
            return "network-traffic:protocols[%s] = %s" % (r.choice(["*", "0", "1"]), lit(r.choice(PROTOCOLS)))
        if choice == 9:
            return "network-traffic:%s.value %s" % (r.choice(["src_ref", "dst_ref"]),
                                                     r.choice(["= " + lit(r.choice(IPS)), "ISSUBSET " + lit(r.choice(CIDRS))]))
        if choice == 10:
            algo, pool = r.choice([("MD5", MD5S), ("'SHA-256'", SHA256S)])
            return "file:hashes.%s %s= %s" % (algo, r.choice(["", "!"]), lit(r.choice(pool)))
        if choice == 11:
            return r.choice(["file:name %sLIKE %s" % (neg, lit(r.choice(["a%", "%.exe", "___.exe"]))),
                             "file:size %s%s %s" % (neg, r.choice(["=", "<", ">", ">="]), r.choice(["10", "10.0", "1024", "5"])),
                             "file:size IN (10, 1024)",
                             "file:name > 'b'"])
        if choice == 12:
            return "email-addr:value = %s" % lit(r.choice(EMAILS))
        return "url:value %s" % r.choice(["= " + lit(r.choice(URLS)), "LIKE 'http://%'", "MATCHES '^https'"])

    def comparison_expr(self):
        r = self.r
        items = [self.comparison()]
        for _ in range(r.choice([0, 0, 1, 2])):
            items.append(self.comparison())
        if len(items) == 1:
            return items[0]
        ops = [r.choice([" AND ", " OR "]) for _ in items[1:]]
        out = items[0]
        for op, item in zip(ops, items[1:]):
            out += op + item
        return out

    def observation(self, depth=0):
        r = self.r
        if depth < 2 and r.random() < 0.35:
            n = r.randint(2, 3)
            op = r.choice([" AND ", " OR ", " FOLLOWEDBY "])
            inner = op.join(self.observation(depth + 1) for _ in range(n))
            return "(" + inner + ")" + self.qualifier(force=r.random() < 0.5)
        return "[" + self.comparison_expr() + "]" + self.qualifier()

    def qualifier(self, force=False):
        r = self.r
        if not force and r.random() < 0.75:
            return ""
        q = r.randrange(3)
        if q == 0:
            return " WITHIN %d SECONDS" % r.choice([1, 30, 60, 300, 900])
        if q == 1:
            return " REPEATS %d TIMES" % r.choice([2, 3])
        a = r.randint(-60, 700)
        return " START t'%s' STOP t'%s'" % (ts(a), ts(a + r.choice([1, 60, 300, 900])))

    def case(self):
        return {"pattern": self.observation(), "objects": self.bundle()}


def reference(case):
    from stix2matcher.matcher import match
    bundle = {"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": case["objects"]}
    try:
        return "true" if match(case["pattern"], [bundle], stix_version="2.1") else "false"
    except Exception as e:  # noqa: BLE001 - the reference raises on inputs it cannot evaluate
        return "error %s: %s" % (type(e).__name__, str(e).replace("\n", " "))


def ours(lines, binary):
    if binary:
        cmd = [binary]
    else:
        cmd = ["cargo", "run", "--quiet", "--package", "phalanx-matcher", "--example", "match_cases"]
    data = "".join(l + "\n" for l in lines).encode("utf-8")
    proc = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, cwd=ROOT, check=True)
    out = proc.stdout.decode("utf-8").split("\n")
    if out and out[-1] == "":
        out.pop()
    if len(out) != len(lines):
        sys.exit("match_cases printed %d lines for %d cases" % (len(out), len(lines)))
    return out


def read_known_differences(path):
    known = set()
    inside = False
    with open(path, encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if not inside and line.strip() == "```known-difference":
                inside = True
            elif inside and line.strip() == "```":
                inside = False
            elif inside and line:
                known.add(line)
    return known


def kind(verdict):
    return "error" if verdict.startswith("error") else verdict


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--bin", help="path to a built match_cases example (default: cargo run)")
    ap.add_argument("--differences", default=os.path.join(HERE, "DIFFERENCES.md"))
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    gen = Gen(random.Random(args.seed))
    cases = [gen.case() for _ in range(args.cases)]
    known = read_known_differences(args.differences)
    lines = [json.dumps(c, sort_keys=True) for c in cases] + sorted(known)
    all_cases = cases + [json.loads(k) for k in sorted(known)]
    theirs = [reference(c) for c in all_cases]
    mine = ours(lines, args.bin)

    passed = failed = 0
    tally = {}
    for line, t, o in zip(lines, theirs, mine):
        same = kind(t) == kind(o)
        tally[kind(t)] = tally.get(kind(t), 0) + 1
        if line in known:
            if same:
                failed += 1
                print("STALE known difference (both %s): %s" % (kind(o), line))
            else:
                passed += 1
                if args.verbose:
                    print("documented difference: %s\n  stix2-matcher %s\n  phalanx       %s" % (line, t, o))
        elif same:
            passed += 1
        else:
            failed += 1
            print("MISMATCH: %s\n  stix2-matcher %s\n  phalanx       %s" % (line, t, o))
    print("cases: %d generated (seed %d) + %d documented differences; reference verdicts: %s"
          % (len(cases), args.seed, len(known), ", ".join("%s %d" % kv for kv in sorted(tally.items()))))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
