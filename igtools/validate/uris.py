"""What the reference validator checks on URI values beyond their R4 regex:

- every ``uri``, ``url`` and ``canonical`` value that starts with ``urn:uuid:`` holds a
  valid UUID, and one that starts with ``urn:oid:`` a valid OID ("UUIDs must be valid",
  "OIDs must be valid"); ``oid:`` and ``uuid:`` are not URI schemes ("URI values cannot
  start with oid:");
- the ``url`` of a canonical resource (ValueSet, StructureDefinition...) is absolute
  ("Canonical URLs must be absolute URLs if they are not fragment references"). Contained
  resources are not judged on this (the reference's rule for them is not settled here).

Nested resources are walked (contained, Parameters), except a Bundle's entries: the
validator judges each entry on its own.
"""

from __future__ import annotations

import re
from typing import Any

from igtools.runtime import fhirjson
from igtools.runtime.validation import Issue
from igtools.validate.walk import typed_primitives

_URI_TYPES = frozenset({"uri", "url", "canonical"})
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S")
# resources whose ``url`` is not a canonical URL (a device's or contract's address)
_NOT_CANONICAL = frozenset({"Contract", "Device", "DeviceDefinition"})


def _value_message(value: str) -> str | None:
    if value.startswith("urn:uuid:"):
        if not _UUID.fullmatch(value[9:]):
            return f"UUIDs must be valid ({value})"
    elif value.startswith("urn:oid:"):
        if not _OID.fullmatch(value[8:]):
            return f"OIDs must be valid ({value})"
    elif value.startswith(("oid:", "uuid:")):
        scheme = value.partition(":")[0]
        return f"URI values cannot start with {scheme}: ({value})"
    return None


class _Walk:
    def __init__(self, profile: str) -> None:
        self.types = fhirjson.table().types
        self.profile = profile
        self.issues: list[Issue] = []

    def add(self, loc: str, message: str) -> None:
        self.issues.append(Issue("error", loc, message, "uri", self.profile))

    def resource(self, res: Any, loc: str, root: bool) -> None:
        rt = res.get("resourceType") if isinstance(res, dict) else None
        if not isinstance(rt, str) or rt not in self.types:
            return
        url = res.get("url")
        canonical = root and "url" in self.types[rt] and rt not in _NOT_CANONICAL
        if canonical and isinstance(url, str) and not (url.startswith("#") or _SCHEME.match(url)):
            self.add(
                f"{loc}.url",
                f"Canonical URLs must be absolute URLs if they are not fragment references ({url})",
            )
        for ptype, _, at, value in typed_primitives(res, rt, loc):
            if ptype in _URI_TYPES and isinstance(value, str):
                msg = _value_message(value)
                if msg is not None:
                    self.add(at, msg)


def uri_issues(data: dict[str, Any]) -> list[Issue]:
    """The URI issues of the resource ``data`` (see the module's docstring)."""
    rt = data.get("resourceType")
    walk = _Walk(f"base {rt}")
    walk.resource(data, str(rt), True)
    return walk.issues
