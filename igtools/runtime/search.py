"""FHIR R4 search requests: parse a query into typed, validated parameters, and back.

Pure functions, standard library only, no I/O and no web framework: a generated server
hands :func:`parse_search` the query as (name, value) pairs, already URL-decoded once
(``request.query_params.multi_items()`` in Starlette), with the declaration of the
parameters it supports (:class:`ParamDef`, from the CapabilityStatement). The result is
a :class:`SearchRequest`: one :class:`ParsedParam` per occurrence of a parameter (a
repeated parameter is an AND, its comma-separated values an OR), ``_has`` reverse
chains, ``_include``/``_revinclude``, ``_count``, ``_sort``, ``_summary``,
``_elements``, ``_format`` and ``_total``, with every problem collected in ``errors``
(and ``warnings``): parsing never raises on bad input.

Values are typed per the FHIR search parameter type: :class:`DateValue` (prefix and the
implicit range of a partial date), :class:`TokenValue`, :class:`ReferenceValue`,
:class:`StringValue`, :class:`NumberValue`, :class:`QuantityValue`, :class:`UriValue`,
:class:`CompositeValue`, plus :class:`MissingValue` (``:missing``), :class:`OfTypeValue`
(``:of-type``) and :class:`RawValue` (``special``). Each has ``matches(...)``
implementing the FHIR semantics against a resource's value, and ``to_query()``.

A generated client builds a query with :func:`encode` (pairs, or a parsed request),
which percent-encodes so that the result parses back to the same request.

Not supported: ``_filter``, ``_query``, ``_text``/``_content`` (reported as unknown
unless declared), chains inside ``_has``; ``ap`` uses the spec's suggested 10%.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation, localcontext
from urllib.parse import parse_qsl, quote

PARAM_TYPES = frozenset(
    ("number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special")
)
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
SUMMARY_VALUES = ("true", "text", "data", "count", "false")
TOTAL_VALUES = ("none", "estimate", "accurate")

# the modifiers FHIR R4 defines for each parameter type (a reference also takes :[Type])
STANDARD_MODIFIERS: Mapping[str, frozenset[str]] = {
    "string": frozenset(("missing", "exact", "contains")),
    "token": frozenset(
        ("missing", "not", "text", "in", "not-in", "above", "below", "of-type", "ofType")
    ),
    "reference": frozenset(("missing", "identifier", "above", "below")),
    "uri": frozenset(("missing", "above", "below")),
    "date": frozenset(("missing",)),
    "number": frozenset(("missing",)),
    "quantity": frozenset(("missing",)),
    "composite": frozenset(("missing",)),
    "special": frozenset(("missing",)),
}
# accepted even where a declaration lists other modifiers
_ALWAYS: Mapping[str, frozenset[str]] = {"token": frozenset(("missing", "not"))}

# the type of a chained parameter nobody declared (after these: reference)
DEFAULT_TYPES: Mapping[str, str] = {
    "identifier": "token",
    "_id": "token",
    "status": "token",
    "code": "token",
    "type": "token",
    "active": "token",
    "gender": "token",
    "email": "token",
    "phone": "token",
    "telecom": "token",
    "_tag": "token",
    "_security": "token",
    "name": "string",
    "family": "string",
    "given": "string",
    "address": "string",
    "address-city": "string",
    "address-postalcode": "string",
    "_lastUpdated": "date",
    "date": "date",
    "start": "date",
    "end": "date",
    "birthdate": "date",
    "url": "uri",
    "_profile": "uri",
}

# result parameters that change nothing a server must check: dropped without a warning
_IGNORED = frozenset(("_pretty", "_contained", "_containedType"))

TypeResolver = Callable[[str, str], str | None]


# ------------------------------------------------------------------------------ declarations


@dataclass(frozen=True)
class ParamDef:
    """A search parameter a server supports (from the CapabilityStatement).

    ``modifiers``: the modifiers allowed (``()``: any standard one for the type; ``:missing``
    and, on tokens, ``:not`` are always accepted). ``comparators``: the prefixes allowed on
    number, date and quantity (``()``: all; an unprefixed value counts as ``eq``).
    ``chains``: the chains allowed after a reference, as ``actor:Practitioner.identifier``,
    ``actor.identifier`` or ``actor`` (``()``: any). ``targets``: the resource types a
    reference may point to. ``components``: the types of a composite's components.
    """

    code: str
    type: str
    modifiers: tuple[str, ...] = ()
    comparators: tuple[str, ...] = ()
    chains: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    multiple_or: bool = True
    multiple_and: bool = True
    components: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ValueError(f"{self.code}: unknown search parameter type {self.type!r}")
        for prefix in self.comparators:
            if prefix not in PREFIXES:
                raise ValueError(f"{self.code}: unknown comparator {prefix!r}")


# ------------------------------------------------------------------------------ escaping


def escape(text: str, chars: str = "\\,|$") -> str:
    """``text`` with FHIR's search escapes (``\\,``, ``\\|``, ``\\$``, ``\\\\``)."""
    return "".join("\\" + c if c in chars else c for c in text)


def unescape(text: str) -> str:
    """Remove FHIR's search escapes; any other backslash stays as it is."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "\\,|$":
            out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def split_escaped(text: str, sep: str) -> list[str]:
    """Split on each ``sep`` not escaped by a backslash; the parts keep their escapes."""
    parts: list[str] = []
    start = 0
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == sep:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def normalize(text: str) -> str:
    """Accents stripped and case folded: how a default string search compares."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped.casefold())


# ------------------------------------------------------------------------------ dates

_DATE_RE = re.compile(
    r"(?P<y>[0-9]{4})(?:-(?P<m>[0-9]{2})(?:-(?P<d>[0-9]{2})"
    r"(?:T(?P<H>[0-9]{2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?:\.(?P<f>[0-9]{1,9}))?)?"
    r"(?P<tz>Z|[+\- ][0-9]{2}:[0-9]{2})?)?)?)?"
)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _fixed(value: datetime) -> datetime:
    """``value`` with its zone replaced by its fixed offset (exact arithmetic, comparisons)."""
    offset = value.utcoffset()
    if offset is None or isinstance(value.tzinfo, timezone):
        return value
    return value.replace(tzinfo=timezone(offset))


def parse_date(text: str, default_tz: tzinfo = UTC) -> tuple[datetime, datetime, str]:
    """(low, high, precision) of a FHIR date, dateTime or instant; ValueError if invalid.

    ``low`` and ``high`` are aware (fixed offsets) and both inclusive: ``high`` is the last
    microsecond of the period the value covers (``2021`` covers the whole year). A time
    without offset, and a date without time, are taken in ``default_tz``. A space where the
    offset's sign goes is read as ``+`` (an unencoded ``+`` arrives as a space).
    Precision: year, month, day, minute, second, millisecond or microsecond.
    """
    m = _DATE_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"invalid date {text!r} (expected YYYY, YYYY-MM, YYYY-MM-DD or dateTime)")
    year = int(m["y"])
    if year < 1:
        raise ValueError(f"invalid date {text!r}: year out of range")
    month = int(m["m"]) if m["m"] else 1
    if not 1 <= month <= 12:
        raise ValueError(f"invalid date {text!r}: month out of range")
    last_day = calendar.monthrange(year, month)[1]
    day = int(m["d"]) if m["d"] else 1
    if not 1 <= day <= last_day:
        raise ValueError(f"invalid date {text!r}: day out of range")
    zone = default_tz
    if m["tz"]:
        if m["tz"] == "Z":
            zone = UTC
        else:
            hours, minutes = int(m["tz"][1:3]), int(m["tz"][4:6])
            if minutes > 59 or hours > 14 or (hours == 14 and minutes > 0):
                raise ValueError(f"invalid date {text!r}: offset out of range")
            offset = timedelta(hours=hours, minutes=minutes)
            zone = timezone(-offset if m["tz"][0] == "-" else offset)
    if m["H"] is None:
        if m["m"] is None:
            precision, end = "year", datetime(year, 12, 31, 23, 59, 59, 999999)
        elif m["d"] is None:
            precision, end = "month", datetime(year, month, last_day, 23, 59, 59, 999999)
        else:
            precision, end = "day", datetime(year, month, day, 23, 59, 59, 999999)
        start = datetime(year, month, day)
        return _fixed(start.replace(tzinfo=zone)), _fixed(end.replace(tzinfo=zone)), precision
    hour, minute = int(m["H"]), int(m["M"])
    if hour > 23 or minute > 59:
        raise ValueError(f"invalid date {text!r}: time out of range")
    second, micro, span = 0, 0, 59_999_999
    precision = "minute"
    if m["S"] is not None:
        second = int(m["S"])
        if second > 60:
            raise ValueError(f"invalid date {text!r}: seconds out of range")
        precision, span = "second", 999_999
        if m["f"] is not None:
            digits = m["f"][:6]
            micro = int(digits.ljust(6, "0"))
            span = 10 ** (6 - len(digits)) - 1
            precision = "millisecond" if len(m["f"]) <= 3 else "microsecond"
        if second == 60:  # a leap second: the last instant of the minute
            second, micro, span = 59, 999_999, 0
    start = _fixed(datetime(year, month, day, hour, minute, second, micro, tzinfo=zone))
    return start, start + timedelta(microseconds=span), precision


def date_range(text: str, default_tz: tzinfo = UTC) -> tuple[datetime, datetime]:
    """The (low, high) inclusive range a FHIR date covers; ValueError if invalid."""
    low, high, _ = parse_date(text, default_tz)
    return low, high


def format_datetime(value: datetime) -> str:
    """An instant as a search value: milliseconds and offset (naive: UTC)."""
    value = _aware(value)
    text = value.isoformat(timespec="milliseconds")
    return text[:-6] + "+00:00" if text.endswith("+00:00") else text


# ------------------------------------------------------------------------------ values


@dataclass(frozen=True)
class DateValue:
    """A date search value: its prefix and the inclusive range [low, high] it covers."""

    prefix: str
    low: datetime
    high: datetime
    precision: str
    text: str  # the date as written (a space read as "+" restored)

    def matches(
        self, value_low: datetime, value_high: datetime | None = None, now: datetime | None = None
    ) -> bool:
        """Does a resource value covering [value_low, value_high] match (FHIR R4 prefixes)?

        An instant (Slot.start) is ``matches(start)``; naive datetimes are taken as UTC;
        ``now`` (for ``ap``: 10% of the gap between now and the value) defaults to the clock.
        """
        low = _aware(value_low)
        high = low if value_high is None else _aware(value_high)
        contained = self.low <= low and high <= self.high
        p = self.prefix
        if p == "eq":
            return contained
        if p == "ne":
            return not contained
        if p == "gt":
            return high > self.high
        if p == "lt":
            return low < self.low
        if p == "ge":
            return high > self.high or contained
        if p == "le":
            return low < self.low or contained
        if p == "sa":
            return low > self.high
        if p == "eb":
            return high < self.low
        current = _aware(now) if now is not None else datetime.now(UTC)
        gap = abs(current - self.low) / 10
        try:
            lo = self.low - gap
        except OverflowError:
            lo = datetime.min.replace(tzinfo=UTC)
        try:
            hi = self.high + gap
        except OverflowError:
            hi = datetime.max.replace(tzinfo=UTC)
        return lo <= high and low <= hi

    def to_query(self) -> str:
        return ("" if self.prefix == "eq" else self.prefix) + self.text


@dataclass(frozen=True)
class TokenValue:
    """``code``, ``system|code``, ``|code`` or ``system|``.

    ``system``: None = any system, "" = explicitly no system. ``code``: None = any code.
    """

    system: str | None
    code: str | None

    def matches(self, system: str | None, code: str | None) -> bool:
        if self.code is not None and code != self.code:
            return False
        if self.system is None:
            return True
        if self.system == "":
            return not system
        return system == self.system

    def to_query(self) -> str:
        code = "" if self.code is None else escape(self.code)
        if self.system is None:
            return code
        return f"{escape(self.system)}|{code}"


@dataclass(frozen=True)
class OfTypeValue:
    """``:of-type``: an identifier type (system|code) and the identifier's value."""

    system: str
    code: str
    value: str

    def matches(self, type_system: str | None, type_code: str | None, value: str | None) -> bool:
        return (type_system, type_code, value) == (self.system, self.code, self.value)

    def to_query(self) -> str:
        return "|".join(escape(p) for p in (self.system, self.code, self.value))


@dataclass(frozen=True)
class StringValue:
    """A string search: ``start`` (default, accent- and case-insensitive starts-with),
    ``contains`` (same, anywhere) or ``exact`` (whole string, case and accents count)."""

    value: str
    mode: str = "start"

    def matches(self, text: str | None) -> bool:
        if text is None:
            return False
        if self.mode == "exact":
            return text == self.value
        if self.mode == "contains":
            return normalize(self.value) in normalize(text)
        return normalize(text).startswith(normalize(self.value))

    def to_query(self) -> str:
        return escape(self.value)


_TYPE_RE = re.compile(r"[A-Z][A-Za-z]{0,63}")
_ID_RE = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_RELATIVE_RE = re.compile(
    r"(?P<type>[A-Z][A-Za-z]{0,63})/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/(?P<version>[A-Za-z0-9\-.]{1,64}))?"
)
_ABSOLUTE_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
# Type/id[/_history/version] at the end of a reference
_TAIL_RE = re.compile(
    r"(?:^|/)([A-Z][A-Za-z]{0,63})/([A-Za-z0-9\-.]{1,64})(?:/_history/([A-Za-z0-9\-.]{1,64}))?$"
)


@dataclass(frozen=True)
class ReferenceValue:
    """``Type/id``, ``id`` or an absolute URL (type and id taken from its tail if any)."""

    type: str | None
    id: str | None
    url: str | None = None
    version: str | None = None

    def matches(self, reference: str | None) -> bool:
        """Does a resource's literal reference (``Reference.reference``) match?"""
        if not reference:
            return False
        if self.url is not None:
            if reference == self.url:
                return True
            return _RELATIVE_RE.fullmatch(reference) is not None and self.url.endswith(
                "/" + reference
            )
        ref_type, ref_id, ref_version = None, reference, None
        tail = _TAIL_RE.search(reference)
        if tail is not None:
            ref_type, ref_id, ref_version = tail[1], tail[2], tail[3]
        if ref_id != self.id:
            return False
        if self.type is not None and ref_type is not None and ref_type != self.type:
            return False
        return self.version is None or ref_version == self.version

    def to_query(self) -> str:
        if self.url is not None:
            return escape(self.url)
        if self.type is None:
            return escape(self.id or "")
        text = f"{self.type}/{self.id}"
        return text + (f"/_history/{self.version}" if self.version else "")


_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")


def _decimal(value: Decimal | int | float | str) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _number_matches(prefix: str, value: Decimal, x: Decimal) -> bool:
    if x.is_nan():
        return False
    with localcontext() as ctx:
        ctx.prec = 5000
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        half = Decimal((0, (5,), exponent - 1))  # half a unit of the last given digit
        if prefix == "eq":
            return value - half <= x < value + half
        if prefix == "ne":
            return not value - half <= x < value + half
        if prefix in ("gt", "sa"):
            return x > value
        if prefix in ("lt", "eb"):
            return x < value
        if prefix == "ge":
            return x >= value
        if prefix == "le":
            return x <= value
        return abs(x - value) <= abs(value) / 10  # ap: 10%


@dataclass(frozen=True)
class NumberValue:
    """A number with its prefix; ``eq``/``ne`` use the implicit range of its precision
    (``100`` is [99.5, 100.5)), the other prefixes the exact value."""

    prefix: str
    value: Decimal
    text: str

    def matches(self, number: Decimal | int | float) -> bool:
        return _number_matches(self.prefix, self.value, _decimal(number))

    def to_query(self) -> str:
        return ("" if self.prefix == "eq" else self.prefix) + self.text


@dataclass(frozen=True)
class QuantityValue:
    """``[prefix]number|system|code`` (system and code None: any)."""

    prefix: str
    value: Decimal
    system: str | None
    code: str | None
    text: str  # the number as written

    def matches(
        self, number: Decimal | int | float, system: str | None = None, code: str | None = None
    ) -> bool:
        if self.system is not None and system != self.system:
            return False
        if self.code is not None and code != self.code:
            return False
        return _number_matches(self.prefix, self.value, _decimal(number))

    def to_query(self) -> str:
        text = ("" if self.prefix == "eq" else self.prefix) + self.text
        if self.system is None and self.code is None:
            return text
        return f"{text}|{escape(self.system or '')}|{escape(self.code or '')}"


@dataclass(frozen=True)
class UriValue:
    """A URI: ``exact`` (default), ``below`` (resource URI under it) or ``above``."""

    uri: str
    mode: str = "exact"

    def matches(self, uri: str | None) -> bool:
        if uri is None:
            return False
        if self.mode == "below":
            return uri == self.uri or uri.startswith(self.uri.rstrip("/") + "/")
        if self.mode == "above":
            return uri == self.uri or self.uri.startswith(uri.rstrip("/") + "/")
        return uri == self.uri

    def to_query(self) -> str:
        return escape(self.uri)


@dataclass(frozen=True)
class MissingValue:
    """``:missing=true`` (the resource has no value) or ``false``."""

    missing: bool

    def matches(self, has_value: bool) -> bool:
        return has_value != self.missing

    def to_query(self) -> str:
        return "true" if self.missing else "false"


@dataclass(frozen=True)
class RawValue:
    """A value kept as text (``special`` parameters, undeclared composite components)."""

    text: str

    def to_query(self) -> str:
        return escape(self.text, "\\,$")


@dataclass(frozen=True)
class CompositeValue:
    """``a$b``: one value per component, typed when the declaration gives their types."""

    parts: tuple[Value, ...]

    def to_query(self) -> str:
        return "$".join(p.to_query() for p in self.parts)


Value = (
    DateValue
    | TokenValue
    | OfTypeValue
    | StringValue
    | ReferenceValue
    | NumberValue
    | QuantityValue
    | UriValue
    | MissingValue
    | RawValue
    | CompositeValue
)


# ------------------------------------------------------------------------------ the request


@dataclass(frozen=True)
class SearchError:
    """A problem with one parameter: its name as sent, the value and why."""

    param: str
    value: str
    message: str
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        return f"{self.param}: {self.message}"


@dataclass
class ParsedParam:
    """One occurrence of a parameter: its values are an OR, repeated occurrences an AND.

    ``code`` is the declared parameter and ``modifier`` its modifier (``exact``,
    ``missing``, a reference's target type ``Location``...). A chained parameter lists
    the following legs in ``chain`` as (code, modifier): ``actor:Location.organization.
    identifier`` is code ``actor``, modifier ``Location``, chain ``(("organization", None),
    ("identifier", None))``. ``type`` is the type the values were parsed with (for a
    chain, the last leg's).
    """

    code: str
    type: str
    modifier: str | None = None
    values: list[Value] = field(default_factory=list)
    chain: tuple[tuple[str, str | None], ...] = ()

    @property
    def name(self) -> str:
        """The parameter's name in a query string."""
        legs = [(self.code, self.modifier), *self.chain]
        return ".".join(code + (f":{mod}" if mod else "") for code, mod in legs)

    @property
    def final_modifier(self) -> str | None:
        """The modifier that applies to the values (the last leg's)."""
        return self.chain[-1][1] if self.chain else self.modifier


@dataclass
class HasParam:
    """``_has:Slot:schedule:start=ge...``: resources that a Slot, whose ``start``
    matches, points to through ``schedule``. ``nested`` holds further (type, reference)
    links of ``_has:A:x:_has:B:y:param`` (``target`` is then B's parameter)."""

    type: str
    reference: str
    target: str
    param_type: str
    values: list[Value] = field(default_factory=list)
    modifier: str | None = None
    nested: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        links = [(self.type, self.reference), *self.nested]
        text = "".join(f"_has:{t}:{r}:" for t, r in links) + self.target
        return text + (f":{self.modifier}" if self.modifier else "")


@dataclass(frozen=True)
class Include:
    """``Source:param[:Target]`` of ``_include`` / ``_revinclude`` (``*`` wildcards)."""

    source: str
    param: str
    target: str | None = None
    iterate: bool = False

    @property
    def value(self) -> str:
        return f"{self.source}:{self.param}" + (f":{self.target}" if self.target else "")


@dataclass(frozen=True)
class SortKey:
    code: str
    descending: bool = False


@dataclass
class SearchRequest:
    params: list[ParsedParam] = field(default_factory=list)
    has: list[HasParam] = field(default_factory=list)
    include: list[Include] = field(default_factory=list)
    revinclude: list[Include] = field(default_factory=list)
    count: int | None = None
    sort: list[SortKey] = field(default_factory=list)
    summary: str | None = None
    elements: list[str] = field(default_factory=list)
    format: str | None = None
    total: str | None = None
    unknown: list[str] = field(default_factory=list)  # names of undeclared parameters
    ignored: list[str] = field(default_factory=list)  # standard ones without effect here
    errors: list[SearchError] = field(default_factory=list)
    warnings: list[SearchError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def get(self, code: str, chained: bool | None = None) -> list[ParsedParam]:
        """The occurrences of ``code`` (chained: only chained ones, or only plain ones)."""
        return [
            p
            for p in self.params
            if p.code == code and (chained is None or bool(p.chain) == chained)
        ]

    def to_pairs(self) -> list[tuple[str, str]]:
        """The request as (name, value) pairs, unencoded: what :func:`parse_search` reads."""
        pairs: list[tuple[str, str]] = []
        for p in self.params:
            pairs.append((p.name, ",".join(v.to_query() for v in p.values)))
        for h in self.has:
            pairs.append((h.name, ",".join(v.to_query() for v in h.values)))
        for inc in self.include:
            pairs.append(("_include:iterate" if inc.iterate else "_include", inc.value))
        for inc in self.revinclude:
            pairs.append(("_revinclude:iterate" if inc.iterate else "_revinclude", inc.value))
        if self.sort:
            pairs.append(
                ("_sort", ",".join(("-" if s.descending else "") + s.code for s in self.sort))
            )
        if self.count is not None:
            pairs.append(("_count", str(self.count)))
        if self.summary is not None:
            pairs.append(("_summary", self.summary))
        if self.elements:
            pairs.append(("_elements", ",".join(self.elements)))
        if self.total is not None:
            pairs.append(("_total", self.total))
        if self.format is not None:
            pairs.append(("_format", self.format))
        return pairs


# ------------------------------------------------------------------------------ encoding


def encode(query: SearchRequest | Iterable[tuple[str, str]]) -> str:
    """A percent-encoded query string (``+`` as %2B, ``|`` as %7C, ``:`` ``,`` ``/`` kept).

    Give (name, value) pairs with FHIR escapes already in the values (``\\,``), or a
    :class:`SearchRequest`; decoding the result gives back the same pairs.
    """
    pairs = query.to_pairs() if isinstance(query, SearchRequest) else query
    return "&".join(f"{quote(name, safe=':')}={quote(value, safe=':,/')}" for name, value in pairs)


def parse_query_string(query: str) -> list[tuple[str, str]]:
    """A raw query string as (name, value) pairs, decoded as Starlette does (``+``: space)."""
    return parse_qsl(query.lstrip("?"), keep_blank_values=True)


# ------------------------------------------------------------------------------ parsing

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")


def _bad_char(text: str) -> str | None:
    for c in text:
        if c in _BIDI or unicodedata.category(c) in ("Cc", "Cs"):
            return c
    return None


_CODE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")
_MODIFIER_RE = re.compile(r"[A-Za-z][A-Za-z\-]{0,63}")
_INCLUDE_RE = re.compile(
    r"(?P<source>[A-Z][A-Za-z]{0,63}|\*):(?P<param>[A-Za-z_][A-Za-z0-9_\-.]{0,63}|\*)"
    r"(?::(?P<target>[A-Z][A-Za-z]{0,63}))?"
)
_ELEMENT_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-\[\]]{0,127}")
_SORT_RE = re.compile(r"-?[A-Za-z_][A-Za-z0-9_\-.:]{0,127}")
_FORMAT_RE = re.compile(
    r"[A-Za-z0-9!#$&^_.+\-]{1,64}(?:/[A-Za-z0-9!#$&^_.+\-]{1,64})?(?:;.{0,200})?"
)
_PREFIX_RE = re.compile(r"[a-z]{2}")


class _Bad(Exception):
    """A value that does not parse (internal: becomes a SearchError)."""


@dataclass
class _Config:
    declared: dict[str, ParamDef]
    others: dict[str, dict[str, ParamDef]]
    resolve: TypeResolver
    resource_type: str | None
    includes: Collection[str] | None
    revincludes: Collection[str] | None
    max_count: int
    clamp: bool
    default_tz: tzinfo
    strict: bool
    max_value_length: int
    max_or_values: int
    max_chain: int


def _make_resolver(types: TypeResolver | Mapping[str, str] | None) -> TypeResolver:
    if types is None:
        return lambda _rt, _code: None
    if isinstance(types, Mapping):
        table = types

        def lookup(resource_type: str, code: str) -> str | None:
            return table.get(f"{resource_type}.{code}") or table.get(code)

        return lookup
    return types


def parse_search(
    query: Iterable[tuple[str, str]],
    params: Iterable[ParamDef] | Mapping[str, ParamDef],
    *,
    resource_type: str | None = None,
    others: Mapping[str, Iterable[ParamDef]] | None = None,
    types: TypeResolver | Mapping[str, str] | None = None,
    includes: Collection[str] | None = None,
    revincludes: Collection[str] | None = None,
    max_count: int = 1000,
    clamp: bool = False,
    default_tz: tzinfo = UTC,
    strict: bool = False,
    max_value_length: int = 2000,
    max_or_values: int = 100,
    max_params: int = 200,
    max_chain: int = 3,
) -> SearchRequest:
    """Parse a search query (decoded (name, value) pairs) against the declared parameters.

    ``resource_type``: the type searched (checks ``_include`` sources). ``others``: the
    parameters of other resource types (for ``_has`` and chains). ``types``: the type of a
    chained or ``_has`` parameter nobody declared, as a function (resource type, code) or a
    mapping keyed ``Type.code`` or ``code`` (then :data:`DEFAULT_TYPES`, then reference).
    ``includes``/``revincludes``: the allowed values (None: any). ``_count`` above
    ``max_count`` is an error, or ``max_count`` with ``clamp``. ``strict``: undeclared
    parameters are errors instead of warnings. Never raises on bad input.
    """
    defs = params.values() if isinstance(params, Mapping) else params
    cfg = _Config(
        declared={p.code: p for p in defs},
        others={t: {p.code: p for p in ps} for t, ps in (others or {}).items()},
        resolve=_make_resolver(types),
        resource_type=resource_type,
        includes=includes,
        revincludes=revincludes,
        max_count=max_count,
        clamp=clamp,
        default_tz=default_tz,
        strict=strict,
        max_value_length=max_value_length,
        max_or_values=max_or_values,
        max_chain=max_chain,
    )
    req = SearchRequest()
    seen: dict[str, int] = {}
    for index, (name, value) in enumerate(query):
        if index >= max_params:
            req.errors.append(SearchError("", "", f"more than {max_params} parameters"))
            break
        try:
            _parse_pair(cfg, req, name, value, seen)
        except Exception as exc:  # a bug must not turn into a 500 with a traceback
            req.errors.append(SearchError(name[:100], value[:100], f"cannot parse: {exc!r}"))
    return req


def _error(req: SearchRequest, name: str, value: str, message: str) -> None:
    req.errors.append(SearchError(name, value[:200], message))


def _warn(req: SearchRequest, name: str, value: str, message: str) -> None:
    req.warnings.append(SearchError(name, value[:200], message, "warning"))


def _once(req: SearchRequest, seen: dict[str, int], key: str, name: str, value: str) -> bool:
    seen[key] = seen.get(key, 0) + 1
    if seen[key] > 1:
        _error(req, name, value, f"{key} given more than once")
        return False
    return True


def _parse_pair(
    cfg: _Config, req: SearchRequest, name: str, value: str, seen: dict[str, int]
) -> None:
    if len(name) > 256:
        _error(req, name[:100], "", "parameter name too long")
        return
    bad = _bad_char(name) or _bad_char(value)
    if bad is not None:
        _error(req, name, value, f"control or non-printable character U+{ord(bad):04X}")
        return
    if len(value) > cfg.max_value_length:
        _error(req, name, value, f"value longer than {cfg.max_value_length} characters")
        return
    base = name.split(":", 1)[0].split(".", 1)[0]
    if base in _IGNORED:
        req.ignored.append(name)
        return
    if base == "_has":
        _parse_has(cfg, req, name, value)
        return
    if base in ("_include", "_revinclude"):
        _parse_include(cfg, req, name, value, base)
        return
    if base in ("_count", "_sort", "_summary", "_elements", "_format", "_total"):
        if name != base:
            _error(req, name, value, f"{base} takes no modifier")
        elif _once(req, seen, base, name, value):
            _parse_result_param(cfg, req, base, value)
        return
    definition = cfg.declared.get(base)
    if definition is None and base == "_id":
        definition = ParamDef("_id", "token")
    if definition is None and base == "_lastUpdated":
        definition = ParamDef("_lastUpdated", "date")
    if definition is None:
        req.unknown.append(name)
        message = "unknown or unsupported search parameter, ignored"
        if cfg.strict:
            _error(req, name, value, "unknown or unsupported search parameter")
        else:
            _warn(req, name, value, message)
        return
    if value == "":
        _warn(req, name, value, "empty value, ignored")
        return
    parsed = _parse_param(cfg, req, name, value, definition)
    if parsed is None:
        return
    key = ".".join([parsed.code, *(c for c, _ in parsed.chain)])
    seen[key] = seen.get(key, 0) + 1
    if not definition.multiple_and and seen[key] > 1:
        _error(req, name, value, "may not be repeated (no AND on this parameter)")
        return
    req.params.append(parsed)


def _legs(name: str) -> list[tuple[str, str | None]]:
    legs: list[tuple[str, str | None]] = []
    for leg in name.split("."):
        code, _, modifier = leg.partition(":")
        if not _CODE_RE.fullmatch(code):
            raise _Bad(f"invalid parameter name {name!r}")
        if modifier and not _MODIFIER_RE.fullmatch(modifier):
            raise _Bad(f"invalid modifier {modifier!r}")
        legs.append((code, modifier or None))
    return legs


def _param_type(cfg: _Config, resource_type: str, code: str) -> str:
    declared = cfg.others.get(resource_type, {}).get(code)
    if declared is not None:
        return declared.type
    if resource_type and resource_type == cfg.resource_type and code in cfg.declared:
        return cfg.declared[code].type
    resolved = cfg.resolve(resource_type, code)
    if resolved in PARAM_TYPES:
        return resolved
    return DEFAULT_TYPES.get(code, "reference")


def _check_modifier(definition: ParamDef | None, ptype: str, modifier: str | None) -> None:
    if modifier is None:
        return
    if ptype == "reference" and _TYPE_RE.fullmatch(modifier):
        if definition is not None and definition.targets and modifier not in definition.targets:
            allowed = ", ".join(definition.targets)
            raise _Bad(f"target type ':{modifier}' not allowed (allowed: {allowed})")
        return
    if modifier not in STANDARD_MODIFIERS[ptype]:
        raise _Bad(f"modifier ':{modifier}' does not apply to a {ptype} parameter")
    if (
        definition is not None
        and definition.modifiers
        and modifier not in definition.modifiers
        and modifier not in _ALWAYS.get(ptype, ("missing",))
    ):
        raise _Bad(f"modifier ':{modifier}' not supported")


def _chain_allowed(definition: ParamDef, legs: list[tuple[str, str | None]]) -> bool:
    if not definition.chains:
        return True
    full = ".".join(c + (f":{m}" if m else "") for c, m in legs)
    bare = ".".join(c for c, _ in legs)
    return any(c in (full, bare, legs[0][0]) for c in definition.chains)


def _parse_param(
    cfg: _Config, req: SearchRequest, name: str, value: str, definition: ParamDef
) -> ParsedParam | None:
    try:
        legs = _legs(name)
        code, modifier = legs[0]
        chain = legs[1:]
        if not chain:
            _check_modifier(definition, definition.type, modifier)
            values = _parse_values(cfg, value, definition.type, modifier, definition)
            return ParsedParam(code, definition.type, modifier, values)
        if definition.type != "reference":
            raise _Bad(f"chained on {code}, which is a {definition.type}, not a reference")
        if len(chain) > cfg.max_chain:
            raise _Bad(f"chain longer than {cfg.max_chain}")
        if modifier is not None and not _TYPE_RE.fullmatch(modifier):
            raise _Bad(f"modifier ':{modifier}' cannot be chained")
        _check_modifier(definition, "reference", modifier)
        if not _chain_allowed(definition, chain):
            raise _Bad("chain not supported")
        # the type each leg points into: its type modifier, or the only declared target
        current = modifier or (definition.targets[0] if len(definition.targets) == 1 else "")
        for i, (leg_code, leg_mod) in enumerate(chain):
            leg_type = _param_type(cfg, current, leg_code)
            last = i == len(chain) - 1
            leg_def = cfg.others.get(current, {}).get(leg_code)
            if not last:
                if leg_type != "reference":
                    raise _Bad(f"{leg_code} is a {leg_type}, not a reference: cannot chain")
                if leg_mod is not None and not _TYPE_RE.fullmatch(leg_mod):
                    raise _Bad(f"modifier ':{leg_mod}' cannot be chained")
                _check_modifier(leg_def, "reference", leg_mod)
                targets = leg_def.targets if leg_def is not None else ()
                current = leg_mod or (targets[0] if len(targets) == 1 else "")
                continue
            _check_modifier(leg_def, leg_type, leg_mod)
            values = _parse_values(cfg, value, leg_type, leg_mod, leg_def, definition)
            return ParsedParam(code, leg_type, modifier, values, tuple(chain))
    except _Bad as exc:
        _error(req, name, value, str(exc))
    return None


def _parse_values(
    cfg: _Config,
    value: str,
    ptype: str,
    modifier: str | None,
    definition: ParamDef | None,
    outer: ParamDef | None = None,
) -> list[Value]:
    parts = split_escaped(value, ",")
    if len(parts) > cfg.max_or_values:
        raise _Bad(f"more than {cfg.max_or_values} values")
    single = (definition is not None and not definition.multiple_or) or (
        outer is not None and not outer.multiple_or
    )
    if single and len(parts) > 1:
        raise _Bad("only one value allowed (no OR on this parameter)")
    out: list[Value] = []
    for part in parts:
        if part == "":
            raise _Bad(f"empty value in {value!r}")
        out.append(_parse_value(cfg, part, ptype, modifier, definition))
    return out


def _prefix(text: str, definition: ParamDef | None) -> tuple[str, str]:
    prefix, rest = "eq", text
    if _PREFIX_RE.match(text):
        prefix, rest = text[:2], text[2:]
        if prefix not in PREFIXES:
            raise _Bad(f"unknown prefix {prefix!r} in {text!r}")
    if definition is not None and definition.comparators and prefix not in definition.comparators:
        allowed = ", ".join(definition.comparators)
        if rest == text:
            raise _Bad(f"a prefix is required in {text!r} (one of {allowed})")
        raise _Bad(f"prefix {prefix!r} not supported in {text!r} (allowed: {allowed})")
    return prefix, rest


def _number(text: str) -> Decimal:
    if not _NUMBER_RE.fullmatch(text):
        raise _Bad(f"invalid number {text!r}")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already checks
        raise _Bad(f"invalid number {text!r}") from exc


def _parse_value(
    cfg: _Config, part: str, ptype: str, modifier: str | None, definition: ParamDef | None
) -> Value:
    if modifier == "missing":
        text = unescape(part)
        if text not in ("true", "false"):
            raise _Bad(f":missing takes true or false, not {text!r}")
        return MissingValue(text == "true")
    if ptype == "date":
        prefix, rest = _prefix(unescape(part), definition)
        try:
            low, high, precision = parse_date(rest, cfg.default_tz)
        except ValueError as exc:
            raise _Bad(str(exc)) from None
        return DateValue(prefix, low, high, precision, rest.replace(" ", "+"))
    if ptype == "number":
        prefix, rest = _prefix(unescape(part), definition)
        return NumberValue(prefix, _number(rest), rest)
    if ptype == "quantity":
        pieces = split_escaped(part, "|")
        if len(pieces) not in (1, 3):
            raise _Bad(f"invalid quantity {unescape(part)!r} (number or number|system|code)")
        prefix, rest = _prefix(unescape(pieces[0]), definition)
        number = _number(rest)
        if len(pieces) == 1:
            return QuantityValue(prefix, number, None, None, rest)
        system, code = unescape(pieces[1]) or None, unescape(pieces[2]) or None
        return QuantityValue(prefix, number, system, code, rest)
    if ptype == "string":
        mode = {"exact": "exact", "contains": "contains"}.get(modifier or "", "start")
        return StringValue(unescape(part), mode)
    if ptype == "uri":
        return UriValue(unescape(part), modifier if modifier in ("above", "below") else "exact")
    if ptype == "token":
        return _parse_token(part, modifier)
    if ptype == "reference":
        if modifier == "identifier":
            return _parse_token(part, None)
        return _parse_reference(unescape(part), modifier)
    if ptype == "composite":
        pieces = split_escaped(part, "$")
        components = definition.components if definition is not None else ()
        if components and len(pieces) != len(components):
            raise _Bad(f"{unescape(part)!r} needs {len(components)} components separated by $")
        values: list[Value] = []
        for i, piece in enumerate(pieces):
            if components:
                values.append(_parse_value(cfg, piece, components[i], None, None))
            else:
                values.append(RawValue(unescape(piece)))
        return CompositeValue(tuple(values))
    return RawValue(unescape(part))


def _parse_token(part: str, modifier: str | None) -> Value:
    if modifier == "text":
        return StringValue(unescape(part))
    if modifier in ("in", "not-in"):
        return UriValue(unescape(part))
    pieces = split_escaped(part, "|")
    if modifier in ("of-type", "ofType"):
        if len(pieces) != 3 or not all(pieces):
            raise _Bad(f":of-type takes system|code|value, not {unescape(part)!r}")
        system, code, value = (unescape(p) for p in pieces)
        return OfTypeValue(system, code, value)
    if len(pieces) == 1:
        return TokenValue(None, unescape(part))
    if len(pieces) > 2:
        raise _Bad(f"invalid token {unescape(part)!r}: more than one '|' (escape it as \\|)")
    system, code = unescape(pieces[0]), unescape(pieces[1])
    if not system and not code:
        raise _Bad("empty token '|'")
    return TokenValue(system, code or None)


def _parse_reference(text: str, modifier: str | None) -> ReferenceValue:
    type_mod = modifier if modifier is not None and _TYPE_RE.fullmatch(modifier) else None
    relative = _RELATIVE_RE.fullmatch(text)
    if relative is not None:
        ref = ReferenceValue(relative["type"], relative["id"], None, relative["version"])
    elif _ID_RE.fullmatch(text):
        ref = ReferenceValue(None, text)
    elif _ABSOLUTE_RE.fullmatch(text):
        tail = _TAIL_RE.search(text)
        if tail is not None:
            ref = ReferenceValue(tail[1], tail[2], text, tail[3])
        else:
            ref = ReferenceValue(None, None, text)
    else:
        raise _Bad(f"invalid reference {text!r} (Type/id, id or an absolute URL)")
    if type_mod is not None:
        if ref.type is not None and ref.type != type_mod:
            raise _Bad(f"reference {text!r} is not a {type_mod}")
        if ref.url is None:
            ref = ReferenceValue(type_mod, ref.id, None, ref.version)
    return ref


def _parse_has(cfg: _Config, req: SearchRequest, name: str, value: str) -> None:
    try:
        parts = name.split(":")
        links: list[tuple[str, str]] = []
        i = 0
        while i < len(parts) and parts[i] == "_has":
            if i + 3 >= len(parts):
                raise _Bad("expected _has:Type:reference:parameter")
            rtype, ref = parts[i + 1], parts[i + 2]
            if not _TYPE_RE.fullmatch(rtype) or not _CODE_RE.fullmatch(ref):
                raise _Bad(f"invalid _has link {rtype}:{ref}")
            links.append((rtype, ref))
            i += 3
        rest = parts[i:]
        if not 1 <= len(rest) <= 2:
            raise _Bad("expected _has:Type:reference:parameter[:modifier]")
        target = rest[0]
        modifier = rest[1] if len(rest) == 2 else None
        if "." in target:
            raise _Bad("chained parameters inside _has are not supported")
        if not _CODE_RE.fullmatch(target):
            raise _Bad(f"invalid parameter name {target!r}")
        if modifier is not None and not _MODIFIER_RE.fullmatch(modifier):
            raise _Bad(f"invalid modifier {modifier!r}")
        inner = links[-1][0]
        declared = cfg.others.get(inner)
        definition = declared.get(target) if declared is not None else None
        if declared is not None and definition is None:
            raise _Bad(f"{target} is not a supported search parameter of {inner}")
        ptype = definition.type if definition is not None else _param_type(cfg, inner, target)
        if value == "":
            _warn(req, name, value, "empty value, ignored")
            return
        _check_modifier(definition, ptype, modifier)
        values = _parse_values(cfg, value, ptype, modifier, definition)
    except _Bad as exc:
        _error(req, name, value, str(exc))
        return
    (first_type, first_ref), nested = links[0], tuple(links[1:])
    if definition is not None and not definition.multiple_and:
        key = (first_type, first_ref, nested, target)
        if any((h.type, h.reference, h.nested, h.target) == key for h in req.has):
            _error(req, name, value, "may not be repeated (no AND on this parameter)")
            return
    req.has.append(HasParam(first_type, first_ref, target, ptype, values, modifier, nested))


def _parse_include(cfg: _Config, req: SearchRequest, name: str, value: str, base: str) -> None:
    modifier = name[len(base) + 1 :] if name != base else None
    if modifier not in (None, "iterate", "recurse"):
        _error(req, name, value, f"{base} takes :iterate, not :{modifier}")
        return
    iterate = modifier is not None
    m = _INCLUDE_RE.fullmatch(value)
    if value == "*":
        inc = Include("*", "*", None, iterate)
    elif m is None:
        _error(req, name, value, f"invalid {base} {value!r} (expected Source:param[:Target])")
        return
    else:
        inc = Include(m["source"], m["param"], m["target"], iterate)
    allowed = cfg.includes if base == "_include" else cfg.revincludes
    if (
        allowed is not None
        and inc.value not in allowed
        and f"{inc.source}:{inc.param}" not in allowed
    ):
        _error(req, name, value, f"{base} {value!r} not supported")
        return
    rt = cfg.resource_type
    if rt is not None and not iterate:
        if base == "_include" and inc.source not in (rt, "*"):
            _error(req, name, value, f"_include source {inc.source} is not {rt} (use :iterate)")
            return
        if base == "_revinclude" and inc.target not in (None, rt):
            _error(req, name, value, f"_revinclude target {inc.target} is not {rt}")
            return
    (req.include if base == "_include" else req.revinclude).append(inc)


def _parse_result_param(cfg: _Config, req: SearchRequest, base: str, value: str) -> None:
    if base == "_count":
        if not re.fullmatch(r"[0-9]+", value):  # ASCII digits: int() takes others
            _error(req, base, value, f"_count must be a positive integer, not {value!r}")
            return
        digits = value.lstrip("0")
        count = int(digits or "0") if len(digits) <= 18 else cfg.max_count + 1
        if count < 1:
            _error(req, base, value, "_count must be a positive integer, not 0")
        elif count > cfg.max_count and not cfg.clamp:
            _error(req, base, value, f"_count {value} above the maximum {cfg.max_count}")
        else:
            req.count = min(count, cfg.max_count)
    elif base == "_summary":
        if value not in SUMMARY_VALUES:
            _error(req, base, value, f"_summary must be one of {', '.join(SUMMARY_VALUES)}")
        else:
            req.summary = value
    elif base == "_total":
        if value not in TOTAL_VALUES:
            _error(req, base, value, f"_total must be one of {', '.join(TOTAL_VALUES)}")
        else:
            req.total = value
    elif base == "_format":
        text = value.replace(" ", "+")  # an unencoded "+" arrives as a space
        if not _FORMAT_RE.fullmatch(text):
            _error(req, base, value, f"invalid _format {value!r}")
        else:
            req.format = text
    elif base == "_elements":
        names = value.split(",")
        bad = [n for n in names if not _ELEMENT_RE.fullmatch(n)]
        if bad:
            _error(req, base, value, f"invalid element name {bad[0]!r}")
        else:
            req.elements = names
    else:  # _sort
        keys: list[SortKey] = []
        for item in value.split(","):
            if not _SORT_RE.fullmatch(item):
                _error(req, base, value, f"invalid sort key {item!r}")
                return
            code = item.lstrip("-")
            known = code in cfg.declared or code in ("_id", "_lastUpdated", "_score")
            if not known:
                _warn(req, base, value, f"sort on {code}, which is not a declared parameter")
            keys.append(SortKey(code, item.startswith("-")))
        req.sort = keys
