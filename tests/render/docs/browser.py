"""A real browser for the docs site tests: Debian's Chromium driven by Playwright (no
browser download), and the layout checks run in its pages."""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = "Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)"


@contextlib.contextmanager
def browser(site: Path) -> Iterator[tuple[Any, str, list[str]]]:
    """A page of Debian's Chromium (driven by Playwright) on ``site`` served on localhost:
    (page, base URL, every URL it requested)."""
    pytest.importorskip("playwright", reason="playwright is not installed (the dev extra)")
    from playwright.sync_api import sync_playwright

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,  # the system Chromium
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            yield page, base, requests
            browser.close()
    finally:
        srv.shutdown()


# what a page must not have at 1280 px: a horizontal scroll bar, a table wider than the
# column it sits in, a row taller than 400 px, a diagram that is PlantUML's error image
LAYOUT = """(strict) => {
  const out = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1)
    out.push(`horizontal overflow: ${root.scrollWidth} > ${root.clientWidth}`);
  const column = document.querySelector(".md-content__inner");
  const width = column.getBoundingClientRect().width;
  for (const table of column.querySelectorAll("table")) {
    const r = table.getBoundingClientRect();
    if (r.width === 0) continue;  // in a tab not shown
    const wide = Math.max(r.width, table.scrollWidth);
    const box = (table.closest(".md-typeset__scrollwrap") || table.parentElement)
      .getBoundingClientRect().width;
    if (wide > Math.min(width, box) + 1) {
      const what = table.className || table.innerText.slice(0, 40);
      out.push(`table ${what}: ${Math.round(wide)} px in a column of ${Math.round(width)}`);
    }
    for (const tr of table.querySelectorAll("tr")) {
      const h = tr.getBoundingClientRect().height;
      if (h <= 400) continue;
      // on the IG's own pages, a long text or a figure in a wide cell is the author's
      // content; a tall row of a squeezed cell is the layout's fault
      const content = (cell) => {  // the height of what the cell holds (cells stretch)
        const range = document.createRange();
        range.selectNodeContents(cell);
        return range.getBoundingClientRect().height;
      };
      const cells = [...tr.cells].sort((a, b) => content(b) - content(a));
      const wide = cells.length && cells[0].getBoundingClientRect().width >= 0.45 * width;
      if (strict || !wide)
        out.push(`row ${tr.id || tr.innerText.slice(0, 40)}: ${Math.round(h)} px`);
    }
  }
  return out;
}"""
DIAGRAMS = r"""async () => {
  const out = [];
  // what PlantUML draws instead of a diagram (its SVG comment holds the source and the
  // version: only the drawn text counts)
  const bad = /Graphviz|Dot Executable|Syntax Error|An error has occu?rr?ed|Cannot run program/i;
  const images = [...document.querySelectorAll(".md-content img, .md-content object")]
    .map(i => i.getAttribute("src") || i.getAttribute("data") || "")
    .filter(u => u.endsWith(".svg") || u.includes("diagrams/"));
  for (const src of images) {
    const svg = await (await fetch(src)).text();
    const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
    const text = doc.documentElement.textContent;
    if (bad.test(text)) out.push(`${src}: ${text.match(bad)[0]}`);
  }
  for (const svg of document.querySelectorAll(".md-content svg")) {
    if (bad.test(svg.textContent)) out.push(`inline svg: ${svg.textContent.match(bad)[0]}`);
  }
  for (const pre of document.querySelectorAll(".md-content pre")) {
    if (/@start\w+/.test(pre.textContent) && pre.closest(".admonition"))
      out.push("a diagram shown as its source under a note (not rendered)");
  }
  return [out, images.length];
}"""
