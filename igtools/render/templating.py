"""Jinja2 environments for the renderers: ``templates/<stage>/``, overridable.

A user's template folder (``--templates DIR``) is searched first, ``DIR/<stage>/``
then the built-in templates, so one file can be overridden without copying the rest.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2

from igtools import __version__
from igtools.errors import IgtoolsError


def builtin_templates() -> Path:
    """The built-in templates: ``templates/`` of a checkout, or the installed copy."""
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if checkout.is_dir():
        return checkout
    installed = Path(str(files("igtools") / "templates"))
    if installed.is_dir():
        return installed
    raise IgtoolsError("igtools' templates are missing from this installation")


def environment(stage: str, override: Path | None = None) -> jinja2.Environment:
    dirs = []
    if override is not None:
        if not override.is_dir():
            raise IgtoolsError(f"--templates {override}: not a folder")
        dirs.append(override / stage)
    dirs.append(builtin_templates() / stage)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.globals["igtools_version"] = __version__
    env.filters["pyrepr"] = repr
    return env


def render(env: jinja2.Environment, template: str, out: Path, **context: Any) -> Path:
    try:
        text = env.get_template(template).render(**context)
    except jinja2.TemplateError as exc:
        raise IgtoolsError(f"template {template}: {exc}") from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
