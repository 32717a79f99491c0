"""Flow queries for the generated contract tests.

A search flow is what a statement (with the project's overlay) declares beyond plain
parameters: chained parameters, ``_has``, ``_include``, ``_include:iterate``,
``_revinclude``. For each searched resource with such a shape, this builds one query in
that shape from the IG's examples, on the reference store, and records the answer the
reference implementation gives: the matches and the included resources, by ``Type/id``.
The contract tests then ask the server under test the same query (on the same examples)
and expect the same answer, the Bundle profile of the flow, and a 200 with ``total: 0``
for the same shape with an identifying value (a chain's or the parameter's) nothing
holds.

The query is built greedily, each part kept only if something still matches: a value of
each chain's last parameter, of each ``_has`` condition (dates as ``ge`` the middle
value, so that the window excludes something), of the tokens the overlay adds (the most
common value among the matches so far), and a ``ge``/``le`` window on the resource's
first date parameter; a search with includes only gets a value of its first declared
token, string or reference parameter. For chains, token ``_has`` conditions and that
parameter, the value kept is the one whose answer includes the most resource types, so
that every include path is exercised.
Nothing here knows an IG: the shapes come from the plan, values from the examples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from igtools.render.stubs.plan import Api, ResourceApi
from igtools.runtime.fhirapi import AppConfig, FhirError, ResourceSpec, parse_request
from igtools.runtime.store import SearchResult, Store, UnsupportedSearch

Pairs = list[tuple[str, str]]
NO_VALUE = "urn:igtools:no-such-system|no-such-value"
# a value nobody holds, by parameter type, from the value it replaces
_NOBODY: dict[str, Callable[[str], str]] = {
    "token": lambda _: NO_VALUE,
    "string": lambda _: "igtools-no-such-value",
    "reference": lambda v: v.rsplit("/", 1)[0] + "/igtools-no-such-id",
}
MAX_TRIES = 40  # candidate values tried per part of the query


@dataclass(frozen=True)
class Flow:
    """One query in a flow's shape and the reference answer on the examples."""

    type: str
    query: Pairs
    matches: list[str]
    included: list[str]
    empty_query: Pairs | None  # the same shape with a value nothing holds

    def as_tuple(self) -> tuple[str, Pairs, list[str], list[str], Pairs | None]:
        return (self.type, self.query, self.matches, self.included, self.empty_query)


def _shaped(r: ResourceApi) -> bool:
    return bool(r.chains or r.has or r.includes or r.include_iterate or r.revincludes)


def _include_pairs(r: ResourceApi) -> Pairs:
    return (
        [("_include", i) for i in r.includes]
        + [("_include:iterate", i) for i in r.include_iterate]
        + [("_revinclude", i) for i in r.revincludes]
    )


def _chain_end(store: Store, rtype: str, chain: str) -> tuple[str, str] | None:
    """(type, parameter) a chain such as ``schedule.actor:Practitioner.identifier`` ends on."""
    legs = chain.split(".")
    current = rtype
    for i, leg in enumerate(legs[:-1]):
        code, _, modifier = leg.partition(":")
        if modifier:
            current = modifier
            continue
        spec = store.param(current, code)
        if spec is None:
            return None
        following = legs[i + 1].split(":", 1)[0]
        targets = [t for t in spec.targets if store.param(t, following) is not None]
        if not targets:
            return None
        current = targets[0]
    return current, legs[-1].split(":", 1)[0]


def _middle_first(dates: list[str]) -> list[str]:
    ordered = sorted(dates)
    if not ordered:
        return []
    mid = len(ordered) // 2
    return [ordered[mid], *ordered[:mid], *ordered[mid + 1 :]]


class _Search:
    def __init__(self, store: Store, spec: ResourceSpec, config: AppConfig) -> None:
        self.store, self.spec, self.config = store, spec, config

    def __call__(self, pairs: Pairs) -> SearchResult | None:
        try:
            request = parse_request(self.spec, pairs, self.config, strict=True)
            return self.store.search(self.spec.type, request)
        except (FhirError, UnsupportedSearch):
            return None


def _ids(result: SearchResult) -> list[str]:
    return [str(res["id"]) for res in result.matches]


def flow_for(r: ResourceApi, spec: ResourceSpec, store: Store, config: AppConfig) -> Flow | None:
    """The flow query of one searched resource, or None when the examples give nothing."""
    if "search-type" not in r.interactions or not _shaped(r):
        return None
    search = _Search(store, spec, config)
    tail = _include_pairs(r)
    criteria: Pairs = []
    # (index in criteria, parameter type) of the first identifying criterion: the one the
    # variant without hits replaces by a value nobody holds
    keyed: tuple[int, str] | None = None
    current = search(tail)
    if current is None:
        return None

    def extend(name: str, candidates: Iterable[str], widest: bool = False) -> bool:
        """Add the first candidate that keeps a match (``widest``: the one whose answer
        includes the most resource types, so that every include path is exercised)."""
        nonlocal current
        best: tuple[int, str, SearchResult] | None = None
        for value in list(candidates)[:MAX_TRIES]:
            found = search([*criteria, (name, value), *tail])
            if found is None or not found.total:
                continue
            kinds = len({res["resourceType"] for res in found.included})
            if best is None or kinds > best[0]:
                best = (kinds, value, found)
            if not widest:
                break
        if best is None:
            return False
        criteria.append((name, best[1]))
        current = best[2]
        return True

    for chain in r.chains:
        end = _chain_end(store, r.type, chain)
        if end is None:
            continue
        param = store.param(*end)
        if extend(chain, store.values(*end), widest=True) and param is not None:
            keyed = keyed or (len(criteria) - 1, param.type)
    for has in r.has:
        src_type, _, rest = has.partition(":")
        _ref, _, code = rest.partition(":")
        param = store.param(src_type, code)
        if param is None:
            continue
        values = store.values(src_type, code)
        if param.type == "date":
            values = ["ge" + v for v in _middle_first(values)]
        extend(f"_has:{has}", values, widest=param.type != "date")
    for p in r.params:
        if p.source == "overlay" and p.type == "token" and current is not None:
            extend(p.code, store.values(r.type, p.code, _ids(current)))
    dates = [p for p in r.params if p.type == "date" and not p.code.startswith("_")]
    if dates and current is not None:  # a window: from the middle value to the last of all
        code = dates[0].code
        if extend(
            code, ["ge" + v for v in _middle_first(store.values(r.type, code, _ids(current)))]
        ):
            extend(code, ["le" + max(store.values(r.type, code))])
    if not criteria and current is not None:  # includes only: one declared parameter
        for p in r.params:
            if (
                p.type in ("token", "string", "reference")
                and not p.code.startswith("_")
                and extend(p.code, store.values(r.type, p.code, _ids(current)), widest=True)
            ):
                keyed = (len(criteria) - 1, p.type)
                break
    final = search([*criteria, *tail])
    if not criteria or final is None or not final.total:
        return None
    empty: Pairs | None = None
    if keyed is not None and keyed[1] in _NOBODY:
        index, ptype = keyed
        name, value = criteria[index]
        empty = [*criteria[:index], (name, _NOBODY[ptype](value)), *criteria[index + 1 :], *tail]
        nothing = search(empty)
        if nothing is None or nothing.total:
            empty = None
    return Flow(
        type=r.type,
        query=[*criteria, *tail],
        matches=sorted(f"{res['resourceType']}/{res['id']}" for res in final.matches),
        included=sorted(f"{res['resourceType']}/{res['id']}" for res in final.included),
        empty_query=empty,
    )


def flows(api: Api, specs: dict[str, ResourceSpec], store: Store, config: AppConfig) -> list[Flow]:
    """The flow queries of a server statement (``specs`` by resource type)."""
    out = []
    for r in api.resources:
        spec = specs.get(r.type)
        flow = flow_for(r, spec, store, config) if spec is not None else None
        if flow is not None:
            out.append(flow)
    return out
