"""A StructureDefinition validated as an instance: when it is a constraint given by its
differential alone, its snapshot is generated (igtools' snapshot generator, the base
resolved in the package set) and what stops the generation is an error, as the
reference validator reports it ("Error generating Snapshot: ..."). The differential's
paths are first checked as the reference's generator checks them (each name portion
present, at most 64 characters, no whitespace nor punctuation but a final ``[x]``)."""

from __future__ import annotations

from typing import Any

from igtools.ir.snapshot.generator import generate_snapshot
from igtools.ir.snapshot.tree import SnapshotGenerationError
from igtools.packages.index import ResourceIndex
from igtools.runtime.validation import Issue

JSON = Any
_ILLEGAL = set(",:;'\"/|?!@#$%^&*()[]{}")


def _path_problem(path: str, type_: str, first: bool, url: str) -> str | None:
    """Why the differential path ``path`` is illegal (the reference's words), or None."""
    if not ((first and path == type_) or path.startswith(type_ + ".")):
        alone = f" (or be '{type_}')" if first else ""
        return f"Illegal path '{path}' in differential in {url}: must start with {type_}.{alone}"
    for part in path.split("."):
        if not part:
            return f"Illegal path '{path}' in differential in {url}: name portion missing ('..')"
        if len(part) > 64:
            return (
                f"Illegal path '{path}' in differential in {url}: name portion exceeds 64 "
                "chars in length"
            )
        stem = part[:-3] if part.endswith("[x]") else part
        for ch in stem:
            if ch.isspace():
                return f"Illegal path '{path}' in differential in {url}: no unicode whitespace"
            if ch in _ILLEGAL or ch < " " or ch > "z":
                return f"Illegal path '{path}' in differential in {url}: illegal character '{ch}'"
    return None


def snapshot_issues(sd: JSON, index: ResourceIndex) -> list[Issue]:
    """The issue stopping the generation of the snapshot of ``sd`` (a differential-only
    constraint), if any; nothing for other StructureDefinitions, or when the base is not
    in the package set (not judged)."""
    if not isinstance(sd, dict) or sd.get("resourceType") != "StructureDefinition":
        return []
    diff = sd.get("differential")
    elements = diff.get("element") if isinstance(diff, dict) else None
    snap = sd.get("snapshot")
    has_snapshot = isinstance(snap, dict) and bool(snap.get("element"))
    type_ = sd.get("type")
    if (
        sd.get("derivation") != "constraint"
        or has_snapshot
        or not isinstance(sd.get("baseDefinition"), str)
        or not isinstance(type_, str)
        or not isinstance(elements, list)
        or not elements
        or not all(isinstance(e, dict) and isinstance(e.get("path"), str) for e in elements)
    ):
        return []
    url = str(sd.get("url") or sd.get("id") or "?")
    message: str | None = None
    for i, el in enumerate(elements):
        message = _path_problem(el["path"], type_, i == 0, url)
        if message is not None:
            break
    if message is None:
        try:
            generate_snapshot(sd, index)
        except SnapshotGenerationError as exc:
            if exc.missing is not None:
                return []  # the base (or a type's profile) is not loaded: not judged
            message = str(exc)
    if message is None:
        return []
    return [
        Issue(
            "error",
            "StructureDefinition",
            f"Error generating Snapshot: {message}",
            "structure",
            "base StructureDefinition",
        )
    ]
