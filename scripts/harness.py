"""Pieces `bench/bench.py` and `scripts/torture.py` both drive newsd with: ports, bounded waits,
folder digests, and the TCP relay between sites."""
import hashlib
import os
import socket
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def tree_digest(root, skip_newsd_temp=False):
    """Relative path -> SHA-256 of every file, for byte-identity checks. `skip_newsd_temp` leaves out
    newsd's own temp files (there for an instant while a site is running) and files that vanish
    while being read."""
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            # `.newsd-site` is the site's own marker, not an article: never compared.
            if name == ".newsd-site" or (skip_newsd_temp and name.startswith(".newsd-")):
                continue
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as f:
                    out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
            except FileNotFoundError:
                if not skip_newsd_temp:
                    raise
                out[os.path.relpath(path, root)] = "vanished"
    return out


class Relay:
    """A TCP relay on 127.0.0.1 in front of `target_port`. It counts the bytes crossing it (what newsd
    really puts on the wire, TLS included) and can break the link the ways networks do: `delay` every
    chunk, `blackhole` (connections stay open, nothing gets through), or `reset` (every connection
    reset, new ones too)."""

    def __init__(self, target_port):
        self.target = target_port
        self.mode = "pass"
        self.delay = 0.0
        self.bytes = 0
        self.lock = threading.Lock()
        self.open = []
        self.running = True
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def set(self, mode, delay=0.0):
        self.mode, self.delay = mode, delay
        if mode == "reset":
            with self.lock:
                victims, self.open = self.open, []
            for s in victims:
                self._reset(s)

    def take(self):
        """Bytes relayed since the last call."""
        with self.lock:
            value, self.bytes = self.bytes, 0
        return value

    def close(self):
        self.running = False
        self.server.close()
        self.set("reset")

    @staticmethod
    def _reset(s):
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        except OSError:
            pass

    def _accept(self):
        while self.running:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.mode == "reset":
                self._reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                self._reset(client)
                continue
            # Short timeouts, so a pump notices a change of mode while the link is quiet.
            client.settimeout(0.05)
            upstream.settimeout(0.05)
            with self.lock:
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while self.running and self.mode != "reset":
                if self.mode == "blackhole":
                    time.sleep(0.02)
                    continue
                try:
                    data = source.recv(1 << 16)
                except socket.timeout:
                    continue
                if not data:
                    break
                with self.lock:
                    self.bytes += len(data)
                if self.mode == "delay":
                    time.sleep(self.delay)
                self._send_all(sink, data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _send_all(self, sink, data):
        """`sendall` that waits out a full receiver however long it takes, unless the link is reset."""
        view = memoryview(data)
        while view:
            try:
                view = view[sink.send(view):]
            except socket.timeout:
                if not self.running or self.mode == "reset":
                    raise ConnectionResetError("relay reset")
