"""Client configs (design §4): one YAML per client, parsed once into typed objects.

R1: only clients in an EU member state. A broken file never hides the other
clients: `load_clients` returns the valid configs and, separately, one
`ConfigError` per broken file, whose message names the file, the field and the fix.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from include import settings

# ISO 3166-1 alpha-2 codes of the 27 EU member states (R1, privacy statement §1b).
EU_MEMBER_STATES = frozenset("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())
ID_PATTERN = r"^[a-z][a-z0-9_]*$"
ASSIGNMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

_FIXES = {
    "client_id": "use lower-case letters, digits and '_' starting with a letter, equal to the file name",
    "country": "use the ISO 3166 alpha-2 code of an EU member state, e.g. NL, BE or DE",
    "retention_months": "set a whole number of months from 1 to 12, as agreed with the client",
    "non_respondent_months": "set 1 or 2 (default 2, privacy statement §3d)",
    "ingest_schedule": "use a five-field cron expression, e.g. '0 6 * * *' (Europe/Amsterdam)",
    "assignments": "give each assignment a unique 'id', a 'title' and 'completed_on' (date or null)",
    "k_anonymity": "set a whole number of at least 2 (default 5)",
    "open_text": "use 'scrub' (default) or 'drop'",
    "storage": "give 'landing' and/or 'recordings' as s3://bucket/prefix URLs and optionally 'conn_id', an Airflow connection (see README, 'Object storage')",
}
_DATE_FIELDS = {"completed_on", "destruction_requested_on", "onboarded_on"}
_DATE_FIX = "write the date as YYYY-MM-DD (ISO 8601), or null"


class Assignment(BaseModel):
    """One survey project (opdracht) of a client."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ASSIGNMENT_ID_PATTERN, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    completed_on: dt.date | None = None
    destruction_requested_on: dt.date | None = None


class Storage(BaseModel):
    """This client's own object-storage folders (design §5); absent parts follow KCM_LANDING_URL / KCM_RECORDINGS_URL or stay local."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    landing: str | None = Field(default=None, pattern=r"^s3://[^/]+")
    recordings: str | None = Field(default=None, pattern=r"^s3://[^/]+")
    conn_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$", max_length=250)


class ClientConfig(BaseModel):
    """A client (opdrachtgever): the controller whose data KCM processes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(pattern=ID_PATTERN, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    country: str
    retention_months: int = Field(ge=1, le=12)
    non_respondent_months: int = Field(default=2, ge=1, le=2)
    ingest_schedule: str = "0 6 * * *"
    destruction_requested_on: dt.date | None = None
    k_anonymity: int = Field(default=5, ge=2, le=100)
    open_text: Literal["scrub", "drop"] = "scrub"
    # First night the nightly retention DAG runs for this client; nights before it are
    # not caught up (no flood of historical runs when a client is first deployed).
    onboarded_on: dt.date | None = None
    assignments: list[Assignment] = Field(default_factory=list)
    storage: Storage | None = None

    @field_validator("country")
    @classmethod
    def _eu_only(cls, value: str) -> str:
        code = value.strip().upper()
        if code == "EL":
            raise ValueError("'EL' is the EU's own code for Greece; ISO 3166 uses 'GR'")
        if code not in EU_MEMBER_STATES:
            raise ValueError(f"{value!r} is not an EU member state (R1: KCM works only for clients inside the EU)")
        return code

    @field_validator("ingest_schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter

        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid five-field cron expression")
        return value

    @model_validator(mode="after")
    def _unique_assignments(self) -> ClientConfig:
        seen: set[str] = set()
        for assignment in self.assignments:
            if assignment.id in seen:
                raise ValueError(f"assignment id {assignment.id!r} appears twice")
            seen.add(assignment.id)
        return self

    def assignment(self, assignment_id: str) -> Assignment | None:
        return next((a for a in self.assignments if a.id == assignment_id), None)

    @property
    def assignment_ids(self) -> frozenset[str]:
        return frozenset(a.id for a in self.assignments)


@dataclass(frozen=True)
class ConfigError:
    """A client file that could not be used; `message` is for the data team."""

    path: Path
    message: str

    @property
    def stem(self) -> str:
        return re.sub(r"[^a-z0-9_]", "_", self.path.stem.lower()) or "unnamed"


def _describe(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: invalid client config ({error.error_count()} problem(s))"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(file)"
        top = str(item["loc"][0]) if item["loc"] else ""
        problem = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            problem, fix = "unknown field", "remove it or check its spelling (see README, 'Client config')"
        elif item["type"] == "missing":
            fix = "add it (see README, 'Client config')"
        elif item["loc"] and item["loc"][-1] in _DATE_FIELDS:
            fix = _DATE_FIX
        else:
            fix = _FIXES.get(top, "see README, 'Client config'")
        lines.append(f"  - field '{where}': {problem}; fix: {fix}")
    return "\n".join(lines)


def parse_client_file(path: Path) -> ClientConfig:
    """Parse one file; raises ValueError with an operator-ready message."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot be read as YAML ({type(exc).__name__}: {exc}); fix the syntax") from None
    if not isinstance(raw, dict):
        raise ValueError(
            f"{path}: expected a mapping of fields (client_id, name, country, ...), found {type(raw).__name__}"
        )
    try:
        config = ClientConfig.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(_describe(path, exc)) from None
    if config.client_id != path.stem:
        raise ValueError(
            f"{path}: field 'client_id': {config.client_id!r} differs from the file name; "
            f"fix: rename the file to {config.client_id}.yaml or change client_id"
        )
    return config


def load_clients(folder: Path | None = None) -> tuple[list[ClientConfig], list[ConfigError]]:
    """All client configs of a folder, sorted by client_id, plus one error per unusable file."""
    folder = folder or settings.clients_dir()
    clients: dict[str, ClientConfig] = {}
    errors: list[ConfigError] = []
    for path in sorted(folder.glob("*.y*ml")):
        try:
            config = parse_client_file(path)
        except ValueError as exc:
            errors.append(ConfigError(path, str(exc)))
            continue
        if config.client_id in clients:
            errors.append(
                ConfigError(
                    path,
                    f"{path}: field 'client_id': {config.client_id!r} is already used by another file; fix: give each client one file",
                )
            )
            continue
        clients[config.client_id] = config
    return sorted(clients.values(), key=lambda c: c.client_id), errors


def get_client(client_id: str, folder: Path | None = None) -> ClientConfig:
    """One client's config; raises KeyError naming the folder when absent or invalid."""
    folder = folder or settings.clients_dir()
    path = folder / f"{client_id}.yaml"
    if not path.exists():
        raise KeyError(f"no client config {path}")
    return parse_client_file(path)
