"""Fixtures of the docs tests."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def no_plantuml(monkeypatch: pytest.MonkeyPatch) -> None:
    """PlantUML absent: diagrams are shown as their source."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
