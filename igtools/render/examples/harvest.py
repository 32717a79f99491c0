"""What the IG's own examples teach about values the package set cannot expand.

When a binding's value set lives in a missing dependency (a national terminology, say),
the codes the IG's examples use at the same element path are the most credible choice.
Only codes, systems and identifier kinds are taken, never free text or identifier
values: generated instances stay generated. The one exception: an extension whose
definition the package set does not hold is copied whole from an example that uses it
(nothing else tells what it contains).
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
        for ex in ig.examples:
            self._walk(ex.data, ex.resource_type)

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
