"""The results of ``igtools conformance``: a table on the terminal, JUnit XML (CI), and
a standalone HTML page."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from igtools.conformance.runner import Result

STYLE = {"passed": "green", "failed": "bold red", "error": "bold red", "skipped": "yellow"}


def summary(results: list[Result]) -> str:
    n = Counter(r.status for r in results)
    parts = [f"{n[s]} {s}" for s in ("passed", "failed", "error", "skipped") if n[s]]
    return f"{len(results)} checks: " + ", ".join(parts)


def print_table(results: list[Result], title: str, console: Console) -> None:
    t = Table(title=title, title_justify="left")
    t.add_column("check", overflow="fold")
    t.add_column("case", overflow="fold")
    t.add_column("result")
    t.add_column("expected / got", overflow="fold")
    for r in results:
        status = Text(r.status, style=STYLE[r.status])
        t.add_row(Text(r.check.name), Text(r.check.case), status, Text(r.message))
    console.print(t)
    console.print(summary(results), highlight=False)


def write_junit(results: list[Result], suite: str, path: Path) -> None:
    n = Counter(r.status for r in results)
    root = ET.Element("testsuites")
    el = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(n["failed"]),
        errors=str(n["error"]),
        skipped=str(n["skipped"]),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for r in results:
        case = ET.SubElement(
            el,
            "testcase",
            classname=f"conformance.{r.check.name}",
            name=r.check.id,
            time=f"{r.seconds:.3f}",
        )
        if r.status == "failed":
            ET.SubElement(case, "failure", message=r.message[:500]).text = r.message
        elif r.status == "error":
            ET.SubElement(case, "error", message=r.message[:500]).text = r.message
        elif r.status == "skipped":
            ET.SubElement(case, "skipped", message=r.message)
    ET.indent(root)
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n",
        encoding="utf-8",
    )


_CSS = """body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
.passed{color:#186a3b}.failed,.error{color:#b03a2e;font-weight:bold}.skipped{color:#9a7d0a}
td.msg{font-family:monospace;white-space:pre-wrap;max-width:60em}"""


def write_html(results: list[Result], title: str, path: Path) -> None:
    rows = "\n".join(
        f"<tr><td>{html.escape(r.check.name)}</td><td>{html.escape(r.check.case)}</td>"
        f'<td class="{r.status}">{r.status}</td><td class="msg">{html.escape(r.message)}</td></tr>'
        for r in results
    )
    path.write_text(
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
        f"<h1>{html.escape(title)}</h1>\n<p>{html.escape(summary(results))}</p>\n"
        "<table><thead><tr><th>check</th><th>case</th><th>result</th>"
        f"<th>expected / got</th></tr></thead><tbody>\n{rows}\n</tbody></table>\n"
        "</body></html>\n",
        encoding="utf-8",
    )
