"""The Liquid (Jekyll) of IG Publisher pages: tags, simple conditions, ``{% sql %}``.

The IG Publisher runs Jekyll over its pages, so narrative pages carry Liquid: includes
of generated fragments, ``{% sql %}`` tables over the IG's resources, conditions on
``site.data`` values. This module reads that Liquid; :mod:`igtools.render.docs.pages`
decides what each tag becomes. What is evaluated here:

- ``{% raw %}`` (its text is kept as is) and ``{% comment %}`` (kept as an HTML comment);
- ``{% if %}``/``{% unless %}`` with ``elsif``/``else``, when every variable of the
  condition is known (``==``, ``!=``, ``<>``, ``<``, ``>``, ``<=``, ``>=``, ``contains``,
  ``and``/``or`` right to left as in Liquid, bare truthiness);
- ``{{ variable }}`` for known variables, without filters.

Everything else is returned as a :class:`Tag` for the caller to convert or to show.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Text:
    text: str
    line: int  # 1-based line of the first character


@dataclass
class Tag:
    """A Liquid tag (``{% name ... %}``) or output (``{{ ... }}``, ``name == ""``)."""

    name: str
    body: str  # inside the delimiters, without the name, stripped
    raw: str  # the source text
    line: int
    output: bool = False
    data: Any = None  # the parsed JSON of a {% sql {...} %} tag
    problem: str = ""  # why it could not be read, if so


Piece = Text | Tag

_TAG_NAME = re.compile(r"\s*([A-Za-z_][\w-]*)")


class LiquidSyntaxError(ValueError):
    pass


def tokenize(source: str, line: int = 1) -> list[Piece]:
    """Split ``source`` into text and tags, with line numbers.

    ``{% raw %}`` bodies become text; ``{% comment %}`` bodies become an HTML comment;
    a ``{% sql {json} %}`` tag's JSON is parsed (it may contain ``%}`` in strings).
    Whitespace control (``{%-``, ``-%}``) strips the neighbouring text.
    """
    pieces: list[Piece] = []
    pos = 0
    n = len(source)
    strip_next = False

    def add_text(text: str, at: int) -> None:
        nonlocal strip_next
        start_line = line + source.count("\n", 0, at)
        if strip_next:
            stripped = text.lstrip()
            start_line += text[: len(text) - len(stripped)].count("\n")
            text = stripped
            strip_next = False
        if text:
            pieces.append(Text(text, start_line))

    def strip_previous() -> None:
        if pieces and isinstance(pieces[-1], Text):
            pieces[-1].text = pieces[-1].text.rstrip()
            if not pieces[-1].text:
                pieces.pop()

    while pos < n:
        start = _next_open(source, pos)
        if start < 0:
            add_text(source[pos:], pos)
            break
        add_text(source[pos:start], pos)
        tag_line = line + source.count("\n", 0, start)
        if source.startswith("{{", start):
            end = source.find("}}", start + 2)
            if end < 0:
                add_text(source[start:], start)
                break
            raw = source[start : end + 2]
            inner = raw[2:-2]
            if inner.startswith("-"):
                strip_previous()
                inner = inner[1:]
            if inner.endswith("-"):
                inner = inner[:-1]
                strip_next = True
            pieces.append(Tag("", inner.strip(), raw, tag_line, output=True))
            pos = end + 2
            continue
        # {% ... %}
        inner_start = start + 2
        if source.startswith("-", inner_start):
            strip_previous()
            inner_start += 1
        m = _TAG_NAME.match(source, inner_start)
        name = m.group(1) if m else ""
        after_name = m.end() if m else inner_start
        tag: Tag
        if name == "sql" and source[after_name:].lstrip().startswith("{"):
            json_start = after_name + (len(source[after_name:]) - len(source[after_name:].lstrip()))
            try:
                data, json_end = json.JSONDecoder().raw_decode(source, json_start)
            except json.JSONDecodeError as exc:
                end = source.find("%}", json_start)
                end = n - 2 if end < 0 else end
                raw = source[start : end + 2]
                tag = Tag(name, raw[2:-2].strip()[3:].strip(), raw, tag_line)
                tag.problem = f"invalid JSON in the sql tag: {exc.msg}"
                pieces.append(tag)
                pos = end + 2
                continue
            close = re.compile(r"\s*(-?)%\}").match(source, json_end)
            if close is None:
                raise LiquidSyntaxError(f"line {tag_line}: sql tag not closed after its JSON")
            raw = source[start : close.end()]
            tag = Tag(name, source[json_start:json_end], raw, tag_line, data=data)
            strip_next = close.group(1) == "-"
            pieces.append(tag)
            pos = close.end()
            continue
        end = source.find("%}", inner_start)
        if end < 0:
            add_text(source[start:], start)
            break
        raw = source[start : end + 2]
        body = source[after_name:end]
        if body.endswith("-"):
            body = body[:-1]
            strip_next = True
        pos = end + 2
        if name in ("raw", "comment"):
            closing = re.compile(r"\{%-?\s*end" + name + r"\s*-?%\}").search(source, pos)
            inner_text = source[pos : closing.start()] if closing else source[pos:]
            after = closing.end() if closing else n
            if name == "raw":
                add_text(inner_text, pos)
            else:
                comment = inner_text.replace("--", "- -")
                pieces.append(Text(f"<!--{comment}-->", tag_line))
            pos = after
            continue
        pieces.append(Tag(name, body.strip(), raw, tag_line))
    return pieces


def _next_open(source: str, pos: int) -> int:
    a = source.find("{%", pos)
    b = source.find("{{", pos)
    if a < 0:
        return b
    if b < 0:
        return a
    return min(a, b)


# -- conditions ---------------------------------------------------------------------------

_UNKNOWN = object()

_OPERAND = re.compile(
    r"""\s*(?:'(?P<sq>[^']*)'|"(?P<dq>[^"]*)"|(?P<num>-?\d+(?:\.\d+)?)(?![\w.])|(?P<var>[A-Za-z_][\w.-]*(?:\[[^\]]*\][\w.-]*)*))\s*"""
)
_COMPARISON = re.compile(r"\s*(==|!=|<>|<=|>=|<|>|contains)\s*")


def _operand(text: str, variables: Mapping[str, Any]) -> tuple[Any, str]:
    m = _OPERAND.match(text)
    if m is None:
        raise LiquidSyntaxError(f"cannot read {text.strip()!r}")
    rest = text[m.end() :]
    if m.group("sq") is not None:
        return m.group("sq"), rest
    if m.group("dq") is not None:
        return m.group("dq"), rest
    if m.group("num") is not None:
        num = m.group("num")
        return (float(num) if "." in num else int(num)), rest
    var = m.group("var")
    literal = {"true": True, "false": False, "nil": None, "null": None, "empty": "", "blank": ""}
    if var in literal:
        return literal[var], rest
    return variables.get(var, _UNKNOWN), rest


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "==":
        return bool(left == right)
    if op in ("!=", "<>"):
        return bool(left != right)
    if op == "contains":
        if isinstance(left, str) and isinstance(right, str):
            return right in left
        if isinstance(left, list | tuple):
            return right in left
        return False
    try:
        if op == "<":
            return bool(left < right)
        if op == ">":
            return bool(left > right)
        if op == "<=":
            return bool(left <= right)
        return bool(left >= right)
    except TypeError:
        return False


def _truthy(value: Any) -> bool:
    # Liquid: only nil and false are falsy
    return value is not None and value is not False


def _single_condition(text: str, variables: Mapping[str, Any]) -> bool | None:
    left, rest = _operand(text, variables)
    if not rest.strip():
        return None if left is _UNKNOWN else _truthy(left)
    m = _COMPARISON.match(rest)
    if m is None:
        raise LiquidSyntaxError(f"cannot read {text.strip()!r}")
    right, tail = _operand(rest[m.end() :], variables)
    if tail.strip():
        raise LiquidSyntaxError(f"cannot read {text.strip()!r}")
    if left is _UNKNOWN or right is _UNKNOWN:
        return None
    return _compare(left, m.group(1), right)


def evaluate_condition(expr: str, variables: Mapping[str, Any]) -> bool | None:
    """The value of a Liquid condition; ``None`` when a variable is unknown.

    Raises :class:`LiquidSyntaxError` for what this reader does not understand.
    """
    parts = re.split(r"\s+(and|or)\s+", expr.strip())
    values = [_single_condition(p, variables) for p in parts[0::2]]
    ops = parts[1::2]
    result = values[-1]
    for value, op in zip(reversed(values[:-1]), reversed(ops), strict=True):
        if op == "and":
            result = (
                False
                if value is False or result is False
                else (None if value is None or result is None else True)
            )
        else:
            result = (
                True
                if value is True or result is True
                else (None if value is None or result is None else False)
            )
    return result


# -- evaluation ---------------------------------------------------------------------------


@dataclass
class Evaluated:
    pieces: list[Piece] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, what and why)


_BLOCKS = {
    "if": "endif",
    "unless": "endunless",
    "for": "endfor",
    "case": "endcase",
    "capture": "endcapture",
    "tablerow": "endtablerow",
}


def evaluate(pieces: list[Piece], variables: Mapping[str, Any]) -> Evaluated:
    """Resolve conditions and known outputs; every other tag stays a :class:`Tag`.

    A condition that cannot be evaluated, and loops, captures and the like, are kept
    with all their content; their tags stay as :class:`Tag` (shown by the caller) and
    are reported in ``problems``.
    """
    result = Evaluated()
    _evaluate_into(pieces, 0, len(pieces), variables, result)
    return result


def _find_block_end(pieces: list[Piece], start: int, end: int) -> tuple[int, list[int]]:
    """Index of the closing tag of the block opened at ``start``; indices of its branches."""
    opener = pieces[start]
    assert isinstance(opener, Tag)
    closing = _BLOCKS[opener.name]
    depth = 0
    branches: list[int] = []
    for i in range(start + 1, end):
        piece = pieces[i]
        if not isinstance(piece, Tag) or piece.output:
            continue
        if piece.name in _BLOCKS:
            depth += 1
        elif piece.name.startswith("end") and piece.name[3:] in _BLOCKS:
            if depth == 0:
                if piece.name != closing:
                    raise LiquidSyntaxError(
                        f"line {piece.line}: {{% {piece.name} %}} closes "
                        f"{{% {opener.name} %}} of line {opener.line}"
                    )
                return i, branches
            depth -= 1
        elif depth == 0 and piece.name in ("elsif", "else", "when"):
            branches.append(i)
    raise LiquidSyntaxError(f"line {opener.line}: {{% {opener.name} %}} is never closed")


def _evaluate_into(
    pieces: list[Piece], start: int, end: int, variables: Mapping[str, Any], out: Evaluated
) -> None:
    i = start
    while i < end:
        piece = pieces[i]
        if isinstance(piece, Text):
            out.pieces.append(piece)
            i += 1
            continue
        if piece.output:
            if piece.body in variables and variables[piece.body] is not None:
                out.pieces.append(Text(str(variables[piece.body]), piece.line))
            else:
                out.pieces.append(piece)
            i += 1
            continue
        if piece.name in ("if", "unless"):
            try:
                close, branches = _find_block_end(pieces, i, end)
            except LiquidSyntaxError as exc:
                out.problems.append((piece.line, f"{piece.raw}: {exc}; kept as text"))
                out.pieces.append(piece)
                i += 1
                continue
            chosen = _choose_branch(pieces, i, branches, close, variables)
            if chosen is None:  # cannot evaluate: keep everything, tags visible
                out.problems.append(
                    (
                        piece.line,
                        f"{piece.raw}: condition not evaluated (unknown variable or "
                        "syntax); every branch kept, tags shown",
                    )
                )
                bounds = [i, *branches, close]
                for a, b in itertools.pairwise(bounds):
                    out.pieces.append(pieces[a])
                    _evaluate_into(pieces, a + 1, b, variables, out)
                out.pieces.append(pieces[close])
            elif chosen >= 0:
                bounds = [i, *branches, close]
                _evaluate_into(pieces, bounds[chosen] + 1, bounds[chosen + 1], variables, out)
            i = close + 1
            continue
        if piece.name in _BLOCKS:
            try:
                close, _ = _find_block_end(pieces, i, end)
            except LiquidSyntaxError:
                close = i
            out.problems.append(
                (
                    piece.line,
                    f"{piece.raw}: Liquid {piece.name} block not supported; "
                    "its content kept as text, tags shown",
                )
            )
            out.pieces.append(piece)
            if close > i:
                _evaluate_into(pieces, i + 1, close, variables, out)
                out.pieces.append(pieces[close])
                i = close + 1
            else:
                i += 1
            continue
        out.pieces.append(piece)
        i += 1


def _choose_branch(
    pieces: list[Piece],
    start: int,
    branches: list[int],
    close: int,
    variables: Mapping[str, Any],
) -> int | None:
    """Index of the branch to keep (0 = the if body), -1 for none, None if unknown."""
    heads = [start, *branches]
    for k, head in enumerate(heads):
        tag = pieces[head]
        assert isinstance(tag, Tag)
        if tag.name == "else":
            return k
        try:
            value = evaluate_condition(tag.body, variables)
        except LiquidSyntaxError:
            return None
        if value is None:
            return None
        if tag.name == "unless":
            value = not value
        if value:
            return k
    return -1


# -- {% sql %} ----------------------------------------------------------------------------


class SqlError(ValueError):
    """A query this small interpreter does not support, with the reason."""


_SQL_TOKEN = re.compile(
    r"""\s*(?:(?P<str>'(?:[^']|'')*')|(?P<qid>"[^"]*")|(?P<num>\d+(?:\.\d+)?)"""
    r"""|(?P<id>[A-Za-z_][\w.]*)|(?P<op><>|!=|<=|>=|=|<|>|\(|\)|,|\*|;))"""
)

_KEYWORDS = {
    "select",
    "distinct",
    "from",
    "where",
    "and",
    "or",
    "not",
    "like",
    "in",
    "is",
    "null",
    "order",
    "by",
    "asc",
    "desc",
    "limit",
    "as",
}


@dataclass
class _Tok:
    kind: str  # str, id, num, op, kw
    value: str


def _sql_tokens(query: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    query = query.rstrip()
    while pos < len(query):
        m = _SQL_TOKEN.match(query, pos)
        if m is None or m.end() == pos:
            rest = query[pos:].strip()
            if not rest:
                break
            raise SqlError(f"cannot read the query at {rest[:30]!r}")
        pos = m.end()
        if m.group("str") is not None:
            tokens.append(_Tok("str", m.group("str")[1:-1].replace("''", "'")))
        elif m.group("qid") is not None:
            tokens.append(_Tok("qid", m.group("qid")[1:-1]))
        elif m.group("num") is not None:
            tokens.append(_Tok("num", m.group("num")))
        elif m.group("id") is not None:
            word = m.group("id")
            if word.lower() in _KEYWORDS:
                tokens.append(_Tok("kw", word.lower()))
            else:
                tokens.append(_Tok("id", word))
        else:
            tokens.append(_Tok("op", m.group("op")))
    return tokens


Row = Mapping[str, str | None]
Cond = Callable[[Row], bool | None]


_COMPARATORS = frozenset({"=", "<>", "!=", "<", ">", "<=", ">="})


class _SqlParser:
    def __init__(self, tokens: list[_Tok], columns: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.by_lower = {c.lower(): c for c in columns}

    def peek(self, kind: str | None = None, value: str | None = None) -> bool:
        if self.pos >= len(self.tokens):
            return False
        tok = self.tokens[self.pos]
        return (kind is None or tok.kind == kind) and (value is None or tok.value == value)

    def take(self, kind: str | None = None, value: str | None = None) -> _Tok:
        if not self.peek(kind, value):
            got = self.tokens[self.pos].value if self.pos < len(self.tokens) else "the end"
            wanted = value or kind or "more"
            raise SqlError(f"expected {wanted!r}, found {got!r}")
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def column(self, name: str) -> str:
        col = self.by_lower.get(name.lower())
        if col is None:
            known = ", ".join(sorted(self.by_lower.values()))
            raise SqlError(f"unknown column {name!r} (available: {known})")
        return col

    def value(self) -> Callable[[Row], str | float | None]:
        if self.peek("str"):
            text = self.take().value
            return lambda row: text
        if self.peek("num"):
            num = float(self.take().value)
            return lambda row: num
        if self.peek("kw", "null"):
            self.take()
            return lambda row: None
        if self.peek("qid"):
            name = self.take().value
            if name.lower() in self.by_lower:
                col = self.column(name)
                return lambda row: row.get(col)
            return lambda row: name  # SQLite: an unknown "x" is a string
        if self.peek("id"):
            col = self.column(self.take().value)
            return lambda row: row.get(col)
        got = self.tokens[self.pos].value if self.pos < len(self.tokens) else "the end"
        raise SqlError(f"expected a column or a value, found {got!r}")

    def condition(self) -> Cond:
        left = self.conjunction()
        while self.peek("kw", "or"):
            self.take()
            right = self.conjunction()
            left = _or(left, right)
        return left

    def conjunction(self) -> Cond:
        left = self.negation()
        while self.peek("kw", "and"):
            self.take()
            right = self.negation()
            left = _and(left, right)
        return left

    def negation(self) -> Cond:
        if self.peek("kw", "not"):
            self.take()
            inner = self.negation()
            return lambda row: None if (v := inner(row)) is None else not v
        return self.primary()

    def primary(self) -> Cond:
        if self.peek("op", "("):
            self.take()
            inner = self.condition()
            self.take("op", ")")
            return inner
        left = self.value()
        negate = False
        if self.peek("kw", "is"):
            self.take()
            if self.peek("kw", "not"):
                self.take()
                negate = True
            self.take("kw", "null")
            return lambda row: (left(row) is None) != negate
        if self.peek("kw", "not"):
            self.take()
            negate = True
        if self.peek("kw", "like"):
            self.take()
            pattern = self.value()
            return _negated(lambda row: _like(left(row), pattern(row)), negate)
        if self.peek("kw", "in"):
            self.take()
            self.take("op", "(")
            options = [self.value()]
            while self.peek("op", ","):
                self.take()
                options.append(self.value())
            self.take("op", ")")
            return _negated(lambda row: _in(left(row), [o(row) for o in options]), negate)
        if negate:
            raise SqlError("'not' must be followed by 'like' or 'in' here")
        if self.peek("op") and self.tokens[self.pos].value in (
            "=",
            "<>",
            "!=",
            "<",
            ">",
            "<=",
            ">=",
        ):
            op = self.take().value
            right = self.value()
            return lambda row: _sql_compare(left(row), op, right(row))
        got = self.tokens[self.pos].value if self.pos < len(self.tokens) else "the end"
        raise SqlError(f"expected a comparison, found {got!r}")


def _negated(cond: Cond, negate: bool) -> Cond:
    if not negate:
        return cond
    return lambda row: None if (v := cond(row)) is None else not v


def _combine(a: Cond, b: Cond, dominant: bool) -> Cond:
    """SQL three-valued AND (``dominant`` False) or OR (``dominant`` True): the dominant
    value wins, else unknown (None) stays unknown."""

    def both(row: Row) -> bool | None:
        x, y = a(row), b(row)
        if x is dominant or y is dominant:
            return dominant
        if x is None or y is None:
            return None
        return not dominant

    return both


def _and(a: Cond, b: Cond) -> Cond:
    return _combine(a, b, False)


def _or(a: Cond, b: Cond) -> Cond:
    return _combine(a, b, True)


def like_to_regex(pattern: str) -> re.Pattern[str]:
    """SQL ``LIKE`` pattern (``%``, ``_``) as a case-insensitive regular expression."""
    out = []
    for ch in pattern:
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _like(value: Any, pattern: Any) -> bool | None:
    if value is None or pattern is None:
        return None
    return like_to_regex(str(pattern)).fullmatch(str(value)) is not None


def _in(value: Any, options: list[Any]) -> bool | None:
    if value is None:
        return None
    return any(value == o or (isinstance(o, float) and _num(value) == o) for o in options)


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _sql_compare(left: Any, op: str, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    if isinstance(left, float) or isinstance(right, float):
        lnum, rnum = _num(left), _num(right)
        if lnum is None or rnum is None:
            left, right = str(left), str(right)
        else:
            left, right = lnum, rnum
    if op == "=":
        return bool(left == right)
    if op in ("<>", "!="):
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == ">":
        return bool(left > right)
    if op == "<=":
        return bool(left <= right)
    return bool(left >= right)


def _sort_key(col: str) -> Callable[[Row], tuple[bool, str]]:
    return lambda r: (r.get(col) is None, str(r.get(col) or "").lower())


@dataclass
class SqlResult:
    columns: list[str]
    rows: list[dict[str, str | None]]


def run_sql(query: str, rows: list[dict[str, str]], columns: list[str] | None = None) -> SqlResult:
    """Run ``select <cols> from Resources [where ...] [order by ...] [limit n]``.

    ``rows`` are the table; ``columns`` its column names (default: the keys of the rows,
    in first-seen order). Raises :class:`SqlError` with the reason for anything else.
    """
    if columns is None:
        columns = []
        for row in rows:
            for key in row:
                if key not in columns:
                    columns.append(key)
    parser = _SqlParser(_sql_tokens(query), columns)
    parser.take("kw", "select")
    distinct = False
    if parser.peek("kw", "distinct"):
        parser.take()
        distinct = True
    selected: list[tuple[str, str]] = []  # (column, output name)
    if parser.peek("op", "*"):
        parser.take()
        selected = [(c, c) for c in columns]
    else:
        while True:
            tok = parser.take()
            if tok.kind == "id" and parser.peek("op", "("):
                raise SqlError(f"functions are not supported ({tok.value}(...))")
            if tok.kind not in ("id", "qid"):
                raise SqlError(f"only plain columns can be selected, found {tok.value!r}")
            col = parser.column(tok.value)
            name = col
            if parser.peek("kw", "as"):
                parser.take()
                name = parser.take().value
            selected.append((col, name))
            if not parser.peek("op", ","):
                break
            parser.take()
    parser.take("kw", "from")
    table = parser.take()
    if table.value.lower() != "resources":
        raise SqlError(f"only the Resources table is available, not {table.value!r}")
    cond: Cond | None = None
    if parser.peek("kw", "where"):
        parser.take()
        cond = parser.condition()
    order: list[tuple[str, bool]] = []
    if parser.peek("kw", "order"):
        parser.take()
        parser.take("kw", "by")
        while True:
            col = parser.column(parser.take().value)
            desc = False
            if parser.peek("kw", "asc") or parser.peek("kw", "desc"):
                desc = parser.take().value == "desc"
            order.append((col, desc))
            if not parser.peek("op", ","):
                break
            parser.take()
    limit: int | None = None
    if parser.peek("kw", "limit"):
        parser.take()
        limit = int(float(parser.take("num").value))
    if parser.peek("op", ";"):
        parser.take()
    if parser.pos < len(parser.tokens):
        raise SqlError(f"not supported: {parser.tokens[parser.pos].value!r} and what follows")
    matched = [r for r in rows if cond is None or cond(r) is True]
    for col, desc in reversed(order):
        matched.sort(key=_sort_key(col), reverse=desc)
    if limit is not None:
        matched = matched[:limit]
    out: list[dict[str, str | None]] = []
    seen: set[tuple[str | None, ...]] = set()
    for r in matched:
        item = {name: r.get(col) for col, name in selected}
        if distinct:
            values = tuple(item.values())
            if values in seen:
                continue
            seen.add(values)
        out.append(item)
    return SqlResult([name for _, name in selected], out)
