"""Build the IR of a package set once: profiles, extensions, terminology, capabilities."""

from __future__ import annotations

import logging

from igtools.ir.capabilities import (
    DependencySearchParams,
    build_capability,
    search_param_from_resource,
)
from igtools.ir.model import IG, Example, Extension, Profile
from igtools.ir.profiles import SnapshotError, build_profile
from igtools.ir.terminology import Terminology, core_code_list
from igtools.packages import PackageSet

log = logging.getLogger(__name__)


class IRBuilder:
    def __init__(self, pset: PackageSet) -> None:
        self.pset = pset
        self.index = pset.index
        self.terminology = Terminology(self.index)
        self.extensions: dict[str, Extension] = {}
        self._ext_profiles: dict[str, Profile | None] = {}
        self._profiles: dict[str, Profile | None] = {}
        self.warnings: list[str] = []
        # differential-only StructureDefinitions (a SUSHI output folder): snapshots computed
        # in memory, kept in the index for every later use
        from igtools.ir.snapshot.fill import fill_missing_snapshots

        sources = [p for p in pset.packages if p is pset.root or p.origin == "source-folder"]
        self.warnings.extend(
            fill_missing_snapshots(self.index, [e for p in sources for e in p.entries])
        )

    def extension(self, url: str) -> Extension | None:
        """The extension definition at ``url`` from anywhere in the package set."""
        key = url.partition("|")[0]
        if key in self.extensions:
            return self.extensions[key]
        if key in self._ext_profiles:
            return None
        self._ext_profiles[key] = None  # guards recursive definitions
        prof = self._build(url)
        if prof is None:
            return None
        self._ext_profiles[key] = prof
        if prof.extension is not None:
            self.extensions[key] = prof.extension
        return prof.extension

    def profile(self, url: str) -> Profile | None:
        """Any StructureDefinition of the package set (a dependency's profile, a base
        resource of hl7.fhir.r4.core) by canonical URL (``|version`` allowed), built and
        bound on first use; None when no loaded package defines it."""
        key = url
        if key in self._profiles:
            return self._profiles[key]
        self._profiles[key] = None
        prof = self._build(url)
        if prof is None:
            return None
        self._bind(prof)
        self._profiles[key] = prof
        return prof

    def _build(self, url: str) -> Profile | None:
        """The IR of the StructureDefinition at ``url`` in the package set (unbound);
        None, with a warning naming its file when it cannot be read, otherwise."""
        entry = self.index.resolve(url)
        if entry is None or entry.resource_type != "StructureDefinition":
            return None
        try:
            return build_profile(entry.data, entry.package, self.extension)
        except SnapshotError as exc:
            self.warnings.append(f"{entry.path}: {exc}; skipped")
            return None

    def sd_type(self, url: str) -> str | None:
        """The type a StructureDefinition of the package set constrains (cheap: no IR)."""
        entry = self.index.resolve(url)
        if entry is None or entry.resource_type != "StructureDefinition":
            return None
        t = entry.data.get("type")
        return t if isinstance(t, str) else None

    def _bind(self, profile: Profile) -> None:
        for el in profile.elements():
            b = el.binding
            if b is None or b.value_set is None:
                continue
            vs = self.terminology.value_set(b.value_set)
            if vs is not None and vs.codes is not None:
                b.codes, b.complete, b.note = vs.codes, vs.complete, vs.note
                b.open_systems = vs.open_systems
                if vs.complete or not (b.strength == "required" and "code" in el.type_codes):
                    continue
            core = None
            if b.strength == "required" and "code" in el.type_codes:
                core = core_code_list(el.base_path)
            if core is not None:
                from igtools.ir.model import Concept

                b.codes = [Concept(None, c) for c in core]
                b.complete = True
                b.open_systems = []
                b.note = "codes of the R4 base definition (its value set, expanded from the core)"
            elif b.codes is not None:
                continue
            else:
                b.note = (
                    f"value set {b.value_set} not found in the package set"
                    if vs is None
                    else vs.note
                )

    def build(self) -> IG:
        pset = self.pset
        root = pset.root
        profiles: dict[str, Profile] = {}
        for entry in self.index.of_type("StructureDefinition", root.id):
            try:
                prof = build_profile(entry.data, entry.package, self.extension)
            except SnapshotError as exc:
                self.warnings.append(f"{entry.path}: {exc}; skipped")
                continue
            if prof.extension is not None:
                self.extensions.setdefault(prof.url, prof.extension)
            self._bind(prof)
            self.warnings.extend(prof.warnings)
            profiles[prof.url] = prof
        value_sets = {}
        for entry in self.index.of_type("ValueSet", root.id):
            vs = self.terminology.value_set(str(entry.url))
            if vs is not None:
                value_sets[vs.url] = vs
        for prof in profiles.values():
            for el in prof.elements():
                if el.binding and el.binding.value_set:
                    vs = self.terminology.value_set(el.binding.value_set)
                    if vs is not None:
                        value_sets.setdefault(vs.url, vs)
        code_systems = {}
        for entry in self.index.of_type("CodeSystem", root.id):
            cs = self.terminology.code_system(str(entry.url))
            if cs is not None:
                code_systems[cs.url] = cs
        search_params = {
            str(e.url): search_param_from_resource(e.data)
            for e in self.index.of_type("SearchParameter", root.id)
        }
        capabilities = [
            build_capability(e, self.index)
            for e in self.index.of_type("CapabilityStatement", root.id)
        ]
        examples = [
            Example(e.resource_type, e.id, e.package, e.path, e.claimed_profiles, e.data)
            for e in self.index.examples_of(root.id)
        ]
        return IG(
            package=root.id,
            name=root.name,
            version=root.version,
            title=root.title,
            canonical=root.canonical,
            profiles=dict(sorted(profiles.items())),
            extensions=dict(sorted(self.extensions.items())),
            value_sets=dict(sorted(value_sets.items())),
            code_systems=dict(sorted(code_systems.items())),
            search_params=dict(sorted(search_params.items())),
            capabilities=sorted(capabilities, key=lambda c: str(c.id)),
            examples=sorted(examples, key=lambda x: (x.resource_type, str(x.id))),
            warnings=sorted(set(self.warnings)),
            dependency_search_params=DependencySearchParams(self.index, root.id),
        )


def build_ir(pset: PackageSet) -> IG:
    """The IR of ``pset``'s root package (dependencies are consulted, not rendered)."""
    return IRBuilder(pset).build()
