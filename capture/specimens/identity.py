"""Synthetic identities for credential-back specimens: made-up numbers, common names, valid MRZ.

Every field is drawn at random; the names are combinations of very common Mexican given names
and surnames, so no sample describes a real person.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from capture.identifiers import icao_check_digit

MODELS = ("D", "E", "F", "G", "H")
MRZ_LINE_LENGTH = 30
QR_URL_LENGTH = 59

# Emission years seen per credential model (approximate; only used to make plausible dates).
_EMISSION_YEARS = {
    "D": (2008, 2013), "E": (2014, 2016), "F": (2016, 2019), "G": (2019, 2023), "H": (2020, 2025),
}
_VALIDITY_YEARS = 10

_SURNAMES = (
    "HERNANDEZ", "GARCIA", "MARTINEZ", "LOPEZ", "GONZALEZ", "RODRIGUEZ", "PEREZ", "SANCHEZ",
    "RAMIREZ", "CRUZ", "FLORES", "GOMEZ", "MORALES", "VAZQUEZ", "REYES", "JIMENEZ", "TORRES",
    "DIAZ", "GUTIERREZ", "RUIZ", "MENDOZA", "AGUILAR", "ORTIZ", "MORENO", "CASTILLO", "ROMERO",
    "ALVAREZ", "MENDEZ", "CHAVEZ", "RIVERA", "JUAREZ", "DOMINGUEZ", "DE LA CRUZ", "VELAZQUEZ",
)
_NAMES_M = (
    "JOSE", "JUAN", "LUIS", "CARLOS", "JESUS", "MIGUEL", "FRANCISCO", "ALEJANDRO", "ANTONIO",
    "JORGE", "PEDRO", "RICARDO", "FERNANDO", "EDUARDO", "JAVIER", "ROBERTO", "MAXIMILIANO",
)
_NAMES_F = (
    "MARIA", "GUADALUPE", "JUANA", "MARGARITA", "VERONICA", "LETICIA", "ROSA", "ELIZABETH",
    "PATRICIA", "ALEJANDRA", "GABRIELA", "ANA", "FERNANDA", "ISABEL", "XIMENA", "GUILLERMINA",
)


@dataclass(frozen=True)
class SpecimenIdentity:
    """The data printed on one synthetic credential back.

    ``seccion`` is the 4-digit group that precedes the identificador ciudadano in MRZ line 1 on
    models E-H (its meaning is *unconfirmed*; it matches the sección on the specimen).
    ``optional_digits`` fills MRZ line 2's optional field like the specimen (``<02<<12345<``).
    """

    model: str
    cic: str
    seccion: str
    identificador_ciudadano: str | None
    ocr: str | None
    emission_number: str
    optional_digits: str
    birth_date: date
    sex: str
    expiry_year: int
    surnames: tuple[str, ...]
    names: tuple[str, ...]
    qr_url: str

    def mrz_lines(self) -> tuple[str, str, str]:
        """The three TD1 lines (30 characters each) with correct ICAO 9303 check digits."""
        line1 = _mrz_line1(self)
        line2 = _mrz_line2(self, line1)
        return line1, line2, _mrz_line3(self.surnames, self.names)

    @property
    def line1_tail(self) -> str:
        """The 13 digits after ``<<`` in line 1: OCR on model D, sección + identificador on E-H."""
        if self.ocr is not None:
            return self.ocr
        return self.seccion + (self.identificador_ciudadano or "")

    @property
    def expiry_mrz(self) -> str:
        """Expiry as printed in the MRZ: the vigencia year's 31 December, YYMMDD."""
        return f"{self.expiry_year % 100:02d}1231"


def _mrz_line1(identity: SpecimenIdentity) -> str:
    line = f"IDMEX{identity.cic}{icao_check_digit(identity.cic)}<<{identity.line1_tail}"
    return _pad(line)


def _mrz_line2(identity: SpecimenIdentity, line1: str) -> str:
    birth = identity.birth_date.strftime("%y%m%d")
    expiry = identity.expiry_mrz
    optional = f"<{identity.emission_number}<<{identity.optional_digits}<"
    body = f"{birth}{icao_check_digit(birth)}{identity.sex}{expiry}{icao_check_digit(expiry)}MEX{optional}"
    composite = line1[5:30] + body[0:7] + body[8:15] + body[18:29]
    return body + icao_check_digit(composite)


def _mrz_line3(surnames: tuple[str, ...], names: tuple[str, ...]) -> str:
    primary = "<".join(part.replace(" ", "<") for part in surnames)
    secondary = "<".join(part.replace(" ", "<") for part in names)
    return _pad(f"{primary}<<{secondary}")[:MRZ_LINE_LENGTH]


def _pad(line: str) -> str:
    return line.ljust(MRZ_LINE_LENGTH, "<")


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _random_date(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def random_qr_url(rng: random.Random, emitted: date) -> str:
    """A URL shaped like the small QR's: ``http://qr.ine.mx/{24}/{YYYYMMDD}/P/{6}`` (59 chars)."""
    return f"http://qr.ine.mx/{_digits(rng, 24)}/{emitted:%Y%m%d}/P/{_digits(rng, 6)}"


def _random_names(rng: random.Random, sex: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    surnames = (rng.choice(_SURNAMES), rng.choice(_SURNAMES))
    pool = _NAMES_F if sex == "M" else _NAMES_M
    names = tuple(rng.sample(pool, rng.choice((1, 1, 2, 3))))
    return surnames, names


def random_identity(rng: random.Random, model: str) -> SpecimenIdentity:
    """A synthetic identity for a credential of ``model`` ("D".."H"), drawn only from ``rng``."""
    if model not in MODELS:
        raise ValueError(f"unknown credential model {model!r}; expected one of {MODELS}")
    first_year, last_year = _EMISSION_YEARS[model]
    emitted = _random_date(rng, date(first_year, 1, 1), date(last_year, 12, 31))
    birth = _random_date(rng, date(emitted.year - 85, 1, 1), date(emitted.year - 18, 1, 1))
    sex = rng.choice("HM")
    surnames, names = _random_names(rng, sex)
    seccion = _digits(rng, 4)
    return SpecimenIdentity(
        model=model,
        cic=_digits(rng, 9),
        seccion=seccion,
        identificador_ciudadano=None if model == "D" else _digits(rng, 9),
        ocr=seccion + _digits(rng, 9) if model == "D" else None,
        emission_number=_digits(rng, 2),
        optional_digits=_digits(rng, 5),
        birth_date=birth,
        sex=sex,
        expiry_year=emitted.year + _VALIDITY_YEARS,
        surnames=surnames,
        names=names,
        qr_url=random_qr_url(rng, emitted),
    )
