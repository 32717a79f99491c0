"""Generic FHIR R4 knowledge igtools ships with (loaded with importlib.resources)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_table(
    argv: list[str],
    module: str,
    out: Path,
    build: Callable[[Path], dict[str, Any]],
    dump: Callable[[dict[str, Any]], str],
) -> int:
    """The command line of a table writer: ``python -m <module> hl7.fhir.r4.core-4.0.1.tgz``
    builds the table from the core package and writes it to ``out``."""
    if len(argv) != 1:
        print(f"usage: python -m {module} hl7.fhir.r4.core-4.0.1.tgz")
        return 2
    out.write_text(dump(build(Path(argv[0]))), encoding="utf-8")
    print(f"wrote {out}")
    return 0
