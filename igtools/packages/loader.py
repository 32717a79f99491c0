"""Find packages (cache, package folder, registries), resolve dependencies, index them.

Resolution order for ``name#version``: the FHIR package cache, then each ``--package-dir``
(a folder of ``<name>-<version>.tgz`` files, installed into the cache on first use), then
the registries (unless offline). ``latest`` and ``1.0.x`` ask the registries first and
fall back to the highest version found locally.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from igtools.errors import DependencyError, PackageError
from igtools.packages.archive import ArchiveReport, Limits
from igtools.packages.cache import PackageCache, default_cache_dir
from igtools.packages.index import ResourceIndex
from igtools.packages.package import Package, read_package_folder, read_path
from igtools.packages.references import canonical_references, provided_by_fhir_resources
from igtools.packages.registry import DEFAULT_REGISTRIES, RegistryClient, RegistryFailure
from igtools.packages.spec import (
    PackageArg,
    PackageRef,
    PathArg,
    is_wildcard,
    matches,
    parse_package_arg,
    pick_version,
    version_key,
)

log = logging.getLogger(__name__)

CORE_PACKAGES = frozenset({"hl7.fhir.r4.core"})


@dataclass
class Settings:
    cache_dir: Path = field(default_factory=default_cache_dir)
    package_dirs: list[Path] = field(default_factory=list)
    registries: list[str] = field(default_factory=lambda: list(DEFAULT_REGISTRIES))
    offline: bool = False
    strict: bool = False
    timeout: float = 30.0
    limits: Limits = field(default_factory=Limits.from_env)
    # a dependency version that cannot be had -> one that can: keys "name#version" (that
    # version only) or "name" (any version of it); used with a warning naming both
    substitutes: dict[str, str] = field(default_factory=dict)


@dataclass
class DependencyStatus:
    """How one dependency (``name`` at ``wanted``) was resolved, or why it was not."""

    name: str
    wanted: str
    required_by: list[str]
    status: str = "missing"  # resolved | missing | provided
    version: str | None = None
    source: str = ""  # cache | package-dir | registry | fhir.resources
    location: str = ""
    reason: str = ""
    lost: str = ""

    @property
    def id(self) -> str:
        return f"{self.name}#{self.version or self.wanted}"


@dataclass
class PackageSet:
    """A root package, its resolved dependencies and the index of all their resources."""

    root: Package
    packages: list[Package]
    dependencies: list[DependencyStatus]
    index: ResourceIndex
    warnings: list[str] = field(default_factory=list)
    # canonical -> what refers to it, for references of the root package left unresolved
    unresolved: dict[str, list[str]] = field(default_factory=dict)

    @property
    def missing(self) -> list[DependencyStatus]:
        return [d for d in self.dependencies if d.status == "missing"]


def _package_dir_versions(folder: Path, name: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for p in folder.iterdir():
        for sep in ("-", "#"):
            prefix = name + sep
            if p.name.startswith(prefix) and p.name.endswith((".tgz", ".tar.gz")):
                version = p.name[len(prefix) :].removesuffix(".tgz").removesuffix(".tar.gz")
                if version[:1].isdigit():
                    found.setdefault(version, p)
    return found


class PackageLoader:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.cache = PackageCache(self.settings.cache_dir)
        self._registry: RegistryClient | None = None

    @property
    def registry(self) -> RegistryClient | None:
        if self.settings.offline or not self.settings.registries:
            return None
        if self._registry is None:
            self._registry = RegistryClient(self.settings.registries, self.settings.timeout)
        return self._registry

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()

    # ------------------------------------------------------------------ single packages

    def _local_versions(self, name: str) -> dict[str, str]:
        versions = {v: "cache" for v in self.cache.versions(name)}
        for folder in self.settings.package_dirs:
            for v in _package_dir_versions(folder, name):
                versions.setdefault(v, "package-dir")
        return versions

    def _concrete_version(self, ref: PackageRef, looked: list[str]) -> str | None:
        if ref.is_exact:
            return ref.version
        registry = self.registry
        if registry is not None:
            try:
                return registry.find(ref).version
            except RegistryFailure as exc:
                looked.extend(exc.problems)
        local = self._local_versions(ref.name)
        version = pick_version(list(local), ref.version)
        if version is not None and registry is not None:
            log.warning("%s: registries unavailable, using %s found locally", ref, version)
        return version

    def fetch(self, ref: PackageRef) -> Package:
        """Find ``ref`` in the cache, the package folders or the registries."""
        looked: list[str] = []
        version = self._concrete_version(ref, looked)
        if version is None:
            where = self._where_looked(ref, looked)
            raise PackageError(f"{ref}: no matching version found ({where})")
        name = ref.name
        if self.cache.has(name, version):
            return read_package_folder(self.cache.folder(name, version), origin="cache")
        looked.append(f"not in cache {self.cache.root}")
        for folder in self.settings.package_dirs:
            tgz = _package_dir_versions(folder, name).get(version)
            if tgz is not None:
                log.info("installing %s#%s from %s into the cache", name, version, tgz)
                report = ArchiveReport()
                path = self.cache.install(tgz, name, version, self.settings.limits, report)
                pkg = read_package_folder(path, origin="package-dir")
                pkg.location = str(tgz)
                pkg.notes.extend(f"skipped link {link}" for link in report.skipped_links)
                return pkg
            looked.append(f"not in package dir {folder}")
        registry = self.registry
        if registry is None:
            looked.append("registries not asked (offline)")
            raise PackageError(f"{name}#{version}: not found ({'; '.join(looked)})")
        tried: set[str] = set()
        while True:
            try:
                release = registry.find(PackageRef(name, version), skip=frozenset(tried))
            except RegistryFailure as exc:
                looked.extend(exc.problems)
                raise PackageError(f"{name}#{version}: not found ({'; '.join(looked)})") from exc
            tmp = self.cache.temp_file(".tgz")
            report = ArchiveReport()
            try:
                log.info("downloading %s#%s from %s", name, version, release.tarball)
                registry.download(release, tmp)
                path = self.cache.install(tmp, name, version, self.settings.limits, report)
            except PackageError as exc:
                # a bad tarball from one registry: try the next one
                tried.add(release.registry)
                looked.append(str(exc))
                if len(tried) >= len(registry.registries):
                    raise PackageError(
                        f"{name}#{version}: no registry gave a usable package ({'; '.join(looked)})"
                    ) from exc
                continue
            finally:
                tmp.unlink(missing_ok=True)
            pkg = read_package_folder(path, origin="registry")
            pkg.location = release.tarball
            pkg.notes.extend(f"skipped link {link}" for link in report.skipped_links)
            return pkg

    def _where_looked(self, ref: PackageRef, looked: list[str]) -> str:
        parts = [f"cache {self.cache.root}"]
        parts += [f"package dir {d}" for d in self.settings.package_dirs]
        if self.registry is None:
            parts.append("registries not asked (offline)")
        return "looked in " + ", ".join(parts) + ("; " + "; ".join(looked) if looked else "")

    def read_root(self, arg: str | PackageArg) -> Package:
        parsed = parse_package_arg(arg) if isinstance(arg, str) else arg
        if isinstance(parsed, PathArg):
            return read_path(parsed.path, self.settings.limits)
        return self.fetch(parsed)

    # ------------------------------------------------------------------ whole sets

    def load(self, arg: str | PackageArg, dependencies: bool = True) -> PackageSet:
        """Load a package and (transitively) its dependencies into one index."""
        root = self.read_root(arg)
        packages = [root]
        statuses: list[DependencyStatus] = []
        warnings: list[str] = []
        fv = root.fhir_versions
        if fv and not any(v.startswith(("4.0", "4.3")) for v in fv):
            warnings.append(
                f"{root.id} declares FHIR {', '.join(fv)}; igtools targets FHIR R4 (4.0.1)"
            )
        loaded: dict[str, Package] = {root.name: root}
        by_key: dict[tuple[str, str], DependencyStatus] = {}
        queue: deque[tuple[Package, str, str]] = deque()
        if dependencies:
            queue.extend((root, n, v) for n, v in sorted(root.dependencies.items()))
        while queue:
            parent, name, wanted = queue.popleft()
            key = (name, wanted)
            if key in by_key:
                by_key[key].required_by.append(parent.id)
                continue
            status = DependencyStatus(name, wanted, [parent.id])
            by_key[key] = status
            statuses.append(status)
            have = loaded.get(name)
            if have is not None and matches(have.version, wanted):
                status.status, status.version = "resolved", have.version
                status.source, status.location = have.origin, have.location
                continue
            try:
                pkg = self._fetch_or_substitute(name, wanted, warnings)
            except PackageError as exc:
                status.reason = str(exc)
                if name in CORE_PACKAGES:
                    status.status, status.source = "provided", "fhir.resources"
                    status.version = wanted
                    status.lost = (
                        "base resource and data type models come from fhir.resources (R4B); "
                        "core value sets, code systems and search parameters are not indexed"
                    )
                    warnings.append(
                        f"{name}#{wanted} not found: base types treated as provided by "
                        "fhir.resources (R4B models)"
                    )
                continue
            status.status, status.version = "resolved", pkg.version
            status.source, status.location = pkg.origin, pkg.location
            if have is not None and have.version == pkg.version:
                continue  # a substitute already loaded for another wanted version
            if have is not None:
                warnings.append(
                    f"{name}: versions {have.version} and {pkg.version} both required; both loaded"
                )
            else:
                loaded[name] = pkg
            packages.append(pkg)
            queue.extend((pkg, n, v) for n, v in sorted(pkg.dependencies.items()))
        index = ResourceIndex(packages)
        pset = PackageSet(root, packages, statuses, index, warnings)
        self._report_unresolved(pset)
        if self.settings.strict and pset.missing:
            raise DependencyError(
                "unresolved dependencies (--strict): "
                + "; ".join(f"{d.name}#{d.wanted} ({d.reason})" for d in pset.missing)
            )
        return pset

    def _fetch_or_substitute(self, name: str, wanted: str, warnings: list[str]) -> Package:
        """The dependency ``name#wanted``, else the version configured to stand in for it."""
        try:
            return self.fetch(PackageRef(name, wanted))
        except PackageError as exc:
            subs = self.settings.substitutes
            sub = subs.get(f"{name}#{wanted}") or subs.get(name)
            if not sub or sub == wanted:
                raise
            try:
                pkg = self.fetch(PackageRef(name, sub))
            except PackageError as sub_exc:
                raise PackageError(f"{exc}; its substitute {name}#{sub}: {sub_exc}") from sub_exc
            warnings.append(
                f"dependency {name}#{wanted} not available: using {name}#{pkg.version} "
                "instead (substitute from the configuration)"
            )
            return pkg

    def _report_unresolved(self, pset: PackageSet) -> None:
        core_provided = any(
            d.status == "provided" for d in pset.dependencies if d.name in CORE_PACKAGES
        )
        unresolved: dict[str, list[str]] = {}
        for entry in [*pset.index.conformance(pset.root.id), *pset.index.examples_of(pset.root.id)]:
            for url, what in canonical_references(entry):
                if pset.index.resolve(url) is not None:
                    continue
                if core_provided and provided_by_fhir_resources(url):
                    continue
                unresolved.setdefault(url, []).append(what)
        pset.unresolved = dict(sorted(unresolved.items()))
        for dep in pset.missing:
            dep.lost = (
                "its profiles, extensions, value sets and code systems are not indexed; "
                f"{len(unresolved)} canonical references of {pset.root.id} stay unresolved"
            )
            reason = dep.reason.split(": ", 1)[-1]
            pset.warnings.append(
                f"dependency {dep.name}#{dep.wanted} (required by {', '.join(dep.required_by)}) "
                f"not resolved: {reason}. Lost: {dep.lost}"
            )


def sorted_versions(versions: list[str]) -> list[str]:
    return sorted(versions, key=version_key)


def env_package_dirs() -> list[Path]:
    raw = os.environ.get("IGTOOLS_PACKAGE_DIR", "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p]


__all__ = [
    "DependencyStatus",
    "PackageLoader",
    "PackageSet",
    "Settings",
    "env_package_dirs",
    "is_wildcard",
]
