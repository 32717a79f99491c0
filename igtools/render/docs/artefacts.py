"""One page per artefact of the IR: profiles, extensions, value sets, code systems,
capability statements, search parameters, examples; the conformance resources the IR
does not model (operations, concept maps, naming systems, others: :mod:`.conformance`);
and the artefacts index.

Pages are named after the IG Publisher's (``StructureDefinition-<id>``), so that links
of the IG's narrative pages map one to one. Examples live under ``examples/``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from igtools.ir.model import IG, Capability, Example, SearchParam, ValueSet
from igtools.render.docs import conformance as conf
from igtools.render.docs.structure import Links, constraints_html, structure_view
from igtools.render.templating import render

ART = "artefacts"


def cell(value: Any) -> str:
    """Text safe inside a markdown table cell."""
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\r", "")
    return "<br>".join(line.strip() for line in text.split("\n") if line.strip())


def short_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


@dataclass
class Page:
    stem: str  # IG Publisher file stem
    path: str  # relative to the docs root
    title: str
    kind: str


@dataclass
class ArtefactSite:
    """Where every artefact's page is, for links from anywhere."""

    ig: IG
    pages: dict[str, Page] = field(default_factory=dict)  # stem -> page
    by_url: dict[str, str] = field(default_factory=dict)  # canonical -> stem

    def add(self, stem: str, title: str, kind: str, url: str | None = None, sub: str = "") -> Page:
        path = f"{ART}/{sub}{stem}.md"
        page = Page(stem, path, title, kind)
        self.pages[stem] = page
        if url:
            self.by_url[url] = stem
        return page

    def link(self, url: str | None, from_path: str, text: str | None = None) -> str:
        """A markdown link to the page of canonical ``url`` (plain text when unknown)."""
        if not url:
            return ""
        stem = self.by_url.get(url.partition("|")[0])
        label = text or url.rsplit("/", 1)[-1]
        if stem is None:
            return f"[{label}]({url})" if url.startswith("http") else label
        return f"[{label}]({relative(self.pages[stem].path, from_path)})"


def relative(target: str, from_path: str) -> str:
    """Path of ``target`` relative to the folder of ``from_path`` (both docs-root relative)."""
    t = target.split("/")
    f = from_path.split("/")[:-1]
    i = 0
    while i < len(t) - 1 and i < len(f) and t[i] == f[i]:
        i += 1
    return "/".join([".."] * (len(f) - i) + t[i:])


def collect(ig: IG, others: list[conf.Resource] | None = None) -> ArtefactSite:
    site = ArtefactSite(ig)
    for p in ig.profiles.values():
        site.add(
            f"StructureDefinition-{p.id}",
            p.title or p.name,
            "extension" if p.is_extension else "profile",
            p.url,
        )
    for vs in ig.value_sets.values():
        if vs.package == ig.package:
            site.add(f"ValueSet-{vs.id}", vs.title or vs.name or str(vs.id), "valueset", vs.url)
    for cs in ig.code_systems.values():
        site.add(f"CodeSystem-{cs.id}", cs.title or cs.name or str(cs.id), "codesystem", cs.url)
    for c in ig.capabilities:
        site.add(f"CapabilityStatement-{c.id}", c.title or c.name or str(c.id), "capability", c.url)
    for sp in ig.search_params.values():
        site.add(f"SearchParameter-{_sp_id(ig, sp)}", sp.name or sp.code, "searchparam", sp.url)
    for res in others or []:
        site.add(res.stem, res.title, res.kind, res.url)
    for ex in ig.examples:
        stem = f"{ex.resource_type}-{ex.id}"
        if stem not in site.pages:
            site.add(stem, f"{ex.resource_type}/{ex.id}", "example", sub="examples/")
    site.pages["artifacts"] = Page("artifacts", f"{ART}/index.md", "artefacts", "index")
    return site


def _sp_id(ig: IG, sp: SearchParam) -> str:
    return str(sp.url or sp.code).rstrip("/").rsplit("/", 1)[-1]


# ------------------------------------------------------------------------- rows


def structure_links(site: ArtefactSite, from_path: str) -> Links:
    """Hrefs of the structure view of the page ``from_path``: our pages by canonical,
    labelled by the artefact's name."""
    ig = site.ig
    names: dict[str, str] = {}
    for url, ext in ig.extensions.items():
        names[url] = ext.name
    for url, vs in ig.value_sets.items():
        names[url] = vs.name or vs.title or str(vs.id or url.rsplit("/", 1)[-1])
    for url, prof in ig.profiles.items():
        names[url] = prof.name
    hrefs = {  # raw HTML: the built page's name, which mkdocs does not rewrite
        url: relative(site.pages[stem].path, from_path)[: -len(".md")] + ".html"
        for url, stem in site.by_url.items()
    }
    return Links(hrefs, names)


def refs_in(data: Any) -> list[str]:
    out: list[str] = []
    if isinstance(data, dict):
        ref = data.get("reference")
        if isinstance(ref, str) and not ref.startswith("#"):
            out.append(ref)
        for v in data.values():
            out.extend(refs_in(v))
    elif isinstance(data, list):
        for v in data:
            out.extend(refs_in(v))
    return out


# ------------------------------------------------------------------------- writing


def write_artefact_pages(
    ig: IG,
    site: ArtefactSite,
    env: jinja2.Environment,
    docs: Path,
    t: dict[str, str],
    fragments: dict[str, str] | None = None,
    others: list[conf.Resource] | None = None,
    cap_ops: dict[str, list[conf.CapOperations]] | None = None,
) -> list[Path]:
    """Write every artefact page; ``fragments`` are the IG's own intro/notes markdown
    for an artefact (``<stem>-intro``, ``<stem>-notes``); ``others`` the conformance
    resources the IR does not model, ``cap_ops`` the operations of each capability
    statement (by id, per rest entry)."""
    fragments = fragments or {}
    cap_ops = cap_ops or {}
    written: list[Path] = []
    json_dir = docs / ART / "json"
    json_dir.mkdir(parents=True, exist_ok=True)
    examples_by_profile: dict[str, list[Example]] = {}
    for ex in ig.examples:
        for url in ex.profiles:
            examples_by_profile.setdefault(url.partition("|")[0], []).append(ex)
    common = {"ig": ig, "t": t, "site": site, "cell": cell}
    for p in ig.profiles.values():
        stem = f"StructureDefinition-{p.id}"
        path = site.pages[stem].path
        written.append(
            render(
                env,
                "extension.md.jinja" if p.is_extension else "profile.md.jinja",
                docs / path,
                p=p,
                path=path,
                stem=stem,
                structure=structure_view(p, structure_links(site, path), t),
                constraints=constraints_html(p, t),
                parent=site.link(p.base_definition, path),
                examples=[
                    site.pages[f"{e.resource_type}-{e.id}"]
                    for e in examples_by_profile.get(p.url, [])
                ],
                relative=relative,
                intro=fragments.get(f"{stem}-intro", ""),
                notes=fragments.get(f"{stem}-notes", ""),
                **common,
            )
        )
        if p.source is not None:
            written.append(_raw_json(json_dir, stem, p.source))
    for vs in ig.value_sets.values():
        stem = f"ValueSet-{vs.id}"
        if stem not in site.pages:
            continue
        path = site.pages[stem].path
        written.append(render(env, "valueset.md.jinja", docs / path, vs=vs, path=path, **common))
    for cs in ig.code_systems.values():
        stem = f"CodeSystem-{cs.id}"
        path = site.pages[stem].path
        written.append(render(env, "codesystem.md.jinja", docs / path, cs=cs, path=path, **common))
    for c in ig.capabilities:
        stem = f"CapabilityStatement-{c.id}"
        path = site.pages[stem].path
        ops = cap_ops.get(str(c.id)) or [conf.CapOperations() for _ in c.rest]
        written.append(
            render(
                env,
                "capability.md.jinja",
                docs / path,
                c=c,
                path=path,
                rest_ops=ops + [conf.CapOperations()] * (len(c.rest) - len(ops)),
                **common,
            )
        )
    for sp in ig.search_params.values():
        stem = f"SearchParameter-{_sp_id(ig, sp)}"
        path = site.pages[stem].path
        written.append(render(env, "searchparam.md.jinja", docs / path, sp=sp, path=path, **common))
    for res in others or []:
        written += _conformance_page(res, site, env, docs, t, fragments, common)
    for ex in ig.examples:
        stem = f"{ex.resource_type}-{ex.id}"
        path = site.pages[stem].path
        if site.pages[stem].kind != "example":
            continue  # a conformance resource's page
        refs = []
        for ref in dict.fromkeys(refs_in(ex.data)):
            m = re.search(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]+)$", ref)
            target = site.pages.get(f"{m[1]}-{m[2]}") if m else None
            refs.append((ref, relative(target.path, path) if target else None))
        raw = json.dumps(ex.data, indent=2, ensure_ascii=False)
        (json_dir / f"{stem}.json").write_text(raw + "\n", encoding="utf-8")
        written.append(
            render(
                env,
                "example.md.jinja",
                docs / path,
                ex=ex,
                path=path,
                stem=stem,
                raw=raw,
                refs=refs,
                json_link=relative(f"{ART}/json/{stem}.json", path),
                **common,
            )
        )
    return written


def _conformance_page(
    res: conf.Resource,
    site: ArtefactSite,
    env: jinja2.Environment,
    docs: Path,
    t: dict[str, str],
    fragments: dict[str, str],
    common: dict[str, Any],
) -> list[Path]:
    """The page of a conformance resource without an IR model, and its JSON."""
    path = site.pages[res.stem].path
    ctx: dict[str, Any] = {
        "res": res,
        "path": path,
        "summary": conf.summary_rows(res, t),
        "extra": [],
        "intro": fragments.get(f"{res.stem}-intro", ""),
        "notes": fragments.get(f"{res.stem}-notes", ""),
        **common,
    }
    template = "conformance.md.jinja"
    if res.resource_type == "OperationDefinition":
        op = conf.operation(res)
        template, ctx["op"] = "operation.md.jinja", op
        levels = [t.get(f"level_{lvl}", lvl) for lvl in op.levels]
        ctx["extra"] = [
            (label, value)
            for label, value in (
                (t["code"], f"`${op.code}`"),
                (t["kind"], t.get(f"op_kind_{op.kind}", op.kind)),
                (t["levels"], ", ".join(levels)),
                (t["search_base"], ", ".join(op.resources)),
                (t["affects_state"], t.get(f"bool_{op.affects_state}", op.affects_state or "")),
                (t["input_profile"], site.link(op.input_profile, path)),
                (t["output_profile"], site.link(op.output_profile, path)),
                (t["op_base"], site.link(op.base, path)),
            )
            if value
        ]
    elif res.resource_type == "ConceptMap":
        cm = conf.concept_map(res)
        template, ctx["cm"] = "conceptmap.md.jinja", cm
        ctx["extra"] = [
            (label, site.link(url, path, None if url in site.by_url else url))
            for label, url in ((t["source"], cm.source), (t["target"], cm.target))
            if url
        ]
    elif res.resource_type == "NamingSystem":
        ns = conf.naming_system(res)
        template, ctx["ns"] = "namingsystem.md.jinja", ns
        ctx["extra"] = [
            (label, cell(value))
            for label, value in (
                (t["kind"], t.get(f"ns_kind_{ns.kind}", ns.kind)),
                (t["type"], ns.type),
                (t["responsible"], ns.responsible),
            )
            if value
        ]
    else:
        ctx["raw"] = conf.raw_json(res)
    json_path = _raw_json(docs / ART / "json", res.stem, res.data)
    return [render(env, template, docs / path, **ctx), json_path]


def _raw_json(folder: Path, stem: str, data: dict[str, Any]) -> Path:
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def capability_rows(c: Capability) -> list[Any]:
    return [(rest, rest.resources) for rest in c.rest]


__all__ = ["ValueSet", "collect", "write_artefact_pages"]
