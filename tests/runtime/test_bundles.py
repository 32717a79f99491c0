"""The Bundle rules of the reference validator (fullUrl), on hand-written Bundles."""

from __future__ import annotations

from typing import Any

import pytest

from igtools.runtime.bundles import bundle_issues


def _bundle(btype: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": btype, "entry": list(entries)}


PATIENT = {"resourceType": "Patient", "id": "p1"}
OBS = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "code": {"text": "x"},
    "subject": {"reference": "Patient/p1"},
    "performer": [{"reference": "#c1"}, {"reference": "urn:uuid:0f0e"}],
}


def test_fullurl_required_outside_transactions_and_batches() -> None:
    issues = bundle_issues(_bundle("collection", {"resource": PATIENT}))
    assert [(loc, msg[:30]) for loc, msg, _ in issues] == [
        ("Bundle.entry[0]", "Except for transactions and ba")
    ]
    for btype in ("transaction", "batch", "transaction-response", "batch-response"):
        assert bundle_issues(_bundle(btype, {"resource": PATIENT})) == []


def test_relative_references_in_an_entry_without_fullurl() -> None:
    issues = bundle_issues(_bundle("searchset", {"resource": OBS}))
    locs = [(loc, msg) for loc, msg, _ in issues]
    assert ("Bundle.entry[0]", "Bundle entry missing fullUrl") in locs
    relative = [loc for loc, msg in locs if msg.startswith("Relative Reference appears")]
    # only Patient/p1: #c1 (contained) and urn:uuid: are not relative
    assert relative == ["Bundle.entry[0].resource.subject.reference"]


def test_entry_without_relative_reference_is_reported_once() -> None:
    issues = bundle_issues(_bundle("searchset", {"resource": PATIENT}))
    assert len(issues) == 1


@pytest.mark.parametrize(
    ("full", "problem"),
    [
        ("http://example.org/fhir/Patient/p1", None),
        ("urn:uuid:2b0b6a4c-8b8a-4f5e-9d1a-3c2b1a0f9e8d", None),
        ("Patient/p1", "must be an absolute URL"),
        ("http://example.org/fhir/Patient/p2", "must end with the resource type and id"),
        ("http://example.org/fhir/Practitioner/p1", "must end with the resource type and id"),
    ],
)
def test_fullurl_forms(full: str, problem: str | None) -> None:
    issues = bundle_issues(_bundle("collection", {"fullUrl": full, "resource": PATIENT}))
    if problem is None:
        assert issues == []
    else:
        assert len(issues) == 1 and problem in issues[0][1]
        assert issues[0][0] == "Bundle.entry[0].fullUrl"


def test_restful_fullurl_needs_an_id() -> None:
    issues = bundle_issues(
        _bundle(
            "collection",
            {"fullUrl": "http://x.org/Patient/p1", "resource": {"resourceType": "Patient"}},
        )
    )
    assert len(issues) == 1 and "must have an id" in issues[0][1]


def test_not_a_bundle_shape() -> None:
    assert bundle_issues([]) == []
    assert bundle_issues({"resourceType": "Bundle", "type": "collection"}) == []


def test_references_resolved_among_the_entries() -> None:
    from igtools.runtime.bundles import bundle_resolver
    from igtools.runtime.validation import El, Rules, validate

    bundle = _bundle(
        "collection",
        {"fullUrl": "urn:uuid:0f0e", "resource": {"resourceType": "Group", "id": "g"}},
        {"fullUrl": "http://example.org/fhir/Patient/p1", "resource": PATIENT},
    )
    resolve = bundle_resolver(bundle)
    assert resolve("urn:uuid:0f0e") == "Group"
    assert resolve("http://example.org/fhir/Patient/p1") == "Patient"
    assert resolve("Patient/p1") == "Patient"  # relative, against the RESTful fullUrl
    assert resolve("Patient/p2") is None
    assert resolve("urn:uuid:ffff") is None

    subject = El(path="Observation.subject", names=("subject",), targets=("Patient",))
    rules = Rules("http://x/o", "O", "Observation", El("Observation", children=(subject,)))
    obs: dict[str, Any] = {"resourceType": "Observation", "subject": {"reference": "urn:uuid:0f0e"}}
    # a urn:uuid reference names no type: only the Bundle tells it (a Group here)
    assert validate(obs, rules) == []
    issues = validate(obs, rules, resolve=resolve)
    assert [str(i) for i in issues] == [
        "Observation.subject.reference: reference to Group not allowed (allowed: Patient) "
        "(reference; O)"
    ]
    obs["subject"]["reference"] = "urn:uuid:ffff"  # not in the Bundle: nothing to say here
    assert validate(obs, rules, resolve=resolve) == []


def test_invariants_of_an_entry_resolve_in_its_bundle() -> None:
    """An invariant with resolve(), checked on a Bundle entry validated on its own, sees
    the entries of the Bundle around it."""
    from igtools.runtime.validation import El, Inv, Rules, validate

    inv = Inv("x-1", "error", "subject is a Patient of the Bundle", "subject.resolve() is Patient")
    rules = Rules("http://x/o", "O", "Observation", El("Observation", invariants=(inv,)))
    obs: dict[str, Any] = {"resourceType": "Observation", "subject": {"reference": "urn:uuid:p"}}
    bundle = _bundle(
        "collection",
        {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "id": "p"}},
        {"fullUrl": "urn:uuid:o", "resource": obs},
    )
    assert validate(obs, rules, bundle=bundle) == []
    bundle["entry"][0]["resource"] = {"resourceType": "Group", "id": "p"}
    issues = validate(obs, rules, bundle=bundle)
    assert [i.rule for i in issues] == ["invariant:x-1"]
    # without the Bundle, resolve() finds nothing: no verdict
    assert validate(obs, rules) == []


def _searchset(self_url: str | None, *entries: tuple[str | None, dict[str, Any]]) -> Any:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    if self_url is not None:
        bundle["link"] = [{"relation": "self", "url": self_url}]
    for i, (mode, res) in enumerate(entries):
        entry: dict[str, Any] = {"fullUrl": f"urn:uuid:00000000-0000-0000-0000-00000000000{i}"}
        entry["resource"] = res
        if mode is not None:
            entry["search"] = {"mode": mode}
        bundle["entry"].append(entry)
    return bundle


def test_searchset_entries_by_their_search_mode() -> None:
    patient = {"resourceType": "Patient", "id": "p"}
    org = {"resourceType": "Organization", "id": "o"}
    oo = {"resourceType": "OperationOutcome", "issue": []}
    good = _searchset(
        "http://x/fhir/Patient?name=a", ("match", patient), ("include", org), ("outcome", oo)
    )
    assert bundle_issues(good) == []
    bad = _searchset(
        "http://x/fhir/Patient?name=a",
        ("match", {"resourceType": "Patient"}),
        ("match", org),
        ("include", {"resourceType": "Practitioner"}),
        ("outcome", patient),
    )
    assert [(loc, msg) for loc, msg, _ in bundle_issues(bad)] == [
        ("Bundle.entry[0].resource", "Search results must have ids"),
        (
            "Bundle.entry[1].resource",
            "This is not a matching resource type for the specified search "
            "(Organization expecting [Patient])",
        ),
        ("Bundle.entry[2].resource", "Search results must have ids"),
        ("Bundle.entry[3].resource", "This is not an OperationOutcome (Patient)"),
    ]
    # the types of a search across types come from _type; without a mode: not judged
    typed = _searchset("base?_type=Observation,DocumentReference", ("match", patient))
    assert "Patient expecting [Observation, DocumentReference]" in bundle_issues(typed)[0][1]
    assert bundle_issues(_searchset("http://x/Patient", (None, org))) == []
    assert bundle_issues(_searchset(None, ("match", org))) == []
    # malformed search and link elements are the JSON rules' business, not a crash here
    odd = _searchset("http://x/Patient", ("match", patient))
    odd["entry"][0]["search"] = [{"mode": "match"}]
    odd["link"] = {"relation": "self"}
    assert bundle_issues(odd) == []
