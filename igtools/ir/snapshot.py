"""Snapshots from differentials, as the IG Publisher computes them.

A StructureDefinition written by SUSHI (or by hand) carries only a differential: the
elements it constrains. Its snapshot is the full element list of its base definition with
those constraints applied (HL7 ``ProfileUtilities.generateSnapshot``):

- the base's snapshot is laid out as a tree (children, then slices, of each element);
- each differential element is located in that tree by its id, unfolding a data type's
  children from the type's own StructureDefinition (or from the profile named by
  ``type.profile``: an extension slice's children come from the extension's definition)
  and creating slices (a copy of the base element and its children) on the way;
- its facets are merged onto the base element (cardinality, types, binding,
  fixed/pattern, constraints appended, texts, flags...);
- the tree is written back in order: an element, its children, then its slices.

Bases are resolved through a :class:`~igtools.packages.index.ResourceIndex`; a base
without a snapshot (another differential-only profile) is generated first, and a circular
or broken chain is an error naming the profiles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from igtools.errors import IgtoolsError
from igtools.packages.index import ResourceIndex

Json = dict[str, Any]

FHIR_SD = "http://hl7.org/fhir/StructureDefinition/"
# Where the specification's pages live: relative links in the texts of its definitions
# become absolute when a profile inherits them (as the IG Publisher writes them).
CORE_WEB = {"hl7.fhir.r4.core": "http://hl7.org/fhir/R4/"}
_LINK = re.compile(r"\]\(([^)]*)\)")
_MARKDOWN = ("definition", "comment", "requirements", "meaningWhenMissing")

# Facets of a differential element that replace the base's value.
_REPLACED = (
    "label",
    "min",
    "max",
    "meaningWhenMissing",
    "orderMeaning",
    "maxLength",
    "mustSupport",
    "isModifier",
    "isModifierReason",
    "isSummary",
    "sliceIsConstraining",
    "contentReference",
    "representation",
    "short",
)
_TEXTS = ("definition", "comment", "requirements")
_PREFIXED = ("fixed", "pattern", "minValue", "maxValue", "defaultValue")


class SnapshotGenerationError(IgtoolsError):
    """A snapshot cannot be computed (no base, a broken chain, a bad differential)."""


def _copy(value: Any) -> Any:
    """A deep copy of JSON data (faster than :func:`copy.deepcopy`)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class Node:
    """One element of the snapshot being built, with its children and slices.

    ``orig`` is the element as its source (base snapshot or data type) defines it, and
    ``orig_children`` / ``orig_slices`` the structure it came with: a new slice is a copy
    of that, not of the element as the differential has changed it.
    """

    __slots__ = (
        "auto_sliced",
        "children",
        "el",
        "fresh",
        "name",
        "orig",
        "orig_children",
        "orig_slices",
        "slices",
        "touched",
    )

    def __init__(self, orig: Json, name: str) -> None:
        self.orig = orig
        self.el: Json = dict(orig)
        self.name = name
        self.children: list[Node] = []
        self.slices: list[Node] = []
        self.orig_children: list[Node] = []
        self.orig_slices: list[Node] = []
        self.fresh = False  # a slice created for the differential element at hand
        self.touched = False  # constrained by the differential being applied
        self.auto_sliced = False  # slicing added for slices the differential did not introduce

    def freeze(self) -> None:
        """Record the current structure as the original one (after building a tree)."""
        self.orig_children = list(self.children)
        self.orig_slices = list(self.slices)
        for n in self.children:
            n.freeze()
        for n in self.slices:
            n.freeze()

    def clone(self, with_slices: bool = True) -> Node:
        """A fresh copy of the original structure below this node."""
        out = Node(self.orig, self.name)
        out.children = [c.clone() for c in self.orig_children]
        if with_slices:
            out.slices = [s.clone() for s in self.orig_slices]
        out.orig_children = list(out.children)
        out.orig_slices = list(out.slices)
        return out

    def child(self, name: str) -> Node | None:
        for c in self.children:
            if c.name == name:
                return c
        return None

    def slice(self, name: str) -> Node | None:
        for s in self.slices:
            if s.el.get("sliceName") == name:
                return s
        return None


def split_id(eid: str) -> list[str]:
    """``Patient.identifier:a.b.c`` -> segments; dots inside slice names kept (``a.b``)."""
    out: list[str] = []
    cur = ""
    in_slice = False
    for ch in eid:
        if ch == "." and not in_slice:
            out.append(cur)
            cur = ""
            continue
        if ch == ":":
            in_slice = True
        elif ch == "." and in_slice:
            # a dot in a slice name is rare; one followed by a lowercase path name ends it
            in_slice = False
            out.append(cur)
            cur = ""
            continue
        cur += ch
    out.append(cur)
    return out


def _parent_key(eid: str) -> tuple[str | None, bool]:
    head, dot, last = eid.rpartition(".")
    if ":" in last:
        name, _, slice_name = last.partition(":")
        if "/" in slice_name:
            return f"{head}{dot}{name}:{slice_name.rsplit('/', 1)[0]}", True
        return f"{head}{dot}{name}", True
    return (head or None), False


def tree_of(elements: list[Json], where: str) -> Node:
    """The snapshot elements of a StructureDefinition as a tree (by element id)."""
    if not elements:
        raise SnapshotGenerationError(f"{where}: empty snapshot")
    first = elements[0]
    root = Node(first, str(first.get("path") or ""))
    by_id: dict[str, Node] = {str(first.get("id") or first.get("path")): root}
    by_path: dict[str, Node] = {str(first.get("path")): root}
    for raw in elements[1:]:
        path = str(raw.get("path") or "")
        node = Node(raw, path.rsplit(".", 1)[-1])
        eid = raw.get("id")
        if isinstance(eid, str):
            parent_key, is_slice = _parent_key(eid)
            parent = by_id.get(parent_key) if parent_key else None
        else:  # pre-R4 snapshots have no ids: by path and slice name
            is_slice = bool(raw.get("sliceName"))
            parent = by_path.get(path) if is_slice else by_path.get(path.rsplit(".", 1)[0])
            eid = path
        if parent is None:
            raise SnapshotGenerationError(f"{where}: element {eid!r} has no parent in the snapshot")
        (parent.slices if is_slice else parent.children).append(node)
        by_id[eid] = node
        if not is_slice:
            by_path.setdefault(path, node)
    root.freeze()
    return root


def _find(root: Node, eid: str) -> Node | None:
    segs = split_id(eid)
    if segs[0] != root.name:
        return None
    node: Node | None = root
    for seg in segs[1:]:
        if node is None:
            return None
        name, _, sl = seg.partition(":")
        node = node.child(name)
        if node is not None and sl:
            node = node.slice(sl)
    return node


def _absolute_link(match: re.Match[str], web: str) -> str:
    url = match.group(1)
    if not url or url.startswith("..") or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url):
        return match.group(0)
    return f"]({web}{url})"


def _absolute_links(el: Json, web: str) -> Json:
    """``el`` with the relative links of its markdown made absolute (below ``web``)."""
    out = dict(el)
    for key in _MARKDOWN:
        text = out.get(key)
        if isinstance(text, str) and "](" in text:
            out[key] = _LINK.sub(lambda m: _absolute_link(m, web), text)
    b = out.get("binding")
    if isinstance(b, dict) and isinstance(b.get("description"), str) and "](" in b["description"]:
        out["binding"] = {
            **b,
            "description": _LINK.sub(lambda m: _absolute_link(m, web), b["description"]),
        }
    return out


_BINDABLE = frozenset(
    {"Coding", "CodeableConcept", "Quantity", "uri", "string", "code", "CodeableReference"}
)


def _bindable(el: Json) -> bool:
    return any(t.get("code") in _BINDABLE for t in _types(el))


def _merge_slicing(base: Any, diff: Json) -> Json:
    """``updateFromSlicing``: ordered and rules replaced, discriminators added."""
    out = _copy(base) if isinstance(base, dict) else {}
    if "ordered" in diff:
        out["ordered"] = diff["ordered"]
    discs = list(out.get("discriminator") or [])
    for dd in diff.get("discriminator") or []:
        if not any(
            x.get("type") == dd.get("type") and x.get("path") == dd.get("path") for x in discs
        ):
            discs.append(_copy(dd))
    if discs:
        out["discriminator"] = discs
    for key in ("rules", "description"):
        if key in diff:
            out[key] = diff[key]
    if isinstance(base, dict) and base.get("rules") == "closed":
        out["rules"] = "closed"  # a closed slicing stays closed
    return out


def _fill_out_from_base(profile: Json, usage: Json) -> Json:
    """``fillOutFromBase``: a profile's root element completed from the element it fills."""
    res = profile
    for key in (
        "sliceName",
        "label",
        "definition",
        "short",
        "comment",
        "requirements",
        "min",
        "max",
        "example",
        "maxLength",
        "mustSupport",
        "binding",
    ):
        if key not in res and key in usage:
            res[key] = _copy(usage[key])
    for prefix in ("fixed", "pattern", "minValue", "maxValue"):
        if not any(k.startswith(prefix) for k in res):
            for k, v in usage.items():
                if k.startswith(prefix):
                    res[k] = _copy(v)
    for key in ("code", "alias"):
        for v in usage.get(key) or []:
            if v not in res.setdefault(key, []):
                res[key].append(_copy(v))
    have = {c.get("key") for c in res.get("constraint") or [] if isinstance(c, dict)}
    for c in usage.get("constraint") or []:
        if isinstance(c, dict) and c.get("key") not in have:
            res.setdefault("constraint", []).append(_copy(c))
    urls = {e.get("url") for e in res.get("extension") or [] if isinstance(e, dict)}
    for e in usage.get("extension") or []:
        if isinstance(e, dict) and e.get("url") not in urls:
            res.setdefault("extension", []).append(_copy(e))
    res["base"] = _copy(usage.get("base"))
    res["path"] = usage.get("path")
    return res


def _ext_profile(t: Json) -> bool:
    return t.get("code") == "Extension" and bool(t.get("profile"))


def _close_type_slicing(node: Node) -> None:
    """Type slicing of a choice element (``processSimplePathWhereDiffsConstrainTypes``):
    closed, a required slice makes the element required and of that type only, and types
    left without a slice either open the slicing or, in an extension's value, go away."""
    node.el["slicing"] = {
        "discriminator": [{"type": "type", "path": "$this"}],
        "ordered": False,
        "rules": "closed",
    }
    fixed = None
    for sl in node.slices:
        m = sl.el.get("min")
        if isinstance(m, int) and m > 0:
            node.el["min"] = 1
            types = _types(sl.el)
            fixed = types[0].get("code") if len(types) == 1 else None
    if fixed is not None:
        node.el["type"] = [t for t in _types(node.el) if t.get("code") == fixed]
    if node.el.get("max") != "0":
        sliced = {t.get("code") for sl in node.slices for t in _types(sl.el)}
        unsliced = [t for t in _types(node.el) if t.get("code") not in sliced]
        if unsliced:
            if "xtension.value" in str(node.el.get("path")):
                node.el["type"] = [t for t in _types(node.el) if t.get("code") in sliced]
            else:
                node.el["slicing"]["rules"] = "open"


def _slice_minimums(node: Node) -> None:
    """The min of an element sliced implicitly is the sum of its slices' mins."""
    for c in node.children:
        _slice_minimums(c)
    for sl in node.slices:
        _slice_minimums(sl)
    base = node.el.get("base")
    repeats = not (isinstance(base, dict) and base.get("max") == "1")
    if node.slices and node.auto_sliced and repeats:
        total = 0
        for sl in node.slices:
            if "/" not in str(sl.el.get("sliceName")):
                m = sl.el.get("min")
                total += m if isinstance(m, int) else 0
        m = node.el.get("min")
        if isinstance(m, int) and total > m:
            node.el["min"] = total


def _extension_doco(el: Json) -> None:
    """The publisher drops the generic docs of an extension element it constrains."""
    el["short"] = "Extension"
    el["definition"] = "An Extension"
    for key in ("comment", "requirements", "alias", "mapping"):
        el.pop(key, None)


def _pin(ref: Any, version: str) -> Any:
    if isinstance(ref, str) and ref.startswith("http://hl7.org/fhir/") and "|" not in ref:
        return f"{ref}|{version}"
    return ref


def _pinned(el: Json, version: str) -> Json:
    """``el`` with its references to core resources versioned (``url|4.0.1``)."""
    out = dict(el)
    b = out.get("binding")
    if isinstance(b, dict) and "valueSet" in b:
        out["binding"] = {**b, "valueSet": _pin(b["valueSet"], version)}
    if isinstance(out.get("type"), list):
        types = []
        for t in out["type"]:
            if isinstance(t, dict):
                t = dict(t)
                for key in ("profile", "targetProfile"):
                    if isinstance(t.get(key), list):
                        t[key] = [_pin(r, version) for r in t[key]]
            types.append(t)
        out["type"] = types
    return out


def _is_extension(el: Json) -> bool:
    path = str(el.get("path") or "")
    return path == "Extension" or path.endswith((".extension", ".modifierExtension"))


def _types(el: Json) -> list[Json]:
    return [t for t in el.get("type") or [] if isinstance(t, dict)]


def _choice_match(node: Node, name: str) -> tuple[Node, str] | None:
    """``valueQuantity`` -> (the ``value[x]`` child, ``Quantity``)."""
    for c in node.children:
        if c.name.endswith("[x]"):
            stem = c.name[:-3]
            if name.startswith(stem) and len(name) > len(stem) and name[len(stem)].isupper():
                rest = name[len(stem) :]
                for t in _types(c.el):
                    code = str(t.get("code") or "")
                    if code[:1].upper() + code[1:] == rest:
                        return c, code
    return None


class SnapshotGenerator:
    """Computes snapshots for StructureDefinitions resolved through ``index``.

    ``pin_core_versions``: write the references that elements inherited from the core
    specification make to its own resources with the core's version (``|4.0.1``), as
    recent IG Publishers do. ``regenerate``: canonical URLs whose snapshot is computed
    even when the index holds one (the corpus test removes the published snapshots this
    way); a StructureDefinition without a snapshot is always computed. Results are cached by URL.
    """

    def __init__(
        self,
        index: ResourceIndex,
        regenerate: Iterable[str] = (),
        pin_core_versions: bool = False,
    ) -> None:
        self.index = index
        self.regenerate = set(regenerate)
        self.pin_core_versions = pin_core_versions
        self._snapshots: dict[str, list[Json]] = {}
        self._trees: dict[str, Node] = {}
        self._in_progress: list[str] = []
        self._extra: dict[str, Json] = {}
        # per generation: the choice elements type-sliced without their [x] in the differential
        self._state: list[list[Node]] = []

    # ------------------------------------------------------------------ lookups

    def add(self, sd: Json) -> None:
        """Make a StructureDefinition known (one not in the index, or a replacement)."""
        url = sd.get("url")
        if isinstance(url, str):
            self._extra[url] = sd
            self._snapshots.pop(url, None)
            self._trees.pop(url, None)

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
        if entry is None or entry.resource_type != "StructureDefinition":
            return None
        return entry.data, entry.package

    def snapshot_elements(self, url: str, wanted_by: str = "") -> list[Json]:
        """The snapshot elements of the StructureDefinition ``url`` (computed if needed)."""
        key = url.split("|", 1)[0]
        cached = self._snapshots.get(key)
        if cached is not None:
            return cached
        sd = self._sd(url)
        if sd is None:
            by = f" (base of {wanted_by})" if wanted_by else ""
            raise SnapshotGenerationError(f"StructureDefinition {url} not found{by}")
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
            if web is not None:
                elements = [_absolute_links(e, web) for e in elements]
                if self.pin_core_versions and found:
                    version = found[1].split("#", 1)[1]
                    elements = [_pinned(e, version) for e in elements]
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
            base_root = self._tree(base_url, url).clone()
            root = self._apply(sd, base_root, [d for d in diff_elements if isinstance(d, dict)])
        finally:
            self._in_progress.pop()
        out: list[Json] = []
        self._emit(root, "", "", None, out, url)
        return out

    def _apply(self, sd: Json, root: Node, diff: list[Json]) -> Node:
        url = str(sd.get("url"))
        sd_type = sd.get("type")
        specialization = sd.get("derivation") == "specialization"
        if specialization and isinstance(sd_type, str) and sd_type != root.name:
            root.name = sd_type
            if diff and diff[0].get("path") == sd_type:
                root.el = dict(root.orig)
                root.el.pop("base", None)
        implicit: list[Node] = []
        self._state.append(implicit)
        try:
            for d in diff:
                eid = d.get("id")
                if not isinstance(eid, str):
                    eid = self._id_from_path(d)
                node = self._locate(root, eid, url, d, specialization)
                self._merge(node, d, url, node.fresh)
                node.fresh = False
                node.touched = True
        finally:
            self._state.pop()
        for node in implicit:
            _close_type_slicing(node)
        _slice_minimums(root)
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
        for seg in segs[1:]:
            name, _, sl = seg.partition(":")
            if not node.children and name:
                self._unfold(node, url, eid)
            child = node.child(name)
            if child is None:
                match = _choice_match(node, name)
                if match is not None:
                    child, code = match
                    if not sl and len(_types(child.el)) == 1:
                        node = child  # valueQuantity for a value[x] of one type: itself
                        continue
                    self._type_slicing(child)
                    sl = sl or name
                    node = self._slice(child, sl, url, eid)
                    node.el["type"] = [
                        _copy(t) for t in _types(node.el) if t.get("code") == code
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
            if sl:
                if name.endswith("[x]"):
                    self._type_slicing(node)
                node = self._slice(node, sl, url, eid)
        return node

    def _type_slicing(self, node: Node) -> None:
        """A choice element the differential slices by type (settled by
        :func:`_close_type_slicing` once the whole differential is applied)."""
        if "slicing" in node.orig:
            return  # already sliced in the base
        if node.touched:  # the differential introduced the slicing: taken as it is
            node.el.setdefault(
                "slicing",
                {
                    "discriminator": [{"type": "type", "path": "$this"}],
                    "ordered": False,
                    "rules": "open",
                },
            )
            return
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
                if cur is node and "slicing" not in node.el and _is_extension(node.el):
                    # slices without a slicing entry: extensions are sliced by url
                    _extension_doco(node.el)
                    node.el["slicing"] = {
                        "discriminator": [{"type": "value", "path": "url"}],
                        "ordered": False,
                        "rules": "open",
                    }
                if cur is node and not node.touched:
                    node.auto_sliced = True  # slices without their slicing entry
                found = cur.clone(with_slices=False)
                found.el.pop("slicing", None)
                found.el["sliceName"] = name
                found.orig = dict(found.el)
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
            target = _find(self._tree(FHIR_SD + type_name, url), target_id)
            if target is None:
                raise SnapshotGenerationError(
                    f"StructureDefinition {url}: {eid}: contentReference {ref} not found"
                )
            node.children = [c.clone() for c in target.orig_children]
            node.el.pop("contentReference", None)
            node.el["type"] = _copy(target.orig.get("type") or [])
            return
        types = _types(node.el)
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
        tree = self._tree(type_url, url)
        node.children = [c.clone() for c in tree.orig_children]

    # ------------------------------------------------------------------ merging

    def _merge(self, node: Node, d: Json, url: str, new_slice: bool) -> None:
        """Apply one differential element onto its snapshot element (``updateFromDefinition``)."""
        if not node.orig and not node.el:  # an element a specialization adds
            el = {k: _copy(v) for k, v in d.items() if k != "id"}
            el["base"] = {"path": d.get("path"), "min": d.get("min", 0), "max": d.get("max", "*")}
            node.el = el
            return
        el = node.el
        if "base" not in el:
            el["base"] = {
                "path": el.get("path"),
                "min": el.get("min", 0),
                "max": el.get("max", "*"),
            }
        d_types = _types(d)
        d_profile = None
        if len(d_types) == 1 and d_types[0].get("code") == "Extension":
            profiles = d_types[0].get("profile") or []
            if profiles and isinstance(profiles[0], str):
                d_profile = self._profile_root(profiles[0], url)
        if d_profile is not None:
            # the element starts from the root of the profile its type names
            template = _copy(d_profile)
            template["path"] = el.get("path")
            template.pop("sliceName", None)
            template.pop("id", None)
            template.pop("base", None)
            template.pop("slicing", None)
            if d_types[0].get("code") != "Extension":
                for key in ("min", "max"):
                    if key in el:
                        template[key] = el[key]
            el = node.el = _fill_out_from_base(template, el)
        if new_slice and "min" not in d and not str(el.get("path")).endswith("xtension.value[x]"):
            el["min"] = 0
        is_ext = _is_extension(el)
        if is_ext:
            _extension_doco(el)
        root = None
        el_types = _types(el)
        if el.get("sliceName") and len(el_types) == 1 and _ext_profile(el_types[0]):
            root = self._profile_root(str(el_types[0]["profile"][0]), url)
        if root is None and len(d_types) == 1 and _ext_profile(d_types[0]):
            root = self._profile_root(str(d_types[0]["profile"][0]), url)
        if root is not None:
            for key in ("definition", "short"):
                if key in root:
                    el[key] = root[key]
                else:
                    el.pop(key, None)
            for key in ("comment", "requirements"):
                if key in root:
                    el[key] = root[key]
            for key in ("alias", "mapping"):
                if key in root:
                    el[key] = _copy(root[key])
                else:
                    el.pop(key, None)
        if "sliceName" in d:
            el["sliceName"] = d["sliceName"]
        for key in ("short", "definition", "comment", "label", "requirements"):
            value = d.get(key)
            if isinstance(value, str):
                base_text = el.get(key)
                if value.startswith("...") and key != "short":
                    el[key] = (base_text or "") + "\r\n" + value[3:]
                else:
                    el[key] = value
        if "." not in str(el.get("path")):
            el.pop("requirements", None)
        if isinstance(d.get("alias"), list):
            have = list(el.get("alias") or [])
            el["alias"] = have + [a for a in d["alias"] if a not in have]
        for key in _REPLACED:
            if key in d and key not in ("isModifier", "isModifierReason", "short"):
                el[key] = _copy(d[key])
        if is_ext:
            for key in ("isModifier", "isModifierReason"):
                if key in d:
                    el[key] = d[key]
        for key, value in d.items():
            for prefix in _PREFIXED:
                if key.startswith(prefix) and key[len(prefix) : len(prefix) + 1].isupper():
                    for old in [k for k in el if k.startswith(prefix) and k != key]:
                        if old[len(prefix) : len(prefix) + 1].isupper():
                            del el[old]
                    el[key] = _copy(value)
        if isinstance(d.get("example"), list):
            have = list(el.get("example") or [])
            el["example"] = have + [_copy(x) for x in d["example"] if x not in have]
        if isinstance(d.get("binding"), dict):
            db = d["binding"]
            nb = {k: v for k, v in (el.get("binding") or {}).items() if k != "description"}
            nb.pop("extension", None)
            if "extension" in db:
                nb["extension"] = _copy(db["extension"])
            for key in ("strength", "description", "valueSet"):
                if key in db:
                    nb[key] = db[key]
            el["binding"] = nb
        if "type" in d:
            el["type"] = _copy(d["type"])
        if isinstance(d.get("slicing"), dict):
            el["slicing"] = _merge_slicing(el.get("slicing"), d["slicing"])
        if isinstance(d.get("mapping"), list):
            have = list(el.get("mapping") or [])
            for m in d["mapping"]:
                if not any(
                    isinstance(h, dict)
                    and h.get("identity") == m.get("identity")
                    and h.get("map") == m.get("map")
                    for h in have
                ):
                    have.append(_copy(m))
            el["mapping"] = have
        constraints = [dict(c) for c in el.get("constraint") or [] if isinstance(c, dict)]
        for c in constraints:
            c.setdefault("source", url)
        keys = {c.get("key") for c in constraints}
        for c in d.get("constraint") or []:
            if isinstance(c, dict) and c.get("key") not in keys:
                constraints.append(_copy(c))
                keys.add(c.get("key"))
        if constraints:
            el["constraint"] = constraints
        if isinstance(d.get("condition"), list):
            have = list(el.get("condition") or [])
            el["condition"] = have + [c for c in d["condition"] if c not in have]
        if "binding" in el and not _bindable(el):
            del el["binding"]
        if isinstance(d.get("extension"), list):
            exts = [e for e in el.get("extension") or [] if isinstance(e, dict)]
            new_urls = {e.get("url") for e in d["extension"] if isinstance(e, dict)}
            el["extension"] = [e for e in exts if e.get("url") not in new_urls] + _copy(
                d["extension"]
            )

    def _profile_root(self, url: str, wanted_by: str) -> Json | None:
        if self._sd(url) is None:
            return None
        elements = self.snapshot_elements(url, wanted_by)
        return elements[0] if elements else None

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
        el = _copy(node.el)
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
