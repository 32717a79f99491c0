"""The FHIR package cache (``~/.fhir/packages``), shared with SUSHI, the IG Publisher
and the Firely tools: one folder ``<name>#<version>/package/`` per package.

Installs are atomic: an archive is extracted into a temporary folder inside the cache,
checked, then renamed into place, so two concurrent runs never leave a half-written
package (the loser of the race discards its copy and uses the winner's).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from igtools.errors import PackageError
from igtools.packages.archive import ArchiveReport, Limits, extract_archive
from igtools.packages.package import check_manifest, write_index
from igtools.packages.resources import parse_json
from igtools.packages.spec import version_key

DEFAULT_CACHE = Path("~/.fhir/packages")


def default_cache_dir() -> Path:
    env = os.environ.get("IGTOOLS_CACHE_DIR")
    return Path(env).expanduser() if env else DEFAULT_CACHE.expanduser()


class PackageCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, name: str, version: str) -> Path:
        return self.root / f"{name}#{version}"

    def has(self, name: str, version: str) -> bool:
        return (self.folder(name, version) / "package" / "package.json").is_file()

    def versions(self, name: str) -> list[str]:
        if not self.root.is_dir():
            return []
        prefix = f"{name}#"
        found = [
            p.name[len(prefix) :]
            for p in self.root.iterdir()
            if p.name.startswith(prefix) and (p / "package" / "package.json").is_file()
        ]
        return sorted(found, key=version_key)

    def install(
        self,
        archive: Path,
        name: str,
        version: str,
        limits: Limits | None = None,
        report: ArchiveReport | None = None,
    ) -> Path:
        """Extract ``archive`` as ``name#version`` into the cache; return its folder.

        ``report`` receives what was skipped (links pointing inside the package)."""
        final = self.folder(name, version)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PackageError(
                f"cannot create the package cache {self.root}: {exc.strerror}"
            ) from exc
        tmp = Path(tempfile.mkdtemp(prefix=f".igtools-{name}#{version}-", dir=self.root))
        try:
            extract_archive(archive, tmp, limits, report)
            manifest_path = tmp / "package" / "package.json"
            if not manifest_path.is_file():
                raise PackageError(f"{archive}: not a FHIR package (no package/package.json)")
            manifest = parse_json(manifest_path.read_bytes(), f"{archive}!package/package.json")
            got = check_manifest(manifest, f"{archive}!package/package.json")
            if got != (name, version):
                raise PackageError(
                    f"{archive}: contains {got[0]}#{got[1]}, expected {name}#{version}"
                )
            # an index, as the FHIR package cache keeps one: later reads stay lazy
            write_index(tmp / "package")
            try:
                os.rename(tmp, final)
            except OSError:
                if not self.has(name, version):
                    raise
                # another run installed it first: keep theirs
        except OSError as exc:
            raise PackageError(f"cannot install {name}#{version} into {self.root}: {exc}") from exc
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return final

    def temp_file(self, suffix: str) -> Path:
        """A temporary file inside the cache (same filesystem: renames stay atomic)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".igtools-download-", suffix=suffix, dir=self.root)
        except OSError as exc:
            raise PackageError(f"cannot write into the package cache {self.root}: {exc}") from exc
        os.close(fd)
        return Path(name)
