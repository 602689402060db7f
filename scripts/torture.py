#!/usr/bin/env python3
"""Attacks newsd and checks it lost nothing: kill -9 during ingest and during replication, random
bytes at the replication port, and (when built) the libFuzzer targets. Prints a summary table.

    scripts/torture.sh                 the long run: 50 kills of each kind
    scripts/torture.sh --kills 10      the short run
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise TimeoutError(what)


class Site:
    def __init__(self, bin_dir, root, name):
        self.bin = bin_dir
        self.watch = os.path.join(root, name, "articles")
        self.data = os.path.join(root, name, "data")
        self.port = free_port()
        os.makedirs(self.watch, exist_ok=True)
        self.id = subprocess.run([f"{bin_dir}/newsd", "init", "--data", self.data], check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]
        self.process = None
        self.name = name

    def start(self, peers=()):
        args = [f"{self.bin}/newsd", "--watch", self.watch, "--data", self.data, "--listen", f"127.0.0.1:{self.port}"]
        for peer in peers:
            args += ["--peer", peer]
        self.log = open(os.path.join(os.path.dirname(self.data), "newsd.log"), "a")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=self.log)

    def ctl(self, *args):
        return subprocess.run([f"{self.bin}/newsctl", *args, "--data", self.data], capture_output=True, text=True)

    def ready(self):
        result = self.ctl("status", "--json")
        return result.returncode == 0 and json.loads(result.stdout)["ready"]

    def wait_ready(self):
        wait_until(self.ready, 120, f"{self.name} ready")

    def entries(self):
        try:
            db = sqlite3.connect(f"file:{self.data}/log.sqlite?mode=ro", uri=True, timeout=2)
            try:
                return db.execute("SELECT count(*) FROM entries").fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error:
            return 0

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.log.close()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.log.close()

    def verify(self):
        return self.ctl("verify").returncode == 0

    def heads_match_disk(self):
        """Every file on disk is its article's head in the log."""
        mismatches = []
        for folder, _, names in os.walk(self.watch):
            for name in names:
                if name.startswith(".newsd-"):
                    continue
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, self.watch)
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                log = self.ctl("log", rel, "-n", "1", "--json")
                if log.returncode != 0 or json.loads(log.stdout)[0]["content_hash"] != digest:
                    mismatches.append(rel)
        return mismatches


def writer(site, stop, counter):
    rng = random.Random(11)
    while not stop.is_set():
        name = f"bai-{rng.randrange(200)}.txt"
        path = os.path.join(site.watch, "dot-tu", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"Bản {counter[0]} của {name}: tin nóng.\n" * rng.randrange(1, 40))
        os.rename(tmp, path)
        counter[0] += 1
        time.sleep(rng.random() * 0.004)


def kills_during_ingest(bin_dir, root, kills, rng):
    site = Site(bin_dir, root, "ingest")
    stop, counter = threading.Event(), [0]
    thread = threading.Thread(target=writer, args=(site, stop, counter), daemon=True)
    thread.start()
    lost = failed_verify = 0
    for _ in range(kills):
        site.start()
        time.sleep(rng.uniform(0.2, 1.5))
        acknowledged = site.entries()
        site.kill9()
        after = site.entries()
        if after < acknowledged:
            lost += acknowledged - after
    stop.set()
    thread.join()
    site.start()
    site.wait_ready()
    time.sleep(1)
    if not site.verify():
        failed_verify += 1
    mismatches = site.heads_match_disk()
    site.stop()
    return dict(kills=kills, writes=counter[0], lost=lost, failed_verify=failed_verify, mismatches=len(mismatches))


def kills_during_replication(bin_dir, root, kills, rng, articles):
    a, b = Site(bin_dir, root, "repl-a"), Site(bin_dir, root, "repl-b")
    gen = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "corpus", "gen_corpus.py")
    subprocess.run([sys.executable, gen, "--n", str(articles), "--seed", "1", "--out", a.watch], check=True, capture_output=True)
    a.start(peers=[b.id])
    a.wait_ready()
    lost = 0
    for _ in range(kills):
        b.start(peers=[f"{a.id}@127.0.0.1:{a.port}"])
        time.sleep(rng.uniform(0.1, 1.0))
        acknowledged = b.entries()
        b.kill9()
        if b.entries() < acknowledged:
            lost += acknowledged - b.entries()
    b.start(peers=[f"{a.id}@127.0.0.1:{a.port}"])
    b.wait_ready()
    wait_until(lambda: b.entries() == a.entries(), 300, "B caught up")
    time.sleep(1)

    def digest(root_dir):
        out = {}
        for folder, _, names in os.walk(root_dir):
            for name in names:
                p = os.path.join(folder, name)
                out[os.path.relpath(p, root_dir)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
        return out
    converged = digest(a.watch) == digest(b.watch)
    verified = a.verify() and b.verify()
    a.stop()
    b.stop()
    return dict(kills=kills, lost=lost, converged=converged, verified=verified)


def hostile_bytes(bin_dir, root, tries, rng):
    site = Site(bin_dir, root, "hostile")
    site.start()
    site.wait_ready()
    for _ in range(tries):
        with socket.create_connection(("127.0.0.1", site.port), timeout=5) as s:
            s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600))))
            try:
                s.recv(4096)
            except OSError:
                pass
    alive = site.ready()
    refused = json.loads(site.ctl("status", "--json").stdout)["refused_connections"]
    entries = site.entries()
    site.stop()
    return dict(tries=tries, alive=alive, refused=refused, stored=entries)


def fuzz(root_dir, seconds):
    build = os.path.join(root_dir, ".build-fuzz", "release")
    results = {}
    for target, corpus in (("FuzzWire", "wire"), ("FuzzControl", "control")):
        binary = os.path.join(build, target)
        if not os.path.exists(binary):
            results[target] = "not built"
            continue
        work = tempfile.mkdtemp()
        shutil.copytree(os.path.join(root_dir, "fuzz", "corpus", corpus), work, dirs_exist_ok=True)
        out = subprocess.run([binary, work, f"-max_total_time={seconds}", "-print_final_stats=1"],
                             capture_output=True, text=True)
        execs = [line for line in out.stderr.splitlines() if "stat::number_of_executed_units" in line]
        results[target] = (execs[0].split(":")[-1].strip() if execs else "?") + (" (crash!)" if out.returncode != 0 else "")
        shutil.rmtree(work, ignore_errors=True)
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--fuzz-seconds", type=int, default=60)
    args = parser.parse_args()
    rng = random.Random(5)
    work = tempfile.mkdtemp(prefix="newsd-torture-")
    try:
        print(f"kill -9 during ingest ({args.kills})", flush=True)
        ingest = kills_during_ingest(args.bin, work, args.kills, rng)
        print(f"kill -9 during replication ({args.kills})", flush=True)
        repl = kills_during_replication(args.bin, work, args.kills, rng, args.articles)
        print("random bytes at the replication port", flush=True)
        hostile = hostile_bytes(args.bin, work, 200, rng)
        print("fuzzing", flush=True)
        fuzzed = fuzz(args.root, args.fuzz_seconds)
    finally:
        subprocess.run(["pkill", "-f", work], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        ("kills during ingest survived", f"{ingest['kills']} ({ingest['writes']} writes)"),
        ("  acknowledged entries lost", ingest["lost"]),
        ("  verify failures after", ingest["failed_verify"]),
        ("  files whose head is not their content", ingest["mismatches"]),
        ("kills during replication survived", repl["kills"]),
        ("  acknowledged entries lost", repl["lost"]),
        ("  sites converged byte for byte", "yes" if repl["converged"] else "NO"),
        ("  verify passed on both", "yes" if repl["verified"] else "NO"),
        ("partitions healed", "not run (no fault proxy yet)"),
        ("hostile connections (random bytes)", f"{hostile['tries']}, daemon up: {'yes' if hostile['alive'] else 'NO'}, "
                                               f"refused {hostile['refused']}, stored {hostile['stored']}"),
    ] + [(f"fuzz executions, {name}", value) for name, value in fuzzed.items()]
    lost = ingest["lost"] + repl["lost"] + ingest["mismatches"] + ingest["failed_verify"] + (0 if repl["converged"] and repl["verified"] else 1)
    rows.append(("anything lost", lost))
    width = max(len(r[0]) for r in rows)
    print()
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
