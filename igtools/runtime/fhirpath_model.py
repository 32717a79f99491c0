"""The FHIR R4 model for igtools' FHIRPath engine (:mod:`fhirpath`): element types and
choice types (fhirpathpy's R4 tables), collection items (:class:`Node`), navigation,
System values of FHIR primitives, and the evaluation environment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from .fhirpath_values import FhirPathError, Quantity, Temporal

Fn = Callable[[list[Any], "Env"], list[Any]]
# memberOf / conformsTo hooks: (value as FHIR JSON, URL) -> True / False / None (unknown)
Hook = Callable[[Any, str], bool | None]

PRIMITIVES = frozenset(
    {
        "boolean",
        "integer",
        "string",
        "decimal",
        "uri",
        "url",
        "canonical",
        "base64Binary",
        "instant",
        "date",
        "dateTime",
        "time",
        "code",
        "oid",
        "id",
        "markdown",
        "unsignedInt",
        "positiveInt",
        "uuid",
        "xhtml",
        "System.String",
    }
)
QUANTITY_TYPES = frozenset(
    {"Quantity", "Age", "Duration", "Count", "Distance", "SimpleQuantity", "MoneyQuantity"}
)
SYSTEM_TYPES = frozenset(
    {"Boolean", "String", "Integer", "Decimal", "Date", "DateTime", "Time", "Quantity"}
)


# ------------------------------------------------------------------------------ model


def _type_code(suffix: str) -> str:
    """valueDateTime's suffix ``DateTime`` -> the FHIR type code ``dateTime``."""
    low = suffix[:1].lower() + suffix[1:]
    return low if low in PRIMITIVES else suffix


class _R4Model:
    """Element paths and types of FHIR R4 (fhirpathpy's tables), with lookup caches."""

    def __init__(self) -> None:
        from fhirpathpy.models import models

        m = models["r4"]
        self.p2t: dict[str, str] = m["path2Type"]
        self.choice: dict[str, list[str]] = m["choiceTypePaths"]
        self.elsewhere: dict[str, str] = m["pathsDefinedElsewhere"]
        self.parent: dict[str, str] = m["type2Parent"]
        self.backbone: set[str] = set()
        self.types: set[str] = set(self.parent) | PRIMITIVES | {"Element", "Resource", "Base"}
        for key in list(self.p2t) + list(self.choice):
            head = key.rpartition(".")[0]
            self.types.add(key.partition(".")[0])
            while "." in head and head not in self.backbone:
                self.backbone.add(head)
                head = head.rpartition(".")[0]
        self._members: dict[tuple[str, str], tuple[str, Any]] = {}
        self._ancestors: dict[str, frozenset[str]] = {}
        self._child_types: dict[str | None, dict[str, str | None]] = {}

    def member(self, t: str, name: str) -> tuple[str, Any]:
        """("choice", ((json name, type), ...)) | ("plain", type) | ("unknown"|"free", None)."""
        key = (t, name)
        got = self._members.get(key)
        if got is None:
            got = self._member(t, name)
            self._members[key] = got
        return got

    def _member(self, t: str, name: str) -> tuple[str, Any]:
        cur: str | None = t
        while cur:
            path = f"{cur}.{name}"
            path = self.elsewhere.get(path, path)
            choices = self.choice.get(path)
            if choices is not None:
                return "choice", tuple((name + c, _type_code(c)) for c in choices)
            found = self.p2t.get(path)
            if found is not None:
                return "plain", found
            if path in self.backbone:
                return "plain", path
            cur = "BackboneElement" if cur in self.backbone else self.parent.get(cur)
        if name == "id":
            return "plain", "System.String"
        if name in ("extension", "modifierExtension"):
            return "plain", "Extension"
        if t in self.types or t in self.backbone:
            return "unknown", None
        return "free", None

    def child_type(self, t: str | None, key: str) -> str | None:
        """The type of the JSON property ``key`` (choice names included) of a ``t``."""
        if t is None:
            return None
        kind, info = self.member(t, key)
        return str(info) if kind == "plain" else None

    def child_types(self, t: str | None) -> dict[str, str | None]:
        """A cache of child_type() for the properties of a ``t`` (filled as they come)."""
        got = self._child_types.get(t)
        if got is None:
            got = self._child_types[t] = {}
        return got

    def ancestors(self, t: str) -> frozenset[str]:
        got = self._ancestors.get(t)
        if got is None:
            out = {t}
            cur: str | None = "BackboneElement" if t in self.backbone else self.parent.get(t)
            while cur:
                out.add(cur)
                cur = self.parent.get(cur)
            if t in PRIMITIVES or t in self.backbone or "Element" in out:
                out.add("Element")
            if "Resource" in out or "Element" in out:
                out.add("Base")
            got = frozenset(out)
            self._ancestors[t] = got
        return got

    def known_type(self, name: str) -> bool:
        return name in self.types


_MODEL: _R4Model | None = None


def model() -> _R4Model:
    global _MODEL
    if _MODEL is None:
        _MODEL = _R4Model()
    return _MODEL


# ------------------------------------------------------------------------------ nodes


class Node:
    """A FHIR value in a collection: its JSON, its ``_x`` primitive extension, its FHIR
    type (a type code, or the element path of a backbone element) and the resource that
    holds it (for ``resolve('#id')``)."""

    __slots__ = ("data", "ext", "res", "type")

    def __init__(self, data: Any, ext: Any, type_: str | None, res: Any) -> None:
        if isinstance(data, dict) and "resourceType" in data:
            type_ = str(data["resourceType"])
            res = data
        self.data = data
        self.ext = ext
        self.type = type_
        self.res = res

    def __repr__(self) -> str:
        return f"Node({self.type}, {self.data!r})"


def _add(out: list[Any], value: Any, ext: Any, t: str | None, res: Any) -> None:
    if ext is None:  # the common case: no primitive extension
        if value.__class__ is list:
            out.extend(Node(v, None, t, res) for v in value if v is not None)
        elif value is not None:
            out.append(Node(value, None, t, res))
    elif isinstance(value, list) or isinstance(ext, list):
        values = value if isinstance(value, list) else []
        exts = ext if isinstance(ext, list) else []
        for i in range(max(len(values), len(exts))):
            v = values[i] if i < len(values) else None
            e = exts[i] if i < len(exts) else None
            if v is not None or e is not None:
                out.append(Node(v, e, t, res))
    else:
        out.append(Node(value, ext, t, res))


def navigate(focus: list[Any], name: str, strict: bool = False) -> list[Any]:
    """The ``name`` children of the items of ``focus`` (choice types resolved); strict:
    a name no item's type defines is an error."""
    out: list[Any] = []
    m = model()
    members = m._members
    uname = "_" + name
    unknown: str | None = None  # a type without ``name`` (an error if no item has it)
    known = False
    for item in focus:
        if item.__class__ is not Node:
            if isinstance(item, Quantity) and name in ("value", "unit"):
                out.append(item.value if name == "value" else item.unit)
            continue
        data = item.data
        if data.__class__ is not dict:
            ext = item.ext
            if isinstance(ext, dict) and name in ("extension", "id"):
                _add(out, ext.get(name), None, "Extension" if name == "extension" else None, None)
            continue
        t = item.type
        if t is not None:
            kind, info = members.get((t, name)) or m.member(t, name)
            if kind == "plain":
                known = True
                _add(out, data.get(name), data.get(uname), info, item.res)
                continue
            if kind == "choice":
                known = True
                for key, tc in info:
                    if key in data or "_" + key in data:
                        _add(out, data.get(key), data.get("_" + key), tc, item.res)
                        break
                continue
            if kind == "unknown":
                unknown = t
                continue
        known = True
        if name in data or uname in data:
            _add(out, data.get(name), data.get(uname), None, item.res)
            continue
        n = len(name)
        for key, v in data.items():
            if key.startswith(name) and key[n : n + 1].isupper():
                _add(out, v, data.get("_" + key), _type_code(key[n:]), item.res)
    if strict and unknown is not None and not out and not known:
        raise FhirPathError(f"{unknown} has no element {name!r}")
    return out


def children(item: Any) -> list[Any]:
    out: list[Any] = []
    if item.__class__ is not Node:
        return out
    data = item.data
    if data.__class__ is not dict:
        if isinstance(item.ext, dict):
            _add(out, item.ext.get("extension"), None, "Extension", None)
        return out
    types = model().child_types(item.type)
    res = item.res
    for key, value in data.items():
        if key[0] == "_":
            if key[1:] in data:
                continue
            key, value, ext = key[1:], None, value
        elif key == "resourceType":
            continue
        else:
            ext = data.get("_" + key)
        t = types.get(key, _UNSET)
        if t is _UNSET:
            t = types[key] = model().child_type(item.type, key)
        _add(out, value, ext, t, res)
    return out


_UNSET: Any = object()


def value_of(item: Any) -> Any:
    """The System value of a collection item (FHIR primitives become bool, int, Decimal,
    str, Temporal; Quantity-typed elements a Quantity); complex nodes stay Nodes; a
    primitive with only extensions gives None."""
    if not isinstance(item, Node):
        return item
    d = item.data
    if d is None:
        return None
    t = item.type
    if isinstance(d, dict):
        if t in QUANTITY_TYPES and "value" in d:
            unit = d.get("code") if d.get("system") == "http://unitsofmeasure.org" else None
            return Quantity(_dec(d["value"]), str(unit or d.get("unit") or d.get("code") or "1"))
        return item
    if isinstance(d, bool):
        return d
    if t in ("date", "dateTime", "instant"):
        return Temporal.parse(str(d), "date" if t == "date" else "dateTime") or d
    if t == "time":
        return Temporal.parse(str(d), "time") or d
    if isinstance(d, float):
        return _dec(d)
    if t == "decimal" and isinstance(d, int):
        return Decimal(d)
    return d


def _dec(v: Any) -> Decimal:
    if isinstance(v, Decimal):
        return v
    if isinstance(v, float):
        return Decimal(repr(v))
    return Decimal(v)


# ------------------------------------------------------------------------------ environment


class Hooks:
    """What the caller knows that FHIRPath needs: value sets (memberOf), profiles
    (conformsTo) and where trace() output goes."""

    __slots__ = ("conforms_to", "member_of", "trace")

    def __init__(
        self,
        member_of: Hook | None = None,
        conforms_to: Hook | None = None,
        trace: Callable[[str, list[Any]], None] | None = None,
    ) -> None:
        self.member_of = member_of
        self.conforms_to = conforms_to
        self.trace = trace


_NO_HOOKS = Hooks()


_CONSTANTS = {
    "ucum": "http://unitsofmeasure.org",
    "sct": "http://snomed.info/sct",
    "loinc": "http://loinc.org",
}


class Env:
    """One evaluation: the root, ``$this``/``$index``/``$total``, the resources around
    the root (%resource, %rootResource), the Bundle resolve() searches, variables, hooks."""

    __slots__ = (
        "_bundle",
        "_index_cache",
        "descendants",
        "hooks",
        "index",
        "memo",
        "poisoned",
        "resource",
        "root",
        "root_resource",
        "strict",
        "this",
        "total",
        "vars",
    )

    def __init__(
        self,
        root: list[Any],
        variables: Mapping[str, Any] | None,
        hooks: Hooks,
        resource: Any,
        root_resource: Any,
        bundle: Any,
    ):
        self.root = root
        self.this = root
        self.index: Any = None
        self.total: list[Any] = []
        self.vars = variables
        self.hooks = hooks
        self.resource = resource
        self.root_resource = root_resource
        self._bundle = bundle
        self._index_cache: dict[str, Any] | None = None
        self.strict = False
        self.poisoned = False  # computing a constant answer: the variables are unknown
        self.memo: dict[int, list[Any]] | None = None  # constant subexpressions, computed
        self.descendants: dict[int, list[Any]] | None = None  # descendants() by node id

    def variable(self, name: str) -> list[Any]:
        if self.poisoned and name not in _CONSTANTS and not name.startswith(("vs-", "ext-")):
            raise FhirPathError(f"%{name} is not known here")
        if self.vars and name in self.vars:
            v = self.vars[name]
            return v if isinstance(v, list) else [v]
        if name == "resource" or name == "rootResource":
            r = self.resource if name == "resource" else self.root_resource
            return [] if r is None else [Node(r, None, None, r)]
        if name == "context":
            return list(self.root)
        if name in _CONSTANTS:
            return [_CONSTANTS[name]]
        if name.startswith("vs-"):
            return ["http://hl7.org/fhir/ValueSet/" + name[3:]]
        if name.startswith("ext-"):
            return ["http://hl7.org/fhir/StructureDefinition/" + name[4:]]
        raise FhirPathError(f"unknown variable %{name}")

    @property
    def bundle(self) -> Any:
        """The given Bundle, else the root resource when it is a Bundle."""
        if self._bundle is None:
            for cand in (self.root_resource, self.resource):
                if isinstance(cand, dict) and cand.get("resourceType") == "Bundle":
                    self._bundle = cand
                    break
        return self._bundle

    def bundle_index(self) -> dict[str, Any]:
        if self._index_cache is None:
            idx: dict[str, Any] = {}
            for entry in (self.bundle or {}).get("entry") or []:
                if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                    continue
                res = entry["resource"]
                full = entry.get("fullUrl")
                if isinstance(full, str):
                    idx[full] = res
                if res.get("resourceType") and res.get("id"):
                    idx.setdefault(f"{res['resourceType']}/{res['id']}", res)
            self._index_cache = idx
        return self._index_cache


_ELEMENT_TYPES: dict[tuple[str, str | None], str | None] = {}


def element_type(path: str, json_name: str | None = None) -> str | None:
    """The FHIR type (or backbone element path) of the element at ``path`` (an element
    definition path: ``Observation.component``, ``Observation.value[x]``); a choice
    element's type comes from the JSON name of the occurrence (``valueQuantity``).
    None when the model does not know it."""
    key = (path, json_name)
    if key in _ELEMENT_TYPES:
        return _ELEMENT_TYPES[key]
    m = model()
    steps = [s.partition(":")[0] for s in path.split(".")]
    t: str | None = steps[0]
    for i, step in enumerate(steps[1:], start=1):
        if t is None:
            break
        if step.endswith("[x]"):
            stem = step[:-3]
            last = i == len(steps) - 1
            if last and json_name and json_name.startswith(stem) and len(json_name) > len(stem):
                t = _type_code(json_name[len(stem) :])
            else:
                t = None
            continue
        kind, info = m.member(t, step)
        t = str(info) if kind == "plain" and info not in ("Resource", "System.String") else None
    _ELEMENT_TYPES[key] = t
    return t
