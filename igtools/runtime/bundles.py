"""The rules the HL7 reference validator applies to every Bundle, beyond its invariants.

- ``fullUrl`` is required on each entry, except in transactions, batches and their
  responses; when present it is an absolute URL, and a RESTful one
  (``.../Type/id`` where ``Type`` is a resource type) ends with the entry resource's type and id;
- an entry without ``fullUrl`` cannot anchor relative references: each relative
  reference inside it is an error, and the entry is reported once;

- a searchset whose entries state their search mode: a ``match`` or ``include`` entry's
  resource has an id, a ``match`` one is of a type the self link's search names
  (``.../Patient?...`` or ``_type=A,B``), an ``outcome`` one is an OperationOutcome.

Unique ``fullUrl`` values are the core invariant bdl-7, checked with the invariants.

Locations are FHIRPath-style (``Bundle.entry[2].fullUrl``); messages follow the
reference's wording so that users can compare.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from .fhirjson import is_resource_type

JSON = Any

FULLURL_OPTIONAL = frozenset({"transaction", "transaction-response", "batch", "batch-response"})
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_RESTFUL = re.compile(
    r"^(?:https?://[^\s]*?/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/[A-Za-z0-9\-.]{1,64})?$"
)


def is_absolute(url: str) -> bool:
    return bool(_ABSOLUTE.match(url))


def is_restful(url: str) -> bool:
    """Does ``url`` look like a RESTful server URL (``[base/]Type/id[/_history/v]``)?
    As the reference validator's ``URI_REGEX``, ``Type`` must be an R4 resource type:
    ``http://x.org/Obervation/1`` (a typo) is just an absolute URL."""
    m = _RESTFUL.match(url)
    return m is not None and is_resource_type(m["type"])


def relative_references(value: JSON, loc: str) -> Iterator[tuple[str, str]]:
    """(location, reference) of each relative literal reference in ``value``, not
    descending into contained or nested resources (they have their own context)."""
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref and not ref.startswith("#") and not is_absolute(ref):
            yield f"{loc}.reference", ref
        for k, v in value.items():
            if k not in ("contained", "resource"):
                yield from relative_references(v, f"{loc}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from relative_references(v, f"{loc}[{i}]")


def bundle_issues(bundle: JSON) -> list[tuple[str, str, str]]:
    """(location, message, rule) of each Bundle rule ``bundle`` breaks."""
    out: list[tuple[str, str, str]] = []
    if not isinstance(bundle, dict):
        return out
    btype = bundle.get("type") if isinstance(bundle.get("type"), str) else ""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return out
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        loc = f"Bundle.entry[{i}]"
        full = entry.get("fullUrl")
        res = entry.get("resource")
        rtype = res.get("resourceType") if isinstance(res, dict) else None
        rid = res.get("id") if isinstance(res, dict) else None
        if isinstance(full, str) and full:
            if not is_absolute(full):
                out.append(
                    (f"{loc}.fullUrl", f"The fullUrl '{full}' must be an absolute URL", "bundle")
                )
            else:
                if is_restful(full) and isinstance(rtype, str):
                    if not isinstance(rid, str):
                        out.append(
                            (
                                f"{loc}.fullUrl",
                                f"The fullUrl '{full}' looks like a RESTful server URL, so "
                                "the resource must have an id",
                                "bundle",
                            )
                        )
                    elif not full.endswith(f"/{rtype}/{rid}") and full != f"{rtype}/{rid}":
                        out.append(
                            (
                                f"{loc}.fullUrl",
                                f"The fullUrl '{full}' looks like a RESTful server URL, so it "
                                f"must end with the resource type and id ({rtype}/{rid})",
                                "bundle",
                            )
                        )
        elif btype not in FULLURL_OPTIONAL:
            out.append(
                (
                    loc,
                    "Except for transactions and batches, each entry in a Bundle must have a "
                    "fullUrl which is the identity of the resource in the entry",
                    "bundle",
                )
            )
            if isinstance(res, dict):
                refs = list(relative_references(res, f"{loc}.resource"))
                if refs:
                    out.append((loc, "Bundle entry missing fullUrl", "bundle"))
                for ref_loc, _ref in refs:
                    out.append(
                        (
                            ref_loc,
                            "Relative Reference appears inside Bundle whose entry is missing "
                            "a fullUrl",
                            "bundle",
                        )
                    )
    if btype == "searchset":
        out.extend(_searchset_issues(bundle, entries))
    return out


def _search_types(bundle: JSON) -> list[str]:
    """The resource types the search of a searchset's self link names: the last path
    segment before ``?`` when it is one, else the ``_type`` parameter's."""
    links = bundle.get("link")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relation") == "self":
            url = link.get("url")
            if not isinstance(url, str):
                return []
            head, _, tail = url.partition("?")
            last = head.rstrip("/").rsplit("/", 1)[-1]
            if is_resource_type(last):
                return [last]
            return [
                t
                for part in tail.split("&")
                if part.startswith("_type=")
                for t in part[len("_type=") :].split(",")
                if t
            ]
    return []


def _mode(entry: JSON) -> Any:
    search = entry.get("search") if isinstance(entry, dict) else None
    return search.get("mode") if isinstance(search, dict) else None


def _searchset_issues(bundle: JSON, entries: list[Any]) -> list[tuple[str, str, str]]:
    """The reference validator's rules on the entries of a searchset that state their
    search mode (when none does, it only warns)."""
    modes = [_mode(e) for e in entries]
    if not any(isinstance(m, str) for m in modes):
        return []
    types = _search_types(bundle)
    out: list[tuple[str, str, str]] = []
    for i, (entry, mode) in enumerate(zip(entries, modes, strict=True)):
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(mode, str) or not isinstance(res, dict):
            continue
        loc = f"Bundle.entry[{i}].resource"
        rtype = res.get("resourceType")
        if mode in ("match", "include") and not res.get("id"):
            out.append((loc, "Search results must have ids", "bundle"))
        if mode == "match" and types and rtype not in types:
            expected = ", ".join(types)
            out.append(
                (
                    loc,
                    "This is not a matching resource type for the specified search "
                    f"({rtype} expecting [{expected}])",
                    "bundle",
                )
            )
        elif mode not in ("match", "include") and rtype != "OperationOutcome":
            out.append((loc, f"This is not an OperationOutcome ({rtype})", "bundle"))
    return out


def bundle_resolver(bundle: JSON) -> Callable[[str], str | None]:
    """The resource type a reference resolves to among the entries of ``bundle``: by
    ``fullUrl`` (``urn:uuid:``, absolute URLs), and a relative ``Type/id`` by the entry
    whose RESTful ``fullUrl`` ends with it; None when no entry matches."""
    by_url: dict[str, str] = {}
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        full, res = entry.get("fullUrl"), entry.get("resource")
        if isinstance(full, str) and isinstance(res, dict):
            rtype = res.get("resourceType")
            if isinstance(rtype, str):
                by_url.setdefault(full, rtype)

    def resolve(ref: str) -> str | None:
        found = by_url.get(ref.split("/_history/")[0])
        if found is not None or is_absolute(ref):
            return found
        tail = "/" + ref.split("/_history/")[0]
        for url, rtype in by_url.items():
            if url.endswith(tail) and is_restful(url):
                return rtype
        return None

    return resolve
