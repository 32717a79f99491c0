"""PlantUML diagrams of an IG source (``input/images-source``): read, rendered to SVG."""

from __future__ import annotations

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
            blocks.append((m.group(2).strip(), text[m.start() : body_end]))
        if not blocks:
            blocks = [("", f"@startuml\n{text.strip()}\n@enduml")]
        for k, (label, body) in enumerate(blocks):
            explicit = re.match(r"\(\s*id\s*=\s*([^)\s]+)\s*\)", label)
            name = explicit.group(1) if explicit else label.split()[0] if label else ""
            name = re.sub(r"\.svg$", "", name.strip("\"'"))
            svg_name = name or (path.stem if k == 0 else f"{path.stem}_{k:03d}")
            d = Diagram(path, k, svg_name, body)
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
        failed: dict[int, str] = {}
        for m in re.finditer(r"Error line (\d+) in file: .*__igtools_(\d+)\.puml", stderr):
            failed[int(m.group(2))] = f"PlantUML syntax error at line {m.group(1)}"
        for k, d in enumerate(diagrams):
            svg = out / f"__igtools_{k}.svg"
            if k in failed:
                d.failure = failed[k]
            elif not svg.is_file():
                last = stderr.strip().splitlines()[-1:] or ["no output"]
                d.failure = f"plantuml wrote no SVG ({last[0]})"
            else:
                out_dir.mkdir(parents=True, exist_ok=True)
                for alias in d.aliases or [d.name]:
                    shutil.copyfile(svg, out_dir / f"{alias}.svg")
                target = out_dir / f"{(d.aliases or [d.name])[0]}.svg"
                d.svg = target.relative_to(docs_dir).as_posix()
