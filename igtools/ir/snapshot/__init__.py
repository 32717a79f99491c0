"""Snapshots from differentials, as the IG Publisher computes them.

A StructureDefinition written by SUSHI (or by hand) carries only a differential: the
elements it constrains. Its snapshot is the full element list of its base definition with
those constraints applied (HL7 ``ProfileUtilities.generateSnapshot``):

- the base's snapshot is laid out as a tree (children, then slices, of each element:
  :mod:`.tree`);
- each differential element is located in that tree by its id, unfolding a data type's
  children from the type's own StructureDefinition (or from the profile named by
  ``type.profile``: an extension slice's children come from the extension's definition)
  and creating slices (a copy of the base element and its children) on the way
  (:mod:`.generator`);
- its facets are merged onto the base element (cardinality, types, binding,
  fixed/pattern, constraints appended, texts, flags...: :mod:`.facets`);
- the tree is written back in order: an element, its children, then its slices.

Bases are resolved through a :class:`~igtools.packages.index.ResourceIndex`; a base
without a snapshot (another differential-only profile) is generated first, and a circular
or broken chain is an error naming the profiles. :mod:`igtools.ir.snapshot_compare`
measures the result against published snapshots.
"""

from __future__ import annotations

from igtools.ir.snapshot.facets import FHIR_SD
from igtools.ir.snapshot.generator import SnapshotGenerator, generate_snapshot
from igtools.ir.snapshot.tree import SnapshotGenerationError

__all__ = ["FHIR_SD", "SnapshotGenerationError", "SnapshotGenerator", "generate_snapshot"]
