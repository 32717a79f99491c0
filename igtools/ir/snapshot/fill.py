"""Snapshots for the StructureDefinitions of a package (a SUSHI output folder, say).

:func:`generate_package` computes the snapshot of every StructureDefinition of a list of
index entries that has a differential (the ``igtools snapshot`` command);
:func:`fill_missing_snapshots` computes, in memory, only those that have none, so that a
differential-only profile is read like a published one (the IR builder).
A StructureDefinition that cannot get one is reported by its file, never fatal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from igtools.ir.snapshot.generator import SnapshotGenerator
from igtools.ir.snapshot.tree import Json, SnapshotGenerationError
from igtools.packages.index import ResourceIndex
from igtools.packages.loader import PackageLoader, PackageSet
from igtools.packages.resources import ResourceEntry
from igtools.packages.spec import PackageRef

CORE = "hl7.fhir.r4.core"


@dataclass
class PackageSnapshots:
    """Snapshots computed for a package: by entry, and the failures by file."""

    done: list[tuple[ResourceEntry, list[Json]]] = field(default_factory=list)
    failed: list[tuple[ResourceEntry, str]] = field(default_factory=list)
    # what the differentials get wrong without preventing a snapshot (min, max)
    problems: list[str] = field(default_factory=list)
    # StructureDefinitions lacking a required field a snapshot does without (name...)
    incomplete: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        failed = [f"{where(e)}: {msg}" for e, msg in self.failed]
        return failed + self.incomplete + self.problems


def where(entry: ResourceEntry) -> str:
    """The file an entry was read from, as the user knows it."""
    return f"{entry.package}:{entry.path}" if entry.package else entry.path


def has_differential(sd: Json) -> bool:
    diff = sd.get("differential")
    return isinstance(diff, dict) and bool(diff.get("element"))


def has_snapshot(sd: Json) -> bool:
    snap = sd.get("snapshot")
    return isinstance(snap, dict) and bool(snap.get("element"))


# required by StructureDefinition, but not to compute a snapshot
_REQUIRED = ("name", "status", "kind", "abstract")


def _check(sd: Json) -> str | None:
    """Why ``sd`` cannot get a snapshot (a required field missing), or None."""
    missing = [k for k in ("url", "type", "baseDefinition") if not isinstance(sd.get(k), str)]
    if missing:
        return f"StructureDefinition without {', '.join(missing)}: no snapshot computed"
    return None


def _incomplete(sd: Json) -> str | None:
    """The required fields ``sd`` lacks that a snapshot does without, or None."""
    missing = [k for k in _REQUIRED if sd.get(k) in (None, "")]
    if missing:
        return f"StructureDefinition without {', '.join(missing)} (required): read all the same"
    return None


def generate_package(
    index: ResourceIndex,
    entries: Iterable[ResourceEntry],
    regenerate: bool = True,
    pin_core_versions: bool = False,
) -> PackageSnapshots:
    """Snapshots of the StructureDefinitions among ``entries`` that have a differential.

    ``regenerate``: also recompute those that have a snapshot (else they are skipped).
    Profiles deriving from others of ``entries`` are computed after their base (a broken
    or circular chain fails the profiles it concerns, naming them).
    """
    wanted = [
        e
        for e in entries
        if e.resource_type == "StructureDefinition"
        and has_differential(e.data)
        and (regenerate or not has_snapshot(e.data))
    ]
    out = PackageSnapshots()
    ok: list[ResourceEntry] = []
    for e in wanted:
        problem = _check(e.data)
        if problem is not None:
            out.failed.append((e, problem))
        else:
            ok.append(e)
            lacking = _incomplete(e.data)
            if lacking is not None:
                out.incomplete.append(f"{where(e)}: {lacking}")
    gen = SnapshotGenerator(
        index,
        regenerate=[str(e.data["url"]) for e in ok],
        pin_core_versions=pin_core_versions,
    )
    for e in ok:
        sd = e.data
        url = str(sd["url"])
        version = sd.get("version")
        found = index.resolve(f"{url}|{version}" if isinstance(version, str) else url)
        if found is not e:  # another package defines the same URL first: use this one
            gen.add(sd)
        try:
            out.done.append((e, gen.snapshot_elements(url)))
        except SnapshotGenerationError as exc:
            out.failed.append((e, str(exc)))
    out.problems = list(gen.problems)
    return out


def fill_missing_snapshots(index: ResourceIndex, entries: Iterable[ResourceEntry]) -> list[str]:
    """Compute in memory the snapshot of each StructureDefinition of ``entries`` that has
    only a differential; the warnings name the files left without one. The references
    inherited from the core are versioned (``|4.0.1``), as the current IG Publishers
    write them."""
    result = generate_package(index, entries, regenerate=False, pin_core_versions=True)
    for entry, elements in result.done:
        entry.data["snapshot"] = {"element": elements}
    warnings = result.warnings
    if result.failed and not any(p.name == CORE for p in index.packages):
        warnings.append(
            f"{CORE} is not loaded: the bases of differential-only profiles are not found "
            "(name it among the dependencies, in sushi-config.yaml for a SUSHI folder, "
            "or run igtools snapshot, which adds it)"
        )
    return warnings


def ensure_core(pset: PackageSet, loader: PackageLoader) -> None:
    """Add hl7.fhir.r4.core to ``pset`` when nothing loaded it (a SUSHI output folder
    depends on it implicitly, through its FHIR version): the bases of the profiles."""
    if any(p.name == CORE for p in pset.packages):
        return
    versions = [v for v in pset.root.fhir_versions if v.startswith("4.0")]
    core = loader.fetch(PackageRef(CORE, versions[0] if versions else "4.0.1"))
    pset.packages.append(core)
    for entry in core.entries:
        pset.index.add(entry)
