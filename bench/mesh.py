#!/usr/bin/env python3
"""N newsd sites on loopback, each with its own data, folder and port, peered as a full mesh or a
chain: how long one edit takes to reach every site (p50/p99), the bytes each site sends per edit,
and each site's memory.

    python3 bench/mesh.py --sites 10 --shape mesh [--edits 100] [--articles 100] [--bin .build-release/release]

Site 0 starts with a small corpus (../shared/corpus/gen_corpus.py); once every site holds it, site 0
saves one edit at a time (temp file and rename, as an editor's program does) and the clock runs
until the edited text is in the file at every other site. In a chain, site 0 is at one end, so an
edit crosses every link. Writes bench/results/mesh-<shape>-<N>.json (rendered into docs/BENCHMARKS.md
by bench/report.py) and prints a table row.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Daemon, free_port, percentile, run, site_id, tree_files, wait_until  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def corpus(n):
    cache = os.path.join(ROOT, ".bench-cache", f"mesh-corpus-{n}")
    if not os.path.isdir(cache):
        tmp = cache + ".partial"
        shutil.rmtree(tmp, ignore_errors=True)
        run([sys.executable, os.path.join(ROOT, "..", "shared", "corpus", "gen_corpus.py"), "--n", str(n), "--out", tmp])
        os.replace(tmp, cache)
    return cache


def neighbours(i, n, shape):
    if shape == "mesh":
        return [j for j in range(n) if j != i]
    return [j for j in (i - 1, i + 1) if 0 <= j < n]


def bytes_sent(site):
    return sum(p.get("bytes_sent", 0) for p in site.ctl_json("peers"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--shape", choices=["mesh", "chain"], default="mesh")
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build-release", "release"))
    args = parser.parse_args()
    n = args.sites
    work = tempfile.mkdtemp(prefix="newsd-mesh-")
    sites = []
    try:
        seed = corpus(args.articles)
        ids, ports, watches, datas = [], [], [], []
        for i in range(n):
            watches.append(os.path.join(work, f"site-{i}", "articles"))
            datas.append(os.path.join(work, f"site-{i}", "data"))
            if i == 0:
                shutil.copytree(seed, watches[0])
            else:
                os.makedirs(watches[i])
            ids.append(site_id(args.bin, datas[i]))
            ports.append(free_port())
        for i in range(n):
            peers = [f"{ids[j]}@127.0.0.1:{ports[j]}" for j in neighbours(i, n, args.shape)]
            sites.append(Daemon(args.bin, watches[i], datas[i], ports[i], peers=peers, name=f"site-{i}"))
        for site in sites:
            site.wait_ready()
        start = time.time()
        wait_until(lambda: all(s.entries() == sites[0].entries() for s in sites[1:]), 600, "every site holds the corpus", interval=0.05)
        wait_until(lambda: all(len(tree_files(w)) == len(tree_files(watches[0])) for w in watches[1:]), 600, "every folder filled", interval=0.05)
        print(f"{n} sites ({args.shape}) hold the {args.articles}-article corpus after {time.time() - start:.1f} s", flush=True)
        time.sleep(1)

        articles = sorted(os.path.relpath(p, watches[0]) for p in tree_files(watches[0]))
        sent_before = [bytes_sent(s) for s in sites]
        latencies = []
        for k in range(args.edits):
            rel = articles[k % len(articles)]
            path = os.path.join(watches[0], rel)
            marker = f"Sửa lần {k} ở site 0."
            with open(path, encoding="utf-8") as f:
                text = f.read()
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                f.write(text + "\n" + marker + "\n")
            t0 = time.perf_counter()
            os.replace(path + ".tmp", path)

            def arrived():
                for w in watches[1:]:
                    try:
                        with open(os.path.join(w, rel), encoding="utf-8") as f:
                            if marker not in f.read():
                                return False
                    except (OSError, UnicodeDecodeError):
                        return False
                return True
            wait_until(arrived, 60, f"edit {k} at every site", interval=0.001)
            latencies.append((time.perf_counter() - t0) * 1000)
        time.sleep(1)
        sent_after = [bytes_sent(s) for s in sites]
        per_site = [(a - b) / args.edits for a, b in zip(sent_after, sent_before)]
        memory = [s.memory_fields() for s in sites]
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        result = {
            "sites": n, "shape": args.shape, "date": time.strftime("%Y-%m-%d"), "commit": commit or "?",
            "edits": args.edits, "articles": args.articles, "binary": args.bin,
            "edit_to_every_site_ms": {"p50": round(percentile(latencies, 50), 1), "p99": round(percentile(latencies, 99), 1),
                                      "max": round(max(latencies), 1)},
            "bytes_sent_per_edit_per_site": {"mean": round(sum(per_site) / n), "max": round(max(per_site)), "site_0": round(per_site[0])},
            "rss_mib_per_site": {"mean": round(sum(m.get("VmRSS", 0) for m in memory) / n, 1),
                                 "max": round(max(m.get("VmRSS", 0) for m in memory), 1),
                                 "anonymous_mean": round(sum(m.get("RssAnon", 0) for m in memory) / n, 1)},
        }
        print(f"| {args.shape} | {n} | {result['edit_to_every_site_ms']['p50']} | {result['edit_to_every_site_ms']['p99']} "
              f"| {result['bytes_sent_per_edit_per_site']['mean']} | {result['bytes_sent_per_edit_per_site']['max']} "
              f"| {result['rss_mib_per_site']['mean']} ({result['rss_mib_per_site']['anonymous_mean']} anon) |", flush=True)
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        with open(os.path.join(ROOT, "bench", "results", f"mesh-{args.shape}-{n}.json"), "w") as f:
            json.dump(result, f, indent=2)
    finally:
        for site in sites:
            site.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
