"""Developer sessions: ``nox -s tests lint typecheck bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (needs ../shared for the real-SAS tests, skipped without it)."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", "igtools", "tests", "benchmarks", "corpus", "noxfile.py")
    session.run(
        "ruff", "format", "--check", "igtools", "tests", "benchmarks", "corpus", "noxfile.py"
    )


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on igtools/."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "igtools")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks, reported as ratios against baselines measured in the same run."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def golden(session: nox.Session) -> None:
    """Regenerate the golden records of the fixture IG (tests/golden/mini-ig)."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "tests.golden")


@nox.session
def docs(session: nox.Session) -> None:
    """igtools' own documentation, built strictly (docs/ -> .site/)."""
    session.install("-e", ".")
    session.run("mkdocs", "build", "--strict", env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def corpus(session: nox.Session) -> None:
    """igtools over every IG of ../shared: validate vs the reference validator's QA."""
    session.install("-e", ".")
    session.run("python", "-m", "corpus", *session.posargs)
