"""Clients, deliveries and run dates for runs on the real topology (the Celery test and bench/scale.py).

Airflow runs no task whose logical date is in the future, and the scheduler adds
runs of its own to every unpaused DAG, so the dates follow the wall clock:

- the ingest day lies 65 days back, and each client's ingest schedule fires once a
  year on exactly that day: the run the scheduler would create on unpause is the
  one we trigger (same logical date), so it creates none;
- the night is the last 02:00 in Europe/Amsterdam, and the nightly DAG is onboarded
  that day: catch-up finds only the run we trigger.

Between them, the terms of the sample clients pass: an assignment completed ten days
before the ingest day is due one month later (R2), non-respondents after two (R3),
and a pilot's destruction was requested for twenty days after the ingest day (R4).
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from croniter import croniter

from include import config, sample_data

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
INGEST_DAYS_BACK = 65
NIGHTLY_SCHEDULE = "0 2 * * *"  # dags/kcm_clients.py RETENTION_SCHEDULE


@dataclass(frozen=True)
class Calendar:
    """The days of one scenario, all derived from the moment it starts."""

    now: dt.datetime
    ingest_day: dt.date
    night_at: dt.datetime  # the nightly run's logical date (UTC): the last 02:00 in Amsterdam

    @property
    def ingest_schedule(self) -> str:
        """A cron that fired last on the ingest day at 06:00 (once a year)."""
        return f"0 6 {self.ingest_day.day} {self.ingest_day.month} *"

    @property
    def ingest_at(self) -> dt.datetime:
        """The ingest runs' logical date (UTC): the schedule's last tick."""
        return dt.datetime.combine(self.ingest_day, dt.time(6), AMSTERDAM).astimezone(dt.UTC)

    @property
    def night(self) -> dt.date:
        """The nightly run's as-of day."""
        return self.night_at.astimezone(AMSTERDAM).date()

    @property
    def today(self) -> dt.date:
        return self.now.astimezone(AMSTERDAM).date()

    @property
    def delivered_on(self) -> dt.date:
        """As-of day of the sample deliveries: everything in them happened before the ingest day."""
        return self.ingest_day - dt.timedelta(days=1)


def calendar(now: dt.datetime | None = None) -> Calendar:
    now = (now or dt.datetime.now(dt.UTC)).astimezone(AMSTERDAM)
    night_at = croniter(NIGHTLY_SCHEDULE, now).get_prev(dt.datetime).astimezone(dt.UTC)
    return Calendar(now, now.date() - dt.timedelta(days=INGEST_DAYS_BACK), night_at)


def write_client(folder: Path, doc: dict) -> config.ClientConfig:
    path = folder / f"{doc['client_id']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return config.parse_client_file(path)


def energy_client(client_id: str, days: Calendar, *, name: str = "Acme Energie B.V.") -> dict:
    """Like the sample acme_energie: 1-month term; one assignment completed before the ingest day, one running."""
    return {
        "client_id": client_id,
        "name": name,
        "country": "NL",
        "retention_months": 1,
        "non_respondent_months": 2,
        "ingest_schedule": days.ingest_schedule,
        "onboarded_on": days.night.isoformat(),
        "destruction_requested_on": None,
        "assignments": [
            {"id": "ktv_done", "title": "Klanttevredenheid afgerond", "completed_on": (days.ingest_day - dt.timedelta(days=10)).isoformat(),
             "destruction_requested_on": None},
            {"id": "ktv_running", "title": "Klanttevredenheid lopend", "completed_on": None, "destruction_requested_on": None},
        ],
    }  # fmt: skip


def telecom_client(client_id: str, days: Calendar, *, name: str = "Flandria Telecom NV") -> dict:
    """Like the sample flandria_telecom: 12-month term; a pilot whose destruction is requested (R4), one running."""
    return {
        "client_id": client_id,
        "name": name,
        "country": "BE",
        "retention_months": 12,
        "non_respondent_months": 2,
        "k_anonymity": 5,
        "ingest_schedule": days.ingest_schedule,
        "onboarded_on": days.night.isoformat(),
        "destruction_requested_on": None,
        "assignments": [
            {"id": "nps_running", "title": "NPS callcenter", "completed_on": None, "destruction_requested_on": None},
            {"id": "pilot_chat", "title": "Pilot chat-enquête", "completed_on": (days.ingest_day - dt.timedelta(days=20)).isoformat(),
             "destruction_requested_on": (days.ingest_day + dt.timedelta(days=20)).isoformat()},
        ],
    }  # fmt: skip


def deliver(client: config.ClientConfig, kcm_home: Path, days: Calendar, *, respondents: int, recordings: int) -> dict:
    """A clean sample delivery (Faker nl_NL) in the client's landing folder; counts only."""
    seed = zlib.crc32(client.client_id.encode())
    landing = kcm_home / "landing" / client.client_id
    return sample_data.generate_delivery(
        client,
        landing,
        as_of=days.delivered_on,
        seed=seed,
        respondents=respondents,
        recordings=recordings,
        broken=False,
    )
