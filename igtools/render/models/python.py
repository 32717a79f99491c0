"""IR -> an installable Python package of Pydantic v2 models, one class per profile.

Each class derives from the fhir.resources (R4B) model of its base resource, so that
primitive extensions (``_field``), choice types, contained resources and
``resourceType`` behave as in fhir.resources; the profile's own rules (cardinalities,
fixed and pattern values, required bindings, slices, reference targets, invariants) are
checked by a validator that runs the rules derived from the IR (see
``igtools.validate.rules``) with the runtime shipped inside the package.

Why not re-declare narrowed fields (``status: Literal["free"]``)? fhir.resources'
serializer and its ``_field`` primitive-extension handling read each field's own
metadata: a subclass field with another annotation breaks ``model_dump`` (tried, see
docs/models.md). Profile rules therefore live in the validator, and typed accessors
give slices and extensions.
"""

from __future__ import annotations

import dataclasses
import keyword
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from igtools import __version__
from igtools.errors import IgtoolsError
from igtools.ir.model import IG, Element, Profile
from igtools.render.templating import environment, render
from igtools.runtime.validation import El, Inv, Match, Rules
from igtools.validate.rules import RuleBuilder

LINE_LENGTH = 100
RUNTIME_DIR = Path(__file__).resolve().parents[2] / "runtime"
_FHIRPATH_RUNTIME = sorted(p.name for p in RUNTIME_DIR.glob("fhirpath*.py"))  # the engine

PRIMITIVE_PY = {
    "boolean": "bool",
    "integer": "int",
    "positiveInt": "int",
    "unsignedInt": "int",
    "integer64": "int",
    "decimal": "decimal.Decimal",
}


def snake(name: str) -> str:
    s = re.sub(r"[^0-9A-Za-z]+", "_", name)
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", s)
    s = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", s)
    s = re.sub(r"_+", "_", s).strip("_").lower() or "x"
    if s[0].isdigit():
        s = "p_" + s
    if keyword.iskeyword(s):
        s += "_"
    return s


def pascal(name: str) -> str:
    parts = re.split(r"[^0-9A-Za-z]+", name)
    s = "".join(p[:1].upper() + p[1:] for p in parts if p) or "Profile"
    return s if not s[0].isdigit() else "P" + s


def const_name(name: str) -> str:
    return snake(name).upper()


@cache
def fhir_class(type_name: str) -> tuple[str, str] | None:
    """(module, class) of the fhir.resources R4B model named ``type_name``."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        cls = get_fhir_model_class(type_name)
    except (KeyError, ValueError):
        return None
    return cls.__module__, cls.__name__


def _field_type_name(resource: str, json_name: str) -> str | None:
    """The fhir.resources class name behind a field (IdentifierType -> Identifier)."""
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(resource)
    info = model.model_fields.get(json_name)
    if info is None:
        for candidate in model.model_fields.values():
            if candidate.alias == json_name:
                info = candidate
    if info is None:
        return None
    text = repr(info.annotation)
    m = re.search(r"(\w+)Type\b", text)
    return m[1] if m else None


# ---------------------------------------------------------------------- rules as code


def _py(value: Any, shared: dict[Any, str] | None = None) -> str:
    """Python source for rules objects and JSON values (only non-default fields).

    Invariants and value set codes found in ``shared`` are written as the name of a
    shared constant.
    """
    if isinstance(value, Inv) and shared is not None and value in shared:
        return shared[value]
    if _is_codes(value) and shared is not None and value in shared:
        return shared[value]
    if isinstance(value, El | Match | Inv | Rules):
        args = []
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            required = f.default is dataclasses.MISSING
            if required or v != f.default:
                args.append(f"{f.name}={_py(v, shared)}")
        return f"{type(value).__name__}({', '.join(args)})"
    if isinstance(value, tuple):
        inner = ", ".join(_py(v, shared) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_py(v, shared) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py(k)}: {_py(v, shared)}" for k, v in value.items()) + "}"
    return repr(value)


def _invariants(el: El) -> list[Inv]:
    out = list(el.invariants)
    for c in (*el.children, *el.slices):
        out.extend(_invariants(c))
    return out


SHARED_CODES_MIN = 8  # a value set's codes this long or longer become a shared constant


def _is_codes(value: Any) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) >= SHARED_CODES_MIN
        and all(isinstance(v, tuple) and len(v) == 2 for v in value[:2])
    )


def _coded(el: El) -> list[El]:
    out = [el] if el.codes is not None and len(el.codes) >= SHARED_CODES_MIN else []
    for c in (*el.children, *el.slices):
        out.extend(_coded(c))
    return out


def shared_codes(all_rules: list[Rules]) -> dict[Any, str]:
    """A constant name for the codes of each value set of some length (the same value set
    binds many elements: written once)."""
    names: dict[Any, str] = {}
    used: set[str] = set()
    for rules in all_rules:
        for el in _coded(rules.root):
            if el.codes in names:
                continue
            vs = (el.value_set or "codes").partition("|")[0].rstrip("/").rsplit("/", 1)[-1]
            base = "CODES_" + (const_name(re.sub(r"\W+", "_", vs)).strip("_") or "VS")
            name, n = base, 2
            while name in used:
                name, n = f"{base}_{n}", n + 1
            used.add(name)
            names[el.codes] = name
    return names


def shared_invariants(all_rules: list[Rules]) -> dict[Inv, str]:
    """A constant name for each distinct invariant (many repeat across profiles)."""
    names: dict[Inv, str] = {}
    used: set[str] = set()
    for rules in all_rules:
        for inv in _invariants(rules.root):
            if inv in names:
                continue
            base = "INV_" + const_name(inv.key)
            name, n = base, 2
            while name in used:
                name, n = f"{base}_{n}", n + 1
            used.add(name)
            names[inv] = name
    return names


# ---------------------------------------------------------------------- view models


@dataclass
class Accessor:
    name: str
    doc: str
    element: str  # JSON name
    slice_name: str
    item_type: str | None  # python type of one item, None for Any
    single: bool
    extension_value: str | None = None  # JSON name of the value for extension accessors
    value_type: str | None = None


@dataclass
class ModelView:
    profile: Profile
    class_name: str
    module: str
    const: str
    base_module: str
    base_class: str
    rules: Rules
    doc_lines: list[str]
    rules_source: str = ""
    accessors: list[Accessor] = field(default_factory=list)
    imports: set[tuple[str, str]] = field(default_factory=set)


def _doc(text: str | None) -> str:
    if not text:
        return ""
    return text.replace("\\", "\\\\").replace('"""', "'''").strip()


def _card(el: Element) -> str:
    return f"{el.min}..{'*' if el.max is None else el.max}"


def _type_text(el: Element) -> str:
    parts = []
    for t in el.types:
        targets = [u.rsplit("/", 1)[-1] for u in t.target_profiles + t.profiles]
        parts.append(f"{t.code}({' | '.join(targets)})" if targets else t.code)
    return " | ".join(parts)


def _element_doc(profile: Profile) -> list[str]:
    lines = []
    for el in profile.elements():
        if el is profile.root or not el.in_differential:
            continue
        label = el.id.split(".", 1)[1] if "." in el.id else el.id
        bits = [f"{label} {_card(el)}", _type_text(el)]
        if el.fixed:
            bits.append(f"fixed {el.fixed[1]!r}"[:80])
        if el.pattern:
            bits.append(f"pattern {el.pattern[1]!r}"[:80])
        if el.binding and el.binding.value_set:
            bits.append(f"{el.binding.strength} {el.binding.value_set}")
        if el.must_support:
            bits.append("mustSupport")
        line = " ; ".join(b for b in bits if b)
        if el.short:
            line += f" -- {el.short}"
        lines.append(_doc(line))
    return lines


class ModelsRenderer:
    def __init__(
        self, ig: IG, package_name: str | None = None, templates: Path | None = None
    ) -> None:
        self.ig = ig
        self.package_name = package_name or snake(ig.name.replace(".", "_")) + "_models"
        if not self.package_name.isidentifier():
            raise IgtoolsError(f"--package-name {self.package_name!r} is not a Python identifier")
        self.env = environment("models", templates)
        self.rule_builder = RuleBuilder(ig)
        self.warnings: list[str] = []
        self.shared: dict[Any, str] = {}

    def views(self) -> list[ModelView]:
        used_classes: set[str] = set()
        used_modules: set[str] = set()
        views = []
        for profile in self.ig.profiles.values():
            if not profile.is_profile or profile.kind != "resource":
                if profile.is_profile:
                    self.warnings.append(
                        f"{profile.name}: a {profile.kind} profile (on {profile.type}): "
                        "no model class generated (data type profiles are checked inside resources)"
                    )
                continue
            base = fhir_class(profile.type)
            if base is None:
                self.warnings.append(
                    f"{profile.name}: base type {profile.type} unknown to fhir.resources: skipped"
                )
                continue
            cls = pascal(profile.name)
            while cls in used_classes:
                cls += "_"
            used_classes.add(cls)
            mod = snake(profile.name)
            while mod in used_modules:
                mod += "_"
            used_modules.add(mod)
            rules = self.rule_builder.rules(profile)
            view = ModelView(
                profile=profile,
                class_name=cls,
                module=mod,
                const=const_name(profile.name),
                base_module=base[0],
                base_class=base[1],
                rules=rules,
                doc_lines=_element_doc(profile),
            )
            self._accessors(view)
            views.append(view)
        self.shared = {
            **shared_invariants([v.rules for v in views]),
            **shared_codes([v.rules for v in views]),
        }
        for v in views:
            v.rules_source = _py(v.rules, self.shared)
        return views

    def _accessors(self, view: ModelView) -> None:
        profile = view.profile
        names: set[str] = set()
        for el in profile.root.children:
            if not el.slices or el.prohibited:
                continue
            json_name = el.json_names()[0]
            item = _field_type_name(profile.type, json_name)
            item_type = None
            if item is not None and (cls := fhir_class(item)) is not None:
                view.imports.add(cls)
                item_type = cls[1]
            for s in el.slices:
                if s.prohibited or not s.slice_name:
                    continue
                name = snake(f"{json_name}_{s.slice_name}")
                while name in names:
                    name += "_"
                names.add(name)
                acc = Accessor(
                    name=name,
                    doc=_doc(s.short or s.definition or f"Slice {s.slice_name} of {el.path}"),
                    element=json_name,
                    slice_name=s.slice_name,
                    item_type=item_type,
                    single=s.max == 1,
                )
                ext = s.extension
                if (
                    json_name in ("extension", "modifierExtension")
                    and ext is not None
                    and len(ext.value_types) == 1
                ):
                    code = ext.value_types[0].code
                    vname = "value" + code[0].upper() + code[1:]
                    if code in PRIMITIVE_PY:
                        vtype = PRIMITIVE_PY[code]
                    elif code[:1].islower():
                        vtype = "str"
                    elif (vcls := fhir_class(code)) is not None:
                        view.imports.add(vcls)
                        vtype = vcls[1]
                    else:
                        vtype = "Any"
                    acc.extension_value = vname
                    acc.value_type = vtype
                view.accessors.append(acc)

    def render(self, out_dir: Path) -> list[Path]:
        views = self.views()
        self.warnings.extend(self.rule_builder.warnings)
        pkg_dir = out_dir / self.package_name
        if pkg_dir.exists():
            shutil.rmtree(pkg_dir)
        written: list[Path] = []
        ctx = {
            "ig": self.ig,
            "package_name": self.package_name,
            "views": views,
            "header": self.header(),
            "shared_invariants": [(name, _py(inv)) for inv, name in self.shared.items()],
        }
        written.append(render(self.env, "pyproject.toml.jinja", out_dir / "pyproject.toml", **ctx))
        written.append(render(self.env, "README.md.jinja", out_dir / "README.md", **ctx))
        written.append(render(self.env, "__init__.py.jinja", pkg_dir / "__init__.py", **ctx))
        written.append(render(self.env, "_rules.py.jinja", pkg_dir / "_rules.py", **ctx))
        for view in views:
            written.append(
                render(
                    self.env, "profile.py.jinja", pkg_dir / f"{view.module}.py", view=view, **ctx
                )
            )
        rt = pkg_dir / "_runtime"
        rt.mkdir(parents=True, exist_ok=True)
        (rt / "__init__.py").write_text(
            f'{self.header()}"""Profile validation runtime (copied from igtools)."""\n'
        )
        for name in ("validation.py", "models.py", *_FHIRPATH_RUNTIME):
            src = (RUNTIME_DIR / name).read_text(encoding="utf-8")
            (rt / name).write_text(self.header() + src, encoding="utf-8")
            written.append(rt / name)
        (pkg_dir / "py.typed").write_text("")
        from igtools.render.models.jsonschema import write_schemas

        written.extend(write_schemas(self.ig, pkg_dir / "schemas"))
        format_python(out_dir)
        return written

    def header(self) -> str:
        return (
            f"# Generated by igtools {__version__} from {self.ig.package}. Do not edit:\n"
            "# regenerate with `igtools models` instead.\n"
        )


def format_python(folder: Path) -> None:
    """Format generated code with ruff (a dependency of igtools)."""
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

        ruff = str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        ruff = shutil.which("ruff") or ""
    if not ruff:
        raise IgtoolsError("ruff is not installed: it formats the generated code")
    # --isolated: the same output whatever ruff configuration surrounds the folder
    common = ["--isolated", "--no-cache", "--line-length", str(LINE_LENGTH), "--quiet"]
    for args in (["check", "--fix", "--select", "I,F401"], ["format"]):
        proc = subprocess.run(
            [ruff, *args, *common, str(folder)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode not in (0, 1):
            raise IgtoolsError(f"ruff {args[0]} failed on {folder}: {proc.stderr.strip()}")
