"""Normalised identifiers (e-mail, phone, postcode): one form for storage and for subject-request matching (R6, R7).

Every identifier has a scalar version (one value, e.g. from a subject request) and a
vectorised version (a pandas Series, for deliveries of a million rows). Both run the
same regular expressions in the same order, so they agree value for value. A value
that cannot be normalised becomes None (scalar) or NA (vectorised); callers decide
whether that is a bad row.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_COUNTRY = "NL"

# --- e-mail -------------------------------------------------------------------------

# Pragmatic, not RFC 5322: one '@', no spaces or quotes, dotted domain with a letter TLD.
EMAIL_PATTERN = r"^[^\s@\"(),:;<>\[\]\\]{1,64}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}\Z"
_EMAIL = re.compile(EMAIL_PATTERN)


def normalise_email(value: str | None) -> str | None:
    """E-mail address trimmed and lower-cased; None when it is not an address."""
    if value is None:
        return None
    candidate = value.strip().lower()
    return candidate if _EMAIL.search(candidate) else None


def normalise_emails(values: pd.Series) -> pd.Series:
    """Vectorised `normalise_email`: NA where a value is not an address."""
    candidates = values.str.strip().str.lower()
    return candidates.where(candidates.str.contains(_EMAIL, na=False))


# --- phone ----------------------------------------------------------------------------

# Calling code and trunk prefix of each EU member state (what a national number starts
# with inside the country); from libphonenumber's metadata, checked by the tests.
CALLING_CODES: dict[str, tuple[str, str]] = {
    "AT": ("43", "0"), "BE": ("32", "0"), "BG": ("359", "0"), "HR": ("385", "0"), "CY": ("357", ""),
    "CZ": ("420", ""), "DK": ("45", ""), "EE": ("372", ""), "FI": ("358", "0"), "FR": ("33", "0"),
    "DE": ("49", "0"), "GR": ("30", ""), "HU": ("36", "06"), "IE": ("353", "0"), "IT": ("39", ""),
    "LV": ("371", ""), "LT": ("370", "0"), "LU": ("352", ""), "MT": ("356", ""), "NL": ("31", "0"),
    "PL": ("48", ""), "PT": ("351", ""), "RO": ("40", "0"), "SK": ("421", "0"), "SI": ("386", "0"),
    "ES": ("34", ""), "SE": ("46", "0"),
}  # fmt: skip
_TRUNK_ZERO_CODES = "|".join(sorted((code for code, trunk in CALLING_CODES.values() if trunk == "0"), key=len))

# E.164; Dutch numbers (+31) have exactly nine digits after the country code.
PHONE_PATTERN = r"^(?:\+31[1-9]\d{8}|\+(?!31)[1-9]\d{6,14})\Z"
_PHONE = re.compile(PHONE_PATTERN)


@functools.cache
def _phone_steps(country: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    """Rewrite steps, applied in order, from a delivered number to E.164 for a client in `country`."""
    code, trunk = CALLING_CODES.get(country.upper(), CALLING_CODES[DEFAULT_COUNTRY])
    national = (rf"^{re.escape(trunk)}(?=\d)", f"+{code}") if trunk else (r"^(?=\d)", f"+{code}")
    steps = [
        (r"\(0\)", ""),  # '+31 (0)6 ...': the trunk 0 written beside the country code
        (r"[\s\-./()]", ""),  # separators people type
        (r"^00(?=[1-9])", "+"),  # international call prefix
        national,
        # Excel drops a leading 0 ('612345678'); the trunk rule above left it without '+'.
        (r"^(?=[1-9])", f"+{code}"),
        # '+31 06 ...': the trunk 0 kept after the country code, only where 0 is a trunk prefix.
        (rf"^\+({_TRUNK_ZERO_CODES})0", r"+\1"),
    ]
    return tuple((re.compile(pattern), replacement) for pattern, replacement in steps)


def normalise_phone(value: str | None, country: str = DEFAULT_COUNTRY) -> str | None:
    """Phone number in E.164 ('06-12345678' -> '+31612345678'); None when it is not a number."""
    if value is None:
        return None
    candidate = value.strip()
    for pattern, replacement in _phone_steps(country):
        candidate = pattern.sub(replacement, candidate)
    return candidate if _PHONE.search(candidate) else None


def normalise_phones(values: pd.Series, country: str = DEFAULT_COUNTRY) -> pd.Series:
    """Vectorised `normalise_phone` (regular expressions only: libphonenumber per row is too slow)."""
    candidates = values.str.strip()
    for pattern, replacement in _phone_steps(country):
        candidates = candidates.str.replace(pattern, replacement, regex=True)
    return candidates.where(candidates.str.contains(_PHONE, na=False))


# --- postcode ---------------------------------------------------------------------------

# Dutch postcodes: 1000-9999 and two letters; SA, SD and SS are never issued.
NL_POSTCODE_PATTERN = r"^[1-9]\d{3} (?!SA|SD|SS)[A-Z]{2}\Z"
GENERIC_POSTCODE_PATTERN = r"^[A-Z0-9][A-Z0-9 -]{1,8}[A-Z0-9]\Z"
_NL_SPACING = re.compile(r"^([1-9]\d{3}) ?([A-Z]{2})\Z")
_WHITESPACE = re.compile(r"\s+")


def postcode_pattern(country: str = DEFAULT_COUNTRY) -> str:
    """The regular expression a normalised postcode of `country` matches."""
    return NL_POSTCODE_PATTERN if country.upper() == "NL" else GENERIC_POSTCODE_PATTERN


def normalise_postcode(value: str | None, country: str = DEFAULT_COUNTRY) -> str | None:
    """Postcode upper-cased and trimmed ('1234ab' -> '1234 AB' in NL); None when invalid."""
    if value is None:
        return None
    candidate = _WHITESPACE.sub(" ", value.strip().upper())
    if country.upper() == "NL":
        candidate = _NL_SPACING.sub(r"\1 \2", candidate)
    return candidate if re.search(postcode_pattern(country), candidate) else None


def normalise_postcodes(values: pd.Series, country: str = DEFAULT_COUNTRY) -> pd.Series:
    """Vectorised `normalise_postcode`."""
    candidates = values.str.strip().str.upper().str.replace(_WHITESPACE, " ", regex=True)
    if country.upper() == "NL":
        candidates = candidates.str.replace(_NL_SPACING, r"\1 \2", regex=True)
    return candidates.where(candidates.str.contains(postcode_pattern(country), regex=True, na=False))
