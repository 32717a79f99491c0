"""PlantUML diagrams of an IG source (``input/images-source``): read, rendered to SVG."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# -- diagrams ---------------------------------------------------------------------------


@dataclass
class Diagram:
    file: Path
    index: int  # position in its file
    name: str  # the SVG name the IG Publisher gives it
    text: str  # @startxxx ... @endxxx
    svg: str = ""  # docs-relative path when rendered
    failure: str = ""  # why it was not rendered
    error: str = ""  # PlantUML's own error (syntax, Graphviz missing...): a build error
    line: int = 1  # line of its @start in its file (0: the file has no @start)
    error_line: int = 0  # line of the error in its file, when PlantUML tells
    used_by: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)  # names pages may include it by


_START = re.compile(r"^[ \t]*@start(\w+)(.*)$", re.M)


def read_diagrams(folder: Path) -> tuple[list[Diagram], dict[str, Diagram]]:
    diagrams: list[Diagram] = []
    names: dict[str, Diagram] = {}
    if not folder.is_dir():
        return diagrams, names
    files = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in (".plantuml", ".puml", ".pu", ".wsd")
    )
    for path in files:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        blocks = []
        for m in _START.finditer(text):
            end = re.compile(r"^[ \t]*@end" + m.group(1) + r"\b.*$", re.M).search(text, m.end())
            body_end = end.end() if end else len(text)
            start_line = text.count("\n", 0, m.start()) + 1
            blocks.append((m.group(2).strip(), text[m.start() : body_end], start_line))
        if not blocks:
            blocks = [("", f"@startuml\n{text.strip()}\n@enduml", 0)]
        for k, (label, body, start_line) in enumerate(blocks):
            explicit = re.match(r"\(\s*id\s*=\s*([^)\s]+)\s*\)", label)
            name = explicit.group(1) if explicit else label.split()[0] if label else ""
            name = re.sub(r"\.svg$", "", name.strip("\"'"))
            svg_name = name or (path.stem if k == 0 else f"{path.stem}_{k:03d}")
            d = Diagram(path, k, svg_name, body, line=start_line)
            diagrams.append(d)
            for alias in (svg_name, path.stem) if k == 0 else (svg_name,):
                if alias not in names:
                    names[alias] = d
                    d.aliases.append(alias)
    return diagrams, names


def render_diagrams(
    diagrams: list[Diagram], out_dir: Path, docs_dir: Path, exe: str | None
) -> None:
    if not diagrams:
        return
    if exe is None:
        for d in diagrams:
            d.failure = "plantuml not found"
        return
    with tempfile.TemporaryDirectory(prefix="igtools-plantuml-") as tmp_name:
        tmp = Path(tmp_name)
        work = tmp / "src"
        shutil.copytree(diagrams[0].file.parent, work)  # for !include of sibling files
        inputs = []
        for k, d in enumerate(diagrams):
            body = re.sub(r"^([ \t]*@start\w+).*$", r"\1", d.text, count=1, flags=re.M)
            src = work / f"__igtools_{k}.puml"
            src.write_text(body + "\n", encoding="utf-8")
            inputs.append(src)
        out = tmp / "out"
        out.mkdir()
        cmd = [exe, "-tsvg", "-charset", "UTF-8", "-o", str(out), *map(str, inputs)]
        try:
            proc = subprocess.run(
                cmd,
                cwd=work,
                capture_output=True,
                text=True,
                timeout=120 + 10 * len(inputs),
                check=False,
            )
            stderr = proc.stderr
        except (OSError, subprocess.SubprocessError) as exc:
            for d in diagrams:
                d.failure = f"plantuml could not run: {exc}"
            return
        failed: dict[int, int] = {}
        for m in re.finditer(r"Error line (\d+) in file: .*__igtools_(\d+)\.puml", stderr):
            failed[int(m.group(2))] = int(m.group(1))
        for k, d in enumerate(diagrams):
            svg = out / f"__igtools_{k}.svg"
            image_error, at = (
                svg_error(svg.read_text(errors="replace")) if svg.is_file() else ("", 0)
            )
            if k in failed:
                n = failed[k] + 1  # PlantUML counts from 0 there
                d.failure = f"PlantUML syntax error at line {n}"
                lines = d.text.splitlines()
                shown = lines[n - 1].strip() if 0 < n <= len(lines) else ""
                d.error = "Syntax Error" + (f": {shown}" if shown else "")
                d.error_line = d.line + n - 1 if d.line else 0
            elif image_error:
                d.failure = d.error = image_error
                d.error_line = d.line + at - 1 if d.line and at else 0
            elif not svg.is_file():
                last = stderr.strip().splitlines()[-1:] or ["no output"]
                d.failure = f"plantuml wrote no SVG ({last[0]})"
                d.error = d.failure
            else:
                out_dir.mkdir(parents=True, exist_ok=True)
                for alias in d.aliases or [d.name]:
                    shutil.copyfile(svg, out_dir / f"{alias}.svg")
                target = out_dir / f"{(d.aliases or [d.name])[0]}.svg"
                d.svg = target.relative_to(docs_dir).as_posix()


# the texts of the images PlantUML draws instead of a diagram
_ERROR_TEXTS = re.compile(
    r"Cannot find Graphviz|^Dot [Ee]xecutable:|^Syntax Error\?|^An error has occu?rr?ed|"
    r"Cannot run program"
)


def svg_error(svg: str) -> tuple[str, int]:
    """PlantUML's message when ``svg`` is one of its error images (else "") and the
    line of the diagram it names (else 0)."""
    texts = [
        " ".join(html.unescape(t).replace("\xa0", " ").split())
        for t in re.findall(r"<text\b[^>]*>([^<]*)</text>", svg)
    ]
    texts = [t for t in texts if t]
    hits = [k for k, t in enumerate(texts) if _ERROR_TEXTS.search(t)]
    if not hits:
        return "", 0
    if any("Graphviz" in texts[k] or "Dot " in texts[k] for k in hits):
        first = min(hits)
        message = "; ".join(texts[first : max(hits) + 1])
        return f"{message} (Graphviz's dot is needed: install graphviz)", 0
    k = hits[0]
    where = next(
        (m.group(1) for t in texts[:k] for m in [re.search(r"\(line (\d+)\)", t)] if m), ""
    )
    message = texts[k].rstrip("?")
    if "Syntax Error" in texts[k] and k > 0 and not texts[k - 1].startswith("[From "):
        message += f": {texts[k - 1]}"
    return message, int(where or 0)
