"""R9: birth dates become age bands and postcodes become regions, in levels k-anonymity can climb."""

from __future__ import annotations

import datetime as dt

import pytest
from faker import Faker

from include.anonymisers.dates import AGE_BANDS, age_band, age_on, band_for_age, generalise_age_band
from include.anonymisers.postcodes import (
    PROVINCE_NAMES,
    REGION_TO_PROVINCE,
    generalise_region,
    province,
    region,
)

RESPONDED_ON = dt.date(2026, 6, 15)


# --- ages ------------------------------------------------------------------------


def test_respondent_answering_on_their_18th_birthday_is_in_the_18_24_band():
    assert age_band(dt.date(2008, 6, 15), RESPONDED_ON) == "18-24"


def test_respondent_answering_the_day_before_their_18th_birthday_is_under_18():
    assert age_band(dt.date(2008, 6, 16), RESPONDED_ON) == "<18"


@pytest.mark.parametrize(
    ("birth_date", "band"),
    [
        (dt.date(2001, 6, 16), "18-24"),  # 24, turns 25 tomorrow
        (dt.date(2001, 6, 15), "25-34"),
        (dt.date(1991, 6, 15), "35-44"),
        (dt.date(1951, 6, 16), "65-74"),
        (dt.date(1951, 6, 15), "75+"),
        (dt.date(1920, 1, 1), "75+"),
    ],
)
def test_age_bands_change_on_the_birthday_itself(birth_date, band):
    assert age_band(birth_date, RESPONDED_ON) == band


def test_person_born_on_a_leap_day_turns_a_year_older_on_1_march_in_common_years():
    born = dt.date(2000, 2, 29)
    assert age_on(born, dt.date(2027, 2, 28)) == 26
    assert age_on(born, dt.date(2027, 3, 1)) == 27
    assert age_on(born, dt.date(2028, 2, 29)) == 28
    assert age_band(dt.date(2008, 2, 29), dt.date(2026, 2, 28)) == "<18"
    assert age_band(dt.date(2008, 2, 29), dt.date(2026, 3, 1)) == "18-24"


def test_coarser_levels_group_the_bands():
    born = dt.date(1990, 1, 1)  # 36 on the response day
    assert [age_band(born, RESPONDED_ON, level) for level in (1, 2, 3)] == ["35-44", "35-54", "*"]


def test_missing_birth_date_stays_missing():
    assert age_band(None, RESPONDED_ON) is None
    assert generalise_age_band(None, 2) is None


def test_birth_date_after_the_response_is_refused_without_echoing_the_date():
    with pytest.raises(ValueError) as error:
        age_band(dt.date(2027, 1, 2), RESPONDED_ON)
    assert "2027" not in str(error.value)


@pytest.mark.parametrize("level", sorted(AGE_BANDS))
def test_every_age_falls_in_exactly_one_band_so_sql_case_boundaries_agree(level):
    for age in range(0, 121):
        holding = [
            b for b in AGE_BANDS[level] if (b.lower is None or b.lower <= age) and (b.upper is None or age < b.upper)
        ]
        assert len(holding) == 1, (level, age)
        assert band_for_age(age, level) == holding[0].label


def test_generalising_a_band_keeps_every_age_in_it_inside_the_coarser_band():
    for age in range(0, 121):
        fine = band_for_age(age, 1)
        assert generalise_age_band(fine, 2) == band_for_age(age, 2)
        assert generalise_age_band(fine, 3) == "*"
        assert generalise_age_band(band_for_age(age, 2), 3) == "*"
    assert generalise_age_band("25-34", 1) == "25-34"


def test_a_coarse_band_cannot_be_made_finer_again():
    with pytest.raises(ValueError, match="cannot be refined"):
        generalise_age_band("35-54", 1)
    with pytest.raises(ValueError, match="not an age band"):
        generalise_age_band("36", 2)


# --- postcodes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("postcode", "area", "province_code"),
    [
        ("1012 AB", "NL-10", "NL-NH"),  # Amsterdam
        ("2511CV", "NL-25", "NL-ZH"),  # Den Haag
        ("3511 ab", "NL-35", "NL-UT"),  # Utrecht
        ("1315 RA", "NL-13", "NL-FL"),  # Almere
        ("9712 CP", "NL-97", "NL-GR"),  # Groningen
        ("8911 BK", "NL-89", "NL-FR"),  # Leeuwarden
        ("9401 EH", "NL-94", "NL-DR"),  # Assen
        ("7511 JA", "NL-75", "NL-OV"),  # Enschede
        ("6811 AA", "NL-68", "NL-GE"),  # Arnhem
        ("4331 AA", "NL-43", "NL-ZE"),  # Middelburg
        ("5611 AA", "NL-56", "NL-NB"),  # Eindhoven
        ("6211 AA", "NL-62", "NL-LI"),  # Maastricht
    ],
)
def test_dutch_postcode_becomes_its_area_then_province_then_country(postcode, area, province_code):
    assert region(postcode) == area
    assert province(postcode) == province(area) == province_code
    assert [generalise_region(area, level) for level in (1, 2, 3)] == [area, province_code, "NL"]


def test_every_dutch_postcode_area_has_a_province_for_the_sql_lookup_table():
    assert sorted(REGION_TO_PROVINCE) == [f"NL-{n}" for n in range(10, 100)]
    assert set(REGION_TO_PROVINCE.values()) == set(PROVINCE_NAMES)


def test_every_postcode_faker_makes_up_has_a_region_and_province():
    fake = Faker("nl_NL")
    fake.seed_instance(9)
    for _ in range(200):
        assert province(region(fake.postcode())) in PROVINCE_NAMES


def test_missing_postcode_stays_missing():
    assert region(None) is None
    assert region("  ") is None
    assert generalise_region(None, 2) is None


def test_postcode_outside_the_netherlands_keeps_country_and_first_two_characters():
    assert region("1000", "BE") == "BE-10"
    assert region("10115", "de") == "DE-10"
    assert region("D02 X285", "IE") == "IE-D0"
    assert [generalise_region("BE-10", level) for level in (1, 2, 3)] == ["BE-10", "BE", "BE"]
    assert generalise_region("BE", 2) == "BE"


def test_province_cannot_be_made_finer_again():
    with pytest.raises(ValueError, match="cannot be refined"):
        generalise_region("NL-UT", 1)
    with pytest.raises(ValueError, match="cannot be refined"):
        generalise_region("NL", 2)


@pytest.mark.parametrize("postcode", ["0123 AB", "12345", "AB 1234", "12 AB"])
def test_malformed_dutch_postcode_is_refused_without_echoing_it(postcode):
    with pytest.raises(ValueError) as error:
        region(postcode)
    assert postcode not in str(error.value)
    assert "1234 AB" in str(error.value)  # the message shows the expected shape instead
