"""FHIRPath functions and operators for :mod:`fhirpath` (igtools' engine).

Each function takes (input collection, environment, argument closures) and returns a
collection; arguments are evaluated here, against ``$this`` (iterating functions set
``$this``/``$index`` per item).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .fhirpath_model import (
    QUANTITY_TYPES,
    Env,
    Fn,
    Node,
    children,
    model,
    navigate,
)
from .fhirpath_model import value_of as V
from .fhirpath_ops import (
    _arg,
    _bool,
    _compare,
    _contains,
    _dec,
    _distinct,
    _int_arg,
    _is_num,
    _key,
    _single,
    _str_arg,
    _type_info,
    _with_this,
    is_type,
    op_div,
    op_is,
    op_plus,
)
from .fhirpath_text import TEXT_FUNCTIONS
from .fhirpath_values import (
    FhirPathError,
    Quantity,
    Temporal,
    decimal_boundary,
    temporal_boundary,
)

Impl = Callable[[list[Any], Env, list[Fn]], list[Any]]

# ------------------------------------------------------------------------------ functions


def f_empty(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return [not inp]


def f_exists(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    if args:
        return [bool(f_where(inp, env, args))]
    return [bool(inp)]


def f_all(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return [all(_bool(_with_this(env, x, i, args[0])) is True for i, x in enumerate(inp))]


def _bools(inp: list[Any], fname: str) -> list[bool]:
    out = []
    for x in inp:
        v = V(x)
        if not isinstance(v, bool):
            raise FhirPathError(f"{fname}() expects booleans")
        out.append(v)
    return out


def f_all_true(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return [all(_bools(inp, "allTrue"))]


def f_any_true(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return [any(_bools(inp, "anyTrue"))]


def f_all_false(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return [not any(_bools(inp, "allFalse"))]


def f_any_false(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return [not all(_bools(inp, "anyFalse"))]


def f_subset_of(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    other = _arg(env, args[0])
    return [all(_contains(other, x) for x in inp)]


def f_superset_of(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    other = _arg(env, args[0])
    return [all(_contains(inp, x) for x in other)]


def f_count(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return [len(inp)]


def f_distinct(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return _distinct(inp)


def f_is_distinct(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return [len(_distinct(inp)) == len(inp)]


def f_where(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return [x for i, x in enumerate(inp) if _bool(_with_this(env, x, i, args[0])) is True]


def f_select(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    out: list[Any] = []
    for i, x in enumerate(inp):
        out.extend(_with_this(env, x, i, args[0]))
    return out


def f_repeat(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    out: list[Any] = []
    seen: set[Any] = set()
    todo = list(inp)
    while todo:
        nxt: list[Any] = []
        for i, x in enumerate(todo):
            for y in _with_this(env, x, i, args[0]):
                k = _key(y)
                if k not in seen:
                    seen.add(k)
                    out.append(y)
                    nxt.append(y)
        todo = nxt
    return out


def f_of_type(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    spec = args[0]([], env)[0]
    return [x for x in inp if is_type(x, spec, exact=True)]


def f_is(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return op_is(inp, args[0]([], env))


def f_as(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    # on a collection as() filters like ofType(): R4 core's dom-3 relies on it
    spec = args[0]([], env)[0]
    return [x for x in inp if is_type(x, spec, exact=True)]


def f_type(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return [_type_info(x) for x in inp]


def f_single(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    if len(inp) > 1:
        raise FhirPathError(f"single(): {len(inp)} items")
    return list(inp)


def f_first(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return inp[:1]


def f_last(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return inp[-1:]


def f_tail(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return inp[1:]


def f_skip(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    n = _int_arg(env, args[0], "skip")
    return inp if n is None or n <= 0 else inp[n:]


def f_take(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    n = _int_arg(env, args[0], "take")
    return [] if n is None or n <= 0 else inp[:n]


def f_intersect(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    other = {_key(x) for x in _arg(env, args[0])}
    return [x for x in _distinct(inp) if _key(x) in other]


def f_exclude(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    other = {_key(x) for x in _arg(env, args[0])}
    return [x for x in inp if _key(x) not in other]


def f_union(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return _distinct(inp + _arg(env, args[0]))


def f_combine(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return inp + _arg(env, args[0])


def f_iif(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    if len(inp) > 1:
        raise FhirPathError("iif() on a collection of several items")
    saved = env.this
    if inp:
        env.this = inp
    try:
        cond = args[0](env.this, env)
        if len(cond) > 1:
            raise FhirPathError("iif(): the criterion is a collection")
        c = V(cond[0]) if cond else None
        if c is not None and not isinstance(c, bool):
            raise FhirPathError("iif(): the criterion is not a boolean")
        if c is True:
            return args[1](env.this, env)
        return args[2](env.this, env) if len(args) > 2 else []
    finally:
        env.this = saved


def f_not(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    b = _bool(inp)
    return [] if b is None else [not b]


def f_trace(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    if env.hooks.trace is not None:
        name = _str_arg(env, args[0], "trace") or ""
        shown = f_select(inp, env, args[1:]) if len(args) > 1 else inp
        env.hooks.trace(name, shown)
    return inp


def f_aggregate(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    total = _arg(env, args[1]) if len(args) > 1 else []
    saved = env.total
    try:
        for i, x in enumerate(inp):
            env.total = total
            total = _with_this(env, x, i, args[0])
    finally:
        env.total = saved
    return total


def _numbers(inp: list[Any], fname: str) -> list[Any]:
    out = []
    for x in inp:
        v = V(x)
        if not (_is_num(v) or isinstance(v, Quantity | Temporal | str)):
            raise FhirPathError(f"{fname}() expects numbers")
        out.append(v)
    return out


def f_sum(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    vals = _numbers(inp, "sum")
    if not vals:
        return []
    total = vals[0]
    for v in vals[1:]:
        total = op_plus([total], [v])[0]
    return [total]


def f_min(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    vals = _numbers(inp, "min")
    if not vals:
        return []
    best = vals[0]
    for v in vals[1:]:
        if _compare([v], [best]) == -1:
            best = v
    return [best]


def f_max(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    vals = _numbers(inp, "max")
    if not vals:
        return []
    best = vals[0]
    for v in vals[1:]:
        if _compare([v], [best]) == 1:
            best = v
    return [best]


def f_avg(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    total = f_sum(inp, env, args)
    return op_div(total, [len(inp)]) if total else []


# ------------------------------------------------------------------------------ dates


def f_now(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    now = datetime.now(UTC).astimezone()
    text = now.isoformat(timespec="milliseconds")
    return [Temporal.parse(text, "dateTime")]


def f_today(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return [Temporal.parse(datetime.now().date().isoformat(), "date")]


def f_time_of_day(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return [Temporal.parse(datetime.now().time().isoformat(timespec="milliseconds"), "time")]


def f_precision(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    v = V(_single(inp))
    if v is None:
        return []
    if isinstance(v, Temporal):
        return [v.precision()]
    if isinstance(v, Decimal):
        exp = v.as_tuple().exponent
        return [-exp if isinstance(exp, int) and exp < 0 else 0]
    if isinstance(v, int):
        return [0]
    raise FhirPathError("precision() expects a decimal or a date/time")


def _boundary(high: bool) -> Impl:
    def impl(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
        v = V(_single(inp))
        p = _int_arg(env, args[0], "lowBoundary/highBoundary") if args else None
        if v is None:
            return []
        r: Any
        if isinstance(v, Temporal):
            r = temporal_boundary(v, p, high)
        elif isinstance(v, Quantity):
            b = decimal_boundary(v.value, p, high)
            r = None if b is None else Quantity(b, v.unit)
        elif _is_num(v):
            r = decimal_boundary(_dec(v), p, high)
        else:
            raise FhirPathError("lowBoundary/highBoundary expect a number or a date/time")
        return [] if r is None else [r]

    return impl


def f_comparable(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    x = V(_single(inp))
    y = V(_single(_arg(env, args[0])))
    if x is None or y is None:
        return []
    if not isinstance(x, Quantity) or not isinstance(y, Quantity):
        raise FhirPathError("comparable() expects quantities")
    cx, cy = x.canonical(), y.canonical()
    return [cx is not None and cy is not None and cx[0] == cy[0]]


def sort_items(items: list[Any], env: Env, keys: list[tuple[Fn, bool]]) -> list[Any]:
    """sort(key, -key, ...): by each key in turn, empty keys last (first descending)."""
    import functools

    if not keys:
        keyed = [(V(x), x) for x in items]
        cols = [[k] for k, _ in keyed]
        descs = [False]
    else:
        cols = [
            [V(_single(_with_this(env, x, i, fn))) for fn, _ in keys] for i, x in enumerate(items)
        ]
        descs = [d for _, d in keys]

    def cmp(a: tuple[list[Any], Any], b: tuple[list[Any], Any]) -> int:
        for ka, kb, desc in zip(a[0], b[0], descs, strict=True):
            if ka is None or kb is None:
                c = (ka is None) - (kb is None)
            else:
                c = _compare([ka], [kb]) or 0
            if c:
                return -c if desc else c
        return 0

    pairs = sorted(zip(cols, items, strict=True), key=functools.cmp_to_key(cmp))
    return [x for _, x in pairs]


# ------------------------------------------------------------------------------ FHIR


def f_children(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    out: list[Any] = []
    for x in inp:
        out.extend(children(x))
    return out


def f_descendants(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    if len(inp) == 1 and isinstance(inp[0], Node):  # once per node and evaluation
        key = id(inp[0].data)
        memo = env.descendants
        if memo is None:
            memo = env.descendants = {}
        got = memo.get(key)
        if got is None:
            got = memo[key] = _descendants(inp, env, args)
        return got
    return _descendants(inp, env, args)


def _descendants(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    out: list[Any] = []
    todo = f_children(inp, env, args)
    while todo:
        out.extend(todo)
        todo = f_children(todo, env, args)
    return out


def f_extension(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    url = _str_arg(env, args[0], "extension")
    if url is None:
        return []
    return [
        e
        for e in navigate(inp, "extension")
        if isinstance(e.data, dict) and e.data.get("url") == url
    ]


def f_has_value(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    if len(inp) != 1:
        return [False]
    x = inp[0]
    if isinstance(x, Node):
        return [x.data is not None and not isinstance(x.data, dict | list)]
    return [True]


def f_get_value(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    if len(inp) != 1:
        return []
    v = V(inp[0])
    return [] if v is None or isinstance(v, Node) else [v]


def f_html_checks(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return [True] if inp else []  # the XHTML itself is checked elsewhere (not here)


def _reference_of(x: Any) -> str | None:
    v = x.data if isinstance(x, Node) else x
    if isinstance(v, dict):
        ref = v.get("reference")
        return ref if isinstance(ref, str) else None
    return v if isinstance(v, str) else None


def f_resolve(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    out: list[Any] = []
    for x in inp:
        ref = _reference_of(x)
        if not ref:
            continue
        found = _resolve(ref, x, env)
        if found is not None:
            out.append(Node(found, None, None, found))
    return out


def _resolve(ref: str, x: Any, env: Env) -> Any:
    if ref.startswith("#"):
        holders = [getattr(x, "res", None)]
        holders += [env.resource, env.root_resource]
        if ref == "#":
            return holders[-1] if holders[-1] is not None else None
        for h in holders:
            if isinstance(h, dict):
                for c in h.get("contained") or []:
                    if isinstance(c, dict) and c.get("id") == ref[1:]:
                        return c
        return None
    if env.bundle is None:
        return None
    idx = env.bundle_index()
    ref = ref.split("/_history/")[0]
    if ref in idx:
        return idx[ref]
    parts = ref.rstrip("/").split("/")
    if len(parts) >= 2:
        key = f"{parts[-2]}/{parts[-1]}"
        if key in idx and "://" not in ref:
            return idx[key]
        for full, res in idx.items():
            if full.endswith("/" + key) and ("://" not in ref or full == ref):
                return res
    return None


def _hook_answer(
    hook: Callable[[Any, str], bool | None] | None, inp: list[Any], env: Env, url_fn: Fn
) -> list[Any]:
    item = _single(inp)
    url = _str_arg(env, url_fn, "memberOf/conformsTo")
    if item is None or url is None or hook is None:
        return []
    value = item.data if isinstance(item, Node) else item
    r = hook(value, url)
    return [] if r is None else [bool(r)]


def f_member_of(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    return _hook_answer(env.hooks.member_of, inp, env, args[0])


_CORE_SD = "http://hl7.org/fhir/StructureDefinition/"


def f_conforms_to(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
    got = _hook_answer(env.hooks.conforms_to, inp, env, args[0])
    if got:
        return got
    item = _single(inp)
    url = _str_arg(env, args[0], "conformsTo")
    if item is None or url is None or not url.startswith(_CORE_SD):
        return []
    name = url[len(_CORE_SD) :]
    if not isinstance(item, Node) or not item.type or not model().known_type(name):
        return []
    return [name in model().ancestors(item.type)]


def _unsupported(name: str) -> Impl:
    def impl(inp: list[Any], env: Env, args: list[Fn]) -> list[Any]:
        raise FhirPathError(f"{name}() is not supported")

    return impl


# name -> (implementation, min args, max args, arguments are type names)
FUNCTIONS: dict[str, tuple[Impl, int, int, bool]] = {
    "empty": (f_empty, 0, 0, False),
    "exists": (f_exists, 0, 1, False),
    "all": (f_all, 1, 1, False),
    "allTrue": (f_all_true, 0, 0, False),
    "anyTrue": (f_any_true, 0, 0, False),
    "allFalse": (f_all_false, 0, 0, False),
    "anyFalse": (f_any_false, 0, 0, False),
    "subsetOf": (f_subset_of, 1, 1, False),
    "supersetOf": (f_superset_of, 1, 1, False),
    "count": (f_count, 0, 0, False),
    "distinct": (f_distinct, 0, 0, False),
    "isDistinct": (f_is_distinct, 0, 0, False),
    "where": (f_where, 1, 1, False),
    "select": (f_select, 1, 1, False),
    "repeat": (f_repeat, 1, 1, False),
    "ofType": (f_of_type, 1, 1, True),
    "is": (f_is, 1, 1, True),
    "as": (f_as, 1, 1, True),
    "type": (f_type, 0, 0, False),
    "single": (f_single, 0, 0, False),
    "first": (f_first, 0, 0, False),
    "last": (f_last, 0, 0, False),
    "tail": (f_tail, 0, 0, False),
    "skip": (f_skip, 1, 1, False),
    "take": (f_take, 1, 1, False),
    "intersect": (f_intersect, 1, 1, False),
    "exclude": (f_exclude, 1, 1, False),
    "union": (f_union, 1, 1, False),
    "combine": (f_combine, 1, 1, False),
    "iif": (f_iif, 2, 3, False),
    "not": (f_not, 0, 0, False),
    "trace": (f_trace, 1, 2, False),
    "aggregate": (f_aggregate, 1, 2, False),
    "sum": (f_sum, 0, 0, False),
    "min": (f_min, 0, 0, False),
    "max": (f_max, 0, 0, False),
    "avg": (f_avg, 0, 0, False),
    "now": (f_now, 0, 0, False),
    "today": (f_today, 0, 0, False),
    "timeOfDay": (f_time_of_day, 0, 0, False),
    "precision": (f_precision, 0, 0, False),
    "lowBoundary": (_boundary(False), 0, 1, False),
    "highBoundary": (_boundary(True), 0, 1, False),
    "comparable": (f_comparable, 1, 1, False),
    "children": (f_children, 0, 0, False),
    "descendants": (f_descendants, 0, 0, False),
    "extension": (f_extension, 1, 1, False),
    "hasValue": (f_has_value, 0, 0, False),
    "getValue": (f_get_value, 0, 0, False),
    "htmlChecks": (f_html_checks, 0, 0, False),
    "htmlchecks": (f_html_checks, 0, 0, False),
    "resolve": (f_resolve, 0, 0, False),
    "memberOf": (f_member_of, 1, 1, False),
    "conformsTo": (f_conforms_to, 1, 1, False),
    "elementDefinition": (_unsupported("elementDefinition"), 0, 0, False),
    "slice": (_unsupported("slice"), 2, 2, False),
    "checkModifiers": (_unsupported("checkModifiers"), 1, 1, False),
    **TEXT_FUNCTIONS,
}

_ = QUANTITY_TYPES  # re-exported for callers that test quantity-typed nodes
