"""The PACKAGE argument: a ``.tgz`` path, a package folder, or ``name#version``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from igtools.errors import IgtoolsError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]*$")

LATEST = "latest"


@dataclass(frozen=True, order=True)
class PackageRef:
    """A package named by registry coordinates. ``version`` may be ``latest`` or ``1.0.x``."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}#{self.version}"

    @property
    def is_exact(self) -> bool:
        return self.version != LATEST and not is_wildcard(self.version)


@dataclass(frozen=True)
class PathArg:
    """A package given as a path to a ``.tgz`` or a folder."""

    path: Path

    def __str__(self) -> str:
        return str(self.path)


PackageArg = PackageRef | PathArg


def parse_ref(text: str) -> PackageRef:
    """Parse ``name#version``, ``name@version`` or a bare ``name`` (= latest)."""
    text = text.strip()
    for sep in ("#", "@"):
        if sep in text:
            name, _, ver = text.partition(sep)
            break
    else:
        name, ver = text, LATEST
    ver = ver.strip() or LATEST
    if not _NAME_RE.match(name):
        raise IgtoolsError(f"invalid package name {name!r} in {text!r} (expected name#version)")
    if not _VERSION_RE.match(ver):
        raise IgtoolsError(f"invalid package version {ver!r} in {text!r}")
    return PackageRef(name, ver)


def parse_package_arg(text: str) -> PackageArg:
    """Interpret a PACKAGE argument.

    An existing path (file or folder) wins; anything ending in ``.tgz``/``.tar.gz`` or
    containing a path separator must exist; otherwise ``name#version``.
    """
    p = Path(text).expanduser()
    if p.exists():
        return PathArg(p)
    looks_like_path = (
        text.endswith((".tgz", ".tar.gz", ".json"))
        or "/" in text
        or "\\" in text
        or text.startswith(".")
    )
    if looks_like_path:
        raise IgtoolsError(f"package path not found: {text}")
    return parse_ref(text)


def is_wildcard(version: str) -> bool:
    return version.endswith(".x") or version == "x" or version == "*"


def version_key(version: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key for semantic-ish versions: numeric parts numerically, pre-releases first.

    Every part is an (rank, number, text) triple so that any two keys compare, whatever
    their lengths ("1.2" against "1.2.0", "1.0.a" against "1.0.1").
    """
    main, _, pre = version.partition("-")
    parts: list[tuple[int, int, str]] = []
    for piece in main.split("."):
        parts.append((2, int(piece), "") if piece.isdigit() else (1, 0, piece))
    # a release sorts after its pre-releases
    parts.append((0, 0, pre) if pre else (0, 1, ""))
    return tuple(parts)


def matches(version: str, wanted: str) -> bool:
    """Does a concrete ``version`` satisfy ``wanted`` (exact, ``1.0.x`` or ``latest``)?"""
    if wanted in (LATEST, "*", "x"):
        return True
    if is_wildcard(wanted):
        prefix = wanted[:-1]  # keep the trailing dot
        return version.startswith(prefix) and "-" not in version
    return version == wanted


def pick_version(available: list[str], wanted: str) -> str | None:
    """The best available version for ``wanted``: the highest release that matches."""
    candidates = [v for v in available if matches(v, wanted)]
    if not candidates:
        return None
    releases = [v for v in candidates if "-" not in v] or candidates
    return max(releases, key=version_key)
