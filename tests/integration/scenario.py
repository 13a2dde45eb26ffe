"""Clients, deliveries and run dates for runs on the real topology (the Celery test and bench/scale.py).

Airflow runs no task whose logical date is in the future, and the scheduler adds
runs of its own to every unpaused DAG, so the dates follow the wall clock:

- the night is the last 02:00 in Europe/Amsterdam, and the nightly DAG is onboarded
  that day: catch-up finds only the run we trigger;
- each client's ingest schedule last fired exactly at the ingest run we trigger (same
  logical date), so unpausing adds no second run. For `calendar()` the ingest day lies
  65 days back (the schedule fires yearly on it), so that between ingest and night the
  sample clients' terms pass: an assignment completed ten days before the ingest day
  is due a month later (R2), non-respondents after two months (R3), and a pilot's
  destruction was requested for twenty days after it (R4). For `same_day()` the
  ingest follows the night on the same day (the schedule fires daily an hour ago),
  as in production. For `same_hour()` the ingest is scheduled at 02:00 like the night,
  so both of a client's runs have one logical date and contend for its lease.
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
    ingest_schedule: str
    ingest_at: dt.datetime  # the ingest runs' logical date (UTC): the schedule's last tick
    night_at: dt.datetime  # the nightly run's logical date (UTC): the last 02:00 in Amsterdam

    @property
    def ingest_day(self) -> dt.date:
        return self.ingest_at.astimezone(AMSTERDAM).date()

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


def _last_tick(schedule: str, now: dt.datetime) -> dt.datetime:
    return croniter(schedule, now).get_prev(dt.datetime).astimezone(dt.UTC)


def calendar(now: dt.datetime | None = None) -> Calendar:
    """Ingest 65 days back, the night today: every kind of term passes in between."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(AMSTERDAM)
    day = now.date() - dt.timedelta(days=INGEST_DAYS_BACK)
    schedule = f"0 6 {day.day} {day.month} *"
    return Calendar(now, schedule, _last_tick(schedule, now), _last_tick(NIGHTLY_SCHEDULE, now))


def same_day(now: dt.datetime | None = None) -> Calendar:
    """One production day: the night at 02:00, the ingest an hour ago (daily), or halfway since the night if that was less."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(AMSTERDAM)
    night = _last_tick(NIGHTLY_SCHEDULE, now).astimezone(AMSTERDAM)
    # Between 02:00 and 03:00 an hour ago is before tonight's night: the ingest would come first.
    tick = max(now - dt.timedelta(hours=1), night + (now - night) / 2)
    schedule = f"{tick.minute} {tick.hour} * * *"
    return Calendar(now, schedule, _last_tick(schedule, now), _last_tick(NIGHTLY_SCHEDULE, now))


def same_hour(now: dt.datetime | None = None) -> Calendar:
    """One production day whose ingest is scheduled at the night's own 02:00: a client's two runs are due together."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(AMSTERDAM)
    night = _last_tick(NIGHTLY_SCHEDULE, now)
    return Calendar(now, NIGHTLY_SCHEDULE, night, night)


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
