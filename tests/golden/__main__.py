"""Regenerate the golden records: ``python -m tests.golden``."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from tests.golden import RECORD, generate

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        shutil.rmtree(RECORD, ignore_errors=True)
        generate(RECORD, Path(tmp))
    files = [p for p in RECORD.rglob("*") if p.is_file()]
    print(f"{len(files)} files written under {RECORD}")
