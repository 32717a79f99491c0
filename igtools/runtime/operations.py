"""The operations a CapabilityStatement declares (``rest.operation``,
``rest.resource.operation``), routed at the levels each allows: ``/$name`` (system),
``/{type}/$name`` (type), ``/{type}/{id}/$name`` (instance), by GET and POST.

Only declared operations get routes (a literal path per name and type), so an operation
no statement declares keeps the answers of the other routes (404 or 405). The engine
(:mod:`.fhirapi`) passes each call to ``Handlers.operation(name, rtype, rid, parameters)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

JSON = dict[str, Any]
# (request, operation name, resource type or None, id or None) -> the response
OperationCall = Callable[[Request, str, str | None, str | None], Awaitable[Response]]


@dataclass(frozen=True)
class OperationSpec:
    """One declared operation: its name (without ``$``), the canonical of its
    OperationDefinition, and the levels it is served at."""

    name: str
    definition: str | None = None
    system: bool = False
    type: bool = False
    instance: bool = False


def merge_operations(items: Iterable[OperationSpec]) -> tuple[OperationSpec, ...]:
    """One entry per name, the levels of every declaration unioned."""
    out: dict[str, OperationSpec] = {}
    for op in items:
        old = out.get(op.name)
        out[op.name] = (
            op
            if old is None
            else OperationSpec(
                op.name,
                old.definition or op.definition,
                old.system or op.system,
                old.type or op.type,
                old.instance or op.instance,
            )
        )
    return tuple(out.values())


def parameters_of(pairs: Sequence[tuple[str, str]]) -> JSON:
    """A Parameters resource from ``name=value`` pairs (a GET operation's query): each a
    ``valueString`` parameter, in order."""
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": name, "valueString": value} for name, value in pairs],
    }


def not_implemented(name: str, rtype: str | None, rid: str | None) -> str:
    """The diagnostics of a declared operation the handlers do not implement."""
    where = f"{rtype}/{rid}" if rid else rtype or "the system"
    return (
        f"operation ${name} (on {where}) is declared by the CapabilityStatement but not "
        "implemented: override Handlers.operation(name, rtype, rid, parameters) to return "
        "its result"
    )


def add_operation_routes(
    app: FastAPI,
    system: Sequence[OperationSpec],
    by_type: Mapping[str, Sequence[OperationSpec]],
    call: OperationCall,
) -> None:
    """GET and POST routes for each declared operation at each level it allows; added
    before the REST routes (``/{type}/{id}`` would take ``/{type}/$name``)."""
    methods = ["GET", "POST"]
    for op in system:
        if op.system:
            app.add_api_route(f"/${op.name}", _system(call, op.name), methods=methods)
    for rtype, ops in by_type.items():
        for op in ops:
            if op.type:
                app.add_api_route(
                    f"/{rtype}/${op.name}", _typed(call, op.name, rtype), methods=methods
                )
            if op.instance:
                app.add_api_route(
                    f"/{rtype}/{{rid}}/${op.name}", _instance(call, op.name, rtype), methods=methods
                )


def _system(call: OperationCall, name: str) -> Callable[[Request], Awaitable[Response]]:
    async def operation(request: Request) -> Response:
        return await call(request, name, None, None)

    return operation


def _typed(call: OperationCall, name: str, rtype: str) -> Callable[[Request], Awaitable[Response]]:
    async def operation(request: Request) -> Response:
        return await call(request, name, rtype, None)

    return operation


def _instance(
    call: OperationCall, name: str, rtype: str
) -> Callable[[Request, str], Awaitable[Response]]:
    async def operation(request: Request, rid: str) -> Response:
        return await call(request, name, rtype, rid)

    return operation
