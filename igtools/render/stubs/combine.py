"""One server for several server CapabilityStatements (``igtools stubs --combine A,B``):
the plan of the server that answers them all on one base.

The engine keeps each statement's declarations (a body is checked against the profile of
the statement that declares that interaction for that type); the merged plan here types
the handler interface and the contract tests: per resource type, interactions, search
parameters, chains, ``_has`` and includes unioned, the profiles of the statements that
write the type first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from igtools.errors import IgtoolsError
from igtools.render.stubs.plan import Api, ParamSpec, ResourceApi, merge_operations

T = TypeVar("T")
WRITES = {"create", "update", "patch"}


def _union(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))


def _merge(entries: list[ResourceApi]) -> ResourceApi:
    writers = [r for r in entries if WRITES & set(r.interactions)]
    ordered = writers + [r for r in entries if r not in writers]
    profiles = _union(p for r in ordered for p in r.profiles)
    params: dict[str, ParamSpec] = {}
    for r in entries:
        for p in r.params:
            params.setdefault(p.code, p)
    return ResourceApi(
        type=entries[0].type,
        profile=profiles[0] if profiles else None,
        supported_profiles=profiles[1:],
        interactions=_union(i for r in entries for i in r.interactions),
        params=list(params.values()),
        chains=_union(c for r in entries for c in r.chains),
        has=_union(h for r in entries for h in r.has),
        includes=_union(i for r in entries for i in r.includes),
        include_iterate=_union(i for r in entries for i in r.include_iterate),
        revincludes=_union(i for r in entries for i in r.revincludes),
        conditional_update=next(
            (r.conditional_update for r in entries if r.conditional_update), None
        ),
        bundle_profile=next((r.bundle_profile for r in entries if r.bundle_profile), None),
        documentation=next((r.documentation for r in entries if r.documentation), None),
        operations=merge_operations([o for r in entries for o in r.operations]),
    )


def combine_apis(parts: list[Api]) -> Api:
    """The plan of one server answering every statement of ``parts`` (server mode)."""
    if len(parts) < 2:
        raise IgtoolsError("--combine needs at least two server CapabilityStatements")
    by_type: dict[str, list[ResourceApi]] = {}
    for api in parts:
        for r in api.resources:
            by_type.setdefault(r.type, []).append(r)
    titles = [a.title or a.capability for a in parts]
    return Api(
        capability="+".join(a.capability for a in parts),
        name="+".join(a.name for a in parts),
        title=" + ".join(titles),
        mode="server",
        resources=[_merge(entries) for entries in by_type.values()],
        operations=merge_operations([o for a in parts for o in a.operations]),
    )


def shared_types(parts: list[Api]) -> set[str]:
    """The resource types several of ``parts`` serve with different profiles: their
    handler methods are typed with the base resource class (a body may be in either)."""
    seen: dict[str, set[tuple[str, ...]]] = {}
    for api in parts:
        for r in api.resources:
            seen.setdefault(r.type, set()).add(tuple(r.profiles))
    return {t for t, profiles in seen.items() if len(profiles) > 1}
