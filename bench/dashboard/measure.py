#!/usr/bin/env python3
"""Times the web UI of a running node: logs in (form, double-submit token),
then GETs the dashboard, its live-update fragment, object pages and
incident pages, each several times, and prints median, p95 and max in ms
against the targets (dashboard < 300 ms, any object page < 100 ms).

  measure.py --base URL --user NAME --password PW [--rounds 15]
"""
import argparse
import http.cookiejar
import re
import statistics
import sys
import time
import urllib.parse
import urllib.request


def opener():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def fetch(op, url, data=None):
    start = time.perf_counter()
    with op.open(url, data=data, timeout=120) as r:
        body = r.read().decode()
        status = r.status
    return status, body, (time.perf_counter() - start) * 1000


def login(op, base, user, password):
    _, page, _ = fetch(op, base + "/ui/login")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf": token, "name": user, "password": password}).encode()
    status, body, ms = fetch(op, base + "/ui/login", form)
    if "Common operating picture" not in body:
        sys.exit(f"login as {user} failed ({status})")
    return body, ms


def timed(op, url, rounds):
    times = []
    body = ""
    for _ in range(rounds):
        status, body, ms = fetch(op, url)
        if status != 200:
            sys.exit(f"{url}: {status}")
        times.append(ms)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return statistics.median(times), p95, times[-1], body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    op = opener()
    first, cold = login(op, a.base, a.user, a.password)
    open_incidents = re.search(r'data-open="(\d+)"', first).group(1)
    rows = []
    fetch(op, a.base + "/")  # warm-up
    rows.append(("dashboard /", 300) + timed(op, a.base + "/", a.rounds)[:3])
    rows.append(("fragment /ui/fragment/picture", 300) + timed(op, a.base + "/ui/fragment/picture", a.rounds)[:3])
    _, search, _ = fetch(op, a.base + "/ui/search?type=indicator")
    ids = re.findall(r'class="result" data-id="([^"]+)"', search)[:5]
    _, incidents, _ = fetch(op, a.base + "/ui/search?type=incident")
    incident_ids = re.findall(r'class="result" data-id="([^"]+)"', incidents)[:5]
    worst = (0.0, 0.0, 0.0)
    for i in ids:
        r = timed(op, a.base + "/ui/object/" + urllib.parse.quote(i), max(3, a.rounds // 3))
        worst = max(worst, r[:3], key=lambda t: t[0])
    rows.append((f"object page ({len(ids)} indicators, slowest)", 100) + worst)
    worst = (0.0, 0.0, 0.0)
    for i in incident_ids:
        r = timed(op, a.base + "/ui/incident/" + urllib.parse.quote(i), max(3, a.rounds // 3))
        worst = max(worst, r[:3], key=lambda t: t[0])
    rows.append((f"incident page ({len(incident_ids)} incidents, slowest)", 100) + worst)
    print(f"user {a.user}: {open_incidents} open incidents on the dashboard")
    print(f"login (argon2id) + first dashboard, daily counts not yet kept for this reader: {cold:.1f} ms")
    print(f"{'page':44} {'target':>7} {'median':>8} {'p95':>8} {'max':>8} {'target/median':>14}")
    ok = True
    for name, target, med, p95, mx in rows:
        print(f"{name:44} {target:>5}ms {med:>6.1f}ms {p95:>6.1f}ms {mx:>6.1f}ms {target / med:>13.2f}x")
        ok = ok and med < target
    print("targets met" if ok else "targets NOT met")


if __name__ == "__main__":
    main()
