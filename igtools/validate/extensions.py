"""What the reference validator checks on every extension and attachment of an
instance, whatever profile it claims:

- each extension whose definition is in the package set is validated against it (its
  value type, its sub-extensions and their cardinalities, its invariants), and a
  sub-extension with a relative url that the definition does not define is an error;
- an Attachment with ``data`` has a ``size`` equal to the decoded length and a
  ``hash`` equal to the base64 SHA-1 of the decoded data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from igtools.runtime.validation import Issue, Registry, Rules, validate_value

JSON = Any
ExtensionLookup = Callable[[str], Rules | None]


def _walk(value: JSON, loc: str, skip_entries: bool) -> Iterator[tuple[str, str, JSON]]:
    """(kind, location, object) of each extension and attachment-like object below
    ``value``; Bundle entry resources are left to their own validation."""
    if isinstance(value, dict):
        for key, v in value.items():
            if skip_entries and key == "entry" and isinstance(v, list):
                for i, entry in enumerate(v):
                    if isinstance(entry, dict):
                        rest = {k: x for k, x in entry.items() if k != "resource"}
                        yield from _walk(rest, f"{loc}.entry[{i}]", False)
                continue
            child = f"{loc}.{key}"
            if key in ("extension", "modifierExtension") and isinstance(v, list):
                for i, ext in enumerate(v):
                    if isinstance(ext, dict):
                        yield "extension", f"{child}[{i}]", ext
            if key == "data" and isinstance(v, str) and ("size" in value or "hash" in value):
                yield "attachment", loc, value
            yield from _walk(v, child, False)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{loc}[{i}]", False)


def _sub_extension_urls(rules: Rules) -> set[str] | None:
    """The urls of the sub-extensions a definition defines (None: not known)."""
    for child in rules.root.children:
        if child.names == ("extension",):
            urls = set()
            for s in child.slices:
                for m in s.matches:
                    if m.path == "url" and isinstance(m.expected, str):
                        urls.add(m.expected)
            return urls
    return None


def extension_issues(
    data: JSON,
    lookup: ExtensionLookup,
    registry: Registry,
    invariants: bool = True,
) -> list[Issue]:
    rt = str(data.get("resourceType")) if isinstance(data, dict) else "Resource"
    out: list[Issue] = []
    for kind, loc, obj in _walk(data, rt, rt == "Bundle"):
        if kind == "attachment":
            out.extend(_attachment_issues(obj, loc))
            continue
        url = obj.get("url")
        if not isinstance(url, str) or ":" not in url:
            continue  # a sub-extension: judged with its parent's definition
        rules = lookup(url)
        if rules is None:
            continue
        out.extend(validate_value(obj, rules, loc, data, registry, invariants))
        known = _sub_extension_urls(rules)
        for i, sub in enumerate(obj.get("extension") or []):
            sub_url = sub.get("url") if isinstance(sub, dict) else None
            relative = isinstance(sub_url, str) and ":" not in sub_url
            if relative and known is not None and sub_url not in known:
                out.append(
                    Issue(
                        "error",
                        f"{loc}.extension[{i}]",
                        f"Sub-extension url '{sub_url}' is not defined by the Extension {url}",
                        "extension",
                        rules.name,
                    )
                )
    return out


def _attachment_issues(att: dict[str, Any], loc: str) -> list[Issue]:
    try:
        raw = base64.b64decode(att["data"], validate=False)
    except (binascii.Error, ValueError):
        return [Issue("error", f"{loc}.data", "not valid base64", "attachment", "FHIR R4")]
    out = []
    size = att.get("size")
    if isinstance(size, int) and not isinstance(size, bool) and size != len(raw):
        out.append(
            Issue(
                "error",
                f"{loc}.size",
                f"Stated Attachment Size {size:,} does not match actual attachment size "
                f"{len(raw):,}",
                "attachment",
                "FHIR R4",
            )
        )
    stated = att.get("hash")
    if isinstance(stated, str):
        actual = base64.b64encode(hashlib.sha1(raw).digest()).decode("ascii")
        if stated != actual:
            out.append(
                Issue(
                    "error",
                    f"{loc}.hash",
                    f"The hash of the data did not match the data (stated: '{stated}', "
                    f"actual: '{actual}')",
                    "attachment",
                    "FHIR R4",
                )
            )
    return out
