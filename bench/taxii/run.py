#!/usr/bin/env python3
"""TAXII 2.1 server benchmark (issue "HTTP node", performance targets).

  run.py --phalanx BIN [--objects N] [--duration S] [--connections C]
         [--post-bundles K] [--no-medallion] [--no-nginx] [--post-on-big]

Measured in one run, on loopback, with wrk (Debian) as the bounded load
generator for every server:

1. **Pages at 1M objects.** A node holding N objects (default 1,000,000,
   made by bench/gen_corpus.py and `phalanx import`, reused from
   bench/out/taxii_<N> when it already holds them). C clients (default 32)
   GET `/taxii2/root/collections/<all>/objects/?limit=100&added_after=T`
   for S seconds, T drawn at random from the store's date_added range, so
   every request is a different 100-object page. Target: p99 < 20 ms.
2. **nginx.** The same bytes as one page, served by nginx (Debian) as a
   static file, same clients and duration. Target: Phalanx pages/s >= 0.25
   x nginx requests/s.
3. **medallion.** OASIS medallion 3.0 (memory backend) and a fresh Phalanx
   node each hold the same 200 objects (posted through TAXII); 4 clients
   GET `?limit=100` pages from each for S seconds. Target: Phalanx >= 1000
   x medallion.
4. **POST.** K bundles (default 10) of 10,000 new objects each are POSTed
   one after the other to a fresh node; objects/s from the first byte sent
   to the last status received. Target: >= 50,000 objects/s. With
   --post-on-big, the same bundles also go to a copy of the node of step 1
   (no target: it shows how a write's cost grows with the store).

Prints one line per figure and a PASS/FAIL verdict per target; exit 0
when all pass, 1 when one misses, 2 when the benchmark could not run.
"""

import argparse
import base64
import gc
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "bench", "out")
GEN = os.path.join(ROOT, "bench", "gen_corpus.py")
TAXII = "application/taxii+json;version=2.1"


def log(msg):
    print(f"run.py: {msg}", file=sys.stderr, flush=True)


def fail(msg):
    log(msg)
    sys.exit(2)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            fail(f"{what} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    fail(f"{what} did not listen on {port} within {timeout} s")


def stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def phalanx(bin_, data, *args, stdin=None):
    out = subprocess.run([bin_, "--data", data, *args], capture_output=True, text=True, stdin=stdin, timeout=3600)
    if out.returncode != 0:
        fail(f"phalanx {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()[-800:]}")
    return out.stdout


def make_node(bin_, data):
    """A fresh node with one analyst; returns the analyst's API token."""
    phalanx(bin_, data, "init", "--org-name", "CERT-LT", "--country", "LTU", "--member-of", "EU,NATO")
    out = phalanx(bin_, data, "user", "add", "--org", "CERT-LT", "--name", "bench", "--role", "analyst",
                  "--clearance", "SECRET", "--briefed", "EU,NATO")
    token = out.strip().splitlines()[-1]
    if not token.startswith("phx_"):
        fail(f"user add printed no token: {out!r}")
    return token


def serve(bin_, data):
    port = free_port()
    log_file = open(os.path.join(data, "serve.log"), "w")
    # One token drives all the load: the per-token rate limit is off.
    env = {**os.environ, "PHALANX_RATE_LIMIT_PER_SEC": "0"}
    proc = subprocess.Popen([bin_, "--data", data, "serve", "--listen", f"127.0.0.1:{port}"],
                            stdout=log_file, stderr=subprocess.STDOUT, env=env)
    wait_port(port, proc, "phalanx serve")
    return proc, port


def request(url, headers, body=None, method=None):
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    with urllib.request.urlopen(req, timeout=600) as resp:
        return resp.status, resp.headers, resp.read()


def auth_headers(token):
    return {"Accept": TAXII, "Authorization": f"Bearer {token}"}


def all_collection(port, token, prefix="/taxii2/root"):
    _, _, body = request(f"http://127.0.0.1:{port}{prefix}/collections/", auth_headers(token))
    for c in json.loads(body)["collections"]:
        if c.get("alias") == "all":
            return c["id"]
    fail("no collection with alias 'all'")


def wrk(url, headers, connections, duration, lua=None):
    """Runs wrk; returns (requests/s, p99 ms, requests, non-2xx)."""
    args = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--latency", "--timeout", "10s"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    if lua:
        args += ["-s", lua]
    args.append(url)
    out = subprocess.run(args, capture_output=True, text=True, timeout=duration + 120)
    if out.returncode != 0:
        fail(f"wrk failed: {out.stderr.strip()}")
    text = out.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    total = re.search(r"(\d+) requests in", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    if not (rps and p99 and total):
        fail(f"could not read wrk output:\n{text}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    if errors:
        log(f"wrk socket errors: {errors.group(1)}")
    return float(rps.group(1)), float(p99.group(1)) * scale, int(total.group(1)), int(non2xx.group(1)) if non2xx else 0


def store_objects(bin_, data):
    out = subprocess.run([bin_, "--data", data, "stats"], capture_output=True, text=True)
    m = re.search(r"^objects:\s+(\d+)", out.stdout, re.M) if out.returncode == 0 else None
    return int(m.group(1)) if m else -1


def ensure_big_store(bin_, n):
    """bench/out/taxii_<n>: a node holding n objects; returns (data, token)."""
    data = os.path.join(OUT, f"taxii_{n}")
    token_file = os.path.join(data, "bench.token")
    if os.path.exists(token_file) and store_objects(bin_, data) >= n * 0.9:
        log(f"reusing {data}")
        return data, open(token_file).read().strip()
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    token = make_node(bin_, data)
    log(f"generating and importing {n} objects into {data}")
    gen = subprocess.Popen([sys.executable, GEN, "--count", str(n), "--seed", "42"], stdout=subprocess.PIPE)
    t0 = time.time()
    imp = subprocess.run([bin_, "--data", data, "import", "--as", "bench", "-"], stdin=gen.stdout,
                         capture_output=True, text=True, timeout=7200)
    gen.stdout.close()
    gen.wait()
    if imp.returncode not in (0, 1):
        fail(f"import failed: {imp.stderr.strip()[-800:]}")
    log(f"imported in {time.time() - t0:.1f} s")
    with open(token_file, "w") as f:
        f.write(token)
    return data, token


def parse_ts(text):
    # 2026-11-28T23:40:43.123456Z -> microseconds since the epoch
    import datetime
    dt = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


def fmt_ts(us):
    import datetime
    dt = datetime.datetime.fromtimestamp(us // 1_000_000, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{us % 1_000_000:06d}Z"


def pages_bench(args, work):
    data, token = ensure_big_store(args.phalanx, args.objects)
    proc, port = serve(args.phalanx, data)
    try:
        coll = all_collection(port, token)
        base = f"http://127.0.0.1:{port}/taxii2/root/collections/{coll}/objects/"
        _, h, _ = request(base + "?limit=1", auth_headers(token))
        first = parse_ts(h["X-TAXII-Date-Added-First"])
        last_text = subprocess.run([args.phalanx, "--data", data, "stats"], capture_output=True, text=True).stdout
        m = re.search(r"^last added:\s+(\S+)", last_text, re.M)
        if not m:
            fail(f"phalanx stats printed no 'last added': {last_text!r}")
        last = parse_ts(m.group(1))
        # Random added_after values, leaving room for a full page at the end.
        span = max(1, int((last - first) * 0.999))
        rng = random.Random(7)
        stamps = [fmt_ts(first + rng.randrange(span)) for _ in range(20000)]
        lua = os.path.join(work, "pages.lua")
        with open(lua, "w") as f:
            f.write("local stamps = {" + ",".join(f'"{s}"' for s in stamps) + "}\n")
            f.write("local path = \"/taxii2/root/collections/%s/objects/?limit=100&added_after=\"\n" % coll)
            f.write("math.randomseed(11)\n")
            f.write("request = function()\n  return wrk.format(\"GET\", path .. stamps[math.random(#stamps)])\nend\n")
        # Check one page: 100 objects, and save its bytes for nginx.
        status, _, body = request(base + "?limit=100&added_after=" + stamps[0], auth_headers(token))
        page = json.loads(body)
        if status != 200 or len(page.get("objects", [])) != 100:
            fail(f"a sample page has {len(page.get('objects', []))} objects (status {status})")
        page_file = os.path.join(work, "page.json")
        with open(page_file, "wb") as f:
            f.write(body)
        rps, p99, n, bad = wrk(base, auth_headers(token), args.connections, args.duration, lua)
        print(f"phalanx pages ({args.objects} objects, {args.connections} clients, {args.duration} s): "
              f"{rps:.0f} pages/s, p99 {p99:.2f} ms, {n} requests, {bad} non-2xx; page {len(body)} bytes")
        if bad:
            fail(f"{bad} pages answered with an error status")
        return rps, p99, page_file
    finally:
        stop(proc)


NGINX_CONF = """worker_processes auto;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
daemon off;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {work}/nginx-tmp;
    proxy_temp_path {work}/nginx-tmp;
    fastcgi_temp_path {work}/nginx-tmp;
    uwsgi_temp_path {work}/nginx-tmp;
    scgi_temp_path {work}/nginx-tmp;
    types {{ application/taxii+json json; }}
    server {{
        listen 127.0.0.1:{port};
        root {work}/www;
    }}
}}
"""


def nginx_bench(args, work, page_file):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        fail("nginx is not installed (apt-get install nginx)")
    os.makedirs(os.path.join(work, "www"), exist_ok=True)
    os.makedirs(os.path.join(work, "nginx-tmp"), exist_ok=True)
    shutil.copy(page_file, os.path.join(work, "www", "page.json"))
    port = free_port()
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(work=work, port=port))
    proc = subprocess.Popen([nginx, "-c", conf, "-e", os.path.join(work, "nginx-error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc, "nginx")
        url = f"http://127.0.0.1:{port}/page.json"
        _, _, body = request(url, {})
        if body != open(page_file, "rb").read():
            fail("nginx does not serve the page bytes")
        rps, p99, n, bad = wrk(url, {}, args.connections, args.duration)
        print(f"nginx static page ({args.connections} clients, {args.duration} s): {rps:.0f} pages/s, "
              f"p99 {p99:.2f} ms, {n} requests, {bad} non-2xx")
        return rps
    finally:
        stop(proc)


def corpus(count, seed):
    out = subprocess.run([sys.executable, GEN, "--count", str(count), "--seed", str(seed)],
                         capture_output=True, text=True, check=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def envelope_bundle(objects):
    return json.dumps({"objects": objects}).encode()


MEDALLION_DATA = {
    "/discovery": {"title": "bench", "default": None, "api_roots": []},
    "api1": {
        "information": {"title": "bench", "versions": [TAXII], "max_content_length": 100 << 20},
        "status": [],
        "collections": [{
            "id": "472c94ae-3113-4e3e-a4dd-a9f4ac7471d4", "title": "bench", "can_read": True,
            "can_write": True, "media_types": [TAXII], "objects": [], "manifest": [],
        }],
    },
}


def medallion_bench(args, work, objects):
    med = os.path.join(ROOT, ".venv-interop", "bin", "medallion")
    if not os.path.exists(med):
        fail("medallion is not installed (interop/install.sh)")
    port = free_port()
    data = json.loads(json.dumps(MEDALLION_DATA))
    data["/discovery"]["default"] = f"http://127.0.0.1:{port}/api1/"
    data["/discovery"]["api_roots"] = [f"http://127.0.0.1:{port}/api1/"]
    data_file = os.path.join(work, "medallion-data.json")
    with open(data_file, "w") as f:
        json.dump(data, f)
    cfg = os.path.join(work, "medallion.json")
    with open(cfg, "w") as f:
        json.dump({"backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                               "filename": data_file},
                   "users": {"admin": "Password0"}, "taxii": {"max_page_size": 100}}, f)
    log_file = open(os.path.join(work, "medallion.log"), "w")
    proc = subprocess.Popen([med, "--host", "127.0.0.1", "--port", str(port), "--log-level", "WARN", cfg],
                            stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, "medallion")
        basic = base64.b64encode(b"admin:Password0").decode()
        headers = {"Accept": TAXII, "Authorization": f"Basic {basic}"}
        coll = MEDALLION_DATA["api1"]["collections"][0]["id"]
        base = f"http://127.0.0.1:{port}/api1/collections/{coll}/objects/"
        request(base, {**headers, "Content-Type": TAXII}, envelope_bundle(objects), "POST")
        time.sleep(1)
        _, _, body = request(base + "?limit=100", headers)
        got = len(json.loads(body).get("objects", []))
        if got != 100:
            fail(f"medallion serves {got} objects in a page of 100")
        rps, p99, n, bad = wrk(base + "?limit=100", headers, 4, args.duration)
        print(f"medallion 3.0 memory backend ({len(objects)} objects, 4 clients, {args.duration} s): "
              f"{rps:.2f} pages/s, p99 {p99:.0f} ms, {n} requests, {bad} non-2xx")
        return rps
    finally:
        stop(proc)


def small_phalanx_bench(args, work, objects):
    data = os.path.join(work, "small")
    os.makedirs(data)
    token = make_node(args.phalanx, data)
    proc, port = serve(args.phalanx, data)
    try:
        coll = all_collection(port, token)
        base = f"http://127.0.0.1:{port}/taxii2/root/collections/{coll}/objects/"
        request(base, {**auth_headers(token), "Content-Type": TAXII}, envelope_bundle(objects), "POST")
        _, _, body = request(base + "?limit=100", auth_headers(token))
        got = len(json.loads(body).get("objects", []))
        if got != 100:
            fail(f"phalanx serves {got} objects in a page of 100 at 200 objects")
        rps, p99, n, bad = wrk(base + "?limit=100", auth_headers(token), 4, args.duration)
        print(f"phalanx ({len(objects)} objects, 4 clients, {args.duration} s): {rps:.0f} pages/s, "
              f"p99 {p99:.2f} ms, {n} requests, {bad} non-2xx")
        return rps
    finally:
        stop(proc)


def post_bundles(bin_, data, token, bundles):
    """POSTs each bundle to a `serve` of `data`, one after the other;
    returns (seconds from the first byte sent to the last status, stored)."""
    proc, port = serve(bin_, data)
    try:
        coll = all_collection(port, token)
        url = f"http://127.0.0.1:{port}/taxii2/root/collections/{coll}/objects/"
        headers = {**auth_headers(token), "Content-Type": TAXII}
        stored = 0
        t0 = time.perf_counter()
        for b in bundles:
            status, _, body = request(url, headers, b, "POST")
            st = json.loads(body)
            if status != 202 or st.get("status") != "complete":
                fail(f"POST answered {status} with status {st.get('status')}")
            stored += st.get("success_count", 0)
            if st.get("failure_count", 0):
                log(f"{st['failure_count']} objects refused, e.g. {st.get('failures', [])[:1]}")
        return time.perf_counter() - t0, stored
    finally:
        stop(proc)


def post_bench(args, work):
    data = os.path.join(work, "post")
    os.makedirs(data)
    token = make_node(args.phalanx, data)
    total = args.post_bundles * 10_000
    log(f"generating {total} objects for the POST benchmark")
    objects = corpus(total, 99)
    bundles = [envelope_bundle(objects[i:i + 10_000]) for i in range(0, total, 10_000)]
    # The client keeps only the bundles' bytes: with the 100,000 parsed
    # objects alive, every garbage collection that parsing a status
    # (10,000 successes) sets off walked them all, and the client spent
    # about 40 ms per POST there, inside the timed loop.
    del objects
    gc.collect()
    elapsed, stored = post_bundles(args.phalanx, data, token, bundles)
    rate = total / elapsed
    print(f"phalanx TAXII POST: {len(bundles)} bundles of 10,000 objects in {elapsed:.2f} s = {rate:.0f} objects/s "
          f"({stored} stored)")
    if args.post_on_big:
        # The same bundles into a copy of the node of the page benchmark:
        # no target, it shows how the write cost grows with the store.
        big, big_token = ensure_big_store(args.phalanx, args.objects)
        copy = os.path.join(work, "post-big")
        shutil.copytree(big, copy)
        elapsed, stored = post_bundles(args.phalanx, copy, big_token, bundles)
        print(f"phalanx TAXII POST into a node holding {args.objects} objects (no target): {len(bundles)} bundles "
              f"in {elapsed:.2f} s = {total / elapsed:.0f} objects/s ({stored} stored)")
        shutil.rmtree(copy, ignore_errors=True)
    return rate


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phalanx", required=True)
    ap.add_argument("--objects", type=int, default=1_000_000)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--post-bundles", type=int, default=10)
    ap.add_argument("--no-medallion", action="store_true")
    ap.add_argument("--no-nginx", action="store_true")
    ap.add_argument("--post-on-big", action="store_true",
                    help="also POST the same bundles into a copy of the page benchmark's node (no target)")
    args = ap.parse_args()
    args.phalanx = os.path.abspath(args.phalanx)
    if not shutil.which("wrk"):
        fail("wrk is not installed (apt-get install wrk)")
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="phalanx-bench-taxii-")
    os.chmod(work, 0o755)  # nginx workers run as another user
    verdicts = []
    try:
        rps, p99, page_file = pages_bench(args, work)
        verdicts.append(("p99 of a 100-object page < 20 ms", p99 < 20.0, f"{p99:.2f} ms"))
        if not args.no_nginx:
            nginx_rps = nginx_bench(args, work, page_file)
            ratio = rps / nginx_rps
            verdicts.append(("pages/s >= 0.25 x nginx", ratio >= 0.25, f"ratio {ratio:.3f}"))
        if not args.no_medallion:
            objects = corpus(200, 5)
            med_rps = medallion_bench(args, work, objects)
            small_rps = small_phalanx_bench(args, work, objects)
            ratio = small_rps / med_rps if med_rps > 0 else float("inf")
            verdicts.append(("pages/s >= 1000 x medallion at 200 objects", ratio >= 1000, f"ratio {ratio:.0f}"))
        rate = post_bench(args, work)
        verdicts.append(("TAXII POST >= 50,000 objects/s", rate >= 50_000, f"{rate:.0f} objects/s"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ok = True
    for name, passed, figure in verdicts:
        print(f"{'PASS' if passed else 'FAIL'}  {name}: {figure}")
        ok = ok and passed
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
