"""URI values as the reference validator checks them beyond their R4 regex: a
``urn:uuid:`` holds a valid UUID, a ``urn:oid:`` a valid OID, ``oid:``/``uuid:`` are no
schemes, and a canonical resource's own ``url`` is absolute."""

from __future__ import annotations

from typing import Any

from igtools.validate.uris import uri_issues

GOOD_UUID = "urn:uuid:6a2ee390-978e-42c6-8f88-c17dff3bd8a3"
SHORT_UUID = "urn:uuid:6a2ee390-978e-42c6-8f88-c17dff3bd8a"


def _found(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i.location, i.message) for i in uri_issues(data) if i.severity == "error"]


def test_uuid_and_oid_values() -> None:
    vs = {
        "resourceType": "ValueSet",
        "url": SHORT_UUID,
        "status": "active",
        "identifier": [{"system": "urn:oid:1.2.03", "value": "urn:oid:1.2.03"}],
        "contained": [
            {
                "resourceType": "CodeSystem",
                "url": "urn:uuid:f3b2bd36-199b-4591-b4db-f49db0912b6",
                "status": "active",
                "content": "complete",
            }
        ],
        "compose": {"include": [{"system": "oid:1.2.3"}, {"system": "urn:oid:1.2.250.1.213"}]},
        "extension": [{"url": "http://example.org/x", "valueUri": GOOD_UUID}],
    }
    assert _found(vs) == [
        ("ValueSet.url", f"UUIDs must be valid ({SHORT_UUID})"),
        # Identifier.system is a uri; its value is a string: not judged
        ("ValueSet.identifier[0].system", "OIDs must be valid (urn:oid:1.2.03)"),
        (
            "ValueSet.contained[0].url",
            "UUIDs must be valid (urn:uuid:f3b2bd36-199b-4591-b4db-f49db0912b6)",
        ),
        ("ValueSet.compose.include[0].system", "URI values cannot start with oid: (oid:1.2.3)"),
    ]


def test_canonical_resource_url_is_absolute() -> None:
    vs = {"resourceType": "ValueSet", "url": "ValueSet/vs1", "status": "active"}
    assert _found(vs) == [
        (
            "ValueSet.url",
            "Canonical URLs must be absolute URLs if they are not fragment references "
            "(ValueSet/vs1)",
        )
    ]
    for url in ("http://example.org/fhir/ValueSet/vs1", GOOD_UUID, "urn:oid:1.2.3"):
        assert _found({**vs, "url": url}) == []
    # not canonical URLs: a device's address
    assert _found({"resourceType": "Device", "url": "device-42"}) == []


def test_bundle_entries_left_to_their_own_validation() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": SHORT_UUID, "resource": {"resourceType": "ValueSet", "url": "x"}}],
    }
    assert _found(bundle) == [("Bundle.entry[0].fullUrl", f"UUIDs must be valid ({SHORT_UUID})")]
