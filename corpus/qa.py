"""The HL7 reference validator's messages, as the IG Publisher's QA lists them.

``qa-eslintcompact.txt`` has one message per line::

    <path of the file as built>: line L, col C, <Severity> - <message> (<TYPE>)

A line is matched to an example by the file's basename. Messages may span lines (a
message quoting HTML): continuation lines are appended to the message before them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(
    r"^(?P<path>.+?): line (?P<line>\d+), col (?P<col>\d+), "
    r"(?P<severity>Fatal|Error|Warning|Information|Info) - (?P<message>.*)$"
)
_TYPE = re.compile(r"\s\((?P<type>[A-Z_]+)\)\s*$")


@dataclass(frozen=True)
class QaMessage:
    file: str  # basename of the file the message is about
    line: int
    col: int
    severity: str  # fatal | error | warning | information
    message: str
    type: str  # the validator's issue type: STRUCTURE, INVARIANT, CODEINVALID...

    @property
    def is_error(self) -> bool:
        return self.severity in ("error", "fatal")


def parse_qa(path: Path) -> dict[str, list[QaMessage]]:
    """Messages by file basename (``Generic`` messages, about the IG itself, left out)."""
    out: dict[str, list[QaMessage]] = defaultdict(list)
    pending: list[str] = []

    def flush() -> None:
        if not pending:
            return
        text = " ".join(pending)
        pending.clear()
        m = _LINE.match(text)
        if m is None:
            return
        file = m["path"].replace("\\", "/").rsplit("/", 1)[-1]
        if file == "Generic":
            return
        message = m["message"]
        t = _TYPE.search(message)
        kind = t["type"] if t else ""
        if t:
            message = message[: t.start()]
        severity = m["severity"].lower()
        if severity == "info":
            severity = "information"
        out[file].append(QaMessage(file, int(m["line"]), int(m["col"]), severity, message, kind))

    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if _LINE.match(raw):
            flush()
            pending.append(raw)
        elif pending:
            pending.append(raw.strip())
    flush()
    return dict(out)
