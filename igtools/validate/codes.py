"""What the reference validator checks on every coding of an instance, bound or not: a
code of a code system the package set holds *complete* must be one of its codes
("Unknown code 'X' in the CodeSystem 'Y'"), and its system must not be a CodeSystem
supplement ("CodeSystem X is a supplement, so can't be used as a value in
Coding.system"). Code systems that are not in the package set, or only in part
(``content`` fragment, example, not-present), are not judged: that needs a terminology
server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from igtools.ir.codesystems import CodeSystemIndex
from igtools.runtime.validation import Issue

JSON = Any
CodeSystemLookup = Callable[[str], CodeSystemIndex | None]


def coding_issues(
    codings: list[tuple[dict[str, Any], str]], lookup: CodeSystemLookup
) -> list[Issue]:
    """An error for each Coding (object, location) whose code its (complete, loaded)
    code system lacks."""
    out: list[Issue] = []
    for coding, loc in codings:
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(system, str) or not isinstance(code, str):
            continue
        version = coding.get("version")
        cs = None
        if isinstance(version, str) and version:
            cs = lookup(f"{system}|{version}")
        cs = cs or lookup(system)
        if cs is not None and cs.supplements is not None:
            out.append(
                Issue(
                    "error",
                    loc,
                    f"CodeSystem {system} is a supplement (of {cs.supplements}), so it cannot "
                    "be used as a value in Coding.system",
                    "code-system",
                    system,
                )
            )
            continue
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


def supplement_issues(data: dict[str, Any], lookup: CodeSystemLookup) -> list[Issue]:
    """A CodeSystem supplement defines no code of its own: each of its concepts (nested
    ones too) is a code of the code system it supplements, when the package set holds
    that one complete ("The code 'X' is not declared in the base CodeSystem Y so is not
    valid in the supplement")."""
    base_url = data.get("supplements")
    if not isinstance(base_url, str) or not base_url:
        return []
    base = lookup(base_url)
    if base is None or base.content != "complete" or not base.codes:
        return []
    out: list[Issue] = []

    def walk(concepts: Any, loc: str) -> None:
        for i, c in enumerate(concepts if isinstance(concepts, list) else []):
            if not isinstance(c, dict):
                continue
            code = c.get("code")
            if isinstance(code, str) and not base.has(code):
                out.append(
                    Issue(
                        "error",
                        f"{loc}[{i}]",
                        f"The code '{code}' is not declared in the base CodeSystem {base_url} "
                        "so is not valid in the supplement",
                        "code-system",
                        base_url,
                    )
                )
            walk(c.get("concept"), f"{loc}[{i}].concept")

    walk(data.get("concept"), "CodeSystem.concept")
    return out
