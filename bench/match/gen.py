#!/usr/bin/env python3
"""Seeded corpus of the match benchmark (issue 6): indicators and Zeek dns-style events.

  gen.py OUTDIR [--indicators 1000000] [--events 2000000] [--hit-rate 0.01] [--seed 6]

Writes into OUTDIR:
  indicators.jsonl  one STIX 2.1 indicator a line: half `[ipv4-addr:value = 'A.B.C.D']`,
                    half `[domain-name:value = 'name.tld']`
  iocs.txt          the same values, one a line (for `rg -F -f`)
  dns.json          Zeek dns.log JSON lines (about 290 bytes each); a fraction --hit-rate of
                    the events carry an indicator value in `query`, `answers` or `id.resp_h`
Standard library only; the same seed gives the same bytes.
"""
import argparse
import os
import random

TLDS = ["com", "net", "org", "info", "io", "de", "fr", "lt", "eu", "ru"]
WORDS = ["alpha", "beta", "cloud", "data", "edge", "fast", "grid", "host", "info", "jet",
         "kilo", "link", "mail", "node", "open", "port", "quad", "relay", "sync", "text"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--indicators", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--hit-rate", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=6)
    a = ap.parse_args()
    r = random.Random(a.seed)
    os.makedirs(a.outdir, exist_ok=True)

    ips, domains = [], []
    half = a.indicators // 2
    seen = set()
    while len(ips) < half:
        first = r.randint(11, 223)
        if first == 172:  # 172.16/12 is the benign answer range of the events
            continue
        ip = "%d.%d.%d.%d" % (first, r.randint(0, 255), r.randint(0, 255), r.randint(1, 254))
        if ip not in seen:
            seen.add(ip)
            ips.append(ip)
    while len(domains) < a.indicators - half:
        d = "%s%d-%s.%s" % (r.choice(WORDS), r.randint(0, 999999), r.choice(WORDS), r.choice(TLDS))
        if d not in seen:
            seen.add(d)
            domains.append(d)

    with open(os.path.join(a.outdir, "indicators.jsonl"), "w") as f, open(os.path.join(a.outdir, "iocs.txt"), "w") as t:
        for i, v in enumerate(ips + domains):
            kind = "ipv4-addr" if i < len(ips) else "domain-name"
            f.write('{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-0000-4000-8000-%012x",'
                    '"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z",'
                    '"pattern":"[%s:value = \'%s\']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}\n'
                    % (i, i, kind, v))
            t.write(v + "\n")

    benign_hosts = ["%s.%s.example" % (r.choice(WORDS), r.choice(WORDS)) for _ in range(5000)]
    hits = 0
    with open(os.path.join(a.outdir, "dns.json"), "w") as f:
        base = 1711900000.0
        for n in range(a.events):
            ts = base + n * 0.001
            orig = "10.%d.%d.%d" % (r.randint(0, 255), r.randint(0, 255), r.randint(1, 254))
            resp = "10.0.0.%d" % r.randint(1, 20)
            query = r.choice(benign_hosts)
            answer_ip = "172.16.%d.%d" % (r.randint(0, 255), r.randint(1, 254))
            if r.random() < a.hit_rate:
                hits += 1
                which = r.randrange(3)
                if which == 0:
                    query = r.choice(domains)
                elif which == 1:
                    answer_ip = r.choice(ips)
                else:
                    resp = r.choice(ips)
            f.write('{"_path":"dns","ts":%.6f,"uid":"C%015x",'
                    '"id.orig_h":"%s","id.orig_p":%d,"id.resp_h":"%s","id.resp_p":53,"proto":"udp",'
                    '"trans_id":%d,"query":"%s","qtype_name":"A",'
                    '"rcode_name":"NOERROR",'
                    '"answers":["%s"],"TTLs":[300.0]}\n'
                    % (ts, r.getrandbits(60), orig, r.randint(1024, 65535), resp, r.randint(0, 65535), query, answer_ip))
    # Each hit event carries exactly one indicator value: the number of match records expected.
    with open(os.path.join(a.outdir, "expected-matches.txt"), "w") as f:
        f.write("%d\n" % hits)


if __name__ == "__main__":
    main()
