"""FHIR R4 JSON as the HL7 reference validator reads it: parsing and the base rules.

:func:`parse` reads JSON text the strict way: malformed JSON, nesting deeper than
:data:`MAX_DEPTH`, numbers too large to be numbers and ``NaN``/``Infinity`` raise
:class:`FhirJsonError`; duplicate keys in an object are returned as issues naming the
object's path and the key (the last value is kept). Numbers keep their JSON type
(``True`` is a boolean, ``1`` an integer, ``1.0`` a decimal).

:func:`check_resource` walks a resource with the R4 (4.0.1) type of every element,
read from ``fhir-r4-types.json`` (generated from hl7.fhir.r4.core 4.0.1 by
``igtools/data/make_r4_types.py``), and reports:

* a ``resourceType`` that is not an R4 resource, an element the type does not have;
* a primitive of the wrong JSON type (boolean: ``true``/``false``; integer,
  positiveInt, unsignedInt: a number without fraction, in range; decimal: a number;
  any other primitive: a string) or not matching its R4 regex (dates are also checked
  on the calendar);
* an array where the element has max 1, a single value where it repeats, several
  types of one choice element (``valueString`` and ``valueBoolean``);
* ``null`` anywhere but in a primitive array aligned with its ``_name`` array (and
  vice versa), arrays of different lengths;
* empty objects, arrays and strings (ele-1), extensions with both or neither a value
  and nested extensions (ext-1), elements required by the base definition (min 1);
* contained resources, ``Bundle.entry.resource``, ``Parameters.parameter.resource``
  (every element of type Resource) by their own type.

Locations are FHIRPath-style: ``Patient.name[0].given[1]``; a primitive's extension
(``_given``) is located on the primitive (``Patient.name[0].given[1].extension[0]``).
Only the standard library is used: generated servers ship this module and the table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

TABLE = "fhir-r4-types.json"
MAX_DEPTH = 100  # JSON nesting levels (R4 examples nest below 20)
MAX_NUMBER_DIGITS = 1000
MAX_STRING = 1024 * 1024  # R4: strings SHALL NOT exceed 1MB

# rules (JsonIssue.rule)
DUPLICATE = "duplicate-key"
UNKNOWN = "unknown-element"
JSON_TYPE = "json-type"
FORMAT = "format"
CARDINALITY = "cardinality"
NULL = "null"
CHOICE = "choice"
REQUIRED = "required"
RESOURCE_TYPE = "resource-type"
DEPTH = "depth"
EMPTY = "ele-1"
EXT_1 = "ext-1"

EMPTY_OBJECT = "empty element (ele-1: must have a value or children)"
EMPTY_ARRAY = "empty array"
EMPTY_STRING = "empty string"


class FhirJsonError(ValueError):
    """The text is not JSON a FHIR reader accepts (``line``/``col`` when known)."""

    def __init__(self, message: str, line: int | None = None, col: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col

    def where(self, source: str) -> str:
        """``source:line:col`` (or ``source``) for messages."""
        return f"{source}:{self.line}:{self.col}" if self.line is not None else source


@dataclass(frozen=True)
class JsonIssue:
    location: str
    message: str
    rule: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


# ------------------------------------------------------------------------------ parsing

_KEEP = b'[]{}"'
_DELETE = bytes(i for i in range(256) if i not in _KEEP)
_BRACKETS = bytes.maketrans(b"{}", b"[]")


def json_depth(raw: bytes, limit: int = MAX_DEPTH) -> int | None:
    """The nesting depth of valid JSON ``raw`` (None when deeper than ``limit``),
    at C speed: strings removed, then the innermost bracket pairs, once per level."""
    s = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(_BRACKETS, _DELETE)
    s = b"".join(s.split(b'"')[::2])
    for depth in range(limit + 1):
        if not s:
            return depth
        s = s.replace(b"[]", b"")
    return None


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise FhirJsonError(f"number too large ({len(text)} digits)")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise FhirJsonError(f"number too large ({text[:30]}{'...' if len(text) > 30 else ''})")
    return value


def _parse_constant(text: str) -> Any:
    raise FhirJsonError(f"{text} is not a JSON value")


def parse(raw: bytes | str, max_depth: int = MAX_DEPTH) -> tuple[Any, list[JsonIssue]]:
    """The JSON value of ``raw`` and one issue per duplicate key (path and key).

    Raises :class:`FhirJsonError` on text that is not JSON (with line and column), not
    UTF-8, nested deeper than ``max_depth`` levels, or holding numbers too large."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FhirJsonError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    dups: list[tuple[dict[str, Any], str]] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    dups.append((obj, key))
                seen.add(key)
        return obj

    try:
        value = json.loads(
            text,
            object_pairs_hook=pairs_hook,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except json.JSONDecodeError as exc:
        raise FhirJsonError(f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from exc
    except RecursionError as exc:
        raise FhirJsonError(f"JSON nested deeper than {max_depth} levels") from exc
    except ValueError as exc:  # int() of a long number, surrogates...
        raise FhirJsonError(f"invalid JSON: {exc}") from exc
    if json_depth(data, max_depth) is None:
        raise FhirJsonError(f"JSON nested deeper than {max_depth} levels")
    issues = []
    for obj, key in dups:
        issues.append(
            JsonIssue(
                _path_of(value, obj), f"duplicate key {key!r} (the last one is kept)", DUPLICATE
            )
        )
    return value, issues


def _path_of(root: Any, target: dict[str, Any]) -> str:
    """The location of object ``target`` inside ``root`` (error path only)."""
    start = root.get("resourceType") if isinstance(root, dict) else None
    stack: list[tuple[Any, str]] = [(root, start if isinstance(start, str) else "$")]
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if isinstance(node, dict):
            stack.extend((v, f"{path}.{k.lstrip('_')}") for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node))
    return "$"  # pragma: no cover - the target comes from the same parse


# ------------------------------------------------------------------------------ the table

PRIMITIVE, COMPLEX, RESOURCE = 0, 1, 2

# (type name, repeats, kind, choice element label or None)
Prop = tuple[str, bool, int, str | None]
PrimitiveCheck = Callable[[Any], "str | None"]


@dataclass
class _Table:
    resources: frozenset[str]
    types: dict[str, dict[str, Prop]]
    required: dict[str, tuple[tuple[str, tuple[str, ...]], ...]]
    primitives: dict[str, PrimitiveCheck]


_LOADED: list[_Table] = []


def _table_file() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / TABLE, here.parent / "data" / TABLE):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{TABLE} is missing next to {__file__}")  # pragma: no cover


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _wrong(name: str, expected: str, value: Any) -> str:
    return f"{name} must be {expected}, found {_json_kind(value)} {_show(value)}"


_INT_RANGE = {
    "integer": (-(2**31), 2**31 - 1),
    "positiveInt": (1, 2**31 - 1),
    "unsignedInt": (0, 2**31 - 1),
}
_DATES = ("date", "dateTime", "instant")


def _primitive_check(name: str, json_type: str, regex: str | None) -> PrimitiveCheck:
    if json_type == "boolean":

        def check_boolean(v: Any) -> str | None:
            return None if v is True or v is False else _wrong(name, "JSON true or false", v)

        return check_boolean
    if json_type == "integer":
        lo, hi = _INT_RANGE.get(name, _INT_RANGE["integer"])

        def check_integer(v: Any) -> str | None:
            if type(v) is not int:
                return _wrong(name, "a JSON number without fraction", v)
            if not lo <= v <= hi:
                return f"{name} {v} out of range ({lo}..{hi})"
            return None

        return check_integer
    if json_type == "number":

        def check_decimal(v: Any) -> str | None:
            t = type(v)
            return None if t is int or t is float else _wrong(name, "a JSON number", v)

        return check_decimal
    if name == "base64Binary":
        pattern = re.compile(r"[0-9a-zA-Z+/=]*", re.ASCII)
        spaces = re.compile(r"\s+", re.ASCII)

        def check_base64(v: Any) -> str | None:
            if type(v) is not str:
                return _wrong(name, "a JSON string", v)
            if v == "":
                return EMPTY_STRING
            packed = spaces.sub("", v)
            if len(packed) % 4 or not pattern.fullmatch(packed):
                return f"{_show(v)} is not valid base64Binary"
            return None

        return check_base64
    compiled = re.compile(regex, re.ASCII) if regex else None
    calendar = name in _DATES
    limit = MAX_STRING if name in ("string", "markdown") else None
    xhtml = name == "xhtml"

    def check_string(v: Any) -> str | None:
        if type(v) is not str:
            return _wrong(name, "a JSON string", v)
        if v == "":
            # only the empty string is no value: the reference validator accepts a blank
            # string (its own type's regex judges it: code and id refuse it)
            return EMPTY_STRING
        if compiled is not None and compiled.fullmatch(v) is None:
            return f"{_show(v)} is not a valid {name}"
        if limit is not None and len(v) > limit:
            return f"{name} longer than {limit} characters ({len(v)})"
        if xhtml and not v.lstrip().startswith("<div"):
            return f"{_show(v)} is not a valid xhtml narrative (must be a <div> element)"
        if calendar and len(v) >= 10:
            try:
                date(int(v[:4]), int(v[5:7]), int(v[8:10]))
            except ValueError:
                return f"{_show(v)} is not a valid {name} (no such day)"
        return None

    return check_string


def _load() -> _Table:
    raw = json.loads(_table_file().read_text(encoding="utf-8"))
    primitive_names = set(raw["primitives"])
    resources = frozenset(raw["resources"])
    types: dict[str, dict[str, Prop]] = {}
    required: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {}
    for tname, elements in raw["types"].items():
        props: dict[str, Prop] = {}
        req: list[tuple[str, tuple[str, ...]]] = []
        for name, spec in elements.items():
            must = spec.endswith("!")
            spec = spec.rstrip("!")
            repeats = spec.endswith("*")
            codes = spec.rstrip("*").split("|")
            names: list[str] = []
            if name.endswith("[x]"):
                stem = name[:-3]
                for code in codes:
                    json_name = stem + code[0].upper() + code[1:]
                    props[json_name] = (code, repeats, _kind(code, primitive_names), name)
                    names.append(json_name)
            else:
                props[name] = (codes[0], repeats, _kind(codes[0], primitive_names), None)
                names.append(name)
            if must:
                req.append((name, tuple(names)))
        types[tname] = props
        if req:
            required[tname] = tuple(req)
    primitives = {
        name: _primitive_check(name, p["json"], p.get("regex"))
        for name, p in raw["primitives"].items()
    }
    return _Table(resources, types, required, primitives)


def _kind(code: str, primitives: set[str]) -> int:
    if code in primitives:
        return PRIMITIVE
    if code in ("Resource", "DomainResource"):
        return RESOURCE
    return COMPLEX


def table() -> _Table:
    if not _LOADED:
        _LOADED.append(_load())
    return _LOADED[0]


def is_resource_type(name: str) -> bool:
    """Is ``name`` an R4 (4.0.1) resource type?"""
    return name in table().resources


def definition_path(path: str) -> str:
    """The element path ``path`` (``Questionnaire.item.item.answerOption``, without
    indexes) as the base definition names it: an element reached through a content
    reference has the referenced element's path (``Questionnaire.item.answerOption``),
    as the reference validator reads it. Parts the R4 model does not know are kept."""
    parts = path.split(".")
    types = table().types
    current = out = parts[0]
    for i, seg in enumerate(parts[1:], 1):
        prop = types.get(current, {}).get(seg)
        if prop is None:
            return ".".join([out, *parts[i:]])
        code = prop[0]
        # a backbone element of the resource goes by its own (referenced) path
        backbone = "." in code and code.split(".", 1)[0] == parts[0]
        out = code if backbone else f"{out}.{seg}"
        current = code
    return out


# ------------------------------------------------------------------------------ checking


# called with (object, its R4 type name, its path, the resource that holds it) for each
# complex value below a resource's root (data types and backbone elements)
Visitor = Callable[[dict[str, Any], str, str, dict[str, Any]], None]


class _Walker:
    def __init__(self, tab: _Table, visit: Visitor | None = None) -> None:
        self.types = tab.types
        self.required = tab.required
        self.prims = tab.primitives
        self.resources = tab.resources
        self.issues: list[JsonIssue] = []
        self.visit = visit
        self.owner: dict[str, Any] = {}

    def error(self, location: str, message: str, rule: str) -> None:
        self.issues.append(JsonIssue(location, message, rule))

    def resource(self, value: Any, path: str, depth: int) -> None:
        if not isinstance(value, dict):
            self.error(
                path, f"a resource must be a JSON object, found {_json_kind(value)}", JSON_TYPE
            )
            return
        rt = value.get("resourceType")
        if not isinstance(rt, str) or rt not in self.resources:
            shown = "no resourceType" if rt is None else f"resourceType {_show(rt)}"
            self.error(path, f"{shown} is not an R4 resource type", RESOURCE_TYPE)
            return
        owner, self.owner = self.owner, value
        self.object(value, rt, path, depth, True)
        self.owner = owner

    def object(self, obj: dict[str, Any], tname: str, path: str, depth: int, root: bool) -> None:
        if depth > MAX_DEPTH:
            self.error(path, f"nested deeper than {MAX_DEPTH} levels", DEPTH)
            return
        if not obj:
            self.error(path, EMPTY_OBJECT, EMPTY)
            return
        props = self.types[tname]
        if self.visit is not None and not root:
            self.visit(obj, tname, path, self.owner)
        choices: dict[str, str] | None = None
        for key, value in obj.items():
            prop = props.get(key)
            if prop is None:
                if key[:1] == "_" and len(key) > 1:
                    self.extension_of(obj, key, value, props.get(key[1:]), tname, path, depth)
                elif not (root and key == "resourceType"):
                    self.error(f"{path}.{key}", f"unknown element {key!r} in {tname}", UNKNOWN)
                continue
            ptype, repeats, kind, choice = prop
            if choice is not None:
                if choices is None:
                    choices = {}
                if choice in choices:
                    self.error(
                        f"{path}.{key}",
                        f"{choice} has several values ({choices[choice]} and {key})",
                        CHOICE,
                    )
                choices[choice] = key
            loc = f"{path}.{key}"
            if repeats:
                if type(value) is not list:
                    if value is None:
                        self.error(loc, f"null is not allowed ({key} is an array)", NULL)
                    else:
                        self.error(loc, f"{key} repeats: must be a JSON array", CARDINALITY)
                    continue
                if not value:
                    self.error(loc, EMPTY_ARRAY, EMPTY)
                    continue
                if kind == PRIMITIVE:
                    self.primitive_array(obj, key, value, ptype, loc)
                    continue
                for i, item in enumerate(value):
                    self.item(item, ptype, kind, f"{loc}[{i}]", depth + 2)
            elif type(value) is list:
                self.error(loc, f"{key} has max 1: must not be a JSON array", CARDINALITY)
            elif kind == PRIMITIVE:
                if value is None:
                    self.error(loc, "null is not allowed here", NULL)
                    continue
                msg = self.prims[ptype](value)
                if msg is not None:
                    self.error(loc, msg, EMPTY if msg is EMPTY_STRING else _rule(msg))
            else:
                self.item(value, ptype, kind, loc, depth + 1)
        req = self.required.get(tname)
        if req is not None:
            for label, names in req:
                if not any(n in obj or "_" + n in obj for n in names):
                    self.error(path, f"missing {label}: required (min 1) in R4 {tname}", REQUIRED)
        if tname == "Extension" and (choices is None) == ("extension" not in obj):
            if choices:
                self.error(path, "extension with both a value and nested extensions", EXT_1)
            else:
                self.error(path, "extension with neither a value nor nested extensions", EXT_1)

    def item(self, value: Any, ptype: str, kind: int, loc: str, depth: int) -> None:
        if kind == RESOURCE:
            self.resource(value, loc, depth)
        elif type(value) is dict:
            self.object(value, ptype, loc, depth, False)
        elif value is None:
            self.error(loc, "null is not allowed here", NULL)
        else:
            self.error(loc, _wrong(ptype, "a JSON object", value), JSON_TYPE)

    def primitive_array(
        self, obj: dict[str, Any], key: str, values: list[Any], ptype: str, loc: str
    ) -> None:
        check = self.prims[ptype]
        under = obj.get("_" + key)
        exts = under if type(under) is list else None
        if exts is not None and len(exts) != len(values):
            self.error(
                loc,
                f"{key} has {len(values)} values but _{key} has {len(exts)}: they must align",
                CARDINALITY,
            )
        for i, v in enumerate(values):
            if v is None:
                if exts is None or i >= len(exts) or exts[i] is None:
                    self.error(
                        f"{loc}[{i}]",
                        f"null is only allowed when _{key}[{i}] holds the element's extensions",
                        NULL,
                    )
                continue
            msg = check(v)
            if msg is not None:
                self.error(f"{loc}[{i}]", msg, EMPTY if msg is EMPTY_STRING else _rule(msg))

    def extension_of(
        self,
        obj: dict[str, Any],
        key: str,
        value: Any,
        prop: Prop | None,
        tname: str,
        path: str,
        depth: int,
    ) -> None:
        """``_name``: the id and extensions of primitive ``name``."""
        name = key[1:]
        if prop is None or prop[2] != PRIMITIVE:
            self.error(f"{path}.{key}", f"unknown element {key!r} in {tname}", UNKNOWN)
            return
        loc = f"{path}.{name}"
        if prop[1]:
            if type(value) is not list:
                self.error(loc, f"_{name} must be a JSON array ({name} repeats)", CARDINALITY)
                return
            if not value:
                self.error(f"{path}.{key}", EMPTY_ARRAY, EMPTY)
                return
            values = obj.get(name)
            values = values if type(values) is list else None  # None: extensions only
            for i, ext in enumerate(value):
                if ext is None:
                    if values is None or i >= len(values):
                        self.error(
                            f"{loc}[{i}]",
                            f"null is only allowed when {name}[{i}] holds a value",
                            NULL,
                        )
                elif type(ext) is dict:
                    self.object(ext, "Element", f"{loc}[{i}]", depth + 2, False)
                else:
                    self.error(f"{loc}[{i}]", _wrong(f"_{name}", "a JSON object", ext), JSON_TYPE)
        elif type(value) is dict:
            self.object(value, "Element", loc, depth + 1, False)
        elif value is None:
            self.error(loc, "null is not allowed here", NULL)
        else:
            self.error(loc, _wrong(f"_{name}", "a JSON object", value), JSON_TYPE)


def _rule(message: str) -> str:
    return JSON_TYPE if " must be " in message else FORMAT


def check_resource(
    data: Any, path: str | None = None, visit: Visitor | None = None
) -> list[JsonIssue]:
    """Every way ``data`` (parsed FHIR JSON of one resource) breaks the R4 JSON rules.
    ``visit`` sees every complex value on the way, with its R4 type."""
    walker = _Walker(table(), visit)
    rt = data.get("resourceType") if isinstance(data, dict) else None
    walker.resource(data, path or (rt if isinstance(rt, str) and rt else "Resource"), 1)
    return walker.issues


def check_text(raw: bytes | str) -> tuple[Any, list[JsonIssue]]:
    """Parse ``raw`` and check it as a resource: (value, duplicate keys + JSON rules).
    Raises :class:`FhirJsonError` when it cannot be read (see :func:`parse`)."""
    value, issues = parse(raw)
    return value, issues + check_resource(value)
