"""R8: the one data map, read by ingest, anonymisation, purge, proof and the register."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

PATH = Path(__file__).resolve().parent / "data_map.yaml"
TREATMENTS = frozenset({"keep", "remove", "age_band", "region", "day", "month", "scrub_text", "delete_file"})


@dataclass(frozen=True)
class ColumnEntry:
    table: str
    column: str
    category: str
    treatment: str
    quasi_identifier: bool = False
    note: str = ""

    @property
    def personal(self) -> bool:
        return self.category not in ("none", "derived")


@dataclass(frozen=True)
class FileKind:
    kind: str
    location: str
    categories: tuple[str, ...]
    term: str
    treatment: str = "delete_file"


@dataclass(frozen=True)
class DataMap:
    categories: dict[str, str]
    columns: tuple[ColumnEntry, ...]
    files: tuple[FileKind, ...]

    def table(self, table: str) -> list[ColumnEntry]:
        return [c for c in self.columns if c.table == table]

    def tables(self) -> list[str]:
        return sorted({c.table for c in self.columns})

    def personal_columns(self, table: str) -> list[ColumnEntry]:
        return [c for c in self.table(table) if c.personal]

    def with_treatment(self, table: str, treatment: str) -> list[str]:
        return [c.column for c in self.table(table) if c.treatment == treatment]

    def quasi_identifiers(self, table: str) -> list[str]:
        """Columns that survive anonymisation and could single someone out together (R9)."""
        return [c.column for c in self.table(table) if c.quasi_identifier and c.treatment == "keep"]


@functools.cache
def load(path: Path = PATH) -> DataMap:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    categories = raw["categories"]
    columns = []
    for table, spec in raw["tables"].items():
        for column, entry in spec.items():
            if entry["category"] not in categories:
                raise ValueError(f"{path}: {table}.{column}: unknown category {entry['category']!r}")
            if entry["treatment"] not in TREATMENTS:
                raise ValueError(f"{path}: {table}.{column}: unknown treatment {entry['treatment']!r}")
            columns.append(ColumnEntry(table, column, entry["category"], entry["treatment"],
                                       bool(entry.get("quasi_identifier")), entry.get("note", "")))
    files = tuple(
        FileKind(kind, f["location"], tuple(f["categories"]), f["term"], f.get("treatment", "delete_file"))
        for kind, f in raw["files"].items()
    )
    return DataMap(categories, tuple(columns), files)


def unclassified(eng) -> tuple[list[str], list[str]]:
    """Columns in the warehouse the map does not classify, and map entries with no column.

    Bookkeeping tables of the migration tool are not data.
    """
    import sqlalchemy as sa

    mapping = load()
    inspector = sa.inspect(eng)
    actual = {
        f"{table}.{column['name']}"
        for table in inspector.get_table_names()
        if table != "alembic_version"
        for column in inspector.get_columns(table)
    }
    mapped = {f"{c.table}.{c.column}" for c in mapping.columns}
    return sorted(actual - mapped), sorted(mapped - actual)
