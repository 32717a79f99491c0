"""Safe reading and extraction of package tarballs.

A package archive comes from the network or from a folder someone else filled: it is
untrusted. Every member is checked before a byte is written:

* names must be relative, without ``..`` components, drive letters or backslashes;
* only regular files and folders are taken; a symbolic or hard link pointing outside
  the archive is refused, one pointing inside is skipped (packages never need links);
  devices and FIFOs are refused;
* the member count and the total unpacked size are capped (decompression bombs).

A corrupt or truncated archive is reported as such, naming the file.
"""

from __future__ import annotations

import os
import posixpath
import re
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from igtools.errors import PackageError, UnsafeArchiveError

_DRIVE_RE = re.compile(r"^[A-Za-z]:")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise PackageError(f"environment variable {name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Limits:
    """Caps applied to every archive. Override with ``IGTOOLS_MAX_UNPACKED_MB`` and
    ``IGTOOLS_MAX_MEMBERS``."""

    max_members: int = 100_000
    max_total_bytes: int = 2048 * 1024 * 1024

    @classmethod
    def from_env(cls) -> Limits:
        return cls(
            max_members=_env_int("IGTOOLS_MAX_MEMBERS", cls.max_members),
            max_total_bytes=_env_int("IGTOOLS_MAX_UNPACKED_MB", cls.max_total_bytes >> 20) << 20,
        )


@dataclass
class ArchiveReport:
    """What a safe read or extraction skipped (nothing is skipped silently)."""

    skipped_links: list[str] = field(default_factory=list)


def _normalise(name: str, archive: Path) -> str:
    if not name:
        raise UnsafeArchiveError(f"{archive}: archive member with an empty name")
    if name.startswith(("/", "\\")) or _DRIVE_RE.match(name):
        raise UnsafeArchiveError(f"{archive}: refusing absolute member path {name!r}")
    if "\\" in name or "\x00" in name:
        raise UnsafeArchiveError(f"{archive}: refusing member path with a backslash {name!r}")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafeArchiveError(f"{archive}: refusing member path with '..' {name!r}")
    return "/".join(parts)


def _link_escapes(member: tarfile.TarInfo, rel: str) -> bool:
    target = member.linkname
    if target.startswith("/") or _DRIVE_RE.match(target):
        return True
    base = posixpath.dirname(rel) if member.issym() else ""
    resolved = posixpath.normpath(posixpath.join(base, target))
    return resolved == ".." or resolved.startswith("../")


def _one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (tarfile's can span several)."""
    lines = [line.strip().lstrip("- ") for line in str(exc).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return type(exc).__name__
    return lines[0] + (" " + ", ".join(lines[1:]) if len(lines) > 1 else "")


def _open(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, mode="r:*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise PackageError(
            f"{archive}: not a readable package archive (corrupt or truncated?): {_one_line(exc)}"
        ) from exc


def _safe_members(
    tf: tarfile.TarFile, archive: Path, limits: Limits, report: ArchiveReport
) -> Iterator[tuple[tarfile.TarInfo, str]]:
    count = 0
    total = 0
    try:
        for member in tf:
            count += 1
            if count > limits.max_members:
                raise UnsafeArchiveError(
                    f"{archive}: more than {limits.max_members} members: refusing to unpack "
                    "(raise IGTOOLS_MAX_MEMBERS if this package is genuine)"
                )
            rel = _normalise(member.name, archive)
            if member.issym() or member.islnk():
                if _link_escapes(member, rel):
                    raise UnsafeArchiveError(
                        f"{archive}: refusing link {member.name!r} -> {member.linkname!r} "
                        "pointing outside the package"
                    )
                report.skipped_links.append(member.name)
                continue
            if member.isdir():
                continue
            if not member.isfile():
                raise UnsafeArchiveError(
                    f"{archive}: refusing special file {member.name!r} (device or FIFO)"
                )
            total += member.size
            if total > limits.max_total_bytes:
                raise UnsafeArchiveError(
                    f"{archive}: unpacks to more than {limits.max_total_bytes >> 20} MiB: "
                    "refusing (decompression bomb?; raise IGTOOLS_MAX_UNPACKED_MB if genuine)"
                )
            if not rel:
                continue
            yield member, rel
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise PackageError(
            f"{archive}: corrupt or truncated package archive: {_one_line(exc)}"
        ) from exc


def read_archive(
    archive: Path,
    want: Callable[[str], bool],
    limits: Limits | None = None,
    report: ArchiveReport | None = None,
) -> dict[str, bytes]:
    """Read, in memory, the members whose normalised path satisfies ``want``.

    Every member is checked, wanted or not.
    """
    limits = limits or Limits.from_env()
    report = report if report is not None else ArchiveReport()
    out: dict[str, bytes] = {}
    with _open(archive) as tf:
        try:
            for member, rel in _safe_members(tf, archive, limits, report):
                if not want(rel):
                    continue
                fh = tf.extractfile(member)
                if fh is None:  # pragma: no cover - isfile() checked
                    continue
                data = fh.read()
                if len(data) != member.size:
                    raise PackageError(f"{archive}: member {rel} is truncated")
                out[rel] = data
        except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
            raise PackageError(
                f"{archive}: corrupt or truncated package archive: {_one_line(exc)}"
            ) from exc
    return out


def extract_archive(
    archive: Path, dest: Path, limits: Limits | None = None, report: ArchiveReport | None = None
) -> None:
    """Extract every regular file of ``archive`` under ``dest`` (an empty folder)."""
    limits = limits or Limits.from_env()
    report = report if report is not None else ArchiveReport()
    dest_resolved = dest.resolve()
    with _open(archive) as tf:
        try:
            for member, rel in _safe_members(tf, archive, limits, report):
                target = dest_resolved.joinpath(*rel.split("/"))
                # belt and braces: the normalised name cannot escape, check anyway
                if dest_resolved not in target.parents:
                    raise UnsafeArchiveError(f"{archive}: member {member.name!r} escapes")
                target.parent.mkdir(parents=True, exist_ok=True)
                fh = tf.extractfile(member)
                if fh is None:  # pragma: no cover
                    continue
                written = 0
                with fh, open(target, "wb") as out:
                    while chunk := fh.read(1 << 20):
                        written += len(chunk)
                        out.write(chunk)
                if written != member.size:
                    raise PackageError(f"{archive}: member {rel} is truncated")
        except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
            raise PackageError(
                f"{archive}: corrupt or truncated package archive: {_one_line(exc)}"
            ) from exc
