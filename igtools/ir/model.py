"""The intermediate representation (IR) every renderer reads.

Built once from the package index by :func:`igtools.ir.build.build_ir`; renderers
(models, examples, docs, stubs, diff) never look at StructureDefinitions again.

The IR keeps FHIR's own vocabulary: an :class:`Element` is one element definition of a
profile's snapshot, placed in a tree (children, and slices under their sliced element).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

# FHIRPath system types used in snapshots for id, url and extension values
SYSTEM_TYPES = {
    "http://hl7.org/fhirpath/System.String": "string",
    "http://hl7.org/fhirpath/System.Boolean": "boolean",
    "http://hl7.org/fhirpath/System.Integer": "integer",
    "http://hl7.org/fhirpath/System.Decimal": "decimal",
    "http://hl7.org/fhirpath/System.Date": "date",
    "http://hl7.org/fhirpath/System.DateTime": "dateTime",
    "http://hl7.org/fhirpath/System.Time": "time",
}


@dataclass
class TypeRef:
    """One allowed type of an element (``code`` is a FHIR type name)."""

    code: str
    profiles: list[str] = field(default_factory=list)  # for Extension and data types
    target_profiles: list[str] = field(default_factory=list)  # for Reference, canonical

    @property
    def is_primitive(self) -> bool:
        return self.code[:1].islower()

    @property
    def target_types(self) -> list[str]:
        """Last URL segment of each target profile (the type, for core profiles)."""
        return [p.rsplit("/", 1)[-1].partition("|")[0] for p in self.target_profiles]


@dataclass
class Discriminator:
    type: str  # value | pattern | type | profile | exists
    path: str


@dataclass
class Slicing:
    discriminators: list[Discriminator]
    rules: str = "open"  # open | closed | openAtEnd
    ordered: bool = False
    description: str | None = None


@dataclass
class Concept:
    system: str | None
    code: str
    display: str | None = None


@dataclass
class Binding:
    strength: str  # required | extensible | preferred | example
    value_set: str | None
    description: str | None = None
    # the codes of the value set where it could be expanded (see terminology.py)
    codes: list[Concept] | None = None
    complete: bool = False  # codes is the whole value set
    note: str | None = None  # why codes is None or partial
    # when not None: the value set is ``codes`` plus (perhaps) codes of these systems only,
    # so a code of any other system can be judged ([] when complete)
    open_systems: list[str] | None = None


@dataclass
class Invariant:
    key: str
    severity: str  # error | warning
    human: str
    expression: str | None
    source: str | None = None  # the profile that defined it
    xpath: str | None = None


@dataclass
class Element:
    """One element of a profile, as its snapshot defines it."""

    id: str
    path: str
    min: int
    max: int | None  # None = unbounded ("*")
    base_path: str
    base_min: int
    base_max: int | None
    types: list[TypeRef] = field(default_factory=list)
    slice_name: str | None = None
    short: str | None = None
    definition: str | None = None
    comment: str | None = None
    must_support: bool = False
    is_modifier: bool = False
    is_summary: bool = False
    fixed: tuple[str, Any] | None = None  # (JSON name, value), e.g. ("fixedUri", "urn:...")
    pattern: tuple[str, Any] | None = None
    default: tuple[str, Any] | None = None
    binding: Binding | None = None
    constraints: list[Invariant] = field(default_factory=list)
    content_reference: str | None = None
    max_length: int | None = None
    min_value: tuple[str, Any] | None = None
    max_value: tuple[str, Any] | None = None
    slicing: Slicing | None = None
    children: list[Element] = field(default_factory=list)
    slices: list[Element] = field(default_factory=list)
    # for extension slots: the extension definition their type profile names, if known
    extension: Extension | None = None
    in_differential: bool = False

    @property
    def name(self) -> str:
        """Last path segment, as in the StructureDefinition (``value[x]`` kept)."""
        return self.path.rsplit(".", 1)[-1]

    @property
    def is_choice(self) -> bool:
        return self.name.endswith("[x]")

    @property
    def is_array(self) -> bool:
        """Is the element a JSON array? (decided by the base definition's max)"""
        return self.base_max is None or self.base_max > 1

    @property
    def prohibited(self) -> bool:
        return self.max == 0

    @property
    def required(self) -> bool:
        return self.min >= 1

    def json_names(self) -> list[str]:
        """The JSON property names this element can take (choice types expanded)."""
        if not self.is_choice:
            return [self.name]
        stem = self.name[:-3]
        return [stem + t.code[0].upper() + t.code[1:] for t in self.types]

    def child(self, name: str) -> Element | None:
        for c in self.children:
            if c.name == name:
                return c
        return None

    def slice(self, name: str) -> Element | None:
        for s in self.slices:
            if s.slice_name == name:
                return s
        return None

    def walk(self) -> Iterator[Element]:
        """This element, its children and slices, depth first in snapshot order."""
        yield self
        for c in self.children:
            yield from c.walk()
        for s in self.slices:
            yield from s.walk()

    @property
    def type_codes(self) -> list[str]:
        return [t.code for t in self.types]


@dataclass
class Extension:
    """An extension definition: url, contexts, value types, nested extensions."""

    url: str
    name: str
    title: str | None
    contexts: list[str]
    value_types: list[TypeRef]  # empty for complex extensions
    value_element: Element | None
    children: list[Extension] = field(default_factory=list)  # nested (complex) extensions
    min: int = 0
    max: int | None = None  # for nested extensions: cardinality within the parent
    short: str | None = None
    definition: str | None = None
    package: str | None = None

    @property
    def is_complex(self) -> bool:
        return bool(self.children)


@dataclass
class Profile:
    """A StructureDefinition (a profile, an extension or a logical model) in IR form."""

    url: str
    version: str | None
    name: str
    title: str | None
    id: str
    package: str
    type: str  # the base resource or data type
    kind: str  # resource | complex-type | primitive-type | logical
    derivation: str | None  # constraint | specialization
    base_definition: str | None
    status: str | None
    description: str | None
    abstract: bool
    root: Element
    extension: Extension | None = None  # set for extension definitions
    warnings: list[str] = field(default_factory=list)
    source: dict[str, Any] | None = field(default=None, repr=False)  # as published (downloads)

    @property
    def is_extension(self) -> bool:
        return self.type == "Extension" and self.derivation == "constraint"

    @property
    def is_profile(self) -> bool:
        return self.derivation == "constraint" and not self.is_extension

    def elements(self) -> Iterator[Element]:
        return self.root.walk()

    def element(self, id: str) -> Element | None:
        for el in self.elements():
            if el.id == id:
                return el
        return None

    @property
    def invariants(self) -> list[tuple[Element, Invariant]]:
        return [(el, inv) for el in self.elements() for inv in el.constraints]


@dataclass
class ValueSet:
    url: str
    version: str | None
    name: str | None
    title: str | None
    id: str | None
    package: str
    description: str | None
    codes: list[Concept] | None  # None when it cannot be expanded at all
    complete: bool  # codes is the whole value set
    note: str | None = None  # why not complete
    includes: list[dict[str, Any]] = field(default_factory=list)  # compose.include as given
    open_systems: list[str] | None = None  # as Binding.open_systems


@dataclass
class CodeSystem:
    url: str
    version: str | None
    name: str | None
    title: str | None
    id: str | None
    package: str
    content: str | None
    concepts: list[Concept]
    description: str | None = None


@dataclass
class SearchParam:
    """A search parameter as the wire knows it: ``code`` is the query name."""

    code: str
    type: str
    url: str | None = None
    name: str | None = None  # the CapabilityStatement's label
    base: list[str] = field(default_factory=list)
    expression: str | None = None
    description: str | None = None
    targets: list[str] = field(default_factory=list)
    comparators: list[str] = field(default_factory=list)
    modifiers: list[str] = field(default_factory=list)
    chains: list[str] = field(default_factory=list)
    multiple_or: bool | None = None
    multiple_and: bool | None = None
    documentation: str | None = None
    expectation: str | None = None  # SHALL | SHOULD | MAY (capability extension)
    resolved: bool = True  # False: the definition was not found; code is a guess


@dataclass
class CapabilityOperation:
    """A ``rest.operation`` or ``rest.resource.operation`` of a CapabilityStatement: its
    ``name`` (without ``$``), the canonical of its OperationDefinition and, when the package
    set has that definition, the levels it allows (``system``/``type``/``instance``) and the
    resource types it names (``None``: the definition was not found)."""

    name: str
    definition: str | None = None
    documentation: str | None = None
    system: bool | None = None
    type: bool | None = None
    instance: bool | None = None
    resources: list[str] = field(default_factory=list)


@dataclass
class CapabilityResource:
    type: str
    profile: str | None
    supported_profiles: list[str]
    interactions: list[str]
    search_params: list[SearchParam]
    search_includes: list[str]
    search_rev_includes: list[str]
    conditional_create: bool | None = None
    conditional_update: bool | None = None
    conditional_delete: str | None = None
    documentation: str | None = None
    versioning: str | None = None
    operations: list[CapabilityOperation] = field(default_factory=list)


@dataclass
class CapabilityRest:
    mode: str  # server | client
    resources: list[CapabilityResource]
    interactions: list[str]  # system-level
    documentation: str | None = None
    operations: list[CapabilityOperation] = field(default_factory=list)  # system-level


@dataclass
class Capability:
    url: str | None
    name: str | None
    title: str | None
    id: str | None
    package: str
    kind: str | None
    status: str | None
    description: str | None
    formats: list[str]
    rest: list[CapabilityRest]


@dataclass
class Example:
    resource_type: str
    id: str | None
    package: str
    path: str
    profiles: list[str]
    data: dict[str, Any]


class DependencySearchParamLookup(Protocol):
    def get(self, resource: str, code: str) -> SearchParam | None: ...


@dataclass
class IG:
    """The IR of a package set: what the renderers read."""

    package: str  # root package id, name#version
    name: str
    version: str
    title: str | None
    canonical: str | None
    profiles: dict[str, Profile]  # the root package's StructureDefinitions by URL
    extensions: dict[str, Extension]  # every extension definition reached, by URL
    value_sets: dict[str, ValueSet]  # the root package's and every bound one found
    code_systems: dict[str, CodeSystem]
    search_params: dict[str, SearchParam]  # the root package's, by URL
    capabilities: list[Capability]
    examples: list[Example]
    warnings: list[str] = field(default_factory=list)
    # the dependencies' search parameters (the core's base ones), read on demand:
    # ``dependency_search_params.get(resource_type, code)``
    dependency_search_params: DependencySearchParamLookup | None = field(
        default=None, repr=False, compare=False
    )
