"""What the reference validator checks on canonical references: a ``canonical`` value
whose element names target types (its base definition's ``targetProfile``:
``QuestionnaireResponse.questionnaire`` -> Questionnaire) and that resolves in the
package set must resolve to a resource of one of those types ("Canonical URL 'X' refers
to a resource that has the wrong type. Found ValueSet expecting one of
[Questionnaire]"). A canonical the package set does not hold is not judged here.

The target types come from the StructureDefinitions of hl7.fhir.r4.core in the package
set (each type's read once per index, on first use). Nested resources are walked
(contained, Parameters), except a Bundle's entries: the validator judges each entry on
its own.
"""

from __future__ import annotations

import weakref
from typing import Any

from igtools.packages.index import ResourceIndex, split_canonical
from igtools.runtime import fhirjson
from igtools.runtime.validation import Issue
from igtools.validate.walk import typed_primitives

CORE_SD = "http://hl7.org/fhir/StructureDefinition/"
# targets that accept any resource
_ANY = frozenset({"Resource", "DomainResource", "MetadataResource", "CanonicalResource"})

# per index: the type (``Questionnaire``) -> its element paths -> target types
_TARGETS: weakref.WeakKeyDictionary[ResourceIndex, dict[str, dict[str, tuple[str, ...]]]]
_TARGETS = weakref.WeakKeyDictionary()


def _targets(index: ResourceIndex, type_name: str) -> dict[str, tuple[str, ...]]:
    """Element path (``Questionnaire.item.answerValueSet``) -> the resource types its
    canonical may name, from the core's base definition of ``type_name`` (read on first
    use)."""
    by_type = _TARGETS.setdefault(index, {})
    found = by_type.get(type_name)
    if found is None:
        found = {}
        entry = index.resolve(CORE_SD + type_name)
        data = entry.data if entry is not None else {}
        if data.get("derivation") != "constraint":
            for el in (data.get("snapshot") or {}).get("element") or []:
                path = el.get("path") if isinstance(el, dict) else None
                if not isinstance(path, str):
                    continue
                names = [
                    str(p).partition("|")[0].rsplit("/", 1)[-1]
                    for t in el.get("type") or []
                    if isinstance(t, dict) and t.get("code") == "canonical"
                    for p in t.get("targetProfile") or []
                ]
                if names and not _ANY.intersection(names):
                    found[path] = tuple(names)
        by_type[type_name] = found
    return found


class _Walk:
    def __init__(self, index: ResourceIndex, profile: str) -> None:
        self.index = index
        self.profile = profile
        self.issues: list[Issue] = []

    def check(self, value: str, path: str, loc: str) -> None:
        targets = _targets(self.index, path.partition(".")[0]).get(path)
        if targets is None or value.startswith("#"):
            return
        url, _ = split_canonical(value)
        kinds = {e.resource_type for e in self.index.all_versions(url)}
        if not kinds or kinds.intersection(targets):
            return
        self.issues.append(
            Issue(
                "error",
                loc,
                f"Canonical URL '{value}' refers to a resource that has the wrong type. "
                f"Found {', '.join(sorted(kinds))} expecting one of [{', '.join(targets)}]",
                "canonical",
                self.profile,
            )
        )


def canonical_issues(data: dict[str, Any], index: ResourceIndex) -> list[Issue]:
    """The canonical target type issues of the resource ``data``."""
    rt = data.get("resourceType")
    if not isinstance(rt, str) or not fhirjson.is_resource_type(rt):
        return []
    walk = _Walk(index, f"base {rt}")
    for ptype, path, loc, value in typed_primitives(data, rt, rt):
        if ptype == "canonical" and isinstance(value, str):
            walk.check(value, path, loc)
    return walk.issues
