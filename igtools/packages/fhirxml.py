"""FHIR R4 XML to FHIR JSON, driven by the R4 (4.0.1) type table of
:mod:`igtools.runtime.fhirjson` (every R4 element, extension values of any R4 type).

The XML rules of FHIR: a primitive is an element with a ``value`` attribute (its JSON
type set by the primitive type: boolean, integer, decimal, else string), an ``id``
attribute and ``extension`` children (the JSON ``_name``); a complex element's ``id``
and an extension's ``url`` are attributes; a repeating element repeats; a resource
inside an element (``contained``, ``Bundle.entry.resource``) is its single child;
``Narrative.div`` is XHTML, kept as its serialised text. Values are kept as written
(no reformatting of dates): the JSON rules then judge them.
"""

from __future__ import annotations

import re
from copy import deepcopy
from typing import Any

from lxml import etree

from igtools.errors import XmlContentError
from igtools.runtime import fhirjson

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def resource_from_xml(root: Any, source: str) -> dict[str, Any]:
    """The FHIR JSON of resource element ``root`` (an lxml element in the FHIR namespace)."""
    return _Reader(source).resource(root)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tab = fhirjson.table()

    def fail(self, node: Any, message: str) -> XmlContentError:
        return XmlContentError(f"{self.source}:{node.sourceline}: {message}")

    def resource(self, node: Any) -> dict[str, Any]:
        rt = _local(node)
        if rt not in self.tab.resources:
            raise self.fail(node, f"{rt!r} is not an R4 resource type")
        out: dict[str, Any] = {"resourceType": rt}
        self.fill(out, node, rt)
        return out

    def fill(self, out: dict[str, Any], node: Any, tname: str) -> None:
        props = self.tab.types[tname]
        lists: dict[str, tuple[list[Any], list[Any]]] = {}
        for child in node:
            if child.tag is etree.Entity:
                raise self.fail(child, f"entity reference {child.text} is not allowed")
            if not isinstance(child.tag, str):
                continue  # comments, processing instructions
            name = _local(child)
            prop = props.get(name)
            if prop is not None and _ns(child) != (XHTML_NS if prop[0] == "xhtml" else FHIR_NS):
                prop = None
            if prop is None:
                raise self.fail(child, f"unknown element {name!r} in {tname}")
            ptype, repeats, kind, _ = prop
            if kind == fhirjson.PRIMITIVE:
                value, ext = self.primitive(child, ptype)
                if repeats:
                    values, exts = lists.setdefault(name, ([], []))
                    values.append(value)
                    exts.append(ext)
                    continue
                if value is not None:
                    out[name] = value
                if ext:
                    out["_" + name] = ext
                continue
            if kind == fhirjson.RESOURCE:
                inner = [c for c in child if isinstance(c.tag, str)]
                if len(inner) != 1 or _ns(inner[0]) != FHIR_NS:
                    raise self.fail(child, f"{name} must hold exactly one resource")
                item: Any = self.resource(inner[0])
            else:
                item = self.complex(child, ptype)
            if repeats:
                out.setdefault(name, []).append(item)
            else:
                out[name] = item
        for name, (values, exts) in lists.items():
            if any(v is not None for v in values):
                out[name] = values
            if any(e is not None for e in exts):
                out["_" + name] = exts

    def complex(self, node: Any, tname: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attr in ("id", "url"):  # Element.id and Extension.url are attributes
            if node.get(attr) is not None and attr in self.tab.types[tname]:
                out[attr] = node.get(attr)
        self.fill(out, node, tname)
        return out

    def primitive(self, node: Any, ptype: str) -> tuple[Any, dict[str, Any] | None]:
        if ptype == "xhtml":
            for inner in node.iter(etree.Entity):
                raise self.fail(inner, f"entity reference {inner.text} is not allowed")
            return _xhtml(node), None
        raw = node.get("value")
        ext = self.complex(node, "Element")
        return (None if raw is None else _typed(raw, ptype)), (ext or None)


def _typed(raw: str, ptype: str) -> Any:
    """The JSON value of an XML ``value`` attribute (kept as a string when it is not of
    its type, for the JSON rules to report)."""
    if ptype == "boolean":
        return {"true": True, "false": False}.get(raw, raw)
    if ptype in ("integer", "positiveInt", "unsignedInt"):
        return int(raw) if _INTEGER.fullmatch(raw) and len(raw) <= 20 else raw
    if ptype == "decimal":
        if _DECIMAL.fullmatch(raw) and len(raw) <= 100:
            value = float(raw)
            if value.is_integer() and "." not in raw and "e" not in raw.lower():
                return int(raw)
            return value
        return raw
    return raw


def _xhtml(node: Any) -> str:
    div = deepcopy(node)
    div.tail = None
    etree.cleanup_namespaces(div)
    return str(etree.tostring(div, encoding="unicode"))


def _local(node: Any) -> str:
    return str(node.tag).rpartition("}")[2]


def _ns(node: Any) -> str:
    tag = str(node.tag)
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""
