"""Glue between generated Pydantic models and the profile rules (shipped with them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from .validation import El, Issue, Rules, _Ctx, _matches, validate

_SETTINGS = {"invariants": True}


def set_invariants(enabled: bool) -> None:
    """Switch FHIRPath invariant checks on or off for every generated model.

    Invariants are evaluated by the FHIRPath engine (``fhirpath.py``), a good part of
    validation's time: switch them off when speed matters more (bulk loads of trusted
    data).
    """
    _SETTINGS["invariants"] = enabled


def invariants_enabled() -> bool:
    return _SETTINGS["invariants"]


class ProfileError(ValueError):
    """An instance breaks its profile; ``issues`` lists every broken rule."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        lines = [str(i) for i in issues]
        super().__init__("profile constraints broken:\n" + "\n".join(lines))


def _plain_json(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    return value is None or isinstance(value, str | int | float | bool)


def as_json(model: BaseModel) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


def check(rules: Rules, registry: Mapping[str, Rules], data: Any, model: BaseModel) -> None:
    """Validate ``data`` (the input, if plain JSON) or the built model against ``rules``."""
    source = data if isinstance(data, dict) and _plain_json(data) else as_json(model)
    if "resourceType" not in source:
        source = {"resourceType": rules.type, **source}
    issues = validate(source, rules, registry, invariants=_SETTINGS["invariants"])
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise ProfileError(errors)


def slice_values(
    model: BaseModel, rules: Rules, registry: Mapping[str, Rules], element: str, slice_name: str
) -> list[Any]:
    """The items of ``element`` (a JSON name) that belong to slice ``slice_name``."""
    el = next((c for c in rules.root.children if element in c.names), None)
    sl: El | None = None
    if el is not None:
        sl = next((s for s in el.slices if s.slice_name == slice_name), None)
    if sl is None or not sl.matches:
        return []
    items = getattr(model, _attr(model, element), None) or []
    if not isinstance(items, list):
        items = [items]
    ctx = _Ctx(rules, registry, False, {})
    out = []
    for item in items:
        value = (
            item.model_dump(mode="json", by_alias=True, exclude_none=True)
            if isinstance(item, BaseModel)
            else item
        )
        if all(_matches(value, m, ctx, element) for m in sl.matches):
            out.append(item)
    return out


def _attr(model: BaseModel, json_name: str) -> str:
    for name, info in type(model).model_fields.items():
        if info.alias == json_name or name == json_name:
            return name
    return json_name


def _instant(text: str) -> Any:
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def restore_lexical(result: Any, source: Any) -> Any:
    """Give back the input's own spelling of date/time values that fhir.resources
    normalises (``2021-11-05T09:00:00.000+00:00`` -> ``...00Z``) when they still mean
    the same instant, so that validate-then-dump returns the JSON that came in."""
    if isinstance(result, dict) and isinstance(source, dict):
        for key, value in result.items():
            if key in source:
                result[key] = restore_lexical(value, source[key])
        return result
    if isinstance(result, list) and isinstance(source, list) and len(result) == len(source):
        return [restore_lexical(r, s) for r, s in zip(result, source, strict=True)]
    if isinstance(source, str) and result != source:
        from datetime import date, datetime, time

        if isinstance(result, datetime | date | time):
            # fhir.resources hands over date/time objects; JSON conversion comes later
            b = _instant(source)
            if isinstance(result, datetime) and b is not None and result.tzinfo is not None:
                return source if b == result else result
            return source if result.isoformat() == source[: len(result.isoformat())] else result
        if isinstance(result, str):
            a, b = _instant(result), _instant(source)
            if a is not None and a == b:
                return source
    return result
