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
import urllib.error
import urllib.request


def opener():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())


def fetch(op, url, data=None):
    start = time.perf_counter()
    with op.open(url, data=data, timeout=120) as r:
        body = r.read().decode()
        status = r.status
    return status, body, (time.perf_counter() - start) * 1000


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Stops at the login's 303, so that the login and the first dashboard are timed apart."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def login(op, base, user, password):
    """Signs in; returns the first dashboard, the login time and the first dashboard's time."""
    _, page, _ = fetch(op, base + "/ui/login")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf": token, "name": user, "password": password}).encode()
    start = time.perf_counter()
    try:
        with op.open(base + "/ui/login", data=form, timeout=120) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    login_ms = (time.perf_counter() - start) * 1000
    if status != 303:
        sys.exit(f"login as {user} failed ({status})")
    status, body, first_ms = fetch(op, base + "/")
    if "Common operating picture" not in body:
        sys.exit(f"the first dashboard of {user} failed ({status})")
    return body, login_ms, first_ms


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
    first, login_ms, cold = login(op, a.base, a.user, a.password)
    open_incidents = re.search(r'data-open="(\d+)"', first).group(1)
    rows = [("first dashboard (daily counts computed)", 300, cold, cold, cold)]
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
    print(f"login (argon2id, 303): {login_ms:.1f} ms; first dashboard, daily counts not yet kept for this reader: {cold:.1f} ms")
    print(f"{'page':44} {'target':>7} {'median':>8} {'p95':>8} {'max':>8} {'target/median':>14}")
    ok = True
    for name, target, med, p95, mx in rows:
        print(f"{name:44} {target:>5}ms {med:>6.1f}ms {p95:>6.1f}ms {mx:>6.1f}ms {target / med:>13.2f}x")
        ok = ok and med < target
    print("targets met" if ok else "targets NOT met")


if __name__ == "__main__":
    main()
