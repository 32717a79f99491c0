"""Running the contract checks against a server: the HTTP client (mutual TLS), loading
the IG's examples (``--load``), each check's result."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import httpx

from igtools.errors import IgtoolsError
from igtools.runtime.conformance import JSON, Check, CheckFailed, CheckSkipped
from igtools.runtime.store import with_bundle_entries

Status = Literal["passed", "failed", "skipped", "error"]
NEEDS_DATA = "needs the IG's examples on the server (--data-loaded when it holds them, or --load)"


@dataclass
class Result:
    check: Check
    status: Status
    message: str = ""
    seconds: float = 0.0


def make_client(
    base_url: str,
    cert: str | None = None,
    key: str | None = None,
    ca: str | None = None,
    timeout: float = 30.0,
) -> httpx.Client:
    """An httpx client on ``base_url``: ``ca`` verifies the server, ``cert``/``key`` is
    the client certificate of mutual TLS."""
    if not base_url.startswith(("http://", "https://")):
        raise IgtoolsError(f"BASE_URL {base_url}: expected an http:// or https:// URL")
    if key and not cert:
        raise IgtoolsError("--key needs --cert (the client certificate)")
    verify: ssl.SSLContext | bool = True
    if ca or cert:
        try:
            ctx = ssl.create_default_context(cafile=ca)
        except (OSError, ssl.SSLError) as exc:
            raise IgtoolsError(f"--ca {ca}: not a PEM CA bundle ({exc})") from None
        if cert:
            try:
                ctx.load_cert_chain(cert, key)
            except (OSError, ssl.SSLError) as exc:
                raise IgtoolsError(
                    f"--cert {cert}"
                    + (f" --key {key}" if key else "")
                    + f": not a PEM certificate and its private key ({exc})"
                ) from None
        verify = ctx
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        verify=verify,
        headers={"Accept": "application/fhir+json"},
        timeout=timeout,
    )


def reach(client: httpx.Client) -> None:
    """The server answers at all (else an error naming the URL: wrong address, TLS)."""
    try:
        client.get("/metadata")
    except httpx.HTTPError as exc:
        raise IgtoolsError(
            f"{client.base_url}: no answer to GET /metadata ({type(exc).__name__}: {exc})"
        ) from None


def run_check(client: httpx.Client, check: Check, data_loaded: bool) -> Result:
    if check.needs_data and not data_loaded:
        return Result(check, "skipped", NEEDS_DATA)
    start = time.perf_counter()
    try:
        check.run(client)
    except CheckFailed as exc:
        return Result(check, "failed", str(exc), time.perf_counter() - start)
    except CheckSkipped as exc:
        return Result(check, "skipped", str(exc), time.perf_counter() - start)
    except httpx.HTTPError as exc:
        message = f"no answer: {type(exc).__name__}: {exc}"
        return Result(check, "failed", message, time.perf_counter() - start)
    except Exception as exc:  # an answer the check could not read
        message = f"{type(exc).__name__}: {exc}"
        return Result(check, "error", message, time.perf_counter() - start)
    return Result(check, "passed", "", time.perf_counter() - start)


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)  # Type/id (as the server stored it)
    refused: list[str] = field(default_factory=list)  # "Type/id: status diagnostics"
    not_writable: set[str] = field(default_factory=set)  # types the server does not take


def _writes(client: httpx.Client) -> dict[str, set[str]]:
    """The write interactions the server's CapabilityStatement declares, per type."""
    r = client.get("/metadata")
    try:
        body = r.json()
    except ValueError:
        raise IgtoolsError(f"{client.base_url}/metadata: not JSON ({r.status_code})") from None
    out: dict[str, set[str]] = {}
    for rest in body.get("rest", []) if isinstance(body, dict) else []:
        if not isinstance(rest, dict) or rest.get("mode") != "server":
            continue
        for res in rest.get("resource", []):
            if isinstance(res, dict):
                codes = {
                    str(i.get("code")) for i in res.get("interaction", []) if isinstance(i, dict)
                }
                out.setdefault(str(res.get("type")), set()).update(codes & {"create", "update"})
    return out


def _diagnostics(r: httpx.Response) -> str:
    try:
        issues = r.json().get("issue", [])
        return "; ".join(str(i.get("diagnostics", "")) for i in issues)[:300]
    except (ValueError, AttributeError):
        return r.text[:300]


def load_examples(
    client: httpx.Client,
    examples: Iterable[JSON],
    progress: Callable[[str], None] | None = None,
) -> LoadReport:
    """Write each example (Bundle entries included, each resource once) the way the
    server's CapabilityStatement allows: ``PUT [type]/[id]`` (update: the ids the checks
    query are kept), else ``POST [type]`` (create: the server picks the ids)."""
    writes = _writes(client)
    report = LoadReport()
    seen: set[str] = set()
    for res in with_bundle_entries(list(examples)):
        rtype, rid = str(res.get("resourceType")), res.get("id")
        key = f"{rtype}/{rid}"
        if rid is None or key in seen:
            continue
        seen.add(key)
        allowed = writes.get(rtype, set())
        if progress is not None:
            progress(key)
        body = json.dumps(res, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/fhir+json"}
        if "update" in allowed:
            r = client.put(f"/{rtype}/{rid}", content=body, headers=headers)
        elif "create" in allowed:
            r = client.post(f"/{rtype}", content=body, headers=headers)
        else:
            report.not_writable.add(rtype)
            continue
        if r.status_code in (200, 201):
            stored = r.json() if r.content else {}
            report.loaded.append(f"{rtype}/{stored.get('id', rid)}")
        else:
            report.refused.append(f"{key}: {r.status_code} {_diagnostics(r)}")
    return report
