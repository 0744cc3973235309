"""Fixtures of the client's tests: a real `cairn serve` on a temporary data
directory, and a proxy between client and server that can cut or alter
the stream.

The server binary is `$CAIRN_BIN` (or `$CAIRN_EXECUTABLE`, as the Swift
end-to-end tests name it), else the newest `cairn` under the repository's
`.build` directories.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from typing import Any, Callable, Dict, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_ROOT = os.path.dirname(HERE)
REPOSITORY = os.path.dirname(os.path.dirname(CLIENT_ROOT))
sys.path.insert(0, CLIENT_ROOT)

from cairn_client import Client  # noqa: E402


def cairn_binary() -> str:
    """The `cairn` executable to test against."""
    for variable in ("CAIRN_BIN", "CAIRN_EXECUTABLE"):
        path = os.environ.get(variable)
        if path:
            if not os.access(path, os.X_OK):
                raise RuntimeError(f"${variable} is {path}, which is not an executable")
            return path
    patterns = [".build/debug/cairn", ".build/*/debug/cairn", ".build/release/cairn", ".build/*/release/cairn"]
    found = [
        path
        for pattern in patterns
        for path in glob.glob(os.path.join(REPOSITORY, pattern))
        if os.path.isfile(path) and os.access(path, os.X_OK)
    ]
    if not found:
        raise RuntimeError("no cairn executable: build it (swift build --product cairn) or set CAIRN_BIN to its path")
    return max(found, key=os.path.getmtime)


class Server:
    """A `cairn serve` child process on a data directory of its own.

    Start it with :meth:`start`; :meth:`restart` keeps the data directory.
    :meth:`cleanup` stops it and removes the directory (unless
    `CAIRN_TEST_KEEP` is set).
    """

    def __init__(self, extra_arguments: Sequence[str] = (), policy: Optional[Dict[str, Any]] = None) -> None:
        # Socket paths are limited to about 100 bytes: keep the root short.
        self.root = tempfile.mkdtemp(prefix="cairn-py-", dir="/tmp")
        self.data_directory = os.path.join(self.root, "data")
        self.socket_path = os.path.join(self.root, "cairn.sock")
        self.scratch = os.path.join(self.root, "scratch")
        self.log_path = os.path.join(self.root, "server.log")
        os.mkdir(self.scratch, 0o700)
        self.arguments = list(extra_arguments)
        if policy is not None:
            path = os.path.join(self.root, "access.json")
            with open(path, "w") as file:
                json.dump(policy, file)
            self.arguments += ["--access-policy", path]
        self.process: Optional["subprocess.Popen[bytes]"] = None

    def start(self, timeout: float = 20) -> "Server":
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [cairn_binary(), "serve", "--data-dir", self.data_directory, "--socket", self.socket_path]
                + ["--log-level", "warning"]
                + self.arguments,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=environment,
            )
        deadline = time.monotonic() + timeout
        while not self.accepts():
            if self.process.poll() is not None:
                raise RuntimeError(f"cairn serve exited with {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"cairn serve did not listen on {self.socket_path} in time:\n{self.log()}")
            time.sleep(0.02)
        return self

    def accepts(self) -> bool:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(self.socket_path)
            return True
        except OSError:
            return False
        finally:
            probe.close()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 seconds; waits for the exit."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        if not os.environ.get("CAIRN_TEST_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        with open(self.log_path, errors="replace") as file:
            return file.read()

    def client(self, **options: Any) -> Client:
        options.setdefault("timeout", 60)
        return Client(self.socket_path, **options)


class Proxy:
    """A Unix-socket proxy in front of a server: what a client sends goes
    through to the server and back, counted, and the test can cut every
    connection or change the bytes coming back.

    Args:
        target: the server's socket.
        cut_after: close every connection (both ways) once this many bytes
            went to the server in total; ``None``: never.
        alter: applied to each piece of bytes coming back from the server.
    """

    def __init__(
        self,
        target: str,
        directory: str,
        cut_after: Optional[int] = None,
        alter: Optional[Callable[[bytes], bytes]] = None,
    ) -> None:
        self.target = target
        self.socket_path = os.path.join(directory, f"proxy-{os.getpid()}-{id(self) % 10000}.sock")
        self.cut_after = cut_after
        self.alter = alter
        self.upstream_bytes = 0
        self.connections = 0
        self.cuts = 0
        self._lock = threading.Lock()
        self._open: List[socket.socket] = []
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.socket_path)
        self._listener.listen(16)
        self._accepting = True
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stops accepting and cuts every connection."""
        self._accepting = False
        self._listener.close()
        self.cut()
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass

    def cut(self) -> None:
        with self._lock:
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._open.clear()

    def _accept(self) -> None:
        while self._accepting:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self.target)
            with self._lock:
                self.connections += 1
                self._open += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        try:
            while True:
                data = source.recv(1 << 16)
                if not data:
                    break
                if upstream:
                    with self._lock:
                        self.upstream_bytes += len(data)
                        over = self.cut_after is not None and self.upstream_bytes >= self.cut_after
                        if over:
                            self.cut_after = None
                            self.cuts += 1
                    if over:
                        self.cut()
                        break
                elif self.alter is not None:
                    data = self.alter(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()


class ServerTestCase(unittest.TestCase):
    """A test case with one server for the whole class (`server`) and a
    client per test (`cairn`); each test uses tenants of its own."""

    server_arguments: Sequence[str] = ()
    policy: Optional[Dict[str, Any]] = None
    server: Server

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = Server(cls.server_arguments, cls.policy).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.cleanup()

    def setUp(self) -> None:
        self.cairn = self.server.client()
        self.addCleanup(self.cairn.close)

    def tenant(self) -> str:
        """A tenant name no other test uses."""
        return self.id().rsplit(".", 1)[-1].lower().replace("_", "-")[:60].strip("-")
