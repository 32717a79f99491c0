"""A FHIR REST client on httpx (sync and async), for generated clients.

Searches return a :class:`SearchBundle`: the matches and included resources as model
instances (the profile class named in ``meta.profile`` when the generated models know it,
else the fhir.resources class of the type), with ``resolve()`` to follow a reference
inside the Bundle (or to a contained resource). Errors raise :class:`FhirClientError`
carrying the server's OperationOutcome. 429 and 503 answers are retried with an
exponential backoff (honouring ``Retry-After``); timeouts and client certificates
(mutual TLS) are settings of the client.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

JSON = dict[str, Any]
FHIR_JSON = "application/fhir+json"
JSON_PATCH = "application/json-patch+json"
Query = Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]]
ModelFor = Callable[[JSON], Any]  # resource JSON -> model instance


class FhirClientError(Exception):
    """A FHIR server answered an error; ``outcome`` is its OperationOutcome (if any)."""

    def __init__(self, status: int, outcome: JSON | None, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.outcome = outcome


def _pairs(query: Query) -> list[tuple[str, str]]:
    if isinstance(query, Mapping):
        out: list[tuple[str, str]] = []
        for k, v in query.items():
            if isinstance(v, str):
                out.append((k, v))
            else:
                out.extend((k, x) for x in v)
        return out
    return list(query)


def encode(query: Query) -> str:
    """A query string with ``+``, ``|`` and ``,`` as FHIR servers expect them."""
    return urlencode(_pairs(query), safe=":,")


def _error(resp: httpx.Response) -> FhirClientError:
    outcome = None
    message = resp.reason_phrase
    try:
        data = resp.json()
        if isinstance(data, dict) and data.get("resourceType") == "OperationOutcome":
            outcome = data
            message = "; ".join(
                str(i.get("diagnostics") or i.get("code")) for i in data.get("issue", [])
            )
    except ValueError:
        pass
    return FhirClientError(resp.status_code, outcome, message)


@dataclass
class SearchBundle:
    """A searchset Bundle: ``matches``, ``included`` (models) and the raw ``bundle``."""

    bundle: JSON
    matches: list[Any] = field(default_factory=list)
    included: list[Any] = field(default_factory=list)
    outcomes: list[JSON] = field(default_factory=list)
    _by_ref: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def total(self) -> int | None:
        total = self.bundle.get("total")
        return total if isinstance(total, int) else None

    def resolve(self, reference: str, within: Any = None) -> Any:
        """The resource ``reference`` points to inside the Bundle (``Type/id``, a
        ``fullUrl``, or ``#id`` in ``within``'s contained resources), else None."""
        if reference.startswith("#") and within is not None:
            for c in getattr(within, "contained", None) or []:
                if getattr(c, "id", None) == reference[1:]:
                    return c
            return None
        if reference in self._by_ref:
            return self._by_ref[reference]
        tail = "/".join(reference.rstrip("/").split("/")[-2:])
        return self._by_ref.get(tail)


def make_search_bundle(bundle: JSON, model_for: ModelFor) -> SearchBundle:
    result = SearchBundle(bundle)
    for entry in bundle.get("entry") or []:
        res = entry.get("resource")
        if not isinstance(res, dict):
            continue
        mode = (entry.get("search") or {}).get("mode")
        if mode == "outcome" or res.get("resourceType") == "OperationOutcome":
            result.outcomes.append(res)
            continue
        model = model_for(res)
        (result.matches if mode == "match" else result.included).append(model)
        key = f"{res.get('resourceType')}/{res.get('id')}"
        result._by_ref[key] = model
        if entry.get("fullUrl"):
            result._by_ref[str(entry["fullUrl"])] = model
    return result


@dataclass
class ClientSettings:
    base_url: str
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.5
    cert: str | tuple[str, str] | None = None  # client certificate (mutual TLS)
    verify: bool | str = True  # CA bundle path, or False
    headers: Mapping[str, str] = field(default_factory=dict)


def ssl_context(settings: ClientSettings) -> ssl.SSLContext | bool:
    """The TLS settings as httpx wants them: a context with the CA and client certificate."""
    if settings.cert is None and not isinstance(settings.verify, str):
        return settings.verify
    if settings.verify is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        cafile = settings.verify if isinstance(settings.verify, str) else None
        ctx = ssl.create_default_context(cafile=cafile)
    if settings.cert is not None:
        if isinstance(settings.cert, str):
            ctx.load_cert_chain(settings.cert)
        else:
            ctx.load_cert_chain(settings.cert[0], settings.cert[1])
    return ctx


def _headers(settings: ClientSettings) -> dict[str, str]:
    return {"Accept": FHIR_JSON, "Content-Type": FHIR_JSON, **settings.headers}


def _retry_after(resp: httpx.Response, attempt: int, backoff: float) -> float:
    try:
        return min(float(resp.headers.get("retry-after", "")), 30.0)
    except ValueError:
        return float(backoff * (2**attempt))


class FhirClient:
    """Synchronous client; ``model_for`` turns resource JSON into model instances."""

    def __init__(self, settings: ClientSettings, model_for: ModelFor) -> None:
        self.settings = settings
        self.model_for = model_for
        self._http = httpx.Client(
            base_url=settings.base_url.rstrip("/"),
            timeout=settings.timeout,
            verify=ssl_context(settings),
            headers=_headers(settings),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(
        self, method: str, path: str, body: Any = None, content_type: str | None = None
    ) -> httpx.Response:
        content = json.dumps(body, ensure_ascii=False) if body is not None else None
        headers = {"Content-Type": content_type} if content_type else None
        for attempt in range(self.settings.retries + 1):
            resp = self._http.request(method, path, content=content, headers=headers)
            if resp.status_code in (429, 503) and attempt < self.settings.retries:
                time.sleep(_retry_after(resp, attempt, self.settings.backoff))
                continue
            if resp.status_code >= 400:
                raise _error(resp)
            return resp
        raise _error(resp)  # pragma: no cover - the loop returns or raises

    def read(self, rtype: str, rid: str) -> Any:
        return self.model_for(self.request("GET", f"/{rtype}/{rid}").json())

    def search(self, rtype: str, query: Query) -> SearchBundle:
        resp = self.request("GET", f"/{rtype}?{encode(query)}")
        return make_search_bundle(resp.json(), self.model_for)

    def create(self, resource: JSON) -> tuple[Any, str | None]:
        resp = self.request("POST", f"/{resource['resourceType']}", resource)
        return self.model_for(resp.json()), resp.headers.get("location")

    def update(self, resource: JSON) -> Any:
        path = f"/{resource['resourceType']}/{resource['id']}"
        return self.model_for(self.request("PUT", path, resource).json())

    def conditional_update(self, resource: JSON, query: Query) -> tuple[Any, bool]:
        resp = self.request("PUT", f"/{resource['resourceType']}?{encode(query)}", resource)
        return self.model_for(resp.json()), resp.status_code == 201

    def vread(self, rtype: str, rid: str, vid: str) -> Any:
        return self.model_for(self.request("GET", f"/{rtype}/{rid}/_history/{vid}").json())

    def patch(self, rtype: str, rid: str, operations: list[JSON]) -> Any:
        """A JSON Patch (RFC 6902) of ``rtype/rid``: the patched resource."""
        resp = self.request("PATCH", f"/{rtype}/{rid}", operations, JSON_PATCH)
        return self.model_for(resp.json())

    def delete(self, rtype: str, rid: str) -> None:
        self.request("DELETE", f"/{rtype}/{rid}")

    def history(self, rtype: str, rid: str | None = None) -> JSON:
        """The ``history`` Bundle of ``rtype/rid`` (of every ``rtype`` without ``rid``)."""
        path = f"/{rtype}/{rid}/_history" if rid is not None else f"/{rtype}/_history"
        bundle: JSON = self.request("GET", path).json()
        return bundle


class AsyncFhirClient:
    """Asynchronous twin of :class:`FhirClient`."""

    def __init__(self, settings: ClientSettings, model_for: ModelFor) -> None:
        self.settings = settings
        self.model_for = model_for
        self._http = httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/"),
            timeout=settings.timeout,
            verify=ssl_context(settings),
            headers=_headers(settings),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncFhirClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def request(
        self, method: str, path: str, body: Any = None, content_type: str | None = None
    ) -> httpx.Response:
        content = json.dumps(body, ensure_ascii=False) if body is not None else None
        headers = {"Content-Type": content_type} if content_type else None
        for attempt in range(self.settings.retries + 1):
            resp = await self._http.request(method, path, content=content, headers=headers)
            if resp.status_code in (429, 503) and attempt < self.settings.retries:
                await asyncio.sleep(_retry_after(resp, attempt, self.settings.backoff))
                continue
            if resp.status_code >= 400:
                raise _error(resp)
            return resp
        raise _error(resp)  # pragma: no cover

    async def read(self, rtype: str, rid: str) -> Any:
        return self.model_for((await self.request("GET", f"/{rtype}/{rid}")).json())

    async def search(self, rtype: str, query: Query) -> SearchBundle:
        resp = await self.request("GET", f"/{rtype}?{encode(query)}")
        return make_search_bundle(resp.json(), self.model_for)

    async def create(self, resource: JSON) -> tuple[Any, str | None]:
        resp = await self.request("POST", f"/{resource['resourceType']}", resource)
        return self.model_for(resp.json()), resp.headers.get("location")

    async def update(self, resource: JSON) -> Any:
        path = f"/{resource['resourceType']}/{resource['id']}"
        return self.model_for((await self.request("PUT", path, resource)).json())

    async def conditional_update(self, resource: JSON, query: Query) -> tuple[Any, bool]:
        resp = await self.request("PUT", f"/{resource['resourceType']}?{encode(query)}", resource)
        return self.model_for(resp.json()), resp.status_code == 201

    async def vread(self, rtype: str, rid: str, vid: str) -> Any:
        resp = await self.request("GET", f"/{rtype}/{rid}/_history/{vid}")
        return self.model_for(resp.json())

    async def patch(self, rtype: str, rid: str, operations: list[JSON]) -> Any:
        resp = await self.request("PATCH", f"/{rtype}/{rid}", operations, JSON_PATCH)
        return self.model_for(resp.json())

    async def delete(self, rtype: str, rid: str) -> None:
        await self.request("DELETE", f"/{rtype}/{rid}")

    async def history(self, rtype: str, rid: str | None = None) -> JSON:
        path = f"/{rtype}/{rid}/_history" if rid is not None else f"/{rtype}/_history"
        bundle: JSON = (await self.request("GET", path)).json()
        return bundle
