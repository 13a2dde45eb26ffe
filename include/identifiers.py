r"""Normalised identifiers (e-mail, phone, postcode): one form for storage and for subject-request matching (R6, R7).

Every identifier has a scalar version (one value, e.g. from a subject request) and a
vectorised version (a pandas Series, for deliveries of a million rows). Both run the
same regular expressions in the same order, so they agree value for value. A value
that cannot be normalised becomes None (scalar) or NA (vectorised); callers decide
whether that is a bad row.

The expressions avoid what RE2 lacks or reads differently from Python's re (lookarounds,
`\s`), so pandas runs them in Arrow's C++ engine instead of a Python loop per value; it
falls back to Python's re by itself where `\d` and `\w` would differ (text beyond ASCII).
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_COUNTRY = "NL"

# What Python's str.strip() and re's \s take for whitespace (str.isspace), all 29 characters.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
# The same as the body of a character class, for Python's re and RE2 alike: escapes up to \xff, and the
# characters themselves above it (RE2 spells \u2000 differently from Python).
_SPACE = r"\t-\r\x1c-\x20\x85\xa0" + "\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def _cased(values: pd.Series, case: str) -> pd.Series:
    """values.str.lower() or .upper() as Python's str does it: Arrow's case mapping agrees on ASCII text only."""
    if values.str.isascii().all():
        return getattr(values.str, case)()
    return getattr(values.astype(object).str, case)().astype(values.dtype)


# --- e-mail -------------------------------------------------------------------------

# Pragmatic, not RFC 5322: one '@', no spaces or quotes, dotted domain with a letter TLD.
EMAIL_PATTERN = rf"^[^{_SPACE}@\"(),:;<>\[\]\\]{{1,64}}@(?:[^\W_](?:[\w-]{{0,61}}[^\W_])?\.)+[^\W\d_]{{2,63}}\Z"
_EMAIL = re.compile(EMAIL_PATTERN)


def normalise_email(value: str | None) -> str | None:
    """E-mail address trimmed and lower-cased; None when it is not an address."""
    if value is None:
        return None
    candidate = value.strip().lower()
    return candidate if _EMAIL.search(candidate) else None


def normalise_emails(values: pd.Series) -> pd.Series:
    """Vectorised `normalise_email`: NA where a value is not an address."""
    candidates = _cased(values.str.strip(WHITESPACE), "lower")
    return candidates.where(candidates.str.contains(EMAIL_PATTERN, regex=True, na=False))


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

# E.164; Dutch numbers (+31) have exactly nine digits after the country code, other numbers 7 to 15
# digits in all, not starting with 31 ('3[^\D1]': a 3, then any digit but 1).
PHONE_PATTERN = r"^(?:\+31[1-9]\d{8}|\+(?:[124-9]\d{6,14}|3[^\D1]\d{5,13}))\Z"
_PHONE = re.compile(PHONE_PATTERN)


@functools.cache
def _phone_steps(country: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    """Rewrite steps, applied in order, from a delivered number to E.164 for a client in `country`."""
    code, trunk = CALLING_CODES.get(country.upper(), CALLING_CODES[DEFAULT_COUNTRY])
    # The digit after a prefix is captured and written back ('\1'): the same as a lookahead, which RE2 lacks.
    national = (rf"^{re.escape(trunk)}(\d)", rf"+{code}\1") if trunk else (r"^(\d)", rf"+{code}\1")
    steps = [
        (r"\(0\)", ""),  # '+31 (0)6 ...': the trunk 0 written beside the country code
        (rf"[{_SPACE}\-./()]", ""),  # separators people type
        (r"^00([1-9])", r"+\1"),  # international call prefix
        national,
        # Excel drops a leading 0 ('612345678'); the trunk rule above left it without '+'.
        (r"^([1-9])", rf"+{code}\1"),
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
    candidates = values.str.strip(WHITESPACE)
    for pattern, replacement in _phone_steps(country):
        candidates = candidates.str.replace(pattern.pattern, replacement, regex=True)
    return candidates.where(candidates.str.contains(PHONE_PATTERN, regex=True, na=False))


# --- postcode ---------------------------------------------------------------------------

# Dutch postcodes: 1000-9999 and two letters; SA, SD and SS are never issued.
NL_POSTCODE_PATTERN = r"^[1-9]\d{3} (?:S[BCE-RT-Z]|[A-RT-Z][A-Z])\Z"
GENERIC_POSTCODE_PATTERN = r"^[A-Z0-9][A-Z0-9 -]{1,8}[A-Z0-9]\Z"
_NL_SPACING = re.compile(r"^([1-9]\d{3}) ?([A-Z]{2})\Z")
_WHITESPACE = re.compile(rf"[{_SPACE}]+")


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
    candidates = _cased(values.str.strip(WHITESPACE), "upper").str.replace(_WHITESPACE.pattern, " ", regex=True)
    if country.upper() == "NL":
        candidates = candidates.str.replace(_NL_SPACING.pattern, r"\1 \2", regex=True)
    return candidates.where(candidates.str.contains(postcode_pattern(country), regex=True, na=False))
