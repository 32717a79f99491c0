"""A running server for named CapabilityStatements, straight from the API plan: the
engine of ``igtools serve`` and of the servers ``igtools stubs`` will generate.

The reference implementation stores resources in the SQLite store, loaded with the IG's
examples (each resource once, Bundle entries included) or with the JSON files of a folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from igtools.errors import IgtoolsError
from igtools.ir.model import IG, CapabilityOperation
from igtools.render.stubs.plan import Api, OperationApi, ParamRegistry, build_plan
from igtools.runtime.fhirapi import ApiSpec, AppConfig, ResourceSpec, StoreHandlers, build_app
from igtools.runtime.operations import OperationSpec
from igtools.runtime.search import PARAM_TYPES, ParamDef
from igtools.runtime.store import Store, StoreParam, with_bundle_entries
from igtools.validate.rules import build_rules


def select_apis(apis: list[Api], wanted: list[str], option: str = "--capability") -> list[Api]:
    """The server-mode APIs named by id, name or URL (all servers when none named);
    an unknown name is an error naming ``option``."""
    servers = [a for a in apis if a.mode == "server"]
    if not wanted:
        return servers
    out: list[Api] = []
    for w in wanted:
        found = [a for a in servers if w in (a.capability, a.name, a.url)]
        if not found:
            known = ", ".join(sorted(a.capability for a in servers))
            raise IgtoolsError(
                f"{option} {w}: no server CapabilityStatement of that id or name (known: {known})"
            )
        out.extend(f for f in found if f not in out)
    return out


def _operation_specs(ops: list[OperationApi]) -> tuple[OperationSpec, ...]:
    return tuple(OperationSpec(o.name, o.definition, o.system, o.type, o.instance) for o in ops)


def _operations_json(ops: list[CapabilityOperation]) -> dict[str, Any]:
    """The ``operation`` element of a served statement's rest or resource entry."""
    if not ops:
        return {}
    return {
        "operation": [
            {"name": o.name, **({"definition": o.definition} if o.definition else {})} for o in ops
        ]
    }


def api_spec(api: Api, capability: dict[str, Any]) -> ApiSpec:
    resources = []
    for r in api.resources:
        params = tuple(
            ParamDef(
                p.code,
                p.type,
                modifiers=tuple(p.modifiers),
                comparators=tuple(p.comparators),
                # the parser wants the legs after the declared parameter
                chains=tuple(
                    c.split(".", 1)[1]
                    for c in r.chains
                    if "." in c and c.split(".", 1)[0].split(":", 1)[0] == p.code
                ),
                targets=tuple(p.targets),
            )
            for p in r.params
            if p.type in PARAM_TYPES
        )
        resources.append(
            ResourceSpec(
                type=r.type,
                interactions=tuple(r.interactions),
                profiles=tuple(r.profiles),
                params=params,
                includes=tuple(r.includes),
                include_iterate=tuple(r.include_iterate),
                revincludes=tuple(r.revincludes),
                conditional_update=r.conditional_update,
                bundle_profile=r.bundle_profile,
                operations=_operation_specs(r.operations),
            )
        )
    return ApiSpec(
        name=api.capability,
        capability=capability,
        resources=tuple(resources),
        operations=_operation_specs(api.operations),
    )


def store_params(ig: IG) -> list[StoreParam]:
    registry = ParamRegistry(ig)
    params = []
    for rtype in sorted({r for r, _ in registry._params}):
        for p in registry.of(rtype):
            params.append(StoreParam(p.resource, p.code, p.type, p.expression, tuple(p.targets)))
    return params


def load_data(store: Store, ig: IG, data: Path | None) -> int:
    if data is None:
        resources = [ex.data for ex in ig.examples]
    else:
        if not data.is_dir():
            raise IgtoolsError(f"--data {data}: not a folder")
        resources = []
        for f in sorted(data.glob("*.json")):
            try:
                obj = json.loads(f.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise IgtoolsError(f"{f}: invalid JSON: {exc}") from exc
            if isinstance(obj, dict) and "resourceType" in obj:
                resources.append(obj)
    return store.load(with_bundle_entries(resources))


def make_app(
    ig: IG,
    capabilities: list[str],
    overlays: list[Any] | None = None,
    data: Path | None = None,
    db: str = ":memory:",
    load: bool = True,
) -> tuple[Any, Store, list[Api]]:
    """The app serving ``capabilities`` on a store in ``db``, loaded with ``data`` (or
    the IG's examples) unless ``load`` is False (a store another process loaded)."""
    apis, _ = build_plan(ig, overlays)
    chosen = select_apis(apis, capabilities)
    store = Store(db, store_params(ig))
    if load:
        load_data(store, ig, data)
    statements = {str(c.id): _capability_json(ig, str(c.id)) for c in ig.capabilities}
    specs = [api_spec(a, statements.get(a.capability, {})) for a in chosen]
    rules, _ = build_rules(ig)
    others = store.param_defs_by_type()
    app = build_app(specs, StoreHandlers(store), AppConfig(rules=rules, others=others))
    return app, store, chosen


def _capability_json(ig: IG, cid: str) -> dict[str, Any]:
    for cap in ig.capabilities:
        if cap.id == cid:
            return {
                "resourceType": "CapabilityStatement",
                "id": cap.id,
                "url": cap.url,
                "name": cap.name,
                "title": cap.title,
                "status": cap.status or "active",
                "kind": "instance",
                "fhirVersion": "4.0.1",
                "format": cap.formats or ["application/fhir+json"],
                "rest": [
                    {
                        "mode": rest.mode,
                        "resource": [
                            {
                                "type": r.type,
                                **({"profile": r.profile} if r.profile else {}),
                                **(
                                    {"supportedProfile": list(r.supported_profiles)}
                                    if r.supported_profiles
                                    else {}
                                ),
                                "interaction": [{"code": i} for i in r.interactions],
                                "searchParam": [
                                    {
                                        "name": p.code,
                                        "type": p.type,
                                        **({"definition": p.url} if p.url else {}),
                                    }
                                    for p in r.search_params
                                ],
                                **(
                                    {"searchInclude": list(r.search_includes)}
                                    if r.search_includes
                                    else {}
                                ),
                                **(
                                    {"searchRevInclude": list(r.search_rev_includes)}
                                    if r.search_rev_includes
                                    else {}
                                ),
                                **({"conditionalUpdate": True} if r.conditional_update else {}),
                                **_operations_json(r.operations),
                            }
                            for r in rest.resources
                        ],
                        **_operations_json(rest.operations),
                    }
                    for rest in cap.rest
                ],
            }
    return {}


def run(make: Callable[[], Any], uvicorn_options: dict[str, Any], workers: int = 1) -> None:
    """Serve the app ``make()`` builds with uvicorn: in this process, or (``workers`` > 1)
    in that many forked processes sharing one listening socket, each building its own app
    (SQLite connections must not cross a fork: the store must be a file, loaded before).
    SIGTERM or SIGINT to the parent stops the workers."""
    import uvicorn

    if workers <= 1:
        uvicorn.run(make(), **uvicorn_options)
        return
    if not hasattr(os, "fork"):
        raise IgtoolsError("--workers needs a system with fork() (Linux, macOS)")
    host, port = uvicorn_options.pop("host"), uvicorn_options.pop("port")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the worker
            code = 0
            try:
                server = uvicorn.Server(uvicorn.Config(make(), **uvicorn_options))
                server.run(sockets=[sock])
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        children.append(pid)

    def stop(*_: Any) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for pid in children:
            os.waitpid(pid, 0)
    finally:
        sock.close()
