"""Everything generated for the fixture IG equals the committed golden record."""

from __future__ import annotations

import difflib
from pathlib import Path

from tests.golden import RECORD, generate, tree


def test_output_matches_golden_record(tmp_path: Path) -> None:
    generate(tmp_path / "out", tmp_path / "cache")
    got = tree(tmp_path / "out")
    want = tree(RECORD)
    assert sorted(got) == sorted(want), "files differ: run `python -m tests.golden`"
    diffs = []
    for name in sorted(want):
        if got[name] != want[name]:
            diff = difflib.unified_diff(
                want[name].decode(errors="replace").splitlines(),
                got[name].decode(errors="replace").splitlines(),
                f"golden/{name}",
                f"new/{name}",
                lineterm="",
            )
            diffs.append("\n".join(list(diff)[:40]))
    assert not diffs, "generated output changed (regenerate with `python -m tests.golden`):\n" + (
        "\n".join(diffs)
    )
