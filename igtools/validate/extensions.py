"""What the reference validator checks on every extension and attachment of an
instance, whatever profile it claims:

- each extension whose definition is in the package set is validated against it (its
  value type, its sub-extensions and their cardinalities, its invariants), and a
  sub-extension with a relative url that the definition does not define is an error;
- a modifier extension (its definition says ``isModifier``) sits in a
  ``modifierExtension``, any other one in an ``extension``;
- an extension is used where its definition's contexts and context invariants allow
  it (:mod:`igtools.validate.contexts`);
- an Attachment with ``data`` has a ``size`` equal to the decoded length and a
  ``hash`` equal to the base64 SHA-1 of the decoded data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from typing import Any

from igtools.runtime.fhirpath import Hooks
from igtools.runtime.validation import Issue, Registry, Rules, validate_value
from igtools.validate.contexts import ExtensionContext, judge

JSON = Any
ExtensionLookup = Callable[[str], Rules | None]


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
    extensions: list[tuple[dict[str, Any], str]],
    data: JSON,
    lookup: ExtensionLookup,
    registry: Registry,
    invariants: bool = True,
    is_modifier: Callable[[str], bool | None] | None = None,
    contexts: Callable[[str], ExtensionContext | None] | None = None,
) -> list[Issue]:
    """Each extension (object, location) of ``data`` against its definition."""
    out: list[Issue] = []
    member_of = getattr(registry, "member_of", None)
    hooks = Hooks(member_of=member_of) if callable(member_of) else None
    for obj, loc in extensions:
        url = obj.get("url")
        if not isinstance(url, str) or ":" not in url:
            continue  # a sub-extension: judged with its parent's definition
        rules = lookup(url)
        if rules is None:
            continue
        ctx = contexts(url) if contexts is not None else None
        if ctx is not None:
            ok, why = judge(ctx, loc, data, hooks)
            if ok is False:
                out.append(
                    Issue(
                        "error",
                        loc,
                        f"The extension {url} is not allowed to be used at this point ({why})",
                        "extension",
                        rules.name,
                    )
                )
        modifier = is_modifier(url) if is_modifier is not None else None
        placed = loc.rpartition(".")[2].startswith("modifierExtension")
        if modifier is not None and modifier != placed:
            labelled = "labelled" if placed else "not labelled"
            underlying = "is not" if placed else "is"
            out.append(
                Issue(
                    "error",
                    loc,
                    f"Extension modifier mismatch: the extension element is {labelled} as a "
                    f"modifier, but the underlying extension {underlying}",
                    "extension",
                    rules.name,
                )
            )
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


def attachment_issues(attachments: list[tuple[dict[str, Any], str]]) -> list[Issue]:
    """Each Attachment (object, location) with ``data``: its ``size`` and ``hash``."""
    out: list[Issue] = []
    for att, loc in attachments:
        if isinstance(att.get("data"), str) and ("size" in att or "hash" in att):
            out.extend(_attachment_issues(att, loc))
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
