#!/usr/bin/env python3
"""newsd beside the tools newsrooms use today (rsync, unison, Syncthing, git) and beside this
machine's floors, on the same corpus in the same run.

    python3 bench/bench.py --bin DIR --root REPO [--size 1k|10k|100k] [--repeat 3] [--write]
    python3 bench/bench.py --root REPO --render-only [--write]

Run through bench/run.sh, which builds newsd in release mode and installs the peers. Every server
listens on 127.0.0.1 and is stopped before this exits; every wait is bounded. The raw figures (every
sample) go to bench/results/bench-<size>.json, and docs/BENCHMARKS.md is rendered from every
bench-*.json there (bench/report.py); a 1k run (CI's smoke) rewrites the doc only with --write.
"""
import argparse
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from statistics import median

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "scripts")]
from harness import Relay, free_port, tree_digest, wait_until  # noqa: E402
from peers import (Rsync, Syncthing, Unison, floor_durable_copy, floor_sha_sqlite, now, proc_memory,  # noqa: E402
                   run, timed, tree_files, version)
import report  # noqa: E402

SIZES = {"1k": 1000, "10k": 10000, "100k": 100000}
# Bytes on the wire are read this long after a replica matches, so the last acknowledgements count.
SETTLE = 0.5


class Daemon:
    """One newsd process; `ready` is when its log says so (start-up scan done, sockets open)."""

    def __init__(self, bin_dir, watch, data, listen_port, peers=(), name="site"):
        self.bin = bin_dir
        self.data = data
        self.log_path = data + ".log"
        os.makedirs(os.path.dirname(data), exist_ok=True)
        args = [os.path.join(bin_dir, "newsd"), "--watch", watch, "--data", data, "--listen", f"127.0.0.1:{listen_port}",
                "--site-name", name]
        for peer in peers:
            args += ["--peer", peer]
        self.log = open(self.log_path, "w")
        self.started = now()
        self.process = subprocess.Popen(args, stdout=self.log, stderr=self.log)

    def wait_ready(self, timeout=1800):
        def ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"newsd exited: {open(self.log_path).read()[-2000:]}")
            with open(self.log_path) as f:
                return "ready: site" in f.read()
        wait_until(ready, timeout, "newsd ready", interval=0.01)
        return now() - self.started

    def ctl(self, *args):
        return run([os.path.join(self.bin, "newsctl"), *args, "--data", self.data]).stdout

    def ctl_json(self, *args):
        return json.loads(self.ctl(*args, "--json"))

    def memory(self):
        """(current RSS, peak RSS) in MiB, from /proc."""
        fields = self.memory_fields()
        return fields.get("VmRSS", 0), fields.get("VmHWM", 0)

    def memory_fields(self):
        """VmRSS, VmHWM, RssAnon (heap, stacks), RssFile (mapped code and data files), in MiB."""
        return proc_memory(self.process.pid)

    def entries(self):
        """Log entries, read straight from SQLite (a WAL reader does not disturb the writer)."""
        try:
            db = sqlite3.connect(f"file:{self.data}/log.sqlite?mode=ro", uri=True, timeout=1)
            try:
                return db.execute("SELECT count(*) FROM entries").fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error:
            return -1

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def site_id(bin_dir, data):
    return run([os.path.join(bin_dir, "newsd"), "init", "--data", data]).stdout.strip().splitlines()[-1]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def copy_articles(source, dest):
    """A copy of the articles alone: newsd's site marker stays with its site."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".newsd-site", ".stfolder"))


def matches(folder, manifest):
    """Whether `folder` holds every changed file of a gen_corpus manifest, byte for byte, and none of
    its deleted ones. Stops at the first file not there yet, so a poll before the end is cheap."""
    for rel, digest in manifest["changed"].items():
        try:
            with open(os.path.join(folder, rel), "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() != digest:
                    return False
        except OSError:
            return False
    return not any(os.path.exists(os.path.join(folder, rel)) for rel in manifest["deleted"])


def wait_quiet(value, quiet, timeout, what):
    """Until value() has stayed the same for `quiet` seconds."""
    last, since = value(), now()

    def settled():
        nonlocal last, since
        current = value()
        if current != last:
            last, since = current, now()
        return now() - since >= quiet
    wait_until(settled, timeout, what, interval=0.05)


class Results:
    """Every figure of one run, raw, as saved to bench/results/bench-<size>.json. A row holds each
    tool's samples ({"newsd": [...], "rsync": [...]}), what each tool ran, the floor, the target."""

    def __init__(self, meta):
        self.meta = meta
        self.rows = []
        self.samples = {}

    def add(self, key, workload, tools, unit="s", how=None, floor=None, target="", met=None, note="", changes=""):
        row = dict(key=key, workload=workload, unit=unit, tools={k: v for k, v in tools.items() if v},
                   how=how or {}, floor=floor, target=target, met=met, note=note, changes=changes)
        self.rows.append(row)
        cells = [f"{tool} {report.cell(v, unit)}" for tool, v in row["tools"].items()]
        if floor:
            cells.append(f"{floor['name']} {report.cell(floor['samples'], unit)}")
        print(f"  {workload}: " + ", ".join(cells), flush=True)

    def save(self, path):
        def rounded(value):  # microseconds and bytes are as fine as these clocks and counters go
            if isinstance(value, float):
                return round(value, 6)
            if isinstance(value, list):
                return [rounded(v) for v in value]
            if isinstance(value, dict):
                return {k: rounded(v) for k, v in value.items()}
            return value
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(rounded(dict(self.meta, rows=self.rows, samples=self.samples)), f, indent=1, ensure_ascii=False)
            f.write("\n")


class Bench:
    """One run: the corpus, the steps in order, and everything started, stopped at the end."""

    def __init__(self, args):
        self.args = args
        self.bin = args.bin
        self.n = SIZES[args.size]
        self.reps = args.repeat
        self.gen = os.path.join(args.root, "..", "shared", "corpus", "gen_corpus.py")
        if not os.path.exists(self.gen):
            sys.exit(f"bench: {self.gen} not found (the corpus generator lives in shared/ beside the repository)")
        # Long waits scale with the corpus: 100k articles take minutes where 10k take seconds.
        self.long = 300 + self.n // 20
        self.work = tempfile.mkdtemp(prefix="newsd-bench-")
        self.running = []
        self.results = None

    def keep(self, thing):
        """Registers a process or relay (anything with stop() or close()), so it is stopped however
        the run ends."""
        self.running.append(thing)
        return thing

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def mutate(self, folder, fraction, seed):
        """gen_corpus --mutate on `folder`: edits, renames and deletes; returns its manifest."""
        manifest = self.path(f"manifest-{os.path.basename(folder)}-{seed}.json")
        run([sys.executable, self.gen, "--mutate", str(fraction), "--seed", str(seed), "--out", folder, "--manifest", manifest])
        with open(manifest) as f:
            return json.load(f)

    def main(self):
        try:
            self.make_corpus()
            self.first_ingest()
            self.status_latency()
            self.change_to_log()
            self.restart()
            self.first_replication()
            self.noop_reconnect()
            self.edits()
            self.week_offline()
            self.one_edit()
            self.memory()
        finally:
            for thing in reversed(self.running):
                try:
                    (thing.close if isinstance(thing, Relay) else thing.stop)()
                except Exception as error:  # keep stopping the rest
                    print(f"bench: stopping {type(thing).__name__}: {error}", flush=True)
            shutil.rmtree(self.work, ignore_errors=True)
        return self.results

    def make_corpus(self):
        print(f"corpus: {self.n} articles", flush=True)
        self.corpus = self.path("corpus")
        run([sys.executable, self.gen, "--n", str(self.n), "--seed", "1", "--out", self.corpus])
        self.files = len(tree_files(self.corpus))
        corpus_bytes = sum(os.path.getsize(p) for p in tree_files(self.corpus))
        print(f"  {self.files} files, {corpus_bytes / 1e6:.1f} MB", flush=True)
        self.warm(self.corpus)
        commit = subprocess.run(["git", "-C", self.args.root, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        binary = os.path.join(self.bin, "newsd")
        self.results = Results(dict(
            size=self.args.size, articles=self.n, files=self.files, corpus_bytes=corpus_bytes, repeat=self.reps,
            date=time.strftime("%Y-%m-%d"), commit=commit or "?", machine=report.machine(),
            binary=binary, binary_date=time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(binary))),
            versions={"rsync": version(["rsync", "--version"]), "unison": version(["unison", "-version"]),
                      "syncthing": version(["syncthing", "--version"]), "git": version(["git", "--version"])}))

    def warm(self, folder):
        """Reads every file once, so each tool starts from the same warm page cache."""
        timed(["sh", "-c", f"find {folder} -type f -print0 | xargs -0 cat > /dev/null"])

    # 1. First ingest ----------------------------------------------------------------------------

    def first_ingest(self):
        """newsd's start-up over the corpus, beside git add+commit, Syncthing's initial scan of the
        same files (each from fresh state) and the floors."""
        print("1. first ingest", flush=True)
        self.st_folder = self.path("st-a")
        copy_articles(self.corpus, self.st_folder)
        self.warm(self.st_folder)
        ingest, cat, sha, floor, git, st_indexed, st_scan = [], [], [], [], [], [], []
        self.rss = {"newsd": [], "syncthing": []}
        for rep in range(self.reps):
            cat.append(timed(["sh", "-c", f"find {self.corpus} -type f -print0 | xargs -0 cat > /dev/null"]))
            sha.append(timed(["sh", "-c", f"find {self.corpus} -type f -print0 | xargs -0 sha256sum > /dev/null"]))
            floor.append(floor_sha_sqlite(self.corpus, self.path(f"floor-{rep}.sqlite")))
            repo = self.path(f"git-{rep}")
            copy_articles(self.corpus, repo)
            run(["git", "init", "-q", repo])
            git.append(timed(["sh", "-c", f"cd {repo} && git add -A && git -c user.name=b -c user.email=b@b commit -qm corpus"]))
            d = self.keep(Daemon(self.bin, self.corpus, self.path(f"ingest-{rep}", "data"), free_port()))
            ingest.append(d.wait_ready(self.long))
            time.sleep(2)
            self.rss["newsd"].append(d.memory_fields())
            if rep < self.reps - 1:
                d.stop()
            # Syncthing from a fresh home each time: keys, an empty database, the whole folder to hash.
            st = self.keep(Syncthing(self.path(f"st-a-home-{rep}"), self.st_folder, "A"))
            st.start()
            st.wait_scanned(self.files, self.long)
            st_indexed.append(now() - st.started)
            st_scan.append(st.last_scan_seconds())
            time.sleep(2)
            self.rss["syncthing"].append(st.memory())
            st.stop()
        self.d = d
        self.st_a = st
        self.last_data = self.path(f"ingest-{self.reps - 1}", "data")
        mb = self.results.meta["corpus_bytes"] / 1e6
        self.results.samples.update(cat_s=cat, sha256sum_s=sha, syncthing_scan_s=st_scan)
        scan = f" (its scan alone, from its own events: {report.cell(st_scan, 's')})" if None not in st_scan else ""
        self.results.add(
            "first_ingest", "First ingest", {"newsd": ingest, "syncthing": st_indexed, "git": git},
            how={"git": "`git add -A` + `git commit`",
                 "syncthing": f"A from its start with a fresh home until every file is indexed{scan}"},
            floor={"name": "SHA-256+SQLite", "samples": floor}, changes="all N",
            target="≤ 1.5× floor; ≥ 5× faster than git",
            met=median(ingest) <= 1.5 * median(floor) and median(git) >= 5 * median(ingest),
            note=f"newsd from its start until ready, {self.files / median(ingest):.0f} files/s, {mb / median(ingest):.0f} MB/s; "
                 f"cat {report.cell(cat, 's')}, sha256sum {report.cell(sha, 's')}")

    def status_latency(self):
        status_ms = []
        for _ in range(20):
            start = now()
            self.d.ctl("status")
            status_ms.append((now() - start) * 1000)
        self.results.samples["status_ms"] = status_ms
        self.results.add("status", "`newsctl status` at N", {"newsd": status_ms}, unit="ms", changes="none",
                         target="< 20 ms at 100k", met=median(status_ms) < 20, note="process start to exit, median of 20")

    def change_to_log(self):
        print("2. change-to-log latency", flush=True)
        d = self.d
        latencies = []
        for i, path in enumerate(tree_files(self.corpus)[:200]):
            before = d.entries()
            start = now()
            with open(path, "a") as f:
                f.write(f"\nSửa lần {i}.\n")
            wait_until(lambda: d.entries() > before, 10, "the edit in the log", interval=0.001)
            latencies.append((now() - start) * 1000)
        self.results.samples["change_to_log_ms"] = latencies
        self.results.add("change_to_log_p50", "Change-to-log latency p50", {"newsd": [percentile(latencies, 50)]},
                         unit="ms", changes="1 edit", note="includes the 100 ms debounce; p99 below")
        self.results.add("change_to_log_p99", "Change-to-log latency p99", {"newsd": [percentile(latencies, 99)]},
                         unit="ms", changes="1 edit")
        d.stop()

    def restart(self):
        print("3. restart", flush=True)
        git_dir = self.path("git-0")
        # The change-to-log edits are in newsd's folder: one start takes them in, so the timed starts
        # below find every article unchanged; git's index is brought up to date once likewise.
        run(["git", "-C", git_dir, "status", "--porcelain"])
        d = self.keep(Daemon(self.bin, self.corpus, self.last_data, free_port()))
        d.wait_ready(self.long)
        d.stop()
        restart, git_status = [], []
        for rep in range(self.reps):
            git_status.append(timed(["git", "-C", git_dir, "status", "--porcelain"]))
            d = self.keep(Daemon(self.bin, self.corpus, self.last_data, free_port()))
            restart.append(d.wait_ready(self.long))
            d.stop()
        self.results.add("restart", "Restart over unchanged articles", {"newsd": restart, "git": git_status},
                         how={"git": "`git status`"}, changes="none (N read)",
                         target="≤ 3× git status", met=median(restart) <= 3 * median(git_status))

    # 4. First replication -----------------------------------------------------------------------

    def first_replication(self):
        """A→B from empty: newsd through a counting relay; rsync and unison pulling a copy of the
        same articles; Syncthing B dialling A through its own relay; the durable floor."""
        print("4. first replication", flush=True)
        # rsync and unison serve one copy of the articles as they now stand; the edit steps below
        # change it with the same generator seeds as newsd's folder, so every tool moves the same bytes.
        self.peer_src = self.path("peer-src")
        copy_articles(self.corpus, self.peer_src)
        self.warm(self.peer_src)
        self.rsync = self.keep(Rsync(self.peer_src, self.work))
        self.unison = self.keep(Unison(self.work))
        # Syncthing A's folder takes the change-to-log step's appends too, then A starts on its
        # database from the ingest step and indexes them.
        run(["rsync", "-a", "--delete", "--exclude=/.stfolder", "--exclude=/.newsd-site", self.corpus + "/", self.st_folder + "/"])
        st_bs = [Syncthing(self.path(f"st-b-home-{rep}"), self.path(f"st-b-{rep}"), "B") for rep in range(self.reps)]
        for st_b in st_bs:
            self.st_a.introduce(st_b.device_id)
        self.st_a.start()
        self.st_a.wait_scanned(self.files, self.long)
        self.st_relay = self.keep(Relay(self.st_a.listen_port))

        self.a_port = free_port()
        self.a_id = site_id(self.bin, self.last_data)
        self.proxy = self.keep(Relay(self.a_port))
        t = {k: [] for k in ("newsd", "rsync", "unison", "syncthing", "floor")}
        b = {k: [] for k in ("newsd", "rsync", "unison", "syncthing")}
        self.b_peak = {"newsd": [], "syncthing": []}
        for rep in range(self.reps):
            self.b_data = self.path(f"b-{rep}", "data")
            self.b_watch = self.path(f"b-{rep}", "articles")
            os.makedirs(self.b_watch)
            b_id = site_id(self.bin, self.b_data)
            self.a = self.keep(Daemon(self.bin, self.corpus, self.last_data, self.a_port, peers=[b_id], name="a"))
            self.a.wait_ready(self.long)
            self.proxy.take()
            self.b = self.keep(Daemon(self.bin, self.b_watch, self.b_data, free_port(), peers=[f"{self.a_id}@127.0.0.1:{self.proxy.port}"], name="b"))
            start = now()
            target = self.a.entries()
            wait_until(lambda: self.b.entries() >= target, self.long, "newsd B holding A's log", interval=0.02)
            wait_until(lambda: len(tree_files(self.b_watch)) >= self.files, self.long, "newsd B's folder filled", interval=0.02)
            t["newsd"].append(now() - start)
            time.sleep(SETTLE)
            b["newsd"].append(self.proxy.take())
            self.b_peak["newsd"].append(self.b.memory()[1])
            assert tree_digest(self.b_watch) == tree_digest(self.corpus), "newsd B's folder is not byte-identical to A's"

            self.rsync_dest = self.path(f"rsync-{rep}")
            seconds, nbytes = self.rsync.pull(self.rsync_dest)
            t["rsync"].append(seconds)
            b["rsync"].append(nbytes)

            self.unison_replica = self.path(f"unison-{rep}")
            seconds, nbytes = self.unison.sync(self.peer_src, self.unison_replica)
            t["unison"].append(seconds)
            b["unison"].append(nbytes)

            self.st_b = self.keep(st_bs[rep])
            self.st_b.introduce(self.st_a.device_id, f"tcp://127.0.0.1:{self.st_relay.port}")
            self.st_relay.take()
            self.st_b.start()
            self.st_b.wait_complete(self.files, self.long)
            t["syncthing"].append(now() - self.st_b.started)
            time.sleep(SETTLE)
            b["syncthing"].append(self.st_relay.take())
            self.b_peak["syncthing"].append(self.st_b.memory()["VmHWM"])

            t["floor"].append(floor_durable_copy(self.corpus, self.path(f"durable-floor-{rep}")))
            if rep < self.reps - 1:
                self.b.stop()
                self.a.stop()
                self.st_b.stop()
        want = tree_digest(self.corpus)
        for tool, folder in (("rsync", self.rsync_dest), ("unison", self.unison_replica), ("Syncthing", self.st_b.folder)):
            assert tree_digest(folder) == want, f"{tool}'s replica differs from the corpus"
        time.sleep(SETTLE)
        self.unison_rest = self.unison.memory()
        tools = {k: t[k] for k in ("newsd", "rsync", "unison", "syncthing")}
        self.results.add("first_replication_time", "First replication A→B: time", tools, changes="all N",
                         how={"rsync": "`rsync -a --delete` from the daemon into an empty folder",
                              "unison": "one sync into an empty replica", "syncthing": "B from its start with a fresh home"},
                         floor={"name": "files + one syncfs", "samples": t["floor"]}, target="≤ rsync's time",
                         met=median(t["newsd"]) <= median(t["rsync"]),
                         note="newsd and Syncthing: from B's start until B holds every file (then checked byte-identical, "
                              "as are the other replicas); rsync and unison: the command's run")
        self.results.add("first_replication_bytes", "First replication A→B: bytes on the wire", b, unit="B",
                         changes="all N", target="≤ 0.5× rsync's bytes", met=median(b["newsd"]) <= 0.5 * median(b["rsync"]))

    # 5. No-op reconnect -------------------------------------------------------------------------

    def noop_reconnect(self):
        print("5. no-op reconnect", flush=True)
        t = {k: [] for k in ("newsd", "rsync", "unison")}
        b = {k: [] for k in ("newsd", "rsync", "unison", "syncthing")}
        for rep in range(self.reps):
            self.b.stop()
            self.proxy.take()
            self.b = self.keep(Daemon(self.bin, self.b_watch, self.b_data, free_port(), peers=[f"{self.a_id}@127.0.0.1:{self.proxy.port}"], name="b"))
            self.b.wait_ready(self.long)
            start = now()

            def in_sync():
                peers = self.b.ctl_json("peers")
                return peers and peers[0]["connected"] and peers[0]["behind"] == 0 and peers[0]["ahead"] == 0 and peers[0]["reported"]
            wait_until(in_sync, 60, "newsd B in sync", interval=0.01)
            t["newsd"].append(now() - start)
            time.sleep(SETTLE)
            b["newsd"].append(self.proxy.take())
            self.peer_pulls(t, b)
            self.st_b.stop()
            self.st_relay.take()
            self.st_b.start()
            wait_until(lambda: self.st_b.connected(self.st_a.device_id), self.long, "Syncthing B connected to A", interval=0.02)
            self.st_b.wait_complete(self.files, self.long)
            time.sleep(SETTLE)
            b["syncthing"].append(self.st_relay.take())
        self.results.add("noop_bytes", "No-op reconnect: bytes", b, unit="B", changes="none",
                         how={"rsync": "a pull with nothing to do", "unison": "a sync with nothing to do",
                              "syncthing": "B restarted, until connected to A and idle with every file"},
                         target="≤ 2 KB", met=median(b["newsd"]) <= 2000,
                         note="newsd: B restarted; TLS 1.3 handshake with two certificates included")
        self.results.add("noop_time", "No-op reconnect: time", t, changes="none",
                         note="newsd: from B ready to B reporting the peer connected and in sync; rsync and unison: the "
                              "command's run, process start included; Syncthing's time is not comparable (it has no ready "
                              "point before it connects) and is left out")

    # 6. 1 % edits ---------------------------------------------------------------------------------

    def edits(self):
        print("6. 1% edits", flush=True)
        t = {k: [] for k in ("newsd", "rsync", "unison", "syncthing")}
        b = {k: [] for k in ("newsd", "rsync", "unison", "syncthing")}
        for rep in range(self.reps):
            seed = 7 + rep
            self.proxy.take()
            start = now()
            manifest = self.mutate(self.corpus, 0.01, seed)
            wait_until(lambda: matches(self.b_watch, manifest), self.long, "newsd B matching A after the 1 % edits")
            t["newsd"].append(now() - start)
            time.sleep(SETTLE)
            b["newsd"].append(self.proxy.take())

            self.mutate(self.peer_src, 0.01, seed)
            self.peer_pulls(t, b)

            self.st_relay.take()
            start = now()
            manifest = self.mutate(self.st_folder, 0.01, seed)
            wait_until(lambda: matches(self.st_b.folder, manifest), self.long, "Syncthing B matching A after the 1 % edits")
            t["syncthing"].append(now() - start)
            time.sleep(SETTLE)
            b["syncthing"].append(self.st_relay.take())
        self.check_replicas("the 1 % edits")
        self.edit_peak = {"newsd": [self.b.memory()[1]], "syncthing": [self.st_b.memory()["VmHWM"]]}
        self.results.add("edits_bytes", "1 % edits: bytes", b, unit="B", changes="N/100",
                         target="≤ 0.1× rsync's bytes", met=median(b["newsd"]) <= 0.1 * median(b["rsync"]))
        self.results.add("edits_time", "1 % edits: time", t, changes="N/100",
                         target="≤ unison's time", met=median(t["newsd"]) <= median(t["unison"]),
                         how={"rsync": "one pull after the same edits in its source", "unison": "one sync, likewise",
                              "syncthing": "A's watcher (1 s delay) to B"},
                         note="newsd and Syncthing: from the start of the edits (written by the generator) to B matching")

    def peer_pulls(self, t, b):
        """rsync and unison bring their replicas up to the peer source, as it now stands."""
        for tool, (seconds, nbytes) in (("rsync", self.rsync.pull(self.rsync_dest)),
                                        ("unison", self.unison.sync(self.peer_src, self.unison_replica))):
            t[tool].append(seconds)
            b[tool].append(nbytes)

    def check_replicas(self, after):
        """Every tool's replica equals the corpus: the same change set reached each of them."""
        want = tree_digest(self.corpus)
        for tool, folder in (("newsd B", self.b_watch), ("the peers' source", self.peer_src), ("rsync", self.rsync_dest),
                             ("unison", self.unison_replica), ("Syncthing A", self.st_folder), ("Syncthing B", self.st_b.folder)):
            assert tree_digest(folder) == want, f"{tool}'s folder differs from newsd A's after {after}"

    # 7. A week offline --------------------------------------------------------------------------

    def week_offline(self):
        """B is stopped, 10 % of the articles change at A (edits, renames, deletes), B starts again:
        time from B's start to B's folder matching A, and bytes, beside rsync's and unison's pull of
        the same change set and Syncthing B restarted the same way."""
        print("7. a week offline", flush=True)
        t = {k: [] for k in ("newsd", "rsync", "unison", "syncthing")}
        b = {k: [] for k in ("newsd", "rsync", "unison", "syncthing")}
        for rep in range(self.reps):
            seed = 100 + rep
            self.b.stop()
            manifest = self.mutate(self.corpus, 0.10, seed)
            # A takes in the week's changes before B comes back, as it would have during the week.
            wait_quiet(self.a.entries, 1.0, self.long, "newsd A's log to take in the week's changes")
            self.proxy.take()
            self.b = self.keep(Daemon(self.bin, self.b_watch, self.b_data, free_port(), peers=[f"{self.a_id}@127.0.0.1:{self.proxy.port}"], name="b"))
            wait_until(lambda: matches(self.b_watch, manifest), self.long, "newsd B matching A after a week offline")
            t["newsd"].append(now() - self.b.started)
            time.sleep(SETTLE)
            b["newsd"].append(self.proxy.take())

            self.mutate(self.peer_src, 0.10, seed)
            self.peer_pulls(t, b)

            self.st_b.stop()
            sequence = self.st_a.status()["sequence"]
            manifest = self.mutate(self.st_folder, 0.10, seed)
            self.st_a.wait_scanned(len(tree_files(self.st_folder)), self.long,
                                   since=sequence + len(manifest["changed"]) + len(manifest["deleted"]))
            self.st_relay.take()
            self.st_b.start()
            wait_until(lambda: matches(self.st_b.folder, manifest), self.long, "Syncthing B matching A after a week offline")
            t["syncthing"].append(now() - self.st_b.started)
            time.sleep(SETTLE)
            b["syncthing"].append(self.st_relay.take())
        self.check_replicas("a week offline")
        self.results.add("week_time", "A week offline (10 % changed): time", t, changes="N/10",
                         how={"rsync": "one pull after the same changes in its source", "unison": "one sync, likewise",
                              "syncthing": "B stopped and started again, like newsd's"},
                         note="B stopped, 10 % of the articles edited, renamed or deleted at A (taken in by A), B started: "
                              "newsd and Syncthing from B's start (its own scan included) until every changed file is at B "
                              "and every deleted one gone; then every folder is checked byte-identical")
        self.results.add("week_bytes", "A week offline (10 % changed): bytes", b, unit="B", changes="N/10")

    # 8. One edit end to end ---------------------------------------------------------------------

    def one_edit(self):
        print("8. one edit end to end", flush=True)
        e2e = []
        for i, rel in enumerate(os.path.relpath(p, self.corpus) for p in tree_files(self.corpus)[:100]):
            with open(os.path.join(self.corpus, rel), "rb") as f:
                text = f.read() + f"\nTin cập nhật {i}.\n".encode()
            tmp = os.path.join(self.corpus, os.path.dirname(rel), f".edit-{i}.tmp")
            start = now()
            with open(tmp, "wb") as f:
                f.write(text)
            os.rename(tmp, os.path.join(self.corpus, rel))

            def arrived():
                try:
                    with open(os.path.join(self.b_watch, rel), "rb") as f:
                        return f.read() == text
                except OSError:
                    return False
            wait_until(arrived, 10, "the edit at newsd B", interval=0.001)
            e2e.append((now() - start) * 1000)
        self.results.samples["one_edit_ms"] = e2e
        self.results.add("one_edit_p50", "One edit end to end p50", {"newsd": [percentile(e2e, 50)]}, unit="ms",
                         changes="1 edit", target="< 250 ms", met=percentile(e2e, 50) < 250,
                         note="save at A (temp + rename) to new bytes in B's folder")
        self.results.add("one_edit_p99", "One edit end to end p99", {"newsd": [percentile(e2e, 99)]}, unit="ms",
                         changes="1 edit", target="< 1 s", met=percentile(e2e, 99) < 1000)

    # 9. Memory ----------------------------------------------------------------------------------

    def memory(self):
        def field(samples, key):
            return [s[key] for s in samples]
        rest = {"newsd": self.rss["newsd"], "unison": [self.unison_rest], "syncthing": self.rss["syncthing"]}
        rss = field(rest["newsd"], "VmRSS")
        self.results.add("rss_rest", "RSS at rest after ingest", {k: field(v, "VmRSS") for k, v in rest.items()}, unit="MiB",
                         how={"unison": "the socket server, after serving the first replications",
                              "syncthing": "A, 2 s after its initial scan (as newsd)"},
                         target="≤ 30 MB at 10k, ≤ 60 MB at 100k",
                         met=median(rss) <= (30 if self.n <= 10000 else 60))
        self.results.add("rss_anon", "RSS at rest: anonymous (heap, stacks)", {k: field(v, "RssAnon") for k, v in rest.items()},
                         unit="MiB", note="RssAnon in /proc: memory the process owns")
        self.results.add("rss_file", "RSS at rest: file-backed (mapped code)", {k: field(v, "RssFile") for k, v in rest.items()},
                         unit="MiB",
                         note="RssFile in /proc: pages of the binary and shared libraries mapped from the page cache")
        self.results.add("peak_ingest", "Peak RSS during ingest",
                         {"newsd": field(rest["newsd"], "VmHWM"), "syncthing": field(rest["syncthing"], "VmHWM")},
                         unit="MiB", how={"syncthing": "A through its initial scan"})
        self.results.add("peak_replication", "Peak RSS of B during first replication", self.b_peak, unit="MiB")
        self.results.add("peak_edits", "Peak RSS of B through the 1 % edits", self.edit_peak, unit="MiB",
                         note="VmHWM since B's last start: the no-op reconnects and the edits")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", help="the folder holding newsd and newsctl (release build)")
    parser.add_argument("--root", required=True, help="the repository: results and docs are written there")
    parser.add_argument("--size", default="10k", choices=SIZES.keys())
    parser.add_argument("--repeat", type=int, default=3, help="runs of each workload (figures are medians)")
    parser.add_argument("--write", action="store_true", help="write docs/BENCHMARKS.md even for 1k")
    parser.add_argument("--render-only", action="store_true",
                        help="only render docs/BENCHMARKS.md from bench/results/*.json; runs nothing")
    args = parser.parse_args()
    results_dir = os.path.join(args.root, "bench", "results")
    if not args.render_only:
        if not args.bin:
            parser.error("--bin is required unless --render-only")
        results = Bench(args).main()
        path = os.path.join(results_dir, f"bench-{args.size}.json")
        results.save(path)
        print(f"wrote {path}")
    if args.render_only or args.size != "1k" or args.write:
        doc = report.write_doc(args.root)
        print(f"wrote {doc}")
    else:
        print("a 1k run leaves docs/BENCHMARKS.md alone (pass --write to render it)")


if __name__ == "__main__":
    main()
