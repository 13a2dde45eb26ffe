"""Term arithmetic (R2, R3): calendar months, end-of-month clamped, on as-of days.

Every term counts in calendar days in Europe/Amsterdam and is compared with the
run's as-of day, never with the wall clock (design §4).
"""

from __future__ import annotations

import calendar
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole calendar months; 31 Jan + 1 month = 28/29 Feb."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def as_of_day(moment: dt.datetime | dt.date | str) -> dt.date:
    """The calendar day in Europe/Amsterdam of a run's logical date."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        moment = moment.astimezone(AMSTERDAM).date()
    # A plain date: Airflow hands out pendulum dates, which the sqlite3 driver cannot bind.
    return dt.date(moment.year, moment.month, moment.day)


def term_ends_on(completed_on: dt.date | None, retention_months: int) -> dt.date | None:
    """R2: first day on which an assignment's personal data may no longer be kept."""
    return None if completed_on is None else add_months(completed_on, retention_months)


def non_respondent_cutoff(as_of: dt.date, non_respondent_months: int) -> dt.date:
    """R3: invitations on or before this day are due for deletion on `as_of`.

    Invited on D, deleted from D + n months on: D <= as_of - n months, except at
    month ends, where adding is what the rule says, so we invert it exactly.
    """
    cutoff = add_months(as_of, -non_respondent_months)
    # add_months is not invertible at month ends (31 Mar - 1 month = 28 Feb, yet
    # 29/30/31 Jan + 1 month also reach 28 Feb): walk forward while still due.
    while add_months(cutoff + dt.timedelta(days=1), non_respondent_months) <= as_of:
        cutoff += dt.timedelta(days=1)
    return cutoff


def written_on(path: Path) -> dt.date:
    """R10: the Amsterdam day a stored file or folder was last written (the newest file inside a folder).

    Retention purges and the proof both age quarantine items and exports by this day.
    """
    moments = [path.lstat().st_mtime]
    if path.is_dir() and not path.is_symlink():
        moments += [p.lstat().st_mtime for p in path.rglob("*")]
    return dt.datetime.fromtimestamp(max(moments), AMSTERDAM).date()


def arrived_on(path: Path) -> dt.date:
    """R10: the Amsterdam day a landing file arrived: its last status change, which an upload cannot backdate as it can mtime."""
    status = path.lstat()
    return dt.datetime.fromtimestamp(max(status.st_mtime, status.st_ctime), AMSTERDAM).date()
