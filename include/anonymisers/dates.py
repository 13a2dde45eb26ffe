"""R9: a birth date becomes an age band at the time of response, coarsened further when k-anonymity needs it.

Ages are exact years: `on` year minus birth year, less one while `on`'s (month, day)
comes before the birthday's. A 29 February birthday therefore counts on 1 March in
common years (as in English law; Dutch law is silent). SQL that bands ages must use
the same rule, then `AGE_BANDS[level]` as a CASE expression (``lower <= age AND age < upper``):

- SQLite: ``CAST(strftime('%Y', on) AS INTEGER) - CAST(strftime('%Y', birth) AS INTEGER)
  - (strftime('%m%d', on) < strftime('%m%d', birth))``
- PostgreSQL: ``extract(year FROM on)::int - extract(year FROM birth)::int
  - (to_char(on, 'MMDD') < to_char(birth, 'MMDD'))::int``
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple


class AgeBand(NamedTuple):
    """One band: `lower` inclusive, `upper` exclusive, None where unbounded."""

    lower: int | None
    upper: int | None
    label: str


# Level 1 is what anonymisation writes; levels 2 and 3 are coarser steps for k-anonymity.
# Each band of a level lies wholly inside one band of the next level.
AGE_BANDS: dict[int, tuple[AgeBand, ...]] = {
    1: (
        AgeBand(None, 18, "<18"),
        AgeBand(18, 25, "18-24"),
        AgeBand(25, 35, "25-34"),
        AgeBand(35, 45, "35-44"),
        AgeBand(45, 55, "45-54"),
        AgeBand(55, 65, "55-64"),
        AgeBand(65, 75, "65-74"),
        AgeBand(75, None, "75+"),
    ),
    2: (
        AgeBand(None, 18, "<18"),
        AgeBand(18, 35, "18-34"),
        AgeBand(35, 55, "35-54"),
        AgeBand(55, None, "55+"),
    ),
    3: (AgeBand(None, None, "*"),),
}
LEVELS = tuple(sorted(AGE_BANDS))


def age_on(birth_date: dt.date, on: dt.date) -> int:
    """Exact age in whole years on a day (29 February birthdays count on 1 March in common years)."""
    if on < birth_date:
        # No values in the message: a birth date is personal data.
        raise ValueError("birth date lies after the day the age is asked for")
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def band_for_age(age: int, level: int = 1) -> str:
    """The label of the band at `level` that holds `age`."""
    for band in _bands(level):
        if (band.lower is None or band.lower <= age) and (band.upper is None or age < band.upper):
            return band.label
    raise ValueError(f"age {age} falls in no band of level {level}")


def age_band(birth_date: dt.date | None, on: dt.date, level: int = 1) -> str | None:
    """R9: the age band of someone born on `birth_date`, on the day `on` (their response day)."""
    if birth_date is None:
        return None
    return band_for_age(age_on(birth_date, on), level)


def generalise_age_band(band: str | None, level: int) -> str | None:
    """R9: the band at a coarser `level` that contains `band` (a label of any level)."""
    if band is None:
        return None
    source_level, source = _find(band)
    if level < source_level:
        raise ValueError(f"age band {band!r} is level {source_level}; it cannot be refined to level {level}")
    return band_for_age(source.lower if source.lower is not None else 0, level)


def _bands(level: int) -> tuple[AgeBand, ...]:
    if level not in AGE_BANDS:
        raise ValueError(f"age band level must be one of {LEVELS}, got {level!r}")
    return AGE_BANDS[level]


def _find(label: str) -> tuple[int, AgeBand]:
    for level in LEVELS:
        for band in AGE_BANDS[level]:
            if band.label == label:
                return level, band
    raise ValueError(f"{label!r} is not an age band label; expected one of AGE_BANDS")
