"""FHIRPath string, conversion and math functions for igtools' engine (:mod:`fhirpath`)."""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .fhirpath_model import (
    Env,
    Fn,
)
from .fhirpath_model import value_of as V
from .fhirpath_ops import _arg, _dec, _int_arg, _is_num, _kind, _single, _str_arg, _str_in
from .fhirpath_values import (
    FhirPathError,
    Quantity,
    Temporal,
    format_decimal,
    parse_quantity,
)

Impl = Callable[[list[Any], Env, list[Fn]], list[Any]]

# ------------------------------------------------------------------------------ strings


def _string_fn(fn: Callable[[str, Env, list[Fn]], Any], fname: str) -> Impl:
    def impl(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
        s = _str_in(inp, fname)
        if s is None:
            return []
        r = fn(s, env, args)
        if r is None:
            return []
        return r if isinstance(r, list) else [r]

    return impl


def _index_of(s: str, env: Env, args: list[Fn]) -> Any:
    sub = _str_arg(env, args[0], "indexOf")
    return None if sub is None else s.find(sub)


def _substring(s: str, env: Env, args: list[Fn]) -> Any:
    start = _int_arg(env, args[0], "substring")
    if start is None or start < 0 or start >= len(s):
        return None
    if len(args) > 1:
        n = _int_arg(env, args[1], "substring")
        if n is None:
            return s[start:]
        return s[start : start + max(n, 0)]
    return s[start:]


def _starts_with(s: str, env: Env, args: list[Fn]) -> Any:
    p = _str_arg(env, args[0], "startsWith")
    return None if p is None else s.startswith(p)


def _ends_with(s: str, env: Env, args: list[Fn]) -> Any:
    p = _str_arg(env, args[0], "endsWith")
    return None if p is None else s.endswith(p)


def _contains_str(s: str, env: Env, args: list[Fn]) -> Any:
    p = _str_arg(env, args[0], "contains")
    return None if p is None else p in s


def _replace(s: str, env: Env, args: list[Fn]) -> Any:
    a = _str_arg(env, args[0], "replace")
    b = _str_arg(env, args[1], "replace")
    if a is None or b is None:
        return None
    return s.replace(a, b)


_REGEX_CACHE: dict[str, re.Pattern[str]] = {}


def _regex(pattern: str) -> re.Pattern[str]:
    got = _REGEX_CACHE.get(pattern)
    if got is None:
        try:
            got = re.compile(pattern, re.DOTALL)
        except re.error as exc:
            raise FhirPathError(f"invalid regular expression {pattern!r}: {exc}") from exc
        _REGEX_CACHE[pattern] = got
    return got


def _matches(s: str, env: Env, args: list[Fn]) -> Any:
    p = _str_arg(env, args[0], "matches")
    return None if p is None else _regex(p).search(s) is not None


def _matches_full(s: str, env: Env, args: list[Fn]) -> Any:
    p = _str_arg(env, args[0], "matchesFull")
    return None if p is None else _regex(p).fullmatch(s) is not None


def _replace_matches(s: str, env: Env, args: list[Fn]) -> Any:
    p = _str_arg(env, args[0], "replaceMatches")
    r = _str_arg(env, args[1], "replaceMatches")
    if p is None or r is None:
        return None
    if not p:
        return s
    repl = re.sub(r"\$(\d+)", r"\\g<\1>", r)
    return _regex(p).sub(repl, s)


def _split(s: str, env: Env, args: list[Fn]) -> Any:
    sep = _str_arg(env, args[0], "split")
    if sep is None:
        return None
    return s.split(sep) if sep else list(s)


def _encode(s: str, env: Env, args: list[Fn]) -> Any:
    how = _str_arg(env, args[0], "encode")
    raw = s.encode("utf-8")
    if how == "base64":
        return base64.b64encode(raw).decode("ascii")
    if how == "urlbase64":
        return base64.urlsafe_b64encode(raw).decode("ascii")
    if how == "hex":
        return raw.hex()
    raise FhirPathError(f"encode(): unknown encoding {how}")


def _decode(s: str, env: Env, args: list[Fn]) -> Any:
    how = _str_arg(env, args[0], "decode")
    try:
        if how == "base64":
            return base64.b64decode(s).decode("utf-8")
        if how == "urlbase64":
            return base64.urlsafe_b64decode(s).decode("utf-8")
        if how == "hex":
            return bytes.fromhex(s).decode("utf-8")
    except ValueError:
        return None
    raise FhirPathError(f"decode(): unknown encoding {how}")


def _escape(s: str, env: Env, args: list[Fn]) -> Any:
    how = _str_arg(env, args[0], "escape")
    if how == "html":
        return html.escape(s, quote=True).replace("&#x27;", "&#39;")
    if how == "json":
        return json.dumps(s)[1:-1]
    raise FhirPathError(f"escape(): unknown target {how}")


def _unescape_fn(s: str, env: Env, args: list[Fn]) -> Any:
    how = _str_arg(env, args[0], "unescape")
    if how == "html":
        return html.unescape(s)
    if how == "json":
        return _JSON_ESC.sub(_json_unescape, s)
    raise FhirPathError(f"unescape(): unknown target {how}")


_JSON_ESC = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_JSON_CHARS = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _json_unescape(m: re.Match[str]) -> str:
    c = m[1]
    if c.startswith("u") and len(c) == 5:
        return chr(int(c[1:], 16))
    return _JSON_CHARS.get(c, c)


def f_join(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    sep = _str_arg(env, args[0], "join") if args else ""
    parts = []
    for x in inp:
        v = V(x)
        if not isinstance(v, str):
            raise FhirPathError("join() expects strings")
        parts.append(v)
    return ["".join(parts) if sep is None else (sep or "").join(parts)]


def f_length(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    s = _str_in(inp, "length")
    return [] if s is None else [len(s)]


# ------------------------------------------------------------------------------ conversions

_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}
_INT_RE = re.compile(r"[+-]?\d+")
_DEC_RE = re.compile(r"[+-]?\d+(\.\d+)?")


def _to_boolean(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return {1: True, 0: False}.get(v)
    if isinstance(v, Decimal):
        return True if v == 1 else False if v == 0 else None
    if isinstance(v, str):
        low = v.lower()
        return True if low in _TRUE else False if low in _FALSE else None
    return None


def _to_integer(v: Any) -> Any:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, str) and _INT_RE.fullmatch(v):
        return int(v)
    return None


def _to_decimal(v: Any) -> Any:
    if isinstance(v, bool):
        return Decimal(int(v))
    if _is_num(v):
        return _dec(v)
    if isinstance(v, str) and _DEC_RE.fullmatch(v):
        return Decimal(v)
    return None


def _to_string(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        return format_decimal(v)
    if isinstance(v, str):
        return v
    if isinstance(v, Temporal | Quantity):
        return str(v)
    return None


def _to_date(v: Any) -> Any:
    if isinstance(v, Temporal) and v.kind != "time":
        return Temporal("date", v.parts[:3], None, False, False)
    if isinstance(v, str):
        t = Temporal.parse(v, "date")
        if t is not None:
            return Temporal("date", t.parts[:3], None, False, False)
    return None


def _to_datetime(v: Any) -> Any:
    if isinstance(v, Temporal) and v.kind != "time":
        return Temporal("dateTime", v.parts, v.tz, v.secs, v.frac)
    if isinstance(v, str):
        t = Temporal.parse(v, "dateTime")
        if t is not None:
            return Temporal("dateTime", t.parts, t.tz, t.secs, t.frac)
    return None


def _to_time(v: Any) -> Any:
    if isinstance(v, Temporal) and v.kind == "time":
        return v
    if isinstance(v, str):
        return Temporal.parse(v, "time")
    return None


def _to_quantity(v: Any) -> Any:
    if isinstance(v, Quantity):
        return v
    if isinstance(v, bool):
        return Quantity(Decimal("1.0") if v else Decimal("0.0"), "1")
    if _is_num(v):
        return Quantity(_dec(v), "1")
    if isinstance(v, str):
        return parse_quantity(v)
    return None


def _conversion(conv: Callable[[Any], Any], test: bool) -> Impl:
    def impl(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
        item = _single(inp)
        if item is None:
            return []
        r = conv(V(item))
        if args and r is not None and isinstance(r, Quantity):
            unit = _str_arg(env, args[0], "toQuantity")
            if unit is not None and unit != r.unit:
                target = Quantity(Decimal(1), unit)
                cr, ct = r.canonical(True), target.canonical(True)
                r = Quantity(cr[1] / ct[1], unit) if cr and ct and cr[0] == ct[0] else None
        if test:
            return [r is not None]
        return [] if r is None else [r]

    return impl


# ------------------------------------------------------------------------------ math


def _math(fn: Callable[[Any], Any]) -> Impl:
    def impl(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
        v = V(_single(inp))
        if v is None:
            return []
        if isinstance(v, Quantity):
            return [Quantity(fn(v.value), v.unit)]
        if not _is_num(v):
            raise FhirPathError(f"{_kind(v)} is not a number")
        r = fn(v)
        return [] if r is None else [r]

    return impl


def _ln(v: Any) -> Any:
    return None if v <= 0 else _dec(v).ln()


def _sqrt(v: Any) -> Any:
    return None if v < 0 else _dec(v).sqrt()


def f_log(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    v = V(_single(inp))
    base = V(_single(_arg(env, args[0])))
    if v is None or base is None:
        return []
    if v <= 0 or base <= 0 or base == 1:
        return []
    return [_dec(v).ln() / _dec(base).ln()]


def f_power(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    v = V(_single(inp))
    e = V(_single(_arg(env, args[0])))
    if v is None or e is None:
        return []
    if isinstance(v, int) and isinstance(e, int) and e >= 0:
        return [v**e]
    try:
        r = _dec(v) ** _dec(e)
    except InvalidOperation:
        return []
    return [] if r.is_nan() else [r]


def f_round(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    v = V(_single(inp))
    if v is None:
        return []
    n = _int_arg(env, args[0], "round") if args else 0
    if n is None or n < 0:
        raise FhirPathError("round() expects a non-negative precision")
    return [_dec(v).quantize(Decimal(1).scaleb(-n), rounding=ROUND_HALF_UP)]


def _truncate(v: Any) -> Any:
    return int(_dec(v).to_integral_value(rounding=ROUND_DOWN))


# name -> (implementation, min args, max args, arguments are type names)
TEXT_FUNCTIONS: dict[str, tuple[Impl, int, int, bool]] = {
    "indexOf": (_string_fn(_index_of, "indexOf"), 1, 1, False),
    "substring": (_string_fn(_substring, "substring"), 1, 2, False),
    "startsWith": (_string_fn(_starts_with, "startsWith"), 1, 1, False),
    "endsWith": (_string_fn(_ends_with, "endsWith"), 1, 1, False),
    "contains": (_string_fn(_contains_str, "contains"), 1, 1, False),
    "upper": (_string_fn(lambda s, e, a: s.upper(), "upper"), 0, 0, False),
    "lower": (_string_fn(lambda s, e, a: s.lower(), "lower"), 0, 0, False),
    "replace": (_string_fn(_replace, "replace"), 2, 2, False),
    "matches": (_string_fn(_matches, "matches"), 1, 1, False),
    "matchesFull": (_string_fn(_matches_full, "matchesFull"), 1, 1, False),
    "replaceMatches": (_string_fn(_replace_matches, "replaceMatches"), 2, 2, False),
    "length": (f_length, 0, 0, False),
    "toChars": (_string_fn(lambda s, e, a: list(s), "toChars"), 0, 0, False),
    "split": (_string_fn(_split, "split"), 1, 1, False),
    "join": (f_join, 0, 1, False),
    "trim": (_string_fn(lambda s, e, a: s.strip(), "trim"), 0, 0, False),
    "encode": (_string_fn(_encode, "encode"), 1, 1, False),
    "decode": (_string_fn(_decode, "decode"), 1, 1, False),
    "escape": (_string_fn(_escape, "escape"), 1, 1, False),
    "unescape": (_string_fn(_unescape_fn, "unescape"), 1, 1, False),
    "toBoolean": (_conversion(_to_boolean, False), 0, 0, False),
    "convertsToBoolean": (_conversion(_to_boolean, True), 0, 0, False),
    "toInteger": (_conversion(_to_integer, False), 0, 0, False),
    "convertsToInteger": (_conversion(_to_integer, True), 0, 0, False),
    "toDecimal": (_conversion(_to_decimal, False), 0, 0, False),
    "convertsToDecimal": (_conversion(_to_decimal, True), 0, 0, False),
    "toString": (_conversion(_to_string, False), 0, 0, False),
    "convertsToString": (_conversion(_to_string, True), 0, 0, False),
    "toDate": (_conversion(_to_date, False), 0, 0, False),
    "convertsToDate": (_conversion(_to_date, True), 0, 0, False),
    "toDateTime": (_conversion(_to_datetime, False), 0, 0, False),
    "convertsToDateTime": (_conversion(_to_datetime, True), 0, 0, False),
    "toTime": (_conversion(_to_time, False), 0, 0, False),
    "convertsToTime": (_conversion(_to_time, True), 0, 0, False),
    "toQuantity": (_conversion(_to_quantity, False), 0, 1, False),
    "convertsToQuantity": (_conversion(_to_quantity, True), 0, 1, False),
    "abs": (_math(abs), 0, 0, False),
    "ceiling": (_math(lambda v: math.ceil(v)), 0, 0, False),
    "floor": (_math(lambda v: math.floor(v)), 0, 0, False),
    "exp": (_math(lambda v: _dec(v).exp()), 0, 0, False),
    "ln": (_math(_ln), 0, 0, False),
    "sqrt": (_math(_sqrt), 0, 0, False),
    "truncate": (_math(_truncate), 0, 0, False),
    "log": (f_log, 1, 1, False),
    "power": (f_power, 1, 1, False),
    "round": (f_round, 0, 1, False),
}
