"""Compare computed snapshots with published ones (the measure of :mod:`igtools.ir.snapshot`).

For every StructureDefinition of a package that has both a differential and a snapshot,
the snapshot is recomputed from the differential (the package's own profiles are all
recomputed, so a profile deriving from another of the package uses the computed base) and
compared element by element with the published one on the facets that matter to igtools.

``python -m igtools.ir.snapshot_compare --package-dir DIR [PACKAGE ...]`` prints
"identical / total" per package and, with ``-v``, the differences.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from igtools.errors import IgtoolsError
from igtools.ir.snapshot import FHIR_SD, SnapshotGenerationError, SnapshotGenerator
from igtools.ir.snapshot.facets import FHIR_TYPE_EXT
from igtools.ir.snapshot.reasons import UNEXPLAINED, Context, Difference, reasons
from igtools.packages.index import ResourceIndex
from igtools.packages.spec import version_key

Json = dict[str, Any]

_PREFIXES = ("fixed", "pattern")


@dataclass
class ProfileResult:
    url: str
    differences: list[str] = field(default_factory=list)
    error: str | None = None
    # why it differs: "base missing: <canonical>", or the classes of its differences
    # (igtools.ir.snapshot.reasons); empty when identical
    reasons: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.error is None and not self.differences

    @property
    def comparable(self) -> bool:
        """Whether a snapshot could be generated (its base chain is loaded)."""
        return self.error is None

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    @property
    def unexplained(self) -> bool:
        return any(r.startswith(UNEXPLAINED) for r in self.reasons)


def reason_class(reason: str) -> str:
    """The class of a reason, for counting: the canonical kept for a missing definition,
    the element left out of an unexplained difference, the wanting profile dropped."""
    if reason.startswith(UNEXPLAINED):
        return UNEXPLAINED
    if reason.startswith("error:"):
        return "error"
    return reason.split(" (", 1)[0] if "missing" in reason.split(":", 1)[0] else reason


def _types(el: Json) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """(code, profiles, target profiles) of each type; a FHIRPath system type with the FHIR
    type its extension names (``System.String`` of a resource's ``id`` is ``id``)."""
    out = []
    for t in el.get("type") or []:
        if isinstance(t, dict):
            code = str(t.get("code"))
            for x in t.get("extension") or []:
                if isinstance(x, dict) and x.get("url") == FHIR_TYPE_EXT:
                    code = f"{code} ({x.get('valueUrl')})"
            out.append(
                (
                    code,
                    tuple(t.get("profile") or ()),
                    tuple(t.get("targetProfile") or ()),
                )
            )
    return out


def _prefixed(el: Json) -> dict[str, Any]:
    return {
        k: v
        for k, v in el.items()
        for p in _PREFIXES
        if k.startswith(p) and k[len(p) : len(p) + 1].isupper()
    }


def _binding(el: Json) -> tuple[Any, Any] | None:
    b = el.get("binding")
    if not isinstance(b, dict):
        return None
    return b.get("strength"), b.get("valueSet")


def _base(el: Json) -> tuple[Any, Any, Any] | None:
    b = el.get("base")
    if not isinstance(b, dict):
        return None
    return b.get("path"), b.get("min"), b.get("max")


def _slicing(el: Json) -> Any:
    s = el.get("slicing")
    if not isinstance(s, dict):
        return None
    return (
        [(d.get("type"), d.get("path")) for d in s.get("discriminator") or []],
        s.get("rules"),
        bool(s.get("ordered")),
    )


def _text(value: Any) -> Any:
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else value


FACETS: dict[str, Any] = {
    "min": lambda e: e.get("min"),
    "max": lambda e: e.get("max"),
    "type": _types,
    "binding": _binding,
    "fixed/pattern": _prefixed,
    "constraint": lambda e: sorted(
        str(c.get("key")) for c in e.get("constraint") or [] if isinstance(c, dict)
    ),
    "mustSupport": lambda e: bool(e.get("mustSupport")),
    "isModifier": lambda e: bool(e.get("isModifier")),
    "slicing": _slicing,
    "sliceName": lambda e: e.get("sliceName"),
    "short": lambda e: _text(e.get("short")),
    "definition": lambda e: _text(e.get("definition")),
    "maxLength": lambda e: e.get("maxLength"),
    "base": _base,
    "contentReference": lambda e: e.get("contentReference"),
}


def diff_elements(generated: list[Json], published: list[Json]) -> list[Difference]:
    """Differences between two snapshots' element lists (empty when identical)."""
    gen_ids = [str(e.get("id")) for e in generated]
    pub_ids = [str(e.get("id")) for e in published]
    out: list[Difference] = []
    if gen_ids != pub_ids:
        gen_set, pub_set = set(gen_ids), set(pub_ids)
        missing = tuple(i for i in pub_ids if i not in gen_set)
        extra = tuple(i for i in gen_ids if i not in pub_set)
        if missing:
            out.append(Difference("missing", ids=missing))
        if extra:
            out.append(Difference("extra", ids=extra))
        if not missing and not extra:
            first = next(i for i, (a, b) in enumerate(zip(gen_ids, pub_ids, strict=True)) if a != b)
            out.append(
                Difference("order", f"#{first}", generated=gen_ids[first], published=pub_ids[first])
            )
    gen_by_id = {str(e.get("id")): e for e in generated}
    for pub in published:
        gen = gen_by_id.get(str(pub.get("id")))
        if gen is None:
            continue
        for facet, get in FACETS.items():
            a, b = get(gen), get(pub)
            if a != b:
                out.append(Difference("facet", str(pub.get("id")), facet, a, b))
    return out


def compare_elements(generated: list[Json], published: list[Json]) -> list[str]:
    """Differences between two snapshots' element lists, as text (empty when identical)."""
    return [str(d) for d in diff_elements(generated, published)]


def _has_both(sd: Json) -> bool:
    snap, diff = sd.get("snapshot"), sd.get("differential")
    return (
        isinstance(snap, dict)
        and bool(snap.get("element"))
        and isinstance(diff, dict)
        and bool(diff.get("element"))
    )


def pins_core(sds: list[Json]) -> bool:
    """Whether the published snapshots version their references to core profiles.

    Recent IG Publishers write ``Reference(http://hl7.org/fhir/StructureDefinition/X|4.0.1)``
    in what profiles inherit from the core; this cannot be told from a differential.
    """
    for sd in sds:
        for el in sd["snapshot"]["element"]:
            for t in el.get("type") or []:
                for ref in t.get("targetProfile") or []:
                    if isinstance(ref, str) and ref.startswith(FHIR_SD) and "|" in ref:
                        return True
    return False


def pins_sources(sds: list[Json]) -> bool:
    """Whether the published snapshots version the sources of the constraints inherited
    from the core (``http://hl7.org/fhir/StructureDefinition/Element|4.0.1``): the
    publishers of 2025 on do, those that only version references do not (most of them:
    the elements of the cross-version extensions a publisher synthesizes are versioned
    whatever its habit)."""
    pinned = unpinned = 0
    for sd in sds:
        for el in sd["snapshot"]["element"]:
            for c in el.get("constraint") or []:
                source = c.get("source") if isinstance(c, dict) else None
                if isinstance(source, str) and source.startswith(FHIR_SD):
                    if "|" in source:
                        pinned += 1
                    else:
                        unpinned += 1
    return pinned > unpinned


def compare_package(index: ResourceIndex, package: str) -> list[ProfileResult]:
    """Recompute and compare every StructureDefinition of ``package`` (``name#version``)."""
    sds = [e.data for e in index.of_type("StructureDefinition", package) if _has_both(e.data)]
    gen = SnapshotGenerator(
        index,
        regenerate=[str(sd.get("url")) for sd in sds],
        pin_core_versions=pins_core(sds),
        pin_sources=pins_sources(sds),
    )
    results = []
    for sd in sds:
        url = str(sd.get("url"))
        result = ProfileResult(url)
        try:
            generated = gen.snapshot_elements(url)
        except SnapshotGenerationError as exc:
            result.error = str(exc)
            if exc.missing is not None:
                why = "base missing" if exc.wanted_by.startswith("base of") else "missing"
                where = "" if exc.wanted_by == f"base of {url}" else f" ({exc.wanted_by})"
                result.reasons = [f"{why}: {exc.missing}{where}"]
            else:
                result.reasons = [f"error: {exc}"]
        except IgtoolsError as exc:
            result.error = str(exc)
            result.reasons = [f"error: {exc}"]
        else:
            published = sd["snapshot"]["element"]
            differences = diff_elements(generated, published)
            result.differences = [str(d) for d in differences]
            if differences:
                result.reasons = _reasons(gen, sd, generated, published, differences)
        results.append(result)
    return results


def _reasons(
    gen: SnapshotGenerator,
    sd: Json,
    generated: list[Json],
    published: list[Json],
    differences: list[Difference],
) -> list[str]:
    """Why ``sd``'s generated snapshot differs (:mod:`igtools.ir.snapshot.reasons`)."""
    base = sd.get("baseDefinition")
    if isinstance(base, str) and "|" in base:
        found = gen.definition(base)
        version = found.get("version") if found else None
        if found is not None and version != base.split("|", 1)[1]:
            return [f"base version: {base} not held, {version} stood in"]
    ctx = Context(
        sd,
        {str(e.get("id")): e for e in generated},
        {str(e.get("id")): e for e in published},
        gen.definition,
    )
    return reasons(differences, ctx, FACETS)


def load_package_index(
    package_dir: Path, arg: str, cache: Path, substitutes: dict[str, str] | None = None
) -> tuple[ResourceIndex, str]:
    """The index of package ``arg`` (``name#version``), its dependencies and the core.

    ``substitutes``: package name -> the version standing in for a dependency version
    ``package_dir`` does not hold (default: the only version it holds of that package)."""
    from igtools.packages import PackageLoader, Settings

    if substitutes is None:
        substitutes = held_versions(package_dir)
    loader = PackageLoader(
        Settings(cache_dir=cache, package_dirs=[package_dir], offline=True, substitutes=substitutes)
    )
    pset = loader.load(arg)
    if not any(p.name == "hl7.fhir.r4.core" for p in pset.packages):
        core = loader.fetch(_core_ref())
        pset.index = ResourceIndex([*pset.packages, core])
    return pset.index, pset.root.id


def _core_ref() -> Any:
    from igtools.packages.spec import PackageRef

    return PackageRef("hl7.fhir.r4.core", "4.0.1")


def held_versions(folder: Path) -> dict[str, str]:
    """``name#wanted`` -> the version ``folder`` holds, for the dependency versions its
    packages declare that it does not hold but holds another of the same major version
    (the extensions pack 5.3.0 for 5.2.0; not 5.3.0 for 1.0.0, whose texts differ)."""
    archives = tuple(
        (str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*.tgz"))
    )
    return dict(_held_versions(archives))


@functools.lru_cache(maxsize=4)
def _held_versions(archives: tuple[tuple[str, int, int], ...]) -> tuple[tuple[str, str], ...]:
    import json
    import tarfile

    held: dict[str, list[str]] = {}
    wanted: set[tuple[str, str]] = set()
    for path, _, _ in archives:
        tgz = Path(path)
        try:
            with tarfile.open(tgz) as tar:
                member = tar.extractfile("package/package.json")
                manifest = json.loads(member.read()) if member is not None else {}
        except (OSError, KeyError, tarfile.TarError, ValueError):
            continue
        name, version = manifest.get("name"), manifest.get("version")
        if isinstance(name, str) and isinstance(version, str):
            held.setdefault(name, []).append(version)
        for dep, v in (manifest.get("dependencies") or {}).items():
            if isinstance(v, str):
                wanted.add((dep, v))
    out: dict[str, str] = {}
    for dep, v in sorted(wanted):
        versions = held.get(dep) or []
        if v in versions:
            continue
        same_major = [h for h in versions if h.split(".")[0] == v.split(".")[0]]
        if same_major:
            out[f"{dep}#{v}"] = max(same_major, key=version_key)
    return tuple(out.items())


def packages_in(folder: Path) -> list[str]:
    """``name#version`` of every package archive of ``folder`` (but the core)."""
    out = []
    for p in sorted(folder.glob("*.tgz")):
        stem = p.name[: -len(".tgz")]
        name, _, version = stem.partition("-")
        while version and not version[:1].isdigit():
            more, _, version = version.partition("-")
            name = f"{name}-{more}"
        if name != "hl7.fhir.r4.core":
            out.append(f"{name}#{version}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m igtools.ir.snapshot_compare")
    parser.add_argument("--package-dir", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("-v", "--verbose", action="count", default=0)
    parser.add_argument("packages", nargs="*", help="name#version (default: every .tgz)")
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache_dir or Path(tmp)
        total_same = total = 0
        for arg in args.packages or packages_in(args.package_dir):
            index, pkg_id = load_package_index(args.package_dir, arg, cache)
            start = time.perf_counter()
            results = compare_package(index, pkg_id)
            took = time.perf_counter() - start
            same = sum(r.identical for r in results)
            total_same += same
            total += len(results)
            print(f"{pkg_id:55} {same:4d} / {len(results):4d} identical  ({took:.2f} s)")
            if args.verbose:
                for r in results:
                    if r.identical:
                        continue
                    print(f"  {r.url}: {r.reason}")
                    for line in ([r.error] if r.error else r.differences)[: 10 * args.verbose]:
                        print(f"    {line}")
        print(f"{'total':55} {total_same:4d} / {total:4d} identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
