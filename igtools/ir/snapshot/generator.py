"""The snapshot generator: bases resolved, differential elements located and merged."""

from __future__ import annotations

from collections.abc import Iterable

from igtools.ir.snapshot.facets import (
    CORE_WEB,
    FHIR_SD,
    absolute_links,
    close_type_slicing,
    extension_doco,
    inheritable,
    is_extension,
    merge_element,
    pinned,
    resource_id_typed,
    slice_minimums,
    type_slicing_problem,
    with_sources,
)
from igtools.ir.snapshot.tree import (
    Json,
    Node,
    SnapshotGenerationError,
    choice_match,
    copy_json,
    find,
    split_id,
    tree_of,
    types_of,
)
from igtools.packages.index import ResourceIndex
from igtools.packages.resources import ResourceEntry
from igtools.packages.spec import version_key

_NOT_EXPANDED = frozenset({"Extension", "Reference", "canonical"})
_BASE: Json = {
    "resourceType": "StructureDefinition",
    "url": "http://hl7.org/fhir/StructureDefinition/Base",
    "name": "Base",
    "kind": "logical",
    "abstract": True,
    "type": "Base",
    "snapshot": {
        "element": [
            {
                "id": "Base",
                "path": "Base",
                "min": 0,
                "max": "*",
                "base": {"path": "Base", "min": 0, "max": "*"},
                "isModifier": False,
            }
        ]
    },
}


def _held(package: str, deps: dict[str, str]) -> bool:
    """Whether ``package`` (``name#version``) is the version ``deps`` names."""
    name, _, version = package.partition("#")
    return deps.get(name) == version


def _backbone(node: Node) -> bool:
    """Whether ``node``'s children are its own (not those of a data type)."""
    return bool({t.get("code") for t in types_of(node.orig)} & {"BackboneElement", "Element"})


class SnapshotGenerator:
    """Computes snapshots for StructureDefinitions resolved through ``index``.

    ``pin_core_versions``: write the canonical references that elements inherited from
    the core specification make with the version of the resource they resolve to
    (``|4.0.1``, a terminology value set's own version), as recent IG Publishers do;
    ``pin_sources`` (default: as ``pin_core_versions``): the sources of the constraints
    too (``Element|4.0.1``, and the profile's own constraints with its version), as the
    publishers of 2025 on do.
    ``regenerate``: canonical URLs whose snapshot is computed even when the index holds
    one (the corpus test removes the published snapshots this way); a StructureDefinition
    without a snapshot is always computed. Results are cached by URL.
    """

    def __init__(
        self,
        index: ResourceIndex,
        regenerate: Iterable[str] = (),
        pin_core_versions: bool = False,
        pin_sources: bool | None = None,
    ) -> None:
        self.index = index
        self.regenerate = set(regenerate)
        self.pin_core_versions = pin_core_versions
        self.pin_sources = pin_core_versions if pin_sources is None else pin_sources
        self._versions: dict[str, str] = {}
        self._in_slice_scope = False  # whether the element last located is in a slice's scope
        # what the differentials get wrong without preventing a snapshot (min, max)
        self.problems: list[str] = []
        self._snapshots: dict[str, list[Json]] = {}
        self._trees: dict[str, Node] = {}
        self._in_progress: list[str] = []
        self._extra: dict[str, Json] = {}
        # per generation: the choice elements type-sliced without their [x] in the differential
        self._state: list[list[Node]] = []
        # per generation: elements sliced in the base that the differential slices again
        self._sliced_hits: list[list[Node]] = []

    # ------------------------------------------------------------------ lookups

    def add(self, sd: Json) -> None:
        """Make a StructureDefinition known (one not in the index, or a replacement)."""
        url = sd.get("url")
        if isinstance(url, str):
            self._extra[url] = sd
            self._snapshots.pop(url, None)
            self._trees.pop(url, None)

    def definition(self, url: str) -> Json | None:
        """The StructureDefinition ``url`` resolves to (another version of it when the
        version it names is not loaded), or None."""
        return self._sd(url)

    def _sd(self, url: str) -> Json | None:
        found = self._sd_entry(url)
        return found[0] if found else None

    def _sd_entry(self, url: str) -> tuple[Json, str] | None:
        """(StructureDefinition, package ``name#version`` or ``""``) for ``url``."""
        base_url = url.split("|", 1)[0]
        if base_url in self._extra:
            return self._extra[base_url], ""
        entry = self.index.resolve(url)
        if entry is None and "|" in url:  # another version than the one asked for
            entry = self.index.resolve(base_url)
        if entry is None and base_url == FHIR_SD + "Base":
            return _BASE, ""  # R5's root of every type, the base of R4 logical models
        if entry is not None and "|" not in url:
            entry = self._latest(entry)
        if entry is None or entry.resource_type != "StructureDefinition":
            return None
        return entry.data, entry.package

    def _latest(self, entry: ResourceEntry) -> ResourceEntry:
        """Among the packages defining the same URL (the core and the extensions pack, say),
        the latest version, unless the package being generated defines it."""
        root = self.index.packages[0] if self.index.packages else None
        candidates = [
            e
            for e in self.index.all_versions(str(entry.url))
            if e.resource_type == "StructureDefinition"
        ]
        if len(candidates) < 2 or (root is not None and entry.package == root.id):
            return entry
        if root is not None:
            # the version of the package the package being generated depends on (two
            # versions of a national core loaded, one through another dependency)
            deps = root.dependencies
            wanted = [e for e in candidates if _held(e.package, deps)]
            if len(wanted) == 1:
                return wanted[0]
        return max(candidates, key=lambda e: version_key(e.version or "0"))

    def _version_of(self, url: str) -> str | None:
        """The version of the conformance resource ``url`` resolves to (pinning)."""
        v = self._versions.get(url)
        if v is None:
            versions = [e.version or "" for e in self.index.all_versions(url)]
            # the latest of the loaded packages' (a terminology package's over the core's)
            v = self._versions[url] = max(versions, key=version_key) if versions else ""
        return v or None

    def snapshot_elements(self, url: str, wanted_by: str = "") -> list[Json]:
        """The snapshot elements of the StructureDefinition ``url`` (computed if needed)."""
        key = url.split("|", 1)[0]
        cached = self._snapshots.get(key)
        if cached is not None:
            return cached
        sd = self._sd(url)
        if sd is None:
            by = f" ({wanted_by})" if wanted_by else ""
            raise SnapshotGenerationError(
                f"StructureDefinition {url} not found{by}", missing=url, wanted_by=wanted_by
            )
        snap = sd.get("snapshot")
        elements = snap.get("element") if isinstance(snap, dict) else None
        if key in self.regenerate or not isinstance(elements, list) or not elements:
            elements = self.generate(sd)
        self._snapshots[key] = elements
        return elements

    def _tree(self, url: str, wanted_by: str) -> Node:
        key = url.split("|", 1)[0]
        tree = self._trees.get(key)
        if tree is None:
            elements = self.snapshot_elements(url, wanted_by)
            found = self._sd_entry(url)
            web = CORE_WEB.get(found[1].split("#")[0]) if found else None
            if found is not None:
                source = str(found[0].get("url") or url).split("|", 1)[0]
                elements = [with_sources(e, source) for e in elements]
                if elements:  # the root's status is the definition's, not inherited
                    elements = [inheritable(elements[0]), *elements[1:]]
                if found[0].get("kind") == "resource":
                    elements = [resource_id_typed(e) for e in elements]
            if web is not None:
                elements = [absolute_links(e, web) for e in elements]
                if self.pin_core_versions:
                    elements = [pinned(e, self._version_of, self.pin_sources) for e in elements]
            tree = tree_of(elements, f"StructureDefinition {url}")
            self._trees[key] = tree
        return tree

    # ------------------------------------------------------------------ generation

    def generate(self, sd: Json) -> list[Json]:
        """The snapshot elements of ``sd`` computed from its differential and base."""
        url = str(sd.get("url") or sd.get("id") or "?")
        if url in self._in_progress:
            chain = " -> ".join([*self._in_progress[self._in_progress.index(url) :], url])
            raise SnapshotGenerationError(f"circular baseDefinition chain: {chain}")
        base_url = sd.get("baseDefinition")
        if not isinstance(base_url, str) or not base_url:
            raise SnapshotGenerationError(
                f"StructureDefinition {url}: no baseDefinition to compute a snapshot from"
            )
        diff = sd.get("differential")
        diff_elements = diff.get("element") if isinstance(diff, dict) else None
        if not isinstance(diff_elements, list):
            diff_elements = []
        self._in_progress.append(url)
        try:
            base_root = self._tree(base_url, f"base of {url}").clone()
            root = self._apply(sd, base_root, [d for d in diff_elements if isinstance(d, dict)])
        finally:
            self._in_progress.pop()
        out: list[Json] = []
        self._emit(root, "", "", None, out, url)
        if sd.get("derivation") != "specialization":
            self._absolute_content_references(sd, out)
        version = sd.get("version")
        if self.pin_sources and isinstance(version, str) and isinstance(sd.get("url"), str):
            # the profile's own constraints name it with its version, as the core's do
            own = str(sd["url"])
            out = [pinned(e, lambda ref: version if ref == own else None, True) for e in out]
        return out

    def _absolute_content_references(self, sd: Json, elements: list[Json]) -> None:
        """A profile's inherited ``contentReference: #Observation.referenceRange`` names
        the definition of its type (``http://hl7.org/fhir/StructureDefinition/Observation
        #Observation.referenceRange``), as the IG Publisher writes it; a new type's own
        references stay relative."""
        sd_type = sd.get("type")
        if not isinstance(sd_type, str):
            return
        definition = sd_type if ":" in sd_type else FHIR_SD + sd_type
        if self._sd(definition) is None:
            return
        name = sd_type.rsplit("/", 1)[-1]
        for el in elements:
            ref = el.get("contentReference")
            if isinstance(ref, str) and ref.startswith(f"#{name}."):
                el["contentReference"] = definition + ref

    def _apply(self, sd: Json, root: Node, diff: list[Json]) -> Node:
        url = str(sd.get("url"))
        sd_type = sd.get("type")
        specialization = sd.get("derivation") == "specialization"
        if specialization:
            # a new type (a logical model): the base's elements under the new root name
            first = str(diff[0].get("path") or "") if diff else ""
            name = first.split(".", 1)[0] or (sd_type if isinstance(sd_type, str) else "")
            if name and name != root.name:
                root.name = name
        implicit: list[Node] = []
        sliced_in_slice: list[Node] = []
        self._state.append(implicit)
        self._sliced_hits.append([])
        try:
            for d in diff:
                eid = d.get("id")
                if not isinstance(eid, str):
                    eid = self._id_from_path(d)
                node = self._locate(root, eid, url, d, specialization)
                if self._in_slice_scope and "slicing" in d and "slicing" not in node.orig:
                    sliced_in_slice.append(node)
                fresh = node.fresh
                merge_element(
                    node,
                    d,
                    url,
                    fresh,
                    lambda u: self._profile_root(u, f"profile in {url}"),
                    self.problems,
                )
                problem = type_slicing_problem(d) if node.name.endswith("[x]") else None
                if problem is not None:
                    self.problems.append(f"StructureDefinition {url}: {eid}: {problem}")
                if (
                    node.name.endswith("[x]")
                    and "slicing" in d
                    and "slicing" not in node.orig
                    and not self._in_slice_scope
                ):
                    # the differential slices a choice itself (with or without slices):
                    # settled as any type slicing (closed, opened by a type left unsliced)
                    self._type_slicing(node)
                if node.name.endswith("[x]") and "slicing" in node.orig:
                    # constraining an inherited type slicing: type slicing is closed
                    slicing = node.el.get("slicing")
                    if isinstance(slicing, dict):
                        node.el["slicing"] = {**slicing, "rules": "closed"}
                if fresh:
                    self._expand_type_profile(node, d, url, eid)
                node.fresh = False
                node.touched = True
                node.diffs.append(d)
        finally:
            self._state.pop()
            sliced_hits = self._sliced_hits.pop()
        for node in sliced_in_slice:
            if not node.slices:  # within a slice, a slicing without slices is dropped
                node.el.pop("slicing", None)
        for node in implicit:
            close_type_slicing(node)
        for node in sliced_hits:
            # an inherited slicing the differential constrains again, without walking into
            # the sliced element: the publisher writes the element's data type children
            # (unfolded by the base) no more, only its slices
            if not node.inner and node.children and not _backbone(node):
                node.children = []
        slice_minimums(root)
        return root

    @staticmethod
    def _id_from_path(d: Json) -> str:
        path = str(d.get("path") or "")
        sl = d.get("sliceName")
        return f"{path}:{sl}" if isinstance(sl, str) and sl else path

    def _locate(self, root: Node, eid: str, url: str, d: Json, new_ok: bool) -> Node:
        segs = split_id(eid)
        if segs[0] != root.name:
            raise SnapshotGenerationError(
                f"StructureDefinition {url}: differential element {eid!r} is not below "
                f"{root.name!r}"
            )
        node = root
        in_slice = False  # below a slice, a rename constrains the [x] itself
        for seg in segs[1:]:
            name, _, sl = seg.partition(":")
            node.inner = True
            if not node.children and name:
                try:
                    self._unfold(node, url, eid)
                except SnapshotGenerationError:
                    if not new_ok:
                        raise  # a logical model's elements are its own
            if node.unfolded:
                in_slice = False  # a data type's children: a scope of their own
            child = node.child(name)
            if child is None:
                match = choice_match(node, name)
                if match is not None:
                    child, code = match
                    if not sl and (in_slice or len(types_of(child.el)) == 1):
                        # valueQuantity for value[x] of one type, or in a slice: itself
                        child.el["type"] = [
                            t for t in types_of(child.el) if t.get("code") == code
                        ] or [{"code": code}]
                        node = child
                        continue
                    self._type_slicing(child)
                    sl = sl or name
                    node = self._slice(child, sl, url, eid)
                    node.el["type"] = [
                        copy_json(t) for t in types_of(node.el) if t.get("code") == code
                    ] or [{"code": code}]
                    continue
                if new_ok:
                    child = Node({}, name)
                    node.children.append(child)
                else:
                    raise SnapshotGenerationError(
                        f"StructureDefinition {url}: differential element {eid!r}: "
                        f"no element {name!r} in the base definition"
                    )
            node = child
            if "slicing" in node.orig and node not in self._sliced_hits[-1]:
                self._sliced_hits[-1].append(node)
            if sl:
                if name.endswith("[x]"):
                    self._type_slicing(node)
                node = self._slice(node, sl, url, eid)
                in_slice = True
        self._in_slice_scope = in_slice
        return node

    def _expand_type_profile(self, node: Node, d: Json, url: str, eid: str) -> None:
        """A new slice typed with a data type profile is written out in full (the
        profile's elements are what tells the slice apart)."""
        types = types_of(d)
        if (
            node.children
            or node.name.endswith("[x]")
            or len(types) != 1
            or types[0].get("code") in _NOT_EXPANDED
        ):
            return
        profiles = types[0].get("profile") or []
        sd = self._sd(str(profiles[0])) if profiles else None
        if sd is not None and sd.get("kind") == "complex-type":
            self._unfold(node, url, eid)

    def _type_slicing(self, node: Node) -> None:
        """A choice element the differential slices by type (settled by
        :func:`close_type_slicing` once the whole differential is applied)."""
        if "slicing" in node.orig:
            return  # already sliced in the base
        pending = self._state[-1]
        if node not in pending:
            pending.append(node)
        node.el["slicing"] = {
            "discriminator": [{"type": "type", "path": "$this"}],
            "ordered": False,
            "rules": "closed",
        }

    def _slice(self, node: Node, sl: str, url: str, eid: str) -> Node:
        parts = sl.split("/")
        cur = node
        for i in range(len(parts)):
            name = "/".join(parts[: i + 1])
            found = cur.slice(name)
            if found is None:
                if cur is node and "slicing" not in node.el and is_extension(node.el):
                    # slices without a slicing entry: extensions are sliced by url
                    extension_doco(node.el)
                    node.el["slicing"] = {
                        "discriminator": [{"type": "value", "path": "url"}],
                        "ordered": False,
                        "rules": "open",
                    }
                if cur is node and not node.touched:
                    node.auto_sliced = True  # slices without their slicing entry
                found = cur.clone(with_slices=False)
                if cur is node and "slicing" in node.orig and not _backbone(node):
                    # a new slice of a base slicing: its data type's children are unfolded
                    # afresh, not taken from the slicing entry's
                    found.children = []
                    found.orig_children = []
                found.el.pop("slicing", None)
                found.el["sliceName"] = name
                found.orig = dict(found.el)
                found.intro = cur
                cur.slices.append(found)
                found.fresh = True
            cur = found
        return cur

    def _unfold(self, node: Node, url: str, eid: str) -> None:
        """Give ``node`` the children of its type (or of the element it references)."""
        ref = node.el.get("contentReference")
        if isinstance(ref, str) and "#" in ref:
            target_id = ref.split("#", 1)[1]
            type_name = target_id.split(".", 1)[0]
            target = find(self._tree(FHIR_SD + type_name, f"referenced by {url} {eid}"), target_id)
            if target is None:
                raise SnapshotGenerationError(
                    f"StructureDefinition {url}: {eid}: contentReference {ref} not found"
                )
            node.children = [c.clone() for c in target.orig_children]
            node.unfolded = True
            node.el.pop("contentReference", None)
            node.el["type"] = copy_json(target.orig.get("type") or [])
            return
        intro = node.intro
        if (
            intro is not None
            and intro.unfolded
            and intro.inner
            and intro.children
            and types_of(node.el) == types_of(intro.el)
        ):
            # a slice of an element the differential constrained inside: from those
            node.children = [c.copy_current() for c in intro.children]
            node.unfolded = True
            return
        types = types_of(node.el)
        profiles: list[str] = []
        if len(types) == 1:
            t = types[0]
            profiles = [p for p in t.get("profile") or [] if isinstance(p, str)]
            code = str(t.get("code") or "")
            type_url = profiles[0] if profiles else (code if ":" in code else FHIR_SD + code)
            if profiles and self._sd(type_url) is None:
                type_url = FHIR_SD + code
        elif types:  # several types: only the children common to all (Element's)
            type_url = FHIR_SD + "Element"
        else:
            raise SnapshotGenerationError(
                f"StructureDefinition {url}: differential element {eid!r} constrains below "
                "an element that has no type"
            )
        tree = self._tree(type_url, f"type of {eid} in {url}")
        node.children = [c.clone() for c in tree.orig_children]
        node.unfolded = True
        if intro is not None and intro.unfolded and intro.inner and profiles:
            # a slice typed with a data type profile, of an element the differential
            # constrained inside: the profile's children, then those constraints again
            self._reapply(intro.children, node.children, url)

    def _reapply(self, constrained: list[Node], target: list[Node], url: str) -> None:
        """Merge the differential elements applied to ``constrained`` (and below) onto the
        children of the same names in ``target``."""
        for c in constrained:
            t = next((x for x in target if x.name == c.name), None)
            if t is None:
                continue
            for d in c.diffs:
                merge_element(
                    t,
                    d,
                    url,
                    False,
                    lambda u: self._profile_root(u, f"profile in {url}"),
                    self.problems,
                )
            if c.children and t.children:
                self._reapply(c.children, t.children, url)

    def _profile_root(self, url: str, wanted_by: str) -> Json | None:
        """The root element of the profile ``url`` names (None if unknown); a resource
        profile's root without its constraints (they do not apply to it as an element)."""
        sd = self._sd(url)
        if sd is None:
            return None
        elements = self.snapshot_elements(url, wanted_by)
        if not elements:
            return None
        if sd.get("kind") == "resource":
            return {k: v for k, v in elements[0].items() if k != "constraint"}
        return elements[0]

    # ------------------------------------------------------------------ output

    def _emit(
        self,
        node: Node,
        parent_path: str,
        parent_id: str,
        slice_of: str | None,
        out: list[Json],
        url: str,
    ) -> None:
        el = copy_json(node.el)
        path = f"{parent_path}.{node.name}" if parent_path else node.name
        stem = f"{parent_id}.{node.name}" if parent_id else node.name
        sl = el.get("sliceName")
        eid = f"{slice_of}:{sl}" if slice_of is not None and isinstance(sl, str) else stem
        el["id"] = eid
        el["path"] = path
        if "base" not in el:
            orig = node.orig
            el["base"] = {
                "path": orig.get("path") or path,
                "min": orig.get("min", 0),
                "max": orig.get("max", "*"),
            }
        # id and path first, as the publisher writes them
        ordered = {"id": eid, **{k: v for k, v in el.items() if k != "id"}}
        out.append(ordered)
        for c in node.children:
            self._emit(c, path, eid, None, out, url)
        for s in node.slices:
            self._emit(s, parent_path, parent_id, slice_of if slice_of else stem, out, url)


def generate_snapshot(sd: Json, index: ResourceIndex) -> list[Json]:
    """The snapshot elements of one StructureDefinition (its base resolved in ``index``)."""
    gen = SnapshotGenerator(index)
    gen.add(sd)
    return gen.generate(sd)
