"""Validate instances: the base resource model (fhir.resources R4B), then every profile
the instance claims (or the one given), with the runtime rules built from the IR."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from igtools.errors import IgtoolsError, XmlContentError
from igtools.ir.build import IRBuilder
from igtools.ir.model import IG
from igtools.packages.resources import parse_resource_xml, read_resource_json
from igtools.runtime import fhirjson
from igtools.runtime.bundles import bundle_issues, bundle_resolver
from igtools.runtime.validation import Issue, Resolver, Rules, validate, validate_value
from igtools.validate.canonicals import canonical_issues
from igtools.validate.capability import index_lookup, search_param_issues
from igtools.validate.codes import coding_issues, supplement_issues
from igtools.validate.contexts import ExtensionContext
from igtools.validate.definitions import snapshot_issues
from igtools.validate.extensions import UnknownExtensions, attachment_issues, extension_issues
from igtools.validate.identifiers import identifier_issues
from igtools.validate.rules import RuleBuilder
from igtools.validate.uris import uri_issues

_ISSUE_CODES = {
    "cardinality": "required",
    "fixed": "value",
    "pattern": "value",
    "binding": "code-invalid",
    "reference": "invalid",
    "slice": "structure",
    "type": "structure",
    "structure": "structure",
    "ele-1": "invariant",
    "ext-1": "invariant",
    "profile": "not-supported",
    "bundle": "invalid",
    "extension": "structure",
    "attachment": "value",
    "identifier": "code-invalid",
    "code-system": "code-invalid",
}


@dataclass
class Result:
    source: str
    issues: list[Issue] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not any(i.severity in ("error", "fatal") for i in self.issues)

    def outcome(self) -> dict[str, Any]:
        issues = [
            {
                "severity": i.severity,
                "code": _ISSUE_CODES.get(i.rule.split(":")[0], "invariant"),
                "diagnostics": f"{i.message} ({i.rule}; profile {i.profile})",
                "expression": [i.location],
            }
            for i in self.issues
        ]
        if not issues:
            issues = [{"severity": "information", "code": "informational", "diagnostics": "valid"}]
        return {"resourceType": "OperationOutcome", "issue": issues}


def _base_issue(issue: fhirjson.JsonIssue, data: Any) -> Issue:
    """A JSON rule issue as a validation issue of the base resource (rule ``structure``,
    or ``ele-1``/``ext-1`` as the profile rules name them)."""
    rt = data.get("resourceType") if isinstance(data, dict) else None
    profile = f"base {rt}" if isinstance(rt, str) and fhirjson.is_resource_type(rt) else "FHIR R4"
    rule = issue.rule if issue.rule in (fhirjson.EMPTY, fhirjson.EXT_1) else "structure"
    return Issue("error", issue.location, issue.message, rule, profile)


CORE_SD = "http://hl7.org/fhir/StructureDefinition/"


class ProfileRules(Mapping[str, Rules]):
    """Rules by canonical URL: the IG's profiles, built up front, and, through the IR
    builder of the package set, any other StructureDefinition it holds (a dependency's
    profile, a base resource of hl7.fhir.r4.core), built on first use. ``url|version``
    names that version when the package set has it, else the URL's."""

    def __init__(self, ig: IG, builder: IRBuilder | None) -> None:
        self._builder = builder
        self._rule_builder = RuleBuilder(ig, builder.sd_type if builder is not None else None)
        self._rules: dict[str, Rules | None] = {
            url: self._rule_builder.rules(p) for url, p in ig.profiles.items() if p.is_profile
        }
        self.warnings = sorted(set(self._rule_builder.warnings))
        self._members: dict[int, tuple[Any, frozenset[tuple[str | None, str]], frozenset[str]]] = {}

    def __getitem__(self, url: str) -> Rules:
        if url in self._rules:
            found = self._rules[url]
        else:
            found = None
            base = url.partition("|")[0]
            if base != url and self._rules.get(base) is not None:
                found = self._rules[base]  # the IG's own profile, whatever the version
            elif self._builder is not None:
                prof = self._builder.profile(url) or self._builder.profile(base)
                if prof is not None and not prof.is_extension:
                    found = self._rule_builder.rules(prof)
            self._rules[url] = found
        if found is None:
            raise KeyError(url)
        return found

    def member_of(self, value: Any, url: str) -> bool | None:
        """FHIRPath memberOf() for any value set the package set can expand (a code, a
        Coding, a CodeableConcept or a Quantity): True when a code is in it, False when
        none is and the expansion can judge every system used, None when unknown."""
        if self._builder is None:
            return None
        vs = self._builder.terminology.value_set(url)
        if vs is None or vs.codes is None:
            return None
        key = id(vs)
        members = self._members.get(key)
        if members is None or members[0] is not vs:
            codes = frozenset((c.system, c.code) for c in vs.codes)
            members = (vs, codes, frozenset(c for _, c in codes))
            self._members[key] = members
        _, pairs, bare = members
        found: list[tuple[Any, Any]]
        if isinstance(value, str):
            found = [(None, value)]
        elif isinstance(value, dict) and isinstance(value.get("coding"), list):
            found = [
                (c.get("system"), c.get("code")) for c in value["coding"] if isinstance(c, dict)
            ]
        elif isinstance(value, dict):
            found = [(value.get("system"), value.get("code"))]
        else:
            return None
        found = [(sys_, code) for sys_, code in found if isinstance(code, str)]
        if not found:
            return None
        for sys_, code in found:
            if (sys_ is None and code in bare) or (sys_, code) in pairs:
                return True
        if vs.complete:
            return False
        open_systems = vs.open_systems
        if open_systems is not None and all(
            sys_ is not None and sys_ not in open_systems for sys_, _ in found
        ):
            return False
        return None

    def extension(self, url: str) -> Rules | None:
        """The rules of the extension definition at ``url`` (None: not in the package
        set, or no IR builder to read it)."""
        key = "extension:" + url
        if key not in self._rules:
            found = None
            if self._builder is not None:
                prof = self._builder.profile(url) or self._builder.profile(url.partition("|")[0])
                if prof is not None and prof.is_extension:
                    found = self._rule_builder.rules(prof)
            self._rules[key] = found
        return self._rules[key]

    def extension_is_modifier(self, url: str) -> bool | None:
        """Whether the extension definition at ``url`` is a modifier (None: unknown)."""
        if self._builder is None:
            return None
        prof = self._builder.profile(url) or self._builder.profile(url.partition("|")[0])
        if prof is None or not prof.is_extension:
            return None
        return prof.root.is_modifier

    def extension_contexts(self, url: str) -> ExtensionContext | None:
        """Where the extension at ``url`` may be used: its definition's contexts and
        context invariants (None: no definition in the package set, or no context)."""
        if self._builder is None:
            return None
        prof = self._builder.profile(url) or self._builder.profile(url.partition("|")[0])
        if prof is None or not prof.is_extension or prof.source is None:
            return None
        return ExtensionContext.of(prof.source)

    def __iter__(self) -> Iterator[str]:
        return (
            url
            for url, r in list(self._rules.items())
            if r is not None and not url.startswith("extension:")
        )

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Validator:
    """Validates instances against the IG's profiles and, when the IR builder of the
    package set is given, against any profile of its dependencies and (with
    hl7.fhir.r4.core loaded) the base definition of instances that claim no known
    profile."""

    def __init__(
        self,
        ig: IG,
        invariants: bool = True,
        builder: IRBuilder | None = None,
        allow_example_urls: bool = True,
        assume_valid_rest_references: bool = False,
    ) -> None:
        self.ig = ig
        # a Type/id reference nothing resolves: its type checked as if it resolved to it
        # (the reference validator's assumeValidRestReferences; off by default, as there)
        self.assume_valid_rest_references = assume_valid_rest_references
        self.rules = ProfileRules(ig, builder)
        self.warnings = self.rules.warnings
        self.invariants = invariants
        self._base = builder is not None
        self._builder = builder
        self._vital_signs: dict[str, str] | None = None
        self._type_rules: dict[str, object] = {}
        self._globals: dict[str, list[tuple[str, str]]] | None = None
        # every coding's code against its code system, where the package set has it whole
        self._code_systems = builder.terminology.code_system_index if builder else None
        # extensions no loaded package defines (example.org urls allowed as the IG Publisher does)
        self._unknown_extensions = (
            UnknownExtensions.of(builder.pset, allow_example_urls) if builder else None
        )

    def _implied_profile(self, obs: dict[str, Any]) -> Rules | None:
        """The vital signs profile an Observation must conform to by its LOINC code, as
        FHIR R4 requires and the reference validator checks, whatever it claims. The
        codes come from the vital signs profiles of hl7.fhir.r4.core (each fixes its
        code), so without that package there is none."""
        if self._builder is None:
            return None
        if self._vital_signs is None:
            self._vital_signs = {}
            for entry in self._builder.index.of_type("StructureDefinition"):
                if entry.data.get("baseDefinition") != CORE_SD + "vitalsigns":
                    continue
                for el in (entry.data.get("snapshot") or {}).get("element") or []:
                    if el.get("path") == "Observation.code.coding.code":
                        code = el.get("fixedCode") or el.get("patternCode")
                        if isinstance(code, str) and entry.url:
                            self._vital_signs.setdefault(code, entry.url)
        code = obs.get("code")
        for coding in code.get("coding") or [] if isinstance(code, dict) else []:
            if isinstance(coding, dict) and coding.get("system") == "http://loinc.org":
                url = self._vital_signs.get(str(coding.get("code")))
                if url is not None:
                    return self.rules.get(url)
        return None

    def _global_profiles(self, rt: str) -> list[tuple[str, str]]:
        """The profiles (url, the IG stating it) the root package's ImplementationGuide
        resources name in ``global`` for resources of type ``rt``: every such resource
        must conform to them, as the reference validator checks when the IG is loaded."""
        if self._globals is None:
            self._globals = {}
            if self._builder is not None:
                root = self._builder.pset.root.id
                index = self._builder.index
                igs = index.of_type("ImplementationGuide", root) + [
                    e for e in index.examples_of(root) if e.resource_type == "ImplementationGuide"
                ]
                for entry in igs:
                    name = entry.url or entry.id or entry.path
                    for g in entry.data.get("global") or []:
                        if not isinstance(g, dict):
                            continue
                        gtype, url = g.get("type"), g.get("profile")
                        if isinstance(gtype, str) and isinstance(url, str):
                            found = self._globals.setdefault(gtype, [])
                            if all(u != url for u, _ in found):
                                found.append((url, str(name)))
        return self._globals.get(rt, [])

    def _add_globals(self, rt: str, targets: list[Rules]) -> list[Issue]:
        """Add the global profiles for ``rt`` to ``targets``; a warning for each one
        the package set does not hold."""
        issues = []
        for url, ig_name in self._global_profiles(rt):
            rules = self.rules.get(url)
            if rules is None:
                issues.append(
                    Issue(
                        "warning",
                        rt,
                        f"Global profile {url} from {ig_name} is not in {self.ig.package} "
                        "nor in its loaded dependencies: not checked",
                        "profile",
                        url,
                    )
                )
            elif all(r.url != rules.url for r in targets):
                targets.append(rules)
        return issues

    def resolve_profile(self, ref: str) -> Rules:
        """A profile by URL (the IG's or a dependency's), name or id."""
        rules = self.rules.get(ref)
        if rules is not None:
            return rules
        for url, prof in self.ig.profiles.items():
            if ref in (prof.name, prof.id) and url in self.rules:
                return self.rules[url]
        raise IgtoolsError(f"--profile {ref}: no such profile in {self.ig.package}")

    def base_issues(self, data: dict[str, Any]) -> list[Issue]:
        """The FHIR R4 JSON rules (:mod:`igtools.runtime.fhirjson`): JSON types and formats
        of primitives, known elements and resource types, arrays, nulls, empty values,
        elements the base definition requires; nested resources by their own type."""
        return self._base_and_types(data)[0]

    def _base_and_types(self, data: dict[str, Any]) -> tuple[list[Issue], _Typed]:
        """The JSON rules' issues, and the complex values of ``data`` itself (and of its
        contained resources; not of Bundle entries, validated on their own) by R4 type,
        each with its path, gathered on the same walk."""
        typed: _Typed = {}
        contained = data.get("contained")
        own = [c for c in contained if isinstance(c, dict)] if isinstance(contained, list) else []

        def visit(obj: dict[str, Any], tname: str, path: str, owner: dict[str, Any]) -> None:
            if owner is data or any(owner is c for c in own):
                typed.setdefault(tname, []).append((obj, path))

        issues = [_base_issue(i, data) for i in fhirjson.check_resource(data, visit=visit)]
        return issues, typed

    def _type_invariants(self, data: dict[str, Any], typed: _Typed) -> list[Issue]:
        """Each data type value against its type's definition in hl7.fhir.r4.core (its
        invariants: ref-1, qty-3, per-1, tim-*...), as the reference validator checks
        every element against its type whatever the profile's snapshot carries."""
        out: list[Issue] = []
        for tname, values in typed.items():
            if tname in _TYPES_WITHOUT_OWN_INVARIANTS or not tname[:1].isupper():
                continue
            rules = self._type_rules.get(tname, _UNSET)
            if rules is _UNSET:
                rules = self.rules.get(CORE_SD + tname)
                if rules is not None and not _has_invariants(rules.root):
                    rules = None
                self._type_rules[tname] = rules
            if isinstance(rules, Rules):
                for obj, path in values:
                    out.extend(validate_value(obj, rules, path, data, self.rules, True))
        return out

    def validate_resource(
        self,
        data: dict[str, Any],
        profile: str | None = None,
        resolve: Resolver | None = None,
        bundle: dict[str, Any] | None = None,
    ) -> list[Issue]:
        """Every issue of ``data``; ``resolve`` gives the type a reference resolves to in
        the Bundle around it, ``bundle`` is that Bundle (a Bundle's entries get their
        Bundle's: FHIRPath's resolve() in their invariants searches it)."""
        issues, typed = self._base_and_types(data)
        rt = str(data.get("resourceType"))
        if rt == "Bundle":
            resolve = bundle_resolver(data)
        if profile is not None:
            targets = [self.resolve_profile(profile)]
            issues.extend(self._add_globals(rt, targets))
        else:
            targets = []
            for url in (data.get("meta") or {}).get("profile") or []:
                rules = self.rules.get(str(url))
                if rules is None:
                    issues.append(
                        Issue(
                            "warning",
                            f"{rt}.meta.profile",
                            f"profile {url} is not in {self.ig.package} nor in its loaded "
                            "dependencies: not checked",
                            "profile",
                            str(url),
                        )
                    )
                else:
                    targets.append(rules)
            issues.extend(self._add_globals(rt, targets))
            if not targets and self._base:
                base = self.rules.get(CORE_SD + rt)
                if base is not None:
                    targets.append(base)
            implied = self._implied_profile(data) if rt == "Observation" else None
            if implied is not None and all(r.url != implied.url for r in targets):
                targets.append(implied)
        index = self._builder.index if self._builder is not None else None

        assume = self.assume_valid_rest_references

        def known(rtype: str, rid: str) -> bool:  # a reference's target type is checked
            if assume:  # once resolved (or taken as resolving to what it names)
                return True
            return index is not None and index.get(rtype, rid) is not None

        for rules in targets:
            issues.extend(
                validate(data, rules, self.rules, self.invariants, resolve, bundle, known)
            )
        if self._base and self.invariants:
            issues.extend(self._type_invariants(data, typed))
        if self._base:
            extensions = typed.get("Extension", [])
            issues.extend(
                extension_issues(
                    extensions,
                    data,
                    self.rules.extension,
                    self.rules,
                    self.invariants,
                    self.rules.extension_is_modifier,
                    self.rules.extension_contexts,
                    self._unknown_extensions,
                )
            )
        issues.extend(attachment_issues(typed.get("Attachment", [])))
        issues.extend(identifier_issues(typed.get("Identifier", [])))
        issues.extend(uri_issues(data))
        if self._code_systems is not None:
            issues.extend(coding_issues(typed.get("Coding", []), self._code_systems))
            if rt == "CodeSystem":
                issues.extend(supplement_issues(data, self._code_systems))
        if self._builder is not None:
            issues.extend(canonical_issues(data, self._builder.index))
        if rt == "CapabilityStatement" and self._builder is not None:
            issues.extend(search_param_issues(data, index_lookup(self._builder.index)))
        if rt == "StructureDefinition" and self._builder is not None:
            issues.extend(snapshot_issues(data, self._builder.index))
        if rt == "Bundle":
            issues.extend(
                Issue("error", loc, message, rule, "FHIR R4 Bundle")
                for loc, message, rule in bundle_issues(data)
            )
            for i, entry in enumerate(data.get("entry") or []):
                res = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(res, dict) and (self._base or (res.get("meta") or {}).get("profile")):
                    for issue in self.validate_resource(res, resolve=resolve, bundle=data):
                        if issue.rule == "structure" and issue.profile.startswith("base"):
                            continue  # already reported by the Bundle's base model
                        issue.location = (
                            f"Bundle.entry[{i}].resource"
                            + issue.location[len(str(res.get("resourceType"))) :]
                        )
                        issues.append(issue)
        return _dedupe(issues)

    def validate_file(self, path: Path, profile: str | None = None) -> Result:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise IgtoolsError(f"{path}: cannot read ({exc.strerror})") from exc
        if path.suffix.lower() == ".xml" or raw.lstrip()[:1] == b"<":
            try:
                data = parse_resource_xml(raw, str(path))
            except XmlContentError as exc:
                # readable XML, invalid content: an invalid instance, not an input error
                rt = _xml_root(raw)
                message = str(exc).split(": ", 1)[-1]
                return Result(str(path), [Issue("error", rt, message, "structure", f"base {rt}")])
            return Result(str(path), self.validate_resource(data, profile))
        data, duplicates = read_resource_json(raw, str(path))
        found = [_base_issue(i, data) for i in duplicates]
        return Result(str(path), found + self.validate_resource(data, profile))


def _xml_root(raw: bytes) -> str:
    from lxml import etree

    try:
        root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:  # pragma: no cover - parse_resource_xml checked it
        return "Resource"
    return str(etree.QName(root).localname)


_UNSET = object()
# complex values of an instance by R4 type name: (object, path)
_Typed = dict[str, list[tuple[dict[str, Any], str]]]
# types whose definitions add no invariant of their own beyond ele-1/ext-1 (checked
# natively) or that are judged elsewhere (extensions against their own definitions)
_TYPES_WITHOUT_OWN_INVARIANTS = frozenset({"Extension", "Coding", "CodeableConcept", "Meta"})


def _has_invariants(el: Any) -> bool:
    return bool(el.invariants) or any(_has_invariants(c) for c in el.children)


def _choice_counted(parent: str, name: str, counted: set[str]) -> bool:
    """Whether a cardinality issue stands for the missing choice element ``name``
    (``value[x]``) of ``parent``: located at one of its typed names (``valueQuantity``)."""
    if not name.endswith("[x]"):
        return False
    stem = f"{parent}.{name[:-3]}"
    return any(
        loc.startswith(stem)
        and loc[len(stem) : len(stem) + 1].isupper()
        and "." not in loc[len(stem) :]
        for loc in counted
    )


def _dedupe(issues: list[Issue]) -> list[Issue]:
    """Each issue once; a JSON rule (ele-1, ext-1, the base structure) once whichever
    profile or nested resource reported it, and an invariant broken at one place once
    whether a profile's snapshot or the data type's own definition carried it."""
    seen: set[tuple[str, str, str]] = set()
    # an element a profile requires and the base requires too: the profile's cardinality
    # issue says it (at the element), the base's "missing" issue (at its parent) goes
    counted = {i.location for i in issues if i.rule == "cardinality"}
    out = []
    for i in issues:
        if i.rule == "structure" and i.message.startswith("missing "):
            name = i.message[len("missing ") :].partition(":")[0]
            if f"{i.location}.{name}" in counted or _choice_counted(i.location, name, counted):
                continue
        base = (
            i.rule in ("ele-1", "ext-1")
            or i.profile.startswith("base ")
            or i.rule.startswith("invariant:")
        )
        key = (i.location, i.message, i.rule if base else i.profile)
        if key not in seen:
            seen.add(key)
            out.append(i)
    return out
