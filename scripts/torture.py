#!/usr/bin/env python3
"""Attacks newsd and checks it lost nothing: kill -9 during ingest and during replication, partitions
between three sites, random bytes and a flood of silent connections at the replication port, a full
disk, and (when built) the libFuzzer targets. Prints a summary table.

    scripts/torture.sh                 the long run: 50 kills of each kind
    scripts/torture.sh --kills 10      the short run
"""
import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

from harness import Relay, free_port, tree_digest as digest_of, wait_until


def tree_digest(root):
    """Every article's digest; newsd's temp files, there for an instant on a running site, left out."""
    return digest_of(root, skip_newsd_temp=True)


class Site:
    def __init__(self, bin_dir, root, name, initialize=True):
        """`initialize`: make the site key now (`newsd init`) and know the ID; else newsd makes it
        at its first start (as when the data folder is mounted afterwards)."""
        self.bin = bin_dir
        self.watch = os.path.join(root, name, "articles")
        self.data = os.path.join(root, name, "data")
        self.port = free_port()
        os.makedirs(self.watch, exist_ok=True)
        self.id = None
        if initialize:
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

    def query(self, sql, otherwise):
        """Rows of `sql` read straight from the log (a WAL reader does not disturb the writer)."""
        try:
            db = sqlite3.connect(f"file:{self.data}/log.sqlite?mode=ro", uri=True, timeout=2)
            try:
                return db.execute(sql).fetchall()
            finally:
                db.close()
        except sqlite3.Error:
            return otherwise

    def entries(self):
        return self.query("SELECT count(*) FROM entries", [(0,)])[0][0]

    def versions(self):
        return frozenset(row[0] for row in self.query("SELECT version FROM entries", []))

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

    try:
        wait_until(lambda: tree_digest(a.watch) == tree_digest(b.watch), 60, "B's folder matches A's")
    except TimeoutError:
        pass
    converged = tree_digest(a.watch) == tree_digest(b.watch)
    # Temp files a kill left mid-write are removed at the next start; none may stay.
    leftovers = sum(1 for _, _, names in os.walk(b.watch) for name in names
                    if name.startswith(".newsd-") and name != ".newsd-site")
    verified = a.verify() and b.verify()
    a.stop()
    b.stop()
    return dict(kills=kills, lost=lost, converged=converged and leftovers == 0, verified=verified, leftovers=leftovers)


def conflict_listing(site):
    result = site.ctl("conflicts", "--json")
    if result.returncode != 0:
        return None
    return sorted((c["article"], tuple(sorted(c["versions"])), c["winner"]) for c in json.loads(result.stdout))


def converged(sites):
    """The same folders, the same versions in every log, and the same conflict listings everywhere."""
    digests = [tree_digest(s.watch) for s in sites]
    if any(d != digests[0] for d in digests):
        return False
    if len({s.versions() for s in sites}) != 1:
        return False
    listings = [conflict_listing(s) for s in sites]
    return listings[0] is not None and all(l == listings[0] for l in listings)


def start_triangle(bin_dir, root, prefix, seed_a=False):
    """Three sites a, b, c, each dialling the next through its own relay (a->b, b->c, c->a) and
    accepting the one before. `seed_a`: a's folder starts with the seeds."""
    sites = [Site(bin_dir, root, f"{prefix}-{name}") for name in "abc"]
    a, b, c = sites
    if seed_a:
        shutil.copytree(os.path.join(os.path.dirname(__file__), "..", "seeds"), a.watch, dirs_exist_ok=True)
    proxies = {("a", "b"): Relay(b.port), ("b", "c"): Relay(c.port), ("c", "a"): Relay(a.port)}
    a.start(peers=[f"{b.id}@127.0.0.1:{proxies[('a', 'b')].port}", c.id])
    b.start(peers=[f"{c.id}@127.0.0.1:{proxies[('b', 'c')].port}", a.id])
    c.start(peers=[f"{a.id}@127.0.0.1:{proxies[('c', 'a')].port}", b.id])
    return sites, proxies


def stop_triangle(sites, proxies):
    for proxy in proxies.values():
        proxy.close()
    for site in sites:
        site.stop()


def partitions(bin_dir, root, rounds, rng):
    """Three sites in a triangle through fault proxies. Each round cuts one site off (its links reset
    or black-holed) or slows every link, edits articles on both sides, heals, and checks that the
    folders, the logs and the conflict listings are the same everywhere."""
    sites, proxies = start_triangle(bin_dir, root, "part", seed_a=True)
    a, b, c = sites
    healed = failures = 0
    edits = 0
    # Open conflicts summed over the rounds (a later edit of a conflicted article resolves it).
    conflicts_seen = 0
    try:
        for site in sites:
            site.wait_ready()
        wait_until(lambda: tree_digest(b.watch) == tree_digest(a.watch) == tree_digest(c.watch), 60, "seeds everywhere")
        for round_index in range(rounds):
            isolated = rng.choice("abc")
            style = rng.choice(["reset", "blackhole", "delay"])
            for (x, y), proxy in proxies.items():
                if style == "delay":
                    proxy.set("delay", rng.uniform(0.01, 0.2))
                elif isolated in (x, y):
                    proxy.set(style)
            # Edits on every site, some to the same articles (conflicts), some of their own.
            for _ in range(rng.randrange(3, 12)):
                site = rng.choice(sites)
                name = f"chung-{rng.randrange(6)}.txt" if rng.random() < 0.5 else f"{site.name}-{round_index}-{edits}.txt"
                path = os.path.join(site.watch, name)
                with open(path + ".tmp", "w") as f:
                    f.write(f"Vòng {round_index}, bản {edits} từ {site.name}.\n" * rng.randrange(1, 20))
                os.rename(path + ".tmp", path)
                edits += 1
                time.sleep(rng.uniform(0, 0.2))
            time.sleep(rng.uniform(0.5, 2.0))
            for proxy in proxies.values():
                proxy.set("pass")

            try:
                wait_until(lambda: converged(sites), 90, f"round {round_index} healed")
                healed += 1
                conflicts_seen += len(conflict_listing(a) or [])
            except TimeoutError:
                failures += 1
                print(f"  round {round_index} ({style}, {isolated} cut off) did not converge", flush=True)
        verified = all(s.verify() for s in sites)
    finally:
        stop_triangle(sites, proxies)
    return dict(rounds=rounds, healed=healed, failures=failures, edits=edits, verified=verified, conflicts=conflicts_seen)


def concurrent_editors(bin_dir, root, rounds, seconds, rng):
    """Three sites in a triangle through relays; an editor at each saves the same 20 articles every
    150-400 ms while links are cut and healed at random and another program keeps writing (and
    fsyncing) to the same disk. After each round the links heal and the sites must converge: the
    same folders, logs and conflict listings. Every save that stood 300 ms (its editor did not save
    that article again sooner) must be in every site's log."""
    sites, proxies = start_triangle(bin_dir, root, "edit")
    a = sites[0]
    articles = [f"chung/bai-{i:02d}.txt" for i in range(20)]
    required = []          # (article, sha256 hex) of saves that stood 300 ms
    saves = 0
    converged_rounds = 0
    conflicts_alike = 0
    try:
        for site in sites:
            site.wait_ready()
        for round_index in range(rounds):
            stop = threading.Event()
            lock = threading.Lock()
            made = []      # (site index, article, time, digest)

            def editor(index, seed):
                local = random.Random(seed)
                site = sites[index]
                count = 0
                while not stop.is_set():
                    article = local.choice(articles)
                    path = os.path.join(site.watch, article)
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    text = f"Vòng {round_index}, {site.name} bản {count}: " + "tin nhanh, " * local.randrange(1, 60) + "\n"
                    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{count}.swp")
                    with open(tmp, "w", encoding="utf-8") as f:
                        f.write(text)
                    os.rename(tmp, path)
                    with lock:
                        made.append((index, article, time.monotonic(), hashlib.sha256(text.encode()).hexdigest()))
                    count += 1
                    time.sleep(local.uniform(0.15, 0.4))

            def disk_hog():
                path = os.path.join(root, f"hog-{round_index}.bin")
                block = os.urandom(1 << 20)
                while not stop.is_set():
                    with open(path, "wb") as f:
                        for _ in range(4):
                            f.write(block)
                        f.flush()
                        os.fsync(f.fileno())
                os.unlink(path)

            def chaos(seed):
                local = random.Random(seed)
                while not stop.wait(local.uniform(1, 4)):
                    proxy = local.choice(list(proxies.values()))
                    proxy.set(local.choice(["reset", "blackhole", "pass", "pass"]))

            threads = [threading.Thread(target=editor, args=(i, rng.random())) for i in range(3)]
            threads += [threading.Thread(target=disk_hog), threading.Thread(target=chaos, args=(rng.random(),))]
            for t in threads:
                t.start()
            time.sleep(seconds)
            stop.set()
            for t in threads:
                t.join()
            for proxy in proxies.values():
                proxy.set("pass")
            saves += len(made)
            for i, (index, article, at, digest) in enumerate(made):
                later = [m for m in made[i + 1:] if m[0] == index and m[1] == article]
                if not later or later[0][2] - at >= 0.3:
                    required.append((article, digest))

            try:
                wait_until(lambda: converged(sites), 180, f"editors round {round_index} converged", interval=0.5)
                converged_rounds += 1
                conflicts_alike += len(conflict_listing(a) or [])
            except TimeoutError:
                print(f"  editors round {round_index} did not converge", flush=True)
        missing = set()
        for site in sites:
            rows = site.query("SELECT article, hex(content_hash) FROM entries WHERE op = 1", None)
            if rows is None:
                raise RuntimeError(f"cannot read {site.name}'s log")
            held = {(row[0], row[1].lower()) for row in rows}
            absent = [r for r in required if r not in held]
            missing.update(absent)
            for article, digest in absent[:5]:
                print(f"  {site.name} lacks a save of {article} ({digest[:12]})", flush=True)
        lost = len(missing)
        verified = all(s.verify() for s in sites)
    finally:
        stop_triangle(sites, proxies)
    return dict(rounds=rounds, seconds=seconds, saves=saves, required=len(required), lost=lost,
                converged=converged_rounds, conflicts=conflicts_alike, verified=verified)


def connection_flood(bin_dir, root, count):
    """`count` connections at once that never speak, then one that stays silent: the daemon stays up
    with bounded descriptors, closes every one (refused past its pending-hello limit, else timed out
    for want of a hello) and a real peer still syncs afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 512)), hard))
    a, b = Site(bin_dir, root, "flood-a"), Site(bin_dir, root, "flood-b")
    shutil.copytree(os.path.join(os.path.dirname(__file__), "..", "seeds"), a.watch, dirs_exist_ok=True)
    a.start(peers=[b.id])
    a.wait_ready()

    def descriptors():
        return len(os.listdir(f"/proc/{a.process.pid}/fd"))
    baseline = descriptors()
    flood = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", a.port))
        except BlockingIOError:
            pass
        flood.append(s)
    time.sleep(1)
    peak = descriptors()
    alive = a.ready()
    # Part of a burst this fast can be answered by the kernel with a reset before newsd sees it.
    kernel_refused = 0
    for s in flood:
        try:
            s.recv(1)
        except ConnectionRefusedError:
            kernel_refused += 1
        except OSError:
            pass

    def all_closed():
        for s in flood:
            try:
                if s.recv(1) != b"":
                    return False
            except BlockingIOError:
                return False
            except OSError:
                pass
        return True
    started = time.monotonic()
    wait_until(all_closed, 60, "every silent connection closed by newsd")
    closed_after = time.monotonic() - started + 1
    for s in flood:
        s.close()
    wait_until(lambda: descriptors() <= baseline + 2, 20, "descriptors back to the baseline")
    refused = json.loads(a.ctl("status", "--json").stdout)["refused_connections"]
    b.start(peers=[f"{a.id}@127.0.0.1:{a.port}"])
    b.wait_ready()
    try:
        wait_until(lambda: tree_digest(b.watch) == tree_digest(a.watch), 60, "a real peer syncs after the flood")
        synced = True
    except TimeoutError:
        synced = False
    a.stop()
    b.stop()
    return dict(count=count, alive=alive, baseline=baseline, peak=peak, refused=refused, kernel_refused=kernel_refused,
                closed_after=closed_after, synced=synced)


def full_disk(bin_dir, root, rng):
    """The data folder on a small tmpfs: articles keep coming until it is full; ingest must stop with
    a clear error in status and the log, keep the log valid, and resume by itself once the file system
    is grown (space freed)."""
    site = Site(bin_dir, root, "disk", initialize=False)
    os.makedirs(site.data)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", site.data], capture_output=True).returncode != 0:
        return None
    try:
        site.start()
        site.wait_ready()
        written = 0
        problem = ""
        # Text that compresses little, so the log grows about as fast as the folder.
        for index in range(400):
            with open(os.path.join(site.watch, f"bai-{index}.txt"), "w") as f:
                f.write("".join(rng.choice("aăâbcdđeêghiklmnoôơpqrstuưvxy ") for _ in range(20000)))
            written += 1
            status = json.loads(site.ctl("status", "--json").stdout)
            problem = next((p for p in status["problems"] if "disk full" in p), "")
            if problem:
                break
            time.sleep(0.02)
        with open(os.path.join(os.path.dirname(site.data), "newsd.log")) as f:
            logged = "disk full" in f.read()
        up_while_full = site.ready()
        verified_while_full = site.verify()
        subprocess.run(["mount", "-o", "remount,size=64m", site.data], check=True)
        try:
            wait_until(lambda: site.entries() >= written and not json.loads(site.ctl("status", "--json").stdout)["problems"], 30,
                       "ingest resumed")
            resumed = True
        except TimeoutError:
            resumed = False
        verified = site.verify()
        mismatches = len(site.heads_match_disk())
        site.stop()
        return dict(written=written, problem=problem, logged=logged, up=up_while_full, verified_while_full=verified_while_full,
                    resumed=resumed, verified=verified, mismatches=mismatches)
    finally:
        site.stop()
        subprocess.run(["umount", "-l", site.data], capture_output=True)


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


EVIL_ATTACKS = [
    # attack, what newsd must log when it ends the session (None: the attack is valid traffic)
    ("claim-16g", "claims 17179869184 bytes"),
    ("bomb", None),
    ("vector-2^63", None),
    ("origins-100001", "vector of 100001 origins"),
    ("heads-1025", "replaces 1025 versions"),
    ("stall", "no byte from the peer"),
    ("deaf", "read none of"),
    ("flood", None),
]


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def evil_peer(bin_dir, root, seconds):
    """A listed peer turned hostile (`evil-peer`), each attack held for `seconds` against site A
    while an honest site B edits: A's RSS before and during, B's edits reaching A, A up, verify."""
    a, b = Site(bin_dir, root, "evil-a"), Site(bin_dir, root, "evil-b")
    noise = random.Random(3).randbytes(1 << 20).hex()
    for index in range(16):  # about 32 MB to send: a peer that reads nothing backs it up
        os.makedirs(os.path.join(a.watch, "anh"), exist_ok=True)
        with open(os.path.join(a.watch, "anh", f"{index}.txt"), "w") as f:
            f.write(f"{index}\n{noise}")
    keys = {}
    for attack, _ in EVIL_ATTACKS:
        path = os.path.join(root, f"evil-{attack}.pem")
        keys[attack] = (path, subprocess.run([f"{bin_dir}/evil-peer", "id", "--key", path], check=True,
                                             capture_output=True, text=True).stdout.strip())
    a.start(peers=[f"{b.id}@127.0.0.1:{b.port}"] + [key for _, key in keys.values()])
    b.start(peers=[f"{a.id}@127.0.0.1:{a.port}"])
    a.wait_ready()
    b.wait_ready()
    wait_until(lambda: tree_digest(b.watch) == tree_digest(a.watch), 120, "A's articles at B")
    time.sleep(5)
    rest = rss_kib(a.process.pid)
    log_path = os.path.join(os.path.dirname(a.data), "newsd.log")
    results = []
    for round_index, (attack, phrase) in enumerate(EVIL_ATTACKS):
        path, key_id = keys[attack]
        log_start = os.path.getsize(log_path)
        proc = subprocess.Popen([f"{bin_dir}/evil-peer", "attack", attack, "--key", path, "--port", str(a.port),
                                 "--seconds", str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak, edits, late, pending, n = rest, 0, 0, None, 0
        while proc.poll() is None:
            peak = max(peak, rss_kib(a.process.pid))
            now = time.time()
            if pending and open_or_none(os.path.join(a.watch, pending[0])) == pending[1]:
                pending = None
            elif pending and now - pending[2] > 10:
                late += 1
                pending = None
            if pending is None and (n == 0 or now - last > 5):
                n += 1
                name = f"tu-b/{attack}-{n}.txt"
                text = f"Bài {n} viết ở Đà Nẵng trong đòn {attack}.\n"
                os.makedirs(os.path.join(b.watch, "tu-b"), exist_ok=True)
                with open(os.path.join(b.watch, name), "w") as f:
                    f.write(text)
                pending, last, edits = (name, text, now), now, edits + 1
            time.sleep(0.2)
        out, err = proc.communicate()
        try:
            answers = json.loads(out)["answers"]
        except (ValueError, KeyError):
            answers = {"evil-peer failed": err.strip()[-200:]}
        if pending:
            arrived = wait_until_quietly(lambda: open_or_none(os.path.join(a.watch, pending[0])) == pending[1], 30)
            late += 0 if arrived else 1
        with open(log_path, errors="replace") as f:
            f.seek(log_start)
            logged = phrase is None or phrase in f.read()
        peer = next((p for p in json.loads(a.ctl("peers", "--json").stdout) if p["id"] == key_id), {})
        results.append(dict(attack=attack, answers=answers, rest=rest, peak=peak, edits=edits, late=late,
                            up=a.process.poll() is None and a.ready(), logged=logged,
                            counted=phrase is None or peer.get("session_failures", 0) > 0, verified=a.verify()))
    converged = wait_until_quietly(lambda: a.entries() == b.entries(), 120)
    verified = a.verify() and b.verify()
    a.stop()
    b.stop()
    return dict(attacks=results, seconds=seconds, converged=converged, verified=verified)


def open_or_none(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def wait_until_quietly(condition, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


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
    parser.add_argument("--partitions", type=int, default=20, help="partition rounds among three sites")
    parser.add_argument("--flood", type=int, default=1000, help="silent connections opened at once")
    parser.add_argument("--editor-rounds", type=int, default=3, help="concurrent-editor rounds among three sites")
    parser.add_argument("--editor-seconds", type=int, default=60, help="length of each concurrent-editor round")
    parser.add_argument("--evil-seconds", type=int, default=40, help="how long each evil-peer attack is held")
    parser.add_argument("--only", default="", help="comma-separated rounds to run (ingest, replication, partitions, "
                                                   "editors, hostile, evil, flood, disk, fuzz); default all")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    known = {"ingest", "replication", "partitions", "editors", "hostile", "evil", "flood", "disk", "fuzz"}
    if only - known:
        parser.error(f"unknown round(s): {', '.join(sorted(only - known))}; known: {', '.join(sorted(known))}")
    run = (lambda name: not only or name in only)
    rng = random.Random(5)
    work = tempfile.mkdtemp(prefix="newsd-torture-")
    try:
        ingest = dict(kills=0, writes=0, lost=0, failed_verify=0, mismatches=0)
        repl = dict(kills=0, lost=0, converged=True, leftovers=0, verified=True)
        parts = dict(rounds=0, healed=0, failures=0, edits=0, verified=True, conflicts=0)
        editors = dict(rounds=0, seconds=0, saves=0, required=0, lost=0, converged=0, conflicts=0, verified=True)
        hostile = dict(tries=0, alive=True, refused=0, stored=0)
        flood = dict(count=0, alive=True, baseline=0, peak=0, closed_after=0, refused=0, kernel_refused=0, synced=True)
        disk, fuzzed, evil = None, {}, None
        if run("ingest"):
            print(f"kill -9 during ingest ({args.kills})", flush=True)
            ingest = kills_during_ingest(args.bin, work, args.kills, rng)
        if run("replication"):
            print(f"kill -9 during replication ({args.kills})", flush=True)
            repl = kills_during_replication(args.bin, work, args.kills, rng, args.articles)
        if run("partitions"):
            print(f"partitions among three sites ({args.partitions} rounds)", flush=True)
            parts = partitions(args.bin, work, args.partitions, rng)
        if run("editors"):
            print(f"concurrent editors at three sites ({args.editor_rounds} rounds of {args.editor_seconds} s)", flush=True)
            editors = concurrent_editors(args.bin, work, args.editor_rounds, args.editor_seconds, rng)
        if run("hostile"):
            print("random bytes at the replication port", flush=True)
            hostile = hostile_bytes(args.bin, work, 200, rng)
        if run("evil"):
            print(f"an evil peer, {len(EVIL_ATTACKS)} attacks of {args.evil_seconds} s each", flush=True)
            evil = evil_peer(args.bin, work, args.evil_seconds)
        if run("flood"):
            print(f"{args.flood} silent connections at once", flush=True)
            flood = connection_flood(args.bin, work, args.flood)
        if run("disk"):
            print("full disk (data folder on a 3 MiB tmpfs)", flush=True)
            disk = full_disk(args.bin, work, rng)
        if run("fuzz"):
            print("fuzzing", flush=True)
            fuzzed = fuzz(args.root, args.fuzz_seconds)
    finally:
        subprocess.run(["pkill", "-f", work], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    if run("ingest"):
        rows += [
            ("kills during ingest survived", f"{ingest['kills']} ({ingest['writes']} writes)"),
            ("  acknowledged entries lost", ingest["lost"]),
            ("  verify failures after", ingest["failed_verify"]),
            ("  files whose head is not their content", ingest["mismatches"]),
        ]
    if run("replication"):
        rows += [
            ("kills during replication survived", repl["kills"]),
            ("  acknowledged entries lost", repl["lost"]),
            ("  sites converged byte for byte", "yes" if repl["converged"] else f"NO ({repl['leftovers']} temp files left)"),
            ("  verify passed on both", "yes" if repl["verified"] else "NO"),
        ]
    if run("partitions"):
        rows += [
            ("partitions healed", f"{parts['healed']} of {parts['rounds']} ({parts['edits']} edits, "
                                  f"{parts['conflicts']} open conflicts at the heals, listed alike on 3 sites)"),
            ("  verify passed on all three", "yes" if parts["verified"] else "NO"),
        ]
    if run("editors"):
        rows += [
            ("concurrent editors", f"{editors['rounds']} rounds of {editors['seconds']} s, {editors['saves']} saves "
                                   f"({editors['required']} stood 300 ms), links cut at random, disk busy"),
            ("  saves that stood 300 ms missing from any log", editors["lost"]),
            ("  rounds converged (folders, logs, conflict listings alike)", f"{editors['converged']} of {editors['rounds']} "
                                                                           f"({editors['conflicts']} open conflicts listed alike)"),
            ("  verify passed on all three", "yes" if editors["verified"] else "NO"),
        ]
    if run("hostile"):
        rows.append(("hostile connections (random bytes)", f"{hostile['tries']}, daemon up: {'yes' if hostile['alive'] else 'NO'}, "
                                                           f"refused {hostile['refused']}, stored {hostile['stored']}"))
    if evil is not None:
        rows.append((f"evil peer ({evil['seconds']} s per attack)", "site A's RSS at rest -> at most during; B's edits at A; A up, logged, counted, verify"))
        for r in evil["attacks"]:
            answers = ", ".join(f"{k} x{v}" for k, v in sorted(r["answers"].items()))
            ok = r["up"] and r["logged"] and r["counted"] and r["verified"] and r["late"] == 0 and r["peak"] - r["rest"] <= 64 << 10
            rows.append((f"  {r['attack']}", f"{r['rest'] // 1024} -> {r['peak'] // 1024} MiB; {r['edits'] - r['late']} of {r['edits']} edits in 10 s; "
                                             f"{'ok' if ok else 'FAILED'} ({answers})"))
        rows.append(("  A and B converged, verify passed on both", "yes" if evil["converged"] and evil["verified"] else "NO"))
    if run("flood"):
        rows += [
            ("silent connections at once", f"{flood['count']}, daemon up: {'yes' if flood['alive'] else 'NO'}, descriptors "
                                           f"{flood['baseline']} -> {flood['peak']} -> back, all closed by newsd in {flood['closed_after']:.0f} s"),
            ("  refused or timed out by newsd (counted)", f"{flood['refused']} (reset by the kernel before newsd saw them: {flood['kernel_refused']})"),
            ("  a real peer synced afterwards", "yes" if flood["synced"] else "NO"),
        ]
    if not run("disk"):
        pass
    elif disk is None:
        rows.append(("full disk", "not run (cannot mount a tmpfs here)"))
    else:
        rows += [
            ("full disk", f"after {disk['written']} articles: {disk['problem'] or 'NO ERROR SHOWN'}"),
            ("  logged, daemon up, verify passed while full", "yes" if disk["logged"] and disk["up"] and disk["verified_while_full"] else "NO"),
            ("  resumed by itself once space was freed", "yes" if disk["resumed"] else "NO"),
            ("  verify passed, every file its head", "yes" if disk["verified"] and not disk["mismatches"] else "NO"),
        ]
    rows += [(f"fuzz executions, {name}", value) for name, value in fuzzed.items()]
    lost = ingest["lost"] + repl["lost"] + ingest["mismatches"] + ingest["failed_verify"] + (0 if repl["converged"] and repl["verified"] else 1)
    lost += parts["failures"] + (0 if parts["verified"] else 1)
    lost += editors["lost"] + (editors["rounds"] - editors["converged"]) + (0 if editors["verified"] else 1)
    lost += 0 if flood["alive"] and flood["synced"] else 1
    if evil is not None:
        lost += sum(0 if r["up"] and r["logged"] and r["counted"] and r["verified"] and r["late"] == 0
                    and r["peak"] - r["rest"] <= 64 << 10 else 1 for r in evil["attacks"])
        lost += 0 if evil["converged"] and evil["verified"] else 1
    if disk is not None:
        lost += disk["mismatches"] + (0 if disk["resumed"] and disk["verified"] and disk["problem"] and disk["logged"] else 1)
    lost += sum(1 for value in fuzzed.values() if "crash" in str(value))
    rows.append(("anything lost or failed", lost))
    width = max(len(r[0]) for r in rows)
    print()
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
