"""Helpers of the example builder that need no builder state: merging values,
reference target types, attachment digests, slice keys, key order."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any

from igtools.ir.model import Element, Profile
from igtools.validate.rules import compose_pattern

JSON = Any
CORE_SD = "http://hl7.org/fhir/StructureDefinition/"
# the code used when no code of the right system or value set is known
PLACEHOLDER_CODE = "exemple"


def merge(base: JSON, extra: JSON) -> JSON:
    """``base`` with ``extra`` added where ``base`` says nothing."""
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for k, v in extra.items():
            out[k] = merge(out[k], v) if k in out else v
        return out
    return base


def is_resource(code: str) -> bool:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        cls = get_fhir_model_class(code)
    except (KeyError, ValueError):
        return False
    return bool(getattr(cls, "has_resource_base", lambda: False)())


def guess_type(url: str) -> str | None:
    """The resource type a profile URL is about, when the profile is not in the package
    set: the core type for core URLs, else the longest resource type name its last
    segment ends with (``.../FrLocation`` -> Location)."""
    tail = url.partition("|")[0].rstrip("/").rsplit("/", 1)[-1]
    if url.startswith(CORE_SD):
        return tail
    names = _resource_names()
    found = [n for n in names if tail.endswith(n) or tail.lower().endswith(n.lower())]
    return max(found, key=len) if found else None


@cache
def _resource_names() -> tuple[str, ...]:
    from fhir.resources.R4B import fhirtypes

    out = []
    for name in dir(fhirtypes):
        if name.endswith("Type") and is_resource(name[:-4]):
            out.append(name[:-4])
    return tuple(out)


def _has_placeholder(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get("code") == PLACEHOLDER_CODE or any(
            _has_placeholder(v) for v in value.values()
        )
    if isinstance(value, list):
        return any(_has_placeholder(v) for v in value)
    return False


def _attachment_size_and_hash(obj: dict[str, Any]) -> None:
    """An attachment's size and hash as its data has them (the validator checks both)."""
    import base64
    import binascii
    import hashlib

    data = obj.get("data")
    if not isinstance(data, str):
        return
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return
    if "size" in obj:
        obj["size"] = len(raw)
    if "hash" in obj:
        obj["hash"] = base64.b64encode(hashlib.sha1(raw).digest()).decode("ascii")


def _slice_key(s: Element) -> Any:
    """What identifies an item of slice ``s`` (its composed pattern, or its extension url)."""
    for t in s.types:
        if t.code == "Extension" and t.profiles:
            return {"url": t.profiles[0].partition("|")[0]}
    return compose_pattern(s)


def _value_regexes(el: Element) -> list[str]:
    out = []
    for inv in el.constraints:
        m = re.fullmatch(r"\s*value\.matches\('(.+)'\)\s*", inv.expression or "")
        if m and inv.severity == "error":
            out.append(m[1].replace("\\\\", "\\"))
    value = el.child("value")
    if value is not None:
        for inv in value.constraints:
            m = re.fullmatch(r"\s*\$this\.matches\('(.+)'\)\s*", inv.expression or "")
            if m:
                out.append(m[1])
    return out


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def _ordered(res: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """Keys in FHIR order (resourceType, id, meta, then the snapshot's order)."""
    order = ["resourceType", "id", "meta", "implicitRules", "language", "text", "contained"]
    for el in profile.root.children:
        for n in el.json_names():
            if n not in order:
                order.append(n)
    known = {k: res[k] for k in order if k in res}
    known.update({k: v for k, v in res.items() if k not in known})
    return known


def slice_matcher(sliced: Element, s: Element) -> Any:
    """A test telling whether an item falls in slice ``s`` by the slicing's value and
    pattern discriminators (a fixed or pattern value, or as the validator does, the
    codes of a required binding); None when a discriminator is of another kind or ``s``
    gives it nothing to compare."""
    from igtools.runtime.validation import contains
    from igtools.validate.rules import _navigate

    if sliced.slicing is None or not sliced.slicing.discriminators:
        return None
    tests: list[Any] = []
    for d in sliced.slicing.discriminators:
        if d.type not in ("value", "pattern") or "(" in d.path:
            return None
        if d.path == "url" or d.path.endswith(".url"):
            return None  # extensions: told apart by their url (see _slice_key)
        target = _navigate(s, d.path)
        if target is None:
            return None
        parts = [p for p in d.path.split(".") if p not in ("$this", "")]
        b = target.binding
        if target.fixed is None and target.pattern is None and b and b.strength == "required":
            if not b.codes or not b.complete:
                return None  # membership cannot be told
            codes = {(c.system, c.code) for c in b.codes}
            tests.append(lambda item, parts=parts, codes=codes: _coded_in(item, parts, codes))
            continue
        value = compose_pattern(target)
        if value is None:
            return None
        key = value
        for p in reversed(parts):
            key = {p: key}
        tests.append(lambda item, key=key: contains(item, key))
    return lambda item: all(t(item) for t in tests)


def _coded_in(item: Any, parts: list[str], codes: set[tuple[str | None, str]]) -> bool:
    node = item
    for p in parts:
        node = node.get(p) if isinstance(node, dict) else None
    values = node if isinstance(node, list) else [node]
    for v in values:
        if isinstance(v, str) and any(code == v for _, code in codes):
            return True
        if isinstance(v, dict):
            codings = v.get("coding") if "coding" in v else [v]
            for c in codings or []:
                if isinstance(c, dict) and (c.get("system"), c.get("code")) in codes:
                    return True
    return False


def also_matches(sliced: Element, s: Element, item: Any) -> list[str]:
    """The other slices of ``sliced`` whose discriminators ``item`` (built for slice
    ``s``) also satisfies: an item matching two slices is an error."""
    out = []
    for other in sliced.slices:
        if other is s or other.prohibited:
            continue
        test = slice_matcher(sliced, other)
        if test is not None and test(item):
            out.append(str(other.slice_name))
    return out


def _type_slice(el: Element, json_name: str) -> Element | None:
    """The type slice of choice element ``el`` for its JSON name (valueQuantity)."""
    if not el.is_choice:
        return None
    for s in el.slices:
        if len(s.types) == 1 and not s.prohibited:
            code = s.types[0].code
            if el.name[:-3] + code[0].upper() + code[1:] == json_name:
                return s
    return None
