"""The tools bench/bench.py sets newsd beside, and this machine's floors. Each peer runs on 127.0.0.1
only, from its own scratch state (no ~/.unison, no ~/.config/syncthing), and every wait is bounded.

- rsync: a daemon serving the source read-only; bytes are its own `--stats` totals.
- unison: a socket server (`-socket PORT -listen 127.0.0.1`) with a Relay in front counting bytes.
- Syncthing: two instances with their own --home; B dials A through a Relay, so every byte between
  them is counted; driven and awaited through the REST API.
- Floors: SHA-256 + one SQLite insert per file (under ingest), and the same files written into a
  folder with one syncfs (under replication, which must leave the files durable).
"""
import ctypes
import datetime
import hashlib
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from harness import Relay, free_port, wait_until  # noqa: E402


def now():
    return time.monotonic()


def run(cmd, timeout=3600, **kw):
    """Runs `cmd` to completion, for at most `timeout` seconds; a failure raises with the command's own
    stderr, not just its status."""
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(cmd)} did not finish within {timeout} s") from None
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {(done.stderr or done.stdout)[-2000:]}")
    return done


def timed(cmd, **kw):
    start = now()
    run(cmd, **kw)
    return now() - start


def tree_files(root):
    """Every article file under root: newsd's site marker and Syncthing's folder marker left out."""
    out = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".stfolder"]
        for name in names:
            if name != ".newsd-site":
                out.append(os.path.join(folder, name))
    return out


def proc_memory(pid):
    """VmRSS, VmHWM (peak), RssAnon (heap, stacks) and RssFile (mapped files) of a process, in MiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1]) / 1024
    return out


def stop_process(process, what, timeout=30):
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"  {what} ignored SIGTERM for {timeout} s: killed", flush=True)
            process.kill()
            process.wait(timeout=10)


def version(cmd):
    try:
        return " ".join(run(cmd).stdout.split("\n")[0].split())
    except (OSError, RuntimeError, IndexError):
        return "?"


# Floors -----------------------------------------------------------------------------------------

def floor_sha_sqlite(root, db_path):
    """SHA-256 of every file and one SQLite insert each, in one transaction: the floor under ingest."""
    start = now()
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE blobs (hash BLOB PRIMARY KEY, data BLOB)")
    with db:
        for path in tree_files(root):
            with open(path, "rb") as f:
                data = f.read()
            db.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?)", (hashlib.sha256(data).digest(), data))
    db.close()
    return now() - start


_libc = ctypes.CDLL(None, use_errno=True)


def floor_durable_copy(source, dest):
    """The same files written into a fresh folder (open, write, close each), then one syncfs on that
    file system: the least a replica must do to hold the corpus durably. Returns seconds."""
    start = now()
    for path in tree_files(source):
        target = os.path.join(dest, os.path.relpath(path, source))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(path, "rb") as f:
            data = f.read()
        with open(target, "wb") as f:
            f.write(data)
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _libc.syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), "syncfs failed")
    finally:
        os.close(fd)
    return now() - start


# rsync ------------------------------------------------------------------------------------------

class Rsync:
    """An rsync daemon on 127.0.0.1 serving `source` read-only as the module `corpus`."""

    def __init__(self, source, work):
        self.port = free_port()
        conf = os.path.join(work, "rsyncd.conf")
        with open(conf, "w") as f:
            f.write(f"use chroot = no\nlog file = {work}/rsyncd.log\npid file = {work}/rsyncd.pid\n"
                    f"[corpus]\npath = {source}\nread only = yes\n")
        self.process = subprocess.Popen(["rsync", "--daemon", "--no-detach", f"--config={conf}", f"--port={self.port}",
                                         "--address=127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: _accepts(self.port), 10, "the rsync daemon listening", interval=0.05)

    def pull(self, dest):
        """Time and bytes on the wire (sent + received, from --stats) of one `rsync -a --delete` pull."""
        start = now()
        out = run(["rsync", "-a", "--delete", "--stats", f"rsync://127.0.0.1:{self.port}/corpus/", dest + "/"]).stdout
        elapsed = now() - start
        total = 0
        for line in out.splitlines():
            if line.startswith(("Total bytes sent:", "Total bytes received:")):
                total += int(line.split(":")[1].strip().replace(",", ""))
        return elapsed, total

    def stop(self):
        stop_process(self.process, "rsync daemon", timeout=10)


def _accepts(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


# unison -----------------------------------------------------------------------------------------

class Unison:
    """A unison socket server bound to 127.0.0.1 (2.52's `-listen`), with a Relay in front that counts
    the bytes each sync puts on the wire. The server and each client replica have their own UNISON
    directory, so no archive in ~/.unison is read or shared."""

    OPTIONS = ["-batch", "-auto", "-times", "-confirmbigdel=false", "-terse"]

    def __init__(self, work):
        self.work = work
        self.home = os.path.join(work, "unison-server")
        os.makedirs(self.home)
        self.port = free_port()
        self.log_path = os.path.join(work, "unison-server.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(["unison", "-socket", str(self.port), "-listen", "127.0.0.1"], cwd=self.home,
                                        env=dict(os.environ, UNISON=self.home), stdout=self.log, stderr=subprocess.STDOUT)

        def started():
            if self.process.poll() is not None:
                raise RuntimeError(f"unison server exited: {open(self.log_path).read()[-2000:]}")
            return "server started" in open(self.log_path).read()
        wait_until(started, 10, "the unison server listening")
        self.relay = Relay(self.port)

    def sync(self, source, replica):
        """One `unison replica socket://…/source` run: time and bytes through the relay. The replica's
        archive lives beside it (replica + ".unison"), so each replica has its own history."""
        home = replica + ".unison"
        os.makedirs(home, exist_ok=True)
        os.makedirs(replica, exist_ok=True)
        self.relay.take()
        start = now()
        run(["unison", replica, f"socket://127.0.0.1:{self.relay.port}/{source}", *self.OPTIONS],
            env=dict(os.environ, UNISON=home))
        return now() - start, self.relay.take()

    def memory(self):
        return proc_memory(self.process.pid)

    def stop(self):
        self.relay.close()
        stop_process(self.process, "unison server", timeout=10)
        self.log.close()


# Syncthing --------------------------------------------------------------------------------------

class Syncthing:
    """One Syncthing instance with its own home (keys, config, database), sharing one folder. Its
    config is written before each start: GUI/REST on 127.0.0.1 with a known API key, one listen
    address on 127.0.0.1, no discovery, relays, NAT, STUN, usage or crash reporting, upgrades, or
    lowered priority (newsd runs at normal priority too); the folder send-receive, watched with
    Syncthing's shortest watcher delay (1 s) and a rescan interval longer than any run."""

    FOLDER = "corpus"

    def __init__(self, home, folder, name):
        self.home, self.folder, self.name = home, folder, name
        os.makedirs(folder, exist_ok=True)
        # The folder marker Syncthing checks before it scans or writes (it refuses a folder without it).
        os.makedirs(os.path.join(folder, ".stfolder"), exist_ok=True)
        run(["syncthing", "generate", f"--home={home}", "--no-default-folder"])
        self.device_id = ET.parse(self.config_path).getroot().find("device").get("id")
        self.listen_port = free_port()
        self.gui_port = free_port()
        self.api_key = f"newsd-bench-{name}"
        self.peers = []
        self.process = None
        self.started = None

    @property
    def config_path(self):
        return os.path.join(self.home, "config.xml")

    def introduce(self, device_id, address="dynamic"):
        """Shares the folder with `device_id`, dialled at `address` ("dynamic": never dialled, since
        discovery is off; the peer dials in)."""
        self.peers.append((device_id, address))

    def _write_config(self):
        tree = ET.parse(self.config_path)
        root = tree.getroot()
        gui = root.find("gui")
        gui.find("address").text = f"127.0.0.1:{self.gui_port}"
        gui.find("apikey").text = self.api_key
        options = root.find("options")
        for element in options.findall("listenAddress"):
            options.remove(element)
        listen = ET.SubElement(options, "listenAddress")
        listen.text = f"tcp://127.0.0.1:{self.listen_port}"
        for key, value in {"globalAnnounceEnabled": "false", "localAnnounceEnabled": "false", "relaysEnabled": "false",
                           "natEnabled": "false", "urAccepted": "-1", "autoUpgradeIntervalH": "0", "startBrowser": "false",
                           "crashReportingEnabled": "false", "stunKeepaliveStartS": "0", "announceLANAddresses": "false",
                           "setLowPriority": "false"}.items():
            options.find(key).text = value
        defaults = root.find("defaults")
        for element in root.findall("folder") + [d for d in root.findall("device") if d.get("id") != self.device_id]:
            root.remove(element)
        for device_id, address in self.peers:
            device = _copy(defaults.find("device"))
            device.set("id", device_id)
            device.set("name", device_id[:7])
            device.find("address").text = address
            root.insert(list(root).index(gui), device)
        folder = _copy(defaults.find("folder"))
        folder.attrib.update(id=self.FOLDER, label=self.FOLDER, path=self.folder, type="sendreceive",
                             rescanIntervalS="86400", fsWatcherEnabled="true", fsWatcherDelayS="1")
        for element in folder.findall("device"):
            folder.remove(element)
        for device_id in [self.device_id] + [p[0] for p in self.peers]:
            shared = ET.Element("device", id=device_id, introducedBy="")
            ET.SubElement(shared, "encryptionPassword")
            folder.insert(1, shared)
        root.insert(0, folder)
        tree.write(self.config_path)

    def start(self):
        self._write_config()
        self.log = open(os.path.join(self.home, "syncthing.log"), "w")
        self.started = now()
        # STMONITORED: the worker runs as this one process instead of under Syncthing's monitor
        # parent (what the monitor sets for its child), so the memory read is the worker's and
        # SIGTERM reaches it directly. STHASHING=minio: the SHA-256 code Syncthing's start-up
        # benchmark picks on x86-64 anyway, named so that each start skips the ~0.9 s benchmark.
        self.process = subprocess.Popen(["syncthing", "serve", f"--home={self.home}", "--no-browser", "--no-restart",
                                         "--no-upgrade", "--logflags=0"], stdout=self.log, stderr=subprocess.STDOUT,
                                        env=dict(os.environ, STMONITORED="1", STHASHING="minio", STNOUPGRADE="1",
                                                 STNODEFAULTFOLDER="1"))
        wait_until(self._answers, 60, f"Syncthing {self.name}'s REST API", interval=0.05)

    def _answers(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"Syncthing {self.name} exited: {open(self.log.name).read()[-2000:]}")
        try:
            self.get("/rest/system/ping")
            return True
        except OSError:
            return False

    def get(self, path):
        connection = http.client.HTTPConnection("127.0.0.1", self.gui_port, timeout=10)
        try:
            connection.request("GET", path, headers={"X-API-Key": self.api_key})
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise OSError(f"Syncthing {self.name} {path}: HTTP {response.status} {body[:200]!r}")
            return json.loads(body)
        finally:
            connection.close()

    def status(self):
        """The folder's /rest/db/status: state, globalFiles, localFiles, needFiles, sequence, …"""
        return self.get(f"/rest/db/status?folder={self.FOLDER}")

    def wait_scanned(self, files, timeout, since=None):
        """Until the folder is idle with `files` files indexed and, without `since`, the scan Syncthing
        makes at start-up done (its index is loaded before that scan, so the count alone would pass
        early); with `since`, the index at that sequence number or past it (changes since taken in)."""
        def scanned():
            self._answers()
            s = self.status()
            if s["state"] != "idle" or s["localFiles"] != files:
                return False
            return s["sequence"] >= since if since is not None else self.last_scan_seconds() is not None
        wait_until(scanned, timeout, f"Syncthing {self.name} to index {files} files", interval=0.02)

    def wait_complete(self, files, timeout):
        """Until this instance holds every file the other side announced: idle, nothing needed, and
        the global and local counts both `files`."""
        def complete():
            self._answers()
            s = self.status()
            return (s["state"] == "idle" and s["needFiles"] == 0 and s["needDeletes"] == 0
                    and s["globalFiles"] == files and s["localFiles"] == files)
        wait_until(complete, timeout, f"Syncthing {self.name} to hold all {files} files", interval=0.02)

    def last_scan_seconds(self):
        """How long the folder's last full pass in the "scanning" state took, from the timestamps of
        Syncthing's own StateChanged events (None if the event buffer no longer holds them)."""
        began = seconds = None
        for event in self.get("/rest/events?since=0&timeout=1"):
            data = event.get("data") or {}
            if event["type"] != "StateChanged" or data.get("folder") != self.FOLDER:
                continue
            if data["to"] == "scanning":
                began = _event_time(event["time"])
            elif data["from"] == "scanning" and began is not None:
                seconds = _event_time(event["time"]) - began
        return seconds

    def connected(self, device_id):
        connections = self.get("/rest/system/connections")["connections"]
        return connections.get(device_id, {}).get("connected", False)

    def memory(self):
        return proc_memory(self.process.pid)

    def stop(self):
        if self.process is not None:
            stop_process(self.process, f"Syncthing {self.name}")
            self.process = None
            self.log.close()


def _event_time(stamp):
    """Seconds since the epoch of an RFC 3339 time with up to nanoseconds, as Syncthing writes them."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.datetime.fromisoformat(whole + "+00:00").timestamp() + float("0." + (fraction or "0"))


def _copy(element):
    return ET.fromstring(ET.tostring(element))
