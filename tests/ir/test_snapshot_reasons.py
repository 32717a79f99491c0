"""Why a regenerated snapshot differs from the published one: the classes of differences
(igtools.ir.snapshot.reasons) on small snapshots written here."""

from __future__ import annotations

from typing import Any

from igtools.ir.snapshot.reasons import (
    CORE_BINDING,
    CORE_INVARIANTS,
    DEFINITION_MISSING,
    LINKS,
    OLD_NOT_CARRIED,
    PINS,
    UNEXPLAINED,
    Context,
    reasons,
)
from igtools.ir.snapshot_compare import FACETS, diff_elements, reason_class

Json = dict[str, Any]
EX = "http://example.org/fhir/StructureDefinition/"


def _el(eid: str, **facets: Any) -> Json:
    return {"id": eid, "path": eid.split(":")[0], **facets}


def _why(generated: list[Json], published: list[Json], diff: list[Json] | None = None) -> Any:
    sd = {"url": EX + "p", "differential": {"element": diff or []}}
    known = {EX + "known": {"snapshot": {"element": [_el("Extension")]}}}
    ctx = Context(
        sd,
        {e["id"]: e for e in generated},
        {e["id"]: e for e in published},
        lambda url: known.get(url.split("|")[0]),
    )
    return reasons(diff_elements(generated, published), ctx, FACETS)


def test_identical_snapshots_have_no_reason() -> None:
    els = [_el("Patient"), _el("Patient.name", min=1)]
    assert _why(els, els) == []


def test_versions_links_and_the_publishers_core() -> None:
    gen = [
        _el("Obs", definition="See [Provenance](provenance.html)"),
        _el("Obs.code", binding={"strength": "required", "valueSet": "http://x/vs"}),
        _el("Obs.subject", type=[{"code": "Reference", "targetProfile": ["http://x/P"]}]),
        _el("Obs.value", binding={"strength": "required", "valueSet": "http://x/units"}),
        _el("Obs.period", constraint=[{"key": "ele-1"}]),
    ]
    pub = [
        _el("Obs", definition="See [Provenance](http://hl7.org/fhir/R4/provenance.html)"),
        _el("Obs.code", binding={"strength": "required", "valueSet": "http://x/vs|4.0.1"}),
        _el("Obs.subject", type=[{"code": "Reference", "targetProfile": ["http://x/P|4.0.1"]}]),
        _el("Obs.value", binding={"strength": "extensible", "valueSet": "http://x/units"}),
        _el("Obs.period", constraint=[{"key": "ele-1"}, {"key": "per-1"}]),
    ]
    assert _why(gen, pub) == [LINKS, PINS, CORE_BINDING, CORE_INVARIANTS]


def test_a_binding_the_differential_states_is_not_the_publishers_core() -> None:
    gen = [_el("Obs"), _el("Obs.value", binding={"strength": "required", "valueSet": "u"})]
    pub = [_el("Obs"), _el("Obs.value", binding={"strength": "extensible", "valueSet": "u"})]
    diff = [_el("Obs.value", binding={"strength": "required"})]
    (why,) = _why(gen, pub, diff)
    assert why.startswith(UNEXPLAINED + ": Obs.value: binding")
    assert reason_class(why) == UNEXPLAINED


def test_an_unknown_extension_definition_is_named() -> None:
    ext = [{"code": "Extension", "profile": [EX + "nowhere|1.0"]}]
    gen = [_el("Patient"), _el("Patient.extension:x", type=ext, short="Extension")]
    pub = [_el("Patient"), _el("Patient.extension:x", type=ext, short="Somewhere")]
    assert _why(gen, pub) == [f"{DEFINITION_MISSING}: {EX}nowhere"]


def test_slicing_entry_constraints_not_carried_by_an_older_publisher() -> None:
    gen = [
        _el("Patient"),
        _el("Patient.identifier"),
        _el("Patient.identifier.system", min=1),
        _el("Patient.identifier:a"),
        _el("Patient.identifier:a.system", min=1),
    ]
    pub = [*gen[:4], _el("Patient.identifier:a.system", min=0)]
    assert _why(gen, pub) == [OLD_NOT_CARRIED]


def test_missing_elements_are_unexplained() -> None:
    gen = [_el("Patient")]
    pub = [_el("Patient"), _el("Patient.name")]
    (why,) = _why(gen, pub)
    assert why == f"{UNEXPLAINED}: missing elements: Patient.name"
