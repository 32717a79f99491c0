"""A FHIR package (or a loose folder of resources) and the readers that build one.

Three forms are read:

* a package archive (``.tgz``), read in memory after the safety checks of
  :mod:`igtools.packages.archive`; nothing is written to disk;
* an unpacked package folder (the folder holding ``package/package.json``, or the
  ``package`` folder itself), as found in the FHIR package cache; resource contents are
  read lazily when the folder has a ``.index.json``;
* a loose IG source folder: JSON and XML resources anywhere below it (FHIR XML is read
  with lxml); name, version and dependencies come from ``sushi-config.yaml`` if present.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from igtools.errors import IgtoolsError, PackageError, ResourceFileError
from igtools.packages.archive import ArchiveReport, Limits, read_archive
from igtools.packages.resources import (
    Resource,
    ResourceEntry,
    parse_json,
    parse_resource_json,
    parse_resource_xml,
)

# Resource types that define an IG rather than illustrate it. In a loose source folder,
# any other resource is taken as an example.
CONFORMANCE_TYPES = frozenset(
    {
        "StructureDefinition",
        "ValueSet",
        "CodeSystem",
        "CapabilityStatement",
        "SearchParameter",
        "OperationDefinition",
        "ImplementationGuide",
        "ConceptMap",
        "NamingSystem",
        "StructureMap",
        "CompartmentDefinition",
        "GraphDefinition",
        "MessageDefinition",
        "TerminologyCapabilities",
        "ExampleScenario",
        "ActorDefinition",
        "Requirements",
        "Library",
    }
)

_SKIP_DIRS = frozenset(
    {".git", "node_modules", "output", "temp", "template", "input-cache", ".venv", "__pycache__"}
)
_NOT_RESOURCES = frozenset({"package.json", ".index.json", "ig.json"})


@dataclass
class Package:
    """One package: its manifest and its resources."""

    name: str
    version: str
    manifest: dict[str, Any]
    origin: str  # tgz | folder | source-folder | cache | package-dir | registry
    location: str
    entries: list[ResourceEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # files skipped and why

    @property
    def id(self) -> str:
        return f"{self.name}#{self.version}"

    @property
    def dependencies(self) -> dict[str, str]:
        deps = self.manifest.get("dependencies") or {}
        if not isinstance(deps, dict):
            return {}
        return {str(k): str(v) for k, v in deps.items()}

    @property
    def fhir_versions(self) -> list[str]:
        value = self.manifest.get("fhirVersions") or self.manifest.get("fhir-version-list") or []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]

    @property
    def canonical(self) -> str | None:
        value = self.manifest.get("canonical")
        return value if isinstance(value, str) else None

    @property
    def title(self) -> str | None:
        value = self.manifest.get("title") or self.manifest.get("description")
        return value if isinstance(value, str) else None


def check_manifest(manifest: Any, source: str) -> tuple[str, str]:
    if not isinstance(manifest, dict):
        raise PackageError(f"{source}: package.json is not a JSON object")
    name = manifest.get("name")
    version = manifest.get("version")
    missing = [
        k for k, v in (("name", name), ("version", version)) if not isinstance(v, str) or not v
    ]
    if missing:
        raise PackageError(f"{source}: package.json has no {' and no '.join(missing)}")
    assert isinstance(name, str) and isinstance(version, str)
    return name, version


def _example_dir(manifest: dict[str, Any]) -> str:
    dirs = manifest.get("directories")
    if isinstance(dirs, dict) and isinstance(dirs.get("example"), str):
        return str(dirs["example"]).strip("/") or "example"
    return "example"


# ---------------------------------------------------------------------------- archives


def _archive_wanted(rel: str) -> bool:
    parts = rel.split("/")
    if parts[-1].startswith(".") and parts[-1] != ".index.json":
        return False
    if len(parts) == 2 and parts[0] == "package":
        return parts[1].endswith(".json")
    return len(parts) == 3 and parts[0] == "package" and parts[2].endswith(".json")


def read_package_archive(path: Path, limits: Limits | None = None, origin: str = "tgz") -> Package:
    """Read a package archive in memory (conformance resources and examples)."""
    report = ArchiveReport()
    files = read_archive(path, _archive_wanted, limits, report)
    manifest_bytes = files.get("package/package.json")
    if manifest_bytes is None:
        raise PackageError(f"{path}: not a FHIR package (no package/package.json in the archive)")
    manifest = parse_json(manifest_bytes, f"{path}!package/package.json")
    name, version = check_manifest(manifest, f"{path}!package/package.json")
    pkg = Package(name, version, manifest, origin, str(path))
    example_dir = _example_dir(manifest)
    for rel in sorted(files):
        parts = rel.split("/")
        fname = parts[-1]
        if fname in _NOT_RESOURCES:
            continue
        if len(parts) == 3 and parts[1] != example_dir:
            continue
        is_example = len(parts) == 3
        res = parse_resource_json(files[rel], f"{path}!{rel}")
        pkg.entries.append(ResourceEntry.from_resource(res, pkg.id, rel, is_example))
    pkg.notes.extend(f"skipped link {name}" for name in report.skipped_links)
    return pkg


# ---------------------------------------------------------------------------- folders


def package_root(folder: Path) -> Path | None:
    """The folder holding package.json for a package folder, or None if not a package."""
    if (folder / "package" / "package.json").is_file():
        return folder / "package"
    if (folder / "package.json").is_file():
        return folder
    return None


def _lazy_json(path: Path, source: str) -> Callable[[], Resource]:
    def load() -> Resource:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ResourceFileError(f"{source}: cannot read: {exc.strerror}") from exc
        return parse_resource_json(data, source)

    return load


def _read_index_json(folder: Path) -> list[dict[str, Any]] | None:
    idx = folder / ".index.json"
    if not idx.is_file():
        return None
    try:
        data = json.loads(idx.read_bytes())
    except (OSError, ValueError):
        return None  # a broken index only costs speed: scan the files instead
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        return None
    ok = [f for f in files if isinstance(f, dict) and isinstance(f.get("filename"), str)]
    ok = [f for f in ok if isinstance(f.get("resourceType"), str)]
    listed = {f["filename"] for f in ok}
    on_disk = {p.name for p in folder.glob("*.json")} - _NOT_RESOURCES
    if listed != on_disk:
        return None  # stale index: do not trust it
    return ok


def write_index(folder: Path) -> bool:
    """Write ``folder/.index.json`` (the FHIR package cache's index: file name, type,
    id, url, version of each resource) when the package has none, so that later reads
    parse a resource only when it is used. False when a file cannot be read as a
    resource (the reader will then name it) or the folder is not writable."""
    if (folder / ".index.json").exists():
        return True
    files = []
    for f in sorted(folder.glob("*.json")):
        if f.name in _NOT_RESOURCES or f.name.startswith("."):
            continue
        try:
            res = parse_resource_json(f.read_bytes(), str(f))
        except (OSError, IgtoolsError):
            return False
        item: dict[str, Any] = {"filename": f.name, "resourceType": res["resourceType"]}
        for key in ("id", "url", "version"):
            if isinstance(res.get(key), str):
                item[key] = res[key]
        files.append(item)
    try:
        (folder / ".index.json").write_text(
            json.dumps({"index-version": 2, "files": files}, ensure_ascii=False), "utf-8"
        )
    except OSError:
        return False
    return True


def _read_json_dir(folder: Path, pkg: Package, rel_prefix: str, is_example: bool) -> None:
    index = _read_index_json(folder)
    if index is not None:
        for item in sorted(index, key=lambda f: str(f["filename"])):
            fname = str(item["filename"])
            source = str(folder / fname)
            pkg.entries.append(
                ResourceEntry(
                    resource_type=str(item["resourceType"]),
                    id=item.get("id") if isinstance(item.get("id"), str) else None,
                    url=item.get("url") if isinstance(item.get("url"), str) else None,
                    version=item.get("version") if isinstance(item.get("version"), str) else None,
                    package=pkg.id,
                    path=rel_prefix + fname,
                    is_example=is_example,
                    _loader=_lazy_json(folder / fname, source),
                )
            )
        return
    for f in sorted(folder.glob("*.json")):
        if f.name in _NOT_RESOURCES or f.name.startswith("."):
            continue
        res = parse_resource_json(f.read_bytes(), str(f))
        pkg.entries.append(
            ResourceEntry.from_resource(res, pkg.id, rel_prefix + f.name, is_example)
        )


def read_package_folder(folder: Path, origin: str = "folder") -> Package:
    """Read an unpacked package (the cache layout ``<name>#<version>/package/``)."""
    root = package_root(folder)
    if root is None:
        raise PackageError(f"{folder}: not a package folder (no package.json)")
    manifest = parse_json((root / "package.json").read_bytes(), str(root / "package.json"))
    name, version = check_manifest(manifest, str(root / "package.json"))
    pkg = Package(name, version, manifest, origin, str(folder))
    _read_json_dir(root, pkg, "package/", is_example=False)
    ex = root / _example_dir(manifest)
    if ex.is_dir():
        _read_json_dir(ex, pkg, f"package/{ex.name}/", is_example=True)
    return pkg


def _sushi_config(folder: Path) -> dict[str, Any]:
    cfg = folder / "sushi-config.yaml"
    if not cfg.is_file():
        return {}
    import yaml

    try:
        data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PackageError(f"{cfg}: invalid YAML: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _sushi_dependencies(cfg: dict[str, Any]) -> dict[str, str]:
    deps = cfg.get("dependencies")
    out: dict[str, str] = {}
    if isinstance(deps, dict):
        for name, spec in deps.items():
            if isinstance(spec, dict):
                spec = spec.get("version")
            if spec is not None:
                out[str(name)] = str(spec)
    return out


def read_source_folder(folder: Path) -> Package:
    """Read a loose folder of FHIR resources (an IG's ``input/`` or ``fsh-generated``)."""
    cfg = _sushi_config(folder)
    name = str(cfg.get("packageId") or cfg.get("id") or folder.resolve().name)
    version = str(cfg.get("version") or "0.0.0-local")
    deps = _sushi_dependencies(cfg)
    fv = cfg.get("fhirVersion") or "4.0.1"
    fv_first = str(fv[0] if isinstance(fv, list) and fv else fv)
    if fv_first.startswith("4.0") and "hl7.fhir.r4.core" not in deps:
        # implicit for SUSHI (it loads the core of the IG's fhirVersion): the base
        # definitions the differentials derive from
        deps["hl7.fhir.r4.core"] = "4.0.1"
    manifest: dict[str, Any] = {
        "name": name,
        "version": version,
        "dependencies": deps,
    }
    if cfg.get("canonical"):
        manifest["canonical"] = cfg["canonical"]
    if cfg.get("title"):
        manifest["title"] = cfg["title"]
    if cfg.get("fhirVersion"):
        fv = cfg["fhirVersion"]
        manifest["fhirVersions"] = fv if isinstance(fv, list) else [fv]
    pkg = Package(name, version, manifest, "source-folder", str(folder))
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for fname in sorted(filenames):
            if fname.startswith(".") or fname in _NOT_RESOURCES:
                continue
            path = Path(dirpath) / fname
            rel = path.relative_to(folder).as_posix()
            if fname.endswith(".json"):
                obj = parse_json(path.read_bytes(), str(path))
                if not isinstance(obj, dict) or not isinstance(obj.get("resourceType"), str):
                    pkg.notes.append(f"skipped {rel}: JSON without resourceType")
                    continue
                res: Resource = obj
            elif fname.endswith(".xml"):
                data = path.read_bytes()
                if b"http://hl7.org/fhir" not in data[:2048]:
                    pkg.notes.append(f"skipped {rel}: XML outside the FHIR namespace")
                    continue
                res = parse_resource_xml(data, str(path))
            else:
                continue
            is_example = (
                res["resourceType"] not in CONFORMANCE_TYPES or "example" in rel.split("/")[:-1]
            )
            pkg.entries.append(ResourceEntry.from_resource(res, pkg.id, rel, is_example))
    if not pkg.entries:
        raise PackageError(f"{folder}: no package.json and no FHIR resource found in this folder")
    return pkg


def read_path(path: Path, limits: Limits | None = None) -> Package:
    """Read a PACKAGE given as a path: archive, package folder or loose source folder."""
    if path.is_file():
        if path.name == "package.json":
            return read_package_folder(path.parent)
        return read_package_archive(path, limits)
    if path.is_dir():
        if package_root(path) is not None:
            return read_package_folder(path)
        return read_source_folder(path)
    raise PackageError(f"package path not found: {path}")
