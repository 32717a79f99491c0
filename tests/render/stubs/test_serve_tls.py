"""`igtools serve` over mutual TLS with client certificate subject checks (fixture IG)."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from igtools.cli import cli
from tests.golden import FIXTURE
from tests.render.stubs import serving
from tests.tlsutil import make_certificates

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


@contextmanager
def _serve(tmp_path: Path, *options: str) -> Iterator[int]:
    with serving.igtools_serve(tmp_path, str(FIXTURE), *options) as (port, _):
        yield port


def test_serve_mutual_tls_with_subject_checks(tmp_path: Path) -> None:
    make_certificates(tmp_path)
    tls = [
        "--certfile", str(tmp_path / "server.crt"),
        "--keyfile", str(tmp_path / "server.key"),
        "--ca-certs", str(tmp_path / "ca.crt"),
    ]  # fmt: skip
    verify = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    cert = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    cert.load_cert_chain(str(tmp_path / "client.crt"), str(tmp_path / "client.key"))
    with _serve(tmp_path, *tls, "--allow-cn", "plateforme-*", "--allow-ou", "SAS") as port:
        with httpx.Client(verify=cert) as c:
            r = c.get(f"https://127.0.0.1:{port}/metadata")
        assert r.status_code == 200 and r.json()["resourceType"] == "CapabilityStatement"
        with httpx.Client(verify=verify) as c, pytest.raises(httpx.TransportError):
            c.get(f"https://127.0.0.1:{port}/metadata")  # no client certificate
    with _serve(tmp_path, *tls, "--allow-ou", "SOS") as port:
        with httpx.Client(verify=cert) as c:
            r = c.get(f"https://127.0.0.1:{port}/metadata")
        assert r.status_code == 403
        issue = r.json()["issue"][0]
        assert issue["code"] == "forbidden"
        assert "CN=plateforme-test, OU=SAS" in issue["diagnostics"]
        assert "OU must match one of SOS" in issue["diagnostics"]


def test_serve_tls_option_errors(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        cli, ["--offline", "--cache-dir", str(tmp_path), "serve", str(FIXTURE), "--allow-ou", "X"]
    )
    assert r.exit_code == 2
    assert "--allow-cn/--allow-ou need --ca-certs" in r.output
