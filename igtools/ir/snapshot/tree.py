"""The snapshot being built, as a tree of elements: children, then slices, of each."""

from __future__ import annotations

from typing import Any

from igtools.errors import IgtoolsError

Json = dict[str, Any]


class SnapshotGenerationError(IgtoolsError):
    """A snapshot cannot be computed (no base, a broken chain, a bad differential).

    ``missing``: the canonical of the definition no loaded package has, when that is why
    (``wanted_by`` says what it was wanted for: ``base of <url>``, ``type of ...``).
    """

    def __init__(self, message: str, missing: str | None = None, wanted_by: str = "") -> None:
        super().__init__(message)
        self.missing = missing
        self.wanted_by = wanted_by


def copy_json(value: Any) -> Any:
    """A deep copy of JSON data (faster than :func:`copy.deepcopy`)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
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
        "diffs",
        "el",
        "fresh",
        "inner",
        "intro",
        "name",
        "orig",
        "orig_children",
        "orig_slices",
        "slices",
        "touched",
        "unfolded",
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
        self.inner = False  # the differential walked into its children
        self.intro: Node | None = None  # for a slice, the element it slices
        self.unfolded = False  # children given from its type by this generation
        self.auto_sliced = False  # slicing added for slices the differential did not introduce
        self.diffs: list[Json] = []  # the differential elements merged onto it (this generation)

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

    def copy_current(self) -> Node:
        """A copy of this node as it stands (constraints applied), slices included."""
        out = Node(self.orig, self.name)
        out.el = copy_json(self.el)
        out.children = [c.copy_current() for c in self.children]
        out.slices = [s.copy_current() for s in self.slices]
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


def find(root: Node, eid: str) -> Node | None:
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


def types_of(el: Json) -> list[Json]:
    return [t for t in el.get("type") or [] if isinstance(t, dict)]


def choice_match(node: Node, name: str) -> tuple[Node, str] | None:
    """``valueQuantity`` -> (the ``value[x]`` child, ``Quantity``)."""
    for c in node.children:
        if c.name.endswith("[x]"):
            stem = c.name[:-3]
            if name.startswith(stem) and len(name) > len(stem) and name[len(stem)].isupper():
                rest = name[len(stem) :]
                for t in types_of(c.el):
                    code = str(t.get("code") or "")
                    if code[:1].upper() + code[1:] == rest:
                        return c, code
    return None
