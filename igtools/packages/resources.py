"""FHIR resources as read from a package: parsing (JSON, XML) and index entries."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from igtools.errors import ResourceFileError
from igtools.packages.corrections import correct
from igtools.runtime import fhirjson
from igtools.runtime.fhirjson import JsonIssue

FHIR_NS = "http://hl7.org/fhir"

Resource = dict[str, Any]


def parse_json(data: bytes, source: str) -> Any:
    """Parse JSON bytes, naming ``source`` and the line on error."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ResourceFileError(
            f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResourceFileError(
            f"{source}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}"
        ) from exc
    except RecursionError as exc:
        raise ResourceFileError(f"{source}: JSON nested too deep to be read") from exc
    except ValueError as exc:  # a number of thousands of digits
        raise ResourceFileError(f"{source}: invalid JSON: {exc}") from exc


def parse_resource_json(data: bytes, source: str) -> Resource:
    obj = parse_json(data, source)
    return check_resource(obj, source)


def read_resource_json(data: bytes, source: str) -> tuple[Resource, list[JsonIssue]]:
    """An instance to validate, read the strict way (:func:`igtools.runtime.fhirjson.parse`):
    a :class:`ResourceFileError` naming ``source`` (line, column or depth) when it cannot
    be read, and the duplicate keys found (path and key) as issues."""
    try:
        obj, duplicates = fhirjson.parse(data)
    except fhirjson.FhirJsonError as exc:
        raise ResourceFileError(f"{exc.where(source)}: {exc.message}") from exc
    return check_resource(obj, source), duplicates


def check_resource(obj: Any, source: str) -> Resource:
    if not isinstance(obj, dict):
        raise ResourceFileError(f"{source}: not a FHIR resource (top level is not a JSON object)")
    rt = obj.get("resourceType")
    if not isinstance(rt, str) or not rt:
        raise ResourceFileError(f"{source}: not a FHIR resource (no resourceType)")
    return obj


def parse_resource_xml(data: bytes, source: str) -> Resource:
    """Parse a FHIR XML resource into its FHIR JSON form.

    lxml reads the document (line numbers in errors); the R4 type table of
    :mod:`igtools.runtime.fhirjson` turns it into JSON with the right arrays and
    primitive types (:mod:`igtools.packages.fhirxml`): an element R4 does not define is
    an :class:`XmlContentError`.
    """
    from lxml import etree

    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno is not None else "?"
        raise ResourceFileError(f"{source}:{line}: invalid XML: {exc.msg}") from exc
    qname = etree.QName(root)
    if qname.namespace != FHIR_NS:
        raise ResourceFileError(
            f"{source}: not a FHIR resource "
            f"(root element {root.tag!r} is not in the FHIR namespace)"
        )
    if not fhirjson.is_resource_type(qname.localname):
        raise ResourceFileError(f"{source}: unknown FHIR resource type {qname.localname!r}")
    from igtools.packages.fhirxml import resource_from_xml

    return resource_from_xml(root, source)


@dataclass
class ResourceEntry:
    """One resource of a package, as the index knows it.

    ``data`` is read lazily for packages read from folders (dependencies are often large
    and mostly unused).
    """

    resource_type: str
    id: str | None
    url: str | None
    version: str | None
    package: str  # "name#version"
    path: str  # path inside the package or folder
    is_example: bool
    _data: Resource | None = field(default=None, repr=False)
    _loader: Callable[[], Resource] | None = field(default=None, repr=False)
    _corrected: bool = field(default=False, repr=False)

    @property
    def data(self) -> Resource:
        """The resource, with the corrections the HL7 tools make as they load it
        (:mod:`igtools.packages.corrections`)."""
        if self._data is None:
            if self._loader is None:  # pragma: no cover - constructed with one or the other
                raise ResourceFileError(f"{self.package}:{self.path}: no content")
            self._data = self._loader()
            self._loader = None
        if not self._corrected:
            self._corrected = True
            if self.resource_type == "StructureDefinition" and not self.is_example:
                correct(self._data, self.package)
        return self._data

    @property
    def key(self) -> str:
        return f"{self.resource_type}/{self.id}"

    @property
    def name(self) -> str | None:
        value = self.data.get("name")
        return value if isinstance(value, str) else None

    @property
    def claimed_profiles(self) -> list[str]:
        meta = self.data.get("meta")
        if isinstance(meta, dict):
            profiles = meta.get("profile")
            if isinstance(profiles, list):
                return [p for p in profiles if isinstance(p, str)]
        return []

    @classmethod
    def from_resource(
        cls, res: Resource, package: str, path: str, is_example: bool
    ) -> ResourceEntry:
        return cls(
            resource_type=res["resourceType"],
            id=_str_or_none(res.get("id")),
            url=_str_or_none(res.get("url")),
            version=_str_or_none(res.get("version")),
            package=package,
            path=path,
            is_example=is_example,
            _data=res,
        )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
