"""IR + API plan -> installable server packages, one per server CapabilityStatement
(and one per ``--combine`` group of statements served on one base).

Each package holds the statement's declarations as data (``api.py``), a typed handler
interface with one method per declared interaction (``handlers.py``, typed with the
generated models), the reference implementation on the SQLite store loaded with the
IG's examples, the FastAPI app, a runner with TLS settings and the contract tests. The
generic engine (``igtools/runtime/capability.py``, ``conformance.py`` (the contract
checks), ``fhirapi.py``, ``search.py``, ``store.py``, ``tls.py``, ``validation.py``) is
copied in; the models package (``igtools models``) is written
beside the servers.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from igtools import __version__
from igtools.ir.model import IG
from igtools.render.models.python import ModelsRenderer, fhir_class, format_python, snake
from igtools.render.stubs.combine import combine_apis, shared_types
from igtools.render.stubs.contract import contract_data
from igtools.render.stubs.plan import Api, Overlay, build_plan
from igtools.render.stubs.server import (
    _capability_json,
    api_spec,
    load_data,
    select_apis,
    store_params,
)
from igtools.render.templating import environment, render
from igtools.runtime.fhirapi import AppConfig
from igtools.runtime.store import Store
from igtools.runtime.validation import Rules
from igtools.validate.rules import build_rules

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "runtime"
TYPES_TABLE = RUNTIME_DIR.parent / "data" / "fhir-r4-types.json"
SERVER_RUNTIME: tuple[str, ...] = (
    "capability.py",
    "conformance.py",
    "fhirapi.py",
    "fhirjson.py",
    "operations.py",
    "search.py",
    "store.py",
    "tls.py",
    "validation.py",
)
SERVER_RUNTIME += tuple(sorted(p.name for p in RUNTIME_DIR.glob("fhirpath*.py")))  # FHIRPath


def pysrc(value: Any) -> str:
    """Python source for dataclass instances (non-default fields) and JSON-like values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        args = []
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            default = f.default if f.default is not dataclasses.MISSING else None
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required or (v != default and v not in ((), [], {}, None)):
                args.append(f"{f.name}={pysrc(v)}")
        return f"{type(value).__name__}({', '.join(args)})"
    if isinstance(value, tuple):
        inner = ", ".join(pysrc(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(pysrc(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{pysrc(k)}: {pysrc(v)}" for k, v in value.items()) + "}"
    return repr(value)


@dataclass
class Method:
    name: str
    params: str
    returns: str
    doc: str


@dataclass
class ResourceView:
    type: str
    snake: str
    interactions: list[str]
    profile: str | None
    conditional: bool
    model: str
    methods: list[Method] = field(default_factory=list)

    def has(self, name: str) -> bool:
        """Whether the typed method ``<name>_<snake>`` exists."""
        return any(m.name == f"{name}_{self.snake}" for m in self.methods)


@dataclass
class ServerView:
    api: Api
    package: str
    resources: list[ResourceView]
    model_imports: list[tuple[str, str]]
    api_source: str
    capability_source: str
    store_params_source: str
    contract_searches: str = "[]"
    contract_reads: str = "[]"
    contract_dates: str = "[]"
    contract_profiles: str = "{}"
    contract_flows: str = "[]"
    contract_writes: str = "[]"
    contract_bundle_profiles: str = "{}"
    combined: bool = False  # several statements on one base (``--combine``)


class StubsRenderer:
    def __init__(
        self,
        ig: IG,
        overlays: list[Overlay] | None = None,
        templates: Path | None = None,
        combine: list[list[str]] | None = None,
    ) -> None:
        self.ig = ig
        self.overlays = overlays or []
        self.combine = combine or []
        self.env = environment("stubs", templates)
        self.warnings: list[str] = []
        self._rules: dict[str, Rules] | None = None

    def render(self, out: Path) -> list[Path]:
        self.out = out
        apis, warnings = build_plan(self.ig, self.overlays)
        self.warnings += warnings
        servers: list[tuple[Api, list[Api] | None]] = [
            (a, None) for a in apis if a.mode == "server"
        ]
        for ids in self.combine:  # one server for several statements (checked before writing)
            chosen = select_apis(apis, ids, "--combine")
            servers.append((combine_apis(chosen), chosen))
        models = ModelsRenderer(self.ig)
        written = models.render(out / "models")
        classes = {
            v.profile.url: (f"{models.package_name}.{v.module}", v.class_name)
            for v in models.views()
        }
        params = store_params(self.ig)
        params_src = pysrc(tuple(params))
        # the reference store on the IG's examples: the answers the flow contract tests expect
        store = Store(params=params)
        load_data(store, self.ig, None)
        reference = (store, AppConfig(others=store.param_defs_by_type()))
        for api, parts in servers:
            view = self._view(api, classes, params_src, reference, parts)
            root = out / f"{view.package}"
            pkg = root / view.package
            if root.exists():
                shutil.rmtree(root)
            ctx = {
                "ig": self.ig,
                "s": view,
                "header": self.header(),
                "models_package": models.package_name,
            }
            for name, target in (
                ("pyproject.toml.jinja", root / "pyproject.toml"),
                ("README.md.jinja", root / "README.md"),
                ("__init__.py.jinja", pkg / "__init__.py"),
                ("api.py.jinja", pkg / "api.py"),
                ("handlers.py.jinja", pkg / "handlers.py"),
                ("app.py.jinja", pkg / "app.py"),
                ("__main__.py.jinja", pkg / "__main__.py"),
                ("contract_plugin.py.jinja", pkg / "contract" / "plugin.py"),
                ("contract_test.py.jinja", pkg / "contract" / "test_contract.py"),
            ):
                written.append(render(self.env, name, target, **ctx))
            (pkg / "contract" / "__init__.py").write_text(
                self.header()
                + '"""Contract tests: '
                + "pytest -p "
                + view.package
                + ".contract.plugin --pyargs "
                + view.package
                + '.contract --base-url URL."""\n'
            )
            rt = pkg / "_runtime"
            rt.mkdir(parents=True, exist_ok=True)
            (rt / "__init__.py").write_text(
                self.header() + '"""FHIR API engine (copied from igtools)."""\n'
            )
            for name in SERVER_RUNTIME:
                (rt / name).write_text(self.header() + (RUNTIME_DIR / name).read_text("utf-8"))
            (rt / TYPES_TABLE.name).write_bytes(TYPES_TABLE.read_bytes())  # read by fhirjson
            (pkg / "py.typed").write_text("")
            data = pkg / "data"
            data.mkdir(exist_ok=True)
            for ex in self.ig.examples:
                path = data / f"{ex.resource_type}-{ex.id}.json"
                path.write_text(
                    json.dumps(ex.data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
                )
            format_python(root)
            written.append(root)
        for api in (a for a in apis if a.mode == "client"):
            written.append(self._client(api, models.package_name))
        return written

    def _client(self, api: Api, models_package: str) -> Path:
        from igtools.render.stubs.python_client import client_view

        view = client_view(api)
        root = self.out / view.package
        pkg = root / view.package
        if root.exists():
            shutil.rmtree(root)
        ctx = {"ig": self.ig, "c": view, "header": self.header(), "models_package": models_package}
        render(self.env, "client_pyproject.toml.jinja", root / "pyproject.toml", **ctx)
        render(self.env, "client_init.py.jinja", pkg / "__init__.py", **ctx)
        render(self.env, "client.py.jinja", pkg / "client.py", **ctx)
        rt = pkg / "_runtime"
        rt.mkdir(parents=True, exist_ok=True)
        (rt / "__init__.py").write_text(
            self.header() + '"""FHIR client engine (copied from igtools)."""\n'
        )
        (rt / "fhirclient.py").write_text(
            self.header() + (RUNTIME_DIR / "fhirclient.py").read_text("utf-8")
        )
        (pkg / "py.typed").write_text("")
        format_python(root)
        return root

    def _registry(self) -> dict[str, Rules]:
        """The profiles' validation rules (built once)."""
        if self._rules is None:
            self._rules = build_rules(self.ig)[0]
        return self._rules

    def header(self) -> str:
        return (
            f"# Generated by igtools {__version__} from {self.ig.package}. Do not edit:\n"
            "# regenerate with `igtools stubs` instead.\n"
        )

    def _view(
        self,
        api: Api,
        classes: dict[str, tuple[str, str]],
        params_src: str,
        reference: tuple[Store, AppConfig],
        parts: list[Api] | None = None,
    ) -> ServerView:
        """The template context of the server of ``api``; ``parts``: the statements a
        combined server answers (``api`` is then their merged plan)."""
        imports: set[tuple[str, str]] = set()
        resources = []
        shared = shared_types(parts) if parts else set()
        for r in api.resources:
            model = None
            for url in r.profiles if r.type not in shared else []:
                if url in classes:
                    model = classes[url]
                    break
            if model is None:
                base = fhir_class(r.type)
                model = base if base is not None else ("fhir.resources.R4B.resource", "Resource")
            imports.add(model)
            cls = model[1]
            sn = snake(r.type)
            rv = ResourceView(
                r.type, sn, list(r.interactions), r.profile, r.conditional_update is not None, cls
            )
            inter = set(r.interactions)
            t = r.type
            uses = " (PATCH uses it too)" if "patch" in inter else ""
            for wanted, name, params, returns, doc in (
                (
                    inter & {"read", "patch"},
                    "read",
                    "self, rid: str",
                    cls,
                    f"GET [base]/{t}/{{id}}{uses}",
                ),
                (
                    "vread" in inter,
                    "vread",
                    "self, rid: str, vid: str",
                    cls,
                    f"GET [base]/{t}/{{id}}/_history/{{vid}}",
                ),
                (
                    "search-type" in inter,
                    "search",
                    "self, request: SearchRequest",
                    "SearchResult",
                    f"GET [base]/{t}?...: matches and included resources",
                ),
                (
                    "create" in inter,
                    "create",
                    f"self, resource: {cls}",
                    cls,
                    f"POST [base]/{t}: the stored resource, with its id",
                ),
                (
                    inter & {"update", "patch"},
                    "update",
                    f"self, rid: str, resource: {cls}",
                    f"tuple[{cls}, bool]",
                    f"PUT [base]/{t}/{{id}}: (resource, created){uses}",
                ),
                (
                    r.conditional_update is not None,
                    "conditional_update",
                    f"self, request: SearchRequest, resource: {cls}",
                    f"tuple[{cls}, bool]",
                    f"PUT [base]/{t}?{r.conditional_update}=...: (resource, created); "
                    "raise PreconditionFailed when several match",
                ),
                (
                    "delete" in inter,
                    "delete",
                    "self, rid: str",
                    "None",
                    f"DELETE [base]/{t}/{{id}}",
                ),
                (
                    "history-instance" in inter,
                    "history",
                    "self, rid: str",
                    "list[JSON]",
                    f"GET [base]/{t}/{{id}}/_history: versions, newest first "
                    "(dicts: method, versionId, resource or None)",
                ),
                (
                    "history-type" in inter,
                    "type_history",
                    "self",
                    "list[JSON]",
                    f"GET [base]/{t}/_history: every version of every {t}, newest first "
                    "(dicts: id, method, versionId, resource or None)",
                ),
            ):
                if wanted:
                    rv.methods.append(Method(f"{name}_{sn}", params, returns, doc))
            resources.append(rv)
        spec = api_spec(api, {})
        contract = contract_data(self.ig, api, parts, reference, self._registry())
        if parts:
            specs_src = [
                pysrc(api_spec(p, {})).replace("capability={}", f"capability=CAPABILITIES[{i}]")
                for i, p in enumerate(parts)
            ]
            api_source = "[" + ", ".join(specs_src) + "]"
            capability: Any = [_capability_json(self.ig, p.capability) for p in parts]
        else:
            api_source = pysrc(spec).replace("capability={}", "capability=CAPABILITY")
            capability = _capability_json(self.ig, api.capability)
        return ServerView(
            api=api,
            package=f"{api.python_name}_server",
            resources=resources,
            model_imports=sorted(imports),
            api_source=api_source,
            capability_source=pysrc(capability),
            store_params_source=params_src,
            contract_searches=pysrc(contract.searches),
            contract_reads=pysrc(contract.reads),
            contract_dates=pysrc(contract.dates),
            contract_profiles=pysrc(contract.profiles),
            contract_flows=pysrc(contract.flows),
            contract_writes=pysrc(contract.writes),
            contract_bundle_profiles=pysrc(contract.bundle_profiles),
            combined=parts is not None,
        )
