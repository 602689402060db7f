#!/usr/bin/env python3
"""The web view's pages under load: the articles page, a search, and an article with many versions,
p50/p99 over repeated requests, at N articles, while an editor keeps saving; and the blame of the
article with many versions (its first line never changes, so the walk goes back through all of them).

    python3 bench/web.py --size 10k [--bin .build/release] [--versions 1000] [--requests 100]

Makes a corpus with ../shared/corpus/gen_corpus.py (cached in .bench-cache/), starts newsd on it with
--web, waits for the first ingest, signs in with the first-run link, then times each page over
loopback. Prints a table and writes bench/results/web-<size>.json. Goal (issue 14): p99 under 50 ms.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def corpus(n):
    cache = os.path.join(ROOT, ".bench-cache", f"web-corpus-{n}")
    if not os.path.isdir(cache):
        generator = os.path.join(ROOT, "..", "shared", "corpus", "gen_corpus.py")
        tmp = cache + ".partial"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run([sys.executable, generator, "--n", str(n), "--out", tmp, "--jobs", "2"], check=True)
        os.replace(tmp, cache)
    return cache


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="10k", choices=SIZES)
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build", "release"))
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    n = SIZES[args.size]
    if not os.path.exists(os.path.join(args.bin, "newsd")):
        args.bin = os.path.join(ROOT, ".build", "debug")
    work = tempfile.mkdtemp(prefix="newsd-web-bench-")
    watch, data = os.path.join(work, "watch"), os.path.join(work, "data")
    print(f"corpus: {n} articles", flush=True)
    shutil.copytree(corpus(n), watch)
    port = free_port()
    log = open(os.path.join(work, "newsd.log"), "w")
    started = time.time()
    daemon = subprocess.Popen([f"{args.bin}/newsd", "--watch", watch, "--data", data, "--listen", "127.0.0.1:0",
                               "--web", f"127.0.0.1:{port}"], stdout=log, stderr=log)
    try:
        def status():
            out = subprocess.run([f"{args.bin}/newsctl", "status", "--json", "--data", data], capture_output=True, text=True)
            return json.loads(out.stdout) if out.returncode == 0 else {}
        while not status().get("ready"):
            time.sleep(0.5)
        print(f"first ingest: {time.time() - started:.1f} s", flush=True)
        token = re.search(r"token=([0-9a-f]{64})", open(os.path.join(work, "newsd.log")).read()).group(1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", f"/signin?token={token}")
        reply = conn.getresponse()
        reply.read()
        cookie = reply.getheader("Set-Cookie").split(";")[0]

        # One article with many versions: saved again and again, each save recorded.
        target = os.path.join(watch, "nhieu-phien-ban.txt")
        for i in range(args.versions):
            with open(target + ".tmp", "w") as f:
                f.write(f"Bài có nhiều phiên bản\n\nPhiên bản {i}: Hà Nội sáng nay mưa nhỏ, đường phố đông đúc.\n" * 3)
            os.replace(target + ".tmp", target)
            time.sleep(0.12)  # past the debounce: one version each
        while True:
            out = subprocess.run([f"{args.bin}/newsctl", "log", "nhieu-phien-ban.txt", "-n", "100000", "--json", "--data", data],
                                 capture_output=True, text=True)
            if out.returncode == 0 and len(json.loads(out.stdout)) >= args.versions * 0.9:
                history = json.loads(out.stdout)
                versions = len(history)
                break
            time.sleep(0.5)

        # An editor saving all the while.
        stop = threading.Event()
        names = [os.path.join(dp, f) for dp, _, fs in os.walk(watch) for f in fs][:200]

        def editor():
            i = 0
            while not stop.is_set():
                path = names[i % len(names)]
                with open(path, "a") as f:
                    f.write(f"\nThêm đoạn {i}.\n")
                i += 1
                time.sleep(0.05)
        writer = threading.Thread(target=editor)
        writer.start()

        def timed(path):
            # A fresh keep-alive connection per page: the server closes one idle for 30 s.
            # A path with {i} is a different page each time (past every cache).
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            times = []
            for i in range(args.requests):
                t = time.perf_counter()
                conn.request("GET", path.format(i=i), headers={"Cookie": cookie})
                reply = conn.getresponse()
                body = reply.read()
                times.append((time.perf_counter() - t) * 1000)
                assert reply.status == 200, (path, reply.status, body[:200])
            return times

        def timed_once(path):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            t = time.perf_counter()
            conn.request("GET", path, headers={"Cookie": cookie})
            reply = conn.getresponse()
            body = reply.read()
            assert reply.status == 200, (path, reply.status, body[:200])
            return [(time.perf_counter() - t) * 1000]

        pages = [("articles page", "/articles"), ("search 'ha noi'", "/articles?q=ha+noi"),
                 ("search 'duong pho'", "/articles?q=duong+pho"),
                 (f"article with {versions} versions", "/article?path=nhieu-phien-ban.txt"),
                 (f"blame of that article (walks all {versions})", "/blame?path=nhieu-phien-ban.txt"),
                 ("blame as JSON", "/api/blame?path=nhieu-phien-ban.txt")]
        # Blame of a different version each time, the newest 100 in turn: no answer kept helps.
        older = [v["version"][:12] for v in history[:100]]
        pages.append((f"blame of one of its newest 100 versions, each asked once per {len(older)}",
                      "/blame?path=nhieu-phien-ban.txt&v={" + "i}"))
        older_path = "/blame?path=nhieu-phien-ban.txt&v={i}"
        results = {"size": n, "versions": versions, "requests": args.requests, "binary": args.bin, "pages": {}}
        timed("/articles")  # warm: the first page builds the list if start-up has not yet
        # The timeline is paged: the second page is linked from the first.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/article?path=nhieu-phien-ban.txt", headers={"Cookie": cookie})
        assert b"vpage=2" in conn.getresponse().read(), "the article page links its older versions"
        for name, path in pages:
            if path.endswith("{i}"):
                times = []
                for round_ in range((args.requests + len(older) - 1) // len(older)):
                    for v in older[: args.requests - round_ * len(older)]:
                        times += timed_once(older_path.format(i=v))
            else:
                times = timed(path)
            results["pages"][name] = {"p50_ms": round(statistics.median(times), 1), "p99_ms": round(percentile(times, 99), 1)}
        stop.set()
        writer.join()
        print(f"\n| page ({n} articles, while an editor saves) | p50 ms | p99 ms |\n|---|---|---|")
        for name, figures in results["pages"].items():
            print(f"| {name} | {figures['p50_ms']} | {figures['p99_ms']} |")
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        with open(os.path.join(ROOT, "bench", "results", f"web-{args.size}.json"), "w") as f:
            json.dump(results, f, indent=2)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
