"""FHIRPath operators for igtools' engine (:mod:`fhirpath`): equality, equivalence,
ordering, arithmetic, boolean logic, membership and types, with the helpers the
functions share (singleton and boolean evaluation of collections)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .fhirpath_model import (
    PRIMITIVES,
    SYSTEM_TYPES,
    Env,
    Fn,
    Node,
    model,
)
from .fhirpath_model import value_of as V
from .fhirpath_values import (
    FhirPathError,
    Quantity,
    Temporal,
    add_duration,
    compare_temporal,
    equivalent_decimals,
    quantity_compare,
)

Impl = Callable[[list[Any], Env, list[Fn]], list[Any]]

# ------------------------------------------------------------------------------ helpers


def _arg(env: Env, fn: Fn) -> list[Any]:
    return fn(env.this, env)


def _single(items: list[Any], what: str = "value") -> Any:
    if len(items) > 1:
        raise FhirPathError(f"expected a single {what}, got {len(items)} items")
    return items[0] if items else None


def _bool(items: list[Any], lenient: bool = False) -> bool | None:
    """Singleton evaluation of a collection as a Boolean. ``lenient`` (the operands of
    and/or/xor/implies): several items count as true, as the reference validator reads
    invariants such as ``telecom or endpoint``."""
    if not items:
        return None
    if len(items) > 1:
        if lenient:
            return True
        raise FhirPathError(f"expected a single boolean, got {len(items)} items")
    v = V(items[0])
    if isinstance(v, bool):
        return v
    return True


def _str_in(items: list[Any], fname: str) -> str | None:
    item = _single(items)
    if item is None:
        return None
    v = V(item)
    if not isinstance(v, str):
        raise FhirPathError(f"{fname}() expects a string, got {_kind(v)}")
    return v


def _str_arg(env: Env, fn: Fn, fname: str) -> str | None:
    v = V(_single(_arg(env, fn)))
    if v is None:
        return None
    if not isinstance(v, str):
        raise FhirPathError(f"{fname}() expects a string argument")
    return v


def _int_arg(env: Env, fn: Fn, fname: str) -> int | None:
    v = V(_single(_arg(env, fn)))
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, Decimal) and v == int(v):
            return int(v)
        raise FhirPathError(f"{fname}() expects an integer argument")
    return v


def _kind(v: Any) -> str:
    if isinstance(v, Node):
        return str(v.type or "an element")
    return type(v).__name__


def _is_num(v: Any) -> bool:
    return isinstance(v, int | Decimal) and not isinstance(v, bool)


def _dec(v: Any) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(v)


def _with_this(env: Env, item: Any, i: int, fn: Fn) -> list[Any]:
    saved_this, saved_index = env.this, env.index
    env.this, env.index = [item], i
    try:
        return fn(env.this, env)
    finally:
        env.this, env.index = saved_this, saved_index


# ------------------------------------------------------------------------------ equality


def _json_eq(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        ka = {k for k in a if k != "id"}
        kb = {k for k in b if k != "id"}
        return ka == kb and all(_json_eq(a[k], b[k]) for k in ka)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_eq(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float | Decimal) and isinstance(b, int | float | Decimal):
        return _to_dec(a) == _to_dec(b)
    return bool(a == b)


def _to_dec(v: Any) -> Decimal:
    if isinstance(v, float):
        return Decimal(repr(v))
    return _dec(v)


def item_equal(x: Any, y: Any) -> bool | None:
    x, y = V(x), V(y)
    if x is None or y is None:
        return None
    if isinstance(x, Node) or isinstance(y, Node):
        if isinstance(x, Node) and isinstance(y, Node):
            return _json_eq(x.data, y.data)
        return False
    if isinstance(x, bool) or isinstance(y, bool):
        return x is y
    if _is_num(x) and _is_num(y):
        return bool(x == y)
    if isinstance(x, str) and isinstance(y, str):
        return x == y
    if isinstance(x, Temporal) and isinstance(y, str):
        y = Temporal.parse(y, "date") or y
    if isinstance(y, Temporal) and isinstance(x, str):
        x = Temporal.parse(x, "date") or x
    if isinstance(x, Temporal) and isinstance(y, Temporal):
        if (x.kind == "time") != (y.kind == "time"):
            return False
        c = compare_temporal(x, y)
        return None if c is None else c == 0
    if isinstance(x, Quantity) and isinstance(y, Quantity):
        c = quantity_compare(x, y)
        return None if c is None else c == 0
    return False


def _norm_str(s: str) -> str:
    return " ".join(s.lower().split())


def item_equivalent(x: Any, y: Any) -> bool:
    x, y = V(x), V(y)
    if x is None or y is None:
        return x is None and y is None
    if isinstance(x, Node) and isinstance(y, Node):
        return _json_equiv(x.data, y.data)
    if isinstance(x, str) and isinstance(y, str):
        return _norm_str(x) == _norm_str(y)
    if _is_num(x) and _is_num(y):
        return equivalent_decimals(_dec(x), _dec(y))
    if isinstance(x, Temporal) and isinstance(y, Temporal):
        if (x.kind == "time") != (y.kind == "time"):
            return False
        return compare_temporal(x, y) == 0
    if isinstance(x, Quantity) and isinstance(y, Quantity):
        return quantity_compare(x, y, equivalence=True) == 0
    return item_equal(x, y) is True


def _json_equiv(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        ka = {k for k in a if k != "id"}
        kb = {k for k in b if k != "id"}
        return ka == kb and all(_json_equiv(a[k], b[k]) for k in ka)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(any(_json_equiv(x, y) for y in b) for x in a)
    if isinstance(a, str) and isinstance(b, str):
        return _norm_str(a) == _norm_str(b)
    return _json_eq(a, b)


def _key(item: Any) -> Any:
    v = V(item)
    if isinstance(v, Node):
        return ("j", json.dumps(v.data, sort_keys=True, default=str))
    if v is None:
        return ("x", json.dumps(getattr(item, "ext", None), sort_keys=True, default=str))
    if isinstance(v, bool):
        return ("b", v)
    if _is_num(v):
        return ("n", _dec(v).normalize())
    if isinstance(v, Temporal):
        return ("t", v.kind == "time", v.utc_parts() if v.tz is not None else v.parts)
    if isinstance(v, Quantity):
        c = v.canonical()
        return ("q", c[0], c[1].normalize()) if c else ("q", v.unit, v.value.normalize())
    return ("s", v)


def _distinct(items: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for i in items:
        k = _key(i)
        if k not in seen:
            seen.add(k)
            out.append(i)
    return out


def _contains(coll: list[Any], item: Any) -> bool:
    return any(item_equal(item, c) is True for c in coll)


# ------------------------------------------------------------------------------ operators


def op_equal(a: list[Any], b: list[Any]) -> list[Any]:
    if not a or not b:
        return []
    if len(a) != len(b):
        return [False]
    result = True
    for x, y in zip(a, b, strict=True):
        r = item_equal(x, y)
        if r is False:
            return [False]
        if r is None:
            result = False if len(a) > 1 else result
            if len(a) == 1:
                return []
    return [result]


def op_not_equal(a: list[Any], b: list[Any]) -> list[Any]:
    r = op_equal(a, b)
    return [not r[0]] if r else []


def op_equiv(a: list[Any], b: list[Any]) -> list[Any]:
    if not a and not b:
        return [True]
    if len(a) != len(b):
        return [False]
    rest = list(b)
    for x in a:
        for j, y in enumerate(rest):
            if item_equivalent(x, y):
                del rest[j]
                break
        else:
            return [False]
    return [True]


def op_not_equiv(a: list[Any], b: list[Any]) -> list[Any]:
    return [not op_equiv(a, b)[0]]


def _compare(a: list[Any], b: list[Any]) -> int | None:
    x = V(_single(a, "operand"))
    y = V(_single(b, "operand"))
    if x is None or y is None:
        return None
    if isinstance(x, Temporal) and isinstance(y, str):
        y = Temporal.parse(y, "date") or y
    if isinstance(y, Temporal) and isinstance(x, str):
        x = Temporal.parse(x, "date") or x
    if (_is_num(x) and _is_num(y)) or (isinstance(x, str) and isinstance(y, str)):
        return int((x > y) - (x < y))
    if isinstance(x, Temporal) and isinstance(y, Temporal):
        return compare_temporal(x, y)
    if isinstance(x, Quantity) and isinstance(y, Quantity):
        c = quantity_compare(x, y)
        if c is None:
            raise FhirPathError(f"cannot compare {x} and {y}")
        return c
    raise FhirPathError(f"cannot compare {_kind(x)} and {_kind(y)}")


def _cmp_op(test: Callable[[int], bool]) -> Callable[[list[Any], list[Any]], list[Any]]:
    def fn(a: list[Any], b: list[Any]) -> list[Any]:
        if not a or not b:
            return []
        c = _compare(a, b)
        return [] if c is None else [test(c)]

    return fn


def op_union(a: list[Any], b: list[Any]) -> list[Any]:
    return _distinct(a + b)


def op_in(a: list[Any], b: list[Any]) -> list[Any]:
    # several items on the left: all of them in the right (as the reference validator
    # reads tim-9's ``when in (...)`` with two whens)
    if not a:
        return []
    return [all(_contains(b, x) for x in a)]


def op_contains(a: list[Any], b: list[Any]) -> list[Any]:
    if not b:
        return []
    return [all(_contains(a, x) for x in b)]


def op_is(a: list[Any], b: list[Any]) -> list[Any]:
    if not a:
        return []
    return [is_type(_single(a, "left operand of is"), b[0])]


def op_as(a: list[Any], b: list[Any]) -> list[Any]:
    if not a:
        return []
    item = _single(a, "left operand of as")
    return [item] if is_type(item, b[0], exact=True) else []


def _num_pair(a: list[Any], b: list[Any], op: str) -> tuple[Any, Any] | None:
    x = V(_single(a, "operand"))
    y = V(_single(b, "operand"))
    if x is None or y is None:
        return None
    return x, y


def op_plus(a: list[Any], b: list[Any]) -> list[Any]:
    p = _num_pair(a, b, "+")
    if p is None:
        return []
    x, y = p
    if isinstance(x, str) and isinstance(y, str):
        return [x + y]
    if _is_num(x) and _is_num(y):
        return [x + y]
    if isinstance(x, Temporal) and isinstance(y, Quantity):
        return [add_duration(x, y, 1)]
    if isinstance(x, Quantity) and isinstance(y, Quantity):
        return [_qty_arith(x, y, 1)]
    raise FhirPathError(f"cannot add {_kind(x)} and {_kind(y)}")


def op_minus(a: list[Any], b: list[Any]) -> list[Any]:
    p = _num_pair(a, b, "-")
    if p is None:
        return []
    x, y = p
    if _is_num(x) and _is_num(y):
        return [x - y]
    if isinstance(x, Temporal) and isinstance(y, Quantity):
        return [add_duration(x, y, -1)]
    if isinstance(x, Quantity) and isinstance(y, Quantity):
        return [_qty_arith(x, y, -1)]
    raise FhirPathError(f"cannot subtract {_kind(y)} from {_kind(x)}")


def _qty_arith(x: Quantity, y: Quantity, sign: int) -> Quantity:
    if x.unit == y.unit:
        return Quantity(x.value + sign * y.value, x.unit)
    cx, cy = x.canonical(), y.canonical()
    if cx is None or cy is None or cx[0] != cy[0]:
        raise FhirPathError(f"incompatible units {x.unit} and {y.unit}")
    factor = cx[1] / x.value if x.value else None
    if not factor:
        raise FhirPathError(f"incompatible units {x.unit} and {y.unit}")
    return Quantity(x.value + sign * cy[1] / factor, x.unit)


def op_mul(a: list[Any], b: list[Any]) -> list[Any]:
    p = _num_pair(a, b, "*")
    if p is None:
        return []
    x, y = p
    if _is_num(x) and _is_num(y):
        return [x * y]
    if isinstance(x, Quantity) and _is_num(y):
        return [Quantity(x.value * y, x.unit)]
    if isinstance(y, Quantity) and _is_num(x):
        return [Quantity(y.value * x, y.unit)]
    if isinstance(x, Quantity) and isinstance(y, Quantity):
        unit = x.unit if y.unit == "1" else y.unit if x.unit == "1" else f"{x.unit}.{y.unit}"
        return [Quantity(x.value * y.value, unit)]
    raise FhirPathError(f"cannot multiply {_kind(x)} and {_kind(y)}")


def op_div(a: list[Any], b: list[Any]) -> list[Any]:
    p = _num_pair(a, b, "/")
    if p is None:
        return []
    x, y = p
    if _is_num(x) and _is_num(y):
        if y == 0:
            return []
        return [_dec(x) / _dec(y)]
    if isinstance(x, Quantity) and _is_num(y):
        return [] if y == 0 else [Quantity(x.value / _dec(y), x.unit)]
    if isinstance(x, Quantity) and isinstance(y, Quantity):
        if y.value == 0:
            return []
        if x.unit == y.unit:
            return [Quantity(x.value / y.value, "1")]
        return [Quantity(x.value / y.value, f"{x.unit}/{y.unit}")]
    raise FhirPathError(f"cannot divide {_kind(x)} by {_kind(y)}")


def op_intdiv(a: list[Any], b: list[Any]) -> list[Any]:
    p = _num_pair(a, b, "div")
    if p is None:
        return []
    x, y = p
    if not (_is_num(x) and _is_num(y)):
        raise FhirPathError("div expects numbers")
    if y == 0:
        return []
    return [int(_dec(x) / _dec(y))]


def op_mod(a: list[Any], b: list[Any]) -> list[Any]:
    p = _num_pair(a, b, "mod")
    if p is None:
        return []
    x, y = p
    if not (_is_num(x) and _is_num(y)):
        raise FhirPathError("mod expects numbers")
    if y == 0:
        return []
    if isinstance(x, int) and isinstance(y, int):
        return [int(math.fmod(x, y))]
    return [_dec(x) % _dec(y)]


def op_concat(a: list[Any], b: list[Any]) -> list[Any]:
    x = V(_single(a, "operand"))
    y = V(_single(b, "operand"))
    if (x is not None and not isinstance(x, str)) or (y is not None and not isinstance(y, str)):
        raise FhirPathError("& expects strings")
    return [(x or "") + (y or "")]


def op_xor(a: list[Any], b: list[Any]) -> list[Any]:
    x, y = _bool(a, True), _bool(b, True)
    if x is None or y is None:
        return []
    return [x != y]


def and_op(a: Fn, b: Fn, focus: list[Any], env: Env) -> list[Any]:
    x = _bool(a(focus, env), True)
    if x is False:
        return [False]
    y = _bool(b(focus, env), True)
    if y is False:
        return [False]
    if x is None or y is None:
        return []
    return [True]


def or_op(a: Fn, b: Fn, focus: list[Any], env: Env) -> list[Any]:
    x = _bool(a(focus, env), True)
    if x is True:
        return [True]
    y = _bool(b(focus, env), True)
    if y is True:
        return [True]
    if x is None or y is None:
        return []
    return [False]


def implies_op(a: Fn, b: Fn, focus: list[Any], env: Env) -> list[Any]:
    x = _bool(a(focus, env), True)
    if x is False:
        return [True]
    y = _bool(b(focus, env), True)
    if y is True:
        return [True]
    if x is None:
        return []
    return [False] if y is False else []


def negate(items: list[Any]) -> list[Any]:
    v = V(_single(items, "operand"))
    if v is None:
        return []
    if _is_num(v):
        return [0 - v]
    if isinstance(v, Quantity):
        return [Quantity(0 - v.value, v.unit)]
    raise FhirPathError(f"cannot negate {_kind(v)}")


OPERATORS: dict[str, Callable[[list[Any], list[Any]], list[Any]]] = {
    "=": op_equal,
    "!=": op_not_equal,
    "~": op_equiv,
    "!~": op_not_equiv,
    "<": _cmp_op(lambda c: c < 0),
    ">": _cmp_op(lambda c: c > 0),
    "<=": _cmp_op(lambda c: c <= 0),
    ">=": _cmp_op(lambda c: c >= 0),
    "|": op_union,
    "in": op_in,
    "contains": op_contains,
    "is": op_is,
    "as": op_as,
    "+": op_plus,
    "-": op_minus,
    "*": op_mul,
    "/": op_div,
    "div": op_intdiv,
    "mod": op_mod,
    "&": op_concat,
    "xor": op_xor,
}


# ------------------------------------------------------------------------------ types


def _system_type(v: Any) -> str:
    if isinstance(v, bool):
        return "Boolean"
    if isinstance(v, int):
        return "Integer"
    if isinstance(v, Decimal):
        return "Decimal"
    if isinstance(v, str):
        return "String"
    if isinstance(v, Temporal):
        return {"date": "Date", "dateTime": "DateTime", "time": "Time"}[v.kind]
    if isinstance(v, Quantity):
        return "Quantity"
    return "Any"


_NODE_IS: dict[tuple[str, str, bool], bool] = {}


def is_type(item: Any, spec: str, exact: bool = False) -> bool:
    """``item is spec``; ``exact`` (as, ofType): a FHIR primitive only as its own type."""
    if item.__class__ is Node and item.type is not None:
        got = _NODE_IS.get((item.type, spec, exact))
        if got is None:
            got = _NODE_IS[(item.type, spec, exact)] = _is_type(item, spec, exact)
        return got
    return _is_type(item, spec, exact)


def _is_type(item: Any, spec: str, exact: bool) -> bool:
    ns, _, name = spec.rpartition(".")
    m = model()
    if ns not in ("", "FHIR", "System") or not (name in SYSTEM_TYPES or m.known_type(name)):
        raise FhirPathError(f"unknown type {spec}")
    if isinstance(item, Node) and item.type != "System.String":
        if ns == "System" or item.type is None:
            return False
        if exact and item.type in PRIMITIVES:
            return item.type == name
        return name in m.ancestors(item.type)
    if ns == "FHIR":
        return False
    v = V(item)
    return _system_type(v) == name


def _type_info(item: Any) -> Node:
    if isinstance(item, Node) and item.type and item.type != "System.String":
        t = item.type
        name = "BackboneElement" if t in model().backbone else t
        return Node({"namespace": "FHIR", "name": name}, None, None, None)
    return Node({"namespace": "System", "name": _system_type(V(item))}, None, None, None)
