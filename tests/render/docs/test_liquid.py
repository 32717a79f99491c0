"""Liquid and the SQL of {% sql %} tags (igtools.render.docs.liquid)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from igtools.render.docs import liquid
from tests.render.docs.pagetools import convert_text

# -- Liquid and SQL ------------------------------------------------------------------------


def test_liquid_tokenize_keeps_line_numbers_and_sql_json() -> None:
    source = (
        'a\n{% sql {\n "query": "select Id from Resources where Id like \'%}%\'"\n} %}\nb {{ x }}'
    )
    pieces = liquid.tokenize(source)
    assert [type(p).__name__ for p in pieces] == ["Text", "Tag", "Text", "Tag"]
    sql = pieces[1]
    assert isinstance(sql, liquid.Tag) and sql.line == 2 and sql.name == "sql"
    assert sql.data == {"query": "select Id from Resources where Id like '%}%'"}
    assert isinstance(pieces[2], liquid.Text) and pieces[2].line == 4
    assert isinstance(pieces[3], liquid.Tag) and pieces[3].output and pieces[3].line == 5


def test_liquid_whitespace_control() -> None:
    pieces = liquid.tokenize("a  \n{%- if x -%}\n  b")
    assert [p.text if isinstance(p, liquid.Text) else p.raw for p in pieces] == [
        "a",
        "{%- if x -%}",
        "b",
    ]
    assert pieces[2].line == 3


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("v == 'ci-build'", True),
        ("v != 'ci-build'", False),
        ("v == 'x' or n > 2", True),
        ("v == 'x' or n > 2 and n < 3", False),  # right to left: x or (n>2 and n<3)
        ("v contains 'build'", True),
        ("missing == 'x'", None),
        ("v", True),
        ("nil", False),
        ("false or v == 'ci-build'", True),
    ],
)
def test_liquid_conditions(expr: str, expected: bool | None) -> None:
    assert liquid.evaluate_condition(expr, {"v": "ci-build", "n": 3}) is expected


ROWS = [
    {"Id": "FrSlotAgregateur", "Type": "StructureDefinition", "Web": "a.md"},
    {"Id": "sas-sos-slot", "Type": "StructureDefinition", "Web": "b.md"},
    {"Id": "sas-cpts-valueset", "Type": "ValueSet", "Web": "c.md"},
    {"Id": "ExampleSlotSOS1", "Type": "Slot", "Web": "d.md"},
    {"Id": "slot_sp", "Type": "SearchParameter", "Web": "e.md"},
]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        (
            "select Id from Resources",
            ["FrSlotAgregateur", "sas-sos-slot", "sas-cpts-valueset", "ExampleSlotSOS1", "slot_sp"],
        ),
        ("select Id from Resources where Id like '%SOS%'", ["sas-sos-slot", "ExampleSlotSOS1"]),
        (
            "select Id from Resources where Id like '%sos%' and Id not like 'example%'",
            ["sas-sos-slot"],
        ),
        (
            "select Id from Resources where Type in ('ValueSet', 'SearchParameter')",
            ["sas-cpts-valueset", "slot_sp"],
        ),
        ("select Id from Resources where Id like 'slot_s_'", ["slot_sp"]),
        ("select Id from Resources where Id like 'slot\\_%'", []),  # no ESCAPE support
        (
            "select Id from Resources where (Type = 'Slot' or Type = 'ValueSet') and Id like 's%'",
            ["sas-cpts-valueset"],
        ),
        (
            "select Id from Resources where not Type = 'StructureDefinition'",
            ["sas-cpts-valueset", "ExampleSlotSOS1", "slot_sp"],
        ),
        ("select Id from Resources where Name is null and Id = 'slot_sp'", ["slot_sp"]),
        ("SELECT id FROM resources WHERE type = 'Slot';", ["ExampleSlotSOS1"]),
        ("select Id from Resources order by Id desc limit 2", ["slot_sp", "sas-sos-slot"]),
    ],
)
def test_sql_queries(query: str, ids: list[str]) -> None:
    rows = [dict(r, Name=None) for r in ROWS]
    result = liquid.run_sql(query, rows, ["Id", "Type", "Name", "Web"])  # type: ignore[arg-type]
    assert [r.get("Id") or r.get("id") for r in result.rows] == ids


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("select Id from Other", "only the Resources table is available"),
        ("select Id, Kind from Resources", "unknown column 'Kind'"),
        ("select count(*) from Resources", "functions are not supported (count(...))"),
        ("select 1 from Resources", "only plain columns can be selected"),
        ("select Id from Resources where Id glob 'x'", "expected a comparison"),
        ("select Id from Resources group by Type", "not supported: 'group'"),
    ],
)
def test_sql_unsupported_queries_say_why(query: str, reason: str) -> None:
    with pytest.raises(liquid.SqlError, match=re.escape(reason)):
        liquid.run_sql(query, [dict(r) for r in ROWS], ["Id", "Type", "Web"])


def test_unsupported_sql_is_listed_and_shown(tmp_path: Path, no_plantuml: None) -> None:
    text, result = convert_text(tmp_path, '{% sql {"query": "select Kind from Resources"} %}\n')
    assert text.startswith("<code>{% sql {&quot;query&quot;: &quot;select Kind")
    assert result.unconverted == [
        "input/pagecontent/page.md:1: {% sql %} query not supported (unknown column 'Kind' "
        "(available: Description, Id, Name, Title, Type, Url, Web)): select Kind from "
        "Resources; shown as text"
    ]
