"""The primitive values of a resource with their FHIR types, for the checks that judge
values by type wherever they sit (URIs, canonicals)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from igtools.runtime import fhirjson


def typed_primitives(
    obj: dict[str, Any], tname: str, loc: str
) -> Iterator[tuple[str, str, str, Any]]:
    """(FHIR type, definition path, location, value) of every primitive value below
    ``obj`` of type ``tname`` at ``loc`` (R4's type tables), nested resources included
    (contained, Parameters) but a Bundle's entries: the validator judges each on its own."""
    types = fhirjson.table().types
    props = types.get(tname, {})
    for key, value in obj.items():
        prop = props.get(key)
        if prop is None:
            continue
        ptype, repeats, kind, choice = prop
        path = f"{tname}.{choice or key}"
        if repeats and isinstance(value, list):
            where = [(f"{loc}.{key}[{i}]", v) for i, v in enumerate(value)]
        else:
            where = [(f"{loc}.{key}", value)]
        for at, v in where:
            if kind == fhirjson.PRIMITIVE:
                yield ptype, path, at, v
            elif kind == fhirjson.RESOURCE:
                rt = v.get("resourceType") if isinstance(v, dict) else None
                if isinstance(rt, str) and rt in types and tname != "Bundle.entry":
                    yield from typed_primitives(v, rt, at)
            elif isinstance(v, dict):
                yield from typed_primitives(v, ptype, at)
