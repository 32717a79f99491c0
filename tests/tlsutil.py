"""A throwaway CA with a server certificate for 127.0.0.1 and a client certificate, made
with the openssl command line (tests of mutual TLS)."""

from __future__ import annotations

import subprocess
from pathlib import Path

CLIENT_SUBJECT = "/CN=plateforme-test/OU=SAS"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(d: Path, client_subject: str = CLIENT_SUBJECT) -> None:
    """Write ca.crt/key, server.crt/key (127.0.0.1) and client.crt/key into ``d``."""
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=Test CA", "-keyout", "ca.key", "-out", "ca.crt",
        cwd=d,
    )  # fmt: skip
    (d / "server.cnf").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    (d / "client.cnf").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    for name, subj in (("server", "/CN=127.0.0.1"), ("client", client_subject)):
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", subj,
            "-keyout", f"{name}.key", "-out", f"{name}.csr",
            cwd=d,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", "-extfile", f"{name}.cnf",
            cwd=d,
        )  # fmt: skip
