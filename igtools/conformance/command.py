"""``igtools conformance``: build the contract, optionally load the examples, run every
check with a progress display, print the table, write the reports; the exit status."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from igtools import console
from igtools.conformance.contract import build_contract
from igtools.conformance.report import print_table, write_html, write_junit
from igtools.conformance.runner import (
    Result,
    load_examples,
    make_client,
    reach,
    run_check,
)
from igtools.ir.model import IG
from igtools.runtime.conformance import checks


@dataclass
class Options:
    base_url: str
    capabilities: list[str]
    cert: str | None = None
    key: str | None = None
    ca: str | None = None
    data_loaded: bool = False
    load: bool = False
    junit: Path | None = None
    html: Path | None = None


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console.stderr,
        transient=True,
    )


def conformance(ig: IG, options: Options, overlays: list[Any] | None = None) -> int:
    """Run the checks; 0 when none failed, 1 otherwise."""
    contract, chosen = build_contract(ig, options.capabilities, overlays)
    statements = ", ".join(a.capability for a in chosen)
    with make_client(options.base_url, options.cert, options.key, options.ca) as client:
        reach(client)
        err = console.stderr
        if options.load:
            with _progress() as progress:
                task = progress.add_task("loading the IG's examples", total=None)
                report = load_examples(
                    client,
                    contract.examples.values(),
                    lambda key: progress.update(task, description=escape(f"loading {key}")),
                )
            err.print(
                f"loaded {len(report.loaded)} examples into {options.base_url}"
                + (f", {len(report.refused)} refused" if report.refused else ""),
                highlight=False,
            )
            for line in report.refused:
                err.print(f"  refused {line}", highlight=False, markup=False)
            if report.not_writable:
                types = ", ".join(sorted(report.not_writable))
                err.print(
                    f"  not loaded (the server declares neither create nor update): {types}",
                    highlight=False,
                )
        todo = checks(contract)
        results: list[Result] = []
        with _progress() as progress:
            task = progress.add_task("checking", total=len(todo))
            for check in todo:
                progress.update(task, description=escape(check.id))
                result = run_check(client, check, options.data_loaded or options.load)
                results.append(result)
                if result.status in ("failed", "error"):
                    progress.console.print(
                        f"[red]✗[/] {escape(check.id)}: {escape(result.message)}",
                        highlight=False,
                    )
                progress.advance(task)
    title = f"igtools conformance of {options.base_url} ({statements}, {ig.package})"
    print_table(results, title, console.stdout)
    if options.junit is not None:
        write_junit(results, title, options.junit)
    if options.html is not None:
        write_html(results, title, options.html)
    return 1 if any(r.status in ("failed", "error") for r in results) else 0
