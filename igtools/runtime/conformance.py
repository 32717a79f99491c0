"""The conformance checks of a FHIR server against a statement's contract: one
implementation for the contract tests of generated server packages (pytest) and for
``igtools conformance`` (any server, a table of results).

A ``Contract`` holds what ``igtools stubs`` derives from the IG: searches by ``_id`` with
the declared includes, reads, date parameters (malformed dates), each search flow in its
shape with the reference implementation's answer, the writes with a required element, the
Bundle profiles, the IG's examples and a validator. Each check sends its requests through
any client with httpx's ``get``/``post``/``put`` and raises ``CheckFailed`` (an
``AssertionError``) saying what was expected, or ``CheckSkipped``. ``checks(contract)``
lists them all, each with its name, its case and whether it needs the IG's examples on the
server. Standard library only.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol
from urllib.parse import urlencode

JSON = dict[str, Any]
Query = list[tuple[str, str]]
# a search flow: (type, query, matches, included, the same shape matching nothing)
Flow = tuple[str, Query, list[str], list[str], Query | None]
# a write: (type, example id, create, update, conditional update key, required element)
Write = tuple[str, str, bool, bool, str | None, str | None]
# the error messages of a resource against a profile (by URL); None: profile unknown
Validator = Callable[[JSON, str], list[str] | None]
FHIR_BODY = {"Content-Type": "application/fhir+json"}


class Response(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self) -> Any: ...


class Client(Protocol):
    """What the checks need of an HTTP client (an ``httpx.Client`` with a base URL)."""

    def get(self, url: str) -> Response: ...

    def post(self, url: str, *, content: str, headers: dict[str, str]) -> Response: ...

    def put(self, url: str, *, content: str, headers: dict[str, str]) -> Response: ...


class CheckFailed(AssertionError):
    """A check's expectation the server did not meet (the message says which)."""


class CheckSkipped(Exception):
    """A check that cannot run here (the message says why)."""


@dataclass
class Contract:
    """What the checks ask and expect (see the module docstring)."""

    searches: list[tuple[str, str, list[str]]]  # (type, example id, includes)
    dates: list[tuple[str, str]]  # (type, date parameter)
    profiles: dict[str, list[str]]  # type -> profiles
    flows: list[Flow]
    bundle_profiles: dict[str, str]  # type -> Bundle profile of its searches
    writes: list[Write]
    examples: Mapping[str, JSON]  # "Type/id" -> the IG's example
    validate: Validator
    reads: list[tuple[str, str]] = field(default_factory=list)  # (type, example id)


@dataclass(frozen=True)
class Check:
    """One check: ``name`` (as the contract test, without ``test_``), ``case`` (its
    parameter), ``needs_data`` (it queries the IG's examples on the server)."""

    name: str
    case: str
    needs_data: bool
    run: Callable[[Client], None]

    @property
    def id(self) -> str:
        return f"{self.name}[{self.case}]" if self.case else self.name


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def _body(r: Response, what: str) -> JSON:
    """The JSON object of an answer (CheckFailed when it is not one)."""
    try:
        data = r.json()
    except ValueError:
        raise CheckFailed(f"{what}: expected a JSON answer, got {r.text[:200]!r}") from None
    _expect(isinstance(data, dict), f"{what}: expected a JSON object, got {r.text[:200]!r}")
    return dict(data)


def _status(r: Response, wanted: int, what: str) -> None:
    _expect(
        r.status_code == wanted, f"{what}: expected {wanted}, got {r.status_code} {r.text[:500]}"
    )


def _outcome(r: Response, what: str) -> JSON:
    """A 4xx answer carrying an OperationOutcome."""
    _expect(
        400 <= r.status_code < 500,
        f"{what}: expected a 4xx OperationOutcome, got {r.status_code} {r.text[:300]}",
    )
    body = _body(r, what)
    _expect(
        body.get("resourceType") == "OperationOutcome",
        f"{what}: expected an OperationOutcome, got a {body.get('resourceType')}",
    )
    return body


def _keys(bundle: JSON, mode: str) -> list[str]:
    return sorted(
        f"{e['resource'].get('resourceType')}/{e['resource'].get('id')}"
        for e in bundle.get("entry", [])
        if isinstance(e, dict)
        and (e.get("search") or {}).get("mode") == mode
        and isinstance(e.get("resource"), dict)
    )


def check_profile(contract: Contract, res: JSON) -> None:
    """``res`` satisfies one of the profiles it claims that the contract knows, else one
    of its type's profiles."""
    claimed = (res.get("meta") or {}).get("profile", [])
    rtype = str(res.get("resourceType"))
    results = [(url, e) for url in claimed if (e := contract.validate(res, url)) is not None]
    if not results:  # no profile claimed that the contract knows: its type's profiles
        results = [
            (url, e)
            for url in contract.profiles.get(rtype, [])
            if (e := contract.validate(res, url)) is not None
        ]
    if not results or any(not errors for _, errors in results):
        return
    detail = "; ".join(f"{url}: {errors}" for url, errors in results)
    raise CheckFailed(f"{rtype}/{res.get('id')}: expected valid against its profile, {detail}")


def check_bundle(contract: Contract, bundle: JSON, rtype: str, entries: bool = True) -> None:
    """A searchset Bundle with a total (and ``entries``: ``check_entries``)."""
    _expect(
        bundle.get("resourceType") == "Bundle",
        f"expected a Bundle, got a {bundle.get('resourceType')}",
    )
    _expect(
        bundle.get("type") == "searchset",
        f"Bundle.type is {bundle.get('type')}, expected searchset",
    )
    _expect(isinstance(bundle.get("total"), int), "Bundle.total is missing, expected a count")
    if entries:
        check_entries(contract, bundle, rtype)


def check_entries(contract: Contract, bundle: JSON, rtype: str) -> None:
    """A searchset's entries: modes, fullUrls, matches of ``rtype``, resources in profile."""
    for entry in bundle.get("entry", []):
        mode = (entry.get("search") or {}).get("mode")
        _expect(
            mode in ("match", "include", "outcome"),
            f"entry search.mode {mode}, expected match, include or outcome",
        )
        res = entry.get("resource") or {}
        if mode == "match":
            _expect(
                res.get("resourceType") == rtype,
                f"a match is a {res.get('resourceType')}, expected a {rtype}",
            )
        if mode != "outcome":
            full = str(entry.get("fullUrl", ""))
            _expect(
                full.endswith(f"{res.get('resourceType')}/{res.get('id')}"),
                f"fullUrl {full!r}, expected one ending in "
                f"{res.get('resourceType')}/{res.get('id')}",
            )
            check_profile(contract, res)


def _search(client: Client, rtype: str, query: Query) -> JSON:
    r = client.get(f"/{rtype}?{urlencode(query, safe=':,|')}")
    _status(r, 200, f"GET {rtype}?...")
    return _body(r, f"GET {rtype}?...")


# ------------------------------------------------------------------------------ the checks


def metadata(client: Client, contract: Contract) -> None:
    """``/metadata``: one CapabilityStatement listing the types of the contract."""
    r = client.get("/metadata")
    _status(r, 200, "GET /metadata")
    body = _body(r, "GET /metadata")
    _expect(
        body.get("resourceType") == "CapabilityStatement",
        f"GET /metadata: expected a CapabilityStatement, got a {body.get('resourceType')}",
    )
    listed = {
        str(res.get("type"))
        for rest in body.get("rest", [])
        if isinstance(rest, dict) and rest.get("mode") == "server"
        for res in rest.get("resource", [])
        if isinstance(res, dict)
    }
    missing = sorted(set(contract.profiles) - listed)
    _expect(not missing, f"GET /metadata: expected the types {missing} in its server rest")


def read(client: Client, contract: Contract, rtype: str, rid: str) -> None:
    """``GET [type]/[id]`` of an example: that resource, in its profile."""
    r = client.get(f"/{rtype}/{rid}")
    _status(r, 200, f"GET {rtype}/{rid}")
    res = _body(r, f"GET {rtype}/{rid}")
    got = f"{res.get('resourceType')}/{res.get('id')}"
    _expect(got == f"{rtype}/{rid}", f"GET {rtype}/{rid}: expected that resource, got {got}")
    check_profile(contract, res)


def search_by_id(
    client: Client, contract: Contract, rtype: str, rid: str, includes: list[str]
) -> None:
    """A search by ``_id`` with the declared includes: the example, what it references."""
    bundle = _search(client, rtype, [("_id", rid)] + [("_include", i) for i in includes])
    check_bundle(contract, bundle, rtype)
    got = [k.split("/", 1)[1] for k in _keys(bundle, "match")]
    _expect(got == [rid], f"matches {got}, expected [{rid!r}]")
    example = contract.examples.get(f"{rtype}/{rid}", {})
    included = set(_keys(bundle, "include"))
    for inc in includes:
        refs = example.get(inc.split(":")[1])
        wanted = {
            str(v["reference"])
            for v in (refs if isinstance(refs, list) else [refs])
            if isinstance(v, dict) and "reference" in v and not str(v["reference"]).startswith("#")
        }
        _expect(wanted <= included, f"_include={inc}: missing {sorted(wanted - included)}")


def empty_result_is_200(client: Client, contract: Contract, rtype: str) -> None:
    """A search matching nothing: 200, a searchset with ``total: 0``."""
    bundle = _search(client, rtype, [("_id", "no-such-resource-0000")])
    _expect(
        bundle.get("type") == "searchset" and bundle.get("total") == 0,
        f"expected a searchset with total 0, got type {bundle.get('type')}, "
        f"total {bundle.get('total')}",
    )
    _expect(not _keys(bundle, "match"), f"expected no match, got {_keys(bundle, 'match')}")


def malformed_date_is_a_4xx_outcome(
    client: Client, contract: Contract, rtype: str, param: str
) -> None:
    """A malformed date: a 4xx OperationOutcome."""
    r = client.get(f"/{rtype}?{urlencode([(param, 'xx2021-13-45')])}")
    _outcome(r, f"GET {rtype}?{param}=xx2021-13-45")


def flow(client: Client, contract: Contract, f: Flow) -> None:
    """A search flow's query: exactly the reference's matches and includes, ``total``,
    the flow's Bundle profile claimed and satisfied."""
    rtype, query, matches, included, _ = f
    bundle = _search(client, rtype, query)
    check_bundle(contract, bundle, rtype, entries=False)
    got = _keys(bundle, "match")
    _expect(
        got == matches,
        f"matches: missing {sorted(set(matches) - set(got))}, "
        f"extra {sorted(set(got) - set(matches))} "
        f"(expected {matches})",
    )
    got = _keys(bundle, "include")
    _expect(
        got == included,
        f"included: missing {sorted(set(included) - set(got))}, "
        f"extra {sorted(set(got) - set(included))}",
    )
    _expect(
        bundle.get("total") == len(matches),
        f"total {bundle.get('total')}, expected {len(matches)} (the matches)",
    )
    check_entries(contract, bundle, rtype)
    profile = contract.bundle_profiles.get(rtype)
    if profile is None:
        return
    errors = contract.validate(bundle, profile)
    if errors is None:
        return
    claimed = (bundle.get("meta") or {}).get("profile", [])
    _expect(profile in claimed, f"the Bundle claims {claimed}, expected {profile}")
    _expect(not errors, f"the Bundle is not valid against {profile}: {errors}")


def flow_without_hits(client: Client, contract: Contract, f: Flow) -> None:
    """The flow's shape with an identifier nobody holds: 200, ``total: 0``, no entries."""
    rtype, _, _, _, empty = f
    if empty is None:
        raise CheckSkipped("the flow has no variant without hits")
    bundle = _search(client, rtype, empty)
    _expect(
        bundle.get("type") == "searchset" and bundle.get("total") == 0,
        f"expected a searchset with total 0, got type {bundle.get('type')}, "
        f"total {bundle.get('total')}",
    )
    found = _keys(bundle, "match") + _keys(bundle, "include")
    _expect(not found, f"expected no entries, got {found}")


def fresh(contract: Contract, rtype: str, rid: str) -> JSON:
    """The example without its id and version, its first identifier value replaced by a
    random one of the same shape (digits for digits, letters for letters)."""
    body: JSON = json.loads(json.dumps(contract.examples[f"{rtype}/{rid}"]))
    body.pop("id", None)
    meta = body.get("meta")
    if isinstance(meta, dict):
        meta.pop("versionId", None)
        meta.pop("lastUpdated", None)
    idents = body.get("identifier")
    if isinstance(idents, list) and idents and isinstance(idents[0], dict):
        value = str(idents[0].get("value", "0000000000"))
        letters = "abcdefghijklmnopqrstuvwxyz"
        idents[0]["value"] = "".join(
            random.choice("0123456789")
            if c.isdigit()
            else random.choice(letters).upper()
            if c.isupper()
            else random.choice(letters)
            if c.isalpha()
            else c
            for c in value
        )
    return body


def _key(body: JSON, key: str) -> str | None:
    idents = body.get("identifier")
    if key != "identifier" or not isinstance(idents, list) or not idents:
        return None
    first = idents[0]
    return f"{first.get('system', '')}|{first.get('value', '')}"


def create(client: Client, contract: Contract, w: Write) -> None:
    """``POST [type]`` of an example with a fresh identifier: 201, Location, in profile."""
    rtype, rid = w[0], w[1]
    r = client.post(f"/{rtype}", content=json.dumps(fresh(contract, rtype, rid)), headers=FHIR_BODY)
    _status(r, 201, f"POST {rtype}")
    location = r.headers.get("location", "")
    _expect(f"/{rtype}/" in location, f"POST {rtype}: expected a Location header, got {location!r}")
    made = _body(r, f"POST {rtype}")
    _expect(
        made.get("resourceType") == rtype and bool(made.get("id")),
        f"POST {rtype}: expected the stored {rtype} with its id, got {r.text[:200]}",
    )
    check_profile(contract, made)


def conditional_update(client: Client, contract: Contract, w: Write) -> None:
    """``PUT [type]?key=value`` twice: created (201), then updated in place (200)."""
    rtype, rid, key = w[0], w[1], str(w[4])
    body = fresh(contract, rtype, rid)
    value = _key(body, key)
    if value is None:
        raise CheckSkipped(f"no {key} value to match on in {rtype}/{rid}")
    url = f"/{rtype}?{urlencode([(key, value)])}"
    r = client.put(url, content=json.dumps(body), headers=FHIR_BODY)
    _expect(
        r.status_code == 201,
        f"nothing matched {key}={value}: expected a creation (201), got {r.status_code} {r.text}",
    )
    first = _body(r, f"PUT {url}")
    r = client.put(url, content=json.dumps(body), headers=FHIR_BODY)
    _expect(
        r.status_code == 200,
        f"{key}={value} matched: expected an update (200), got {r.status_code} {r.text}",
    )
    again = _body(r, f"PUT {url}")
    _expect(
        again.get("id") == first.get("id"),
        f"the update created another resource ({again.get('id')}), expected {first.get('id')}",
    )


def body_outside_profile_is_a_4xx_outcome(client: Client, contract: Contract, w: Write) -> None:
    """The example without an element its profile requires: a 4xx OperationOutcome
    naming that element."""
    rtype, rid, can_create, _, key, required = w
    body = fresh(contract, rtype, rid)
    body.pop(str(required).split(".", 1)[1], None)
    if can_create:
        how = f"POST {rtype}"
        r = client.post(f"/{rtype}", content=json.dumps(body), headers=FHIR_BODY)
    elif key and _key(body, key):
        url = f"/{rtype}?{urlencode([(key, _key(body, key))])}"
        how = f"PUT {url}"
        r = client.put(url, content=json.dumps(body), headers=FHIR_BODY)
    else:
        how = f"PUT {rtype}/{rid}"
        r = client.put(
            f"/{rtype}/{rid}", content=json.dumps({**body, "id": rid}), headers=FHIR_BODY
        )
    _expect(
        400 <= r.status_code < 500,
        f"{how}: a {rtype} without {required} was accepted ({r.status_code}), "
        f"expected a 4xx OperationOutcome naming {required}",
    )
    _outcome(r, how)
    _expect(
        str(required) in r.text,
        f"the OperationOutcome does not name {required}, expected it to: {r.text[:500]}",
    )


# ------------------------------------------------------------------------------ the list


def flow_case(f: Flow) -> str:
    """A flow's name: its type and the names of its parameters but the includes."""
    return f[0] + "?" + "&".join(name for name, _ in f[1] if not name.startswith("_inc"))


def write_case(w: Write) -> str:
    return f"{w[0]}-{w[1]}"


def checks(contract: Contract) -> list[Check]:
    """Every check of the contract, in the contract tests' order."""
    c = contract
    out = [Check("metadata", "", False, partial(metadata, contract=c))]
    out += [
        Check("read", f"{t}-{i}", True, partial(read, contract=c, rtype=t, rid=i))
        for t, i in c.reads
    ]
    out += [
        Check(
            "search_by_id",
            f"{t}-{i}",
            True,
            partial(search_by_id, contract=c, rtype=t, rid=i, includes=n),
        )
        for t, i, n in c.searches
    ]
    out += [
        Check("empty_result_is_200", t, False, partial(empty_result_is_200, contract=c, rtype=t))
        for t in sorted({t for t, _, _ in c.searches})
    ]
    out += [
        Check(
            "malformed_date_is_a_4xx_outcome",
            f"{t}-{p}",
            False,
            partial(malformed_date_is_a_4xx_outcome, contract=c, rtype=t, param=p),
        )
        for t, p in c.dates
    ]
    out += [Check("flow", flow_case(f), True, partial(flow, contract=c, f=f)) for f in c.flows]
    out += [
        Check("flow_without_hits", flow_case(f), False, partial(flow_without_hits, contract=c, f=f))
        for f in c.flows
        if f[4] is not None
    ]
    for name, wanted, fn in (
        ("create", 2, create),
        ("conditional_update", 4, conditional_update),
        ("body_outside_profile_is_a_4xx_outcome", 5, body_outside_profile_is_a_4xx_outcome),
    ):
        out += [
            Check(name, write_case(w), False, partial(fn, contract=c, w=w))
            for w in c.writes
            if w[wanted]
        ]
    return out
