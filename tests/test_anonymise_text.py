"""R9: open-text answers lose every identifier at term, and the proof (R11) can check they did."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from faker import Faker
from stdnum import iban

from include.anonymisers.text import KINDS, TextScrubber, deduce_cache_dir, find_identifiers

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def scrubber() -> TextScrubber:
    """One scrubber for the module: deduce loads its lookup cache in seconds.

    The cache sits in the project's git-ignored var/ so it survives test sessions; a fresh
    checkout builds it once (1-2 minutes).
    """
    return TextScrubber(cache_dir=ROOT / "var" / "cache" / "deduce")


@dataclass
class Person:
    first_name: str
    last_name: str
    email: str
    mobile: str  # 0612345678
    street: str
    house_number: str
    postcode: str
    city: str
    customer_number: str
    iban: str
    bsn: str
    other_first_name: str
    other_last_name: str

    def known(self) -> dict[str, str]:
        """The person's own values, as the nightly job reads them from the respondents table."""
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "phone": self.mobile,
            "street": self.street,
            "house_number": self.house_number,
            "postcode": self.postcode,
            "city": self.city,
            "customer_number": self.customer_number,
        }

    @property
    def spaced_iban(self) -> str:
        return " ".join(re.findall(".{1,4}", self.iban))

    def dutch_answer(self) -> str:
        m = self.mobile
        return (
            f"Ik ben {self.first_name} {self.last_name} en woon aan de {self.street} {self.house_number}, "
            f"{self.postcode} {self.city}. De wachttijd was veel te lang, wel 45 minuten! "
            f"Uw collega {self.other_first_name} {self.other_last_name} was gelukkig heel vriendelijk. "
            f"Bel me terug op {m[:2]}-{m[2:]} of mail {self.email}. Mijn klantnummer is {self.customer_number}, "
            f"het geld moet terug op {self.spaced_iban}, mijn BSN is {self.bsn}."
        )

    def english_answer(self) -> str:
        m = self.mobile
        return (
            f"My name is {self.first_name} {self.last_name.split()[-1]}, I live at {self.street} {self.house_number} "
            f"in {self.city} ({self.postcode.replace(' ', '')}). The waiting time was far too long, but "
            f"Mr. {self.other_last_name} was very friendly. Please call +31 {m[1]} {m[2:6]} {m[6:]} or "
            f"{m[:2]} {m[2:4]} {m[4:6]} {m[6:8]} {m[8:]}, or e-mail {self.email.upper()}. "
            f"Refund to {self.iban} please; my BSN (citizen service number) is {self.bsn}."
        )


def make_person(seed: int) -> Person:
    fake = Faker("nl_NL")
    fake.seed_instance(seed)
    return Person(
        first_name=fake.first_name(),
        last_name=fake.last_name(),
        email=fake.email(),
        mobile=fake.numerify("06########"),
        street=fake.street_name(),
        house_number=str(fake.building_number()),
        postcode=fake.postcode(),
        city=fake.city(),
        customer_number=fake.numerify("KL-#######"),
        iban=fake.iban(),
        bsn=fake.ssn(),
        other_first_name=fake.first_name(),
        other_last_name=fake.last_name(),
    )


PEOPLE = [make_person(seed) for seed in (1, 2, 3, 4, 5)]


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def assert_nothing_identifying_survives(scrubbed: str, person: Person) -> None:
    folded = scrubbed.casefold()
    for word in (
        person.first_name,
        *person.last_name.split(),
        person.email,
        person.street,
        person.city,
        person.other_first_name,
        *person.other_last_name.split(),
    ):
        if len(word) > 3:  # interfixes like "van", "de" are ordinary words
            assert word.casefold() not in folded, f"a value of {person.first_name}'s record survived"
    assert person.postcode.replace(" ", "").casefold() not in folded.replace(" ", "")
    for number in (person.mobile[1:], person.bsn, digits(person.customer_number), digits(person.iban)):
        assert number not in digits(scrubbed)
    assert iban.compact(person.iban) not in scrubbed.replace(" ", "").upper()


@pytest.mark.parametrize("person", PEOPLE, ids=lambda p: p.first_name)
def test_dutch_answer_full_of_identifiers_keeps_only_the_opinion(scrubber, person):
    answer = person.dutch_answer()
    assert find_identifiers(answer) == ["email", "phone", "iban", "bsn", "postcode"]

    scrubbed = scrubber.scrub(answer, person.known())

    assert_nothing_identifying_survives(scrubbed, person)
    for word in ("wachttijd", "45 minuten", "vriendelijk", "klantnummer", "BSN"):
        assert word in scrubbed
    assert {"<NAAM>", "<ADRES>", "<POSTCODE>", "<TELEFOON>", "<EMAIL>", "<IBAN>", "<BSN>"} <= set(
        re.findall(r"<[A-Z]+>", scrubbed)
    )
    assert find_identifiers(scrubbed) == []


@pytest.mark.parametrize("person", PEOPLE, ids=lambda p: p.first_name)
def test_english_answer_full_of_identifiers_keeps_only_the_opinion(scrubber, person):
    answer = person.english_answer()
    assert find_identifiers(answer) == ["email", "phone", "iban", "bsn", "postcode"]

    scrubbed = scrubber.scrub(answer, person.known())

    assert_nothing_identifying_survives(scrubbed, person)
    for words in ("waiting time", "far too long", "very friendly", "My name is", "please"):
        assert words in scrubbed
    assert find_identifiers(scrubbed) == []


def test_known_values_given_as_a_plain_list_are_removed_as_well(scrubber):
    person = PEOPLE[0]
    scrubbed = scrubber.scrub(person.dutch_answer(), list(person.known().values()))
    assert_nothing_identifying_survives(scrubbed, person)
    assert "wachttijd" in scrubbed


@pytest.mark.parametrize(
    "written", ["0612345678", "06-12345678", "06 1234 5678", "06-12 34 56 78", "+31 6 12345678", "+31(0)6-12345678"]
)
def test_own_phone_number_is_removed_however_it_is_written(scrubber, written):
    scrubbed = scrubber.scrub(f"Bel mij op {written} na vijven.", {"phone": "+31612345678"})
    assert scrubbed == "Bel mij op <TELEFOON> na vijven."


def test_strangers_numbers_addresses_and_links_are_removed_too(scrubber):
    answer = (
        "Mijn buurvrouw (020-5551234, buurvrouw@example.com) woont op Dorpsstraat 3, 3511 AB Utrecht; "
        "zie https://example.nl/klacht/123. Ordernummer 987654321, sinds 12-03-2026 geen antwoord."
    )
    scrubbed = scrubber.scrub(answer)
    assert scrubbed == (
        "Mijn buurvrouw (<TELEFOON>, <EMAIL>) woont op <ADRES>, <POSTCODE> <PLAATS>; "
        "zie <URL>. Ordernummer <NUMMER>, sinds <DATUM> geen antwoord."
    )


def test_answer_without_identifiers_is_left_exactly_as_it_was(scrubber):
    answer = (
        "De wachttijd was 45 minuten en het kostte € 1.250,00; in 2026 twee keer gebeld, om 10:30 en 14:00. "
        "The staff were friendly and the waiting time was fine. Score 8/10."
    )
    assert scrubber.scrub(answer) == answer


def test_cue_words_reveal_names_no_list_knows(scrubber):
    scrubbed = scrubber.scrub("Hello, I am Xandor Quillfeather. Mrs. Plovdiva and mevrouw Zwirtelaar helped me.")
    assert scrubbed == "Hello, I am <NAAM>. <NAAM> and <NAAM> helped me."


def test_house_number_is_only_removed_beside_the_street(scrubber):
    known = {"street": "Kerkstraat", "house_number": "12"}
    scrubbed = scrubber.scrub("Ik woon in de Kerkstraat 12 en wachtte 12 minuten.", known)
    assert scrubbed == "Ik woon in de <ADRES> en wachtte 12 minuten."


def test_missing_answer_stays_missing(scrubber):
    assert scrubber.scrub(None, PEOPLE[0].known()) is None
    assert scrubber.scrub("") == ""


@pytest.mark.parametrize("person", PEOPLE[:2], ids=lambda p: p.first_name)
def test_scrubbing_twice_changes_nothing_more(scrubber, person):
    for answer in (person.dutch_answer(), person.english_answer()):
        once = scrubber.scrub(answer, person.known())
        assert scrubber.scrub(once, person.known()) == once
        assert scrubber.scrub(once) == once


def test_scrub_many_returns_one_answer_per_row_in_order(scrubber):
    rows = [(p.dutch_answer(), p.known()) for p in PEOPLE[:3]]
    rows.insert(1, (None, PEOPLE[3].known()))
    assert scrubber.scrub_many(rows) == [scrubber.scrub(text, known) for text, known in rows]
    assert scrubber.scrub_many(rows)[1] is None


def test_scrubbing_logs_nothing_of_the_answer(scrubber, caplog):
    person = PEOPLE[0]
    with caplog.at_level(logging.DEBUG):
        scrubber.scrub(person.dutch_answer(), person.known())
    for value in (person.last_name, person.email, person.bsn, person.mobile):
        assert value not in caplog.text


# --- the detector the proof uses (no deduce needed) ---------------------------------


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("mail naar iemand@example.org", ["email"]),
        ("bel 020 123 4567", ["phone"]),
        ("call +44 20 7946 0958", ["phone"]),
        ("rekening NL91 ABNA 0417 1643 00", ["iban"]),
        ("refund to DE89 3704 0044 0532 0130 00 please", ["iban"]),
        ("BSN 111222333", ["bsn"]),
        ("postcode 1234AB", ["postcode"]),
        ("De wachttijd was 45 minuten, 3 sterren, ordernummer 12345.", []),
        ("Een bedrag van 123456789 euro", []),  # nine digits failing the 11-check are no BSN
        ("Om 12:30 op 01-02-2026 kwam 2026 en 1000 km", []),
    ],
)
def test_proof_detector_names_the_kinds_of_identifier_present(text, kinds):
    assert find_identifiers(text) == kinds


def test_proof_detector_reports_kinds_never_values():
    person = PEOPLE[0]
    found = find_identifiers(person.dutch_answer())
    assert set(found) <= set(KINDS)
    assert not any(person.email in kind or person.bsn in kind for kind in found)


def test_proof_detector_is_not_fooled_by_the_tags_scrubbing_leaves():
    assert find_identifiers("<NAAM> <EMAIL> <TELEFOON> <IBAN> <BSN> <POSTCODE> <ADRES> <NUMMER>") == []
    assert find_identifiers(None) == []


def test_deduce_cache_lives_under_kcm_home_unless_told_otherwise(kcm_home, monkeypatch):
    monkeypatch.delenv("KCM_DEDUCE_CACHE", raising=False)
    assert deduce_cache_dir() == kcm_home / "cache" / "deduce"
    monkeypatch.setenv("KCM_DEDUCE_CACHE", str(kcm_home / "elsewhere"))
    assert deduce_cache_dir() == kcm_home / "elsewhere"


def test_loading_deduce_leaves_the_process_logging_alone():
    """deduce turns on DEBUG logging at import; the operator's task logs must not change."""
    script = (
        "import logging; from include.anonymisers.text import _import_deduce; _import_deduce(); "
        "root = logging.getLogger(); assert root.level == logging.WARNING and not root.handlers, root"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, capture_output=True)
