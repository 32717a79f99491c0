"""The nav of a large IG's site: the artefacts index lists every page, the nav only the
kinds that stay small (mkdocs-material writes the whole nav into every page)."""

from __future__ import annotations

from igtools.render.docs.site import NAV_KIND_MAX, NAV_TOTAL_MAX, nav_groups


def _group(title: str, n: int) -> tuple[str, list[str]]:
    return title, [f"{title}-{i}" for i in range(n)]


def test_small_kinds_are_all_in_the_nav() -> None:
    groups = [_group("profiles", 20), _group("extensions", 12), _group("examples", 40)]
    assert nav_groups(groups) == groups


def test_a_kind_past_its_limit_is_reached_through_the_index() -> None:
    groups = [_group("profiles", 59), _group("examples", NAV_KIND_MAX + 1)]
    assert [t for t, _ in nav_groups(groups)] == ["profiles"]


def test_the_largest_kinds_leave_the_nav_until_the_total_fits() -> None:
    groups = [_group(k, 90) for k in ("a", "b", "c")] + [_group("d", 95), _group("e", 10)]
    kept = nav_groups(groups)
    assert sum(len(p) for _, p in kept) <= NAV_TOTAL_MAX
    # the index's order is kept; the largest (d) went first
    assert [t for t, _ in kept] == ["a", "b", "c", "e"]
