"""The responses delivery contract (design §4): which columns a `responses*.csv` has and what each may hold.

Validation (Great Expectations), normalisation and the load all read this one
description. Lengths are those of the warehouse columns the values land in.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

FILE_KIND = "responses"
DELIMITERS = (",", ";")
# Open text has no column limit in the warehouse; a cap still catches a stray quote
# that swallowed the records after it into one cell.
OPEN_TEXT_MAX = 10_000


@dataclass(frozen=True)
class Column:
    """One contract column: `required` in the header, `not_null` in every record."""

    name: str
    kind: str = "text"  # text | email | phone | postcode | date | timestamp | score | ip
    required: bool = False
    not_null: bool = False
    max_length: int | None = None
    table: str = "respondents"
    scores: tuple[int, int] | None = None


COLUMNS: tuple[Column, ...] = (
    Column("assignment_id", required=True, not_null=True, max_length=64),
    Column("respondent_ref", required=True, not_null=True, max_length=100),
    Column("invited_at", "timestamp", required=True, not_null=True),
    Column("responded_at", "timestamp", required=True),
    Column("first_name", max_length=100),
    Column("last_name", max_length=150),
    Column("email", "email", max_length=254),
    Column("phone", "phone", max_length=20),
    Column("street", max_length=200),
    Column("house_number", max_length=20),
    Column("postcode", "postcode", max_length=10),
    Column("city", max_length=100),
    Column("birth_date", "date"),
    Column("gender", max_length=20),
    Column("marital_status", max_length=30),
    Column("customer_number", max_length=64),
    Column("transaction_id", max_length=64),
    Column("transaction_date", "date"),
    Column("nps", "score", table="responses", scores=(0, 10)),
    Column("csat", "score", table="responses", scores=(1, 5)),
    Column("answer_text", max_length=OPEN_TEXT_MAX, table="responses"),
    Column("ip_address", "ip", max_length=45, table="responses"),
    Column("user_agent", max_length=500, table="responses"),
    Column("complaint_history", max_length=OPEN_TEXT_MAX),
)
BY_NAME = {column.name: column for column in COLUMNS}
REQUIRED = tuple(column.name for column in COLUMNS if column.required)
# Values that belong to an answer: they only exist for someone who responded.
RESPONSE_VALUES = tuple(column.name for column in COLUMNS if column.table == "responses")

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}\Z"
# ISO 8601 day, optionally with time, fraction (to the microsecond, as stored) and offset
# ('Z', '+01:00', '+0100', '+01').
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?\Z"
OFFSET_PATTERN = r"(?:Z|[+-]\d{2}(?::?\d{2})?)\Z"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IP_PATTERN = rf"^(?:(?:{_OCTET}\.){{3}}{_OCTET}|(?=[0-9A-Fa-f:.]*:)[0-9A-Fa-f:.]{{2,45}})\Z"


def canonical(cell: str) -> str:
    """A header cell as the contract spells it: surrounding spaces stripped, lower case."""
    return re.sub(r"\s+", " ", cell.strip().lower())


@dataclass(frozen=True)
class Header:
    """Where each contract column sits in a delivery's header."""

    positions: dict[str, int]
    unknown: int
    missing: tuple[str, ...]
    repeated: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        return list(self.positions)


def match_header(cells: Sequence[str]) -> Header:
    """Map header cells to contract columns; unknown cells are only counted (never echoed)."""
    names = [canonical(cell) for cell in cells]
    counts = Counter(names)
    positions = {name: index for index, name in enumerate(names) if name in BY_NAME and counts[name] == 1}
    repeated = tuple(sorted(name for name, count in counts.items() if name in BY_NAME and count > 1))
    unknown = sum(1 for name in names if name not in BY_NAME)
    missing = tuple(name for name in REQUIRED if name not in counts)
    return Header(positions=positions, unknown=unknown, missing=missing, repeated=repeated)
