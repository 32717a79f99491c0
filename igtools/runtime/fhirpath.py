"""FHIRPath evaluated on the FHIR R4 model: the engine behind igtools' invariants.

fhirpathpy parses (its ANTLR grammar); evaluation is igtools' own: each expression is
compiled once into Python closures (:func:`compile`, cached per expression text), and
evaluated on FHIR JSON with the R4 model (fhirpathpy's R4 type tables) so that:

- choice types resolve (``value`` finds ``valueQuantity``), also when the evaluation
  root is a nested element: ``evaluate(component, expr, type="Observation.component")``;
- ``is``/``as``/``ofType``/``type()`` know FHIR types and their parents (``Age`` is a
  ``Quantity``, ``code`` a ``string``) as well as the System types;
- ``resolve()`` finds Bundle entries (relative ``Type/id``, absolute, ``urn:uuid:``
  fullUrls) and contained resources (``#id``);
- ``%resource``/``%rootResource``, ``%context``, ``%ucum``, ``%sct``, ``%loinc``,
  ``%`vs-x```, ``%`ext-x``` are defined;
- FHIR functions: ``extension(url)``, ``hasValue()``, ``getValue()``,
  ``htmlChecks()`` (true), ``conformsTo(url)`` and ``memberOf(url)`` (answered by hooks
  the caller gives, empty when unknown), ``trace()`` (silent unless a hook is given).

An expression that cannot be parsed or that names an unknown function raises
:class:`FhirPathError` from :func:`compile`; a run-time type error (a collection where a
single value is needed, ``'a' - 1``, an element the model does not know) raises it from
:meth:`Expression.evaluate`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .fhirpath_functions import FUNCTIONS, sort_items
from .fhirpath_model import (
    Env,
    Fn,
    Hooks,
    Node,
    element_type,
    model,
    navigate,
    value_of,
)
from .fhirpath_ops import OPERATORS, and_op, implies_op, negate, or_op
from .fhirpath_values import FhirPathError, Quantity, Temporal

__all__ = [
    "Expression",
    "FhirPathError",
    "Hooks",
    "Node",
    "Quantity",
    "Temporal",
    "compile",
    "element_type",
    "evaluate",
    "to_json",
    "value_of",
]

_NO_HOOKS = Hooks()


# ------------------------------------------------------------------------------ compiling


_UNSET: Any = object()


class Expression:
    """A compiled FHIRPath expression.

    ``root_names``: the elements it reads from its root (None when it reads the root in
    other ways: ``$this``, a function of the root, a type name, ``%resource``...). On a
    root that has none of them, the answer is the one on an empty root of the same type,
    computed once per type (``contained.meta.security.empty()`` on resources without
    ``contained``: true, without evaluating)."""

    __slots__ = ("_fn", "_guards", "root_names", "text")

    def __init__(self, text: str, fn: Fn, root_names: frozenset[str] | None = None) -> None:
        self.text = text
        self._fn = fn
        self.root_names = root_names
        self._guards: dict[str, tuple[frozenset[str], list[Any]] | None] = {}

    def _guard(self, t: str) -> tuple[frozenset[str], list[Any]] | None:
        """(JSON keys that matter, the answer without them) on a root of type ``t``."""
        got = self._guards.get(t, _UNSET)
        if got is not _UNSET:
            return got  # type: ignore[no-any-return]
        keys: set[str] = set()
        m = model()
        guard: tuple[frozenset[str], list[Any]] | None = None
        for name in self.root_names or ():
            kind, info = m.member(t, name)
            if kind == "free":
                break
            for key in [k for k, _ in info] if kind == "choice" else [name]:
                keys.update((key, "_" + key))
        else:
            env = Env([Node({}, None, t, None)], None, _NO_HOOKS, None, None, None)
            env.poisoned = True  # %resource and the like: no constant answer
            try:
                guard = (frozenset(keys), self._fn(env.root, env))
            except (FhirPathError, TypeError, ValueError, ArithmeticError, KeyError):
                guard = None
        self._guards[t] = guard
        return guard

    def evaluate(
        self,
        data: Any,
        *,
        type: str | None = None,
        resource: Any = None,
        root_resource: Any = None,
        bundle: Any = None,
        variables: Mapping[str, Any] | None = None,
        hooks: Hooks | None = None,
        strict: bool = False,
    ) -> list[Any]:
        """The result collection on ``data`` (FHIR JSON). ``type``: its FHIR type or
        element path (``Observation.component``) when it is not a resource; ``resource``:
        the resource holding it (``%resource``, default ``data`` itself); ``root_resource``:
        the container of a contained resource (default ``resource``); ``bundle``: the
        Bundle whose entries ``resolve()`` searches (default: the root when a Bundle);
        ``strict``: an element the model does not define on a known type, or a type name
        that is not the context's, is an error (FHIRPath's strict mode) instead of empty."""
        if self.root_names is not None and data.__class__ is dict and not (variables or strict):
            t = data.get("resourceType") or type
            guard = self._guard(t) if isinstance(t, str) else None
            if guard is not None and guard[0].isdisjoint(data):
                return list(guard[1])
        root = data if isinstance(data, Node) else Node(data, None, type, resource)
        res = resource if resource is not None else (data if isinstance(data, dict) else None)
        rr = root_resource if root_resource is not None else res
        env = Env([root], variables, hooks or _NO_HOOKS, res, rr, bundle)
        env.strict = strict
        try:
            return self._fn(env.root, env)
        except FhirPathError:
            raise
        except (
            TypeError,
            ValueError,
            ArithmeticError,
            KeyError,
            IndexError,
            RecursionError,
        ) as exc:
            raise FhirPathError(f"{self.text}: {type_name(exc)}: {exc}") from exc

    def verdict(
        self,
        data: Any,
        *,
        type: str | None = None,
        resource: Any = None,
        root_resource: Any = None,
        bundle: Any = None,
        hooks: Hooks | None = None,
    ) -> bool | None:
        """An invariant's answer: None when empty, True when every item is true."""
        result = self.evaluate(
            data,
            type=type,
            resource=resource,
            root_resource=root_resource,
            bundle=bundle,
            hooks=hooks,
        )
        if not result:
            return None
        return all(r is True or value_of(r) is True for r in result)


def type_name(exc: BaseException) -> str:
    return type(exc).__name__


_CACHE: dict[str, Expression | FhirPathError] = {}


def compile(expression: str) -> Expression:
    """The compiled expression (cached per text); raises FhirPathError when invalid."""
    got = _CACHE.get(expression)
    if got is None:
        try:
            compiler = _Compiler()
            fn = compiler.compile(_parse(expression))
            names = None if compiler.root_unsafe else frozenset(compiler.root_names)
            got = Expression(expression, fn, names)
        except FhirPathError as exc:
            got = exc
        except RecursionError:
            got = FhirPathError(f"{expression}: too deeply nested")
        _CACHE[expression] = got
    if isinstance(got, FhirPathError):
        raise got
    return got


def evaluate(data: Any, expression: str, **kw: Any) -> list[Any]:
    """Evaluate ``expression`` on ``data`` (see :meth:`Expression.evaluate`)."""
    return compile(expression).evaluate(data, **kw)


class _Errors:
    """ANTLR error listener: any syntax error raises."""

    def syntaxError(
        self, recognizer: Any, offending: Any, line: int, column: int, msg: str, e: Any
    ) -> None:
        raise FhirPathError(f"syntax error at {line}:{column}: {msg}")

    def reportAmbiguity(self, *args: Any) -> None:
        pass

    def reportAttemptingFullContext(self, *args: Any) -> None:
        pass

    def reportContextSensitivity(self, *args: Any) -> None:
        pass


def _parse(expression: str) -> dict[str, Any]:
    import importlib

    # fhirpathpy's ANTLR parser (its module re-exports the antlr4 runtime it uses)
    fp: Any = importlib.import_module("fhirpathpy.parser")

    errors = _Errors()
    lexer = fp.FHIRPathLexer(fp.InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(errors)
    parser = fp.FHIRPathParser(fp.CommonTokenStream(lexer))
    parser.buildParseTrees = True
    parser.removeErrorListeners()
    parser.addErrorListener(errors)
    listener = fp.ASTPathListener()
    try:
        tree = parser.entireExpression()
        fp.ParseTreeWalker().walk(listener, tree)
    except FhirPathError:
        raise
    except Exception as exc:  # the lexer raises its own errors
        raise FhirPathError(f"syntax error: {exc}") from exc
    root: dict[str, Any] = listener.parentStack[0]
    return root


def _text(node: dict[str, Any]) -> str:
    t = node.get("text")
    if t is None:
        t = "".join(node.get("terminalNodeText") or [])
    return str(t)


def _ident(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "`\"'":
        return text[1:-1]
    return text


_MEMO_KEYS = itertools.count()
# functions whose argument is evaluated on each input item ($this), never on the root
_LAMBDAS = frozenset({"where", "select", "all", "exists", "repeat"})


class _Compiler:
    """AST -> closures ``(focus, env) -> collection``. A subexpression that depends on
    nothing but the environment (literals, %variables and what is computed from them
    alone, such as ``%resource.descendants()``) is computed once per evaluation."""

    def __init__(self) -> None:
        self.const: set[int] = set()  # ids of closures constant within an evaluation
        self.depth = 0  # inside the criteria of where(), select()...: not the root's scope
        self.root_names: set[str] = set()  # elements read from the root
        self.root_unsafe = False  # the root is read otherwise ($this, a function of it...)

    def _lit(self, fn: Fn) -> Fn:
        self.const.add(id(fn))
        return fn

    def _derived(self, fn: Fn, *parts: Fn | None) -> Fn:
        """``fn`` computed from ``parts`` alone: memoized when they are all constant."""
        if not all(p is not None and id(p) in self.const for p in parts):
            return fn
        key = next(_MEMO_KEYS)

        def memo(focus: list[Any], env: Env) -> list[Any]:
            memo = env.memo
            if memo is None:
                memo = env.memo = {}
            got = memo.get(key)
            if got is None:
                got = memo[key] = fn(focus, env)
            return got

        self.const.add(id(memo))
        return memo

    def compile(self, node: dict[str, Any]) -> Fn:
        t = node.get("type")
        ch: list[dict[str, Any]] = node.get("children") or []
        if t in (None, "EntireExpression", "TermExpression", "ParenthesizedTerm", "LiteralTerm"):
            if not ch:
                if t == "LiteralTerm":
                    raise FhirPathError(f"unsupported literal {_text(node)}")
                raise FhirPathError("empty expression")
            return self.compile(ch[0])
        method = getattr(self, "c_" + str(t), None)
        if method is None:
            raise FhirPathError(f"unsupported syntax {t}: {_text(node)}")
        fn: Fn = method(node, ch)
        return fn

    # -------------------------------------------------------------- literals

    def c_NullLiteral(self, node: dict[str, Any], ch: list[Any]) -> Fn:
        return self._lit(lambda focus, env: [])

    def c_BooleanLiteral(self, node: dict[str, Any], ch: list[Any]) -> Fn:
        v = _text(node) == "true"
        return self._lit(lambda focus, env: [v])

    def c_StringLiteral(self, node: dict[str, Any], ch: list[Any]) -> Fn:
        v = _unescape(_text(node)[1:-1])
        return self._lit(lambda focus, env: [v])

    def c_NumberLiteral(self, node: dict[str, Any], ch: list[Any]) -> Fn:
        text = _text(node)
        v: Any = Decimal(text) if "." in text else int(text)
        return self._lit(lambda focus, env: [v])

    def c_DateTimeLiteral(self, node: dict[str, Any], ch: list[Any]) -> Fn:
        return self._temporal(_text(node)[1:], "date", "date/time literal @")

    def c_TimeLiteral(self, node: dict[str, Any], ch: list[Any]) -> Fn:
        return self._temporal(_text(node)[2:], "time", "time literal @T")

    def _temporal(self, text: str, kind: str, shown: str) -> Fn:
        v = Temporal.parse(text, kind)
        if v is None:
            raise FhirPathError(f"invalid {shown}{text}")
        return self._lit(lambda focus, env: [v])

    def c_QuantityLiteral(self, node: dict[str, Any], ch: list[Any]) -> Fn:
        q = ch[0]
        number = Decimal(q["terminalNodeText"][0])
        unit_node = (q.get("children") or [{}])[0]
        unit = "".join(unit_node.get("terminalNodeText") or [])
        if not unit:
            unit = "".join(
                c2
                for c in unit_node.get("children") or []
                for c2 in c.get("terminalNodeText") or []
            )
        v = Quantity(number, _ident(unit) if unit.startswith("'") else unit)
        return self._lit(lambda focus, env: [v])

    # -------------------------------------------------------------- terms

    def c_ExternalConstantTerm(self, node: dict[str, Any], ch: list[Any]) -> Fn:
        # %resource and the like: their use is caught when the guard is computed
        inner = ch[0]["children"][0]
        name = _ident(_text(inner))
        if inner.get("type") == "StringLiteral":
            name = _unescape(name)
        return self._lit(lambda focus, env: env.variable(name))

    def c_InvocationTerm(self, node: dict[str, Any], ch: list[Any]) -> Fn:
        inv = ch[0]
        if self.depth == 0:
            member = inv["type"] == "MemberInvocation"
            name = _ident(_text(inv["children"][0])) if member else ""
            if member and not name[:1].isupper():
                self.root_names.add(name)
            else:
                self.root_unsafe = True
        if inv["type"] == "MemberInvocation":
            name = _ident(_text(inv["children"][0]))
            if name[:1].isupper():
                return self._type_term(name)
            return lambda focus, env: navigate(focus, name, env.strict)
        return self.invocation(inv, None)

    @staticmethod
    def _type_term(name: str) -> Fn:
        """``Patient`` at the start of a path: the focus when it is a Patient."""

        def fn(focus: list[Any], env: Env) -> list[Any]:
            out = [
                i
                for i in focus
                if isinstance(i, Node) and i.type and name in model().ancestors(i.type)
            ]
            if not out and focus and model().known_type(name) and env.strict:
                raise FhirPathError(f"the context is not a {name}")
            if not out and not model().known_type(name):
                return navigate(focus, name, env.strict)
            return out

        return fn

    def c_InvocationExpression(self, node: dict[str, Any], ch: list[Any]) -> Fn:
        left = self.compile(ch[0])
        return self.invocation(ch[1], left)

    def invocation(self, inv: dict[str, Any], left: Fn | None) -> Fn:
        kind = inv["type"]
        if kind == "MemberInvocation":
            name = _ident(_text(inv["children"][0]))
            if left is None:
                return lambda focus, env: navigate(focus, name, env.strict)
            if name[:1].isupper() and model().known_type(name):
                return self._derived(
                    lambda focus, env: [
                        i
                        for i in left(focus, env)
                        if isinstance(i, Node) and i.type and name in model().ancestors(i.type)
                    ],
                    left,
                )
            return self._derived(
                lambda focus, env: navigate(left(focus, env), name, env.strict), left
            )
        if kind == "FunctionInvocation":
            return self.function(inv["children"][0], left)
        if kind == "ThisInvocation":
            return lambda focus, env: list(env.this)
        if kind == "IndexInvocation":
            return lambda focus, env: [] if env.index is None else [env.index]
        if kind == "TotalInvocation":
            return lambda focus, env: list(env.total)
        raise FhirPathError(f"unsupported invocation {kind}")

    def function(self, functn: dict[str, Any], left: Fn | None) -> Fn:

        parts = functn.get("children") or []
        name = _ident(_text(parts[0]))
        params = (parts[1].get("children") or []) if len(parts) > 1 else []
        if name == "sort":
            return self._sort(params, left)
        spec = FUNCTIONS.get(name)
        if spec is None:
            raise FhirPathError(f"unknown function {name}()")
        impl, lo, hi, type_arg = spec
        if not lo <= len(params) <= hi:
            raise FhirPathError(f"{name}() takes {lo} to {hi} arguments, got {len(params)}")
        if type_arg:
            args: list[Fn] = [self._lit(_const(_text(p).replace("`", ""))) for p in params]
        elif name in _LAMBDAS:
            args = self._in_lambda(params)
        else:
            args = [self.compile(p) for p in params]
        if left is None:
            return lambda focus, env: impl(focus, env, args)
        return self._derived(lambda focus, env: impl(left(focus, env), env, args), left, *args)

    def _in_lambda(self, params: list[dict[str, Any]]) -> list[Fn]:
        self.depth += 1
        try:
            return [self.compile(p) for p in params]
        finally:
            self.depth -= 1

    def _sort(self, params: list[dict[str, Any]], left: Fn | None) -> Fn:
        keys: list[tuple[Fn, bool]] = []
        for p in params:
            if p.get("type") == "PolarityExpression" and p["terminalNodeText"][0] == "-":
                keys.append((self._in_lambda([p["children"][0]])[0], True))
            else:
                keys.append((self._in_lambda([p])[0], False))
        if left is None:
            return lambda focus, env: sort_items(focus, env, keys)
        return lambda focus, env: sort_items(left(focus, env), env, keys)

    # -------------------------------------------------------------- operators

    def c_IndexerExpression(self, node: dict[str, Any], ch: list[Any]) -> Fn:
        coll, idx = self.compile(ch[0]), self.compile(ch[1])

        def fn(focus: list[Any], env: Env) -> list[Any]:
            items = coll(focus, env)
            i = idx(focus, env)
            if not i:
                return []
            n = value_of(i[0])
            if not isinstance(n, int) or isinstance(n, bool):
                raise FhirPathError("an index must be an integer")
            return [items[n]] if 0 <= n < len(items) else []

        return self._derived(fn, coll, idx)

    def c_PolarityExpression(self, node: dict[str, Any], ch: list[Any]) -> Fn:

        inner = self.compile(ch[0])
        if node["terminalNodeText"][0] == "+":
            return inner
        return self._derived(lambda focus, env: negate(inner(focus, env)), inner)

    def _binary(self, node: dict[str, Any], ch: list[Any]) -> Fn:
        op = node["terminalNodeText"][0]
        a = self.compile(ch[0])
        if node["type"] == "TypeExpression":
            tname = _text(ch[1]).replace("`", "")
            type_op = OPERATORS[op]
            return self._derived(lambda focus, env: type_op(a(focus, env), [tname]), a)
        b = self.compile(ch[1])
        if op == "and":
            return self._derived(lambda focus, env: and_op(a, b, focus, env), a, b)
        if op == "or":
            return self._derived(lambda focus, env: or_op(a, b, focus, env), a, b)
        if op == "implies":
            return self._derived(lambda focus, env: implies_op(a, b, focus, env), a, b)
        impl = OPERATORS.get(op)
        if impl is None:
            raise FhirPathError(f"unsupported operator {op}")
        return self._derived(lambda focus, env: impl(a(focus, env), b(focus, env)), a, b)

    c_MultiplicativeExpression = _binary
    c_AdditiveExpression = _binary
    c_UnionExpression = _binary
    c_InequalityExpression = _binary
    c_TypeExpression = _binary
    c_EqualityExpression = _binary
    c_MembershipExpression = _binary
    c_AndExpression = _binary
    c_OrExpression = _binary
    c_XorExpression = _binary
    c_ImpliesExpression = _binary


def _const(v: Any) -> Fn:
    return lambda focus, env: [v]


_ESCAPES = {"'": "'", '"': '"', "`": "`", "r": "\r", "n": "\n", "t": "\t", "f": "\f", "\\": "\\"}


def _unescape(s: str) -> str:
    if "\\" not in s:
        return s
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            if nxt == "u" and i + 5 < len(s):
                out.append(chr(int(s[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


# ------------------------------------------------------------------------------ output


def to_json(items: list[Any]) -> list[Any]:
    """A result collection as plain Python: JSON for FHIR values, str for dates and
    quantities, bool/int/Decimal/str for the rest."""
    out: list[Any] = []
    for i in items:
        if isinstance(i, Node):
            if i.data is None:
                continue
            out.append(i.data)
        elif isinstance(i, Temporal | Quantity):
            out.append(str(i))
        else:
            out.append(i)
    return out


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
