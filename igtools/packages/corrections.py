"""The corrections the HL7 tools make to published definitions as they load them.

Some published packages have errors that cannot be fixed in the packages themselves (a
package version never changes). The HL7 reference validator and the IG Publisher correct
them as they load the resources (``PackageHackerR5``, ``StructureDefinitionHacker`` in
org.hl7.fhir.core), so the snapshots the publisher writes and the judgements the validator
makes follow the corrected definitions. igtools makes the same corrections, when a
resource is first read from its package, so that snapshots computed from differentials,
validation, models and examples agree with theirs:

- hl7.fhir.r4.core 4.0.1's vital signs profile (and the profiles of the core derived from
  it) binds the Vital Signs Units to ``Observation.component.value[x]`` as *required* for
  every type of the choice: backed off to *extensible*;
- its ``vs-1`` invariant (a date of at least a day) is written
  ``$this is dateTime implies $this.toString().length() >= 10`` in every profile derived
  from the vital signs profile (the 4.0.1 expression fails on a Period);
- the ISO 21090 nullFlavor extension binds ``v3-NullFlavor|4.0.1``, a version the
  terminology never had: unversioned;
- two texts of the core with broken links (DeviceUseStatement's requirements,
  ServiceRequest's code binding description);
- the R4 extensions pack names R5 data types (``integer64``, ``CodeableReference``,
  ``RatioRange``, ``Availability``, ``ExtendedContactDetail``) among the types of some
  elements: removed (R4 has none of them).

Nothing here names an IG: the corrections are those of the core specification and of the
HL7 extensions pack, as the reference tools make them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

FHIR_SD = "http://hl7.org/fhir/StructureDefinition/"
VITAL_SIGNS = FHIR_SD + "vitalsigns"
VITAL_UNITS = "http://hl7.org/fhir/ValueSet/ucum-vitals-common|4.0.1"
VS1_EXPRESSION = "$this is dateTime implies $this.toString().length() >= 10"
NULL_FLAVOR = "http://terminology.hl7.org/ValueSet/v3-NullFlavor"
R5_TYPES = frozenset(
    {"integer64", "CodeableReference", "RatioRange", "Availability", "ExtendedContactDetail"}
)
_DUS_REQUIREMENTS = (
    "[http://hl7.org/fhir/StructureDefinition/bodySite](null.html)",
    "[http://hl7.org/fhir/StructureDefinition/bodySite](http://hl7.org/fhir/extension-bodysite.html)",
)
_SR_BINDING = (
    " and a valueset using LOINC Order codes is available "
    "[here](valueset-diagnostic-requests.html).",
    ".",
)
_SR_BINDING_START = "Codes for tests or services that can be carried out by a designated individual"


def correct(resource: dict[str, Any], package: str) -> None:
    """Make, in place, the corrections the HL7 tools make to ``resource`` of ``package``
    (``name#version``) as they load it."""
    if resource.get("resourceType") != "StructureDefinition":
        return
    url = resource.get("url")
    if not isinstance(url, str):
        return
    base = resource.get("baseDefinition")
    base = base.split("|", 1)[0] if isinstance(base, str) else None
    core = url.startswith(FHIR_SD) and resource.get("version") == "4.0.1"
    if VITAL_SIGNS in (url, base):
        _vital_signs(resource, binding=core and resource.get("type") == "Observation")
    if core and url == FHIR_SD + "iso21090-nullFlavor":
        for el in _elements(resource):
            binding = el.get("binding")
            if isinstance(binding, dict) and binding.get("valueSet") == f"{NULL_FLAVOR}|4.0.1":
                binding["valueSet"] = NULL_FLAVOR
    if core and url == FHIR_SD + "DeviceUseStatement":
        for el in _elements(resource):
            text = el.get("requirements")
            if isinstance(text, str) and _DUS_REQUIREMENTS[0] in text:
                el["requirements"] = text.replace(*_DUS_REQUIREMENTS)
    if core and url == FHIR_SD + "ServiceRequest":
        for el in _elements(resource):
            binding = el.get("binding")
            text = binding.get("description") if isinstance(binding, dict) else None
            if isinstance(text, str) and text.startswith(_SR_BINDING_START):
                binding["description"] = text.replace(*_SR_BINDING)  # type: ignore[index]
    if package.split("#", 1)[0] == "hl7.fhir.uv.extensions.r4":
        for el in _elements(resource):
            types = el.get("type")
            if isinstance(types, list):
                kept = [t for t in types if not (isinstance(t, dict) and t.get("code") in R5_TYPES)]
                if len(kept) != len(types):
                    el["type"] = kept


def _vital_signs(resource: dict[str, Any], binding: bool) -> None:
    for el in _elements(resource):
        for inv in el.get("constraint") or []:
            if isinstance(inv, dict) and inv.get("key") == "vs-1":
                inv["expression"] = VS1_EXPRESSION
        b = el.get("binding")
        if (
            binding
            and el.get("path") == "Observation.component.value[x]"
            and isinstance(b, dict)
            and b.get("valueSet") == VITAL_UNITS
        ):
            b["strength"] = "extensible"


def _elements(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for part in ("snapshot", "differential"):
        holder = resource.get(part)
        elements = holder.get("element") if isinstance(holder, dict) else None
        for el in elements if isinstance(elements, list) else []:
            if isinstance(el, dict):
                yield el
