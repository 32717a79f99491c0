"""A FHIR package registry (the npm protocol) on 127.0.0.1, for the network tests.

``GET /{name}`` answers the package metadata for the ``<name>-<version>.tgz`` files of a
folder; ``GET /{name}/-/{name}-{version}.tgz`` answers the tarball. Every request path
is recorded in :attr:`RegistryServer.requests`. :attr:`RegistryServer.mode` switches on
one misbehaviour (see :data:`MODES`).

The server runs in a daemon thread; :meth:`RegistryServer.stop` releases any request
held in a sleep, shuts the server down and closes its socket, so teardown never hangs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

MODES = (
    "ok",
    "404",  # every request answers 404
    "500",  # every request answers 500
    "garbage",  # metadata: 200 with a body that is not JSON
    "no-versions",  # metadata: JSON without "versions"
    "bad-shasum",  # metadata: a shasum that is not the tarball's
    "slow",  # every request sleeps SLOW_SECONDS before answering
    "tarball-404",  # metadata fine, the tarball answers 404
    "truncated",  # the tarball is cut in half (metadata keeps the full file's shasum)
)
SLOW_SECONDS = 2.0


def scan_packages(folder: Path) -> dict[str, dict[str, Path]]:
    """``{name: {version: tgz}}`` for the ``<name>-<version>.tgz`` files of ``folder``."""
    found: dict[str, dict[str, Path]] = {}
    for tgz in sorted(folder.glob("*.tgz")):
        stem = tgz.name.removesuffix(".tgz")
        name, sep, version = stem.rpartition("-")
        if sep and version[:1].isdigit():
            found.setdefault(name, {})[version] = tgz
    return found


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean

    def do_GET(self) -> None:
        reg = self.server.registry
        path = unquote(urlsplit(self.path).path)
        reg.record(path)
        # the client may have given up (timeouts): then there is nobody to answer
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            reg.answer(self, path)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    registry: RegistryServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up is expected here (timeout tests)


class RegistryServer:
    def __init__(self, folder: Path | None = None) -> None:
        self.packages = scan_packages(folder) if folder is not None else {}
        self.mode = "ok"
        self.latest: dict[str, str] = {}  # dist-tags.latest overrides (default: highest)
        self.requests: list[str] = []
        self.tarball_gate: threading.Barrier | None = None  # hold tarballs until N arrive
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.registry = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> RegistryServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self.tarball_gate is not None:
            self.tarball_gate.abort()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # ---------------------------------------------------------------- bookkeeping

    def record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def take_requests(self) -> list[str]:
        """The paths requested since the last call (and forget them)."""
        with self._lock:
            out, self.requests = self.requests, []
        return out

    def tarball_path(self, name: str, version: str) -> str:
        return f"/{name}/-/{name}-{version}.tgz"

    # ---------------------------------------------------------------- answers

    def metadata(self, name: str) -> dict[str, Any]:
        versions = self.packages[name]
        ordered = sorted(versions, key=lambda v: [int(p) for p in v.split(".")])
        out: dict[str, Any] = {
            "name": name,
            "dist-tags": {"latest": self.latest.get(name, ordered[-1])},
            "versions": {},
        }
        for v in ordered:
            shasum = hashlib.sha1(versions[v].read_bytes()).hexdigest()
            if self.mode == "bad-shasum":
                shasum = "0" * 40
            out["versions"][v] = {
                "name": name,
                "version": v,
                "dist": {"tarball": self.url + self.tarball_path(name, v), "shasum": shasum},
            }
        if self.mode == "no-versions":
            del out["versions"]
        return out

    def answer(self, h: _Handler, path: str) -> None:
        mode = self.mode
        if mode == "slow" and self._stopping.wait(SLOW_SECONDS):
            return
        if mode in ("404", "500"):
            return self._send(h, int(mode), b'{"error": "' + mode.encode() + b'"}')
        parts = path.strip("/").split("/")
        name = parts[0]
        if name not in self.packages:
            return self._send(h, 404, b'{"error": "not found"}')
        if len(parts) == 1:
            if mode == "garbage":
                return self._send(h, 200, b"<html>Service Unavailable</html>", "text/html")
            body = json.dumps(self.metadata(name)).encode()
            return self._send(h, 200, body)
        by_path = {self.tarball_path(name, v): tgz for v, tgz in self.packages[name].items()}
        tgz = by_path.get(path)
        if tgz is None:
            return self._send(h, 404, b'{"error": "no such tarball"}')
        if mode == "tarball-404":
            return self._send(h, 404, b'{"error": "tarball gone"}')
        if self.tarball_gate is not None:
            try:
                self.tarball_gate.wait()
            except threading.BrokenBarrierError:
                return self._send(h, 503, b'{"error": "gate broken"}')
        data = tgz.read_bytes()
        if mode == "truncated":
            data = data[: len(data) // 2]
        return self._send(h, 200, data, "application/gzip")

    def _send(self, h: _Handler, status: int, body: bytes, ctype: str = "application/json") -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
