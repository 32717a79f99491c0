"""A FHIR REST API on FastAPI, driven by data: which resources, interactions, search
parameters, includes and profiles each CapabilityStatement declares.

Generated servers (and ``igtools serve``) call :func:`build_app` with their API
declarations, a :class:`Handlers` implementation (the éditeur's own, or
:class:`StoreHandlers`, the reference implementation on the SQLite store) and the
profile rules used to validate request bodies.

Behaviour, per FHIR R4 REST:

* ``GET /metadata`` serves one CapabilityStatement: the statement served, or for several
  statements on one base their merge (:func:`merge_capabilities`: rest merged per resource
  type, ``instantiates`` listing the statements);
* ``GET /{type}/{id}``, ``GET /{type}`` and ``POST /{type}/_search`` (form body),
  ``POST /{type}``, ``PUT /{type}/{id}``, conditional ``PUT /{type}?<param>=...``,
  ``DELETE /{type}/{id}``, ``GET /{type}/{id}/_history`` as declared; an interaction
  not declared is 405, an unknown type 404;
* searches answer a ``searchset`` Bundle: matches then includes (``search.mode``),
  ``total``, a ``self`` link, ``fullUrl``s; the Bundle claims the flow's Bundle profile
  only when it has matches (an empty result is 200 with ``total: 0`` and no profile, since
  such profiles usually demand at least one entry); an unknown parameter is ignored with
  a warning OperationOutcome entry, or 400 under ``Prefer: handling=strict``;
* request bodies (``application/fhir+json``, ``application/json+fhir`` or
  ``application/json``) are read the strict way (400 for malformed JSON, duplicate keys,
  nesting too deep, numbers too large, text not UTF-8), checked against the FHIR R4 JSON
  rules of :mod:`.fhirjson` (400), against the profiles of the statements that declare
  that interaction on the type (one of them must hold), and against each profile the body
  claims in ``meta.profile`` that the server knows (422); the OperationOutcome names the
  profile and each element path;
* ``create`` answers 201 with ``Location``; a conditional update creates when nothing
  matches (201) and is 412 when several do;
* the operations the statements declare (``rest.operation``, ``rest.resource.operation``)
  answer GET and POST at the levels each allows (:mod:`.operations`): ``/$name``,
  ``/{type}/$name``, ``/{type}/{id}/$name``, by :meth:`Handlers.operation` (501
  ``not-supported`` until implemented); an operation not declared is 404 or 405;
* every error is an OperationOutcome; a 500 never carries a traceback.
"""

from __future__ import annotations

import gc
import json
import json.encoder
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jsonpatch
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import fhirjson
from .capability import merge_capabilities
from .operations import (
    OperationSpec,
    add_operation_routes,
    merge_operations,
    not_implemented,
    parameters_of,
)
from .search import ParamDef, SearchRequest, parse_search
from .store import (
    Gone,
    InvalidResource,
    NotFound,
    PreconditionFailed,
    SearchResult,
    Store,
    StoredResource,
    StoreError,
    UnsupportedSearch,
)
from .validation import Rules, validate

JSON = dict[str, Any]
FHIR_JSON = "application/fhir+json"
ACCEPTED_TYPES = ("application/fhir+json", "application/json+fhir", "application/json")
JSON_PATCH = "application/json-patch+json"
MAX_BODY = 5 * 1024 * 1024

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResourceSpec:
    """What a statement declares for one resource type."""

    type: str
    interactions: tuple[str, ...]
    profiles: tuple[str, ...] = ()
    params: tuple[ParamDef, ...] = ()
    includes: tuple[str, ...] = ()
    include_iterate: tuple[str, ...] = ()
    revincludes: tuple[str, ...] = ()
    conditional_update: str | None = None
    bundle_profile: str | None = None
    operations: tuple[OperationSpec, ...] = ()  # type and instance level


@dataclass(frozen=True)
class ApiSpec:
    """One CapabilityStatement's server side."""

    name: str
    capability: Mapping[str, Any]
    resources: tuple[ResourceSpec, ...]
    operations: tuple[OperationSpec, ...] = ()  # system level


class FhirError(Exception):
    def __init__(self, status: int, code: str, message: str, expression: Sequence[str] = ()):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.expression = list(expression)


def outcome(issues: Sequence[tuple[str, str, str, Sequence[str]]]) -> JSON:
    """An OperationOutcome from (severity, code, diagnostics, expressions)."""
    out: list[JSON] = []
    for severity, code, text, expr in issues:
        issue: JSON = {"severity": severity, "code": code, "diagnostics": text}
        if expr:
            issue["expression"] = list(expr)
        out.append(issue)
    return {"resourceType": "OperationOutcome", "issue": out}


def _fhir_response(
    body: JSON, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    text = json.dumps(body, ensure_ascii=False)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (a "\ud800" escape quoted in a message)
        raw = json.dumps(body).encode("ascii")
    return Response(
        raw,
        status_code=status,
        media_type=FHIR_JSON,
        headers=dict(headers or {}),
    )


@asynccontextmanager
async def _freeze_startup_heap(_: FastAPI) -> AsyncIterator[None]:
    """When the server starts, move what start-up built (profile rules, statements, the
    IR of ``igtools serve``: hundreds of thousands of objects) out of the garbage
    collector's reach: a full collection over them stalls every request in flight for
    100-200 ms, the tail of the latency distribution."""
    gc.collect()
    gc.freeze()
    yield


def _charset(request: Request) -> str:
    """The ``charset`` parameter of the request's content type, lower case ('' if none)."""
    for part in request.headers.get("content-type", "").split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return ""


def _key(resource: Mapping[str, Any]) -> str:
    if isinstance(resource, StoredResource):
        return f"{resource.resource_type}/{resource.id}"
    return f"{resource['resourceType']}/{resource['id']}"


def _dumps(value: Mapping[str, Any]) -> str:
    if isinstance(value, StoredResource) and value.pristine:
        return value.text
    return json.dumps(dict(value), ensure_ascii=False)


def _bundle_text(bundle: JSON, entries: Sequence[tuple[str | None, str, Mapping[str, Any]]]) -> str:
    """``bundle`` with its entries last, from (fullUrl, search mode, resource): stored
    resources written as their stored text, without a parse/dump round."""
    head = json.dumps(bundle, ensure_ascii=False)
    if not entries:
        return head
    quote = json.encoder.encode_basestring
    parts = [
        (f'{{"fullUrl": {quote(url)}, ' if url else "{")
        + f'"resource": {_dumps(resource)}, "search": {{"mode": "{mode}"}}}}'
        for url, mode, resource in entries
    ]
    return f'{head[:-1]}, "entry": [{", ".join(parts)}]}}'


def query_pairs(raw: bytes | str) -> list[tuple[str, str]]:
    """``name=value`` pairs of a query string or form body, percent-decoded as UTF-8:
    :class:`FhirError` 400 for text that is not (FHIR URLs and forms are UTF-8)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise FhirError(
            400, "structure", f"the query is not UTF-8 percent-encoded text ({reason})"
        ) from exc


def _short(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters for an error message."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


# errors of the reference store and of handlers using its exceptions, as HTTP statuses
_STORE_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (Gone, 410, "deleted"),
    (NotFound, 404, "not-found"),
    (PreconditionFailed, 412, "multiple-matches"),
    (InvalidResource, 400, "invalid"),
    (UnsupportedSearch, 400, "not-supported"),
)

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


class Handlers:
    """The operations a server performs; subclass it (or use :class:`StoreHandlers`)."""

    def read(self, rtype: str, rid: str) -> JSON:
        raise FhirError(501, "not-supported", f"read of {rtype} is not implemented")

    def search(self, rtype: str, request: SearchRequest) -> SearchResult:
        raise FhirError(501, "not-supported", f"search of {rtype} is not implemented")

    def create(self, rtype: str, resource: JSON) -> JSON:
        raise FhirError(501, "not-supported", f"create of {rtype} is not implemented")

    def update(self, rtype: str, rid: str, resource: JSON) -> tuple[JSON, bool]:
        raise FhirError(501, "not-supported", f"update of {rtype} is not implemented")

    def conditional_update(
        self, rtype: str, request: SearchRequest, resource: JSON
    ) -> tuple[JSON, bool]:
        raise FhirError(501, "not-supported", f"conditional update of {rtype} is not implemented")

    def delete(self, rtype: str, rid: str) -> None:
        raise FhirError(501, "not-supported", f"delete of {rtype} is not implemented")

    def history(self, rtype: str, rid: str) -> list[JSON]:
        raise FhirError(501, "not-supported", f"history of {rtype} is not implemented")

    def history_type(self, rtype: str) -> list[JSON]:
        """Every version of every ``rtype``, newest first: dicts with ``id``, ``method``,
        ``versionId`` and ``resource`` (None for a deletion)."""
        raise FhirError(501, "not-supported", f"history of type {rtype} is not implemented")

    def vread(self, rtype: str, rid: str, vid: str) -> JSON:
        raise FhirError(501, "not-supported", f"vread of {rtype} is not implemented")

    def operation(self, name: str, rtype: str | None, rid: str | None, parameters: JSON) -> JSON:
        """A declared operation ``$name`` (without ``$``) on the system (``rtype`` None),
        a type, or an instance ``rtype/rid``; ``parameters`` is the POSTed Parameters
        resource or the GET query as one. Returns the response resource (200)."""
        raise FhirError(501, "not-supported", not_implemented(name, rtype, rid))


class StoreHandlers(Handlers):
    """The reference implementation: everything on a :class:`~.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def read(self, rtype: str, rid: str) -> JSON:
        return self.store.read(rtype, rid)

    def search(self, rtype: str, request: SearchRequest) -> SearchResult:
        return self.store.search(rtype, request)

    def create(self, rtype: str, resource: JSON) -> JSON:
        return self.store.create(resource)

    def update(self, rtype: str, rid: str, resource: JSON) -> tuple[JSON, bool]:
        return self.store.update(rtype, rid, resource)

    def conditional_update(
        self, rtype: str, request: SearchRequest, resource: JSON
    ) -> tuple[JSON, bool]:
        return self.store.conditional_update(rtype, request, resource)

    def delete(self, rtype: str, rid: str) -> None:
        self.store.delete(rtype, rid)

    def history(self, rtype: str, rid: str) -> list[JSON]:
        return [
            {"method": h.method, "versionId": h.version_id, "resource": h.resource}
            for h in self.store.history(rtype, rid)
        ]

    def history_type(self, rtype: str) -> list[JSON]:
        return [
            {"id": h.id, "method": h.method, "versionId": h.version_id, "resource": h.resource}
            for h in self.store.history(rtype)
        ]

    def vread(self, rtype: str, rid: str, vid: str) -> JSON:
        return self.store.vread(rtype, rid, vid)


BaseValidator = Callable[[JSON], list[tuple[str, str]]]  # -> [(location, message)]


def fhir_json_validator(data: JSON) -> list[tuple[str, str]]:
    """Base-resource checks: the FHIR R4 JSON rules (:mod:`.fhirjson`)."""
    return [(i.location, i.message) for i in fhirjson.check_resource(data)]


def fhir_resources_validator(data: JSON) -> list[tuple[str, str]]:
    """Base-resource checks with fhir.resources (R4B)."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    rt = str(data.get("resourceType"))
    try:
        model = get_fhir_model_class(rt)
    except (KeyError, ValueError):
        return [(rt, f"unknown resource type {rt!r}")]
    try:
        model.model_validate(data)
    except ValidationError as exc:
        out = []
        for e in exc.errors():
            loc = rt + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])
            out.append((loc, str(e["msg"])))
        return out
    return []


@dataclass
class _Route:
    api: ApiSpec
    spec: ResourceSpec


@dataclass
class AppConfig:
    rules: Mapping[str, Rules] = field(default_factory=dict)
    others: Mapping[str, Sequence[ParamDef]] = field(default_factory=dict)
    base_validator: BaseValidator | None = fhir_json_validator
    invariants: bool = True
    max_count: int = 1000


def parse_request(
    spec: ResourceSpec, pairs: list[tuple[str, str]], config: AppConfig, strict: bool = False
) -> SearchRequest:
    """A search on ``spec.type`` parsed as the server parses it (its declared parameters,
    chains, includes); :class:`FhirError` 400 naming the parameters in error."""
    request = parse_search(
        pairs,
        spec.params,
        resource_type=spec.type,
        others=config.others,
        includes=set(spec.includes) | set(spec.include_iterate),
        revincludes=set(spec.revincludes),
        max_count=config.max_count,
        strict=strict,
    )
    if request.errors:
        raise FhirError(
            400,
            "invalid",
            "; ".join(str(e) for e in request.errors),
            [e.param for e in request.errors],
        )
    return request


def build_app(
    apis: Sequence[ApiSpec], handlers: Handlers, config: AppConfig | None = None
) -> FastAPI:
    cfg = config or AppConfig()
    app = FastAPI(
        title=" + ".join(a.name for a in apis),
        docs_url=None,
        redoc_url=None,
        lifespan=_freeze_startup_heap,
    )
    routes: dict[str, _Route] = {}
    # (type, interaction) -> the profiles of the statements declaring that interaction
    declared: dict[tuple[str, str], tuple[str, ...]] = {}
    for api in apis:
        for spec in api.resources:
            for interaction in spec.interactions:
                key = (spec.type, interaction)
                declared[key] = tuple(dict.fromkeys(declared.get(key, ()) + spec.profiles))
            if spec.type in routes:
                # two statements serving one type: merge what they declare
                old = routes[spec.type].spec
                spec = ResourceSpec(
                    type=spec.type,
                    interactions=tuple(dict.fromkeys(old.interactions + spec.interactions)),
                    profiles=tuple(dict.fromkeys(old.profiles + spec.profiles)),
                    params=tuple({p.code: p for p in old.params + spec.params}.values()),
                    includes=tuple(dict.fromkeys(old.includes + spec.includes)),
                    include_iterate=tuple(
                        dict.fromkeys(old.include_iterate + spec.include_iterate)
                    ),
                    revincludes=tuple(dict.fromkeys(old.revincludes + spec.revincludes)),
                    conditional_update=old.conditional_update or spec.conditional_update,
                    bundle_profile=old.bundle_profile or spec.bundle_profile,
                    operations=merge_operations(old.operations + spec.operations),
                )
            routes[spec.type] = _Route(api, spec)

    @app.exception_handler(FhirError)
    async def _fhir_error(_: Request, exc: FhirError) -> Response:
        return _fhir_response(
            outcome([("error", exc.code, exc.message, exc.expression)]), exc.status
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "not-supported"}.get(exc.status_code, "processing")
        return _fhir_response(outcome([("error", code, str(exc.detail), ())]), exc.status_code)

    @app.exception_handler(StoreError)
    async def _store_error(_: Request, exc: StoreError) -> Response:
        for kind, status, code in _STORE_STATUS:
            if isinstance(exc, kind):
                return _fhir_response(outcome([("error", code, str(exc), ())]), status)
        return _fhir_response(outcome([("error", "processing", str(exc), ())]), 400)

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> Response:
        log.exception("internal error")
        return _fhir_response(
            outcome([("fatal", "exception", "internal server error (see the server log)", ())]),
            500,
        )

    def route_for(rtype: str, interaction: str) -> _Route:
        r = routes.get(rtype)
        if r is None:
            raise FhirError(404, "not-supported", f"resource type {rtype} is not served here")
        if interaction not in r.spec.interactions:
            raise FhirError(405, "not-supported", f"{interaction} is not supported on {rtype}")
        return r

    async def json_body(request: Request, accepted: Sequence[str], default: str) -> Any:
        """The parsed body: 415 for another media type, 413 too large, 400 not JSON."""
        ctype = request.headers.get("content-type", default).split(";")[0].strip().lower()
        if ctype not in accepted:
            raise FhirError(
                415, "not-supported", f"content type {ctype or '-'} is not {' or '.join(accepted)}"
            )
        charset = _charset(request)
        if charset not in ("", "utf-8", "utf8"):
            raise FhirError(415, "not-supported", f"charset {charset}: FHIR bodies are UTF-8")
        raw = await read_body(request)
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise FhirError(400, "structure", "the body is UTF-16 text: FHIR bodies are UTF-8")
        try:
            data, duplicates = fhirjson.parse(raw)
        except fhirjson.FhirJsonError as exc:
            where = f" (line {exc.line}, col {exc.col})" if exc.line is not None else ""
            raise FhirError(400, "structure", f"the body is not JSON: {exc}{where}") from exc
        if duplicates:
            text = "; ".join(str(d) for d in duplicates)
            raise FhirError(400, "structure", text, [d.location for d in duplicates])
        return data

    async def read_body(request: Request) -> bytes:
        """The body, 413 past :data:`MAX_BODY` bytes (told by ``Content-Length`` before
        reading it, when given)."""
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            raise FhirError(413, "too-costly", f"body larger than {MAX_BODY} bytes")
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise FhirError(413, "too-costly", f"body larger than {MAX_BODY} bytes")
        return raw

    def params(request: Request) -> list[tuple[str, str]]:
        return query_pairs(request.scope.get("query_string", b""))

    def check_id(rtype: str, rid: str) -> None:
        if not _ID.fullmatch(rid):
            raise FhirError(
                400, "invalid", f"{rtype}/{_short(rid)}: not a FHIR id ([A-Za-z0-9-.]{{1,64}})"
            )

    async def body_of(request: Request, rtype: str, spec: ResourceSpec, interaction: str) -> JSON:
        data = await json_body(request, ACCEPTED_TYPES, FHIR_JSON)
        if not isinstance(data, dict) or data.get("resourceType") != rtype:
            got = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
            raise FhirError(400, "structure", f"the body must be a {rtype} resource, got {got}")
        check(data, spec, interaction)
        return data

    def check(data: JSON, spec: ResourceSpec, interaction: str) -> None:
        """The base resource (400); then (422) one of the profiles of the statements that
        declare ``interaction`` on the type, and every profile the body claims in
        ``meta.profile`` that the server knows."""
        if cfg.base_validator is not None:
            base = cfg.base_validator(data)
            if base:
                raise FhirError(
                    400,
                    "structure",
                    "; ".join(f"{loc}: {msg}" for loc, msg in base),
                    [loc for loc, _ in base],
                )
        errors_of: dict[str, list[Any]] = {}

        def errors(profile: str) -> list[Any]:
            if profile not in errors_of:
                issues = validate(data, cfg.rules[profile], cfg.rules, cfg.invariants)
                errors_of[profile] = [i for i in issues if i.severity == "error"]
            return errors_of[profile]

        def reject(profile: str, found: list[Any]) -> FhirError:
            text = "; ".join(str(i) for i in found)
            return FhirError(
                422,
                "processing",
                f"not valid against {profile}: {text}",
                [i.location for i in found],
            )

        wanted = declared.get((spec.type, interaction), spec.profiles)
        profiles = [p for p in wanted if p in cfg.rules]
        # the claimed profiles first: a body claiming one of the declared profiles is
        # judged by it
        meta = data.get("meta")
        claims = meta.get("profile") if isinstance(meta, dict) else None
        claimed = (
            [c.split("|", 1)[0] for c in claims or [] if isinstance(c, str)]
            if isinstance(claims, list)
            else []
        )
        for profile in (c for c in claimed if c in cfg.rules):
            if errors(profile):
                raise reject(profile, errors(profile))
        if profiles and all(errors(p) for p in profiles):
            best = min(profiles, key=lambda p: len(errors(p)))
            raise reject(best, errors(best))

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def bundle(
        request: Request, rtype: str, spec: ResourceSpec, req: SearchRequest, result: SearchResult
    ) -> Response:
        base = base_url(request)
        entries: list[tuple[str | None, str, Mapping[str, Any]]] = []  # (fullUrl, mode, res)
        for mode, found in (("match", result.matches), ("include", result.included)):
            entries.extend((f"{base}/{_key(res)}", mode, res) for res in found)
        if req.warnings or req.unknown:
            text = "; ".join(
                [str(w) for w in req.warnings] or [f"unknown parameter {u}" for u in req.unknown]
            )
            warning = outcome([("warning", "not-supported", text, ())])
            entries.append((None, "outcome", warning))
        query = urlencode(params(request), safe=":,")
        out: JSON = {"resourceType": "Bundle", "type": "searchset", "total": result.total}
        if result.matches and spec.bundle_profile:
            out["meta"] = {"profile": [spec.bundle_profile]}
        out["link"] = [
            {"relation": "self", "url": f"{base}/{rtype}" + (f"?{query}" if query else "")}
        ]
        return Response(_bundle_text(out, entries), media_type=FHIR_JSON)

    async def run_operation(
        request: Request, name: str, rtype: str | None, rid: str | None
    ) -> Response:
        if rid is not None and rtype is not None:
            check_id(rtype, rid)
        pairs = params(request)
        if request.method == "GET" or not await read_body(request):
            parameters = parameters_of(pairs)
        else:
            parameters = await json_body(request, ACCEPTED_TYPES, FHIR_JSON)
            if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
                got = (
                    parameters.get("resourceType")
                    if isinstance(parameters, dict)
                    else type(parameters).__name__
                )
                raise FhirError(
                    400,
                    "structure",
                    f"the body of ${name} must be a Parameters resource, got {got}",
                )
            if pairs:
                parameters = {
                    **parameters,
                    "parameter": [
                        *(parameters.get("parameter") or []),
                        *parameters_of(pairs)["parameter"],
                    ],
                }
        return _fhir_response(handlers.operation(name, rtype, rid, parameters))

    add_operation_routes(
        app,
        merge_operations(op for api in apis for op in api.operations),
        {t: r.spec.operations for t, r in routes.items() if r.spec.operations},
        run_operation,
    )

    started = datetime.now(UTC).replace(microsecond=0).isoformat()
    statement = (
        dict(apis[0].capability)
        if len(apis) == 1
        else merge_capabilities([a.capability for a in apis], started)
    )

    @app.get("/metadata")
    async def metadata(request: Request) -> Response:
        if len(apis) == 1:
            return _fhir_response(statement)
        served = dict(statement)
        served["implementation"] = {**statement["implementation"], "url": base_url(request)}
        return _fhir_response(served)

    def history_bundle(rtype: str, versions: list[JSON], rid: str | None = None) -> Response:
        entries = []
        for v in versions:
            request = {"method": v["method"], "url": f"{rtype}/{rid or v.get('id')}"}
            entry: JSON = {"request": request}
            if v["resource"]:
                entry = {"resource": v["resource"], "request": request}
            entries.append(entry)
        return _fhir_response(
            {"resourceType": "Bundle", "type": "history", "total": len(versions), "entry": entries}
        )

    @app.get("/{rtype}/_history")
    async def history_type(rtype: str) -> Response:
        route_for(rtype, "history-type")
        return history_bundle(rtype, handlers.history_type(rtype))

    @app.get("/{rtype}/{rid}/_history/{vid}")
    async def vread(rtype: str, rid: str, vid: str) -> Response:
        route_for(rtype, "vread")
        try:
            res = handlers.vread(rtype, rid, vid)
        except Gone as exc:
            raise FhirError(410, "deleted", str(exc)) from exc
        except NotFound as exc:
            raise FhirError(404, "not-found", str(exc)) from exc
        return _fhir_response(res)

    @app.get("/{rtype}/{rid}/_history")
    async def history(rtype: str, rid: str) -> Response:
        route_for(rtype, "history-instance")
        try:
            versions = handlers.history(rtype, rid)
        except NotFound as exc:
            raise FhirError(404, "not-found", str(exc)) from exc
        return history_bundle(rtype, versions, rid)

    @app.get("/{rtype}/{rid}")
    async def read(rtype: str, rid: str) -> Response:
        route_for(rtype, "read")
        try:
            res = handlers.read(rtype, rid)
        except Gone as exc:
            raise FhirError(410, "deleted", str(exc)) from exc
        except NotFound as exc:
            raise FhirError(404, "not-found", f"{rtype}/{_short(rid)} not found") from exc
        return _fhir_response(res)

    async def do_search(request: Request, rtype: str, pairs: list[tuple[str, str]]) -> Response:
        route = route_for(rtype, "search-type")
        strict = "handling=strict" in request.headers.get("prefer", "").replace(" ", "")
        req = parse_request(route.spec, pairs, cfg, strict)
        try:
            result = handlers.search(rtype, req)
        except UnsupportedSearch as exc:
            raise FhirError(400, "not-supported", str(exc)) from exc
        return bundle(request, rtype, route.spec, req, result)

    @app.get("/{rtype}")
    async def search_get(request: Request, rtype: str) -> Response:
        return await do_search(request, rtype, params(request))

    @app.post("/{rtype}/_search")
    async def search_post(request: Request, rtype: str) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in ("application/x-www-form-urlencoded", ""):
            raise FhirError(415, "not-supported", f"_search takes a form body, not {ctype}")
        if _charset(request) not in ("", "utf-8", "utf8"):
            raise FhirError(415, "not-supported", "a _search form body is UTF-8")
        raw = await read_body(request)
        return await do_search(request, rtype, params(request) + query_pairs(raw))

    @app.post("/{rtype}")
    async def create(request: Request, rtype: str) -> Response:
        route = route_for(rtype, "create")
        data = await body_of(request, rtype, route.spec, "create")
        try:
            res = handlers.create(rtype, data)
        except InvalidResource as exc:
            raise FhirError(400, "structure", str(exc)) from exc
        loc = f"{base_url(request)}/{rtype}/{res['id']}"
        return _fhir_response(res, 201, {"Location": loc})

    @app.put("/{rtype}")
    async def conditional_update(request: Request, rtype: str) -> Response:
        route = route_for(rtype, "update")
        key = route.spec.conditional_update
        if key is None:
            raise FhirError(405, "not-supported", f"conditional update is not supported on {rtype}")
        pairs = params(request)
        if not pairs:
            raise FhirError(400, "required", f"conditional update of {rtype} needs ?{key}=...")
        req = parse_request(route.spec, pairs, cfg, strict=True)
        data = await body_of(request, rtype, route.spec, "update")
        try:
            res, created = handlers.conditional_update(rtype, req, data)
        except PreconditionFailed as exc:
            raise FhirError(412, "multiple-matches", str(exc)) from exc
        loc = f"{base_url(request)}/{rtype}/{res['id']}"
        return _fhir_response(res, 201 if created else 200, {"Location": loc})

    @app.put("/{rtype}/{rid}")
    async def update(request: Request, rtype: str, rid: str) -> Response:
        route = route_for(rtype, "update")
        check_id(rtype, rid)
        data = await body_of(request, rtype, route.spec, "update")
        if data.get("id") not in (None, rid):
            raise FhirError(400, "invalid", f"the body's id {data.get('id')!r} is not {rid!r}")
        data["id"] = rid
        res, created = handlers.update(rtype, rid, data)
        loc = f"{base_url(request)}/{rtype}/{rid}"
        return _fhir_response(res, 201 if created else 200, {"Location": loc})

    @app.patch("/{rtype}/{rid}")
    async def patch(request: Request, rtype: str, rid: str) -> Response:
        route = route_for(rtype, "patch")
        check_id(rtype, rid)
        operations = await json_body(request, (JSON_PATCH,), "")
        if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
            raise FhirError(400, "structure", "a JSON Patch is a list of operation objects")
        try:
            current = handlers.read(rtype, rid)
        except Gone as exc:
            raise FhirError(410, "deleted", str(exc)) from exc
        except NotFound as exc:
            raise FhirError(404, "not-found", f"{rtype}/{_short(rid)} not found") from exc
        try:
            patched = jsonpatch.apply_patch(current, operations)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise FhirError(422, "processing", f"a test operation failed: {exc}") from exc
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise FhirError(400, "invalid", f"the patch cannot apply: {exc}") from exc
        if not isinstance(patched, dict) or patched.get("resourceType") != rtype:
            raise FhirError(422, "processing", f"the patch must leave a {rtype} resource")
        if patched.get("id") != rid:
            raise FhirError(422, "processing", f"the patch must not change the id {rid!r}")
        check(patched, route.spec, "patch")
        res, _ = handlers.update(rtype, rid, patched)
        return _fhir_response(res, 200, {"Location": f"{base_url(request)}/{rtype}/{rid}"})

    @app.delete("/{rtype}/{rid}")
    async def delete(rtype: str, rid: str) -> Response:
        route_for(rtype, "delete")
        check_id(rtype, rid)
        handlers.delete(rtype, rid)
        return Response(status_code=204)

    return app
