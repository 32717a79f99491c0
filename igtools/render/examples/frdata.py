"""Realistic French data for examples: people, places, phone numbers, identifiers.

Names and street names come from Faker's fr_FR locale; communes from a small table of
real ones (name, postal code, INSEE code), so that postal and INSEE codes agree; phone
numbers are ``+33`` numbers with the area digit of the commune's region; identifiers
carry valid check keys (see checkkeys.py). Everything is drawn from one seeded random
generator: the same seed gives the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker import Faker

from igtools.render.examples import checkkeys


@dataclass(frozen=True)
class Commune:
    name: str
    postal_code: str
    insee: str

    @property
    def department(self) -> str:
        return self.insee[:2]


# (name, postal code, INSEE code): real communes
COMMUNES = tuple(
    Commune(*c)
    for c in (
        ("Paris", "75001", "75101"),
        ("Paris", "75012", "75112"),
        ("Paris", "75015", "75115"),
        ("Marseille", "13001", "13201"),
        ("Lyon", "69003", "69383"),
        ("Toulouse", "31000", "31555"),
        ("Nice", "06000", "06088"),
        ("Nantes", "44000", "44109"),
        ("Strasbourg", "67000", "67482"),
        ("Montpellier", "34000", "34172"),
        ("Bordeaux", "33000", "33063"),
        ("Lille", "59000", "59350"),
        ("Rennes", "35000", "35238"),
        ("Reims", "51100", "51454"),
        ("Saint-Étienne", "42000", "42218"),
        ("Toulon", "83000", "83137"),
        ("Grenoble", "38000", "38185"),
        ("Dijon", "21000", "21231"),
        ("Angers", "49000", "49007"),
        ("Nîmes", "30000", "30189"),
        ("Villeurbanne", "69100", "69266"),
        ("Clermont-Ferrand", "63000", "63113"),
        ("Le Mans", "72000", "72181"),
        ("Brest", "29200", "29019"),
        ("Tours", "37000", "37261"),
        ("Amiens", "80000", "80021"),
        ("Limoges", "87000", "87085"),
        ("Annecy", "74000", "74010"),
        ("Perpignan", "66000", "66136"),
        ("Metz", "57000", "57463"),
        ("Besançon", "25000", "25056"),
        ("Orléans", "45000", "45234"),
        ("Rouen", "76000", "76540"),
        ("Caen", "14000", "14118"),
        ("Nancy", "54000", "54395"),
        ("Poitiers", "86000", "86194"),
        ("Pau", "64000", "64445"),
        ("La Rochelle", "17000", "17300"),
    )
)

# first digit of French geographic numbers by department (ARCEP zones)
_ZONE = {
    "1": ("75", "77", "78", "91", "92", "93", "94", "95"),
    "2": ("14", "17", "29", "35", "37", "44", "45", "49", "72", "76", "86"),
    "3": ("21", "25", "51", "54", "57", "59", "67", "80"),
    "4": ("06", "13", "30", "34", "38", "42", "63", "66", "69", "74", "83"),
    "5": ("31", "33", "64", "87"),
}

SPECIALTY_WORDS = ("Cabinet médical", "Centre de santé", "Maison de santé", "Cabinet")


class FrenchData:
    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.faker = Faker("fr_FR")
        self.faker.seed_instance(seed)

    # people and places
    def family(self) -> str:
        return str(self.faker.last_name())

    def given(self) -> str:
        return str(self.faker.first_name())

    def commune(self) -> Commune:
        return self.random.choice(COMMUNES)

    def street(self) -> str:
        return f"{self.random.randint(1, 120)} {self.faker.street_name()}"

    def phone(self, commune: Commune | None = None) -> str:
        dept = (commune or self.commune()).department
        zone = next((z for z, depts in _ZONE.items() if dept in depts), "1")
        return "+33" + zone + "".join(str(self.random.randint(0, 9)) for _ in range(8))

    def mobile(self) -> str:
        return (
            "+33"
            + self.random.choice("67")
            + "".join(str(self.random.randint(0, 9)) for _ in range(8))
        )

    def email(self, given: str | None = None, family: str | None = None) -> str:
        import unicodedata

        def ascii_(s: str) -> str:
            s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
            return "".join(c for c in s.lower() if c.isalnum())

        g = ascii_(given or self.given())
        f = ascii_(family or self.family())
        domain = self.random.choice(("exemple.fr", "sante-exemple.fr", "cabinet-exemple.fr"))
        return f"{g}.{f}@{domain}"

    def organization_name(self, commune: Commune | None = None) -> str:
        c = commune or self.commune()
        return f"{self.random.choice(SPECIALTY_WORDS)} {self.faker.last_name()} - {c.name}"

    def digits(self, n: int) -> str:
        return "".join(str(self.random.randint(0, 9)) for _ in range(n))

    # identifiers with check keys
    def rpps(self) -> str:
        return checkkeys.make_rpps("10" + self.digits(8))

    def adeli(self) -> str:
        dept = self.commune().department
        return checkkeys.make_adeli(dept + "1" + self.digits(5))

    def finess(self) -> str:
        dept = self.commune().department
        return checkkeys.make_finess(dept, "0" + self.digits(5))

    def siren(self) -> str:
        return checkkeys.make_siren(str(self.random.randint(1, 9)) + self.digits(7))

    def siret(self) -> str:
        return checkkeys.make_siret(self.siren(), "000" + str(self.random.randint(1, 9)))


# French national identifier systems (ANS): what their values look like
IDNPS = "urn:oid:1.2.250.1.71.4.2.1"  # health professionals: 8+RPPS or 0+ADELI
IDNST = "urn:oid:1.2.250.1.71.4.2.2"  # structures: 1+FINESS, 3+SIRET, 4+RPPS-rang
RPPS_SYSTEMS = ("urn:oid:1.2.250.1.71.4.2.1",)
FINESS_SYSTEMS = ("http://finess.sante.gouv.fr", "urn:oid:1.2.250.1.71.4.2.2")
SIRET_SYSTEMS = ("http://sirene.fr", "https://sirene.fr")


def identifier_candidates(data: FrenchData, system: str | None, type_code: str | None) -> list[str]:
    """Plausible values for an identifier of ``system`` (or of identifier type
    ``type_code``), most typical first; empty when nothing is known of it."""
    if system == IDNPS or type_code == "IDNPS":
        return ["8" + data.rpps(), "0" + data.adeli()]
    if system == IDNST or type_code == "IDNST":
        return ["1" + data.finess(), "3" + data.siret(), "4" + data.rpps()]
    if system in FINESS_SYSTEMS or type_code in ("FINEG", "FINEJ", "FINESS"):
        return [data.finess()]
    if system in SIRET_SYSTEMS or type_code == "SIRET":
        return [data.siret()]
    if type_code == "RPPS":
        return [data.rpps()]
    return []


def system_for_type(type_code: str | None) -> str | None:
    """The national system of an identifier type code (IDNPS, IDNST), if any."""
    return {"IDNPS": IDNPS, "IDNST": IDNST}.get(type_code or "")
