"""StructureDefinition snapshot -> :class:`~igtools.ir.model.Profile` (the element tree)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from igtools.errors import IgtoolsError
from igtools.ir.model import (
    SYSTEM_TYPES,
    Binding,
    Discriminator,
    Element,
    Extension,
    Invariant,
    Profile,
    Slicing,
    TypeRef,
)

FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"


class SnapshotError(IgtoolsError):
    """A StructureDefinition cannot be turned into IR (no snapshot, broken tree)."""


def _max(value: Any) -> int | None:
    if value in (None, "*"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _prefixed(raw: dict[str, Any], prefix: str) -> tuple[str, Any] | None:
    for key, value in raw.items():
        if key.startswith(prefix) and len(key) > len(prefix) and key[len(prefix)].isupper():
            return key, value
    return None


def _type_code(t: dict[str, Any]) -> str:
    code = str(t.get("code", ""))
    if code in SYSTEM_TYPES:
        for ext in t.get("extension") or []:
            if isinstance(ext, dict) and ext.get("url") == FHIR_TYPE_EXT:
                value = ext.get("valueUrl") or ext.get("valueUri")
                if isinstance(value, str):
                    return value
        return SYSTEM_TYPES[code]
    return code


def _types(raw: dict[str, Any]) -> list[TypeRef]:
    out = []
    for t in raw.get("type") or []:
        if not isinstance(t, dict) or not t.get("code"):
            continue
        out.append(
            TypeRef(
                code=_type_code(t),
                profiles=[p for p in t.get("profile") or [] if isinstance(p, str)],
                target_profiles=[p for p in t.get("targetProfile") or [] if isinstance(p, str)],
            )
        )
    return out


def _slicing(raw: dict[str, Any]) -> Slicing | None:
    s = raw.get("slicing")
    if not isinstance(s, dict):
        return None
    return Slicing(
        discriminators=[
            Discriminator(str(d.get("type")), str(d.get("path")))
            for d in s.get("discriminator") or []
            if isinstance(d, dict)
        ],
        rules=str(s.get("rules") or "open"),
        ordered=bool(s.get("ordered")),
        description=s.get("description"),
    )


def _constraints(raw: dict[str, Any]) -> list[Invariant]:
    out = []
    for c in raw.get("constraint") or []:
        if not isinstance(c, dict) or not c.get("key"):
            continue
        out.append(
            Invariant(
                key=str(c["key"]),
                severity=str(c.get("severity") or "error"),
                human=str(c.get("human") or ""),
                expression=c.get("expression"),
                source=c.get("source"),
                xpath=c.get("xpath"),
            )
        )
    return out


def parse_element(raw: dict[str, Any], diff_ids: set[str]) -> Element:
    path = str(raw.get("path") or "")
    eid = str(raw.get("id") or path)
    base = raw.get("base") if isinstance(raw.get("base"), dict) else {}
    assert isinstance(base, dict)
    max_ = _max(raw.get("max"))
    binding = None
    b = raw.get("binding")
    if isinstance(b, dict) and b.get("strength"):
        binding = Binding(
            strength=str(b["strength"]),
            value_set=b.get("valueSet") if isinstance(b.get("valueSet"), str) else None,
            description=b.get("description"),
        )
    max_length = raw.get("maxLength")
    return Element(
        id=eid,
        path=path,
        min=int(raw.get("min") or 0),
        max=max_,
        base_path=str(base.get("path") or path),
        base_min=int(base.get("min") or 0),
        base_max=_max(base.get("max")) if "max" in base else max_,
        types=_types(raw),
        slice_name=raw.get("sliceName"),
        short=raw.get("short"),
        definition=raw.get("definition"),
        comment=raw.get("comment"),
        must_support=bool(raw.get("mustSupport")),
        is_modifier=bool(raw.get("isModifier")),
        is_summary=bool(raw.get("isSummary")),
        fixed=_prefixed(raw, "fixed"),
        pattern=_prefixed(raw, "pattern"),
        default=_prefixed(raw, "defaultValue"),
        binding=binding,
        constraints=_constraints(raw),
        content_reference=raw.get("contentReference"),
        max_length=max_length if isinstance(max_length, int) else None,
        min_value=_prefixed(raw, "minValue"),
        max_value=_prefixed(raw, "maxValue"),
        slicing=_slicing(raw),
        in_differential=eid in diff_ids,
    )


def _parent_id(eid: str) -> tuple[str | None, bool]:
    """(id of the parent element, whether ``eid`` is a slice of it)."""
    head, dot, last = eid.rpartition(".")
    if ":" in last:
        name, _, slice_name = last.partition(":")
        if "/" in slice_name:  # re-slice: the parent is the slice being re-sliced
            return f"{head}{dot}{name}:{slice_name.rsplit('/', 1)[0]}", True
        return f"{head}{dot}{name}", True
    return (head or None), False


def build_tree(elements: list[Any], diff_ids: set[str], where: str) -> Element:
    """Place the snapshot's elements in a tree of children and slices."""
    if not elements or not isinstance(elements[0], dict):
        raise SnapshotError(f"{where}: empty snapshot")
    root = parse_element(elements[0], diff_ids)
    by_id: dict[str, Element] = {root.id: root}
    for raw in elements[1:]:
        if not isinstance(raw, dict):
            continue
        if "id" not in raw:
            raise SnapshotError(
                f"{where}: snapshot element {raw.get('path')!r} has no id "
                "(pre-R4 snapshot: regenerate it)"
            )
        el = parse_element(raw, diff_ids)
        parent_id, is_slice = _parent_id(el.id)
        parent = by_id.get(parent_id) if parent_id else None
        if parent is None:
            raise SnapshotError(
                f"{where}: element {el.id!r} has no parent {parent_id!r} in the snapshot"
            )
        (parent.slices if is_slice else parent.children).append(el)
        by_id[el.id] = el
    return root


ExtensionLookup = Callable[[str], Extension | None]


def build_profile(sd: dict[str, Any], package: str, extensions: ExtensionLookup) -> Profile:
    """Build the IR of one StructureDefinition from its snapshot."""
    where = f"StructureDefinition {sd.get('url') or sd.get('id')}"
    snapshot = sd.get("snapshot")
    elements = snapshot.get("element") if isinstance(snapshot, dict) else None
    if not isinstance(elements, list) or not elements:
        raise SnapshotError(
            f"{where} has no snapshot and none could be computed from its differential "
            "(its base is not loaded, or see the warning about it): igtools needs one"
        )
    diff = sd.get("differential")
    diff_elements = diff.get("element") if isinstance(diff, dict) else None
    diff_ids = {
        str(e.get("id") or e.get("path")) for e in diff_elements or [] if isinstance(e, dict)
    }
    root = build_tree(elements, diff_ids, where)
    profile = Profile(
        url=str(sd.get("url")),
        version=sd.get("version"),
        name=str(sd.get("name") or sd.get("id")),
        title=sd.get("title"),
        id=str(sd.get("id")),
        package=package,
        type=str(sd.get("type")),
        kind=str(sd.get("kind")),
        derivation=sd.get("derivation"),
        base_definition=sd.get("baseDefinition"),
        status=sd.get("status"),
        description=sd.get("description"),
        abstract=bool(sd.get("abstract")),
        root=root,
        source=sd,
    )
    if profile.is_extension:
        profile.extension = extension_from_profile(profile, sd)
    for el in profile.elements():
        for t in el.types:
            if t.code == "Extension" and t.profiles and el.extension is None:
                url = t.profiles[0]
                ext = profile.extension if url == profile.url else extensions(url)
                if ext is None:
                    profile.warnings.append(
                        f"{profile.name}: {el.id}: extension definition {url} not found "
                        "(missing dependency?): its value stays untyped"
                    )
                el.extension = ext
    return profile


def _ext_value(el: Element) -> tuple[list[TypeRef], Element | None]:
    value = el.child("value[x]")
    if value is None or value.prohibited:
        return [], None
    return list(value.types), value


def _nested(el: Element) -> list[Extension]:
    """Nested extensions of a complex extension: the slices of its ``extension``."""
    ext_el = el.child("extension")
    out: list[Extension] = []
    if ext_el is None:
        return out
    for s in ext_el.slices:
        if s.prohibited:
            continue
        url = None
        url_el = s.child("url")
        if url_el is not None:
            for fp in (url_el.fixed, url_el.pattern):
                if fp is not None and isinstance(fp[1], str):
                    url = fp[1]
        value_types, value_el = _ext_value(s)
        out.append(
            Extension(
                url=url or str(s.slice_name),
                name=str(s.slice_name),
                title=s.short,
                contexts=[],
                value_types=value_types,
                value_element=value_el,
                children=_nested(s),
                min=s.min,
                max=s.max,
                short=s.short,
                definition=s.definition,
            )
        )
    return out


def extension_from_profile(profile: Profile, sd: dict[str, Any]) -> Extension:
    value_types, value_el = _ext_value(profile.root)
    contexts = [
        str(c["expression"])
        for c in sd.get("context") or []
        if isinstance(c, dict) and c.get("expression")
    ]
    return Extension(
        url=profile.url,
        name=profile.name,
        title=profile.title,
        contexts=contexts,
        value_types=value_types,
        value_element=value_el,
        children=_nested(profile.root),
        min=profile.root.min,
        max=profile.root.max,
        short=profile.root.short,
        definition=profile.description or profile.root.definition,
        package=profile.package,
    )
