"""The CapabilityStatement a server answering several statements on one base serves:
one statement (``kind: instance``) whose server ``rest`` merges the statements per
resource type (interactions, search parameters, includes and operations unioned), the
system-level interactions and operations unioned, ``instantiates`` listing them.
Stdlib only (copied into generated servers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

JSON = dict[str, Any]
FHIR_JSON = "application/fhir+json"


def _union(items: Sequence[Any], key: Callable[[Any], Any]) -> list[Any]:
    """``items`` without repeats by ``key``, first occurrence kept, in order."""
    seen: dict[Any, Any] = {}
    for item in items:
        seen.setdefault(key(item), item)
    return list(seen.values())


def _merge_resource(entries: Sequence[Mapping[str, Any]]) -> JSON:
    """One ``rest.resource`` from the entries several statements give for one type:
    interactions, search parameters, includes and operations unioned; the first profile stays the
    ``profile``, every other one a ``supportedProfile``."""
    out: JSON = {"type": entries[0]["type"]}
    profiles = _union(
        [p for e in entries for p in [e.get("profile"), *(e.get("supportedProfile") or [])] if p],
        str,
    )
    if profiles:
        out["profile"] = profiles[0]
    if profiles[1:]:
        out["supportedProfile"] = profiles[1:]
    for name, key in (
        ("interaction", lambda i: i.get("code")),
        ("searchParam", lambda p: p.get("name")),
        ("searchInclude", str),
        ("searchRevInclude", str),
        ("operation", lambda o: o.get("name")),
    ):
        items = _union([x for e in entries for x in e.get(name) or []], key)
        if items:
            out[name] = items
    for flag in ("conditionalCreate", "conditionalUpdate", "updateCreate", "readHistory"):
        if any(e.get(flag) for e in entries):
            out[flag] = True
    for name in ("versioning", "conditionalRead", "conditionalDelete", "documentation"):
        value = next((e[name] for e in entries if e.get(name)), None)
        if value is not None:
            out[name] = value
    return out


def merge_capabilities(statements: Sequence[Mapping[str, Any]], date: str) -> JSON:
    """One CapabilityStatement (``kind: instance``) for a server answering several
    statements on one base: its server ``rest`` merged per resource type
    (:func:`_merge_resource`), ``instantiates`` listing the statements' canonical URLs."""
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    system: list[Any] = []
    operations: list[Any] = []
    for cap in statements:
        for rest in cap.get("rest") or []:
            if rest.get("mode", "server") != "server":
                continue
            for res in rest.get("resource") or []:
                by_type.setdefault(str(res.get("type")), []).append(res)
            system += rest.get("interaction") or []
            operations += rest.get("operation") or []
    names = [str(c.get("name") or c.get("id")) for c in statements]
    rest_out: JSON = {
        "mode": "server",
        "resource": [_merge_resource(entries) for entries in by_type.values()],
    }
    interactions = _union(system, lambda i: i.get("code"))
    if interactions:
        rest_out["interaction"] = interactions
    if operations:
        rest_out["operation"] = _union(operations, lambda o: o.get("name"))
    formats = _union([f for c in statements for f in c.get("format") or []], str)
    out: JSON = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "igtools",
        "kind": "instance",
        "instantiates": [str(c["url"]) for c in statements if c.get("url")],
        "software": {"name": "igtools reference server"},
        "implementation": {"description": "igtools serving " + " + ".join(names)},
        "fhirVersion": "4.0.1",
        "format": formats or [FHIR_JSON],
        "rest": [rest_out],
    }
    return out
