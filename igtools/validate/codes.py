"""What the reference validator checks on every coding of an instance, bound or not: a
code of a code system the package set holds *complete* must be one of its codes
("Unknown code 'X' in the CodeSystem 'Y'"). Code systems that are not in the package set,
or only in part (``content`` fragment, example, not-present), are not judged: that needs
a terminology server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from igtools.ir.codesystems import CodeSystemIndex
from igtools.runtime.validation import Issue

JSON = Any
CodeSystemLookup = Callable[[str], CodeSystemIndex | None]

# elements of type Coding that are not in a ``coding`` array
_CODING_KEYS = frozenset({"valueCoding", "tag", "security", "class"})


def _codings(value: JSON, loc: str, skip_entries: bool) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, Coding) of each coding below ``value``; Bundle entry resources are left
    to their own validation."""
    if isinstance(value, dict):
        for key, v in value.items():
            if skip_entries and key == "entry" and isinstance(v, list):
                for i, entry in enumerate(v):
                    if isinstance(entry, dict):
                        rest = {k: x for k, x in entry.items() if k != "resource"}
                        yield from _codings(rest, f"{loc}.entry[{i}]", False)
                continue
            child = f"{loc}.{key}"
            if key == "coding" or key in _CODING_KEYS:
                items = v if isinstance(v, list) else [v]
                for i, c in enumerate(items):
                    if isinstance(c, dict) and "system" in c and "code" in c:
                        yield (f"{child}[{i}]" if isinstance(v, list) else child), c
            yield from _codings(v, child, False)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _codings(v, f"{loc}[{i}]", False)


def coding_issues(data: JSON, lookup: CodeSystemLookup) -> list[Issue]:
    """An error for each coding whose code its (complete, loaded) code system lacks."""
    rt = str(data.get("resourceType")) if isinstance(data, dict) else "Resource"
    out: list[Issue] = []
    for loc, coding in _codings(data, rt, rt == "Bundle"):
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(system, str) or not isinstance(code, str):
            continue
        version = coding.get("version")
        cs = None
        if isinstance(version, str) and version:
            cs = lookup(f"{system}|{version}")
        cs = cs or lookup(system)
        if cs is None or cs.content != "complete" or not cs.codes or cs.has(code):
            continue
        shown = f" version '{cs.version}'" if cs.version else ""
        out.append(
            Issue(
                "error",
                f"{loc}.code",
                f"Unknown code '{code}' in the CodeSystem '{system}'{shown}",
                "code-system",
                system,
            )
        )
    return out
