"""One index of every resource of a package and its dependencies."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from igtools.packages.package import Package
from igtools.packages.resources import ResourceEntry


def split_canonical(ref: str) -> tuple[str, str | None]:
    """``url|version`` -> (url, version); a fragment (``#x``) is kept in the url."""
    url, sep, version = ref.partition("|")
    return url, (version or None) if sep else None


class ResourceIndex:
    """Resources by canonical URL (with ``|version`` lookups), by type and by id.

    Conformance resources and examples are kept apart: :meth:`resolve`, :meth:`of_type`
    and :meth:`conformance` see only conformance resources; examples are in
    :attr:`examples`. When several packages define the same URL, the root package wins,
    then the dependencies in resolution order.
    """

    def __init__(self, packages: Iterable[Package]) -> None:
        self.packages: list[Package] = list(packages)
        self._by_url: dict[str, list[ResourceEntry]] = defaultdict(list)
        self._by_type: dict[str, list[ResourceEntry]] = defaultdict(list)
        self._by_id: dict[tuple[str, str], list[ResourceEntry]] = defaultdict(list)
        self.examples: list[ResourceEntry] = []
        for pkg in self.packages:
            for entry in pkg.entries:
                self.add(entry)

    def add(self, entry: ResourceEntry) -> None:
        if entry.id is not None:
            self._by_id[(entry.resource_type, entry.id)].append(entry)
        if entry.is_example:
            self.examples.append(entry)
            return
        self._by_type[entry.resource_type].append(entry)
        if entry.url:
            self._by_url[entry.url].append(entry)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_type.values()) + len(self.examples)

    def resolve(self, canonical: str) -> ResourceEntry | None:
        """The conformance resource a canonical reference (``url`` or ``url|version``) names."""
        url, version = split_canonical(canonical)
        candidates = self._by_url.get(url)
        if not candidates:
            return None
        if version is None:
            return candidates[0]
        for entry in candidates:
            if entry.version == version:
                return entry
        # FHIR allows a version prefix match (1.0 matches 1.0.2)
        for entry in candidates:
            if entry.version and entry.version.startswith(version + "."):
                return entry
        return None

    def all_versions(self, url: str) -> list[ResourceEntry]:
        return list(self._by_url.get(url, ()))

    def get(self, resource_type: str, id: str, examples: bool = True) -> ResourceEntry | None:
        for entry in self._by_id.get((resource_type, id), ()):
            if examples or not entry.is_example:
                return entry
        return None

    def of_type(self, resource_type: str, package: str | None = None) -> list[ResourceEntry]:
        entries = self._by_type.get(resource_type, [])
        if package is None:
            return list(entries)
        return [e for e in entries if e.package == package]

    def conformance(self, package: str | None = None) -> Iterator[ResourceEntry]:
        for entries in self._by_type.values():
            for entry in entries:
                if package is None or entry.package == package:
                    yield entry

    def examples_of(self, package: str | None = None) -> list[ResourceEntry]:
        return [e for e in self.examples if package is None or e.package == package]

    @property
    def types(self) -> list[str]:
        return sorted(self._by_type)
