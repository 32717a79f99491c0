"""The element names an invariant's FHIRPath expression reads (what the example builder
tries first to satisfy it)."""

from __future__ import annotations

import pytest

from igtools.render.examples.invariants import mentioned


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("(identifier.count() + name.count()) > 0", ["identifier", "name"]),
        ("dataAbsentReason.empty() or value.empty()", ["dataAbsentReason", "value"]),
        (
            "(component.empty() and hasMember.empty()) implies (dataAbsentReason.exists() or "
            "value.exists())",
            ["component", "hasMember", "dataAbsentReason", "value"],
        ),
        ("(start | end).count() = 1", ["start", "end"]),
        ("url.exists() or data.exists()", ["url", "data"]),
        ("status = 'proposed' or start.exists()", ["status", "start"]),
        ("value.matches('^[0-9]{10}$')", ["value"]),
        (
            "reference.startsWith('#').not() or %resource.contained.exists()",
            ["reference", "contained"],
        ),
        ("extension.exists() != value.exists()", ["value"]),
    ],
)
def test_mentioned(expression: str, names: list[str]) -> None:
    assert mentioned(expression) == names
