"""SQL statements, one file per statement kind, named after the rule they apply.

Statements are parameterised (`:name`); values are never formatted into SQL.
The same text runs on SQLite and PostgreSQL unless a `<name>.postgresql.sql`
variant exists beside it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa

FOLDER = Path(__file__).resolve().parent


@functools.cache
def _read(name: str, dialect: str) -> str:
    specific = FOLDER / f"{name}.{dialect}.sql"
    return (specific if specific.exists() else FOLDER / f"{name}.sql").read_text(encoding="utf-8")


def statement(name: str, dialect: str = "sqlite") -> sa.TextClause:
    """The named statement for a dialect (`sqlite` or `postgresql`)."""
    return sa.text(_read(name, dialect))
