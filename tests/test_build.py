"""`igtools build` on the fixture IG: every stage, incremental, --force, --check."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from igtools.cli import cli
from tests.golden import FIXTURE


def _build(tmp_path: Path, out: Path, *extra: str) -> Result:
    return CliRunner().invoke(
        cli,
        [
            "--offline",
            "-q",
            "--cache-dir",
            str(tmp_path / "c"),
            "build",
            str(FIXTURE),
            "-o",
            str(out),
            "--now",
            "2026-01-05",
            *extra,
        ],
    )


def _status(result: Result) -> dict[str, str]:
    out = {}
    for line in result.stdout.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) == 5 and cells[0] in ("models", "examples", "stubs", "docs"):
            out[cells[0]] = cells[1]
    return out


def test_build_incremental_force_check(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = _build(tmp_path, out)
    assert first.exit_code == 0, first.output
    assert _status(first) == {s: "built" for s in ("models", "examples", "stubs", "docs")}
    for stage in ("models", "examples", "stubs", "docs"):
        assert (out / stage).is_dir()
    assert (out / "docs" / "site" / "stubs.html").is_file()  # docs come last
    state = json.loads((out / ".igtools-build.json").read_text())
    assert set(state) == {"models", "examples", "stubs", "docs"}

    again = _build(tmp_path, out)
    assert _status(again) == {s: "skipped" for s in ("models", "examples", "stubs", "docs")}

    seed = _build(tmp_path, out, "--seed", "7")
    assert _status(seed)["examples"] == "built"
    assert _status(seed)["models"] == "skipped"

    forced = _build(tmp_path, out, "--seed", "7", "--force")
    assert set(_status(forced).values()) == {"built"}

    ok = _build(tmp_path, out, "--seed", "7", "--check")
    assert ok.exit_code == 0, ok.output
    assert "up to date" in ok.stdout

    (out / "models" / "README.md").write_text("edited by hand\n")
    stale = _build(tmp_path, out, "--seed", "7", "--check")
    assert stale.exit_code == 1
    assert "changed: models/README.md" in stale.stdout


def test_build_one_stage(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = _build(tmp_path, out, "--stage", "models")
    assert r.exit_code == 0, r.output
    assert _status(r) == {"models": "built"}
    assert not (out / "docs").exists()


def test_build_previous_adds_a_changes_page(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = _build(tmp_path, out, "--stage", "docs", "--previous", str(FIXTURE))
    assert r.exit_code == 0, r.output
    assert "0 changes" in (out / "docs" / "site" / "changes.html").read_text()
    # the previous version is an input of the docs stage: dropping it rebuilds the docs
    again = _build(tmp_path, out, "--stage", "docs")
    assert _status(again) == {"docs": "built"}
    assert not (out / "docs" / "site" / "changes.html").exists()


def test_a_failing_stage_does_not_stop_the_others(tmp_path: Path) -> None:
    """A broken template fails its stage: the others still run, the table shows the
    failure, the error names the template, the command exits 1 and the failed stage is
    not recorded as up to date."""
    templates = tmp_path / "templates"
    (templates / "stubs").mkdir(parents=True)
    (templates / "stubs" / "README.md.jinja").write_text("{% if %}broken\n")
    out = tmp_path / "out"
    r = _build(tmp_path, out, "--templates", str(templates))
    assert r.exit_code == 1, r.output
    assert _status(r) == {
        "models": "built",
        "examples": "built",
        "stubs": "failed",
        "docs": "built",
    }
    assert "stubs failed: template README.md.jinja" in r.stderr
    assert "Traceback" not in r.output
    state = json.loads((out / ".igtools-build.json").read_text())
    assert set(state) == {"models", "examples", "docs"}
    again = _build(tmp_path, out, "--templates", str(templates))
    assert _status(again)["stubs"] == "failed"
    assert _status(again)["models"] == "skipped"
