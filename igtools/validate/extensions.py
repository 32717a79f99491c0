"""What the reference validator checks on every extension and attachment of an
instance, whatever profile it claims:

- each extension whose definition is in the package set is validated against it (its
  value type, its sub-extensions and their cardinalities, its invariants), and a
  sub-extension with a relative url that the definition does not define is an error;
- a modifier extension (its definition says ``isModifier``) sits in a
  ``modifierExtension``, any other one in an ``extension``;
- an extension is used where its definition's contexts and context invariants allow
  it (:mod:`igtools.validate.contexts`);
- an extension whose url no loaded package defines is an error ("unknown, and not
  allowed here"), unless its url is allowed unknown (:class:`UnknownExtensions`): a
  cross-version extension, an example domain, an extension domain the IG declares;
  when a declared dependency could not be loaded it may define it, so it is then a
  warning naming those dependencies (not checked);
- an Attachment with ``data`` has a ``size`` equal to the decoded length and a
  ``hash`` equal to the base64 SHA-1 of the decoded data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from igtools.runtime.fhirpath import Hooks
from igtools.runtime.validation import Issue, Registry, Rules, validate_value
from igtools.validate.contexts import ExtensionContext, judge

if TYPE_CHECKING:
    from igtools.packages.loader import PackageSet

JSON = Any
ExtensionLookup = Callable[[str], Rules | None]


def _sub_extension_urls(rules: Rules) -> set[str] | None:
    """The urls of the sub-extensions a definition defines (None: not known)."""
    for child in rules.root.children:
        if child.names == ("extension",):
            urls = set()
            for s in child.slices:
                for m in s.matches:
                    if m.path == "url" and isinstance(m.expected, str):
                        urls.add(m.expected)
            return urls
    return None


# http://hl7.org/fhir/<version>/StructureDefinition/extension-<path>: the reference
# validator synthesizes these cross-version definitions itself (not judged here)
_XVER = re.compile(r"^http://hl7\.org/fhir/\d+\.\d+/StructureDefinition/extension-")
# urls the reference validator lets through without a definition (allowUnknownExtension)
_ALWAYS_ALLOWED_PREFIXES = ("http://hl7.org/fhir/tools/StructureDefinition/",)
_ALWAYS_ALLOWED = frozenset(
    {"http://hl7.org/fhir/StructureDefinition/structuredefinition-expression"}
)
_EXAMPLE_DOMAINS = ("example.org", "acme.com")
_CORE_PACKAGES = frozenset({"hl7.fhir.r4.core"})


class UnknownExtensions:
    """How the reference validator (InstanceValidator.checkExtension) judges an
    extension whose url resolves to no definition of the package set: an error
    "The extension <url> is unknown, and not allowed here", except for

    - a cross-version extension url (the reference synthesizes its definition);
    - a url in an allowed domain: containing ``nema.org``, or ``example.org`` /
      ``acme.com`` when example urls are allowed (as the IG Publisher allows them),
      the HL7 tools' ``http://hl7.org/fhir/tools/StructureDefinition/`` extensions,
      or a domain the root package's ImplementationGuide declares with its
      ``extension-domain`` parameter.

    When a declared dependency of the package set could not be loaded (or the FHIR
    core package is only provided by fhir.resources), the definition may be in it: the
    verdict is then a warning naming the url and those dependencies (not checked)."""

    def __init__(
        self,
        known: Callable[[str], bool],
        unavailable: tuple[str, ...] = (),
        domains: tuple[str, ...] = (),
        allow_example_urls: bool = True,
    ) -> None:
        self.known = known
        self.unavailable = unavailable
        self.domains = domains
        self.allow_example_urls = allow_example_urls

    @classmethod
    def of(cls, pset: PackageSet, allow_example_urls: bool = True) -> UnknownExtensions:
        """The policy of a package set: its unavailable dependencies and the extension
        domains its root package's ImplementationGuide declares."""
        index = pset.index
        unavailable = tuple(
            sorted(
                {
                    f"{d.name}#{d.wanted}"
                    for d in pset.dependencies
                    if d.status == "missing"
                    or (d.status == "provided" and d.name in _CORE_PACKAGES)
                }
            )
        )
        root = pset.root.id
        igs = index.of_type("ImplementationGuide", root) + [
            e for e in index.examples_of(root) if e.resource_type == "ImplementationGuide"
        ]
        domains: set[str] = set()
        for entry in igs:
            definition = entry.data.get("definition")
            params = definition.get("parameter") if isinstance(definition, dict) else None
            for param in params if isinstance(params, list) else []:
                if not isinstance(param, dict):
                    continue
                code = param.get("code")
                code = code.get("code") if isinstance(code, dict) else code  # R5 shape
                value = param.get("value")
                if code == "extension-domain" and isinstance(value, str) and value:
                    domains.add(value)

        def known(url: str) -> bool:
            return (
                index.resolve(url) is not None or index.resolve(url.partition("|")[0]) is not None
            )

        return cls(known, unavailable, tuple(sorted(domains)), allow_example_urls)

    def allowed(self, url: str) -> bool:
        """Whether the reference lets ``url`` through without a definition."""
        if _XVER.match(url) or url in _ALWAYS_ALLOWED or "nema.org" in url:
            return True
        if url.startswith(_ALWAYS_ALLOWED_PREFIXES) or url.startswith(self.domains):
            return True
        return self.allow_example_urls and any(d in url for d in _EXAMPLE_DOMAINS)

    def issue(self, url: str, loc: str) -> Issue | None:
        """The verdict on an extension at ``loc`` whose url has no rules (None: fine)."""
        if self.allowed(url) or self.known(url):
            return None
        if self.unavailable:
            return Issue(
                "warning",
                loc,
                f"The extension {url} is unknown: its definition may be in a dependency that "
                f"could not be loaded ({', '.join(self.unavailable)}): not checked",
                "extension",
                "FHIR R4",
            )
        return Issue(
            "error",
            loc,
            f"The extension {url} is unknown, and not allowed here",
            "extension",
            "FHIR R4",
        )


def extension_issues(
    extensions: list[tuple[dict[str, Any], str]],
    data: JSON,
    lookup: ExtensionLookup,
    registry: Registry,
    invariants: bool = True,
    is_modifier: Callable[[str], bool | None] | None = None,
    contexts: Callable[[str], ExtensionContext | None] | None = None,
    unknown: UnknownExtensions | None = None,
) -> list[Issue]:
    """Each extension (object, location) of ``data`` against its definition; one
    without a definition as ``unknown`` judges it (None: not judged)."""
    out: list[Issue] = []
    member_of = getattr(registry, "member_of", None)
    hooks = Hooks(member_of=member_of) if callable(member_of) else None
    for obj, loc in extensions:
        url = obj.get("url")
        if not isinstance(url, str) or ":" not in url:
            continue  # a sub-extension: judged with its parent's definition
        rules = lookup(url)
        if rules is None:
            verdict = unknown.issue(url, loc) if unknown is not None else None
            if verdict is not None:
                out.append(verdict)
            continue
        ctx = contexts(url) if contexts is not None else None
        if ctx is not None:
            ok, why = judge(ctx, loc, data, hooks)
            if ok is False:
                out.append(
                    Issue(
                        "error",
                        loc,
                        f"The extension {url} is not allowed to be used at this point ({why})",
                        "extension",
                        rules.name,
                    )
                )
        modifier = is_modifier(url) if is_modifier is not None else None
        placed = loc.rpartition(".")[2].startswith("modifierExtension")
        if modifier is not None and modifier != placed:
            labelled = "labelled" if placed else "not labelled"
            underlying = "is not" if placed else "is"
            out.append(
                Issue(
                    "error",
                    loc,
                    f"Extension modifier mismatch: the extension element is {labelled} as a "
                    f"modifier, but the underlying extension {underlying}",
                    "extension",
                    rules.name,
                )
            )
        out.extend(validate_value(obj, rules, loc, data, registry, invariants))
        known = _sub_extension_urls(rules)
        for i, sub in enumerate(obj.get("extension") or []):
            sub_url = sub.get("url") if isinstance(sub, dict) else None
            relative = isinstance(sub_url, str) and ":" not in sub_url
            if relative and known is not None and sub_url not in known:
                out.append(
                    Issue(
                        "error",
                        f"{loc}.extension[{i}]",
                        f"Sub-extension url '{sub_url}' is not defined by the Extension {url}",
                        "extension",
                        rules.name,
                    )
                )
    return out


def attachment_issues(attachments: list[tuple[dict[str, Any], str]]) -> list[Issue]:
    """Each Attachment (object, location) with ``data``: its ``size`` and ``hash``."""
    out: list[Issue] = []
    for att, loc in attachments:
        if isinstance(att.get("data"), str) and ("size" in att or "hash" in att):
            out.extend(_attachment_issues(att, loc))
    return out


def _attachment_issues(att: dict[str, Any], loc: str) -> list[Issue]:
    try:
        raw = base64.b64decode(att["data"], validate=False)
    except (binascii.Error, ValueError):
        return [Issue("error", f"{loc}.data", "not valid base64", "attachment", "FHIR R4")]
    out = []
    size = att.get("size")
    if isinstance(size, int) and not isinstance(size, bool) and size != len(raw):
        out.append(
            Issue(
                "error",
                f"{loc}.size",
                f"Stated Attachment Size {size:,} does not match actual attachment size "
                f"{len(raw):,}",
                "attachment",
                "FHIR R4",
            )
        )
    stated = att.get("hash")
    if isinstance(stated, str):
        actual = base64.b64encode(hashlib.sha1(raw).digest()).decode("ascii")
        if stated != actual:
            out.append(
                Issue(
                    "error",
                    f"{loc}.hash",
                    f"The hash of the data did not match the data (stated: '{stated}', "
                    f"actual: '{actual}')",
                    "attachment",
                    "FHIR R4",
                )
            )
    return out
