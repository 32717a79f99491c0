"""Check keys of French health and company identifiers (written here, tested against
numbers from public registries).

* SIREN (9 digits) and SIRET (14 digits): Luhn over the whole number.
* RPPS (11 digits): Luhn over the whole number.
* FINESS (9 characters: department, 6-digit order number, key): Luhn key over the first
  8 characters; Corsican departments 2A/2B count as 20 (the key is computed on digits).
* ADELI (9 digits): Luhn key over the first 8 digits.
"""

from __future__ import annotations


def luhn_sum(digits: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total


def luhn_valid(number: str) -> bool:
    return number.isdigit() and luhn_sum(number) % 10 == 0


def luhn_key(payload: str) -> str:
    """The digit that makes ``payload + key`` Luhn-valid."""
    return str((10 - luhn_sum(payload + "0") % 10) % 10)


def siren_valid(number: str) -> bool:
    return len(number) == 9 and luhn_valid(number)


def siret_valid(number: str) -> bool:
    if len(number) != 14 or not number.isdigit():
        return False
    if number.startswith("356000000"):  # La Poste: the sum of the digits is a multiple of 5
        return sum(int(c) for c in number) % 5 == 0
    return luhn_valid(number)


def rpps_valid(number: str) -> bool:
    return len(number) == 11 and luhn_valid(number)


def adeli_valid(number: str) -> bool:
    return len(number) == 9 and luhn_valid(number)


def _finess_digits(number: str) -> str:
    return (
        number.upper().replace("2A", "20", 1).replace("2B", "20", 1)
        if number[:2].upper() in ("2A", "2B")
        else number
    )


def finess_key(payload: str) -> str:
    """Key of an 8-character FINESS payload (department + order number)."""
    return luhn_key(_finess_digits(payload))


def finess_valid(number: str) -> bool:
    if len(number) != 9:
        return False
    digits = _finess_digits(number)
    return digits.isdigit() and luhn_valid(digits)


def make_siren(body8: str) -> str:
    return body8 + luhn_key(body8)


def make_siret(siren: str, nic4: str) -> str:
    return siren + nic4 + luhn_key(siren + nic4)


def make_rpps(body10: str) -> str:
    return body10 + luhn_key(body10)


def make_adeli(body8: str) -> str:
    return body8 + luhn_key(body8)


def make_finess(department: str, order6: str) -> str:
    payload = department + order6
    return payload + finess_key(payload)
