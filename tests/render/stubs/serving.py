"""Helpers of the stubs tests: an app served by uvicorn in a thread on 127.0.0.1, and a
generated server's contract tests run (in a subprocess) against a base URL."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
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
