"""igtools.runtime.search: FHIR R4 search requests parsed, matched and encoded."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igtools.runtime import search
from igtools.runtime.search import (
    CompositeValue,
    DateValue,
    HasParam,
    Include,
    MissingValue,
    NumberValue,
    OfTypeValue,
    ParamDef,
    ParsedParam,
    QuantityValue,
    RawValue,
    ReferenceValue,
    SearchError,
    SearchRequest,
    SortKey,
    StringValue,
    TokenValue,
    UriValue,
    date_range,
    encode,
    escape,
    format_datetime,
    normalize,
    parse_date,
    parse_query_string,
    parse_search,
    split_escaped,
    unescape,
)

PARIS = ZoneInfo("Europe/Paris")
PLUS2 = timezone(timedelta(hours=2))
RPPS = "urn:oid:1.2.250.1.71.4.2.1"
STRUCT = "urn:oid:1.2.250.1.71.4.2.2"

# the Slot search of the SAS IG (slot-sp-start allows ge and le only)
SLOT = [
    ParamDef("start", "date", comparators=("ge", "le")),
    ParamDef("schedule", "reference", targets=("Schedule",)),
    ParamDef("status", "token"),
    ParamDef("service-type-reference", "reference"),
]
SCHEDULE = [
    ParamDef("actor", "reference", targets=("Practitioner", "PractitionerRole", "Location"))
]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def parse(pairs: list[tuple[str, str]], **kwargs: object) -> SearchRequest:
    return parse_search(pairs, SLOT, resource_type="Slot", **kwargs)  # type: ignore[arg-type]


def one(req: SearchRequest) -> ParsedParam:
    assert req.errors == [], req.errors
    assert len(req.params) == 1, req.params
    return req.params[0]


def messages(req: SearchRequest) -> list[str]:
    return [str(e) for e in req.errors]


def error_for(pairs: list[tuple[str, str]], **kwargs: object) -> str:
    req = parse(pairs, **kwargs)
    assert len(req.errors) == 1, req.errors
    assert req.params == [] and req.has == []
    return str(req.errors[0])


# ------------------------------------------------------------------------------ the module


def test_runtime_module_is_self_contained() -> None:
    """Copied verbatim into generated packages: standard library only, no igtools."""
    tree = ast.parse(Path(search.__file__).read_text(encoding="utf-8"))
    stdlib = {
        "__future__",
        "calendar",
        "re",
        "unicodedata",
        "collections",
        "dataclasses",
        "datetime",
        "decimal",
        "urllib",
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert {a.name.split(".")[0] for a in node.names} <= stdlib
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module is not None
            assert node.module.split(".")[0] in stdlib, node.module


def test_param_def_rejects_unknown_type_and_comparator() -> None:
    with pytest.raises(ValueError, match="unknown search parameter type"):
        ParamDef("x", "boolean")
    with pytest.raises(ValueError, match="unknown comparator"):
        ParamDef("x", "date", comparators=("gte",))


# ------------------------------------------------------------------------------ dates


END = 999_999  # the last microsecond: high bounds are inclusive


@pytest.mark.parametrize(
    ("text", "low", "high", "precision"),
    [
        ("2021", utc(2021, 1, 1), utc(2021, 12, 31, 23, 59, 59, END), "year"),
        ("2021-11", utc(2021, 11, 1), utc(2021, 11, 30, 23, 59, 59, END), "month"),
        ("2020-02", utc(2020, 2, 1), utc(2020, 2, 29, 23, 59, 59, END), "month"),
        ("2021-02", utc(2021, 2, 1), utc(2021, 2, 28, 23, 59, 59, END), "month"),
        ("2021-12", utc(2021, 12, 1), utc(2021, 12, 31, 23, 59, 59, END), "month"),
        ("2021-11-04", utc(2021, 11, 4), utc(2021, 11, 4, 23, 59, 59, END), "day"),
        ("2021-11-04T14:19", utc(2021, 11, 4, 14, 19), utc(2021, 11, 4, 14, 19, 59, END), "minute"),
        (
            "2021-11-04T14:19:35",
            utc(2021, 11, 4, 14, 19, 35),
            utc(2021, 11, 4, 14, 19, 35, END),
            "second",
        ),
        (
            "2021-11-04T14:19:35Z",
            utc(2021, 11, 4, 14, 19, 35),
            utc(2021, 11, 4, 14, 19, 35, END),
            "second",
        ),
        (
            "2021-11-04T14:19:35.760+00:00",
            utc(2021, 11, 4, 14, 19, 35, 760000),
            utc(2021, 11, 4, 14, 19, 35, 760999),
            "millisecond",
        ),
        (
            "2021-11-04T14:19:35.760 00:00",  # "+" sent unencoded arrives as a space
            utc(2021, 11, 4, 14, 19, 35, 760000),
            utc(2021, 11, 4, 14, 19, 35, 760999),
            "millisecond",
        ),
        (
            "2021-11-06T23:59:59.999+00:00",
            utc(2021, 11, 6, 23, 59, 59, 999000),
            utc(2021, 11, 6, 23, 59, 59, END),
            "millisecond",
        ),
        (
            "2021-11-04T14:19:35.7Z",
            utc(2021, 11, 4, 14, 19, 35, 700000),
            utc(2021, 11, 4, 14, 19, 35, 799999),
            "millisecond",
        ),
        (
            "2021-11-04T14:19:35.760123",
            utc(2021, 11, 4, 14, 19, 35, 760123),
            utc(2021, 11, 4, 14, 19, 35, 760123),
            "microsecond",
        ),
        (
            "2021-11-04T14:19:35.760123456Z",  # beyond microseconds: truncated
            utc(2021, 11, 4, 14, 19, 35, 760123),
            utc(2021, 11, 4, 14, 19, 35, 760123),
            "microsecond",
        ),
        (
            "2023-08-18T09:00:00+02:00",
            utc(2023, 8, 18, 7),
            utc(2023, 8, 18, 7, 0, 0, END),
            "second",
        ),
        (
            "2021-11-04T14:19:35-05:30",
            utc(2021, 11, 4, 19, 49, 35),
            utc(2021, 11, 4, 19, 49, 35, END),
            "second",
        ),
        (
            "2021-11-04T14:19:35+14:00",
            utc(2021, 11, 4, 0, 19, 35),
            utc(2021, 11, 4, 0, 19, 35, END),
            "second",
        ),
        (
            "2016-12-31T23:59:60Z",  # a leap second: the minute's last instant
            utc(2016, 12, 31, 23, 59, 59, END),
            utc(2016, 12, 31, 23, 59, 59, END),
            "second",
        ),
        ("9999", utc(9999, 1, 1), utc(9999, 12, 31, 23, 59, 59, END), "year"),
    ],
)
def test_date_forms_and_ranges(text: str, low: datetime, high: datetime, precision: str) -> None:
    got_low, got_high, got_precision = parse_date(text)
    assert (got_low, got_high, got_precision) == (low, high, precision)
    assert got_low.tzinfo is not None and got_high.tzinfo is not None
    assert date_range(text) == (low, high)


def test_date_offsets_are_kept() -> None:
    low, _, _ = parse_date("2023-08-18T09:00:00+02:00")
    assert low.utcoffset() == timedelta(hours=2)
    low, _, _ = parse_date("2021-11-04T14:19:35.760 00:00")
    assert low.utcoffset() == timedelta(0)
    low, _, _ = parse_date("2021-11-04T14:19:35-05:30")
    assert low.utcoffset() == -timedelta(hours=5, minutes=30)


def test_missing_offset_uses_the_default_zone() -> None:
    low, high, _ = parse_date("2021-11-04T14:19", PARIS)
    assert low == utc(2021, 11, 4, 13, 19)  # CET = UTC+1 in November
    assert high == utc(2021, 11, 4, 13, 19, 59, END)
    low, _, _ = parse_date("2021-07-04T14:19", PARIS)
    assert low == utc(2021, 7, 4, 12, 19)  # CEST = UTC+2 in July
    low, high, _ = parse_date("2021-11-04", PARIS)
    assert (low, high) == (utc(2021, 11, 3, 23), utc(2021, 11, 4, 22, 59, 59, END))
    # the day DST starts lasts 23 hours
    low, high, _ = parse_date("2021-03-28", PARIS)
    assert high - low == timedelta(hours=23) - timedelta(microseconds=1)
    # an explicit offset wins over the default zone
    low, _, _ = parse_date("2021-11-04T14:19:00Z", PARIS)
    assert low == utc(2021, 11, 4, 14, 19)


def test_default_zone_through_parse_search() -> None:
    req = parse([("start", "ge2021-11-04T14:19")], default_tz=PARIS)
    value = one(req).values[0]
    assert isinstance(value, DateValue)
    assert value.low == utc(2021, 11, 4, 13, 19)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "21",
        "202",
        "20211",
        "21-11-04",
        "2021-13",
        "2021-00",
        "2021-02-30",
        "2021-11-31",
        "2021-11-00",
        "2021-1-04",
        "2021/11/04",
        "2021-11-04T",
        "2021-11-04T14",
        "2021-11-04T25:00",
        "2021-11-04T24:00",
        "2021-11-04T14:60",
        "2021-11-04T14:19:61",
        "2021-11-04T14:19:35.",
        "2021-11-04T14:19:35.Z",
        "2021-11-04T14:19:35.1234567890",
        "2021-11-04 14:19:35",
        "2021-11-04+02:00",
        "2021-11-04T14:19:35+15:00",
        "2021-11-04T14:19:35+14:30",
        "2021-11-04T14:19:35+02:60",
        "2021-11-04T14:19:35+0200",
        "2021-11-04T14:19:35+02:00:00",
        "2021-11-04T14:19:35z",
        "0000",
        "０２０２１",
        "２０２１",
        "2021-11-04T14:19:35.760+00:00 ",
        " 2021",
        "today",
    ],
)
def test_invalid_dates(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)
    # through the parser: collected, never raised
    msg = error_for([("start", "ge" + text)])
    assert msg.startswith("start: ")


def test_invalid_date_message_names_the_value() -> None:
    assert error_for([("start", "ge2021-02-30")]) == (
        "start: invalid date '2021-02-30': day out of range"
    )


@pytest.mark.parametrize("prefix", ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"])
def test_every_prefix_parses(prefix: str) -> None:
    req = parse_search([("date", f"{prefix}2021-11-04")], [ParamDef("date", "date")])
    value = one(req).values[0]
    assert isinstance(value, DateValue)
    assert value.prefix == prefix
    assert (value.low, value.high) == (utc(2021, 11, 4), utc(2021, 11, 4, 23, 59, 59, END))


def test_no_prefix_is_eq() -> None:
    for text in ("2021-11-04", "eq2021-11-04"):
        req = parse_search([("date", text)], [ParamDef("date", "date")])
        value = one(req).values[0]
        assert isinstance(value, DateValue) and value.prefix == "eq"
        assert value.to_query() == "2021-11-04"


@pytest.mark.parametrize("prefix", ["xx", "Ge", "GE", "eqq", "gte", "l"])
def test_unknown_prefix(prefix: str) -> None:
    req = parse_search([("date", f"{prefix}2021-01-01")], [ParamDef("date", "date")])
    assert len(req.errors) == 1 and req.params == []
    if prefix == "xx":
        assert str(req.errors[0]) == "date: unknown prefix 'xx' in 'xx2021-01-01'"
    elif prefix in ("eqq", "gte"):  # a known prefix, then garbage
        assert str(req.errors[0]).startswith("date: invalid date ")


def test_unknown_prefix_message() -> None:
    assert error_for([("start", "xx2021-01-01")]) == (
        "start: unknown prefix 'xx' in 'xx2021-01-01'"
    )


def test_declared_comparators_are_enforced() -> None:
    assert error_for([("start", "2021-11-04")]) == (
        "start: a prefix is required in '2021-11-04' (one of ge, le)"
    )
    assert error_for([("start", "eq2021-11-04")]) == (
        "start: prefix 'eq' not supported in 'eq2021-11-04' (allowed: ge, le)"
    )
    assert "not supported" in error_for([("start", "gt2021-11-04")])
    assert parse([("start", "ge2021-11-04"), ("start", "le2021-11-05")]).errors == []


def _date(text: str, tz: timezone = UTC) -> DateValue:
    req = parse_search([("d", text)], [ParamDef("d", "date")], default_tz=tz)
    value = one(req).values[0]
    assert isinstance(value, DateValue)
    return value


# search 2021-11-04 (a day) against instants
INSTANTS = [
    utc(2021, 11, 3, 23, 59, 59, END),  # just before
    utc(2021, 11, 4),  # first instant
    utc(2021, 11, 4, 12),  # inside
    utc(2021, 11, 4, 23, 59, 59, END),  # last instant
    utc(2021, 11, 5),  # just after
]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("eq", [False, True, True, True, False]),
        ("ne", [True, False, False, False, True]),
        ("gt", [False, False, False, False, True]),
        ("lt", [True, False, False, False, False]),
        ("ge", [False, True, True, True, True]),
        ("le", [True, True, True, True, False]),
        ("sa", [False, False, False, False, True]),
        ("eb", [True, False, False, False, False]),
    ],
)
def test_prefix_semantics_on_instants(prefix: str, expected: list[bool]) -> None:
    value = _date(prefix + "2021-11-04")
    assert [value.matches(t) for t in INSTANTS] == expected
    assert [value.matches(t, t) for t in INSTANTS] == expected


# search 2021-11 (a month) against periods
PERIODS = {
    "overlaps start": (utc(2021, 10, 15), utc(2021, 11, 15)),
    "overlaps end": (utc(2021, 11, 10), utc(2021, 12, 10)),
    "after": (utc(2021, 12, 1), utc(2021, 12, 31)),
    "before": (utc(2021, 9, 1), utc(2021, 10, 31, 23, 59, 59, END)),
    "contains search": (utc(2021, 10, 1), utc(2021, 12, 31)),
    "inside": (utc(2021, 11, 5), utc(2021, 11, 6)),
    "whole month": (utc(2021, 11, 1), utc(2021, 11, 30, 23, 59, 59, END)),
}


@pytest.mark.parametrize(
    ("prefix", "matching"),
    [
        ("eq", {"inside", "whole month"}),
        ("ne", {"overlaps start", "overlaps end", "after", "before", "contains search"}),
        ("gt", {"overlaps end", "after", "contains search"}),
        ("lt", {"overlaps start", "before", "contains search"}),
        ("ge", {"overlaps end", "after", "contains search", "inside", "whole month"}),
        ("le", {"overlaps start", "before", "contains search", "inside", "whole month"}),
        ("sa", {"after"}),
        ("eb", {"before"}),
    ],
)
def test_prefix_semantics_on_periods(prefix: str, matching: set[str]) -> None:
    value = _date(prefix + "2021-11")
    got = {name for name, (low, high) in PERIODS.items() if value.matches(low, high)}
    assert got == matching


def test_sa_eb_ap_on_a_partial_date() -> None:
    sa, eb = _date("sa2021"), _date("eb2021")
    assert sa.matches(utc(2022, 1, 1)) and not sa.matches(utc(2021, 12, 31, 23))
    assert not sa.matches(utc(2021, 12, 1), utc(2022, 2, 1))  # overlaps: not "after"
    assert eb.matches(utc(2020, 12, 31, 23)) and not eb.matches(utc(2021, 1, 1))
    assert not eb.matches(utc(2020, 12, 1), utc(2021, 1, 2))


def test_ap_is_ten_percent_of_the_gap_to_now() -> None:
    ap = _date("ap2021-11-04")
    now = utc(2021, 11, 14)  # 10 days after: +- 1 day
    assert ap.matches(utc(2021, 11, 4, 12), now=now)
    assert ap.matches(utc(2021, 11, 3, 0, 0, 1), now=now)
    assert ap.matches(utc(2021, 11, 5, 23), now=now)
    assert not ap.matches(utc(2021, 11, 2, 23), now=now)
    assert not ap.matches(utc(2021, 11, 7), now=now)
    assert ap.matches(utc(2021, 11, 1), utc(2021, 11, 3, 12), now=now)  # overlapping period
    # the clock by default: 2021 is years ago, so a day off is "approximately"
    assert ap.matches(utc(2021, 11, 5, 12))
    # extreme dates do not overflow
    assert _date("ap0001").matches(utc(1, 6, 1))
    assert _date("ap9999").matches(utc(9999, 6, 1))


def test_naive_resource_values_are_utc() -> None:
    value = _date("ge2021-11-04T14:19:35.760+00:00")
    assert value.matches(datetime(2021, 11, 4, 14, 19, 35, 760000))
    assert not value.matches(datetime(2021, 11, 4, 14, 19, 35, 759999))


def test_sas_window_against_slot_starts() -> None:
    req = parse(
        [("start", "ge2021-11-04T14:19:35.760+00:00"), ("start", "le2021-11-06T23:59:59.999+00:00")]
    )
    assert req.errors == []
    starts = req.get("start")
    assert [p.values[0].prefix for p in starts] == ["ge", "le"]  # type: ignore[union-attr]

    def in_window(t: datetime) -> bool:
        return all(v.matches(t) for p in starts for v in p.values if isinstance(v, DateValue))

    assert not in_window(utc(2021, 11, 4, 14, 19, 35, 759000))
    assert in_window(utc(2021, 11, 4, 14, 19, 35, 760000))
    assert in_window(utc(2021, 11, 4, 14, 19, 35, 760500))  # same millisecond
    assert in_window(datetime(2021, 11, 5, 10, tzinfo=PARIS))
    assert in_window(utc(2021, 11, 6, 23, 59, 59, 999000))
    assert in_window(datetime(2021, 11, 7, 0, 30, tzinfo=timezone(timedelta(hours=1))))
    assert not in_window(utc(2021, 11, 7))
    assert not in_window(datetime(2021, 11, 6, 23, 30, tzinfo=timezone(-timedelta(hours=1))))


def test_date_value_to_query_restores_plus() -> None:
    value = one(parse([("start", "ge2021-11-04T14:19:35.760 00:00")])).values[0]
    assert isinstance(value, DateValue)
    assert value.text == "2021-11-04T14:19:35.760+00:00"
    assert value.to_query() == "ge2021-11-04T14:19:35.760+00:00"


def test_format_datetime() -> None:
    assert format_datetime(utc(2021, 11, 4, 14, 19, 35, 760000)) == "2021-11-04T14:19:35.760+00:00"
    assert (
        format_datetime(datetime(2023, 8, 18, 9, tzinfo=PLUS2)) == "2023-08-18T09:00:00.000+02:00"
    )
    assert format_datetime(datetime(2021, 1, 1)) == "2021-01-01T00:00:00.000+00:00"
    low, _, precision = parse_date(format_datetime(datetime(2023, 8, 18, 9, tzinfo=PLUS2)))
    assert low == utc(2023, 8, 18, 7) and precision == "millisecond"


def test_last_updated_is_always_a_date() -> None:
    req = parse_search([("_lastUpdated", "gt2021-01-01")], [])
    p = one(req)
    assert (p.code, p.type) == ("_lastUpdated", "date")
    assert isinstance(p.values[0], DateValue) and p.values[0].prefix == "gt"


# ------------------------------------------------------------------------------ tokens


@pytest.mark.parametrize(
    ("text", "system", "code"),
    [
        ("free", None, "free"),
        (f"{RPPS}|810002673899", RPPS, "810002673899"),
        ("|810002673899", "", "810002673899"),
        (f"{RPPS}|", RPPS, None),
        ("http://loinc.org|1234-5", "http://loinc.org", "1234-5"),
        ("a\\|b|c", "a|b", "c"),
        ("sys|a\\,b", "sys", "a,b"),
        ("sys|a\\$b", "sys", "a$b"),
        ("sys|a\\\\b", "sys", "a\\b"),
        ("c:\\path", None, "c:\\path"),  # an unknown escape stays as it is
        ("'; DROP TABLE slot; --", None, "'; DROP TABLE slot; --"),
        ("<script>alert(1)</script>", None, "<script>alert(1)</script>"),
        ("é", None, "é"),
    ],
)
def test_token_forms(text: str, system: str | None, code: str | None) -> None:
    value = one(parse([("status", text)])).values[0]
    assert value == TokenValue(system, code)


@pytest.mark.parametrize("text", ["|", "a|b|c", "sys|code|"])
def test_invalid_tokens(text: str) -> None:
    assert error_for([("status", text)]).startswith("status: ")


def test_token_matches() -> None:
    assert TokenValue(None, "free").matches(None, "free")
    assert TokenValue(None, "free").matches("http://x", "free")
    assert not TokenValue(None, "free").matches(None, "busy")
    assert not TokenValue(None, "free").matches(None, "Free")
    assert TokenValue(RPPS, "8100").matches(RPPS, "8100")
    assert not TokenValue(RPPS, "8100").matches(STRUCT, "8100")
    assert not TokenValue(RPPS, "8100").matches(None, "8100")
    assert TokenValue("", "8100").matches(None, "8100")
    assert TokenValue("", "8100").matches("", "8100")
    assert not TokenValue("", "8100").matches(RPPS, "8100")
    assert TokenValue(RPPS, None).matches(RPPS, "anything")
    assert not TokenValue(RPPS, None).matches(STRUCT, "anything")


def test_token_modifiers() -> None:
    defs = [ParamDef("code", "token")]

    def value(name: str, text: str) -> object:
        return one(parse_search([(name, text)], defs)).values[0]

    assert value("code:not", "free") == TokenValue(None, "free")
    assert one(parse_search([("code:not", "free")], defs)).modifier == "not"
    assert value("code:text", "Créneau") == StringValue("Créneau")
    assert value("code:in", "http://x/ValueSet/y") == UriValue("http://x/ValueSet/y")
    assert value("code:not-in", "http://x/ValueSet/y") == UriValue("http://x/ValueSet/y")
    assert value("code:above", "s|c") == TokenValue("s", "c")
    assert value("code:below", "s|c") == TokenValue("s", "c")
    assert value("code:of-type", f"{RPPS}|IDNPS|810002673899") == OfTypeValue(
        RPPS, "IDNPS", "810002673899"
    )
    assert value("code:missing", "true") == MissingValue(True)
    assert value("code:missing", "false") == MissingValue(False)
    assert MissingValue(True).matches(False) and not MissingValue(True).matches(True)
    assert OfTypeValue("s", "c", "v").matches("s", "c", "v")
    assert not OfTypeValue("s", "c", "v").matches("s", "c", "w")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("code:of-type", "s|c", ":of-type takes system|code|value"),
        ("code:of-type", "s||v", ":of-type takes system|code|value"),
        ("code:missing", "yes", ":missing takes true or false"),
        ("code:exact", "x", "modifier ':exact' does not apply to a token parameter"),
        ("code:Patient", "x", "modifier ':Patient' does not apply to a token parameter"),
        ("code:fuzzy", "x", "modifier ':fuzzy' does not apply"),
        ("code:1x", "x", "invalid modifier '1x'"),
    ],
)
def test_bad_token_modifiers(name: str, text: str, message: str) -> None:
    req = parse_search([(name, text)], [ParamDef("code", "token")])
    assert req.params == [] and len(req.errors) == 1
    assert message in str(req.errors[0])


def test_declared_modifiers_restrict_but_not_and_missing_always_pass() -> None:
    defs = [ParamDef("code", "token", modifiers=("text",))]
    assert parse_search([("code:text", "x")], defs).errors == []
    assert parse_search([("code:not", "x")], defs).errors == []
    assert parse_search([("code:missing", "true")], defs).errors == []
    req = parse_search([("code:in", "http://x")], defs)
    assert [str(e) for e in req.errors] == ["code:in: modifier ':in' not supported"]
    # on a string, :missing passes a declaration that omits it
    sdefs = [ParamDef("name", "string", modifiers=("exact",))]
    assert parse_search([("name:missing", "false")], sdefs).errors == []
    assert "not supported" in str(parse_search([("name:contains", "x")], sdefs).errors[0])


# ------------------------------------------------------------------------------ escapes, OR, AND


def test_escape_helpers() -> None:
    assert escape("a,b|c$d\\e") == "a\\,b\\|c\\$d\\\\e"
    assert unescape("a\\,b\\|c\\$d\\\\e") == "a,b|c$d\\e"
    assert unescape("a\\nb\\") == "a\\nb\\"
    assert split_escaped("a\\,b,c,,d", ",") == ["a\\,b", "c", "", "d"]
    assert split_escaped("a\\\\,b", ",") == ["a\\\\", "b"]  # an escaped backslash, then a comma
    assert split_escaped("", ",") == [""]


def test_comma_is_or_and_escaped_comma_is_literal() -> None:
    req = parse_search([("name", "Dupont\\, Jean,Martin")], [ParamDef("name", "string")])
    assert one(req).values == [StringValue("Dupont, Jean"), StringValue("Martin")]
    p = one(parse([("status", "free,busy-tentative")]))
    assert p.values == [TokenValue(None, "free"), TokenValue(None, "busy-tentative")]


def test_repeats_are_and() -> None:
    req = parse([("status", "free"), ("status", "busy")])
    assert [p.values for p in req.params] == [
        [TokenValue(None, "free")],
        [TokenValue(None, "busy")],
    ]


def test_multiple_or_and_multiple_and_false() -> None:
    defs = [ParamDef("status", "token", multiple_or=False, multiple_and=False)]
    req = parse_search([("status", "free,busy")], defs)
    assert messages(req) == ["status: only one value allowed (no OR on this parameter)"]
    req = parse_search([("status", "free"), ("status", "busy")], defs)
    assert messages(req) == ["status: may not be repeated (no AND on this parameter)"]
    assert len(req.params) == 1
    # a chained occurrence is a different parameter for AND counting
    rdefs = [ParamDef("subject", "reference", multiple_and=False)]
    req = parse_search([("subject", "Patient/1"), ("subject.name", "x")], rdefs)
    assert req.errors == [] and len(req.params) == 2


def test_empty_values() -> None:
    req = parse([("status", "")])
    assert req.params == [] and req.errors == []
    assert [w.message for w in req.warnings] == ["empty value, ignored"]
    assert messages(parse([("status", "free,,busy")])) == ["status: empty value in 'free,,busy'"]
    assert messages(parse([("status", "free,")])) == ["status: empty value in 'free,'"]


# ------------------------------------------------------------------------------ strings


def test_normalize() -> None:
    assert normalize("Créneau") == "creneau"
    assert normalize("CRÉNEAU") == "creneau"
    assert normalize("Straße") == "strasse"
    assert normalize("Ærø") == "ærø"
    assert normalize("ﬁ") == "fi"


def test_string_modifiers_with_accents() -> None:
    defs = [ParamDef("name", "string")]

    def value(name: str, text: str) -> StringValue:
        v = one(parse_search([(name, text)], defs)).values[0]
        assert isinstance(v, StringValue)
        return v

    default = value("name", "créneau")
    assert default == StringValue("créneau", "start")
    assert default.matches("CRENEAU")
    assert default.matches("Créneau du matin")
    assert not default.matches("Un créneau")
    assert value("name", "CRENEAU").matches("créneau")
    assert not default.matches(None)
    exact = value("name:exact", "créneau")
    assert exact.mode == "exact"
    assert exact.matches("créneau")
    assert not exact.matches("CRENEAU")
    assert not exact.matches("Créneau")
    assert not exact.matches("créneau du matin")
    contains = value("name:contains", "RENE")
    assert contains.mode == "contains"
    assert contains.matches("un créneau")
    assert not contains.matches("crneau")
    assert value("name", "'; DROP TABLE x; --").matches("'; drop table x; -- and more")


# ------------------------------------------------------------------------------ references


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("schedule", "Schedule/123", ReferenceValue("Schedule", "123")),
        ("schedule", "123", ReferenceValue(None, "123")),
        ("schedule", "a-b.c", ReferenceValue(None, "a-b.c")),
        ("schedule", "Schedule/1/_history/2", ReferenceValue("Schedule", "1", None, "2")),
        (
            "schedule",
            "http://example.org/fhir/Schedule/123",
            ReferenceValue("Schedule", "123", "http://example.org/fhir/Schedule/123"),
        ),
        (
            "schedule",
            "urn:uuid:5a8a4c27-4f4f-4d0f-8f6b-2d2b7b7d0f31",
            ReferenceValue(None, None, "urn:uuid:5a8a4c27-4f4f-4d0f-8f6b-2d2b7b7d0f31"),
        ),
        ("schedule:Schedule", "123", ReferenceValue("Schedule", "123")),
        ("schedule:Schedule", "Schedule/123", ReferenceValue("Schedule", "123")),
    ],
)
def test_reference_forms(name: str, text: str, expected: ReferenceValue) -> None:
    p = one(parse([(name, text)]))
    assert p.values == [expected]
    assert p.type == "reference"


def test_reference_identifier_modifier() -> None:
    p = one(parse([("schedule:identifier", f"{RPPS}|810002673899")]))
    assert p.modifier == "identifier" and p.values == [TokenValue(RPPS, "810002673899")]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("schedule", "bad id!", "invalid reference 'bad id!'"),
        ("schedule", "Schedule/", "invalid reference"),
        ("schedule", "x" * 65, "invalid reference"),
        ("schedule:Schedule", "Patient/1", "reference 'Patient/1' is not a Schedule"),
        ("schedule:Patient", "1", "target type ':Patient' not allowed (allowed: Schedule)"),
        ("schedule:exact", "1", "modifier ':exact' does not apply to a reference parameter"),
    ],
)
def test_bad_references(name: str, text: str, message: str) -> None:
    assert message in error_for([(name, text)])


def test_reference_matches() -> None:
    typed = ReferenceValue("Schedule", "123")
    assert typed.matches("Schedule/123")
    assert typed.matches("http://example.org/fhir/Schedule/123")
    assert typed.matches("Schedule/123/_history/4")
    assert not typed.matches("Schedule/1234")
    assert not typed.matches("Patient/123")
    assert not typed.matches(None) and not typed.matches("")
    bare = ReferenceValue(None, "123")
    assert bare.matches("Schedule/123") and bare.matches("Patient/123") and bare.matches("123")
    assert not bare.matches("Schedule/12")
    versioned = ReferenceValue("Schedule", "1", None, "2")
    assert versioned.matches("Schedule/1/_history/2") and not versioned.matches("Schedule/1")
    url = ReferenceValue("Schedule", "123", "http://example.org/fhir/Schedule/123")
    assert url.matches("http://example.org/fhir/Schedule/123")
    assert url.matches("Schedule/123")
    assert not url.matches("http://other.org/fhir/Schedule/123")


# ------------------------------------------------------------------------------ chains


def _ids(n: int) -> str:
    return ",".join(f"{RPPS}|8100026738{i:02d}" for i in range(n))


def test_sas_ps_chained_identifier_with_25_values() -> None:
    req = parse([("schedule.actor:Practitioner.identifier", _ids(25))])
    p = one(req)
    assert (p.code, p.modifier, p.type) == ("schedule", None, "token")
    assert p.chain == (("actor", "Practitioner"), ("identifier", None))
    assert p.name == "schedule.actor:Practitioner.identifier"
    assert p.final_modifier is None
    assert len(p.values) == 25
    assert p.values[0] == TokenValue(RPPS, "810002673800")
    assert p.values[24] == TokenValue(RPPS, "810002673824")
    assert req.get("schedule", chained=True) == [p] and req.get("schedule", chained=False) == []


def test_sas_sos_chained_identifier() -> None:
    req = parse_search(
        [("actor:Location.organization.identifier", f"{STRUCT}|334173748400020")],
        SCHEDULE,
        resource_type="Schedule",
    )
    p = one(req)
    assert (p.code, p.modifier, p.type) == ("actor", "Location", "token")
    assert p.chain == (("organization", None), ("identifier", None))
    assert p.values == [TokenValue(STRUCT, "334173748400020")]


def test_chain_types_from_declarations_resolver_and_defaults() -> None:
    # the last leg's type from a declaration of the target type
    others = {"Practitioner": [ParamDef("identifier", "string")]}
    p = one(parse([("schedule.actor:Practitioner.identifier", "x")], others=others))
    assert p.type == "string" and p.values == [StringValue("x")]
    # from a resolver function, then a mapping (Type.code before code)
    p = one(
        parse(
            [("schedule.actor:Practitioner.foo", "ge2021")],
            types=lambda t, c: "date" if c == "foo" else None,
        )
    )
    assert p.type == "date"
    p = one(parse([("schedule.actor:Practitioner.foo", "5")], types={"Practitioner.foo": "number"}))
    assert p.values == [NumberValue("eq", Decimal(5), "5")]
    p = one(parse([("schedule.actor:Practitioner.foo", "5")], types={"foo": "token"}))
    assert p.values == [TokenValue(None, "5")]
    # defaults: identifier token, name string, others reference
    p = one(parse([("schedule.actor:Practitioner.name", "dupont")]))
    assert p.type == "string"
    p = one(parse([("schedule.actor:Practitioner.organization", "Organization/1")]))
    assert p.type == "reference" and p.values == [ReferenceValue("Organization", "1")]
    # the single declared target is the chained type
    defs = [ParamDef("schedule", "reference", targets=("Schedule",))]
    seen: list[tuple[str, str]] = []

    def resolver(t: str, c: str) -> str | None:
        seen.append((t, c))
        return None

    parse_search([("schedule.actor:Practitioner.identifier", "x")], defs, types=resolver)
    assert seen == [("Schedule", "actor"), ("Practitioner", "identifier")]


def test_chained_final_modifier() -> None:
    p = one(parse([("schedule.actor:Practitioner.name:exact", "Dupont")]))
    assert p.final_modifier == "exact"
    assert p.chain[-1] == ("name", "exact")
    assert p.values == [StringValue("Dupont", "exact")]
    p = one(parse([("schedule.actor:Practitioner.identifier:missing", "true")]))
    assert p.values == [MissingValue(True)]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("status.code", "chained on status, which is a token, not a reference"),
        ("schedule.start.foo", "start is a date, not a reference: cannot chain"),
        ("schedule:exact.actor", "modifier ':exact' cannot be chained"),
        ("schedule.actor:exact.identifier", "modifier ':exact' cannot be chained"),
        ("schedule:Patient.actor", "target type ':Patient' not allowed"),
        ("schedule.a.b.c.d", "chain longer than 3"),
        ("schedule..identifier", "invalid parameter name"),
        ("schedule.actor:Practitioner.identifier:exact", "':exact' does not apply to a token"),
    ],
)
def test_bad_chains(name: str, message: str) -> None:
    assert message in error_for([(name, "x")])


def test_declared_chains() -> None:
    defs = [ParamDef("schedule", "reference", chains=("actor:Practitioner.identifier",))]
    ok = parse_search([("schedule.actor:Practitioner.identifier", "x")], defs)
    assert ok.errors == []
    bad = parse_search([("schedule.actor:Location.identifier", "x")], defs)
    assert messages(bad) == ["schedule.actor:Location.identifier: chain not supported"]
    bare = [ParamDef("schedule", "reference", chains=("actor",))]
    assert parse_search([("schedule.actor:Location.identifier", "x")], bare).errors == []
    nomod = [ParamDef("schedule", "reference", chains=("actor.identifier",))]
    assert parse_search([("schedule.actor:Location.identifier", "x")], nomod).errors == []
    assert parse_search([("schedule.actor:Location.name", "x")], nomod).errors != []


def test_max_chain_option() -> None:
    assert parse([("schedule.a.b.c", "x")]).errors == []
    assert "chain longer than 1" in error_for([("schedule.actor.identifier", "x")], max_chain=1)


# ------------------------------------------------------------------------------ _has


def test_sas_sos_has_parameters() -> None:
    req = parse_search(
        [
            ("_has:Slot:schedule:start", "ge2023-08-18T09:00:00+02:00"),
            ("_has:Slot:schedule:start", "le2023-08-20T23:59:59+02:00"),
            ("_has:Slot:schedule:status", "free"),
        ],
        SCHEDULE,
        resource_type="Schedule",
        others={"Slot": SLOT},
    )
    assert req.errors == [] and req.params == []
    ge, le, status = req.has
    assert (ge.type, ge.reference, ge.target, ge.param_type) == (
        "Slot",
        "schedule",
        "start",
        "date",
    )
    assert ge.name == "_has:Slot:schedule:start"
    assert ge.values == [
        DateValue(
            "ge",
            datetime(2023, 8, 18, 9, tzinfo=PLUS2),
            datetime(2023, 8, 18, 9, 0, 0, END, tzinfo=PLUS2),
            "second",
            "2023-08-18T09:00:00+02:00",
        )
    ]
    assert le.values[0].prefix == "le"  # type: ignore[union-attr]
    assert (status.target, status.param_type, status.values) == (
        "status",
        "token",
        [TokenValue(None, "free")],
    )


def test_has_uses_the_declared_target() -> None:
    others = {"Slot": SLOT}
    req = parse_search([("_has:Slot:schedule:start", "2023-08-18")], [], others=others)
    assert messages(req) == [
        "_has:Slot:schedule:start: a prefix is required in '2023-08-18' (one of ge, le)"
    ]
    req = parse_search([("_has:Slot:schedule:comment", "x")], [], others=others)
    assert messages(req) == [
        "_has:Slot:schedule:comment: comment is not a supported search parameter of Slot"
    ]
    # no declaration for the type: resolver, then defaults
    req = parse_search([("_has:Slot:schedule:start", "2023-08-18")], [])
    assert req.errors == [] and req.has[0].param_type == "date"
    req = parse_search([("_has:Slot:schedule:foo", "5")], [], types={"Slot.foo": "number"})
    assert req.has[0].values == [NumberValue("eq", Decimal(5), "5")]
    no_and = {"Slot": [ParamDef("start", "date", multiple_and=False)]}
    req = parse_search(
        [("_has:Slot:schedule:start", "ge2023"), ("_has:Slot:schedule:start", "le2024")],
        [],
        others=no_and,
    )
    assert messages(req) == [
        "_has:Slot:schedule:start: may not be repeated (no AND on this parameter)"
    ]


def test_nested_has_and_modifier() -> None:
    req = parse_search([("_has:Observation:patient:_has:AuditEvent:entity:agent", "X/1")], [])
    h = req.has[0]
    assert (h.type, h.reference, h.nested, h.target) == (
        "Observation",
        "patient",
        (("AuditEvent", "entity"),),
        "agent",
    )
    assert h.name == "_has:Observation:patient:_has:AuditEvent:entity:agent"
    req = parse_search([("_has:Slot:schedule:status:not", "busy")], [])
    assert req.has[0].modifier == "not" and req.has[0].values == [TokenValue(None, "busy")]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("_has", "expected _has:Type:reference:parameter"),
        ("_has:Slot", "expected _has:Type:reference:parameter"),
        ("_has:Slot:schedule", "expected _has:Type:reference:parameter"),
        ("_has:slot:schedule:start", "invalid _has link slot:schedule"),
        ("_has:Slot:schedule:start:missing:x", "expected _has:Type:reference:parameter"),
        ("_has:Slot:schedule:actor.identifier", "chained parameters inside _has"),
        ("_has:Slot:schedule:st art", "invalid parameter name"),
    ],
)
def test_bad_has(name: str, message: str) -> None:
    assert message in error_for([(name, "x")])


# ------------------------------------------------------------------------------ _include etc.


def test_sas_includes() -> None:
    req = parse(
        [
            ("_include", "Slot:schedule"),
            ("_include:iterate", "Schedule:actor"),
            ("_include", "Slot:service-type-reference"),
            ("_include:iterate", "HealthcareService:organization"),
        ]
    )
    assert req.errors == []
    assert req.include == [
        Include("Slot", "schedule"),
        Include("Schedule", "actor", None, True),
        Include("Slot", "service-type-reference"),
        Include("HealthcareService", "organization", None, True),
    ]
    req = parse_search(
        [
            ("_revinclude", "Slot:schedule"),
            ("_include", "Schedule:actor:Location"),
            ("_include:iterate", "Location:organization"),
        ],
        SCHEDULE,
        resource_type="Schedule",
    )
    assert req.errors == []
    assert req.revinclude == [Include("Slot", "schedule")]
    assert req.include == [
        Include("Schedule", "actor", "Location"),
        Include("Location", "organization", None, True),
    ]
    assert req.include[0].value == "Schedule:actor:Location"


def test_include_variants_and_errors() -> None:
    assert parse([("_include:recurse", "Schedule:actor")]).include == [
        Include("Schedule", "actor", None, True)
    ]
    assert parse([("_include", "*")]).include == [Include("*", "*")]
    assert parse([("_include", "Slot:*")]).include == [Include("Slot", "*")]
    assert "invalid _include 'Slot'" in error_for([("_include", "Slot")])
    assert "invalid _include" in error_for([("_include", "Slot:schedule,Schedule:actor")])
    assert "_include takes :iterate, not :deep" in error_for([("_include:deep", "Slot:schedule")])
    assert error_for([("_include", "Schedule:actor")]) == (
        "_include: _include source Schedule is not Slot (use :iterate)"
    )
    assert "_revinclude target Patient is not Slot" in error_for(
        [("_revinclude", "Appointment:slot:Patient")]
    )
    # without resource_type, no source check
    assert parse_search([("_include", "Schedule:actor")], []).errors == []


def test_allowed_includes() -> None:
    kwargs = {"includes": ("Slot:schedule", "Schedule:actor:Location"), "revincludes": ()}
    assert parse([("_include", "Slot:schedule")], **kwargs).errors == []
    assert parse([("_include", "Slot:schedule:Schedule")], **kwargs).errors == []
    assert error_for([("_include", "Slot:foo")], **kwargs) == (
        "_include: _include 'Slot:foo' not supported"
    )
    assert "not supported" in error_for([("_revinclude", "Appointment:slot")], **kwargs)


@pytest.mark.parametrize(
    ("value", "count", "error"),
    [
        ("1000", 1000, None),
        ("1", 1, None),
        ("50", 50, None),
        ("-1", None, "_count: _count must be a positive integer, not '-1'"),
        ("abc", None, "_count: _count must be a positive integer, not 'abc'"),
        ("0", None, "_count: _count must be a positive integer, not 0"),
        ("1.5", None, "_count: _count must be a positive integer, not '1.5'"),
        ("1e3", None, "_count: _count must be a positive integer, not '1e3'"),
        (" 5", None, "_count: _count must be a positive integer, not ' 5'"),
        ("+5", None, "_count: _count must be a positive integer, not '+5'"),
        ("٣", None, "_count: _count must be a positive integer, not '٣'"),
        ("1001", None, "_count: _count 1001 above the maximum 1000"),
        ("9" * 40, None, f"_count: _count {'9' * 40} above the maximum 1000"),
    ],
)
def test_count(value: str, count: int | None, error: str | None) -> None:
    req = parse([("_count", value)])
    assert req.count == count
    assert messages(req) == ([error] if error else [])


def test_count_cap_and_clamp() -> None:
    assert parse([("_count", "1000")], max_count=500).errors != []
    assert parse([("_count", "1000")], max_count=500, clamp=True).count == 500
    assert parse([("_count", "9" * 1500)], clamp=True).count == 1000
    assert parse([("_count", "20")], max_count=500, clamp=True).count == 20
    req = parse([("_count", "10"), ("_count", "20")])
    assert req.count == 10 and messages(req) == ["_count: _count given more than once"]
    assert messages(parse([("_count:exact", "10")])) == ["_count:exact: _count takes no modifier"]


def test_result_parameters() -> None:
    req = parse(
        [
            ("_sort", "-start,status,_lastUpdated"),
            ("_summary", "count"),
            ("_elements", "id,start,schedule"),
            ("_format", "application/fhir json"),  # "+" sent unencoded
            ("_total", "accurate"),
            ("_pretty", "true"),
            ("_contained", "both"),
        ]
    )
    assert req.errors == [] and req.warnings == []
    assert req.sort == [SortKey("start", True), SortKey("status"), SortKey("_lastUpdated")]
    assert req.summary == "count"
    assert req.elements == ["id", "start", "schedule"]
    assert req.format == "application/fhir+json"
    assert req.total == "accurate"
    assert req.ignored == ["_pretty", "_contained"]
    assert parse([("_format", "json")]).format == "json"
    assert parse([("_format", "application/json+fhir")]).format == "application/json+fhir"


def test_bad_result_parameters() -> None:
    assert messages(parse([("_summary", "yes")])) == [
        "_summary: _summary must be one of true, text, data, count, false"
    ]
    assert messages(parse([("_total", "all")])) == [
        "_total: _total must be one of none, estimate, accurate"
    ]
    assert messages(parse([("_elements", "id,,start")])) == ["_elements: invalid element name ''"]
    assert messages(parse([("_sort", "start;drop")])) == ["_sort: invalid sort key 'start;drop'"]
    assert messages(parse([("_format", "<json>")])) == ["_format: invalid _format '<json>'"]
    req = parse([("_sort", "comment")])
    assert req.errors == [] and req.sort == [SortKey("comment")]
    assert [str(w) for w in req.warnings] == [
        "_sort: sort on comment, which is not a declared parameter"
    ]


def test_params_as_a_mapping() -> None:
    req = parse_search([("status", "free")], {d.code: d for d in SLOT})
    assert one(req).values == [TokenValue(None, "free")]


def test_id_is_always_a_token() -> None:
    p = one(parse_search([("_id", "abc,def")], []))
    assert (p.code, p.type) == ("_id", "token")
    assert p.values == [TokenValue(None, "abc"), TokenValue(None, "def")]


# ------------------------------------------------------------------------------ numbers etc.


def test_numbers() -> None:
    defs = [ParamDef("n", "number")]

    def value(text: str) -> NumberValue:
        v = one(parse_search([("n", text)], defs)).values[0]
        assert isinstance(v, NumberValue)
        return v

    hundred = value("100")
    assert (hundred.prefix, hundred.value) == ("eq", Decimal(100))
    assert hundred.matches(100) and hundred.matches(99.5) and hundred.matches(Decimal("100.49"))
    assert not hundred.matches(100.5) and not hundred.matches(99.4)
    assert value("100.00").matches(Decimal("100.004")) and not value("100.00").matches(100.01)
    assert value("1e2").matches(140) and not value("1e2").matches(150)
    assert value("ne100").matches(101) and not value("ne100").matches(100.2)
    assert value("gt100").matches(100.01) and not value("gt100").matches(100)
    assert value("lt100").matches(99.99) and not value("lt100").matches(100)
    assert value("ge100").matches(100) and not value("ge100").matches(99.99)
    assert value("le100").matches(100) and not value("le100").matches(100.01)
    assert value("sa100").matches(101) and not value("sa100").matches(100)
    assert value("eb100").matches(99) and not value("eb100").matches(100)
    assert value("ap100").matches(110) and value("ap100").matches(90)
    assert not value("ap100").matches(111)
    assert value("-0.5").value == Decimal("-0.5") and value(".5").value == Decimal("0.5")
    assert not value("100").matches(float("nan"))
    assert value("gt1e9999").matches(Decimal("1e10000"))
    for bad in ("abc", "1;5", "0x10", "1e99999", "nan", "inf", "１", "1 000"):
        req = parse_search([("n", bad)], defs)
        assert req.errors and req.params == [], bad
    assert messages(parse_search([("n", "xx5")], defs)) == ["n: unknown prefix 'xx' in 'xx5'"]


def test_quantities() -> None:
    defs = [ParamDef("q", "quantity")]

    def value(text: str) -> QuantityValue:
        v = one(parse_search([("q", text)], defs)).values[0]
        assert isinstance(v, QuantityValue)
        return v

    ucum = "http://unitsofmeasure.org"
    full = value(f"le5.4|{ucum}|mg")
    assert (full.prefix, full.value, full.system, full.code) == ("le", Decimal("5.4"), ucum, "mg")
    assert full.matches(5, ucum, "mg") and not full.matches(6, ucum, "mg")
    assert not full.matches(5, ucum, "g")
    any_system = value("5.4||mg")
    assert (any_system.system, any_system.code) == (None, "mg")
    assert any_system.matches(Decimal("5.4"), "http://other", "mg")
    assert value("5.4").matches(Decimal("5.4"), "x", "y")
    for bad in ("5.4|mg", "abc||mg", "5|a|b|c"):
        assert parse_search([("q", bad)], defs).errors, bad


def test_uris() -> None:
    defs = [ParamDef("url", "uri")]

    def value(name: str, text: str) -> UriValue:
        v = one(parse_search([(name, text)], defs)).values[0]
        assert isinstance(v, UriValue)
        return v

    exact = value("url", "http://x.org/fhir/a")
    assert exact == UriValue("http://x.org/fhir/a")
    assert exact.matches("http://x.org/fhir/a") and not exact.matches("http://x.org/fhir/a/b")
    below = value("url:below", "http://x.org/fhir")
    assert below == UriValue("http://x.org/fhir", "below")
    assert below.matches("http://x.org/fhir/a/b") and below.matches("http://x.org/fhir")
    assert not below.matches("http://x.org/fhirx")
    above = value("url:above", "http://x.org/fhir/a/b")
    assert above.matches("http://x.org/fhir") and not above.matches("http://y.org")
    assert not UriValue("x").matches(None)


def test_composites_and_specials() -> None:
    typed = [ParamDef("cv", "composite", components=("token", "quantity"))]
    p = one(parse_search([("cv", "http://loinc.org|1234$gt5.4|http://u|mg")], typed))
    assert p.values == [
        CompositeValue(
            (
                TokenValue("http://loinc.org", "1234"),
                QuantityValue("gt", Decimal("5.4"), "http://u", "mg", "5.4"),
            )
        )
    ]
    assert "needs 2 components" in str(parse_search([("cv", "a")], typed).errors[0])
    assert parse_search([("cv", "a$xx1")], typed).errors
    raw = [ParamDef("cv", "composite")]
    p = one(parse_search([("cv", "a\\$b$c")], raw))
    assert p.values == [CompositeValue((RawValue("a$b"), RawValue("c")))]
    sp = [ParamDef("near", "special")]
    p = one(parse_search([("near", "42.2|-71.0|10|km")], sp))
    assert p.values == [RawValue("42.2|-71.0|10|km")]


# ------------------------------------------------------------------------------ bad input


def test_unknown_parameters() -> None:
    req = parse([("status", "free"), ("foo", "bar"), ("comment:exact", "x"), ("_text", "x")])
    assert req.unknown == ["foo", "comment:exact", "_text"]
    assert req.errors == [] and req.ok
    assert [str(w) for w in req.warnings] == [
        "foo: unknown or unsupported search parameter, ignored",
        "comment:exact: unknown or unsupported search parameter, ignored",
        "_text: unknown or unsupported search parameter, ignored",
    ]
    assert all(w.severity == "warning" for w in req.warnings)
    assert len(req.params) == 1
    strict = parse([("foo", "bar")], strict=True)
    assert strict.unknown == ["foo"] and not strict.ok
    assert messages(strict) == ["foo: unknown or unsupported search parameter"]


def test_value_length_bound() -> None:
    assert messages(parse([("status", "x" * 10_000)])) == [
        "status: value longer than 2000 characters"
    ]
    assert parse([("status", "x" * 2000)]).errors == []
    assert parse([("status", "x" * 2001)]).errors != []
    assert parse([("status", "x" * 3000)], max_value_length=5000).errors == []
    err = parse([("status", "x" * 10_000)]).errors[0]
    assert len(err.value) <= 200  # the error does not echo the whole value


def test_or_count_bound() -> None:
    assert parse([("status", ",".join(["a"] * 100))]).errors == []
    assert messages(parse([("status", ",".join(["a"] * 101))])) == ["status: more than 100 values"]
    assert messages(parse([("status", "a,b,c")], max_or_values=2)) == ["status: more than 2 values"]


def test_parameter_count_bound() -> None:
    req = parse([("status", "free")] * 250)
    assert len(req.params) == 200
    assert messages(req) == [": more than 200 parameters"]
    assert len(parse([("status", "free")] * 5, max_params=3).params) == 3


def test_long_parameter_name() -> None:
    assert messages(parse([("a" * 300, "x")])) == [f"{'a' * 100}: parameter name too long"]


@pytest.mark.parametrize(
    ("name", "value", "char"),
    [
        ("status", "free\x00", "U+0000"),
        ("status", "free\nbusy", "U+000A"),
        ("status", "free\r", "U+000D"),
        ("status", "\tfree", "U+0009"),
        ("status", "\x1b[31mfree", "U+001B"),
        ("status", "free\x7f", "U+007F"),
        ("status", "free\x85", "U+0085"),
        ("status", "\u202efree", "U+202E"),
        ("status", "a\u2028b", "U+2028"),
        ("status", "\ud800", "U+D800"),
        ("sta\x00tus", "free", "U+0000"),
        ("foo\n", "x", "U+000A"),
        ("_count", "10\x00", "U+0000"),
    ],
)
def test_control_characters(name: str, value: str, char: str) -> None:
    req = parse([(name, value)])
    assert req.params == [] and req.count is None
    assert [e.message for e in req.errors] == [f"control or non-printable character {char}"]


def test_injection_strings_are_just_strings() -> None:
    defs = [ParamDef("name", "string"), ParamDef("code", "token")]
    nasty = [
        "'; DROP TABLE slot; --",
        "1 OR 1=1",
        "<script>alert('x')</script>",
        "${jndi:ldap://x/a}",
        "__import__('os').system('id')",
        "{{7*7}}",
        "../../etc/passwd",
        "%00%0a",
    ]
    for text in nasty:
        req = parse_search([("name", text), ("code", text)], defs)
        assert req.errors == [], (text, req.errors)
        assert req.params[0].values == [StringValue(unescape(text))]


def test_errors_are_collected_not_raised() -> None:
    req = parse(
        [
            ("start", "xx2021-01-01"),
            ("start", "ge2021-13-01"),
            ("status", "a|b|c"),
            ("_count", "-1"),
            ("schedule", "not a ref"),
            ("status", "free"),
        ]
    )
    assert len(req.errors) == 5
    assert [e.param for e in req.errors] == ["start", "start", "status", "_count", "schedule"]
    assert req.params == [ParsedParam("status", "token", None, [TokenValue(None, "free")])]
    assert not req.ok
    assert isinstance(req.errors[0], SearchError) and req.errors[0].value == "xx2021-01-01"


# ------------------------------------------------------------------------------ full SAS requests


def _sas_ps_query() -> str:
    ids = _ids(25).replace("|", "%7C")
    return (
        "start=ge2021-11-04T14:19:35.760%2B00:00&start=le2021-11-06T23:59:59.999%2B00:00"
        f"&schedule.actor:Practitioner.identifier={ids}&status=free"
        "&_include=Slot:schedule&_include:iterate=Schedule:actor&_count=1000"
    )


def test_sas_ps_request_end_to_end() -> None:
    req = parse(parse_query_string("?" + _sas_ps_query()))
    assert req.errors == [] and req.warnings == [] and req.unknown == []
    assert [p.name for p in req.params] == [
        "start",
        "start",
        "schedule.actor:Practitioner.identifier",
        "status",
    ]
    assert len(req.params[2].values) == 25
    assert req.include == [Include("Slot", "schedule"), Include("Schedule", "actor", None, True)]
    assert req.count == 1000
    # the same with "+" left unencoded (a space once decoded) and without milliseconds
    raw = _sas_ps_query().replace("%2B", "+").replace(".760", "").replace(".999", "")
    req2 = parse(parse_query_string(raw))
    assert req2.errors == []
    first = req2.params[0].values[0]
    assert isinstance(first, DateValue)
    assert first.low == utc(2021, 11, 4, 14, 19, 35) and first.precision == "second"


def test_sas_cpts_request_end_to_end() -> None:
    query = _sas_ps_query() + (
        "&_include=Slot:service-type-reference&_include:iterate=HealthcareService:organization"
    )
    req = parse(parse_query_string(query))
    assert req.errors == []
    assert req.include[2:] == [
        Include("Slot", "service-type-reference"),
        Include("HealthcareService", "organization", None, True),
    ]


def test_sas_sos_request_end_to_end() -> None:
    query = (
        f"actor:Location.organization.identifier={STRUCT}%7C334173748400020,{STRUCT}%7C33417374840"
        "0038&_has:Slot:schedule:start=ge2023-08-18T09:00:00%2B02:00"
        "&_has:Slot:schedule:start=le2023-08-20T23:59:59%2B02:00&_has:Slot:schedule:status=free"
        "&_revinclude=Slot:schedule&_include=Schedule:actor:Location"
        "&_include:iterate=Location:organization"
    )
    req = parse_search(
        parse_query_string(query), SCHEDULE, resource_type="Schedule", others={"Slot": SLOT}
    )
    assert req.errors == [] and req.warnings == []
    (actor,) = req.params
    assert actor.values == [
        TokenValue(STRUCT, "334173748400020"),
        TokenValue(STRUCT, "334173748400038"),
    ]
    assert [(h.target, h.values[0].to_query()) for h in req.has] == [
        ("start", "ge2023-08-18T09:00:00+02:00"),
        ("start", "le2023-08-20T23:59:59+02:00"),
        ("status", "free"),
    ]
    assert req.revinclude == [Include("Slot", "schedule")]
    assert req.include == [
        Include("Schedule", "actor", "Location"),
        Include("Location", "organization", None, True),
    ]
    again = parse_search(
        parse_query_string(encode(req)), SCHEDULE, resource_type="Schedule", others={"Slot": SLOT}
    )
    assert again == req


# ------------------------------------------------------------------------------ encoding


def test_encode_pairs() -> None:
    pairs = [
        ("start", "ge2021-11-04T14:19:35.760+00:00"),
        ("schedule.actor:Practitioner.identifier", f"{RPPS}|810002673899,{RPPS}|810100050075"),
        ("name", "a b&c=d#e%f\\,g"),
        ("name:exact", "créneau"),
    ]
    assert encode(pairs) == (
        "start=ge2021-11-04T14:19:35.760%2B00:00"
        "&schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1%7C810002673899,"
        "urn:oid:1.2.250.1.71.4.2.1%7C810100050075"
        "&name=a%20b%26c%3Dd%23e%25f%5C,g"
        "&name:exact=cr%C3%A9neau"
    )
    assert parse_query_string(encode(pairs)) == pairs
    assert encode([]) == ""


def test_encode_request_round_trip() -> None:
    req = parse(parse_query_string(_sas_ps_query()))
    text = encode(req)
    assert "%2B00:00" in text and "%7C" in text and "+" not in text
    assert parse(parse_query_string(text)) == req
    full = parse(
        [
            ("status", "a\\,b,c\\|d,sys\\|x|code"),
            ("schedule:identifier", "s|1"),
            ("schedule:Schedule", "1"),
            ("schedule", "http://x.org/Schedule/1/_history/2"),
            ("_sort", "-start"),
            ("_summary", "data"),
            ("_elements", "id,start"),
            ("_total", "none"),
            ("_format", "application/fhir+json"),
            ("_revinclude", "Appointment:slot"),
        ]
    )
    assert full.errors == []
    assert parse(parse_query_string(encode(full))) == full


def test_to_pairs_shapes() -> None:
    req = SearchRequest(
        params=[
            ParsedParam("start", "date", None, [_date("ge2021-11-04T14:19:35.760+00:00")]),
            ParsedParam(
                "schedule",
                "token",
                None,
                [TokenValue(RPPS, "8"), TokenValue("", "9"), TokenValue(RPPS, None)],
                (("actor", "Practitioner"), ("identifier", None)),
            ),
        ],
        has=[HasParam("Slot", "schedule", "status", "token", [TokenValue(None, "free")])],
        include=[Include("Schedule", "actor", "Location", True)],
        count=10,
    )
    assert req.to_pairs() == [
        ("start", "ge2021-11-04T14:19:35.760+00:00"),
        ("schedule.actor:Practitioner.identifier", f"{RPPS}|8,|9,{RPPS}|"),
        ("_has:Slot:schedule:status", "free"),
        ("_include:iterate", "Schedule:actor:Location"),
        ("_count", "10"),
    ]


# ------------------------------------------------------------------------------ properties

TEXT = st.text(
    st.characters(
        blacklist_categories=("Cc", "Cs"),
        blacklist_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029",
    ),
    min_size=1,
    max_size=40,
)


@given(st.lists(st.tuples(st.text(max_size=30), st.text(max_size=60)), max_size=8))
def test_encode_decode_pairs_round_trip(pairs: list[tuple[str, str]]) -> None:
    pairs = [(n, v) for n, v in pairs if not any("\ud800" <= c <= "\udfff" for c in n + v)]
    assert parse_query_string(encode(pairs)) == pairs


@st.composite
def tokens(draw: st.DrawFn) -> TokenValue:
    system = draw(st.one_of(st.none(), st.just(""), TEXT))
    code = draw(TEXT) if system in (None, "") else draw(st.one_of(st.none(), TEXT))
    return TokenValue(system, code)


@st.composite
def instants(draw: st.DrawFn) -> DateValue:
    moment = draw(
        st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31))
    ).replace(microsecond=draw(st.integers(0, 999)) * 1000)
    minutes = draw(st.integers(-14 * 60, 14 * 60))
    text = format_datetime(moment.replace(tzinfo=timezone(timedelta(minutes=minutes))))
    prefix = draw(st.sampled_from(["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"]))
    low, high, precision = parse_date(text)
    return DateValue(prefix, low, high, precision, text)


DEFS = [
    ParamDef("name", "string"),
    ParamDef("code", "token"),
    ParamDef("date", "date"),
    ParamDef("subject", "reference"),
    ParamDef("n", "number"),
    ParamDef("q", "quantity"),
    ParamDef("url", "uri"),
    ParamDef("cv", "composite", components=("token", "date")),
    ParamDef("cr", "composite"),
    ParamDef("near", "special"),
]


@given(
    names=st.lists(st.tuples(TEXT, st.sampled_from(["start", "exact", "contains"])), max_size=3),
    toks=st.lists(st.lists(tokens(), min_size=1, max_size=4), max_size=3),
    dates=st.lists(instants(), max_size=3),
    raws=st.lists(TEXT, max_size=2),
)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_structured_round_trip(
    names: list[tuple[str, str]],
    toks: list[list[TokenValue]],
    dates: list[DateValue],
    raws: list[str],
) -> None:
    params: list[ParsedParam] = []
    for text, mode in names:
        modifier = None if mode == "start" else mode
        params.append(ParsedParam("name", "string", modifier, [StringValue(text, mode)]))
    params += [ParsedParam("code", "token", None, list(values)) for values in toks]
    params += [ParsedParam("date", "date", None, [d]) for d in dates]
    params += [ParsedParam("near", "special", None, [RawValue(r)]) for r in raws]
    params += [
        ParsedParam("cv", "composite", None, [CompositeValue((t, d))])
        for t, d in zip([t for ts in toks for t in ts], dates, strict=False)
    ]
    params += [ParsedParam("cr", "composite", None, [CompositeValue((RawValue(r),))]) for r in raws]
    req = SearchRequest(params=params)
    back = parse_search(parse_query_string(encode(req)), DEFS)
    assert back.errors == []
    assert back.params == params


NAMES = st.sampled_from(
    [
        "name",
        "name:exact",
        "code",
        "code:not",
        "code:of-type",
        "code:missing",
        "date",
        "subject",
        "subject:Patient",
        "subject.name",
        "subject:Patient.organization.identifier:text",
        "n",
        "q",
        "url:below",
        "cv",
        "cr",
        "near",
        "_has:Slot:schedule:start",
        "_has:Slot",
        "_include",
        "_include:iterate",
        "_revinclude",
        "_count",
        "_sort",
        "_summary",
        "_elements",
        "_format",
        "_total",
        "_id",
        "_lastUpdated",
        "unknown",
        "",
    ]
)
FRAGMENTS = st.sampled_from(
    [
        "ge",
        "xx",
        "2021",
        "-11",
        "-04",
        "T14:19",
        ":35",
        ".760",
        "+00:00",
        " 00:00",
        "Z",
        "|",
        ",",
        "\\",
        "$",
        ":",
        "/",
        ".",
        "Patient/1",
        "http://x/",
        "_history/",
        "e5",
        "-",
        "9" * 30,
        "true",
        "é",
        "\x00",
        "\u202e",
        "'; DROP TABLE x; --",
        "",
    ]
)


@given(
    st.lists(
        st.tuples(
            st.one_of(NAMES, st.text(max_size=20)),
            st.one_of(st.lists(FRAGMENTS, max_size=8).map("".join), st.text(max_size=40)),
        ),
        max_size=12,
    )
)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_parsing_never_raises(pairs: list[tuple[str, str]]) -> None:
    req = parse_search(
        pairs,
        DEFS,
        resource_type="Slot",
        others={"Slot": SLOT},
        max_count=50,
        max_value_length=100,
        max_or_values=5,
    )
    assert all(not e.message.startswith("cannot parse") for e in req.errors), req.errors
    # whatever parsed encodes and parses back to the same thing
    again = parse_search(
        parse_query_string(encode(req)),
        DEFS,
        resource_type="Slot",
        others={"Slot": SLOT},
        max_or_values=5,
    )
    assert again.params == req.params
    assert again.has == req.has
    assert again.include == req.include and again.revinclude == req.revinclude
    assert (again.count, again.sort, again.summary) == (req.count, req.sort, req.summary)
    assert (again.elements, again.format, again.total) == (req.elements, req.format, req.total)
    for value in (v for p in req.params for v in p.values):
        if isinstance(value, DateValue):
            value.matches(utc(2021, 1, 1), now=utc(2022, 1, 1))
        elif isinstance(value, NumberValue | QuantityValue):
            value.matches(Decimal("1.5"))
        elif isinstance(value, StringValue | UriValue):
            value.matches("x")
