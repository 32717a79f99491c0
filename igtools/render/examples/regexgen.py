"""A string matching a simple regular expression (literals, classes, counts, anchors),
for invariants such as ``value.matches('^1[0-9]{9}$')``."""

from __future__ import annotations

import random
import re

_TOKEN = re.compile(r"\\d|\\w|\[[^\]]+\]|\\.|.")


def _choices(atom: str) -> str:
    if atom == r"\d":
        return "0123456789"
    if atom == r"\w":
        return "abcdefghijklmnopqrstuvwxyz0123456789"
    if atom.startswith("[") and atom.endswith("]"):
        body = atom[1:-1]
        out: list[str] = []
        i = 0
        while i < len(body):
            if i + 2 < len(body) and body[i + 1] == "-":
                out.extend(chr(c) for c in range(ord(body[i]), ord(body[i + 2]) + 1))
                i += 3
            else:
                out.append(body[i])
                i += 1
        return "".join(out)
    if atom.startswith("\\"):
        return atom[1]
    return atom


def generate_matching(pattern: str, rnd: random.Random) -> str | None:
    """A string that fully matches ``pattern``, or None if the pattern is too complex."""
    body = pattern.removeprefix("^").removesuffix("$")
    if any(c in body for c in "|()*+?"):
        return None
    out: list[str] = []
    pos = 0
    tokens: list[tuple[str, int]] = []
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if m is None:
            return None
        atom = m.group(0)
        pos = m.end()
        count = 1
        q = re.match(r"\{(\d+)(?:,(\d*))?\}", body[pos:])
        if q:
            count = int(q[1])
            pos += q.end()
        tokens.append((atom, count))
    for atom, count in tokens:
        chars = _choices(atom)
        out.extend(rnd.choice(chars) for _ in range(count))
    text = "".join(out)
    return text if re.fullmatch(pattern.removeprefix("^").removesuffix("$"), text) else None
