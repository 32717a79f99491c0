"""`igtools conformance` on the fixture IG: loading the examples into an empty server
(``--load``), the checks that need them skipped otherwise, mutual TLS against
`igtools serve` with certificates made on the fly, and usage errors (exit 2)."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from igtools.cli import cli
from igtools.ir import IG, build_ir
from igtools.packages import PackageLoader, Settings
from igtools.render.stubs.server import make_app
from tests.golden import FIXTURE
from tests.render.stubs import serving
from tests.tlsutil import make_certificates

CAP = "mini-server"


def _conformance(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["--offline", "--cache-dir", str(tmp_path / "c"), "conformance", *args],
        catch_exceptions=False,
    )


@pytest.fixture(scope="module")
def ig(tmp_path_factory: pytest.TempPathFactory) -> IG:
    cache = tmp_path_factory.mktemp("c")
    return build_ir(PackageLoader(Settings(cache_dir=cache, offline=True)).load(str(FIXTURE)))


@pytest.fixture
def empty_server(ig: IG, tmp_path: Path) -> Iterator[str]:
    """The fixture's reference server holding only the examples of the type its statement
    does not let clients write (Observation: read and search only)."""
    data = tmp_path / "data"
    data.mkdir()
    for f in (FIXTURE / "package" / "example").glob("Observation-*.json"):
        shutil.copy(f, data / f.name)
    assert list(data.iterdir())
    app = make_app(ig, [CAP], None, data)[0]
    server, thread, port = serving.serve(app)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serving.stop(server, thread)


def test_load_then_check(empty_server: str, tmp_path: Path) -> None:
    # without the examples on the server: the checks that query them are skipped
    r = _conformance(
        tmp_path,
        empty_server,
        str(FIXTURE),
        "--capability",
        CAP,
        "--junit",
        str(tmp_path / "j.xml"),
    )
    assert r.exit_code == 0, r.output
    assert "skipped" in r.output and "failed" not in r.output
    assert "needs the IG's examples on the server" in r.output
    suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")
    assert suite is not None and int(suite.get("skipped", "0")) >= 3
    assert suite.get("failures") == "0"
    # asked to hold them when it does not: the reads, searches and flows fail
    r = _conformance(tmp_path, empty_server, str(FIXTURE), "--capability", CAP, "--data-loaded")
    assert r.exit_code == 1, r.output
    assert "read" in r.output and "expected 200, got 404" in r.output
    # --load writes them (PUT: the statement declares update), then every check passes
    r = _conformance(
        tmp_path,
        empty_server,
        str(FIXTURE),
        "--capability",
        CAP,
        "--load",
        "--html",
        str(tmp_path / "r.html"),
    )
    assert r.exit_code == 0, r.output
    assert "loaded 2 examples" in r.output, r.output
    assert "not loaded (the server declares neither create nor update): Observation" in r.output
    assert "skipped" not in r.output and "failed" not in r.output
    assert "flow" in r.output and "passed" in (tmp_path / "r.html").read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_mutual_tls(tmp_path: Path) -> None:
    make_certificates(tmp_path)
    tls = [
        "--certfile", str(tmp_path / "server.crt"),
        "--keyfile", str(tmp_path / "server.key"),
        "--ca-certs", str(tmp_path / "ca.crt"),
    ]  # fmt: skip
    with serving.igtools_serve(tmp_path, str(FIXTURE), "--capability", CAP, *tls) as (port, _):
        base = f"https://127.0.0.1:{port}"
        mtls = [
            "--cert", str(tmp_path / "client.crt"),
            "--key", str(tmp_path / "client.key"),
            "--ca", str(tmp_path / "ca.crt"),
        ]  # fmt: skip
        r = _conformance(tmp_path, base, str(FIXTURE), "--capability", CAP, "--data-loaded", *mtls)
        assert r.exit_code == 0, r.output
        assert "failed" not in r.output and " passed" in r.output
        # no client certificate: refused by the server, one line, exit 2
        r = _conformance(
            tmp_path, base, str(FIXTURE), "--capability", CAP, "--ca", str(tmp_path / "ca.crt")
        )
        assert r.exit_code == 2, r.output
        assert f"{base}: no answer to GET /metadata" in r.output
        # the server not verified (its CA not given)
        r = _conformance(tmp_path, base, str(FIXTURE), "--capability", CAP)
        assert r.exit_code == 2 and "CERTIFICATE_VERIFY_FAILED" in r.output, r.output


def test_usage_errors(tmp_path: Path) -> None:
    pem = tmp_path / "not.pem"
    pem.write_text("not a certificate\n")
    base = "http://127.0.0.1:9"
    f, c = str(FIXTURE), ["--capability", CAP]
    cases: list[tuple[list[str], str]] = [
        ([base, f], "--capability: name the server CapabilityStatement(s) to check"),
        ([base, f], "(known: mini-server)"),
        ([base, f, "--capability", "nope"], "--capability nope: no server CapabilityStatement"),
        ([base, f, *c, "--load", "--data-loaded"], "--data-loaded and --load"),
        (["ftp://x", f, *c], "BASE_URL ftp://x: expected an http:// or https:// URL"),
        ([base, f, *c, "--key", str(pem)], "--key needs --cert"),
        ([base, f, *c, "--cert", str(pem)], f"--cert {pem}: not a PEM certificate"),
        ([base, f, *c], f"{base}: no answer to GET /metadata (ConnectError"),
    ]
    for args, message in cases:
        r = _conformance(tmp_path, *args)
        assert r.exit_code == 2, (args, r.output)
        assert message in r.output, (args, r.output)
        assert "Traceback" not in r.output
