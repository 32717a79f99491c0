"""MkDocs hook of the generated site (copied beside ``mkdocs.yml`` as ``igtools_hooks.py``;
standard library and mkdocs only, so the project builds with plain ``mkdocs`` too).

mkdocs-material's search indexes a page by its headings; the element rows of the
structure view are table rows. ``igtools docs`` writes one entry per element (location
``artefacts/StructureDefinition-x.html#Patient.identifier``, title, text) to
``igtools-search.json`` beside ``mkdocs.yml``; this hook appends them to the search index
after the search plugin wrote it and before the offline plugin copies it
(``search_index.js``), so a search for ``Slot.serviceType`` lands on the row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

SIDECAR = "igtools-search.json"


def add_entries(site_dir: Path, entries: list[dict[str, str]]) -> int:
    """Append ``entries`` to the site's search index (not twice); how many were added."""
    index = site_dir / "search" / "search_index.json"
    if not index.is_file() or not entries:
        return 0
    data = json.loads(index.read_text(encoding="utf-8"))
    docs = data.setdefault("docs", [])
    known = {d.get("location") for d in docs}
    new = [e for e in entries if e.get("location") not in known]
    docs.extend(new)
    index.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    return len(new)


@event_priority(-50)  # after the search plugin (0), before the offline plugin (-100)
def on_post_build(config: Any, **kwargs: Any) -> None:
    sidecar = Path(config["config_file_path"]).parent / SIDECAR
    if not sidecar.is_file():
        return
    entries = json.loads(sidecar.read_text(encoding="utf-8"))
    add_entries(Path(config["site_dir"]), entries)
