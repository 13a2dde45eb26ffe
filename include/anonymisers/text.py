"""R9: open-text answers scrubbed of identifiers; and the pattern detector the proof (R11) runs.

`TextScrubber.scrub` replaces every identifier it finds with a tag in angle brackets
(`TAGS`), in this order of trust, earlier finds winning overlaps:

1. the person's own known values (name, e-mail, phone, street, postcode, customer number …),
   case-insensitive and whole-word; phone numbers and long numbers in any formatting;
2. patterns checked by libraries made for them: e-mail, URL, IBAN (python-stdnum checksum,
   plus any Dutch-shaped IBAN), BSN (python-stdnum 11-check), phone numbers (phonenumbers,
   region NL and international, plus Dutch-shaped numbers the numbering plan rejects),
   Dutch postcodes;
3. dates, names after a cue ("my name is", "ik ben", "Mr.", "mevrouw" …) and capitalised
   first-name + surname pairs whose first name is in deduce's list, runs of 6+ digits;
4. deduce 3 (Dutch de-identification, Radboud/UMCU; LGPL): Dutch names from its first-name
   and surname lists and their context, streets, places, institutions, dates, ages.

Limits, stated plainly: there is no offline named-entity model here (no spaCy/presidio model
is installed or on PyPI), so a name is caught only when it is a known value of the person,
follows a cue, is in deduce's (Dutch-centred) name lists, or sits next to such a name. A
stranger's English surname standing alone ("Smith was rude") survives; misspelt or spaced-out
identifiers ("jan at example dot nl") survive; places outside deduce's Dutch list survive.
Over-scrubbing is preferred to leaking: a known surname that is also a word ("Bakker") is
removed wherever it appears. Where that is not good enough a client sets `open_text: drop`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum.nl import bsn as stdnum_bsn

from include import settings

log = logging.getLogger(__name__)

TAGS = frozenset(
    {
        "NAAM",
        "EMAIL",
        "TELEFOON",
        "IBAN",
        "BSN",
        "POSTCODE",
        "ADRES",
        "PLAATS",
        "DATUM",
        "URL",
        "NUMMER",
        "INSTELLING",
        "LEEFTIJD",
    }
)
# What the proof (R11) looks for in anonymised text; `find_identifiers` reports these kinds.
KINDS = ("email", "phone", "iban", "bsn", "postcode")

# Column names of the data map (R8) -> tag, for callers that pass known values by column.
COLUMN_TAGS = {
    "first_name": "NAAM",
    "last_name": "NAAM",
    "email": "EMAIL",
    "phone": "TELEFOON",
    "street": "ADRES",
    "house_number": "ADRES",
    "postcode": "POSTCODE",
    "city": "PLAATS",
    "customer_number": "NUMMER",
    "transaction_id": "NUMMER",
    "respondent_ref": "NUMMER",
}

_TAG_IN_TEXT = re.compile("<(?:" + "|".join(sorted(TAGS)) + ")>")

# --- pattern detectors, shared by scrub and the proof ------------------------------------

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
_URL = re.compile(
    r"(?i)(?:\b(?:https?://|www\.)[^\s<>\"']+"
    r"|(?<![\w@.-])(?:[a-z0-9-]+\.)+(?:nl|com|net|org|eu|be|de|fr|uk|info|io|nu)(?:/[^\s<>\"']*)?(?![\w-]))"
)
# Candidates only: python-stdnum decides. Case-insensitive, spaces allowed between characters.
_IBAN_CANDIDATE = re.compile(r"(?i)(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){10,30}")
# A Dutch-shaped IBAN is an account number even when its checksum is mistyped.
_NL_IBAN_SHAPE = re.compile(r"(?i)(?<![A-Za-z0-9])NL\d{2}[ ]?[A-Z]{4}(?:[ ]?\d){10}(?![0-9])")
_BSN_CANDIDATE = re.compile(r"(?<![\w.,-])\d(?:[ .-]?\d){8}(?![\w-]|[.,]\d)")
_SEP = r"[ .\-/()]?"
# Dutch-shaped phone numbers (0 or +31 / 0031, then 9 digits) that the numbering plan may reject,
# except where the start reads as a date (01-02-2026 12:30).
_NL_PHONE_SHAPE = re.compile(
    r"(?<![\w+])(?!0?\d[-/.]\d{1,2}[-/.]\d{2,4})(?:(?:\+|00)[ ]?31[ ]?(?:\(0\)[ ]?)?|\(?0)"
    + r"(?:[ .\-/()]{0,2}\d){9}(?!\d)"
)
_INTL_PHONE_SHAPE = re.compile(r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ .\-()]{0,2}\d){6,12}(?!\d)")
_UNITS = "mg|kg|km|cm|mm|ml|cl|dl|gr|kb|mb|gb|tb|ms|kw|pk|am|pm|st|nd|rd|th|ie"
_POSTCODE = re.compile(
    r"(?<![\w<])[1-9]\d{3}(?:[ ]?(?!SA|SD|SS)[A-Z]{2}|(?!(?i:" + _UNITS + r")(?![A-Za-z]))[A-Za-z]{2})(?![\w>])"
)


def _emails(text: str) -> Iterator[tuple[int, int]]:
    if "@" in text:
        yield from (m.span() for m in _EMAIL.finditer(text))


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    position = 0
    while match := _IBAN_CANDIDATE.search(text, position):
        # The candidate may run on into the next word or IBAN: take its longest valid prefix.
        position = match.start() + 1
        for end in range(match.end(), match.start() + 14, -1):
            if text[end - 1] != " " and stdnum_iban.is_valid(text[match.start() : end]):
                yield match.start(), end
                position = end
                break
    yield from (m.span() for m in _NL_IBAN_SHAPE.finditer(text))


def _bsns(text: str) -> Iterator[tuple[int, int]]:
    for match in _BSN_CANDIDATE.finditer(text):
        if stdnum_bsn.is_valid(re.sub(r"\D", "", match.group())):
            yield match.span()


def _phones(text: str) -> Iterator[tuple[int, int]]:
    if sum(c.isdigit() for c in text) < 7:
        return
    for match in phonenumbers.PhoneNumberMatcher(text, "NL"):
        yield match.start, match.end
    yield from (m.span() for m in _NL_PHONE_SHAPE.finditer(text))
    yield from (m.span() for m in _INTL_PHONE_SHAPE.finditer(text))


def _postcodes(text: str) -> Iterator[tuple[int, int]]:
    yield from (m.span() for m in _POSTCODE.finditer(text))


_DETECTORS = {"email": _emails, "phone": _phones, "iban": _ibans, "bsn": _bsns, "postcode": _postcodes}


def find_identifiers(text: str | None) -> list[str]:
    """R11: the kinds of pattern identifiers (KINDS) present in a text; kinds only, never values."""
    if not text:
        return []
    found: set[str] = set()
    covered: list[tuple[int, int]] = []
    # Same precedence as scrub: digits inside an IBAN are part of the IBAN, not a phone number.
    for kind in ("email", "iban", "bsn", "phone", "postcode"):
        for start, end in _DETECTORS[kind](text):
            if not any(s <= start and end <= e for s, e in covered):
                found.add(kind)
            covered.append((start, end))
    return [kind for kind in KINDS if kind in found]


# --- names, dates and numbers without a library check ------------------------------------

_UPPER = "A-ZÀ-ÖØ-Þ"
_WORD = rf"[{_UPPER}][\w'’]*(?:-[{_UPPER}]?[\w'’]+)*"
_INTERFIX = r"(?:van|de|der|den|het|ten|ter|te|in|op|'t|von|vom|zu|da|das|dos|di|du|del|della|la|le|el|al|bin|mac|mc)"
_NAME = rf"{_WORD}(?:[ \t]+(?:{_INTERFIX}[ \t]+)*{_WORD}){{0,3}}"
_CUE_NAME = re.compile(
    r"(?:(?i:\bmy[ \t]+name[ \t]+is|\bmy[ \t]+name's|\bcall[ \t]+me|\bnamed|\bcalled|\bik[ \t]+ben|\bik[ \t]+heet"
    r"|\bmijn[ \t]+naam[ \t]+is|\bgenaamd|\bheette)|\bI[ \t]+am|\bI'm)[ \t]+(" + _NAME + ")"
)
_TITLE_NAME = re.compile(
    r"(?<![\w.])(?i:mr|mrs|ms|miss|mx|dr|drs|ir|prof|sir|madam|meneer|mevrouw|mevr|dhr|mw|mej|juffrouw|de[ \t]+heer)"
    r"\.?[ \t]+(?:(?:" + _INTERFIX + r")[ \t]+)*" + _NAME
)
_NAME_PAIR = re.compile(rf"(?<![\w'’])(?=({_WORD})[ \t]+((?:{_INTERFIX}[ \t]+)*{_WORD}))")
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_ENGLISH_DATE = re.compile(
    rf"(?i)\b(?:\d{{1,2}}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?(?:{_MONTHS})\.?,?[ \t]+\d{{4}}"
    rf"|(?:{_MONTHS})\.?[ \t]+\d{{1,2}}(?:st|nd|rd|th)?,?[ \t]+\d{{4}})\b"
)
_LONG_NUMBER = re.compile(r"(?<![\w/-])(?=(?:[\w/-]*?\d){6})[\w/-]*\w")
_STREET = re.compile(
    r"(?i)\w+(?:baan|dam|dijk|dreef|gracht|hof|kade|laan|markt|pad|park|plantsoen|plein|singel|steeg|straat|weg"
    r"|street|road|lane|avenue)\b"
)
_HOUSE_NUMBER = re.compile(r"\d{1,5}\s?[A-Za-z]?(?:[\s-]?\d{1,4})?|[A-Za-z]\d{1,4}")
# English words deduce's Dutch-centred lists mistake for names ("My", "May" …) when they stand alone.
_NOT_NAMES = frozenset(
    """I A My Me Mine We Us Our You Your He Him His She Her They Them Their It Its The An And But Or Nor For So
    Yet If Then Than That This These Those What When Where Why How Who Whom Which Whose Am Is Are Was Were Be Been
    Do Does Did Have Has Had Will Would Can Could May Might Must Shall Should Not No Yes Hi Hello Dear Thanks Thank
    Please Sorry Great Good Bad Nice Very Really Kind Best Regards Overall Service Staff Time Waiting Call Phone
    Also Just Only Well Now Here There All Any Some Much Many More Most Long Short Again Still Never Always At By
    In On Of To Up As With From About After Before Over Under Into Out Off""".split()
)

_DEDUCE_TAGS = {
    "persoon": "NAAM",
    "patient": "NAAM",
    "emailadres": "EMAIL",
    "telefoonnummer": "TELEFOON",
    "bsn": "BSN",
    "id": "NUMMER",
    "url": "URL",
    "datum": "DATUM",
    "leeftijd": "LEEFTIJD",
    "ziekenhuis": "INSTELLING",
    "zorginstelling": "INSTELLING",
}
# Deduce's merging and redaction are ours to do. Its dropping of a street without a house
# number is undone, and `_tag` keeps such a street only when it is shaped like one ("Kerkstraat").
_DEDUCE_OFF = {"merge_adjacent_annotations", "redactor", "remove_street_tags"}


# --- claims: who tagged which characters --------------------------------------------------


class _Claims:
    """Spans of a text claimed by detectors; earlier claims win, later ones keep only what is left."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans: list[tuple[int, int, str | None]] = [
            (m.start(), m.end(), None) for m in _TAG_IN_TEXT.finditer(text)
        ]

    def claim(self, start: int, end: int, tag: str) -> None:
        pieces = [(start, end)]
        for taken_start, taken_end, _ in self.spans:
            if taken_end <= start or taken_start >= end:
                continue
            pieces = [
                part
                for a, b in pieces
                for part in ((a, min(b, taken_start)), (max(a, taken_end), b))
                if part[0] < part[1]
            ]
        for a, b in pieces:
            while a < b and (self.text[a].isspace() or self.text[a] in ",;:!?"):
                a += 1
            while b > a and (self.text[b - 1].isspace() or self.text[b - 1] in ".,;:!?"):
                b -= 1
            # A bracket belongs to the identifier only when its partner does: "(020) 555" vs "(020-555, …)".
            if a < b and self.text[a] == "(" and ")" not in self.text[a:b]:
                a += 1
            if a < b and self.text[b - 1] == ")" and "(" not in self.text[a:b]:
                b -= 1
            if any(c.isalnum() for c in self.text[a:b]):
                self.spans.append((a, b, tag))

    def neighbour_tag(self, start: int, end: int) -> str | None:
        """Tag of a claimed span right before or after [start, end), with only spaces or a comma between."""
        for taken_start, taken_end, tag in self.spans:
            if tag and taken_end <= start and re.fullmatch(r"[\s,]*", self.text[taken_end:start]):
                return tag
            if tag and taken_start >= end and re.fullmatch(r"\s*", self.text[end:taken_start]):
                return tag
        return None

    def render(self) -> str:
        out: list[str] = []
        position = 0
        previous: str | None = None
        for start, end, tag in sorted(self.spans, key=lambda span: span[:2]):
            gap = self.text[position:start]
            if tag is not None and tag == previous and not gap.strip():
                position = end  # one tag for a run like "Jan" "de Vries"
                continue
            out.append(gap)
            out.append(self.text[start:end] if tag is None else f"<{tag}>")
            position, previous = end, tag
        out.append(self.text[position:])
        return "".join(out)


# --- the person's own values -------------------------------------------------------------


@dataclass(frozen=True)
class _Known:
    pattern: re.Pattern[str]
    tag: str
    short: bool  # only removed beside another identifier (a house number "12", a name "Bo")


def _known_values(known: Iterable[Any] | Mapping[str, Any], text: str, placenames: Any, tokenize: Any) -> list[_Known]:
    if isinstance(known, str):
        known = [known]
    pairs = known.items() if isinstance(known, Mapping) else ((None, value) for value in known)
    folded, digits = text.casefold(), re.sub(r"\D", "", text)
    result: list[_Known] = []
    for column, raw in pairs:
        if raw is None:
            continue
        value = " ".join(str(raw).split())
        if not value or not _may_occur(value, folded, digits):
            continue
        tag = COLUMN_TAGS.get(column or "") or _classify(value, placenames, tokenize)
        result.extend(_known_patterns(value, tag))
    # Longest first, so "Jan de Vries" is claimed before "Jan".
    return sorted(result, key=lambda k: -len(k.pattern.pattern))


def _may_occur(value: str, folded: str, digits: str) -> bool:
    """A cheap test that spares compiling patterns for values the text cannot contain."""
    value_digits = re.sub(r"\D", "", value)
    if value_digits:
        # The last 8 digits survive any formatting of a phone number (+31 6 … vs 06-…).
        return value_digits[-8:] in digits
    return any(word in folded for word in value.casefold().replace("-", " ").split())


def _classify(value: str, placenames: Any, tokenize: Any) -> str:
    digits = sum(c.isdigit() for c in value)
    if "@" in value:
        return "EMAIL"
    if stdnum_iban.is_valid(value):
        return "IBAN"
    if re.fullmatch(r"\d{9}", value) and stdnum_bsn.is_valid(value):
        return "BSN"
    if _POSTCODE.fullmatch(value):
        return "POSTCODE"
    if digits >= 9 and re.fullmatch(r"[+\d\s().-]+", value):
        return "TELEFOON"
    if digits and _HOUSE_NUMBER.fullmatch(value):
        return "ADRES"
    if digits:
        return "NUMMER"
    if _STREET.fullmatch(value):
        return "ADRES"
    if tokenize(value) in placenames:
        return "PLAATS"
    return "NAAM"


def _spaced(characters: str) -> str:
    """A pattern for these characters with any one separator between them (06-12 34 56 78)."""
    return _SEP.join(re.escape(c) for c in characters)


def _known_patterns(value: str, tag: str) -> list[_Known]:
    flags = re.IGNORECASE
    alnum = re.sub(r"[\W_]", "", value)
    if tag == "TELEFOON" and sum(c.isdigit() for c in value) >= 6:
        try:
            number = phonenumbers.parse(value, "NL")
            country, national = number.country_code, phonenumbers.national_significant_number(number)
        except phonenumbers.NumberParseException:
            country, national = None, re.sub(r"\D", "", value)
        prefix = rf"(?:(?:\+|00)[ .\-]?{country}[ .\-]?(?:\(0\)[ .\-]?)?|\(?0\)?[ .\-]?)?" if country else ""
        return [_Known(re.compile(rf"(?<![\d+]){prefix}{_spaced(national)}(?!\d)"), tag, False)]
    has_digits = any(c.isdigit() for c in alnum)
    # Two letters ("Bo") or a few digits ("12") are too common to remove wherever they occur.
    if len(alnum) <= (3 if has_digits else 2) or (tag == "ADRES" and _HOUSE_NUMBER.fullmatch(value)):
        return [_Known(re.compile(rf"(?<!\w){re.escape(value)}(?!\w)", flags), tag, True)]
    if has_digits:
        return [_Known(re.compile(rf"(?<!\w){_spaced(alnum)}(?!\w)", flags), tag, False)]
    words = value.replace("-", " ").split()
    patterns = [_Known(re.compile(r"(?<!\w)" + r"[\s-]+".join(map(re.escape, words)) + r"(?!\w)", flags), tag, False)]
    if tag == "NAAM" and len(words) > 1:
        # "van den Berg" is also written "Berg" or "Van den Berg": its core words alone, capitalised.
        for word in words:
            if len(word) >= 3 and not re.fullmatch(_INTERFIX, word, flags):
                core = word[0].upper() + word[1:]
                patterns.append(_Known(re.compile(rf"(?<!\w){re.escape(core)}(?!\w)"), tag, False))
    return patterns


# --- deduce ------------------------------------------------------------------------------


def deduce_cache_dir() -> Path:
    """Where deduce's lookup cache lives: env KCM_DEDUCE_CACHE, else KCM_HOME/cache/deduce."""
    return Path(os.environ.get("KCM_DEDUCE_CACHE") or settings.kcm_home() / "cache" / "deduce")


def _import_deduce() -> Any:
    # deduce calls logging.basicConfig(level=DEBUG) and warnings.simplefilter at import;
    # undo both so they do not change what the rest of the process logs.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with warnings.catch_warnings():
        import deduce
    root.handlers[:] = handlers
    root.setLevel(level)
    return deduce


def _load_deduce(cache_dir: Path) -> Any:
    deduce = _import_deduce()
    # One folder per deduce version: an upgrade builds a fresh cache instead of overwriting in place.
    home = cache_dir / deduce.__version__
    cache_file = home / "cache" / "lookup_structs.pickle"
    if cache_file.exists():
        return deduce.Deduce(cache_path=home)
    log.info("Building deduce's lookup cache under %s (once per install, 1-2 minutes)", home)
    (home / "cache").mkdir(parents=True, exist_ok=True)
    # deduce writes its cache in place; build in a private folder and rename, so a task
    # starting at the same time never reads a half-written file.
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=home))
    try:
        model = deduce.Deduce(cache_path=staging)
        os.replace(staging / "cache" / "lookup_structs.pickle", cache_file)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return model


class TextScrubber:
    """R9: removes identifiers from open-text answers; build once per task (deduce loads in seconds)."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self._deduce = _load_deduce(Path(cache_dir) if cache_dir else deduce_cache_dir())
        self._first_names = self._deduce.lookup_structs["first_name"]
        self._placenames = self._deduce.lookup_structs["placename"]
        self._tokenizer = self._deduce.tokenizers["default"]

    def scrub(self, text: str | None, known: Iterable[Any] | Mapping[str, Any] = ()) -> str | None:
        """R9: `text` with every identifier found replaced by a tag such as '<NAAM>'; None stays None.

        `known` holds the person's own values: a list, or a mapping from data-map column names
        (first_name, email, street …) which also picks each value's tag.
        """
        if text is None or not text.strip():
            return text
        claims = _Claims(text)
        known_values = _known_values(known, text, self._placenames, self._tokens)
        for value in known_values:
            if not value.short:
                for match in value.pattern.finditer(text):
                    claims.claim(*match.span(), value.tag)
        for spans, tag in (
            (_emails(text), "EMAIL"),
            (_urls(text), "URL"),
            (_ibans(text), "IBAN"),
            (_bsns(text), "BSN"),
            (_phones(text), "TELEFOON"),
            (_postcodes(text), "POSTCODE"),
        ):
            for start, end in spans:
                claims.claim(start, end, tag)
        annotations = self._deduce_annotations(text, known)
        for start, end, tag in annotations:
            if tag == "DATUM":
                claims.claim(start, end, tag)
        for match in _ENGLISH_DATE.finditer(text):
            claims.claim(*match.span(), "DATUM")
        for start, end in self._names(text):
            claims.claim(start, end, "NAAM")
        for match in _LONG_NUMBER.finditer(text):
            claims.claim(*match.span(), "NUMMER")
        for start, end, tag in annotations:
            if tag != "DATUM":
                claims.claim(start, end, tag)
        self._claim_short_values(claims, [v for v in known_values if v.short])
        return claims.render()

    def scrub_many(self, texts: Sequence[tuple[str | None, Iterable[Any] | Mapping[str, Any]]]) -> list[str | None]:
        """R9: `scrub` over (text, known) pairs, in order."""
        return [self.scrub(text, known) for text, known in texts]

    def _tokens(self, value: str) -> list[str]:
        return [token.text for token in self._tokenizer.tokenize(value)]

    def _deduce_annotations(self, text: str, known: Iterable[Any] | Mapping[str, Any]) -> list[tuple[int, int, str]]:
        metadata = {"patient": self._patient(known)}
        doc = self._deduce.deidentify(text, disabled=_DEDUCE_OFF, metadata=metadata)
        found = [(int(a.start_char), int(a.end_char), a.tag, a.text) for a in doc.annotations]
        places = [(start, end) for start, end, tag, _ in found if tag == "locatie"]
        result = []
        for start, end, deduce_tag, found_text in found:
            tag = self._tag(deduce_tag, found_text)
            if tag is None and any(0 <= start - e <= 1 or 0 <= s - end <= 1 for s, e in places):
                tag = "PLAATS"  # deduce splits "Den Haag" into a place "Den" and a street "Haag"
            if tag is None or (tag == "NAAM" and found_text.strip(" .") in _NOT_NAMES):
                continue
            result.append((start, end, tag))
        return result

    def _patient(self, known: Iterable[Any] | Mapping[str, Any]) -> Any:
        """The person as deduce's patient, so it also finds their name misspelt by one letter."""
        if not isinstance(known, Mapping) or not (known.get("first_name") or known.get("last_name")):
            return None
        first = " ".join(str(known.get("first_name") or "").split())
        from deduce.person import Person

        return Person(first_names=first.split() or None, surname=str(known.get("last_name") or "") or None)

    @staticmethod
    def _tag(deduce_tag: str, text: str) -> str | None:
        if deduce_tag in _DEDUCE_TAGS:
            return _DEDUCE_TAGS[deduce_tag]
        if deduce_tag == "straat":
            # Deduce's street list alone is noisy ("Kasteel", "Contact"): keep streets that look like one.
            return "ADRES" if _STREET.fullmatch(text.strip()) else None
        if deduce_tag.startswith("straat"):
            return "ADRES"
        if deduce_tag == "locatie":
            if _POSTCODE.fullmatch(text.strip()):
                return "POSTCODE"
            return "ADRES" if any(c.isdigit() for c in text) or _STREET.search(text) else "PLAATS"
        return "NAAM"  # any tag a later deduce adds is treated as the most common kind

    def _names(self, text: str) -> Iterator[tuple[int, int]]:
        for match in _CUE_NAME.finditer(text):
            yield match.start(1), self._end_of_name(text, match.start(1), match.end(1))
        for match in _TITLE_NAME.finditer(text):
            yield match.start(), self._end_of_name(text, match.start(), match.end())
        for match in _NAME_PAIR.finditer(text):
            first, rest = match.group(1), match.group(2)
            last = rest.split()[-1]
            if first in _NOT_NAMES or last in _NOT_NAMES or [first] not in self._first_names:
                continue
            yield match.start(1), match.end(2)

    @staticmethod
    def _end_of_name(text: str, start: int, end: int) -> int:
        """Drop trailing words that are not names ("I am John And …")."""
        words = text[start:end].split()
        while len(words) > 1 and words[-1] in _NOT_NAMES:
            end = text.rindex(words.pop(), start, end)
        return end

    @staticmethod
    def _claim_short_values(claims: _Claims, short: list[_Known]) -> None:
        changed = True
        while changed:
            changed = False
            for value in short:
                for match in value.pattern.finditer(claims.text):
                    if any(s <= match.start() < e for s, e, _ in claims.spans):
                        continue
                    if claims.neighbour_tag(*match.span()):
                        before = len(claims.spans)
                        claims.claim(*match.span(), value.tag)
                        changed = changed or len(claims.spans) > before


def _urls(text: str) -> Iterator[tuple[int, int]]:
    for match in _URL.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in ".,;:!?)":
            end -= 1
        yield start, end
