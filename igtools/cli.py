"""The ``igtools`` command line: parse options, call a pipeline stage, print."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from igtools import __version__
from igtools.errors import IgtoolsError
from igtools.packages import PackageLoader, PackageSet, Settings, default_cache_dir
from igtools.packages.loader import env_package_dirs
from igtools.packages.registry import DEFAULT_REGISTRIES
from igtools.project import Project, find_project, load_project

log = logging.getLogger("igtools")
F = TypeVar("F", bound=Callable[..., Any])


def output_option(stage: str) -> Callable[[F], F]:
    """``-o/--output`` of a rendering command."""
    return click.option(
        "-o",
        "--output",
        type=click.Path(file_okay=False, path_type=Path),
        help=f"Output folder (default: <project output>/{stage}, else ./generated/{stage}).",
    )


def templates_option(stage: str) -> Callable[[F], F]:
    """``--templates``: a folder whose ``<stage>/`` templates override the built-in ones."""
    return click.option(
        "--templates",
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        help=f"Folder whose {stage}/ templates override the built-in ones.",
    )


@dataclass
class App:
    settings: Settings
    project: Project | None
    verbosity: int
    _loader: PackageLoader | None = field(default=None, repr=False)

    @property
    def loader(self) -> PackageLoader:
        if self._loader is None:
            self._loader = PackageLoader(self.settings)
        return self._loader

    def package_arg(self, package: str | None) -> str:
        if package:
            return package
        if self.project is None:
            raise click.UsageError(
                "no PACKAGE given and no igtools project found "
                "(ig-input/igtools.toml in this folder or above, or --project DIR)"
            )
        return self.project.package

    def output_dir(self, stage: str) -> Path:
        base = self.project.output if self.project is not None else Path("generated")
        return base / stage

    def load(self, package: str | None, dependencies: bool = True) -> PackageSet:
        pset = self.loader.load(self.package_arg(package), dependencies=dependencies)
        for w in pset.warnings:
            log.warning("%s", w)
        return pset


class IgtoolsGroup(click.Group):
    """Turns IgtoolsError into one line on stderr and exit code 2; never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IgtoolsError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:
            app = ctx.obj
            if isinstance(app, App) and app.verbosity >= 2:
                raise
            click.echo(
                f"internal error (a bug in igtools {__version__}): {type(exc).__name__}: {exc} "
                "(run with -vv for the traceback)",
                err=True,
            )
            ctx.exit(70)


@click.group(cls=IgtoolsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="igtools")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="IGTOOLS_CACHE_DIR",
    help="FHIR package cache (default ~/.fhir/packages, shared with SUSHI and the IG Publisher).",
)
@click.option(
    "--package-dir",
    "package_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of <name>-<version>.tgz files used as an offline registry (repeatable; "
    "env IGTOOLS_PACKAGE_DIR, ':'-separated).",
)
@click.option(
    "--registry",
    "registries",
    multiple=True,
    metavar="URL",
    help="FHIR package registry (repeatable; default packages.fhir.org then packages2.fhir.org).",
)
@click.option("--offline", is_flag=True, envvar="IGTOOLS_OFFLINE", help="Never use the network.")
@click.option(
    "--strict", is_flag=True, help="Make an unresolved dependency an error instead of a warning."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Network timeout in seconds.",
)
@click.option(
    "--substitute",
    "substitutes",
    multiple=True,
    metavar="NAME[#VERSION]=VERSION",
    help="Use another version of a dependency that cannot be had, with a warning naming "
    "both (repeatable; e.g. hl7.terminology.r4#7.2.0=7.0.1; NAME alone: any version).",
)
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Project folder holding ig-input/igtools.toml (default: found from the current folder).",
)
@click.option("-v", "--verbose", count=True, help="More output (-vv: debug, tracebacks).")
@click.option("-q", "--quiet", count=True, help="Less output (warnings hidden).")
@click.pass_context
def cli(
    ctx: click.Context,
    cache_dir: Path | None,
    package_dirs: tuple[Path, ...],
    registries: tuple[str, ...],
    offline: bool,
    strict: bool,
    timeout: float,
    substitutes: tuple[str, ...],
    project_dir: Path | None,
    verbose: int,
    quiet: int,
) -> None:
    """igtools: turn a FHIR R4 Implementation Guide package into working artefacts.

    PACKAGE, wherever a command takes one, is a path to a package .tgz, a path to an
    unpacked package folder or a folder of FHIR resources (JSON or XML), or name#version
    (also name@version, name#latest). Without PACKAGE, commands use the project's IG
    named in ig-input/igtools.toml.
    """
    from igtools.console import setup_logging

    verbosity = verbose - quiet
    setup_logging(verbosity)
    root = project_dir or find_project()
    project = load_project(root) if root is not None else None
    dirs = list(package_dirs) + env_package_dirs()
    regs = list(registries)
    if project is not None:
        dirs += [d for d in project.package_dirs if d not in dirs]
        if not regs and project.registries is not None:
            regs = project.registries
    subs = dict(project.substitutes) if project is not None else {}
    for item in substitutes:
        key, sep, version = item.partition("=")
        if not sep or not key.strip() or not version.strip():
            raise click.BadParameter(
                f"{item!r}: expected NAME[#VERSION]=VERSION", param_hint="--substitute"
            )
        subs[key.strip()] = version.strip()
    settings = Settings(
        substitutes=subs,
        cache_dir=(cache_dir or default_cache_dir()).expanduser(),
        package_dirs=dirs,
        registries=regs or list(DEFAULT_REGISTRIES),
        offline=offline,
        strict=strict,
        timeout=timeout,
    )
    ctx.obj = App(settings, project, verbosity)
    ctx.call_on_close(lambda: ctx.obj.loader.close() if ctx.obj._loader else None)


@cli.command()
@click.argument("package", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--no-deps", is_flag=True, help="Do not resolve dependencies.")
@click.pass_obj
def inspect(app: App, package: str | None, as_json: bool, no_deps: bool) -> None:
    """Show what a package holds and whether its dependencies resolve.

    Profiles by base type, extensions, value sets, code systems, capability statements
    (with their mode), search parameters, examples with the profiles they claim, and
    each dependency with where it was found or what is lost without it.
    """
    from igtools.packages.summary import summarize

    pset = app.load(package, dependencies=not no_deps)
    summary = summarize(pset)
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    else:
        from igtools.console import print_inspect

        print_inspect(summary)


@cli.command()
@click.argument("packages", nargs=-1, required=True)
@click.pass_obj
def fetch(app: App, packages: tuple[str, ...]) -> None:
    """Put packages (name#version) and their dependencies into the package cache."""
    for package in packages:
        pset = app.load(package)
        for pkg in pset.packages:
            click.echo(f"{pkg.id}\t{pkg.origin}\t{pkg.location}")
        for dep in pset.missing:
            click.echo(f"{dep.name}#{dep.wanted}\tmissing\t{dep.reason}")


@cli.command()
@click.argument("package", required=False)
@output_option("models")
@click.option("--package-name", help="Python package name (default: from the IG name).")
@templates_option("models")
@click.pass_obj
def models(
    app: App,
    package: str | None,
    output: Path | None,
    package_name: str | None,
    templates: Path | None,
) -> None:
    """Generate an installable package of Pydantic models (one class per profile) with
    a JSON Schema per profile."""
    from igtools.ir import build_ir
    from igtools.render.models.python import ModelsRenderer

    out = output or app.output_dir("models")
    ig = build_ir(app.load(package))
    renderer = ModelsRenderer(ig, package_name, templates)
    written = renderer.render(out)
    for w in [*ig.warnings, *renderer.warnings]:
        log.warning("%s", w)
    click.echo(f"{len(written)} files written to {out} (package {renderer.package_name})")


@cli.command()
@click.argument("package", required=False)
@output_option("examples")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--now", "now_text", metavar="DATE", help="Reference time (default: today 00:00, Europe/Paris)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["json", "xml"]), default="json", show_default=True
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Variants per profile beyond minimal and full; matched resources per scenario Bundle.",
)
@templates_option("examples")
@click.pass_obj
def examples(
    app: App,
    package: str | None,
    output: Path | None,
    seed: int,
    now_text: str | None,
    fmt: str,
    count: int,
    templates: Path | None,
) -> None:
    """Generate valid, realistic example instances for every profile.

    For each resource profile: a minimal instance (only what the profile requires) and
    a full one (every mustSupport element, constrained element and named slice), plus
    variants with --count; for each Bundle profile, a searchset scenario whose
    references resolve inside it. Each instance is checked by igtools' validator (as
    `igtools validate` judges it) before it is written; one that fails is a generator bug
    and fails the command.
    """
    from igtools.ir.build import IRBuilder
    from igtools.render.examples.writer import ExamplesRenderer, parse_now

    out = output or app.output_dir("examples")
    irb = IRBuilder(app.load(package))
    ig = irb.build()
    renderer = ExamplesRenderer(
        ig,
        seed=seed,
        now=parse_now(now_text) if now_text else None,
        count=count,
        match_types=app.project.example_match if app.project is not None else None,
        templates=templates,
        source=irb,  # the package set's profiles: instances validated and repaired
    )
    report = renderer.build()
    renderer.check(report)
    renderer.write(report, out, fmt)
    for line in report.impossible:
        log.warning("no valid instance can be built: %s", line)
    for line in report.warnings:
        log.info("left out: %s", line)
    click.echo(f"{len(report.generated)} examples written to {out}")


@cli.command()
@click.argument("package", required=False)
@output_option("docs")
@click.option(
    "--pages",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="IG source folder with sushi-config.yaml and input/pagecontent (default: the project's).",
)
@click.option(
    "--no-pages", is_flag=True, help="Artefact pages only, even if the project names pages."
)
@click.option(
    "--models",
    "models_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A folder written by `igtools models`, to document.",
)
@click.option(
    "--stubs",
    "stubs_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A folder written by `igtools stubs`, to document (its models too).",
)
@click.option(
    "--previous",
    metavar="PACKAGE",
    help="A previous version of the IG (any PACKAGE form): add a Changes page (igtools diff).",
)
@click.option(
    "--serve", "serve_", is_flag=True, help="Serve the site with live reload after building."
)
@click.option("--port", type=int, default=8000, show_default=True, help="Port for --serve.")
@click.option(
    "--strict/--no-strict",
    default=True,
    show_default=True,
    help="A diagram PlantUML fails on (syntax error, Graphviz missing) stops the build; "
    "with --no-strict it is a warning and its source is shown.",
)
@templates_option("docs")
@click.pass_obj
def docs(
    app: App,
    package: str | None,
    output: Path | None,
    pages: Path | None,
    no_pages: bool,
    models_dir: Path | None,
    stubs_dir: Path | None,
    previous: str | None,
    serve_: bool,
    port: int,
    strict: bool,
    templates: Path | None,
) -> None:
    """Render a searchable MkDocs site of the specification and build it (--strict).

    One page per profile, extension, value set, code system, capability statement,
    search parameter, operation definition, concept map, naming system, other
    conformance resource and example, an artefacts index, and the IG's narrative pages
    converted from IG Publisher markdown (--pages), and with --previous a Changes page
    against an earlier version. Every internal link of the built site
    is checked. Anything of the narrative pages that could not be converted is listed.
    """
    from igtools.ir import build_ir
    from igtools.render.docs.site import DocsRenderer, serve

    out = output or app.output_dir("docs")
    if pages is None and not no_pages and package is None and app.project is not None:
        pages = app.project.pages if app.project.pages and app.project.pages.is_dir() else None
    if previous is None and package is None and app.project is not None:
        previous = app.project.previous
    pset = app.load(package)
    ig = build_ir(pset)
    changes = None
    if previous is not None:
        from igtools.render.diff.report import changes_markdown

        changes = changes_markdown(build_ir(app.load(previous)), ig)
    renderer = DocsRenderer(
        ig,
        pset,
        pages=None if no_pages else pages,
        models_dir=models_dir,
        stubs_dir=stubs_dir,
        templates=templates,
        changes=changes,
        strict=strict,
    )
    report = renderer.render(out)
    for line in report.warnings:
        log.warning("%s", line)
    for line in report.unconverted:
        log.warning("not converted: %s", line)
    for line in report.diagrams:
        log.info("diagram: %s", line)
    renderer.build(out, report)
    assert report.links is not None
    click.echo(
        f"{report.pages} pages; site built in {report.site} "
        f"({report.links.pages} HTML pages, {report.links.links} internal links checked)"
    )
    if serve_:
        serve(out, "127.0.0.1", port)


@cli.command()
@click.argument("package", required=False)
@output_option("stubs")
@templates_option("stubs")
@click.option(
    "--combine",
    "combine",
    multiple=True,
    metavar="ID,ID...",
    help="Also generate one server answering these server CapabilityStatements on one base "
    "(ids or names, comma-separated; repeatable for several combined servers).",
)
@click.pass_obj
def stubs(
    app: App,
    package: str | None,
    output: Path | None,
    templates: Path | None,
    combine: tuple[str, ...],
) -> None:
    """Generate a server package per server CapabilityStatement (FastAPI, typed handler
    interface, reference implementation on SQLite, TLS runner), a client package per
    client CapabilityStatement (httpx, sync and async), and the models package they are
    typed with. Each server package carries contract tests an éditeur points at their
    own server (pytest -p <server>.contract.plugin --pyargs <server>.contract --base-url URL).
    --combine A,B adds one server package for statements A and B on one base URL."""
    from igtools.ir import build_ir
    from igtools.render.stubs.plan import parse_overlays
    from igtools.render.stubs.python import StubsRenderer

    out = output or app.output_dir("stubs")
    overlays = []
    if app.project is not None:
        overlays = parse_overlays(app.project.stubs_overlay, str(app.project.config_file))
    groups = [[c.strip() for c in group.split(",") if c.strip()] for group in combine]
    for group in groups:
        if len(group) < 2:
            raise click.UsageError(f"--combine {','.join(group)}: name two statements or more")
    ig = build_ir(app.load(package))
    renderer = StubsRenderer(ig, overlays, templates, groups)
    renderer.render(out)
    for w in renderer.warnings:
        log.warning("%s", w)
    made = sorted(p.name for p in out.iterdir() if p.name.endswith(("_server", "_client")))
    click.echo(f"models and {len(made)} packages written to {out}: {', '.join(made)}")


@cli.command()
@click.argument("source", required=False)
@output_option("snapshots")
@click.option(
    "--pin-core-versions/--no-pin-core-versions",
    default=True,
    show_default=True,
    help="Version the references elements inherit from the core (|4.0.1), as current IG "
    "Publishers and the snapshots every other command computes do; --no-pin-core-versions "
    "keeps them unversioned, as older publishers did.",
)
@click.pass_obj
def snapshot(app: App, source: str | None, output: Path | None, pin_core_versions: bool) -> None:
    """Compute the snapshot of every StructureDefinition of SOURCE that has a differential
    (a folder of loose resources such as SUSHI's fsh-generated/resources, or a package),
    from its base definition in SOURCE, its dependencies or hl7.fhir.r4.core, and write
    the StructureDefinitions with their snapshots to the output folder.
    Exit code 1 if any could not be computed (each named with its file)."""
    from igtools.ir.snapshot.fill import ensure_core, generate_package

    out = output or app.output_dir("snapshots")
    pset = app.load(source)
    ensure_core(pset, app.loader)
    result = generate_package(pset.index, pset.root.entries, pin_core_versions=pin_core_versions)
    out.mkdir(parents=True, exist_ok=True)
    for entry, elements in result.done:
        sd = {k: v for k, v in entry.data.items() if k != "snapshot"}
        sd["snapshot"] = {"element": elements}
        name = f"StructureDefinition-{sd.get('id') or entry.id}.json"
        text = json.dumps(sd, indent=2, ensure_ascii=False) + "\n"
        (out / name).write_text(text, encoding="utf-8")
    for w in result.warnings:
        log.warning("%s", w)
    click.echo(
        f"{len(result.done)} StructureDefinitions with snapshots written to {out}"
        + (f"; {len(result.failed)} failed" if result.failed else "")
    )
    if result.failed:
        sys.exit(1)


@cli.command()
@click.argument("package", required=False)
@click.option(
    "--capability",
    "capabilities",
    multiple=True,
    metavar="ID",
    help="A server CapabilityStatement to serve, by id or name (repeatable; default: all).",
)
@click.option(
    "--data",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A folder of JSON resources to load (default: the package's examples).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--db", default=":memory:", show_default=True, help="SQLite file of the store.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes sharing the port and one store file (a temporary one when --db "
    "is :memory:); fork-based, Linux and macOS.",
)
@click.option("--certfile", type=click.Path(dir_okay=False, exists=True), help="Serve HTTPS.")
@click.option("--keyfile", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--ca-certs",
    type=click.Path(dir_okay=False, exists=True),
    help="Require client certificates signed by this CA (mutual TLS).",
)
@click.option(
    "--allow-cn",
    multiple=True,
    metavar="PATTERN",
    help="Accept only client certificates whose CN matches (repeatable; needs --ca-certs).",
)
@click.option(
    "--allow-ou",
    multiple=True,
    metavar="PATTERN",
    help="Accept only client certificates with an OU that matches (repeatable).",
)
@click.pass_obj
def serve(
    app: App,
    package: str | None,
    capabilities: tuple[str, ...],
    data: Path | None,
    host: str,
    port: int,
    db: str,
    workers: int,
    certfile: str | None,
    keyfile: str | None,
    ca_certs: str | None,
    allow_cn: tuple[str, ...],
    allow_ou: tuple[str, ...],
) -> None:
    """Serve the IG's server CapabilityStatements with the reference implementation.

    One FastAPI app on uvicorn for all the statements named (an éditeur serves slot search
    and regulator accounts on one base URL: /metadata answers their merged
    CapabilityStatement, and each body is checked against the profile of the statement
    declaring that write and the profiles it claims), backed by an SQLite store loaded with the
    package's examples (each resource once, Bundle entries included) or --data.
    Search parameters, includes, conditional updates and response Bundle profiles come
    from the statements and the project's [[stubs.overlay]] (docs/stubs.md).
    TLS with --certfile/--keyfile; mutual TLS with --ca-certs, and --allow-cn/--allow-ou
    to accept only some certificate subjects (others get 403).
    """
    import ssl
    import tempfile

    from igtools.runtime.tls import ClientCertPolicy, protocol_class

    if (allow_cn or allow_ou) and not ca_certs:
        raise click.UsageError("--allow-cn/--allow-ou need --ca-certs (mutual TLS)")
    if ca_certs and not certfile:
        raise click.UsageError("--ca-certs needs --certfile (and --keyfile)")

    from igtools.ir import build_ir
    from igtools.render.stubs.plan import build_plan, parse_overlays
    from igtools.render.stubs.server import make_app, select_apis
    from igtools.render.stubs.server import run as run_server

    overlays = []
    if app.project is not None:  # statements the overlay does not name are unaffected
        overlays = parse_overlays(app.project.stubs_overlay, str(app.project.config_file))
    ig = build_ir(app.load(package))
    chosen = select_apis(build_plan(ig, overlays)[0], list(capabilities))
    policy = ClientCertPolicy(cn=list(allow_cn), ou=list(allow_ou))
    scheme = "https" if certfile else "http"
    with tempfile.TemporaryDirectory(prefix="igtools-serve-") as tmp:
        if workers > 1:  # load the store file once; each worker opens it
            db = str(Path(tmp) / "store.sqlite") if db == ":memory:" else db
            store = make_app(ig, list(capabilities), overlays, data, db)[1]
            count = store.count()
            store.close()
        else:
            fastapi_app, store, _ = make_app(ig, list(capabilities), overlays, data, db)
            count = store.count()
        click.echo(
            f"serving {', '.join(a.capability for a in chosen)} on {scheme}://{host}:{port} "
            f"({count} resources" + (f", {workers} workers)" if workers > 1 else ")")
        )

        def make() -> Any:
            if workers > 1:
                return make_app(ig, list(capabilities), overlays, data, db, load=False)[0]
            return fastapi_app

        run_server(
            make,
            {
                "host": host,
                "port": port,
                "log_level": "info" if app.verbosity > 0 else "warning",
                "ssl_certfile": certfile,
                "ssl_keyfile": keyfile,
                "ssl_ca_certs": ca_certs,
                "ssl_cert_reqs": ssl.CERT_REQUIRED if ca_certs else ssl.CERT_NONE,
                "http": protocol_class(policy) if allow_cn or allow_ou else "auto",
            },
            workers,
        )


@cli.command()
@click.argument("base_url")
@click.argument("package", required=False)
@click.option(
    "--capability",
    "capabilities",
    multiple=True,
    metavar="ID",
    help="A server CapabilityStatement the server implements, by id or name (repeatable: "
    "several served on one base).",
)
@click.option(
    "--cert",
    type=click.Path(dir_okay=False, exists=True),
    help="Client certificate (PEM) for mutual TLS.",
)
@click.option("--key", type=click.Path(dir_okay=False, exists=True), help="Its private key (PEM).")
@click.option(
    "--ca",
    type=click.Path(dir_okay=False, exists=True),
    help="CA bundle (PEM) to verify the server (default: the system's).",
)
@click.option(
    "--data-loaded",
    is_flag=True,
    help="The server holds the IG's examples: also run the reads, searches and flows on them.",
)
@click.option(
    "--load",
    is_flag=True,
    help="First write the IG's examples to the server (PUT, else POST, as its "
    "CapabilityStatement allows), then run every check.",
)
@click.option(
    "--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML here."
)
@click.option(
    "--html", type=click.Path(dir_okay=False, path_type=Path), help="Write an HTML report here."
)
@click.pass_obj
def conformance(
    app: App,
    base_url: str,
    package: str | None,
    capabilities: tuple[str, ...],
    cert: str | None,
    key: str | None,
    ca: str | None,
    data_loaded: bool,
    load: bool,
    junit: Path | None,
    html: Path | None,
) -> None:
    """Check a FHIR server at BASE_URL against server CapabilityStatements of the IG.

    The checks of the generated contract tests (one implementation): /metadata, reads,
    searches by _id with the declared _include, each search flow in its shape (chains,
    _has, includes) with exactly the matches and includes of the reference
    implementation, empty results, malformed dates, writes (create, conditional update,
    a body outside the profile). Reads, searches and flows query the IG's examples: give
    --data-loaded when the server holds them, or --load to write them first; otherwise
    those are skipped. Writes add resources with fresh identifiers. Without PACKAGE, the
    project's IG (and its [[stubs.overlay]] flows). Mutual TLS: --cert/--key, --ca.
    A progress display on stderr, a table of results on stdout, --junit/--html reports.
    Exit 0 when no check fails (skipped ones aside), 1 when one fails, 2 on usage errors
    and when the server does not answer GET /metadata.
    """
    from igtools.conformance.command import Options
    from igtools.conformance.command import conformance as run_conformance
    from igtools.ir import build_ir
    from igtools.render.stubs.plan import parse_overlays

    if data_loaded and load:
        raise click.UsageError("--data-loaded and --load: give one or the other")
    if key and not cert:
        raise click.UsageError("--key needs --cert (the client certificate)")
    overlays = []
    if app.project is not None:
        overlays = parse_overlays(app.project.stubs_overlay, str(app.project.config_file))
    ig = build_ir(app.load(package))
    options = Options(base_url, list(capabilities), cert, key, ca, data_loaded, load, junit, html)
    code = run_conformance(ig, options, overlays)
    if code:
        raise click.exceptions.Exit(code)


@cli.command()
@click.argument("package", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: the project's output, else ./generated).",
)
@click.option("--force", is_flag=True, help="Redo every stage, changed or not.")
@click.option("--check", "check_only", is_flag=True, help="Fail (exit 1) if the output is stale.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the examples.")
@click.option(
    "--previous",
    metavar="PACKAGE",
    help="A previous version of the IG: a Changes page in the docs (default: the project's).",
)
@click.option("--now", "now_text", metavar="DATE", help="Reference time of the examples.")
@click.option(
    "--stage",
    "stages",
    multiple=True,
    type=click.Choice(["models", "examples", "stubs", "docs"]),
    help="Only these stages (repeatable; default: all).",
)
@templates_option("<stage>")
@click.pass_obj
def build(
    app: App,
    package: str | None,
    output: Path | None,
    force: bool,
    check_only: bool,
    seed: int,
    previous: str | None,
    now_text: str | None,
    stages: tuple[str, ...],
    templates: Path | None,
) -> None:
    """Run every stage: models, examples, stubs, docs (with the project's pages, and a
    Changes page against --previous or the project's [ig] previous).

    Each stage writes <output>/<stage>/. A stage whose inputs did not change (package
    content, templates, igtools version, options) is skipped; --force redoes all.
    --check rebuilds into a temporary folder and exits 1 with the differences if the
    output folder is stale (for IG maintainers' CI).
    """
    from rich.table import Table

    from igtools.build import STAGES, Builder, BuildOptions, check
    from igtools.console import stdout
    from igtools.render.examples.writer import parse_now
    from igtools.render.stubs.plan import parse_overlays

    out = output or (app.project.output if app.project is not None else Path("generated"))
    project = app.project
    pages = None
    if package is None and project is not None and project.pages and project.pages.is_dir():
        pages = project.pages
    if previous is None and package is None and project is not None:
        previous = project.previous
    options = BuildOptions(
        seed=seed,
        now=parse_now(now_text) if now_text else None,
        pages=pages,
        # the previous version only matters to the docs stage: not loaded otherwise
        previous=app.load(previous) if previous and (not stages or "docs" in stages) else None,
        overlays=parse_overlays(project.stubs_overlay, str(project.config_file)) if project else [],
        match_types=dict(project.example_match) if project else {},
        templates=templates,
        force=force,
        stages=tuple(s for s in STAGES if not stages or s in stages),
    )
    pset = app.load(package)
    if check_only:
        diffs = check(pset, out, options)
        if diffs:
            click.echo(f"{out} is stale ({len(diffs)} differences):")
            for d in diffs[:50]:
                click.echo(f"  {d}")
            sys.exit(1)
        click.echo(f"{out} is up to date")
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} stages"),
        TimeElapsedColumn(),
        console=stdout,
        transient=True,
    ) as bar:
        task = bar.add_task("building", total=len(options.stages))
        done: list[str] = []

        def progress(stage: str) -> None:
            if done:
                bar.advance(task)
            done.append(stage)
            bar.update(task, description=f"building {stage}")

        results = Builder(pset, out, options).run(progress)
        bar.advance(task)
    table = Table(title=f"igtools build of {pset.root.id} into {out}", title_justify="left")
    for col in ("stage", "status", "files", "warnings", "seconds"):
        table.add_column(col)
    for r in results:
        table.add_row(r.stage, r.status, str(r.files), str(len(r.warnings)), f"{r.seconds:.1f}")
        for w in r.warnings:
            log.info("%s: %s", r.stage, w)
    stdout.print(table)
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        click.echo(f"{r.stage} failed: {r.error}", err=True)
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("old")
@click.argument("new")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file."
)
@templates_option("diff")
@click.pass_obj
def diff(
    app: App, old: str, new: str, fmt: str, output: Path | None, templates: Path | None
) -> None:
    """Compare two versions of an IG (any PACKAGE forms): artefacts added, removed or
    renamed; per profile element cardinality, types, targets, fixed/pattern values,
    bindings, slices, mustSupport and invariants; per capability statement interactions
    and search parameters. Each change says whether it breaks éditeurs producing
    instances (P) and/or clients consuming them (C), and why."""
    from igtools.ir import build_ir
    from igtools.render.diff.compare import compare
    from igtools.render.diff.report import to_json, to_markdown

    report = compare(build_ir(app.load(old)), build_ir(app.load(new)))
    text = to_json(report) if fmt == "json" else to_markdown(report, templates)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(f"{len(report.changes)} changes written to {output}")
    else:
        sys.stdout.write(text)


@cli.command("validate")
@click.argument("package")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--profile", metavar="URL", help="Validate against this profile (URL, name or id).")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one OperationOutcome per file.")
@click.option("--no-invariants", is_flag=True, help="Skip FHIRPath invariants (faster).")
@click.option(
    "--no-example-urls",
    is_flag=True,
    help="Undefined extensions at example.org/acme.com urls are errors too (allowed by default, "
    "as the IG Publisher allows them).",
)
@click.option(
    "--assume-valid-rest-references",
    is_flag=True,
    help="Check the target type of a Type/id reference nothing resolves as if it resolved "
    "to what it names (the reference validator's -assumeValidRestReferences; by default "
    "only references that resolve have their type checked).",
)
@click.pass_obj
def validate_cmd(
    app: App,
    package: str,
    files: tuple[Path, ...],
    profile: str | None,
    as_json: bool,
    no_invariants: bool,
    no_example_urls: bool,
    assume_valid_rest_references: bool,
) -> None:
    """Validate instances (JSON or XML) against the profiles of PACKAGE.

    Each file is checked against its base resource and every profile it claims in
    meta.profile (or --profile); a Bundle's entries against their own meta.profile too.
    Errors carry a FHIRPath-style location, the rule broken and the profile.
    Exit code: 0 all valid, 1 any invalid, 2 input error.
    """
    from igtools.ir.build import IRBuilder
    from igtools.validate.validator import Validator

    pset = app.load(package)
    builder = IRBuilder(pset)
    validator = Validator(
        builder.build(),
        invariants=not no_invariants,
        builder=builder,
        allow_example_urls=not no_example_urls,
        assume_valid_rest_references=assume_valid_rest_references,
    )
    if profile is not None:
        validator.resolve_profile(profile)  # a bad --profile is a usage error, early
    any_invalid = False
    for path in files:
        result = validator.validate_file(path, profile)
        any_invalid |= not result.valid
        if as_json:
            line = {"file": str(path), "valid": result.valid, "outcome": result.outcome()}
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
            continue
        errors = [i for i in result.issues if i.severity in ("error", "fatal")]
        status = "valid" if result.valid else f"INVALID ({len(errors)} errors)"
        click.echo(f"{path}: {status}")
        for issue in result.issues:
            click.echo(f"  {issue.severity}: {issue}")
    sys.exit(1 if any_invalid else 0)


def main() -> None:
    cli(prog_name="igtools")


if __name__ == "__main__":  # pragma: no cover
    main()
