"""Helpers of the stubs tests: an app served by uvicorn in a thread on 127.0.0.1,
``igtools serve`` in a subprocess, and a generated server's contract tests run (in a
subprocess) against a base URL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn


def serve(app: Any, **ssl_kw: Any) -> tuple[uvicorn.Server, threading.Thread, int]:
    """Start ``app`` on a free port: (server, thread, port); stop with ``stop``."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off", **ssl_kw)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(300):
        if server.started:
            break
        time.sleep(0.05)
    return server, thread, server.servers[0].sockets[0].getsockname()[1]


def stop(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=10)


def contract(stubs: Path, base: str, server: str) -> subprocess.CompletedProcess[str]:
    """``server``'s generated contract tests (``-rA``: every test id in the output)."""
    env = {"PYTHONPATH": f"{stubs / 'models'}:{stubs / server}", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rA",
            "-p",
            "no:cacheprovider",
            "-p",
            f"{server}.contract.plugin",
            "--pyargs",
            f"{server}.contract",
            "--base-url",
            base,
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=stubs,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def igtools_serve(
    tmp_path: Path, package: str, *options: str, project: Path | None = None
) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """``igtools serve PACKAGE --port N OPTIONS`` (outside any project unless ``project``):
    (port, process) once the port accepts connections; terminated on exit."""
    port = free_port()
    where = ["--project", str(project)] if project is not None else []
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "igtools",
            "--offline",
            *where,
            "--cache-dir",
            str(tmp_path / "c"),
            "serve",
            package,
            "--port",
            str(port),
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "IGTOOLS_PROJECT"},
    )
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read() if proc.stdout else "serve exited")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
