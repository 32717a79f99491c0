"""Client certificate checks for mutual TLS: which subjects (CN, OU) may call the server.

The TLS layer (uvicorn with ``ssl_cert_reqs=CERT_REQUIRED`` and ``ssl_ca_certs``) already
refuses a client without a certificate signed by the CA. A platform often also restricts
*which* certificates: a given common name, an organisational unit. ``protocol_class``
returns a uvicorn HTTP protocol that reads the verified peer certificate of each
connection and answers 403 with an OperationOutcome naming the subject when it is not
allowed; the subject is also put in the ASGI scope (``scope["extensions"]["tls"]``) for
handlers that want it::

    policy = ClientCertPolicy(cn=["plateforme-*"], ou=["SAS"])
    uvicorn.run(app, ssl_..., http=protocol_class(policy))
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_NAMES = {"commonName": "CN", "organizationalUnitName": "OU", "organizationName": "O"}


def subject(peercert: Any) -> dict[str, list[str]]:
    """``{"CN": [...], "OU": [...], "O": [...]}`` of a certificate as ``getpeercert()`` gives it."""
    out: dict[str, list[str]] = {}
    if not isinstance(peercert, dict):
        return out
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            out.setdefault(_NAMES.get(key, key), []).append(str(value))
    return out


def describe(subj: dict[str, list[str]]) -> str:
    parts = [f"{k}={v}" for k in ("CN", "OU", "O") for v in subj.get(k, [])]
    return ", ".join(parts) or "no certificate subject"


@dataclass
class ClientCertPolicy:
    """Allowed client certificate subjects: shell-style patterns (``fnmatch``). With
    ``cn``, the certificate's common name must match one; with ``ou``, one of its
    organisational units must match one. Empty lists allow any value."""

    cn: list[str] = field(default_factory=list)
    ou: list[str] = field(default_factory=list)

    def refusal(self, subj: dict[str, list[str]]) -> str | None:
        """Why a subject is refused, or None if it is allowed."""
        for key, patterns in (("CN", self.cn), ("OU", self.ou)):
            if not patterns:
                continue
            values = subj.get(key, [])
            if not any(fnmatch.fnmatchcase(v, p) for v in values for p in patterns):
                return (
                    f"client certificate ({describe(subj)}) refused: "
                    f"{key} must match one of {', '.join(patterns)}"
                )
        return None


def _forbidden(message: str) -> bytes:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "forbidden", "diagnostics": message}],
    }
    return json.dumps(outcome, ensure_ascii=False).encode("utf-8")


def protocol_class(policy: ClientCertPolicy) -> type[H11Protocol]:
    """A uvicorn HTTP protocol (h11) enforcing ``policy`` on every TLS connection."""

    class CheckedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            subj = subject(transport.get_extra_info("peercert"))
            refusal = policy.refusal(subj)
            inner = self.app

            async def app(scope: Scope, receive: Receive, send: Send) -> None:
                if scope["type"] == "http":
                    scope.setdefault("extensions", {})["tls"] = {"client_subject": subj}
                    if refusal is not None:
                        body = _forbidden(refusal)
                        await send(
                            {
                                "type": "http.response.start",
                                "status": 403,
                                "headers": [
                                    (b"content-type", b"application/fhir+json"),
                                    (b"content-length", str(len(body)).encode()),
                                ],
                            }
                        )
                        await send({"type": "http.response.body", "body": body})
                        return
                await inner(scope, receive, send)

            self.app = app

    return CheckedH11Protocol
