"""Check keys against numbers from public registries (not the IG's illustrative ones)."""

from __future__ import annotations

import json
import tarfile

import pytest

from igtools.render.examples import checkkeys as ck
from igtools.render.examples.frdata import FrenchData, identifier_candidates
from tests.conftest import shared_path

# FINESS juridical entities: AP-HP (Paris), CHU de Bordeaux
REAL_FINESS = ["750712184", "330781196"]
# SIRET of the example in INSEE's description of the number (SIREN 732 829 320)
REAL_SIRET = ["73282932000074"]
REAL_SIREN = ["732829320"]


@pytest.mark.parametrize("number", REAL_FINESS)
def test_real_finess(number: str) -> None:
    assert ck.finess_valid(number)
    assert ck.make_finess(number[:2], number[2:8]) == number


@pytest.mark.parametrize("number", REAL_SIRET)
def test_real_siret(number: str) -> None:
    assert ck.siret_valid(number)
    assert ck.siren_valid(number[:9])
    assert ck.make_siret(number[:9], number[9:13]) == number


@pytest.mark.parametrize("number", REAL_SIREN)
def test_real_siren(number: str) -> None:
    assert ck.siren_valid(number)
    assert ck.make_siren(number[:8]) == number


def test_la_poste_siret_rule() -> None:
    # La Poste establishments: digit sum multiple of 5 instead of Luhn
    assert ck.siret_valid("35600000000042")  # digit sum 20
    assert not ck.siret_valid("35600000000043")


@pytest.mark.parametrize("number", [*REAL_FINESS, *REAL_SIRET])
def test_any_single_digit_change_is_caught(number: str) -> None:
    check = ck.finess_valid if len(number) == 9 else ck.siret_valid
    for i in range(len(number)):
        for d in "0123456789":
            if d != number[i]:
                changed = number[:i] + d + number[i + 1 :]
                assert not check(changed), changed


def test_luhn_basics() -> None:
    assert ck.luhn_valid("79927398713")  # the textbook Luhn example
    assert not ck.luhn_valid("79927398710")
    assert ck.luhn_key("7992739871") == "3"


def test_generated_identifiers_carry_valid_keys() -> None:
    data = FrenchData(7)
    for _ in range(200):
        assert ck.rpps_valid(data.rpps())
        assert ck.adeli_valid(data.adeli())
        assert ck.finess_valid(data.finess())
        assert ck.siret_valid(data.siret())
    idnps = identifier_candidates(data, "urn:oid:1.2.250.1.71.4.2.1", None)
    assert idnps[0][0] == "8" and ck.rpps_valid(idnps[0][1:])
    assert idnps[1][0] == "0" and ck.adeli_valid(idnps[1][1:])
    idnst = identifier_candidates(data, "urn:oid:1.2.250.1.71.4.2.2", None)
    assert idnst[0][0] == "1" and ck.finess_valid(idnst[0][1:])
    assert idnst[1][0] == "3" and ck.siret_valid(idnst[1][1:])


def test_the_igs_example_sirets_are_real() -> None:
    """The SAS examples' SIRETs (structure ids prefixed with 3) carry valid keys."""
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    found = []
    with tarfile.open(tgz) as tf:
        for m in tf:
            if not (m.name.startswith("package/example/") and m.name.endswith(".json")):
                continue
            fh = tf.extractfile(m)
            assert fh is not None
            text = fh.read().decode()
            for ident in _identifiers(json.loads(text)):
                if ident.get("system") == "urn:oid:1.2.250.1.71.4.2.2":
                    value = str(ident.get("value"))
                    if value.startswith("3") and len(value) == 15:
                        found.append(value[1:])
    assert found
    for siret in found:
        assert ck.siret_valid(siret), siret


def _identifiers(node: object) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    if isinstance(node, dict):
        if "system" in node and "value" in node:
            out.append(node)
        for v in node.values():
            out.extend(_identifiers(v))
    elif isinstance(node, list):
        for v in node:
            out.extend(_identifiers(v))
    return out
