"""The diff report as Markdown (through ``templates/diff/report.md.jinja``) or JSON."""

from __future__ import annotations

import json
from pathlib import Path

from igtools.ir.model import IG
from igtools.render.diff.compare import DiffReport, compare
from igtools.render.templating import environment


def to_markdown(report: DiffReport, templates: Path | None = None) -> str:
    groups: dict[str, list[object]] = {}
    for c in report.changes:
        groups.setdefault(c.artefact, []).append(c)
    env = environment("diff", templates)
    return env.get_template("report.md.jinja").render(
        r=report,
        groups=list(groups.items()),
        producer=sum(c.producer for c in report.changes),
        consumer=sum(c.consumer for c in report.changes),
    )


def to_json(report: DiffReport) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"


def changes_markdown(previous: IG, current: IG, templates: Path | None = None) -> str:
    """The report from ``previous`` to ``current``: the docs' Changes page."""
    return to_markdown(compare(previous, current), templates)
