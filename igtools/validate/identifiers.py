"""What the reference validator checks on every Identifier of an instance, whatever
profile it claims: an Identifier whose ``system`` is ``urn:ietf:rfc:3986`` says that its
``value`` is itself a URI, so the value must be an absolute one (it starts with a
scheme: ``urn:oid:2.16.840.1.113883.6.57``, ``https://...``), as the reference's
``checkIdentifier`` rules ("if identifier.system is 'urn:ietf:rfc:3986', then the
identifier.value must be a full URI (e.g. start with a scheme), not '...'").
"""

from __future__ import annotations

import re
from typing import Any

from igtools.runtime.validation import Issue

RFC_3986 = "urn:ietf:rfc:3986"
# the reference's Utilities.isToken: a letter, then letters, digits, '_', '[' or ']'
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9_\[\]]*")
_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def is_absolute_uri(value: str) -> bool:
    """Does ``value`` start with a scheme (``file:`` only with a path or a drive)? As the
    reference validator's ``isAbsolute``."""
    scheme, colon, tail = value.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme):
        return False
    return scheme != "file" or tail.startswith("/") or ":" in tail


def _hint(value: str) -> str:
    if _OID.fullmatch(value):
        return f" (an OID is written urn:oid:{value})"
    if _UUID.fullmatch(value):
        return f" (a UUID is written urn:uuid:{value.lower()})"
    return ""


def identifier_issues(identifiers: list[tuple[dict[str, Any], str]]) -> list[Issue]:
    """Each Identifier (object, location) with system ``urn:ietf:rfc:3986`` whose value
    is not an absolute URI."""
    out: list[Issue] = []
    for ident, loc in identifiers:
        value = ident.get("value")
        if ident.get("system") != RFC_3986 or not isinstance(value, str):
            continue
        if not is_absolute_uri(value):
            out.append(
                Issue(
                    "error",
                    loc,
                    f"if identifier.system is '{RFC_3986}', then the identifier.value must "
                    f"be a full URI (e.g. start with a scheme), not '{value}'{_hint(value)}",
                    "identifier",
                    "FHIR R4",
                )
            )
    return out
