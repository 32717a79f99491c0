"""Invariant expressions as the reference validator evaluates them.

Some invariants of the published core definitions are wrong FHIRPath (``que-12`` counts
from three ``enableWhen``, ``eld-19`` never fails without anchors, ``ref-1`` fails on a
reference without ``reference``...). A package never changes, so the HL7 reference
validator replaces them when it evaluates them (``FHIRPathExpressionFixer`` in
org.hl7.fhir.validation); igtools' rules use the same replacements, so that an instance
is judged by the same expressions. The published text stays what the documentation
shows; only the validator's rules read the corrected one.
"""

from __future__ import annotations

# published expression -> the one evaluated (R4 and the versions before it whose
# definitions R4 packages still carry)
_BY_EXPRESSION: dict[str, str] = {
    "probability is decimal implies (probability as decimal) <= 100": (
        "(probability.exists() and (probability is decimal)) implies "
        "((probability as decimal) <= 100)"
    ),
    "enableWhen.count() > 2 implies enableBehavior.exists()": (
        "enableWhen.count() >= 2 implies enableBehavior.exists()"
    ),
    "generated='generated' implies source.empty()": (
        "generation='generated' implies source.empty()"
    ),
    # ref-1 (R4): a reference without a reference (only an identifier or a display)
    "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
    "%rootResource.contained.id.trace('ids'))": (
        "reference.exists() implies (reference = '#' or (reference.startsWith('#').not() or "
        "(reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))))"
    ),
    # bld-8
    "fullUrl.contains('/_history/').not()": (
        "fullUrl.exists() implies fullUrl.contains('/_history/').not()"
    ),
    "name.matches('[A-Z]([A-Za-z0-9_]){0,254}')": (
        "name.exists() implies name.matches('^[A-Z]([A-Za-z0-9_]){0,254}$')"
    ),
    "(component.empty() and hasMember.empty()) implies (dataAbsentReason or value)": (
        "(component.empty() and hasMember.empty()) implies "
        "(dataAbsentReason.exists() or value.exists())"
    ),
    "isModifier implies isModifierReason.exists()": (
        "(isModifier.exists() and isModifier) implies isModifierReason.exists()"
    ),
    "differential.element.all(id) and differential.element.id.trace('ids').isDistinct()": (
        "differential.element.all(id.exists()) and "
        "differential.element.id.trace('ids').isDistinct()"
    ),
    "snapshot.element.all(id) and snapshot.element.id.trace('ids').isDistinct()": (
        "snapshot.element.all(id.exists()) and snapshot.element.id.trace('ids').isDistinct()"
    ),
    "telecom or endpoint": "telecom.exists() or endpoint.exists()",
    "searchType implies type = 'string'": "searchType.exists() implies type = 'string'",
}

# by key, whatever the published text (R4: the FHIRPath specification's clarification
# that the pattern is to match the whole path)
_BY_KEY: dict[str, str] = {
    "eld-19": (
        r"""path.matches('^[^\\s\\.,:;\\\'"\\/|?!@#$%&*()\\[\\]{}]{1,64}"""
        r"""(\\.[^\\s\\.,:;\\\'"\\/|?!@#$%&*()\\[\\]{}]{1,64}(\\[x\\])?(\\:[^\\s\\.]+)?)*$')"""
    ),
    "eld-20": r"path.matches('^[A-Za-z][A-Za-z0-9]*(\\.[a-z][A-Za-z0-9]*(\\[x])?)*$')",
}


def evaluated_expression(key: str, expression: str) -> str:
    """The expression the reference validator evaluates for invariant ``key`` published
    as ``expression``."""
    fixed = _BY_KEY.get(key)
    if fixed is not None:
        return fixed
    return _BY_EXPRESSION.get(expression, expression)
