"""``python -m corpus [--package NAME#VERSION]... [--no-invariants] [--details]``

igtools over every IG of ../shared: each example validated by igtools and compared with
the reference validator's verdict on the same file (../shared/ig-qa), the examples of
packages without a QA report validated alone, every published snapshot regenerated
from its differential and compared, and every IG built (``igtools build``: models,
examples, stubs, docs) with the examples it writes validated. Prints a table per
measure and the disagreements; exit 1 on any false rejection (an example igtools
rejects that the reference accepts), crash, failed build stage or generated example
igtools rejects.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

from rich.console import Console, Group
from rich.table import Table

from corpus.build import BuildResult, build_package, build_packages
from corpus.classes import MISSING_DEPENDENCY, UNREPRODUCIBLE
from corpus.validation import (
    PackageResult,
    example_packages_without_qa,
    qa_packages,
    validate_package,
)
from igtools.build import STAGES

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
VERDICTS = ("agree-valid", "agree-invalid", "false-rejection", "miss", "unreproducible", "crash")


def _table(results: list[PackageResult]) -> Table:
    table = Table(title="igtools validate vs the HL7 reference validator (IG Publisher QA)")
    table.add_column("package")
    table.add_column("examples", justify="right")
    for v in VERDICTS:
        table.add_column(v, justify="right")
    table.add_column("miss %", justify="right")
    table.add_column("placed", justify="right")
    table.add_column("ref errors found", justify="right")
    table.add_column("extra errors", justify="right")
    table.add_column("s", justify="right")
    total: Counter[str] = Counter()
    n_total = located = found = extra = placed = 0
    for r in results:
        c = Counter(e.verdict for e in r.examples)
        total.update(c)
        n = len(r.examples)
        n_total += n
        miss = 100 * c["miss"] / n if n else 0.0
        loc = sum(e.located for e in r.examples)
        fnd = sum(e.found for e in r.examples)
        ext = sum(len(e.extra) for e in r.examples)
        plc = sum(e.placed for e in r.examples)
        located, found, extra, placed = located + loc, found + fnd, extra + ext, placed + plc
        table.add_row(
            r.package,
            str(n),
            *(str(c[v]) for v in VERDICTS),
            f"{miss:.1f}",
            str(plc),
            f"{fnd}/{loc}",
            str(ext),
            f"{r.seconds:.1f}",
        )
    miss = 100 * total["miss"] / n_total if n_total else 0.0
    table.add_row(
        "all",
        str(n_total),
        *(str(total[v]) for v in VERDICTS),
        f"{miss:.1f}",
        str(placed),
        f"{found}/{located}",
        str(extra),
        "",
        style="bold",
    )
    return table


def _snapshot_table(shared: Path, only: list[str] | None, details: bool = False) -> Group:
    """Every StructureDefinition of the packages with a published snapshot, its
    snapshot removed and regenerated from the differential, compared element by element
    (igtools.ir.snapshot_compare, docs/snapshots.md): identical / comparable (its base
    chain is loaded) / total per package, then why the others differ (per class of
    difference; with ``details``, per profile)."""
    import time

    from igtools.ir.snapshot_compare import (
        ProfileResult,
        compare_package,
        load_package_index,
        packages_in,
        reason_class,
    )

    table = Table(title="Snapshots regenerated from differentials vs the published ones")
    for col in ("package", "identical", "comparable", "profiles", "s"):
        table.add_column(col, justify="left" if col == "package" else "right")
    folder = shared / "fhir-packages"
    same_all = comparable_all = total = 0
    different: list[tuple[str, ProfileResult]] = []
    with tempfile.TemporaryDirectory() as cache:
        for arg in only or packages_in(folder):
            index, pkg_id = load_package_index(folder, arg, Path(cache))
            start = time.perf_counter()
            results = compare_package(index, pkg_id)
            same = sum(r.identical for r in results)
            comparable = sum(r.comparable for r in results)
            same_all, comparable_all = same_all + same, comparable_all + comparable
            total += len(results)
            took = time.perf_counter() - start
            table.add_row(pkg_id, str(same), str(comparable), str(len(results)), f"{took:.1f}")
            different += [(pkg_id, r) for r in results if not r.identical]
    table.add_row("all", str(same_all), str(comparable_all), str(total), "", style="bold")
    classes: Counter[str] = Counter()
    for _, r in different:
        classes.update({reason_class(reason) for reason in r.reasons})
    why = Table(
        title="Why the other snapshots differ (profiles per class; a profile may have several)"
    )
    why.add_column("class")
    why.add_column("profiles", justify="right")
    for cls, n in sorted(classes.items(), key=lambda kv: (-kv[1], kv[0])):
        why.add_row(cls, str(n))
    parts: list[Table | str] = [table, why]
    if details:
        parts += [f"{pkg} {r.url}: {r.reason}" for pkg, r in different]
    return Group(*parts)


def _build_table(results: list[BuildResult]) -> Table:
    table = Table(title="igtools build of every IG (generated examples validated by igtools)")
    table.add_column("package")
    for stage in STAGES:
        table.add_column(stage)
    for col in ("examples", "invalid", "warnings", "load s", "build s"):
        table.add_column(col, justify="right")
    for r in results:
        status = {s.stage: s for s in r.stages}
        cells = []
        for stage in STAGES:
            st = status.get(stage)
            if st is None:
                cells.append("crash" if r.crash else "-")
            elif st.status == "failed":
                cells.append(f"[red]failed {st.seconds:.0f}s[/]")
            else:
                cells.append(f"{st.status} {st.seconds:.0f}s")
        warnings = r.package_warnings + sum(len(s.warnings) for s in r.stages)
        table.add_row(
            r.package,
            *cells,
            str(r.examples),
            str(len(r.invalid)),
            str(warnings),
            f"{r.load_seconds:.1f}",
            f"{sum(s.seconds for s in r.stages):.1f}",
        )
    clean = sum(r.clean for r in results)
    table.add_row(f"clean: {clean}/{len(results)}", *[""] * (len(STAGES) + 5), style="bold")
    return table


def _builds(args: argparse.Namespace, console: Console) -> list[BuildResult]:
    stages = tuple(s for s in STAGES if s not in args.skip_stage)
    results = []
    with tempfile.TemporaryDirectory() as cache:
        for pkg in args.package or build_packages(args.shared):
            with console.status(f"building {pkg}..."):
                r = build_package(pkg, args.shared, Path(cache), stages)
            results.append(r)
            if r.crash:
                console.print(f"[bold]crash[/] {pkg}", highlight=False)
                console.print(r.crash, highlight=False, markup=False)
            for st in r.failed:
                console.print(f"[bold]{st.stage} failed[/] {pkg}", highlight=False)
                lines = st.error.splitlines()
                for line in lines if args.details else lines[:3]:
                    console.print(f"    {line}", highlight=False, markup=False)
            for file, errors in r.invalid.items():
                console.print(f"[bold]generated example rejected[/] {pkg} {file}", highlight=False)
                for m in errors if args.details else errors[:2]:
                    console.print(f"    {m}", highlight=False, markup=False)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m corpus", description=__doc__)
    ap.add_argument("--package", action="append", help="only this package (repeatable)")
    ap.add_argument("--shared", type=Path, default=SHARED, help="the shared folder")
    ap.add_argument("--no-invariants", action="store_true", help="skip FHIRPath invariants")
    ap.add_argument("--details", action="store_true", help="every disagreement's messages")
    ap.add_argument(
        "--no-snapshots",
        action="store_true",
        help="skip the snapshots regenerated from differentials vs the published ones",
    )
    ap.add_argument("--no-build", action="store_true", help="skip igtools build of every IG")
    ap.add_argument(
        "--skip-stage",
        action="append",
        default=[],
        choices=STAGES,
        help="a build stage left out (repeatable; e.g. docs, the slowest)",
    )
    ap.add_argument("--no-validate", action="store_true", help="skip the examples vs the QA")
    args = ap.parse_args()
    console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
    if not (args.shared / "ig-qa").is_dir():
        console.print(f"{args.shared}/ig-qa absent: the corpus lives in ../shared")
        return 2
    packages = args.package or qa_packages(args.shared) + example_packages_without_qa(args.shared)
    if args.no_validate:
        packages = []
    results = []
    with tempfile.TemporaryDirectory() as cache:
        for pkg in packages:
            with console.status(f"{pkg}..."):
                r = validate_package(
                    pkg, args.shared, Path(cache), invariants=not args.no_invariants
                )
            results.append(r)
            for e in r.examples:
                if args.details and e.extra:
                    console.print(f"[bold]extra[/] {pkg} {e.file}", highlight=False)
                    for m in e.extra:
                        console.print(f"    igtools: {m}", highlight=False, markup=False)
                if e.verdict not in ("false-rejection", "miss", "crash"):
                    continue
                verdict = e.verdict if r.has_qa else "rejected (no QA to compare)"
                console.print(f"[bold]{verdict}[/] {pkg} {e.file}", highlight=False)
                if not args.details:
                    continue
                for m in e.igtools:
                    console.print(f"    igtools: {m}", highlight=False, markup=False)
                for q in e.reference:
                    console.print(
                        f"    reference: line {q.line}: {q.message} ({q.type})",
                        highlight=False,
                        markup=False,
                    )
    if results:
        console.print(_table([r for r in results if r.has_qa]))
    others = [r for r in results if not r.has_qa]
    if others:
        table = Table(title="igtools validate on the examples of packages without a QA report")
        for col in ("package", "examples", "valid", "with errors", "s"):
            table.add_column(col, justify="left" if col == "package" else "right")
        for r in others:
            bad = sum(1 for e in r.examples if e.igtools)
            n = len(r.examples)
            table.add_row(r.package, str(n), str(n - bad), str(bad), f"{r.seconds:.1f}")
        console.print(table)
    left: Counter[str] = Counter()
    for r in results:
        for e in r.examples:
            left.update(e.left_out)
    if results:
        console.print("Reference errors left out (not reproducible without a terminology server):")
        for cls in (*UNREPRODUCIBLE, MISSING_DEPENDENCY):
            console.print(f"  {cls.name}: {left[cls.name]} ({cls.reason})", highlight=False)
    if not args.no_snapshots:
        console.print(_snapshot_table(args.shared, args.package, args.details))
    builds = [] if args.no_build else _builds(args, console)
    if builds:
        console.print(_build_table(builds))
    bad = sum(r.count("false-rejection") * r.has_qa + r.count("crash") for r in results)
    bad += sum(not r.clean for r in builds)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
