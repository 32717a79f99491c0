"""Scenario Bundles: for each Bundle profile, a searchset whose entries conform to the
profiles the Bundle allows, with references that resolve inside the Bundle.

The searched ("match") resource type is, by default, the type of the Bundle profile's
first entry slice; ``ig-input/igtools.toml`` can name another one per Bundle profile
(``[examples.match]``). Other entries are ``include``. With ``count`` K, the Bundle
holds K matched resources spread over ceil(K / 10) of each other resource.

Each Bundle profile also gets a *minimal* instance: only the entries its slices require
(a searchset with none required is the empty result: ``total: 0``, no ``entry``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from igtools.ir.model import IG, Element, Profile
from igtools.render.examples.builder import Builder
from igtools.render.examples.helpers import guess_type, is_resource

BASE = "https://fhir.exemple.fr/fhir"


@dataclass
class EntryKind:
    slice_name: str
    profile: Profile
    min: int
    max: int | None = None
    bare: bool = False  # a profile the package set does not hold: a bare resource of its type


def entry_kinds(ig: IG, bundle: Profile) -> list[EntryKind]:
    """The entry slices naming a resource profile, in slice order. A required slice whose
    profile lives in a dependency (FR Core's patient) gets a bare resource of its type:
    the toolkit cannot build to a profile it does not hold, and the entry is required."""
    entry = bundle.root.child("entry")
    out: list[EntryKind] = []
    if entry is None:
        return out
    for s in entry.slices:
        res = s.child("resource")
        if res is None or s.prohibited:
            continue
        for t in res.types:
            for url in t.profiles:
                prof = ig.profiles.get(url.partition("|")[0])
                if prof is not None:
                    out.append(EntryKind(str(s.slice_name), prof, s.min, s.max))
                elif s.min >= 1 and is_resource(t.code):
                    out.append(EntryKind(str(s.slice_name), _bare(t.code, url), s.min, s.max, True))
    return out


def _entry_id(bundle_id: str, suffix: str) -> str:
    """An entry's resource id: the Bundle's id and ``suffix``, within the 64 characters
    of a FHIR id (the end of the Bundle's id is kept: it tells minimal from scenario)."""
    room = 64 - len(suffix)
    head = bundle_id if len(bundle_id) <= room else bundle_id[-room:].lstrip("-.")
    return head + suffix


def _bare(rtype: str, url: str) -> Profile:
    """A stand-in profile with nothing to build but the resource type."""
    root = Element(rtype, rtype, 0, None, rtype, 0, None)
    return Profile(
        url.partition("|")[0], None, rtype, None, rtype.lower(), "", rtype, "resource",
        "constraint", None, None, None, False, root,
    )  # fmt: skip


def _targets(profile: Profile, ig: IG) -> set[str]:
    """Resource types a profile's references can point at."""
    out = set()
    for el in profile.elements():
        for t in el.types:
            if t.code != "Reference":
                continue
            for url in t.target_profiles:
                prof = ig.profiles.get(url.partition("|")[0])
                rt = prof.type if prof is not None else guess_type(url)
                if rt:
                    out.add(rt)
    return out


def _order(kinds: list[EntryKind], ig: IG) -> list[EntryKind]:
    """Referenced resources first, so that referring ones can point at them."""
    remaining = list(kinds)
    done: list[EntryKind] = []
    while remaining:
        for k in remaining:
            wants = _targets(k.profile, ig)
            if not any(o.profile.type in wants for o in remaining if o is not k):
                done.append(k)
                remaining.remove(k)
                break
        else:  # a cycle: take the first
            done.append(remaining.pop(0))
    return done


def build_bundle(
    builder: Builder,
    ig: IG,
    bundle: Profile,
    bundle_id: str,
    count: int,
    match_type: str | None,
    minimal: bool = False,
) -> dict[str, Any] | None:
    """The scenario Bundle of a Bundle profile, or (``minimal``) the one with only the
    entries its slices require; None when no entry slice names a profile."""
    kinds = entry_kinds(ig, bundle)
    if not kinds:
        return None
    if builder.checker is not None:
        # with the package set at hand, a dependency's profile is built to, not stood in for
        for kind in kinds:
            dep = builder.checker.profile(kind.profile.url) if kind.bare else None
            if dep is not None and dep.kind == "resource":
                kind.profile, kind.bare = dep, False
    btype = _bundle_type(bundle)
    match = match_type or kinds[0].profile.type
    groups = max(1, math.ceil(count / 10))
    ordered = _order(kinds, ig)
    types_in_bundle = {k.profile.type for k in kinds}
    counts = _entry_counts(bundle, ordered, match, count, groups, minimal)
    entries: list[dict[str, Any]] = []
    built: dict[str, list[str]] = {}  # type -> references "Type/id"
    saved_targets, saved_types = builder.targets, builder.bundle_types
    builder.bundle_types = types_in_bundle
    try:
        for j, (kind, n) in enumerate(counts):
            rtype = kind.profile.type
            # a second slice of the same type is told apart by its name
            repeated = any(k.profile.type == rtype for k, _ in counts[:j])
            stem = (kind.slice_name if repeated else rtype).lower()
            for i in range(n):
                targets = {t: refs[i % len(refs)] for t, refs in built.items() if refs}
                builder.targets = dict(targets)
                rid = _entry_id(bundle_id, f"-{stem}-{i + 1}")
                res = builder.instance(kind.profile, rid, full=False, variant=i)
                if kind.bare:
                    res.pop("meta", None)  # claims no profile it was not built to
                built.setdefault(rtype, []).append(f"{rtype}/{rid}")
                entry: dict[str, Any] = {"fullUrl": f"{BASE}/{rtype}/{rid}", "resource": res}
                if btype == "searchset":
                    entry["search"] = {"mode": "match" if rtype == match else "include"}
                elif btype in ("transaction", "batch"):
                    method = _entry_method(bundle, kind.slice_name) or "PUT"
                    url = f"{rtype}/{rid}" if method == "PUT" else rtype
                    entry["request"] = {"method": method, "url": url}
                elif btype in ("transaction-response", "batch-response"):
                    entry["response"] = {"status": "201 Created"}
                entries.append(entry)
    finally:
        builder.targets, builder.bundle_types = saved_targets, saved_types
    bundle_res: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": bundle_id,
        "meta": {"profile": [bundle.url]},
        "type": btype,
    }
    if btype == "searchset":
        entries.sort(key=lambda e: (e["search"]["mode"] != "match",))
        bundle_res["total"] = sum(1 for e in entries if e["search"]["mode"] == "match")
        bundle_res["link"] = [{"relation": "self", "url": f"{BASE}/{match}"}]
    if entries:
        bundle_res["entry"] = entries
    _complete_bundle(builder, bundle, bundle_res)
    return bundle_res


def _entry_counts(
    bundle: Profile,
    ordered: list[EntryKind],
    match: str,
    count: int,
    groups: int,
    minimal: bool,
) -> list[tuple[EntryKind, int]]:
    """How many entries of each kind (one profile per type: the first slice naming it, or
    every required slice of it).
    A scenario has ``count`` matches and ``groups`` of each other type; a minimal Bundle
    only what the entry slices require, and as many entries as Bundle.entry requires
    (the searched type's first, within each slice's max)."""
    chosen: list[EntryKind] = []
    for kind in ordered:
        same = [k for k in chosen if k.profile.type == kind.profile.type]
        if kind.min >= 1 and any(k.min == 0 for k in same):
            chosen = [k for k in chosen if k not in same or k.min >= 1]  # the required one
            same = [k for k in same if k.min >= 1]
        if not same or kind.min >= 1:
            chosen.append(kind)
    counts: list[tuple[EntryKind, int]] = []
    for k in chosen:
        first = all(o.profile.type != k.profile.type for o, _ in counts)
        wanted = 0 if minimal or not first else count if k.profile.type == match else groups
        counts.append((k, max(wanted, k.min)))
    entry_el = bundle.root.child("entry")
    short = (entry_el.min if entry_el is not None else 0) - sum(n for _, n in counts)
    for i in sorted(range(len(counts)), key=lambda i: counts[i][0].profile.type != match):
        kind, n = counts[i]
        room = short if kind.max is None else min(short, kind.max - n)
        if room > 0:
            counts[i] = (kind, n + room)
            short -= room
    return counts


def _bundle_type(bundle: Profile) -> str:
    """The Bundle type the profile fixes (a transaction, a document...), else searchset."""
    el = bundle.root.child("type")
    for value in (el.fixed, el.pattern) if el is not None else ():
        if value is not None and isinstance(value[1], str):
            return value[1]
    return "searchset"


def _entry_method(bundle: Profile, slice_name: str) -> str | None:
    """The request method an entry slice fixes (POST for a creation), if any."""
    entry = bundle.root.child("entry")
    for s in entry.slices if entry is not None else []:
        if s.slice_name != slice_name:
            continue
        request = s.child("request")
        method = request.child("method") if request is not None else None
        for value in (method.fixed, method.pattern) if method is not None else ():
            if value is not None and isinstance(value[1], str):
                return value[1]
    return None


def _complete_bundle(builder: Builder, bundle: Profile, res: dict[str, Any]) -> None:
    """Bundle-level elements the profile requires beyond type, total, link and entry."""
    for child in bundle.root.children:
        if child.min >= 1 and child.name not in res and child.name not in ("entry", "id", "meta"):
            value = _value(builder, bundle, child)
            if value is not None:
                res[child.name] = [value] if child.is_array else value


def _value(builder: Builder, bundle: Profile, el: Element) -> Any:
    from igtools.render.examples.builder import Scope

    builder.scope = Scope(bundle, str(bundle.id), builder.data.commune(), "", "")
    try:
        return builder.value(el)
    finally:
        builder.scope = None
