"""The project's own configuration: ``ig-input/igtools.toml``.

Format (all keys optional but ``ig.package``; paths are relative to the project root,
the folder that holds ``ig-input/``)::

    [ig]
    package = "example.fhir.ig#1.0.0"    # any PACKAGE form: name#version, .tgz, folder
    pages = "../my-ig"                   # IG source folder (sushi-config.yaml, input/)
    previous = "example.fhir.ig#0.9.0"   # the version before: a Changes page in the docs

    [output]
    dir = "generated"                    # where `igtools build` writes

    [packages]
    package-dirs = ["../packages"]       # offline registries (folders of .tgz)
    registries = ["https://packages.fhir.org"]   # replaces the default registries

    [packages.substitutes]               # a dependency version that cannot be had ->
    "hl7.terminology.r4#7.2.0" = "7.0.1" # one that can (used with a warning); a key
    "some.package" = "1.0.0"             # without #version stands for any version

The project is found from ``--project DIR``, else ``IGTOOLS_PROJECT``, else the first
folder from the current one upwards that holds ``ig-input/igtools.toml``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from igtools.errors import ConfigError

CONFIG_NAME = Path("ig-input") / "igtools.toml"


@dataclass
class Project:
    root: Path
    config_file: Path
    package: str
    pages: Path | None = None
    previous: str | None = None
    output: Path = Path("generated")
    package_dirs: list[Path] = field(default_factory=list)
    registries: list[str] | None = None
    # dependency versions that cannot be had -> the version used instead
    substitutes: dict[str, str] = field(default_factory=dict)
    # examples: the searched resource type of each scenario Bundle (profile URL or name)
    example_match: dict[str, str] = field(default_factory=dict)
    # stubs: what the IG's pages require but its CapabilityStatements leave out
    stubs_overlay: list[Any] = field(default_factory=list)


def find_project(start: Path | None = None) -> Path | None:
    env = os.environ.get("IGTOOLS_PROJECT")
    if env:
        return Path(env)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    return None


def _get(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = table.get(key)
    if value is not None and not isinstance(value, kind):
        raise ConfigError(f"{where}.{key} must be a {kind.__name__}, got {value!r}")
    return value


def load_project(root: Path) -> Project:
    cfg_file = root / CONFIG_NAME
    if not cfg_file.is_file():
        raise ConfigError(f"{root}: no {CONFIG_NAME} (not an igtools project)")
    try:
        data = tomllib.loads(cfg_file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{cfg_file}: invalid TOML: {exc}") from exc
    ig = _get(data, "ig", dict, str(cfg_file)) or {}
    out = _get(data, "output", dict, str(cfg_file)) or {}
    pkgs = _get(data, "packages", dict, str(cfg_file)) or {}
    package = _get(ig, "package", str, f"{cfg_file}: [ig]")
    if not package:
        raise ConfigError(f"{cfg_file}: [ig] package is required (e.g. 'name#version')")

    def rel(p: str) -> Path:
        path = Path(p).expanduser()
        return path if path.is_absolute() else root / path

    pages = _get(ig, "pages", str, f"{cfg_file}: [ig]")
    previous = _get(ig, "previous", str, f"{cfg_file}: [ig]")
    if previous and (previous.startswith(".") or "/" in previous):
        previous = str(rel(previous))
    output = _get(out, "dir", str, f"{cfg_file}: [output]") or "generated"
    dirs = _get(pkgs, "package-dirs", list, f"{cfg_file}: [packages]") or []
    registries = _get(pkgs, "registries", list, f"{cfg_file}: [packages]")
    subs = _get(pkgs, "substitutes", dict, f"{cfg_file}: [packages]") or {}
    for key, value in subs.items():
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"{cfg_file}: [packages.substitutes] {key!r} must name a version, got {value!r}"
            )
    # a package given as a relative path is relative to the project too
    if package.startswith(".") or "/" in package:
        package = str(rel(package))
    stubs = _get(data, "stubs", dict, str(cfg_file)) or {}
    overlay = _get(stubs, "overlay", list, f"{cfg_file}: [stubs]") or []
    examples = _get(data, "examples", dict, str(cfg_file)) or {}
    match = _get(examples, "match", dict, f"{cfg_file}: [examples]") or {}
    return Project(
        example_match={str(k): str(v) for k, v in match.items()},
        stubs_overlay=list(overlay),
        root=root,
        config_file=cfg_file,
        package=package,
        pages=rel(pages) if pages else None,
        previous=previous or None,
        output=rel(output),
        package_dirs=[rel(str(d)) for d in dirs],
        registries=[str(r) for r in registries] if registries is not None else None,
        substitutes={str(k): str(v) for k, v in subs.items()},
    )
