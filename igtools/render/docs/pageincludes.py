"""What Liquid tags of the narrative pages become: ``{% include %}`` of input/includes
spliced in, placeholders for diagrams, example JSON, the dependency table and ``{% sql %}``
tables, and their markdown."""

from __future__ import annotations

import html
import re

from igtools.render.docs import liquid
from igtools.render.docs.liquid import SqlError, Tag, Text
from igtools.render.docs.pagemodel import (
    _PH_RE,
    PH_CLOSE,
    PH_OPEN,
    ConverterBase,
    _fence_for,
    _md_escape_cell,
    _Page,
    _Placeholder,
)


class IncludesPart(ConverterBase):
    def liquid_pieces(
        self, text: str, page: _Page, depth: int = 0, origin: str = ""
    ) -> list[liquid.Piece]:
        """Liquid evaluated; ``{% include %}`` of ``input/includes/`` files spliced in."""
        tokens = liquid.tokenize(text)
        evaluated = liquid.evaluate(tokens, self.variables)
        for line, problem in evaluated.problems:
            self.unconverted(f"{origin or page.rel_source}:{line}", problem)
        out: list[liquid.Piece] = []
        includes = self.includes_dir.resolve()
        for piece in evaluated.pieces:
            if isinstance(piece, Tag) and piece.name == "include" and depth < 5:
                name = piece.body.split()[0] if piece.body.split() else ""
                path = (self.includes_dir / name).resolve()
                if (
                    name
                    and path.is_relative_to(includes)
                    and path.is_file()
                    and path.suffix in (".md", ".html", ".xhtml")
                ):
                    inner = path.read_text(encoding="utf-8-sig")
                    rel = path.relative_to(self.source.resolve()).as_posix()
                    for sub in self.liquid_pieces(inner, page, depth + 1, rel):
                        sub.line = piece.line  # its lines are the include tag's
                        out.append(sub)
                    continue
            out.append(piece)
        return out

    def to_lines(self, pieces: list[liquid.Piece], page: _Page) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        buf = ""
        buf_src = 1
        for piece in pieces:
            if isinstance(piece, Text):
                parts = piece.text.split("\n")
                for k, part in enumerate(parts):
                    if k > 0:
                        out.append((buf, buf_src))
                        buf = ""
                        buf_src = piece.line + k
                    elif not buf:
                        buf_src = piece.line
                    buf += part
                continue
            ph = self.placeholder(piece, page)
            if not buf:
                buf_src = piece.line
            buf += f"{PH_OPEN}{len(page.placeholders)}{PH_CLOSE}"
            page.placeholders.append(ph)
        out.append((buf, buf_src))
        return out

    def placeholder(self, tag: Tag, page: _Page) -> _Placeholder:
        where = f"{page.rel_source}:{tag.line}"
        if tag.output:
            self.unconverted(
                where,
                f"Liquid output {tag.raw} not resolved (unknown variable or filter); shown as text",
            )
            return _Placeholder("unknown", tag.line, tag.raw)
        if tag.name == "include":
            name = tag.body.split()[0] if tag.body.split() else ""
            if name.endswith("-json-html.xhtml"):
                stem = name[: -len("-json-html.xhtml")]
                if stem in self.links.examples_json:
                    return _Placeholder("json", tag.line, tag.raw, stem, block=True)
                self.unconverted(
                    where, f"{tag.raw}: no example {stem} in the package; shown as text"
                )
                return _Placeholder("unknown", tag.line, tag.raw)
            if name in ("dependency-table.xhtml", "dependency-table-short.xhtml"):
                return _Placeholder("deps", tag.line, tag.raw, block=True)
            if name.endswith(".svg"):
                stem = name[:-4]
                if stem in self.diagram_names:
                    d = self.diagram_names[stem]
                    d.used_by.append(page.path)
                    return _Placeholder("diagram", tag.line, tag.raw, stem, block=not d.svg)
                if stem + ".svg" in self.images:
                    return _Placeholder("image", tag.line, tag.raw, stem + ".svg")
                self.unconverted(
                    where,
                    f"{tag.raw}: no PlantUML source for {name} in "
                    "input/images-source; shown as text",
                )
                return _Placeholder("unknown", tag.line, tag.raw)
            self.unconverted(
                where,
                f"{tag.raw}: an IG Publisher fragment this converter does "
                "not produce; shown as text",
            )
            return _Placeholder("unknown", tag.line, tag.raw)
        if tag.name == "sql":
            return self.sql_placeholder(tag, where)
        if tag.name in (
            "if",
            "elsif",
            "else",
            "endif",
            "unless",
            "endunless",
            "for",
            "endfor",
            "case",
            "when",
            "endcase",
            "capture",
            "endcapture",
            "tablerow",
            "endtablerow",
        ):
            # the block was reported when it was evaluated
            return _Placeholder("unknown", tag.line, tag.raw)
        self.unconverted(where, f"Liquid tag {tag.raw} not supported; shown as text")
        return _Placeholder("unknown", tag.line, tag.raw)

    def sql_placeholder(self, tag: Tag, where: str) -> _Placeholder:
        spec = tag.data
        if tag.problem:
            self.unconverted(where, f"{{% sql %}}: {tag.problem}; shown as text")
            return _Placeholder("unknown", tag.line, tag.raw)
        if spec is None:
            spec = {"query": tag.body}
        if not isinstance(spec, dict) or not isinstance(spec.get("query"), str):
            self.unconverted(where, "{% sql %} without a query; shown as text")
            return _Placeholder("unknown", tag.line, tag.raw)
        query = " ".join(spec["query"].split())
        try:
            result = liquid.run_sql(
                spec["query"],
                self.links.resources,
                ["Id", "Type", "Name", "Title", "Description", "Url", "Web"],
            )
        except SqlError as exc:
            self.unconverted(
                where, f"{{% sql %}} query not supported ({exc}): {query}; shown as text"
            )
            return _Placeholder("unknown", tag.line, tag.raw)
        columns = spec.get("columns")
        cols: list[dict[str, str]] = []
        if isinstance(columns, list) and columns:
            for c in columns:
                if not isinstance(c, dict) or not isinstance(c.get("source"), str):
                    self.unconverted(
                        where, f"{{% sql %}} column {c!r} not understood; shown as text"
                    )
                    return _Placeholder("unknown", tag.line, tag.raw)
                if c["source"] not in result.columns or (
                    c.get("target") and c["target"] not in result.columns
                ):
                    missing = c.get("target") if c["source"] in result.columns else c["source"]
                    self.unconverted(
                        where,
                        f"{{% sql %}} column {missing!r} is not selected "
                        f"by the query: {query}; shown as text",
                    )
                    return _Placeholder("unknown", tag.line, tag.raw)
                cols.append({k: str(v) for k, v in c.items()})
        else:
            cols = [{"title": c, "type": "text", "source": c} for c in result.columns]
        return _Placeholder("sql", tag.line, tag.raw, data=(cols, result.rows), block=True)

    # placeholders expanded

    def expand(self, text: str, page: _Page, context: str, hoisted: list[str]) -> str:
        """Placeholders replaced by what their tag becomes, as the context allows."""

        def one(p: re.Match[str]) -> str:
            ph = page.placeholders[int(p.group(1))]
            if context == "code":
                return ph.raw
            if ph.block:
                block = self.block_markdown(ph, page)
                if context == "html":  # raw HTML cannot hold markdown: after the block
                    hoisted.append(block)
                    return ""
                return "\n\n" + block + "\n\n"
            return self.inline_markdown(ph, page, context == "html")

        out: list[str] = []
        for line in text.split("\n"):
            if PH_OPEN not in line:
                out.append(line)
                continue
            alone = _PH_RE.fullmatch(line.strip())
            if alone and context == "md" and page.placeholders[int(alone.group(1))].block:
                pad = line[: len(line) - len(line.lstrip())]
                block = self.block_markdown(page.placeholders[int(alone.group(1))], page)
                out.append("")
                out.extend((pad + b) if b else "" for b in block.split("\n"))
                out.append("")
                continue
            out.append(_PH_RE.sub(one, line))
        return "\n".join(out)

    def inline_markdown(self, ph: _Placeholder, page: _Page, html_mode: bool) -> str:
        if ph.kind == "diagram":
            svg = f"diagrams/{ph.arg}.svg"
            if html_mode:
                url = self.relative(svg, page, True)
                return f'<img src="{url}" alt="{html.escape(ph.arg)}">'
            return f"![{ph.arg}]({self.relative(svg, page, False)})"
        if ph.kind == "image":
            if html_mode:
                return f'<img src="{self.relative("images/" + ph.arg, page, True)}" alt="">'
            return f"![{ph.arg}]({self.relative('images/' + ph.arg, page, False)})"
        raw = html.escape(ph.raw)
        if "\n" in raw:
            return f"<pre><code>{raw}</code></pre>"
        return f"<code>{raw}</code>"

    def block_markdown(self, ph: _Placeholder, page: _Page) -> str:
        if ph.kind == "json":
            text = self.links.examples_json[ph.arg].rstrip("\n")
            fence = _fence_for(text)
            lines = []
            if ph.arg in self.links.artefact_pages:
                rtype, _, rid = ph.arg.partition("-")
                url = self.relative(self.links.artefact_pages[ph.arg], page, False)
                lines += [f"[{rtype}/{rid}]({url})", ""]
            else:
                self.unconverted(
                    f"{page.rel_source}:{ph.line}",
                    f"example {ph.arg}: no example page to link to; JSON shown",
                )
            lines += [f"{fence}json", text, fence]
            return "\n".join(lines)
        if ph.kind == "deps":
            rows = self.links.dependency_rows
            if not rows:
                return f"*{self.t('no_dependencies')}*"
            head = [self.t("package"), self.t("version"), self.t("status")]
            lines = ["| " + " | ".join(head) + " |", "| --- | --- | --- |"]
            for r in rows:
                cells = [r.get("Package", ""), r.get("Version", ""), r.get("Status", "")]
                lines.append("| " + " | ".join(_md_escape_cell(c) for c in cells) + " |")
            return "\n".join(lines)
        if ph.kind == "sql":
            cols, rows = ph.data
            lines = [
                "| "
                + " | ".join(_md_escape_cell(c.get("title") or c["source"]) for c in cols)
                + " |",
                "| " + " | ".join("---" for _ in cols) + " |",
            ]
            for r in rows:
                cells = []
                for c in cols:
                    value = str(r.get(c["source"]) or "")
                    if c.get("type") == "link" and c.get("target"):
                        target = str(r.get(c["target"]) or "")
                        if re.match(r"^[a-zA-Z][\w+.-]*:", target):
                            cells.append(f"[{_md_escape_cell(value)}]({target})")
                        elif target:
                            url = self.relative(target, page, False)
                            cells.append(f"[{_md_escape_cell(value)}]({url})")
                        else:
                            cells.append(_md_escape_cell(value))
                    elif c.get("type") == "markdown":
                        rewritten = self.rewrite_markdown(
                            value, page, lambda o: f"{page.rel_source}:{ph.line}"
                        )
                        cells.append(_md_escape_cell(rewritten))
                    else:
                        cells.append(_md_escape_cell(value))
                lines.append("| " + " | ".join(cells) + " |")
            return "\n".join(lines)
        if ph.kind == "diagram":
            d = self.diagram_names[ph.arg]
            note = self.t("diagram_body").format(name=ph.arg, reason=d.failure)
            fence = _fence_for(d.text)
            return "\n".join(
                [
                    f'!!! note "{self.t("diagram_title")}"',
                    f"    {note}",
                    "",
                    f"{fence}plantuml",
                    d.text.strip("\n"),
                    fence,
                ]
            )
        return self.inline_markdown(ph, page, False)
