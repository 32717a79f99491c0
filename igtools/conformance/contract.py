"""The contract of one or several server CapabilityStatements of an IG, as the generated
contract tests hold it: the same cases (``igtools/render/stubs/contract.py``), the IG's
examples, the profiles' validation rules."""

from __future__ import annotations

from typing import Any

from igtools.errors import IgtoolsError
from igtools.ir.model import IG
from igtools.render.stubs.combine import combine_apis
from igtools.render.stubs.contract import contract_data
from igtools.render.stubs.plan import Api, build_plan
from igtools.render.stubs.server import load_data, select_apis, store_params
from igtools.runtime.conformance import JSON, Contract
from igtools.runtime.fhirapi import AppConfig
from igtools.runtime.store import Store
from igtools.runtime.validation import validate
from igtools.validate.rules import build_rules


def build_contract(
    ig: IG, capabilities: list[str], overlays: list[Any] | None = None
) -> tuple[Contract, list[Api]]:
    """The contract of the server statements named (ids, names or URLs; several: the
    server answers them on one base, as ``igtools serve`` and ``stubs --combine``)."""
    apis, _ = build_plan(ig, overlays)
    if not capabilities:
        known = ", ".join(sorted(a.capability for a in apis if a.mode == "server"))
        raise IgtoolsError(
            f"--capability: name the server CapabilityStatement(s) to check (known: {known})"
        )
    chosen = select_apis(apis, capabilities)
    api = chosen[0] if len(chosen) == 1 else combine_apis(chosen)
    store = Store(params=store_params(ig))
    load_data(store, ig, None)
    reference = (store, AppConfig(others=store.param_defs_by_type()))
    rules = build_rules(ig)[0]
    data = contract_data(ig, api, chosen if len(chosen) > 1 else None, reference, rules)
    store.close()

    def check(resource: JSON, profile: str) -> list[str] | None:
        if profile not in rules:
            return None
        issues = validate(resource, rules[profile], rules, invariants=False)
        return [str(i) for i in issues if i.severity == "error"]

    examples = {f"{e.resource_type}/{e.id}": e.data for e in ig.examples if e.id}
    contract = Contract(
        searches=data.searches,
        dates=data.dates,
        profiles=data.profiles,
        flows=data.flows,
        bundle_profiles=data.bundle_profiles,
        writes=data.writes,
        examples=examples,
        validate=check,
        reads=data.reads,
    )
    return contract, chosen
