"""Term arithmetic (R2, R3) and the as-of day of a nightly run: calendar months, month ends, leap days, DST."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from include import terms

D = dt.date


@pytest.mark.parametrize(
    ("completed_on", "months", "term_ends_on"),
    [
        (D(2027, 1, 31), 1, D(2027, 2, 28)),  # 31 January + 1 month clamps to the end of February
        (D(2028, 1, 31), 1, D(2028, 2, 29)),  # ... which is the 29th in a leap year
        (D(2027, 3, 31), 1, D(2027, 4, 30)),
        (D(2027, 8, 31), 6, D(2028, 2, 29)),
        (D(2028, 2, 29), 12, D(2029, 2, 28)),  # completed on a leap day: a year later is 28 February
        (D(2028, 2, 29), 1, D(2028, 3, 29)),
        (D(2026, 12, 15), 1, D(2027, 1, 15)),  # over the turn of the year
        (D(2026, 12, 31), 12, D(2027, 12, 31)),
        (D(2027, 2, 28), 1, D(2027, 3, 28)),  # a term that ends on the night the clocks go forward
        (D(2027, 9, 30), 1, D(2027, 10, 30)),
    ],
)
def test_term_ends_calendar_months_after_completion_clamped_to_month_end(completed_on, months, term_ends_on):
    assert terms.term_ends_on(completed_on, months) == term_ends_on


def test_a_running_assignment_has_no_term():
    assert terms.term_ends_on(None, 6) is None


@pytest.mark.parametrize("months", range(1, 13))
def test_term_is_never_before_completion_and_at_most_a_year_after(months):
    completed = D(2027, 1, 31)
    ends = terms.term_ends_on(completed, months)
    assert completed < ends <= D(2028, 1, 31)


@pytest.mark.parametrize(
    ("invited_on", "months", "first_due_night"),
    [
        (D(2027, 1, 1), 2, D(2027, 3, 1)),
        (D(2026, 12, 31), 2, D(2027, 2, 28)),  # 31 December + 2 months = 28 February
        (D(2027, 1, 29), 1, D(2027, 2, 28)),
        (D(2027, 1, 30), 1, D(2027, 2, 28)),  # three invitation days share one due night at a month end
        (D(2027, 1, 31), 1, D(2027, 2, 28)),
        (D(2027, 12, 31), 2, D(2028, 2, 29)),
        (D(2028, 2, 29), 1, D(2028, 3, 29)),
    ],
)
def test_non_respondent_is_due_exactly_from_invitation_plus_term(invited_on, months, first_due_night):
    day_before = first_due_night - dt.timedelta(days=1)
    assert invited_on <= terms.non_respondent_cutoff(first_due_night, months), "due on the night of the term"
    assert invited_on > terms.non_respondent_cutoff(day_before, months), "not due one night earlier"


def test_non_respondent_cutoff_agrees_with_adding_months_on_every_night_of_two_years():
    invitations = [D(2026, 11, 1) + dt.timedelta(days=n) for n in range(800)]
    for night in (D(2027, 1, 1) + dt.timedelta(days=n) for n in range(730)):
        for months in (1, 2):
            cutoff = terms.non_respondent_cutoff(night, months)
            due = {day for day in invitations if terms.add_months(day, months) <= night}
            assert due == {day for day in invitations if day <= cutoff}, (night, months)


@pytest.mark.parametrize(
    ("logical_date", "as_of"),
    [
        # `airflow dags test ... 2027-03-01`: a bare day is midnight UTC, 01:00 in Amsterdam.
        ("2027-03-01T00:00:00+00:00", D(2027, 3, 1)),
        # The scheduled run at 02:00 Amsterdam in winter is 01:00 UTC: same day.
        ("2027-01-05T01:00:00+00:00", D(2027, 1, 5)),
        # In summer 02:00 Amsterdam is 00:00 UTC; 23:30 UTC is already the next day in Amsterdam.
        ("2027-07-01T00:00:00+00:00", D(2027, 7, 1)),
        ("2027-06-30T23:30:00+00:00", D(2027, 7, 1)),
        # DST starts on 28 March 2027: 02:00 does not exist; the run comes at 03:00 CEST = 01:00 UTC.
        ("2027-03-28T00:00:00+00:00", D(2027, 3, 28)),
        ("2027-03-28T01:00:00+00:00", D(2027, 3, 28)),
        # DST ends on 31 October 2027: 02:00 happens twice; both are the 31st.
        ("2027-10-31T00:00:00+00:00", D(2027, 10, 31)),
        ("2027-10-31T01:00:00+00:00", D(2027, 10, 31)),
        ("2027-10-30T22:30:00+00:00", D(2027, 10, 31)),
        ("2027-10-30T21:59:59+00:00", D(2027, 10, 30)),
    ],
)
def test_as_of_day_is_the_calendar_day_in_amsterdam(logical_date, as_of):
    assert terms.as_of_day(dt.datetime.fromisoformat(logical_date)) == as_of
    assert terms.as_of_day(logical_date) == as_of


def test_a_naive_logical_date_is_utc_and_a_date_is_itself():
    assert terms.as_of_day(dt.datetime(2027, 3, 27, 23, 30)) == D(2027, 3, 28)
    assert terms.as_of_day(D(2027, 3, 28)) == D(2027, 3, 28)


def _nightly_as_of_days(first: dt.date, nights: int) -> list[dt.date]:
    """The as-of days the retention DAG's own timetable schedules, one night after another."""
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.trigger import CronTriggerTimetable

    from dags.kcm_clients import RETENTION_SCHEDULE

    timetable = CronTriggerTimetable(RETENTION_SCHEDULE, timezone="Europe/Amsterdam")
    restriction = TimeRestriction(
        earliest=pendulum.datetime(first.year, first.month, first.day, tz="Europe/Amsterdam"), latest=None, catchup=True
    )
    days, last = [], None
    for _ in range(nights):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        days.append(terms.as_of_day(info.logical_date))
        last = info.data_interval
    return days


@pytest.mark.parametrize("first", [D(2027, 3, 25), D(2027, 10, 28)])
def test_every_night_around_a_clock_change_runs_exactly_once_with_its_own_as_of_day(first):
    days = _nightly_as_of_days(first, 7)
    assert days == [first + dt.timedelta(days=n) for n in range(7)]


def test_a_term_ending_on_the_dst_night_is_due_on_that_night_not_the_next():
    term = terms.term_ends_on(D(2027, 2, 28), 1)
    assert term == D(2027, 3, 28)
    as_of = _nightly_as_of_days(D(2027, 3, 27), 2)
    assert as_of == [D(2027, 3, 27), D(2027, 3, 28)]
    assert not term <= as_of[0] and term <= as_of[1]
