"""What the reference validator checks on a CapabilityStatement beyond its definition:
each ``rest.resource.searchParam`` whose ``definition`` names a SearchParameter the
package set holds declares that parameter's ``type`` ("Type mismatch - SearchParameter
'url' type is token, but type here is date"). A definition the package set does not
hold is not judged (the reference validator does not either: it cannot know the type).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from igtools.packages.index import ResourceIndex
from igtools.runtime.validation import Issue

# a canonical URL (``url`` or ``url|version``) -> the resource it names, None if unknown
CanonicalLookup = Callable[[str], dict[str, Any] | None]


def index_lookup(index: ResourceIndex) -> CanonicalLookup:
    """The conformance resources of a package set's index, by canonical URL."""

    def lookup(ref: str) -> dict[str, Any] | None:
        entry = index.resolve(ref)
        return entry.data if entry is not None else None

    return lookup


def _items(obj: Any, name: str) -> list[tuple[int, dict[str, Any]]]:
    value = obj.get(name) if isinstance(obj, dict) else None
    if not isinstance(value, list):
        return []
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]


def search_param_issues(data: dict[str, Any], lookup: CanonicalLookup) -> list[Issue]:
    """An error for each ``rest[i].resource[j].searchParam[k]`` of the CapabilityStatement
    ``data`` whose ``type`` differs from the type of the SearchParameter its
    ``definition`` names."""
    out: list[Issue] = []
    rt = str(data.get("resourceType"))
    for i, rest in _items(data, "rest"):
        for j, resource in _items(rest, "resource"):
            for k, param in _items(resource, "searchParam"):
                ref, declared = param.get("definition"), param.get("type")
                if not isinstance(ref, str) or not ref or not isinstance(declared, str):
                    continue
                found = lookup(ref)
                if not isinstance(found, dict) or found.get("resourceType") != "SearchParameter":
                    continue
                defined = found.get("type")
                if not isinstance(defined, str) or defined == declared:
                    continue
                url = found.get("url") if isinstance(found.get("url"), str) else ref
                out.append(
                    Issue(
                        "error",
                        f"{rt}.rest[{i}].resource[{j}].searchParam[{k}]",
                        f"Type mismatch - SearchParameter '{url}' type is {defined}, "
                        f"but type here is {declared}",
                        "capability",
                        f"base {rt}",
                    )
                )
    return out
