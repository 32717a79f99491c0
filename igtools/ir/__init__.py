"""Stage 2 of the pipeline: the intermediate representation, built once from the index."""

from igtools.ir.build import build_ir
from igtools.ir.model import (
    IG,
    Binding,
    Capability,
    Element,
    Extension,
    Invariant,
    Profile,
    SearchParam,
    Slicing,
    TypeRef,
    ValueSet,
)

__all__ = [
    "IG",
    "Binding",
    "Capability",
    "Element",
    "Extension",
    "Invariant",
    "Profile",
    "SearchParam",
    "Slicing",
    "TypeRef",
    "ValueSet",
    "build_ir",
]
