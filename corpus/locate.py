"""Where the reference's messages point, as FHIRPath-style paths.

The reference validator reports a line and a column in the file it validated: the
SUSHI output, indented with two spaces (``JSON.stringify(x, null, 2)``), which
``json.dumps(x, indent=2)`` of the package's example reproduces line for line. Each
line is mapped to the path of the node that starts on it (``Bundle.entry[0]``,
``Bundle.entry[0].resource.subject``...), so that the reference's errors and igtools'
can be compared by place.
"""

from __future__ import annotations

import json
from typing import Any

from corpus.qa import QaMessage


def line_paths(data: Any) -> dict[int, str]:
    """Line number (1-based) of ``json.dumps(data, indent=2)`` -> path of the node
    whose key (or array item) starts on that line."""
    root = str(data.get("resourceType", "Resource")) if isinstance(data, dict) else "Resource"
    out: dict[int, str] = {1: root}
    line = 1

    def walk(value: Any, path: str) -> None:
        # ``value`` starts on the current line; on return, ``line`` is the line of its end
        nonlocal line
        if isinstance(value, dict) and value:
            for key, v in value.items():
                line += 1
                out[line] = f"{path}.{key}"
                walk(v, f"{path}.{key}")
            line += 1  # the closing brace
        elif isinstance(value, list) and value:
            for i, v in enumerate(value):
                line += 1
                out[line] = f"{path}[{i}]"
                walk(v, f"{path}[{i}]")
            line += 1  # the closing bracket
        elif isinstance(value, str) and "\n" in value:
            pass  # json.dumps escapes newlines: one line still

    walk(data, root)
    return out


def related(a: str, b: str) -> bool:
    """Do two locations name the same node, or one a node inside the other (the root
    alone relates to nothing but itself)?"""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    if "." not in short and "[" not in short:
        return False  # the resource root
    return long_.startswith(short) and long_[len(short)] in ".["


def location_of(issue: str) -> str:
    """The location of an igtools issue as ``str(Issue)`` prints it."""
    return issue.split(": ", 1)[0]


def _strip_text(value: Any, statuses: tuple[str, ...] | None) -> Any:
    """The resource as SUSHI wrote it: the IG Publisher adds narratives (``statuses``:
    those whose status is one of them; None: every narrative)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            narrative = k == "text" and isinstance(v, dict) and "div" in v
            if narrative and (statuses is None or v.get("status") in statuses):
                continue
            out[k] = _strip_text(v, statuses)
        return out
    if isinstance(value, list):
        return [_strip_text(v, statuses) for v in value]
    return value


def best_line_paths(data: Any, messages: list[QaMessage]) -> dict[int, str] | None:
    """The line map of the serialisation (as packaged, or without the narratives the
    publisher generated) that fits the messages' columns: the reference's column falls
    on the indentation of the node's line, or just after it. None when no variant fits
    every message (the file the reference read was laid out otherwise)."""
    best: dict[int, str] = {}
    best_score = -1
    variants = (data, _strip_text(data, ("generated",)), _strip_text(data, None))
    for variant in variants:
        lines = json.dumps(variant, indent=2, ensure_ascii=False).split("\n")
        score = 0
        for m in messages:
            if 1 < m.line <= len(lines):
                text = lines[m.line - 1]
                indent = len(text) - len(text.lstrip(" "))
                score += 0 <= m.col - indent <= 2
        if score > best_score:
            best, best_score = line_paths(variant), score
    placed = sum(1 for m in messages if m.line > 1)
    return best if best_score == placed else None
