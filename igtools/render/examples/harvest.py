"""What the IG's own examples teach: the elements they use and the values they give.

When a binding's value set lives in a missing dependency (a national terminology, say),
the codes the IG's examples use at the same element path are the most credible choice
(:meth:`Harvest.codings_at`, any example). An extension whose definition the package set
does not hold is copied whole from an example that uses it (nothing else tells what it
contains).

Per profile (:meth:`Harvest.used`, :meth:`Harvest.values`): the element paths the
examples claiming a profile (``meta.profile``) use, and the primitive values they give
at each path, so that a "full" instance carries what the IG's own examples show and its
values are the IG's before invented ones (see :mod:`.realistic`). Examples without a
``meta.profile`` count for their resource type (key ``type:<Type>``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from igtools.ir.model import IG


class Harvest:
    def __init__(self, ig: IG) -> None:
        self.codings: dict[str, list[dict[str, str]]] = defaultdict(list)
        self.codes: dict[str, list[str]] = defaultdict(list)
        self.identifiers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.extensions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # profile URL (or type:<Type>) -> JSON paths its examples use (Slot.comment)
        self.paths: dict[str, set[str]] = defaultdict(set)
        # (profile URL or type:<Type>, JSON path) -> primitive values, in example order
        self.primitives: dict[tuple[str, str], list[Any]] = defaultdict(list)
        # profile URL (or type:<Type>) -> one record per example: JSON path -> values
        self.records: dict[str, list[dict[str, list[Any]]]] = defaultdict(list)
        for ex in ig.examples:
            self._walk(ex.data, ex.resource_type)
            self._resource(ex.data, ex.resource_type)

    def _resource(self, data: dict[str, Any], rtype: str) -> None:
        keys = _claims(data, rtype)
        record: dict[str, list[Any]] = defaultdict(list)
        self._uses(data, rtype, keys, "", record)
        for key in keys:
            self.records[key].append(record)

    def _walk(self, node: Any, path: str) -> None:
        if isinstance(node, list):
            for item in node:
                self._walk(item, path)
            return
        if not isinstance(node, dict):
            return
        if "resourceType" in node and path.count(".") > 0:
            path = str(node["resourceType"])  # a nested resource starts a new path
        url = node.get("url")
        if isinstance(url, str) and path.endswith(".extension") and url.startswith("http"):
            # whole extensions by url: for definitions the package set does not hold
            seen = self.extensions[url]
            if node not in seen:
                seen.append(node)
        if isinstance(url, str) and path.endswith(".extension"):
            # an extension's content is found by its url (nested ones: parent url/url),
            # wherever the extension is used
            parent = path.rsplit(".extension", 1)[0]
            absolute = url.startswith(("http:", "https:", "urn:"))
            path = "extension:" + (
                url if absolute or not parent.startswith("extension:") else f"{parent[10:]}/{url}"
            )
        if isinstance(node.get("code"), str) and isinstance(node.get("system"), str):
            coding = {
                k: node[k] for k in ("system", "code", "display") if isinstance(node.get(k), str)
            }
            if coding not in self.codings[path]:
                self.codings[path].append(coding)
        if (
            isinstance(node.get("system"), str)
            and isinstance(node.get("value"), str)
            and path.endswith("identifier")
        ):
            kind = {k: node[k] for k in ("system", "type", "use") if k in node}
            if kind not in self.identifiers[path]:
                self.identifiers[path].append(kind)
        for key, value in node.items():
            if key in ("text", "div", "extension") and isinstance(value, str | dict):
                continue
            child = f"{path}.{key}"
            is_code = isinstance(value, str) and key in ("code", "status", "use", "system", "mode")
            if is_code and value not in self.codes[child]:
                self.codes[child].append(value)
            self._walk(value, child)

    def _uses(
        self, node: Any, path: str, keys: list[str], parent_key: str, record: dict[str, list[Any]]
    ) -> None:
        if isinstance(node, list):
            for item in node:
                self._uses(item, path, keys, parent_key, record)
            return
        if not isinstance(node, dict):
            if parent_key not in ("id", "reference", "div", "url", "fullUrl"):
                record[path].append(node)
                for key in keys:
                    seen = self.primitives[(key, path)]
                    if node not in seen:
                        seen.append(node)
            return
        for key, value in node.items():
            if key in ("resourceType", "id", "text", "meta") and "." not in path:
                continue
            if key in ("extension", "modifierExtension"):
                continue  # extensions are found by their url (self.extensions)
            if isinstance(value, dict) and isinstance(value.get("resourceType"), str):
                # a nested resource (contained, a Bundle entry): its own profiles
                self._resource(value, str(value["resourceType"]))
                for k in keys:
                    self.paths[k].add(f"{path}.{key}")
                continue
            if isinstance(value, list) and any(
                isinstance(v, dict) and "resourceType" in v for v in value
            ):
                for v in value:
                    if isinstance(v, dict) and isinstance(v.get("resourceType"), str):
                        self._resource(v, str(v["resourceType"]))
                for k in keys:
                    self.paths[k].add(f"{path}.{key}")
                continue
            child = f"{path}.{key}"
            for k in keys:
                self.paths[k].add(child)
            self._uses(value, child, keys, key, record)

    def used(self, keys: list[str]) -> set[str]:
        """The JSON paths the examples of these profiles (or type:<Type>) use."""
        out: set[str] = set()
        for key in keys:
            out |= self.paths.get(key, set())
        return out

    def values(self, keys: list[str], path: str) -> list[Any]:
        """Primitive values the examples of the first of ``keys`` that has some give at
        the JSON path ``path`` (Slot.comment, Location.hoursOfOperation.openingTime)."""
        for key in keys:
            found = self.primitives.get((key, path))
            if found:
                return found
        return []

    def examples_of(self, keys: list[str]) -> list[dict[str, list[Any]]]:
        """One record (JSON path -> values) per example of the first of ``keys`` that
        has examples: the values of one example go together (an opening and a closing
        time, a duration and its unit)."""
        for key in keys:
            found = self.records.get(key)
            if found:
                return found
        return []

    def codings_at(self, path: str, system: str | None = None) -> list[dict[str, str]]:
        """Codings seen at ``path`` (an element path: Slot.serviceType or .coding)."""
        found = self.codings.get(path, []) + self.codings.get(path + ".coding", [])
        if system is not None:
            found = [c for c in found if c.get("system") == system]
        if not found and system is not None:
            found = [c for cs in self.codings.values() for c in cs if c.get("system") == system]
        return found

    def extension_codings(self, url: str, value_key: str) -> list[dict[str, str]]:
        """Codings the examples give as the value (``valueCoding``,
        ``valueCodeableConcept``) of the extension ``url`` (nested: ``parent/url``)."""
        at = f"extension:{url.partition('|')[0]}.{value_key}"
        return self.codings.get(at, []) + self.codings.get(at + ".coding", [])

    def identifier_kinds(self, path: str, system: str | None = None) -> list[dict[str, Any]]:
        found = self.identifiers.get(path, [])
        if system is not None:
            found = [k for k in found if k.get("system") == system]
        return found


def _claims(data: dict[str, Any], rtype: str) -> list[str]:
    """The profiles a resource claims, and its type key."""
    meta = data.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    out = [str(p).partition("|")[0] for p in profiles or [] if isinstance(p, str)]
    return [*out, f"type:{rtype}"]
