"""FHIRPath system values: Date, DateTime, Time and Quantity, with the FHIRPath rules for
equality (``=``), equivalence (``~``), ordering and date arithmetic.

Used by :mod:`fhirpath` (the engine); stdlib only.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any


class FhirPathError(Exception):
    """An expression that cannot be compiled or evaluated (the message says why)."""


# ------------------------------------------------------------------------------ temporal

_DT_RE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?"
    r"(T(?:(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?)?)?"
    r"(Z|[+-]\d{2}:\d{2})?"
)
_TIME_RE = re.compile(r"T?(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?")


class Temporal:
    """A Date, DateTime or Time of some precision.

    ``parts``: (year, month, day, hour, minute, millisecond-of-minute) for dates and
    date-times, (hour, minute, millisecond-of-minute) for times, cut at the precision.
    ``frac``: the seconds were given with a fraction (kept when printing).
    ``tz``: the offset in minutes (None: none given).
    """

    __slots__ = ("frac", "kind", "parts", "secs", "tz")

    def __init__(
        self, kind: str, parts: tuple[int, ...], tz: int | None, secs: bool, frac: bool
    ) -> None:
        self.kind = kind  # date | dateTime | time
        self.parts = parts
        self.tz = tz
        self.secs = secs  # seconds given (the last part is then minute-milliseconds)
        self.frac = frac

    @staticmethod
    def parse(text: str, kind: str) -> Temporal | None:
        """A Date/DateTime (``kind`` date or dateTime) or Time from FHIR or literal text."""
        if kind == "time":
            m = _TIME_RE.fullmatch(text)
            if m is None:
                return None
            hh, mi, ss, ff = m.groups()
            parts = [int(hh)]
            if mi is not None:
                parts.append(int(mi))
            if ss is not None:
                parts.append(int(ss) * 1000 + _millis(ff))
            return Temporal("time", tuple(parts), None, ss is not None, ff is not None)
        m = _DT_RE.fullmatch(text)
        if m is None:
            return None
        y, mo, d, t, hh, mi, ss, ff, tz = m.groups()
        if kind == "date" and (t is not None or tz is not None):
            kind = "dateTime"
        parts = [int(y)]
        for v in (mo, d, hh, mi):
            if v is None:
                break
            parts.append(int(v))
        if ss is not None and len(parts) == 5:
            parts.append(int(ss) * 1000 + _millis(ff))
        if len(parts) >= 2 and not 1 <= parts[1] <= 12:
            return None
        if len(parts) >= 3 and not 1 <= parts[2] <= calendar.monthrange(parts[0], parts[1])[1]:
            return None
        offset = None
        if tz is not None:
            offset = (
                0 if tz == "Z" else (int(tz[1:3]) * 60 + int(tz[4:6])) * (-1 if tz[0] == "-" else 1)
            )
        return Temporal(kind, tuple(parts), offset, ss is not None, ff is not None)

    def __str__(self) -> str:
        p = self.parts
        if self.kind == "time":
            out = f"{p[0]:02d}"
            if len(p) > 1:
                out += f":{p[1]:02d}"
            if len(p) > 2:
                out += f":{p[2] // 1000:02d}" + (f".{p[2] % 1000:03d}" if self.frac else "")
            return out
        out = f"{p[0]:04d}"
        if len(p) > 1:
            out += f"-{p[1]:02d}"
        if len(p) > 2:
            out += f"-{p[2]:02d}"
        if len(p) > 3:
            out += f"T{p[3]:02d}"
        if len(p) > 4:
            out += f":{p[4]:02d}"
        if len(p) > 5:
            out += f":{p[5] // 1000:02d}" + (f".{p[5] % 1000:03d}" if self.frac else "")
        if self.tz is not None and len(p) > 3:
            if self.tz == 0:
                out += "Z"
            else:
                sign = "-" if self.tz < 0 else "+"
                out += f"{sign}{abs(self.tz) // 60:02d}:{abs(self.tz) % 60:02d}"
        return out

    def __repr__(self) -> str:
        return f"@{'T' if self.kind == 'time' else ''}{self}"

    def utc_parts(self) -> tuple[int, ...]:
        if self.tz is None or self.tz == 0 or self.kind == "time" or len(self.parts) < 4:
            return self.parts
        dt = _to_datetime(self.parts) - timedelta(minutes=self.tz)
        return _from_datetime(dt, len(self.parts))

    def precision(self) -> int:
        """Digits of precision as FHIRPath's precision() counts them."""
        p = self.parts
        if self.kind == "time":
            return (2, 4, 9 if self.frac else 6)[len(p) - 1] if p else 0
        return (4, 6, 8, 10, 12, 17 if self.frac else 14)[len(p) - 1]


def _millis(ff: str | None) -> int:
    return int((ff or "0")[:3].ljust(3, "0"))


def _to_datetime(p: tuple[int, ...]) -> datetime:
    ms = p[5] if len(p) > 5 else 0
    return datetime(
        p[0],
        p[1] if len(p) > 1 else 1,
        p[2] if len(p) > 2 else 1,
        p[3] if len(p) > 3 else 0,
        p[4] if len(p) > 4 else 0,
        ms // 1000,
        (ms % 1000) * 1000,
    )


def _from_datetime(dt: datetime, n: int) -> tuple[int, ...]:
    full = (
        dt.year,
        dt.month,
        dt.day,
        dt.hour,
        dt.minute,
        dt.second * 1000 + dt.microsecond // 1000,
    )
    return full[:n]


def compare_temporal(a: Temporal, b: Temporal) -> int | None:
    """-1, 0, 1, or None when the precisions differ before an answer is found."""
    if (a.kind == "time") != (b.kind == "time"):
        raise FhirPathError(f"cannot compare {a!r} and {b!r}")
    if (a.tz is None) != (b.tz is None) and len(a.parts) > 3 and len(b.parts) > 3:
        return None  # one local, one with an offset: no answer
    if a.tz is not None and b.tz is not None:
        pa, pb = a.utc_parts(), b.utc_parts()
    else:
        pa, pb = a.parts, b.parts
    # seconds and their fraction are one precision; minutes and seconds compare together
    for x, y in zip(pa, pb, strict=False):
        if x != y:
            return -1 if x < y else 1
    if len(pa) == len(pb):
        return 0
    return None


# calendar keyword -> (canonical keyword, milliseconds or None for year/month)
_CAL_UNITS: dict[str, str] = {}
for _w in ("year", "month", "week", "day", "hour", "minute", "second", "millisecond"):
    _CAL_UNITS[_w] = _w
    _CAL_UNITS[_w + "s"] = _w
_CAL_TO_UCUM = {
    "year": "a",
    "month": "mo",
    "week": "wk",
    "day": "d",
    "hour": "h",
    "minute": "min",
    "second": "s",
    "millisecond": "ms",
}
_MS = {
    "week": 7 * 86_400_000,
    "day": 86_400_000,
    "hour": 3_600_000,
    "minute": 60_000,
    "second": 1000,
    "millisecond": 1,
}
_UCUM_ARITH = {
    "wk": "week",
    "d": "day",
    "h": "hour",
    "min": "minute",
    "s": "second",
    "ms": "millisecond",
}


def add_duration(t: Temporal, q: Quantity, sign: int) -> Temporal:
    """``t + q`` (sign 1) or ``t - q`` (sign -1) for a time-valued quantity."""
    unit = _CAL_UNITS.get(q.unit) or _UCUM_ARITH.get(q.unit)
    if unit is None:
        raise FhirPathError(f"cannot add {q} to a date/time (calendar duration expected)")
    n = int(q.value) * sign
    p = list(t.parts)
    if t.kind == "time":
        if unit in ("year", "month", "week", "day"):
            raise FhirPathError(f"cannot add {q} to a time")
        base = p[0] * 3_600_000 + (p[1] if len(p) > 1 else 0) * 60_000 + (p[2] if len(p) > 2 else 0)
        step = {1: 3_600_000, 2: 60_000, 3: 1}[len(p)]
        delta = n * _MS[unit]
        delta = int(delta / step) * step
        total = (base + delta) % 86_400_000
        full = (total // 3_600_000, total // 60_000 % 60, total % 60_000)
        return Temporal("time", full[: len(p)], None, t.secs, t.frac)
    if unit in ("year", "month"):
        months = n * 12 if unit == "year" else n
        if len(p) == 1:
            p[0] += int(months / 12)
            return Temporal(t.kind, tuple(p), t.tz, t.secs, t.frac)
        y, m = divmod(p[0] * 12 + (p[1] - 1) + months, 12)
        p[0], p[1] = y, m + 1
        if len(p) > 2:
            p[2] = min(p[2], calendar.monthrange(y, m + 1)[1])
        return Temporal(t.kind, tuple(p), t.tz, t.secs, t.frac)
    ms = n * _MS[unit]
    if len(p) == 1:
        p[0] += int(ms / (365 * 86_400_000))
        return Temporal(t.kind, tuple(p), t.tz, t.secs, t.frac)
    if len(p) == 2:
        return add_duration(t, Quantity(Decimal(int(ms / (30 * 86_400_000))), "month"), 1)
    step = {3: 86_400_000, 4: 3_600_000, 5: 60_000, 6: 1}[len(p)]
    ms = int(ms / step) * step
    dt = _to_datetime(tuple(p)) + timedelta(milliseconds=ms)
    return Temporal(t.kind, _from_datetime(dt, len(p)), t.tz, t.secs, t.frac)


# ------------------------------------------------------------------------------ quantity

# UCUM units igtools can convert: unit -> (dimension, factor to the base unit)
_UCUM: dict[str, tuple[str, Decimal]] = {
    "1": ("1", Decimal(1)),
    "%": ("1", Decimal("0.01")),
    "m": ("L", Decimal(1)),
    "km": ("L", Decimal(1000)),
    "cm": ("L", Decimal("0.01")),
    "mm": ("L", Decimal("0.001")),
    "um": ("L", Decimal("0.000001")),
    "[in_i]": ("L", Decimal("0.0254")),
    "[ft_i]": ("L", Decimal("0.3048")),
    "g": ("M", Decimal(1)),
    "kg": ("M", Decimal(1000)),
    "mg": ("M", Decimal("0.001")),
    "ug": ("M", Decimal("0.000001")),
    "[lb_av]": ("M", Decimal("453.59237")),
    "L": ("V", Decimal(1)),
    "dL": ("V", Decimal("0.1")),
    "mL": ("V", Decimal("0.001")),
    "s": ("T", Decimal(1)),
    "ms": ("T", Decimal("0.001")),
    "min": ("T", Decimal(60)),
    "h": ("T", Decimal(3600)),
    "d": ("T", Decimal(86400)),
    "wk": ("T", Decimal(604800)),
    "mo": ("T", Decimal(2629800)),
    "a": ("T", Decimal(31557600)),
    "Cel": ("C", Decimal(1)),
    "mmol/L": ("mol/V", Decimal("0.001")),
    "mg/dL": ("M/V", Decimal("0.01")),
    "g/L": ("M/V", Decimal("1")),
}


class Quantity:
    """A FHIRPath Quantity: a decimal and a UCUM code or a calendar keyword."""

    __slots__ = ("unit", "value")

    def __init__(self, value: Decimal, unit: str) -> None:
        self.value = value
        self.unit = unit or "1"

    def __str__(self) -> str:
        v = format_decimal(self.value)
        return f"{v} {self.unit}" if self.unit in _CAL_UNITS else f"{v} '{self.unit}'"

    __repr__ = __str__

    def canonical(self, equivalence: bool = False) -> tuple[str, Decimal] | None:
        """(dimension, value in the base unit), None when the unit is not convertible."""
        unit = self.unit
        if unit in _CAL_UNITS:
            word = _CAL_UNITS[unit]
            if word in ("year", "month"):
                if not equivalence:
                    return ("cal-" + word, self.value)
                unit = _CAL_TO_UCUM[word]
            else:
                unit = _CAL_TO_UCUM[word]
        found = _UCUM.get(unit)
        if found is None:
            return None
        return found[0], self.value * found[1]


def quantity_compare(a: Quantity, b: Quantity, equivalence: bool = False) -> int | None:
    """Order of two quantities (None: not comparable)."""
    if a.unit == b.unit or _CAL_UNITS.get(a.unit, a.unit) == _CAL_UNITS.get(b.unit, b.unit):
        return (a.value > b.value) - (a.value < b.value)
    ca, cb = a.canonical(equivalence), b.canonical(equivalence)
    if ca is None or cb is None or ca[0] != cb[0]:
        return None
    x, y = ca[1], cb[1]
    if equivalence:
        places = min(_places(a.value), _places(b.value))
        q = Decimal(1).scaleb(-places)
        x, y = x.quantize(q, ROUND_HALF_UP), y.quantize(q, ROUND_HALF_UP)
    return (x > y) - (x < y)


_QTY_RE = re.compile(r"\s*([+-]?\d+(?:\.\d+)?)\s*(?:'([^']*)'|([a-z]+))?\s*")


def parse_quantity(text: str) -> Quantity | None:
    m = _QTY_RE.fullmatch(text)
    if m is None:
        return None
    unit = m[2] if m[2] is not None else (m[3] or "1")
    if m[3] is not None and m[3] not in _CAL_UNITS:
        return None
    return Quantity(Decimal(m[1]), unit)


# ------------------------------------------------------------------------------ numbers


def to_decimal(v: Any) -> Decimal:
    if isinstance(v, Decimal):
        return v
    if isinstance(v, float):
        return Decimal(repr(v))
    return Decimal(v)


def _places(d: Decimal) -> int:
    exp = d.as_tuple().exponent
    return -exp if isinstance(exp, int) and exp < 0 else 0


def format_decimal(d: Decimal) -> str:
    text = format(d, "f")
    return text


def decimal_of(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def equivalent_decimals(a: Decimal, b: Decimal) -> bool:
    places = min(_places(a), _places(b))
    q = Decimal(1).scaleb(-places)
    return a.quantize(q, ROUND_HALF_UP) == b.quantize(q, ROUND_HALF_UP)


# ------------------------------------------------------------------------------ boundaries


def decimal_boundary(v: Decimal, precision: int | None, high: bool) -> Decimal | None:
    """lowBoundary()/highBoundary() of a decimal: the range its digits stand for."""
    p = 8 if precision is None else precision
    if p < 0 or p > 28:
        return None
    d = _places(v)
    q = Decimal(1).scaleb(-p)
    if v != 0 and abs(v) < q:
        return Decimal(0).quantize(q).copy_sign(v)
    half = Decimal(5).scaleb(-(d + 1))
    b = v + half if high else v - half
    if p >= d + 1:
        return b.quantize(q)
    return b.quantize(q, rounding=ROUND_CEILING if high else ROUND_FLOOR)


_DT_LEVELS = {4: 1, 6: 2, 8: 3, 10: 4, 12: 5, 14: 6, 17: 6}
_TIME_LEVELS = {2: 1, 4: 2, 6: 3, 9: 3}


def temporal_boundary(t: Temporal, precision: int | None, high: bool) -> Temporal | None:
    """lowBoundary()/highBoundary() of a date, date-time or time at ``precision`` digits."""
    if t.kind == "time":
        p = 9 if precision is None else precision
        n = _TIME_LEVELS.get(p)
        if n is None:
            return None
        parts = list(t.parts)
        while len(parts) < n:
            parts.append((23, 59, 59_999)[len(parts)] if high else 0)
        return Temporal("time", tuple(parts[:n]), None, n == 3, p == 9)
    p = (8 if t.kind == "date" else 17) if precision is None else precision
    n = _DT_LEVELS.get(p)
    if n is None:
        return None
    parts = list(t.parts)
    if len(parts) == 4:
        parts.append(0)  # an hour alone stands for hh:00
    while len(parts) < n:
        i = len(parts)
        if not high:
            parts.append((0, 1, 1, 0, 0, 0)[i])
        elif i == 2:
            parts.append(calendar.monthrange(parts[0], parts[1])[1])
        else:
            parts.append((0, 12, 0, 23, 59, 59_999)[i])
    tz = None
    if n > 3:
        tz = t.tz if t.tz is not None else (-720 if high else 840)
    kind = "date" if n <= 3 and t.kind == "date" else t.kind
    return Temporal(kind, tuple(parts[:n]), tz, n == 6, p == 17)
