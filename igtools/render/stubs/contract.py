"""What the contract checks of a server statement ask and expect, derived from the IG:
searches by ``_id`` and reads of an example per type, date parameters, the search flows
with the reference implementation's answers (``flows.py``), the writes (``writes.py``)
and the Bundle profiles. Written into the generated contract tests (``python.py``) and
used by ``igtools conformance``; the checks themselves are ``igtools/runtime/conformance.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from igtools.ir.model import IG
from igtools.render.stubs.flows import flows
from igtools.render.stubs.plan import Api
from igtools.render.stubs.server import api_spec
from igtools.render.stubs.writes import writes
from igtools.runtime.conformance import Flow, Write
from igtools.runtime.fhirapi import AppConfig
from igtools.runtime.store import Store
from igtools.runtime.validation import Rules


@dataclass
class ContractData:
    searches: list[tuple[str, str, list[str]]]  # (type, example id, includes)
    reads: list[tuple[str, str]]  # (type, example id)
    dates: list[tuple[str, str]]  # (type, date parameter)
    profiles: dict[str, list[str]]  # type -> profiles
    flows: list[Flow]
    writes: list[Write]
    bundle_profiles: dict[str, str]  # type -> Bundle profile


def contract_data(
    ig: IG,
    api: Api,
    parts: list[Api] | None,
    reference: tuple[Store, AppConfig],
    registry: dict[str, Rules],
) -> ContractData:
    """The contract of the server of ``api`` (``parts``: the statements a combined server
    answers, ``api`` their merged plan); ``reference``: the store loaded with the IG's
    examples, whose answers the flow checks expect."""
    searches: list[tuple[str, str, list[str]]] = []
    reads: list[tuple[str, str]] = []
    dates: list[tuple[str, str]] = []
    profiles: dict[str, list[str]] = {}
    for r in api.resources:
        profiles[r.type] = list(r.profiles)
        candidates = [e for e in ig.examples if e.resource_type == r.type and e.id]
        preferred = [e for e in candidates if set(e.profiles) & set(r.profiles)] or candidates
        if "read" in r.interactions and preferred:
            reads.append((r.type, str(preferred[0].id)))
        if "search-type" not in r.interactions:
            continue
        if preferred:
            incs = [i for i in r.includes if i.startswith(f"{r.type}:") and i.count(":") == 1]
            searches.append((r.type, str(preferred[0].id), incs))
        dates += [(r.type, p.code) for p in r.params if p.type == "date"]
    specs = {r.type: r for r in api_spec(api, {}).resources}
    flow_list = [f.as_tuple() for f in flows(api, specs, *reference)]
    # each statement's own writes: a body goes to the statement declaring the write
    write_list = list(
        {
            w.type: w.as_tuple()
            for part in reversed(parts or [api])
            for w in writes(part, ig, registry)
        }.values()
    )
    bundle_profiles = {r.type: r.bundle_profile for r in api.resources if r.bundle_profile}
    return ContractData(searches, reads, dates, profiles, flow_list, write_list, bundle_profiles)
