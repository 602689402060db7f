#!/usr/bin/env python3
"""The write-ahead log under many small commits: a peer pushes 10,000 entries 2 ms apart, so each
arrives in a read of its own and is committed on its own (synchronous=FULL). Reports the WAL's size
before, at most during, at the end and after a quiet spell, and how long `newsctl log` and
`newsctl status` take at the end.

    bench/run.sh runs it after the comparison; alone:
    python3 bench/wal.py --bin "$(swift build -c release --static-swift-stdlib --show-bin-path)"
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from harness import free_port, wait_until  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--entries", type=int, default=10000)
    parser.add_argument("--interval-ms", type=int, default=2)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="newsd-wal-")
    watch, data = os.path.join(work, "articles"), os.path.join(work, "data")
    os.makedirs(watch)
    key = os.path.join(work, "pusher.pem")
    pusher = subprocess.run([f"{args.bin}/evil-peer", "id", "--key", key], check=True, capture_output=True, text=True).stdout.strip()
    port = free_port()
    log = open(os.path.join(work, "newsd.log"), "w")
    daemon = subprocess.Popen([f"{args.bin}/newsd", "--watch", watch, "--data", data, "--listen", f"127.0.0.1:{port}",
                               "--peer", pusher], stdout=log, stderr=log)

    def ctl(*a):
        return subprocess.run([f"{args.bin}/newsctl", *a, "--data", data], capture_output=True, text=True)

    def wal():
        try:
            return os.path.getsize(os.path.join(data, "log.sqlite-wal"))
        except OSError:
            return 0

    try:
        wait_until(lambda: ctl("status", "--json").returncode == 0 and json.loads(ctl("status", "--json").stdout)["ready"], 60, "newsd ready")
        before = wal()
        peak, done = before, threading.Event()

        def sample():
            nonlocal peak
            while not done.is_set():
                peak = max(peak, wal())
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        start = time.monotonic()
        subprocess.run([f"{args.bin}/evil-peer", "attack", "flood", "--key", key, "--port", str(port), "--seconds", "3600",
                        "--count", str(args.entries), "--interval-ms", str(args.interval_ms)], check=True, capture_output=True)
        wait_until(lambda: json.loads(ctl("status", "--json").stdout)["log_entries"] >= args.entries, 120, "every entry logged")
        elapsed = time.monotonic() - start
        at_end = wal()
        done.set()
        sampler.join()

        def latency(*a):
            times = []
            for _ in range(20):
                t = time.monotonic()
                assert ctl(*a).returncode == 0
                times.append(time.monotonic() - t)
            return statistics.median(times) * 1000, max(times) * 1000

        log_median, log_max = latency("log", "lu/0.txt")
        status_median, status_max = latency("status")
        time.sleep(10)
        quiet = wal()
        entries = json.loads(ctl("status", "--json").stdout)["log_entries"]
        print(f"{entries} entries pushed {args.interval_ms} ms apart in {elapsed:.1f} s ({entries / elapsed:.0f}/s)")
        print(f"WAL: {before / 1e6:.1f} MB before, {peak / 1e6:.1f} MB at most, {at_end / 1e6:.1f} MB at the end, "
              f"{quiet / 1e6:.1f} MB after 10 s quiet")
        print(f"newsctl log (100 versions): {log_median:.0f} ms median, {log_max:.0f} ms max; "
              f"newsctl status: {status_median:.0f} ms median, {status_max:.0f} ms max")
        print(f"verify: {'ok' if ctl('verify').returncode == 0 else 'FAILED'}")
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
