"""Terminal output: logging to stderr through rich, and the human tables of commands."""

from __future__ import annotations

import logging
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

stderr = Console(stderr=True)
# piped or redirected, a table keeps every name whole (no "…", no wrapping inside a
# cell): the reader is another program or a file, not an 80-column screen
stdout = Console() if sys.stdout.isatty() else Console(width=10_000, soft_wrap=True)


class _LowerLevelFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.levelname = record.levelname.lower()
        return super().format(record)


def setup_logging(verbosity: int) -> None:
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    if verbosity < -1:
        level = logging.CRITICAL
    root = logging.getLogger("igtools")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LowerLevelFormatter("%(levelname)s: %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def print_inspect(summary: dict[str, Any], console: Console = stdout) -> None:
    pkg = summary["package"]
    c = summary["counts"]
    console.print(
        f"[bold]{pkg['name']}#{pkg['version']}[/bold]  {pkg.get('title') or ''}\n"
        f"  canonical {pkg.get('canonical')}  FHIR {', '.join(pkg['fhirVersions'])}  "
        f"from {pkg['origin']} {pkg['location']}"
    )
    console.print(
        "  " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in c.items()), highlight=False
    )

    t = Table(title="Profiles by base type", title_justify="left")
    t.add_column("base type")
    t.add_column("profile")
    t.add_column("url", overflow="fold")
    for base, rows in summary["profiles"].items():
        for row in rows:
            t.add_row(base, row["name"], row["url"])
    console.print(t)

    if summary["extensions"]:
        t = Table(title="Extensions", title_justify="left")
        for col in ("name", "context", "value", "url"):
            t.add_column(col, overflow="fold")
        for row in summary["extensions"]:
            t.add_row(
                row["name"], ", ".join(row["context"]), ", ".join(row["value_types"]), row["url"]
            )
        console.print(t)

    if summary["value_sets"] or summary["code_systems"]:
        t = Table(title="Terminology", title_justify="left")
        for col in ("kind", "name", "url"):
            t.add_column(col, overflow="fold")
        for row in summary["value_sets"]:
            t.add_row("ValueSet", row["name"], row["url"])
        for row in summary["code_systems"]:
            t.add_row(f"CodeSystem ({row['concepts']} concepts)", row["name"], row["url"])
        console.print(t)

    if summary["capability_statements"]:
        t = Table(title="Capability statements", title_justify="left")
        for col in ("id", "kind", "mode", "resources"):
            t.add_column(col, overflow="fold")
        for row in summary["capability_statements"]:
            t.add_row(
                row["id"],
                str(row["kind"]),
                ", ".join(map(str, row["modes"])),
                ", ".join(row["resources"]),
            )
        console.print(t)

    if summary["search_parameters"]:
        t = Table(title="Search parameters", title_justify="left")
        for col in ("id", "code", "base", "type", "expression"):
            t.add_column(col, overflow="fold")
        for row in summary["search_parameters"]:
            t.add_row(
                row["id"], row["code"], ", ".join(row["base"] or []), row["type"], row["expression"]
            )
        console.print(t)

    if summary["examples"]:
        t = Table(title="Examples", title_justify="left")
        for col in ("example", "claims profile"):
            t.add_column(col, overflow="fold")
        for row in summary["examples"]:
            claims = [
                p["url"] + ("" if p["resolved"] else " [red](unresolved)[/red]")
                for p in row["profiles"]
            ]
            t.add_row(f"{row['type']}/{row['id']}", "\n".join(claims) or "-")
        console.print(t)

    t = Table(title="Dependencies", title_justify="left")
    for col in ("package", "status", "from", "note"):
        t.add_column(col, overflow="fold")
    for d in summary["dependencies"]:
        style = {"resolved": "green", "provided": "yellow", "missing": "red"}[d["status"]]
        note = d["lost"] if d["status"] != "resolved" else ""
        t.add_row(
            f"{d['name']}#{d['version'] or d['wanted']}",
            f"[{style}]{d['status']}[/{style}]",
            f"{d['source']} {d['location']}".strip(),
            note,
        )
    console.print(t)

    if summary["unresolved"]:
        console.print(
            f"[yellow]{len(summary['unresolved'])} canonical references unresolved[/yellow] "
            "(use --json for the list with what refers to each)"
        )
    for note in summary["notes"]:
        console.print(f"note: {note}", highlight=False)
