"""R9: a postcode becomes a region, coarsened further when k-anonymity needs it.

Levels, every value prefixed with its ISO 3166 country code:

- level 1: the 2-digit postcode area, 'NL-12' for '1234 AB'; outside the Netherlands the
  country and the postcode's first two characters, 'BE-10' for Belgian '1000';
- level 2: the Dutch province as an ISO 3166-2 code, 'NL-NH'; outside the Netherlands the country;
- level 3: the country, 'NL'.

`REGION_TO_PROVINCE` was compiled by hand from public descriptions of the Dutch postcode
areas (PostNL's numbering, as listed on nl.wikipedia.org "Postcodes in Nederland"). Postcode
areas do not follow provincial borders: an area spanning two provinces is given to the one
that holds most of its addresses by our reading, so borders are approximate (notably 21
Haarlemmermeer/Bollenstreek, 38 Amersfoort/Harderwijk, 42 Gorinchem/Altena, 53 Zaltbommel/Oss,
58 Venray/Boxmeer, 77 Hardenberg/Coevorden, 83 Emmeloord/Steenwijk, 93 Roden/Leek). That
is good enough for generalisation, which needs coarse, stable groups, not postal accuracy.
"""

from __future__ import annotations

import re

PROVINCE_NAMES: dict[str, str] = {
    "NL-DR": "Drenthe",
    "NL-FL": "Flevoland",
    "NL-FR": "Fryslân",
    "NL-GE": "Gelderland",
    "NL-GR": "Groningen",
    "NL-LI": "Limburg",
    "NL-NB": "Noord-Brabant",
    "NL-NH": "Noord-Holland",
    "NL-OV": "Overijssel",
    "NL-UT": "Utrecht",
    "NL-ZE": "Zeeland",
    "NL-ZH": "Zuid-Holland",
}

# First two digits of a Dutch postcode -> province; see the module docstring for the source.
_AREAS = {
    "NL-NH": "10 11 12 14 15 16 17 18 19 20 21",
    "NL-FL": "13 82 83",
    "NL-ZH": "22 23 24 25 26 27 28 29 30 31 32 33 42",
    "NL-UT": "34 35 36 37 38 39",
    "NL-GE": "40 41 65 66 67 68 69 70 71 72 73",
    "NL-ZE": "43 44 45",
    "NL-NB": "46 47 48 49 50 51 52 53 54 55 56 57",
    "NL-LI": "58 59 60 61 62 63 64",
    "NL-OV": "74 75 76 77 80 81",
    "NL-DR": "78 79 93 94",
    "NL-FR": "84 85 86 87 88 89 90 91 92",
    "NL-GR": "95 96 97 98 99",
}
REGION_TO_PROVINCE: dict[str, str] = {
    f"NL-{area}": province for province, areas in _AREAS.items() for area in areas.split()
}
LEVELS = (1, 2, 3)

_NL_POSTCODE = re.compile(r"([1-9]\d)\d{2}(?:\s*[A-Za-z]{2})?")
_REGION = re.compile(r"([A-Z]{2})-([A-Z0-9]{2})")


def region(postcode: str | None, country: str = "NL") -> str | None:
    """R9 level 1: the postcode's region ('1234 AB' -> 'NL-12'); None or blank stays None."""
    if postcode is None or not postcode.strip():
        return None
    country = _country(country)
    if country == "NL":
        match = _NL_POSTCODE.fullmatch(postcode.strip())
        # No values in the message: a postcode is personal data.
        if not match:
            raise ValueError("not a Dutch postcode: expected 4 digits, optionally 2 letters, e.g. '1234 AB'")
        return f"NL-{match.group(1)}"
    characters = re.sub(r"[^0-9A-Za-z]", "", postcode).upper()
    if len(characters) < 2:
        raise ValueError(f"postcode for country {country} has fewer than 2 letters or digits")
    return f"{country}-{characters[:2]}"


def province(postcode_or_region: str) -> str:
    """R9 level 2: the province ('NL-NH') of a Dutch postcode or region; the country outside NL."""
    value = postcode_or_region.strip().upper()
    if value in PROVINCE_NAMES:
        return value
    match = _REGION.fullmatch(value)
    if match and match.group(1) != "NL":
        return match.group(1)
    area = value if match else region(value, "NL")
    if area not in REGION_TO_PROVINCE:
        raise ValueError(f"region {area!r} is not a Dutch postcode area (NL-10 to NL-99)")
    return REGION_TO_PROVINCE[area]


def generalise_region(region_code: str | None, level: int) -> str | None:
    """R9: a region ('NL-12', or a province 'NL-NH') at a coarser `level`: 1 area, 2 province, 3 country."""
    if region_code is None:
        return None
    if level not in LEVELS:
        raise ValueError(f"region level must be one of {LEVELS}, got {level!r}")
    value = region_code.strip().upper()
    if re.fullmatch(r"[A-Z]{2}", value):
        # Outside the Netherlands the country is both level 2 and level 3.
        source_level = 3 if value == "NL" else 2
    elif value in PROVINCE_NAMES:
        source_level = 2
    elif _REGION.fullmatch(value):
        source_level = 1
    else:
        raise ValueError(f"{region_code!r} is not a region code such as 'NL-12', 'NL-NH' or 'NL'")
    if level < source_level:
        raise ValueError(f"region {region_code!r} is level {source_level}; it cannot be refined to level {level}")
    if level == 1:
        return value
    if level == 2:
        return province(value) if source_level == 1 else value
    return value[:2]


def _country(country: str) -> str:
    code = (country or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise ValueError(f"country must be an ISO 3166 alpha-2 code such as 'NL', got {country!r}")
    return code
