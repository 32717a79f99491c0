"""A FHIR R4 resource store on SQLite: CRUD, history and search, for generated servers.

:class:`Store` keeps resources as JSON in SQLite (``sqlite3``, an in-memory database by
default) and, on every write, evaluates each declared search parameter (:class:`StoreParam`,
a FHIRPath expression compiled once with fhirpathpy on the R4 model) on the resource and
stores the values in an index table: tokens (system, code), dates (the low and high
instants a value covers, UTC), references (target type, id, the reference as written),
strings (as written and normalized), URIs, numbers and quantities.

:meth:`Store.search` runs a :class:`~.search.SearchRequest` (from :func:`~.search.parse_search`;
:meth:`Store.parse` builds one from the store's own parameters): repeated parameters are an
AND, comma-separated values an OR; token (``system|code`` forms, ``:not``, ``:missing``,
``:text``, ``:of-type``), date (every prefix, on the value's period), reference (``Type/id``,
``id``, URL, ``:Type``, ``:identifier``), string (``:exact``, ``:contains``), uri
(``:above``, ``:below``), number and quantity parameters; chained parameters
(``schedule.actor:Practitioner.identifier``), ``_has`` (nested too), ``_include`` and
``_revinclude`` (``:iterate``, ``*``), ``_sort`` and ``_count``.

Choices where FHIR leaves room, or where this store departs from it:

- ``_has`` parameters with the same links (``_has:Slot:schedule:start=ge..&_has:Slot:
  schedule:status=free``) must all hold for the *same* linking resource (one Slot that is
  free and in the window), not each for some Slot. A ``_revinclude`` over the same link
  (``Slot:schedule``) then returns only the linking resources that satisfy those
  conditions, not every Slot of the matched Schedules.
- ``.where(resolve() is X)`` in an expression is read as "a reference to an X" (by the
  reference's type); contained references (``#id``), logical references (identifier
  only) and absolute URLs are indexed but never followed by chains and includes.
- ``total`` counts the matches (before ``_count``); includes are computed for the
  returned page. Matches are ordered by ``_sort`` if given, else by the first date
  parameter of the query (earliest value first), else by id; includes by type and id.

Every value goes to SQLite as a bound parameter; SQL text is only ever assembled from
constant fragments. One connection (``check_same_thread=False``) is shared behind a lock,
so a store can serve a threaded web application.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .search import (
    PARAM_TYPES,
    DateValue,
    HasParam,
    Include,
    MissingValue,
    NumberValue,
    OfTypeValue,
    ParamDef,
    ParsedParam,
    QuantityValue,
    ReferenceValue,
    SearchRequest,
    StringValue,
    TokenValue,
    UriValue,
    Value,
    format_datetime,
    normalize,
    parse_date,
    parse_search,
)

JSON = dict[str, Any]

__all__ = [
    "Gone",
    "HistoryEntry",
    "InvalidResource",
    "NotFound",
    "PreconditionFailed",
    "SearchResult",
    "Store",
    "StoreError",
    "StoreParam",
    "StoredResource",
    "UnsupportedSearch",
    "with_bundle_entries",
]


# ------------------------------------------------------------------------------ public types


class StoreError(Exception):
    """Base of the store's errors."""


class NotFound(StoreError):
    """No such resource (HTTP 404)."""


class Gone(NotFound):
    """The resource was deleted (HTTP 410)."""


class InvalidResource(StoreError, ValueError):
    """Not a resource this interaction accepts: no resourceType, wrong type or id (HTTP 400)."""


class PreconditionFailed(StoreError):
    """A conditional interaction matched several resources (HTTP 412)."""


class UnsupportedSearch(StoreError):
    """The request asks for something this store cannot search (HTTP 400)."""


@dataclass(frozen=True)
class StoreParam:
    """A search parameter the store indexes: the resource type it belongs to (``Resource``
    for every type), its wire code, FHIR type, FHIRPath expression and reference targets."""

    resource: str
    code: str
    type: str
    expression: str | None = None
    targets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))


@dataclass
class SearchResult:
    """``matches``: the page of matching resources; ``included``: resources brought by
    ``_include``/``_revinclude`` (none of them also a match); ``total``: every match.
    Resources are plain JSON dicts or, from the store, :class:`StoredResource`."""

    matches: Sequence[MutableMapping[str, Any]] = field(default_factory=list)
    included: Sequence[MutableMapping[str, Any]] = field(default_factory=list)
    total: int = 0


class StoredResource(MutableMapping[str, Any]):
    """A resource as the store holds it: its JSON text, parsed on first access (a dict's
    behaviour from then on: handlers may change it). A server writes one nothing has
    accessed as its stored text, so a search answer costs no parse and no re-serialisation
    of the resources it returns."""

    __slots__ = ("_data", "id", "resource_type", "text")

    def __init__(self, resource_type: str, rid: str, text: str) -> None:
        self.resource_type = resource_type
        self.id = rid
        self.text = text
        self._data: JSON | None = None

    @property
    def data(self) -> JSON:
        """The parsed resource (parsed once)."""
        if self._data is None:
            self._data = json.loads(self.text)
        return self._data

    @property
    def pristine(self) -> bool:
        """True while nothing has parsed (and so perhaps changed) the resource."""
        return self._data is None

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value

    def __delitem__(self, key: str) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"StoredResource({self.resource_type}/{self.id})"


@dataclass(frozen=True)
class HistoryEntry:
    """One version of a resource; ``resource`` is None for a deletion."""

    version_id: str
    last_updated: str
    method: str  # POST | PUT | DELETE
    resource: JSON | None
    id: str = ""


DEFAULT_PARAMS = (
    StoreParam("Resource", "_id", "token", "Resource.id"),
    StoreParam("Resource", "_lastUpdated", "date", "Resource.meta.lastUpdated"),
)


def with_bundle_entries(resources: Iterable[JSON]) -> Iterator[JSON]:
    """Each resource, followed by the resources inside it if it is a Bundle."""
    for resource in resources:
        yield resource
        if resource.get("resourceType") == "Bundle":
            entries = resource.get("entry")
            for entry in entries if isinstance(entries, list) else ():
                inner = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(inner, dict) and "resourceType" in inner:
                    yield from with_bundle_entries([inner])


# ------------------------------------------------------------------------------ internals

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    type TEXT NOT NULL, id TEXT NOT NULL, version_id INTEGER NOT NULL,
    last_updated TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (type, id));
CREATE TABLE IF NOT EXISTS history (
    type TEXT NOT NULL, id TEXT NOT NULL, version_id INTEGER NOT NULL,
    last_updated TEXT NOT NULL, method TEXT NOT NULL, json TEXT,
    PRIMARY KEY (type, id, version_id));
CREATE TABLE IF NOT EXISTS idx (
    res_type TEXT NOT NULL, res_id TEXT NOT NULL, param TEXT NOT NULL, kind TEXT NOT NULL,
    system TEXT, code TEXT, value TEXT, norm TEXT, low TEXT, high TEXT);
CREATE INDEX IF NOT EXISTS idx_res ON idx (res_type, res_id);
CREATE INDEX IF NOT EXISTS idx_code ON idx (res_type, param, code);
CREATE INDEX IF NOT EXISTS idx_low ON idx (res_type, param, low);
CREATE INDEX IF NOT EXISTS idx_param_res ON idx (res_type, param, res_id);
CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_TYPE_RE = re.compile(r"[A-Z][A-Za-z]{0,63}")
_ID_RE = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_LOCAL_REF_RE = re.compile(
    r"(?P<type>[A-Z][A-Za-z]{0,63})/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]+)?"
)
_TAIL_RE = re.compile(
    r"(?:^|/)([A-Z][A-Za-z]{0,63})/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$"
)
_RESOLVE_RE = re.compile(r"\.where\(\s*resolve\(\)\s+is\s+(?:FHIR\.)?([A-Z][A-Za-z]*)\s*\)")
_RESOURCE_RE = re.compile(r"(?<![\w.])(?:Resource|DomainResource)\.")
_CONTACT_SYSTEMS = frozenset(("phone", "fax", "email", "pager", "url", "sms", "other"))
_STRING_PARTS = (
    "text",
    "family",
    "given",
    "prefix",
    "suffix",
    "line",
    "city",
    "district",
    "state",
    "postalCode",
    "country",
)
_MIN = "0001-01-01T00:00:00.000000Z"
_MAX = "9999-12-31T23:59:59.999999Z"
# a reference chains and includes follow: Type/id, no scheme (no ":"), not contained
_FOLLOW = "i.kind = 'reference' AND i.system IS NOT NULL AND instr(i.value, ':') = 0"

# the SQL condition of each date prefix, with (lo, hi) the searched range
_DATE_SQL: Mapping[str, tuple[str, Callable[[str, str], list[str]]]] = {
    "eq": ("(low >= ? AND high <= ?)", lambda lo, hi: [lo, hi]),
    "ne": ("NOT (low >= ? AND high <= ?)", lambda lo, hi: [lo, hi]),
    "gt": ("high > ?", lambda lo, hi: [hi]),
    "lt": ("low < ?", lambda lo, hi: [lo]),
    "ge": ("(high > ? OR (low >= ? AND high <= ?))", lambda lo, hi: [hi, lo, hi]),
    "le": ("(low < ? OR (low >= ? AND high <= ?))", lambda lo, hi: [lo, lo, hi]),
    "sa": ("low > ?", lambda lo, hi: [hi]),
    "eb": ("high < ?", lambda lo, hi: [lo]),
    "ap": ("(? <= high AND low <= ?)", lambda lo, hi: [lo, hi]),
}

Row = tuple[
    str, str, str, str, str | None, str | None, str | None, str | None, str | None, str | None
]
Key = tuple[str, str]


# candidates below this count are passed to index queries (json_each) to narrow them
_RESTRICT_BELOW = 5000
# re-gather planner statistics after this many writes (or half the stored count if more)
_ANALYZE_AFTER = 200


def _utc(value: datetime) -> str:
    """An aware instant as a fixed-width UTC string (sorts as text)."""
    try:
        v = value.astimezone(UTC)
    except OverflowError:
        return _MIN if value.year < 2 else _MAX
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:"
        f"{v.second:02d}.{v.microsecond:06d}Z"
    )


def _now() -> str:
    return format_datetime(datetime.now(UTC))


def _dumps(resource: JSON) -> str:
    try:
        return json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidResource(f"not JSON: {exc}") from None


def _json_list(items: Iterable[str]) -> str:
    return json.dumps(list(items))


def _reference_parts(ref: str) -> tuple[str | None, str | None]:
    """(type, id) a reference points to (None, None for contained and unknown forms)."""
    if ref.startswith("#"):
        return None, None
    tail = _TAIL_RE.search(ref)
    if tail is None:
        return None, None
    return tail[1], tail[2]


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float | Decimal):
        return str(value)
    return None


def _strings(value: Any) -> list[str]:
    """The texts a string parameter searches in a value (HumanName, Address parts...)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        out: list[str] = []
        known = [k for k in _STRING_PARTS if k in value]
        for key in known or list(value):
            if key in ("extension", "id", "use", "system", "url"):
                continue
            out += _strings(value[key])
        return out
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _date_range(text: str) -> tuple[str, str] | None:
    try:
        low, high, _ = parse_date(text)
    except ValueError:
        return None
    return _utc(low), _utc(high)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value)) if isinstance(value, int | float | Decimal | str) else None
    except InvalidOperation:
        return None


class _Rows:
    """Index rows of one resource."""

    def __init__(self, rtype: str, rid: str) -> None:
        self.rtype, self.rid = rtype, rid
        self.rows: list[Row] = []

    def add(
        self,
        param: str,
        kind: str,
        system: str | None = None,
        code: str | None = None,
        value: str | None = None,
        norm: str | None = None,
        low: str | None = None,
        high: str | None = None,
    ) -> None:
        self.rows.append((self.rtype, self.rid, param, kind, system, code, value, norm, low, high))

    def token(self, param: str, value: Any) -> None:
        text = _text(value)
        if text is not None:
            self.add(param, "token", None, text)
            return
        if not isinstance(value, dict):
            return
        if "coding" in value or ("text" in value and "code" not in value and "value" not in value):
            for coding in value.get("coding") or []:
                if isinstance(coding, dict):
                    self.token(param, coding)
            if isinstance(value.get("text"), str):
                self.add(param, "text", norm=normalize(value["text"]))
            return
        if "code" in value:  # Coding
            self.add(param, "token", _text(value.get("system")), _text(value.get("code")))
            if isinstance(value.get("display"), str):
                self.add(param, "text", norm=normalize(value["display"]))
            return
        if "value" in value or "system" in value:  # Identifier, ContactPoint
            system = _text(value.get("system"))
            self.add(param, "token", system, _text(value.get("value")))
            kind = value.get("type")
            if isinstance(kind, dict) and system not in _CONTACT_SYSTEMS:
                for coding in kind.get("coding") or []:
                    if isinstance(coding, dict):
                        self.add(
                            param,
                            "oftype",
                            _text(coding.get("system")),
                            _text(coding.get("code")),
                            _text(value.get("value")),
                        )
                if isinstance(kind.get("text"), str):
                    self.add(param, "text", norm=normalize(kind["text"]))

    def date(self, param: str, value: Any) -> None:
        if isinstance(value, str):
            found = _date_range(value)
            if found is not None:
                self.add(param, "date", low=found[0], high=found[1])
        elif isinstance(value, dict):
            if "start" in value or "end" in value:  # Period
                start = _date_range(str(value["start"])) if "start" in value else None
                end = _date_range(str(value["end"])) if "end" in value else None
                if start is None and end is None:
                    return
                low = start[0] if start is not None else _MIN
                high = end[1] if end is not None else _MAX
                self.add(param, "date", low=low, high=high)
            elif "event" in value:  # Timing
                for event in value.get("event") or []:
                    self.date(param, event)
        elif value is not None and not isinstance(value, list | bool | int | float):
            self.date(param, str(value))  # a FHIRPath date object

    def reference(self, param: str, value: Any) -> None:
        if isinstance(value, str):  # canonical, uri
            rtype, rid = _reference_parts(value)
            self.add(param, "reference", rtype, rid, value)
        elif isinstance(value, dict):
            ref = value.get("reference")
            if isinstance(ref, str):
                rtype, rid = _reference_parts(ref)
                self.add(param, "reference", rtype, rid, ref)
            ident = value.get("identifier")
            if isinstance(ident, dict):
                self.add(param, "identifier", _text(ident.get("system")), _text(ident.get("value")))

    def string(self, param: str, value: Any) -> None:
        for text in _strings(value):
            self.add(param, "string", value=text, norm=normalize(text))

    def uri(self, param: str, value: Any) -> None:
        if isinstance(value, str):
            self.add(param, "uri", value=value)

    def number(self, param: str, value: Any) -> None:
        number = _decimal(value)
        if number is not None:
            self.add(param, "number", value=str(number))

    def quantity(self, param: str, value: Any) -> None:
        if isinstance(value, dict):
            number = _decimal(value.get("value"))
            if number is not None:
                code = _text(value.get("code")) or _text(value.get("unit"))
                self.add(param, "quantity", _text(value.get("system")), code, str(number))
        else:
            self.number(param, value)


_EXTRACT: Mapping[str, Callable[[_Rows, str, Any], None]] = {
    "token": _Rows.token,
    "date": _Rows.date,
    "reference": _Rows.reference,
    "string": _Rows.string,
    "uri": _Rows.uri,
    "number": _Rows.number,
    "quantity": _Rows.quantity,
}


def _rewrite(expression: str, rtype: str) -> str:
    """The expression as fhirpathpy can run it on a resource of type ``rtype``."""
    text = _RESOURCE_RE.sub(f"{rtype}.", expression)
    return _RESOLVE_RE.sub(
        lambda m: f".where(reference.startsWith('{m[1]}/') or reference.contains('/{m[1]}/'))",
        text,
    )


def _quiet(*_args: Any) -> None:
    """FHIRPath trace() output goes nowhere."""


# ------------------------------------------------------------------------------ the store


class Store:
    """FHIR resources in SQLite, indexed for search by the given parameters.

    ``path``: a database file, or ``:memory:``. ``params``: the search parameters to index
    (``Resource`` ones apply to every type; ``_id`` and ``_lastUpdated`` are added when
    missing). Opening a file indexed with other parameters re-indexes it.
    """

    def __init__(self, path: str = ":memory:", params: Iterable[StoreParam] = ()) -> None:
        self._lock = threading.RLock()
        # while a search narrows its candidates: (type, ids) that index queries may restrict to
        self._restrict: tuple[str, str] | None = None
        self._params: dict[str, dict[str, StoreParam]] = {}
        for p in [*DEFAULT_PARAMS, *params]:
            self._params.setdefault(p.resource, {})[p.code] = p
        self._compiled: dict[tuple[str, str], Callable[..., list[Any]] | None] = {}
        # writes since the planner's statistics were last gathered (see _analyze)
        self._writes = 0
        self._analyzed_size = 0
        self.warnings: list[str] = []  # expressions fhirpathpy cannot compile or run
        self._conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30
        )
        if path != ":memory:":  # several processes (server workers) may share the file
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        fingerprint = hashlib.sha256(
            json.dumps(
                sorted(
                    (p.resource, p.code, p.type, p.expression or "", list(p.targets))
                    for ps in self._params.values()
                    for p in ps.values()
                )
            ).encode()
        ).hexdigest()
        row = self._conn.execute("SELECT value FROM store_meta WHERE key = 'params'").fetchone()
        if row is None or row[0] != fingerprint:
            with self._transaction():
                self._reindex()
                self._conn.execute(
                    "INSERT OR REPLACE INTO store_meta (key, value) VALUES ('params', ?)",
                    (fingerprint,),
                )
        self._analyze()

    # -------------------------------------------------------------------------- plumbing

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            if self._writes >= max(_ANALYZE_AFTER, self._analyzed_size // 2):
                self._analyze()

    def _analyze(self) -> None:
        """Gather SQLite's planner statistics. Without them SQLite guesses index selectivity
        and may walk every row of a type for a one-code lookup (4 ms instead of 0.02 ms on
        10,000 slots); they are refreshed after bulk loads and once the data has grown."""
        with self._lock:
            self._conn.execute("ANALYZE")
            self._writes = 0
            self._analyzed_size = self.count()

    def _q(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    # -------------------------------------------------------------------------- parameters

    def param(self, rtype: str, code: str) -> StoreParam | None:
        """The parameter ``code`` of ``rtype`` (or of every resource)."""
        for owner in (rtype, "DomainResource", "Resource"):
            found = self._params.get(owner, {}).get(code)
            if found is not None:
                return found
        return None

    def params_of(self, rtype: str) -> list[StoreParam]:
        """Every parameter a resource of ``rtype`` is indexed on."""
        merged: dict[str, StoreParam] = {}
        for owner in ("Resource", "DomainResource", rtype):
            merged.update(self._params.get(owner, {}))
        return list(merged.values())

    def param_defs(self, rtype: str) -> list[ParamDef]:
        """The parameters of ``rtype`` as :func:`~.search.parse_search` declarations."""
        return [
            ParamDef(p.code, p.type, targets=p.targets)
            for p in self.params_of(rtype)
            if p.type in PARAM_TYPES
        ]

    def param_defs_by_type(self) -> dict[str, list[ParamDef]]:
        """:meth:`param_defs` of every type the store indexes (what a parser needs to
        follow chains and ``_has`` into other types)."""
        types = {t for t in self._params if t not in ("Resource", "DomainResource")}
        return {t: self.param_defs(t) for t in sorted(types)}

    def parse(self, rtype: str, query: Iterable[tuple[str, str]], **options: Any) -> SearchRequest:
        """:func:`~.search.parse_search` with this store's parameters (every type's, for
        chains and ``_has``); ``options`` go to it."""
        others = {**self.param_defs_by_type(), rtype: self.param_defs(rtype)}
        return parse_search(
            query, self.param_defs(rtype), resource_type=rtype, others=others, **options
        )

    def _warn(self, message: str) -> None:
        if len(self.warnings) < 1000:  # a bad expression fails on every write
            self.warnings.append(message)

    def _compile(self, rtype: str, expression: str) -> Callable[..., list[Any]] | None:
        key = (rtype, expression)
        if key not in self._compiled:
            import fhirpathpy
            from fhirpathpy.models import models

            try:
                self._compiled[key] = fhirpathpy.compile(
                    _rewrite(expression, rtype), models["r4"], {"traceFn": _quiet}
                )
            except Exception as exc:
                self._warn(f"{rtype}: cannot compile {expression!r}: {exc}")
                self._compiled[key] = None
        return self._compiled[key]

    def _index_rows(self, rtype: str, rid: str, text: str) -> list[Row]:
        rows = _Rows(rtype, rid)
        for p in self.params_of(rtype):
            extract = _EXTRACT.get(p.type)
            if not p.expression or extract is None:
                continue
            fn = self._compile(rtype, p.expression)
            if fn is None:
                continue
            try:
                values = fn(json.loads(text), {})
            except Exception as exc:
                self._warn(f"{rtype}/{rid}: {p.code}: {exc}")
                continue
            for value in values:
                extract(rows, p.code, value)
        return rows.rows

    def _write_index(self, rtype: str, rid: str, text: str) -> None:
        self._conn.execute("DELETE FROM idx WHERE res_type = ? AND res_id = ?", (rtype, rid))
        self._conn.executemany(
            "INSERT INTO idx (res_type, res_id, param, kind, system, code, value, norm, low,"
            " high) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self._index_rows(rtype, rid, text),
        )

    def _reindex(self) -> None:
        self._conn.execute("DELETE FROM idx")
        for rtype, rid, text in self._conn.execute(
            "SELECT type, id, json FROM resources"
        ).fetchall():
            self._write_index(rtype, rid, text)

    def reindex(self) -> None:
        """Rebuild the whole search index."""
        with self._transaction():
            self._reindex()
        self._analyze()

    # -------------------------------------------------------------------------- writes

    @staticmethod
    def _check(resource: JSON, rtype: str | None = None) -> str:
        if not isinstance(resource, dict):
            raise InvalidResource("a resource must be a JSON object")
        found = resource.get("resourceType")
        if not isinstance(found, str) or not _TYPE_RE.fullmatch(found):
            raise InvalidResource("resourceType missing or invalid")
        if rtype is not None and found != rtype:
            raise InvalidResource(f"resourceType {found} is not {rtype}")
        return found

    def _put(self, rtype: str, rid: str, resource: JSON, method: str) -> tuple[JSON, bool]:
        """Store a new version (inside a transaction); (stored resource, created)."""
        if not _ID_RE.fullmatch(rid):
            raise InvalidResource(f"invalid id {rid!r}")
        last = self._conn.execute(
            "SELECT MAX(version_id) FROM history WHERE type = ? AND id = ?", (rtype, rid)
        ).fetchone()[0]
        exists = (
            self._conn.execute(
                "SELECT 1 FROM resources WHERE type = ? AND id = ?", (rtype, rid)
            ).fetchone()
            is not None
        )
        version = (last or 0) + 1
        now = _now()
        stored = dict(resource)
        stored["id"] = rid
        meta = dict(stored["meta"]) if isinstance(stored.get("meta"), dict) else {}
        meta["versionId"] = str(version)
        meta["lastUpdated"] = now
        stored["meta"] = meta
        text = _dumps(stored)
        self._writes += 1
        self._conn.execute(
            "INSERT OR REPLACE INTO resources (type, id, version_id, last_updated, json)"
            " VALUES (?, ?, ?, ?, ?)",
            (rtype, rid, version, now, text),
        )
        self._conn.execute(
            "INSERT INTO history (type, id, version_id, last_updated, method, json)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (rtype, rid, version, now, method, text),
        )
        self._write_index(rtype, rid, text)
        return json.loads(text), not exists

    def create(self, resource: JSON) -> JSON:
        """Store a new resource under a new server id (any id given is ignored)."""
        rtype = self._check(resource)
        with self._transaction():
            stored, _ = self._put(rtype, str(uuid.uuid4()), resource, "POST")
        return stored

    def update(self, rtype: str, rid: str, resource: JSON) -> tuple[JSON, bool]:
        """Store a new version of ``rtype/rid`` (created if absent): (resource, created)."""
        self._check(resource, rtype)
        if resource.get("id") not in (None, rid):
            raise InvalidResource(f"id {resource.get('id')!r} in the body is not {rid!r}")
        with self._transaction():
            return self._put(rtype, rid, resource, "PUT")

    def conditional_update(
        self, rtype: str, criteria: SearchRequest | Iterable[tuple[str, str]], resource: JSON
    ) -> tuple[JSON, bool]:
        """Update the one resource matching ``criteria`` (a parsed request or query pairs),
        or create one (with the body's id if any) when none does: (resource, created).
        Several matches: :class:`PreconditionFailed`."""
        self._check(resource, rtype)
        request = criteria if isinstance(criteria, SearchRequest) else self.parse(rtype, criteria)
        if request.errors:
            raise UnsupportedSearch("; ".join(str(e) for e in request.errors))
        if not request.params and not request.has:
            raise UnsupportedSearch("a conditional update needs search criteria")
        with self._transaction():
            ids = sorted(self._match_ids(rtype, request)[0])
            if len(ids) > 1:
                raise PreconditionFailed(f"{len(ids)} {rtype} resources match the criteria")
            body_id = resource.get("id")
            if ids:
                if body_id not in (None, ids[0]):
                    raise InvalidResource(f"id {body_id!r} is not the matched {ids[0]!r}")
                return self._put(rtype, ids[0], resource, "PUT")
            if isinstance(body_id, str):
                return self._put(rtype, body_id, resource, "PUT")
            return self._put(rtype, str(uuid.uuid4()), resource, "POST")

    def delete(self, rtype: str, rid: str) -> bool:
        """Delete ``rtype/rid``; False if there was nothing to delete."""
        with self._transaction():
            row = self._conn.execute(
                "SELECT version_id FROM resources WHERE type = ? AND id = ?", (rtype, rid)
            ).fetchone()
            if row is None:
                return False
            last = self._conn.execute(
                "SELECT MAX(version_id) FROM history WHERE type = ? AND id = ?", (rtype, rid)
            ).fetchone()[0]
            self._conn.execute(
                "INSERT INTO history (type, id, version_id, last_updated, method, json)"
                " VALUES (?, ?, ?, ?, 'DELETE', NULL)",
                (rtype, rid, (last or 0) + 1, _now()),
            )
            self._conn.execute("DELETE FROM resources WHERE type = ? AND id = ?", (rtype, rid))
            self._conn.execute("DELETE FROM idx WHERE res_type = ? AND res_id = ?", (rtype, rid))
            self._writes += 1
            return True

    def load(self, resources: Iterable[JSON]) -> int:
        """Store resources with their own ids (a new id where they have none), each
        ``type/id`` once (the first wins), in one transaction: the number stored."""
        seen: set[Key] = set()
        with self._transaction():
            for resource in resources:
                rtype = self._check(resource)
                rid = resource.get("id")
                if not isinstance(rid, str):
                    rid = str(uuid.uuid4())
                if (rtype, rid) in seen:
                    continue
                seen.add((rtype, rid))
                self._put(rtype, rid, resource, "PUT")
        return len(seen)

    # -------------------------------------------------------------------------- reads

    def get(self, rtype: str, rid: str) -> JSON | None:
        """``rtype/rid``, or None."""
        rows = self._q("SELECT json FROM resources WHERE type = ? AND id = ?", (rtype, rid))
        return json.loads(rows[0][0]) if rows else None

    def read(self, rtype: str, rid: str) -> JSON:
        """``rtype/rid``; :class:`Gone` if deleted, :class:`NotFound` if never stored."""
        with self._lock:
            found = self.get(rtype, rid)
            if found is not None:
                return found
            if self._q("SELECT 1 FROM history WHERE type = ? AND id = ?", (rtype, rid)):
                raise Gone(f"{rtype}/{rid} was deleted")
        raise NotFound(f"{rtype}/{rid} not found")

    def vread(self, rtype: str, rid: str, version: str) -> JSON:
        """One version of ``rtype/rid``."""
        rows = self._q(
            "SELECT json FROM history WHERE type = ? AND id = ? AND CAST(version_id AS TEXT) = ?",
            (rtype, rid, version),
        )
        if not rows:
            raise NotFound(f"{rtype}/{rid}/_history/{version} not found")
        if rows[0][0] is None:
            raise Gone(f"{rtype}/{rid}/_history/{version} is a deletion")
        return dict(json.loads(rows[0][0]))

    def history(self, rtype: str, rid: str | None = None) -> list[HistoryEntry]:
        """Every version of ``rtype/rid`` (of every ``rtype`` without ``rid``), newest
        first (empty if never stored)."""
        if rid is None:
            rows = self._q(
                "SELECT version_id, last_updated, method, json, id FROM history"
                " WHERE type = ? ORDER BY last_updated DESC, id, version_id DESC",
                (rtype,),
            )
        else:
            rows = self._q(
                "SELECT version_id, last_updated, method, json, id FROM history"
                " WHERE type = ? AND id = ? ORDER BY version_id DESC",
                (rtype, rid),
            )
        return [
            HistoryEntry(str(v), lu, m, json.loads(j) if j is not None else None, i)
            for v, lu, m, j, i in rows
        ]

    def count(self, rtype: str | None = None) -> int:
        """How many resources (of ``rtype``) are stored."""
        if rtype is None:
            return int(self._q("SELECT COUNT(*) FROM resources")[0][0])
        return int(self._q("SELECT COUNT(*) FROM resources WHERE type = ?", (rtype,))[0][0])

    def _fetch(self, keys: Iterable[Key]) -> dict[Key, StoredResource]:
        by_type: dict[str, list[str]] = {}
        for t, i in keys:
            by_type.setdefault(t, []).append(i)
        out: dict[Key, StoredResource] = {}
        for t, ids in by_type.items():
            for rid, text in self._conn.execute(
                "SELECT id, json FROM resources WHERE type = ?"
                " AND id IN (SELECT value FROM json_each(?))",
                (t, _json_list(ids)),
            ):
                out[(t, rid)] = StoredResource(t, rid, text)
        return out

    def values(self, rtype: str, code: str, ids: Iterable[str] | None = None) -> list[str]:
        """Search values of ``rtype``'s parameter ``code`` that stored resources (those of
        ``ids`` if given) hold, most frequent first: tokens as ``system|code`` (or
        ``code``), dates as the instant their range starts (``2026-12-01T08:00:00Z``),
        references as ``Type/id``, strings as stored."""
        wanted = None if ids is None else set(ids)
        counts: dict[str, int] = {}
        with self._lock:
            rows = self._conn.execute(
                "SELECT res_id, kind, system, code, value, low FROM idx"
                " WHERE res_type = ? AND param = ?",
                (rtype, code),
            ).fetchall()
        for rid, kind, system, c, value, low in rows:
            if wanted is not None and rid not in wanted:
                continue
            if kind == "token" and c:
                v = f"{system}|{c}" if system else c
            elif kind == "date" and low and low > _MIN:
                v = low[:19] + "Z"
            elif kind == "reference" and system and c:
                v = f"{system}/{c}"
            elif kind == "string" and value:
                v = value
            else:
                continue
            counts[v] = counts.get(v, 0) + 1
        return sorted(counts, key=lambda v: (-counts[v], v))

    # -------------------------------------------------------------------------- search

    def search(self, rtype: str, request: SearchRequest) -> SearchResult:
        """Run a parsed search on ``rtype``. Raises :class:`UnsupportedSearch` for what this
        store cannot do (a request with parse errors, ``:in``, ``:above`` on tokens...)."""
        if request.errors:
            raise UnsupportedSearch("; ".join(str(e) for e in request.errors))
        with self._lock:
            ids, has_sources = self._match_ids(rtype, request)
            ordered = self._order(rtype, ids, request)
            total = len(ordered)
            page = ordered[: request.count] if request.count is not None else ordered
            included = self._includes(rtype, page, request, has_sources)
            found = self._fetch([(rtype, i) for i in page] + included)
            return SearchResult(
                matches=[found[(rtype, i)] for i in page if (rtype, i) in found],
                included=[found[k] for k in sorted(included) if k in found],
                total=total,
            )

    def _all_ids(self, rtype: str) -> set[str]:
        return {
            r[0] for r in self._conn.execute("SELECT id FROM resources WHERE type = ?", (rtype,))
        }

    def _match_ids(
        self, rtype: str, request: SearchRequest
    ) -> tuple[set[str], dict[tuple[str, str], set[str]]]:
        """The ids of the matches, and the linking resources each plain ``_has`` group
        retained (by (type, reference))."""
        # the most selective parameters first (chains, then tokens; dates last), and once
        # the candidates are few, later index queries only look at them; every id of the
        # type is only listed when no parameter narrows them first
        order = {"token": 1, "reference": 2, "string": 3, "uri": 3, "date": 5}
        params = sorted(request.params, key=lambda p: 0 if p.chain else order.get(p.type, 4))
        candidates: set[str] | None = None
        try:
            for p in params:
                if candidates is not None:
                    if not candidates:
                        break
                    if len(candidates) <= _RESTRICT_BELOW:
                        self._restrict = (rtype, _json_list(candidates))
                found = self._chain(rtype, p.code, p.modifier, list(p.chain), p)
                candidates = found if candidates is None else candidates & found
        finally:
            self._restrict = None
        ids = self._all_ids(rtype) if candidates is None else candidates
        groups: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[HasParam]] = {}
        for h in request.has:
            groups.setdefault((h.type, h.reference, h.nested), []).append(h)
        has_sources: dict[tuple[str, str], set[str]] = {}
        for (htype, href, nested), conditions in groups.items():
            links = [(htype, href), *nested]
            inner_type = links[-1][0]
            linked = self._all_ids(inner_type)
            for h in conditions:
                linked &= self._match(inner_type, h.target, h.param_type, h.modifier, h.values)
            if not nested:
                has_sources[(htype, href)] = set(linked)
            for i in range(len(links) - 1, 0, -1):
                src_type, src_ref = links[i]
                linked = self._targets_of(src_type, src_ref, links[i - 1][0], linked)
            ids &= self._targets_of(htype, href, rtype, linked)
        return ids, has_sources

    def _chain(
        self,
        rtype: str,
        code: str,
        modifier: str | None,
        rest: list[tuple[str, str | None]],
        p: ParsedParam,
    ) -> set[str]:
        if not rest:
            return self._match(rtype, code, p.type, modifier, p.values)
        spec = self.param(rtype, code)
        if spec is None or spec.type != "reference":
            raise UnsupportedSearch(f"{rtype}.{code} is not a reference: cannot chain")
        targets = (
            [modifier] if modifier else list(spec.targets) or self._referenced_types(rtype, code)
        )
        out: set[str] = set()
        (next_code, next_modifier), more = rest[0], rest[1:]
        if not modifier:  # every target type that has the next parameter
            targets = [t for t in targets if self.param(t, next_code) is not None] or targets[:1]
        for target in targets:
            target_ids = self._chain(target, next_code, next_modifier, more, p)
            if target_ids:
                out |= self._sources_of(rtype, code, target, target_ids)
        return out

    def _referenced_types(self, rtype: str, code: str) -> list[str]:
        rows = self._conn.execute(
            "SELECT DISTINCT system FROM idx i WHERE res_type = ? AND param = ? AND " + _FOLLOW,
            (rtype, code),
        )
        return sorted(r[0] for r in rows)

    def _sources_of(self, src_type: str, param: str, target: str, target_ids: set[str]) -> set[str]:
        """Ids of ``src_type`` whose ``param`` points to one of ``target``'s ``target_ids``."""
        rows = self._conn.execute(
            "SELECT DISTINCT res_id FROM idx i WHERE res_type = ? AND param = ? AND system = ?"
            " AND code IN (SELECT value FROM json_each(?)) AND " + _FOLLOW,
            (src_type, param, target, _json_list(target_ids)),
        )
        return {r[0] for r in rows}

    def _targets_of(self, src_type: str, param: str, target: str, src_ids: set[str]) -> set[str]:
        """Ids of ``target`` that ``param`` of the ``src_type`` resources ``src_ids`` point to."""
        rows = self._conn.execute(
            "SELECT DISTINCT code FROM idx i WHERE res_type = ? AND param = ? AND system = ?"
            " AND res_id IN (SELECT value FROM json_each(?)) AND " + _FOLLOW,
            (src_type, param, target, _json_list(src_ids)),
        )
        return {r[0] for r in rows}

    def _where(self, rtype: str, code: str, kind: str, cond: str, args: Sequence[Any]) -> set[str]:
        sql = (
            "SELECT DISTINCT res_id FROM idx WHERE res_type = ? AND param = ? AND kind = ?"
            " AND " + cond
        )
        params: tuple[Any, ...] = (rtype, code, kind, *args)
        if self._restrict is not None and self._restrict[0] == rtype:
            # a few candidates: look each one up, rather than walk every row holding a
            # common value (status=free) and test it against the list
            sql = sql.replace("FROM idx", "FROM idx INDEXED BY idx_param_res", 1)
            sql += " AND res_id IN (SELECT value FROM json_each(?))"
            params += (self._restrict[1],)
        return {r[0] for r in self._conn.execute(sql, params)}

    def _rows(self, rtype: str, code: str, kind: str) -> list[tuple[Any, ...]]:
        return self._conn.execute(
            "SELECT res_id, system, code, value FROM idx WHERE res_type = ? AND param = ?"
            " AND kind = ?",
            (rtype, code, kind),
        ).fetchall()

    def _match(
        self, rtype: str, code: str, ptype: str, modifier: str | None, values: Sequence[Value]
    ) -> set[str]:
        """Ids of ``rtype`` whose ``code`` matches one of ``values`` (an OR)."""
        if self.param(rtype, code) is None:
            raise UnsupportedSearch(f"{rtype} has no search parameter {code}")
        if modifier == "missing":
            present = {
                r[0]
                for r in self._conn.execute(
                    "SELECT DISTINCT res_id FROM idx WHERE res_type = ? AND param = ?"
                    " AND kind NOT IN ('text', 'oftype')",
                    (rtype, code),
                )
            }
            wanted: set[str] = set()
            for v in values:
                if isinstance(v, MissingValue):
                    wanted |= (self._all_ids(rtype) - present) if v.missing else present
            return wanted
        if modifier in ("in", "not-in", "above", "below") and ptype in ("token", "reference"):
            raise UnsupportedSearch(f":{modifier} is not supported on {rtype}.{code}")
        out: set[str] = set()
        if ptype == "token" and modifier in (None, "not") and len(values) > 1:
            out, values = self._match_codes(rtype, code, values)
        for v in values:
            out |= self._match_value(rtype, code, ptype, modifier, v)
        if modifier == "not":
            return self._all_ids(rtype) - out
        return out

    def _match_codes(
        self, rtype: str, code: str, values: Sequence[Value]
    ) -> tuple[set[str], list[Value]]:
        """The ``system|code`` values of a list (25 practitioners' identifiers) in one index
        query rather than one each; the other values are returned for one by one."""
        pairs = {
            (v.system, v.code)
            for v in values
            if isinstance(v, TokenValue) and v.system and v.code is not None
        }
        rest = [
            v for v in values if not (isinstance(v, TokenValue) and (v.system, v.code) in pairs)
        ]
        if len(pairs) < 2:
            return set(), list(values)
        sql = (
            "SELECT res_id, system, code FROM idx WHERE res_type = ? AND param = ?"
            " AND kind = 'token' AND code IN (SELECT value FROM json_each(?))"
        )
        args: tuple[Any, ...] = (rtype, code, _json_list(c for _, c in pairs))
        if self._restrict is not None and self._restrict[0] == rtype:
            sql = sql.replace("FROM idx", "FROM idx INDEXED BY idx_param_res", 1)
            sql += " AND res_id IN (SELECT value FROM json_each(?))"
            args += (self._restrict[1],)
        found = {rid for rid, sys_, c in self._conn.execute(sql, args) if (sys_, c) in pairs}
        return found, rest

    def _match_value(
        self, rtype: str, code: str, ptype: str, modifier: str | None, v: Value
    ) -> set[str]:
        if isinstance(v, TokenValue):
            kind = "identifier" if ptype == "reference" else "token"
            conds: list[str] = []
            args: list[Any] = []
            if v.code is not None:
                conds.append("code = ?")
                args.append(v.code)
            if v.system == "":
                conds.append("(system IS NULL OR system = '')")
            elif v.system is not None:
                conds.append("system = ?")
                args.append(v.system)
            return self._where(rtype, code, kind, " AND ".join(conds), args)
        if isinstance(v, OfTypeValue):
            return self._where(
                rtype,
                code,
                "oftype",
                "system = ? AND code = ? AND value = ?",
                (v.system, v.code, v.value),
            )
        if isinstance(v, StringValue):
            kind = "text" if ptype == "token" else "string"
            n = normalize(v.value)
            if v.mode == "exact":
                return self._where(rtype, code, kind, "value = ?", (v.value,))
            if v.mode == "contains":
                return self._where(rtype, code, kind, "instr(norm, ?) > 0", (n,))
            return self._where(rtype, code, kind, "substr(norm, 1, ?) = ?", (len(n), n))
        if isinstance(v, DateValue):
            lo, hi = _utc(v.low), _utc(v.high)
            if v.prefix == "ap":
                gap = abs(datetime.now(UTC) - v.low) / 10
                try:
                    lo = _utc(v.low - gap)
                except OverflowError:
                    lo = _MIN
                try:
                    hi = _utc(v.high + gap)
                except OverflowError:
                    hi = _MAX
            cond, args_of = _DATE_SQL[v.prefix]
            return self._where(rtype, code, "date", cond, args_of(lo, hi))
        if isinstance(v, ReferenceValue):
            if v.id is not None:
                rows = self._where_rows(rtype, code, "code = ?", (v.id,))
            else:
                rows = self._where_rows(rtype, code, "value = ?", (v.url,))
            return {rid for rid, ref in rows if v.matches(ref)}
        if isinstance(v, UriValue):
            return {r[0] for r in self._rows(rtype, code, "uri") if v.matches(r[3])}
        if isinstance(v, NumberValue):
            return {r[0] for r in self._rows(rtype, code, "number") if v.matches(Decimal(r[3]))}
        if isinstance(v, QuantityValue):
            return {
                r[0]
                for r in self._rows(rtype, code, "quantity") + self._rows(rtype, code, "number")
                if v.matches(Decimal(r[3]), r[1], r[2])
            }
        raise UnsupportedSearch(f"{rtype}.{code}: {type(v).__name__} search is not supported")

    def _where_rows(
        self, rtype: str, code: str, cond: str, args: Sequence[Any]
    ) -> list[tuple[str, str]]:
        return [
            (r[0], r[1])
            for r in self._conn.execute(
                "SELECT res_id, value FROM idx WHERE res_type = ? AND param = ?"
                " AND kind = 'reference' AND " + cond,
                (rtype, code, *args),
            )
        ]

    # -------------------------------------------------------------------------- order

    def _sort_values(self, rtype: str, code: str, descending: bool) -> dict[str, Any]:
        if code == "_id":
            return {i: i for i in self._all_ids(rtype)}
        spec = self.param(rtype, code)
        if spec is None:
            raise UnsupportedSearch(f"cannot sort {rtype} on {code}")
        column = {
            "date": "high" if descending else "low",
            "string": "norm",
            "token": "code",
            "uri": "value",
            "reference": "value",
        }.get(spec.type)
        if column is None:
            raise UnsupportedSearch(f"cannot sort on {code}, a {spec.type} parameter")
        agg = "MAX" if descending else "MIN"
        sql = (
            f"SELECT res_id, {agg}({column}) FROM idx WHERE res_type = ? AND param = ?"
            f" AND kind = ? AND {column} IS NOT NULL"
        )
        params: tuple[Any, ...] = (rtype, code, spec.type)
        if self._restrict is not None and self._restrict[0] == rtype:
            sql += " AND res_id IN (SELECT value FROM json_each(?))"
            params += (self._restrict[1],)
        rows = self._conn.execute(sql + " GROUP BY res_id", params)
        return {r[0]: r[1] for r in rows}

    def _order(self, rtype: str, ids: set[str], request: SearchRequest) -> list[str]:
        if len(ids) <= _RESTRICT_BELOW:
            self._restrict = (rtype, _json_list(ids))
        try:
            return self._ordered(rtype, ids, request)
        finally:
            self._restrict = None

    def _ordered(self, rtype: str, ids: set[str], request: SearchRequest) -> list[str]:
        ordered = sorted(ids)
        keys = [(s.code, s.descending) for s in request.sort]
        if not keys:
            first_date = next(
                (p.code for p in request.params if p.type == "date" and not p.chain), None
            )
            keys = [(first_date, False)] if first_date else []
        for code, descending in reversed(keys):
            values = self._sort_values(rtype, code, descending)
            present = sorted(
                (i for i in ordered if i in values), key=lambda i: values[i], reverse=descending
            )
            ordered = present + [i for i in ordered if i not in values]
        return ordered

    # -------------------------------------------------------------------------- includes

    def _reference_params(self, rtype: str, param: str) -> list[str]:
        if param != "*":
            return [param]
        return [p.code for p in self.params_of(rtype) if p.type == "reference"]

    def _follow(self, src_type: str, src_ids: list[str], inc: Include) -> list[Key]:
        out: list[Key] = []
        for param in self._reference_params(src_type, inc.param):
            rows = self._conn.execute(
                "SELECT DISTINCT i.system, i.code FROM idx i JOIN resources r"
                " ON r.type = i.system AND r.id = i.code"
                " WHERE i.res_type = ? AND i.param = ? AND " + _FOLLOW + " AND (? IS NULL OR"
                " i.system = ?) AND i.res_id IN (SELECT value FROM json_each(?))",
                (src_type, param, inc.target, inc.target, _json_list(src_ids)),
            )
            out += [(r[0], r[1]) for r in rows]
        return out

    def _reverse(
        self,
        target_type: str,
        target_ids: list[str],
        inc: Include,
        has_sources: Mapping[tuple[str, str], set[str]],
    ) -> list[Key]:
        if inc.source == "*":
            raise UnsupportedSearch("_revinclude=*:... is not supported")
        if inc.target not in (None, target_type):
            return []
        out: list[Key] = []
        for param in self._reference_params(inc.source, inc.param):
            found = self._sources_of(inc.source, param, target_type, set(target_ids))
            restrict = has_sources.get((inc.source, param))
            if restrict is not None:
                found &= restrict
            out += [(inc.source, i) for i in sorted(found)]
        return out

    def _includes(
        self,
        rtype: str,
        page: list[str],
        request: SearchRequest,
        has_sources: Mapping[tuple[str, str], set[str]],
    ) -> list[Key]:
        seen: set[Key] = {(rtype, i) for i in page}
        included: list[Key] = []

        def add(keys: Iterable[Key]) -> list[Key]:
            new = [k for k in dict.fromkeys(keys) if k not in seen]
            seen.update(new)
            included.extend(new)
            return new

        def apply(frontier: list[Key], iterate: bool) -> list[Key]:
            by_type: dict[str, list[str]] = {}
            for t, i in frontier:
                by_type.setdefault(t, []).append(i)
            new: list[Key] = []
            for inc in request.include:
                if inc.iterate != iterate:
                    continue
                for t, ids in by_type.items():
                    if inc.source in (t, "*"):
                        new += add(self._follow(t, ids, inc))
            for inc in request.revinclude:
                if inc.iterate != iterate:
                    continue
                for t, ids in by_type.items():
                    new += add(self._reverse(t, ids, inc, has_sources))
            return new

        if not page:
            return []
        apply([(rtype, i) for i in page], False)
        if any(i.iterate for i in [*request.include, *request.revinclude]):
            frontier = [(rtype, i) for i in page] + included
            while frontier:
                frontier = apply(frontier, True)
        return included
