"""Classes of reference-validator errors that a validator without a terminology server
or network cannot reproduce. Each has a reason; the comparison leaves them out and
counts them, so the list stays explicit (docs/corpus.md prints it)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from corpus.qa import QaMessage


@dataclass(frozen=True)
class Unreproducible:
    name: str
    pattern: re.Pattern[str]
    reason: str


UNREPRODUCIBLE: tuple[Unreproducible, ...] = (
    Unreproducible(
        "display",
        re.compile(r"^Wrong Display Name |There are no valid display names"),
        "display names in the requested language need the code system's designations "
        "(a terminology server: tx.fhir.org)",
    ),
    Unreproducible(
        "terminology-server",
        re.compile(r"^Error from https?://|^Unable to validate code|tx\.fhir\.org"),
        "the terminology server's own answer",
    ),
    Unreproducible(
        "unknown-code-system",
        re.compile(
            r"could not be found, so the code cannot be validated|"
            r"is not valid in the system http://(snomed\.info|loinc\.org|unitsofmeasure\.org)|"
            r"^Unknown code '[^']*' in the CodeSystem '(http://snomed|http://loinc|"
            r"http://unitsofmeasure)|"
            r"A definition for CodeSystem '[^']*' (version '[^']*' )?could not be found"
        ),
        "codes of code systems that no package holds (SNOMED CT, LOINC, national "
        "terminologies served only by a terminology server)",
    ),
    Unreproducible(
        "external-reference",
        re.compile(r"^Unable to resolve resource with reference '"),
        "the IG Publisher resolves references against its whole build and the web; "
        "whether it reports an unresolvable one depends on its version and settings "
        "(FR Core 2.1.0 reports them, 2.2.0 does not)",
    ),
    Unreproducible(
        "unknown-canonical",
        re.compile(
            r"^A definition could not be found for Canonical URL '|"
            r"^No definition could be found for URL value '"
        ),
        "the reference reports a canonical it cannot resolve as an error or a warning "
        "depending on the element and the URL's domain; igtools warns that the profile or "
        "code system is not loaded and does not check against it",
    ),
    Unreproducible(
        "links",
        re.compile(r"^Hyperlink '|^The link '|^Canonical URL '[^']*' does not resolve"),
        "links of the published site and canonicals resolved on the web",
    ),
)


MISSING_DEPENDENCY = Unreproducible(
    "missing-dependency",
    re.compile(r"value set '[^()]*' \((?P<url>[^|)\s]+)(?:\|[^)]*)?\)"),
    "a value set of a dependency that ../shared does not hold (the reference had it)",
)


def unreproducible(
    msg: QaMessage, resolvable: Callable[[str], bool] | None = None
) -> Unreproducible | None:
    """The class of an error igtools cannot reproduce offline, or None. ``resolvable``
    says whether a canonical URL is in the loaded package set."""
    for cls in UNREPRODUCIBLE:
        if cls.pattern.search(msg.message):
            return cls
    if resolvable is not None:
        m = MISSING_DEPENDENCY.pattern.search(msg.message)
        if m is not None and not resolvable(m["url"]):
            return MISSING_DEPENDENCY
    return None
