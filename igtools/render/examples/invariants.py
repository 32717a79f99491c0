"""Making an occurrence satisfy its element's invariants.

The FHIRPath expression is read for the element names it mentions (``a.exists() or
b.exists()``, ``x.empty() or y.exists()``, ``a implies b``, ``(a | b).count() = 1`` all
come down to which children are there): the children it names are tried first, by
removing the optional ones present (``dataAbsentReason.empty() or value.empty()``)
and by adding the missing ones (``name.exists() or identifier.exists()``), then every
other optional child; last, a primitive child it names gets other values (the same
digits with another last one: a check digit; the values the IG's examples give the
element). An invariant still broken is left to the final check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from igtools.ir.model import Element
from igtools.validate.fixes import evaluated_expression

# FHIRPath words that are not element names
_KEYWORDS = {
    "and",
    "or",
    "xor",
    "implies",
    "not",
    "true",
    "false",
    "is",
    "as",
    "in",
    "contains",
    "div",
    "mod",
    "where",
    "exists",
    "empty",
    "count",
    "all",
    "select",
    "first",
    "last",
    "ofType",
    "hasValue",
    "matches",
    "length",
    "resolve",
    "descendants",
    "children",
    "iif",
    "trace",
    "this",
    "index",
    "total",
    "distinct",
    "isDistinct",
    "union",
    "memberOf",
    "conformsTo",
    "extension",
    "startsWith",
    "endsWith",
    "toString",
}
_NEVER = {"id", "meta", "implicitRules", "modifierExtension", "contained", "text", "language"}


def mentioned(expression: str) -> list[str]:
    """The element names an expression reads (in order, each once)."""
    text = re.sub(r"'(?:[^'\\]|\\.)*'", "''", expression)
    out: list[str] = []
    for m in re.finditer(r"(?<![%$@\w])([A-Za-z_]\w*)\b(?!\s*\()", text):
        word = m[1]
        if word not in _KEYWORDS and word not in out and not word[:1].isupper():
            out.append(word)
    return out


def holds(fn: Any, node: dict[str, Any]) -> bool:
    try:
        result = fn(node, {"resource": node, "rootResource": node})
    except Exception:
        return True  # cannot tell: left to the final check
    return not result or all(r is True for r in result)


def _rank(child: Element, rank: dict[str, int]) -> int:
    base = child.name[:-3] if child.is_choice else child.name
    return rank.get(base, len(rank))


def _present(child: Element, obj: dict[str, Any]) -> str | None:
    return next((n for n in child.json_names() if n in obj), None)


def satisfy(
    el: Element,
    obj: dict[str, Any],
    make: Callable[[Element], Any],
    json_name: Callable[[Element], str],
    alternatives: Callable[[Element, str, Any], list[Any]] | None = None,
) -> list[str]:
    """Change ``obj`` (an occurrence of ``el``) until each of ``el``'s error invariants
    holds; the keys of the invariants still broken. ``alternatives(el, name, value)``
    gives other values to try for a primitive child the expression reads (a check digit)."""
    from igtools.runtime.validation import _compile

    broken = []
    rt = {"resourceType": el.path} if "." not in el.path else {}
    for inv in el.constraints:
        if inv.severity != "error" or not inv.expression or inv.key in ("ele-1", "ext-1"):
            continue
        # the expression the reference validator evaluates (pd-1's `telecom or endpoint`
        # is `telecom.exists() or endpoint.exists()`: empty fails)
        expression = evaluated_expression(inv.key, inv.expression)
        fn = _compile(expression)
        if fn is None or holds(fn, {**rt, **obj}):
            continue
        names = mentioned(expression)
        if " implies " in expression:
            # `a implies b`: what makes b true first (adding to a would only move the
            # question: vs-2's component.empty() implies value.exists())
            then = mentioned(expression.rsplit(" implies ", 1)[1])
            names = then + [n for n in names if n not in then]
        rank = {n: i for i, n in enumerate(names)}

        children = sorted(
            (c for c in el.children if not c.prohibited), key=lambda c: _rank(c, rank)
        )
        done = False
        # 1. leave out an optional child the expression names
        for child in children:
            present = _present(child, obj)
            if present is None or child.min > 0 or _rank(child, rank) == len(rank):
                continue
            saved = obj.pop(present)
            if holds(fn, {**rt, **obj}):
                done = True
                break
            obj[present] = saved
        # 2. add a missing child, the ones the expression names first
        if not done:
            for child in children:
                if _present(child, obj) is not None or child.name in _NEVER:
                    continue
                value = make(child)
                if value is None:
                    continue
                name = json_name(child)
                obj[name] = [value] if child.is_array else value
                if holds(fn, {**rt, **obj}):
                    done = True
                    break
                del obj[name]
        # 3. another value for a primitive child the expression reads (its check digit,
        # the values the IG's own examples give it)
        if not done and alternatives is not None and not _contextual(expression):
            done = _replace(el, obj, fn, rt, rank, alternatives)
        if not done:
            broken.append(inv.key)
    return broken


def _contextual(expression: str) -> bool:
    """Does the expression read beyond the occurrence (the resource around it, what a
    reference resolves to)? Then it cannot be judged on the occurrence alone."""
    return "%" in expression or "resolve()" in expression


def _replace(
    el: Element,
    obj: dict[str, Any],
    fn: Any,
    rt: dict[str, Any],
    rank: dict[str, int],
    alternatives: Callable[[Element, str, Any], list[Any]],
) -> bool:
    # by the names the expression reads: the element may have no children in the IR
    # (a slice whose snapshot lists none), its data type has them
    for name in rank:
        current = obj.get(name)
        if current is None or isinstance(current, dict | list):
            continue
        for candidate in alternatives(el, name, current)[:MAX_ALTERNATIVES]:
            obj[name] = candidate
            if holds(fn, {**rt, **obj}):
                return True
        obj[name] = current
    return False


MAX_ALTERNATIVES = 40
