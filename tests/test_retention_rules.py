"""The nightly rules, night by night: R2 anonymisation at term, R3 non-respondents, R4 destruction,
R10 files with terms of their own; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics

import pytest

from include import data_map, retention, settings
from include.anonymisers import dates, postcodes
from tests.test_retention_world import (
    add_recording,
    load_people,
    person,
    quarantine_a_file,
    rows,
    scalar,
    sync_client,
)

D = dt.date


def known_values_scrubber(calls: list | None = None):
    """Stands in for the (slow to build) TextScrubber: removes the person's own values only."""

    def scrub_many(items):
        if calls is not None:
            calls.extend(items)
        out = []
        for text, known in items:
            for value in sorted(known, key=len, reverse=True):
                text = text.replace(value, "<X>")
            out.append(text)
        return out

    return scrub_many


def night(eng, cfg, day: D, **kwargs) -> dict:
    return retention.run_night(eng, cfg, day, run_id=f"scheduled__{day}", scrubber=known_values_scrubber(), **kwargs)


def assignments(completed_on: str | None, *, destruction: str | None = None, second_destruction: str | None = None):
    return [
        {
            "id": "a1",
            "title": "Klanttevredenheid",
            "completed_on": completed_on,
            "destruction_requested_on": destruction,
        },
        {"id": "a2", "title": "Lopend onderzoek", "completed_on": None, "destruction_requested_on": second_destruction},
    ]


def personal_values(eng, table: str = "respondents") -> list[dict]:
    """Every personal column of every row, as the data map names them (derived values excluded)."""
    columns = [c.column for c in data_map.load().personal_columns(table) if c.treatment != "keep"]
    return [dict(r._mapping) for r in rows(eng, f"SELECT {', '.join(columns)} FROM {table}")]


# --- R2: anonymised at term ---------------------------------------------------------------


def test_assignment_completed_on_the_31st_with_a_one_month_term_is_anonymised_on_28_february_not_before(
    warehouse, clients_dir
):
    cfg = sync_client(warehouse, clients_dir, retention_months=1, assignments=assignments("2027-01-31"))
    load_people(
        warehouse,
        "acme",
        [person(invited_at="2027-01-10T09:00:00+01:00", responded_at="2027-01-11T20:00:00+01:00") for _ in range(6)],
    )

    night(warehouse, cfg, D(2027, 2, 27))
    assert scalar(warehouse, "SELECT count(*) FROM respondents WHERE anonymised_on IS NULL") == 6
    assert scalar(warehouse, "SELECT status FROM assignments WHERE assignment_id = 'a1'") == "completed"

    summary = night(warehouse, cfg, D(2027, 2, 28))
    assert summary["anonymised_respondents"] == 6 and summary["assignments_anonymised"] == 1
    assert (
        rows(warehouse, "SELECT status, anonymised_on FROM assignments WHERE assignment_id = 'a1'")[0][0]
        == "anonymised"
    )
    assert scalar(warehouse, "SELECT count(*) FROM respondents WHERE anonymised_on IS NULL") == 0


def test_at_term_every_personal_column_the_data_map_names_is_treated(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir, retention_months=1, k_anonymity=2, assignments=assignments("2027-01-31"))
    people = [
        person(
            invited_at="2027-01-10T09:00:00+01:00",
            responded_at="2027-01-11T23:30:00+01:00",
            birth_date="1980-01-12",
            postcode="1234 AB",
            gender="vrouw",
        )
        for _ in range(3)
    ]
    load_people(warehouse, "acme", people)
    night(warehouse, cfg, D(2027, 2, 28))

    mapping = data_map.load()
    for row in personal_values(warehouse):
        for column, value in row.items():
            treatment = next(c.treatment for c in mapping.table("respondents") if c.column == column)
            if treatment in ("remove", "age_band", "region"):
                assert value is None, column
    answer = rows(warehouse, "SELECT ip_address, user_agent, answer_text FROM responses")[0]
    assert answer[0] is None and answer[1] is None and answer[2] == "De medewerker was vriendelijk."
    got = rows(
        warehouse, "SELECT age_band, region, gender, invited_on, responded_at, transaction_date FROM respondents"
    )
    age_band, region, gender, invited_on, responded_at, transaction_date = got[0]
    assert (age_band, region, gender) == ("45-54", "NL-12", "vrouw")  # 47 on 11 January 2027
    assert str(invited_on) == "2027-01-10"
    # 23:30 in Amsterdam on the 11th is 22:30 UTC: the day kept is the Amsterdam day.
    assert str(responded_at).startswith("2027-01-11 00:00:00") or str(responded_at).startswith("2027-01-11T00:00:00")
    assert str(transaction_date) == "2026-05-01"


def test_a_running_assignment_is_never_anonymised(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir, retention_months=1, assignments=assignments(None))
    load_people(warehouse, "acme", [person("a1", responded_at="2026-06-02T10:00:00+02:00") for _ in range(3)])
    night(warehouse, cfg, D(2028, 12, 31))
    assert scalar(warehouse, "SELECT count(*) FROM respondents WHERE anonymised_on IS NULL") == 3
    assert scalar(warehouse, "SELECT status FROM assignments WHERE assignment_id = 'a1'") == "running"


@pytest.mark.parametrize(("completed_on", "months", "day_before", "term"), [
    ("2026-12-31", 12, D(2027, 12, 30), D(2027, 12, 31)),  # a term of 12 months
    ("2028-01-31", 1, D(2028, 2, 28), D(2028, 2, 29)),  # a leap day
    ("2027-02-28", 1, D(2027, 3, 27), D(2027, 3, 28)),  # the night the clocks go forward
    ("2027-09-30", 1, D(2027, 10, 29), D(2027, 10, 30)),
])  # fmt: skip
def test_the_day_before_the_term_keeps_and_the_day_of_the_term_anonymises(
    warehouse, clients_dir, completed_on, months, day_before, term
):
    cfg = sync_client(warehouse, clients_dir, retention_months=months, assignments=assignments(completed_on))
    load_people(warehouse, "acme", [person(responded_at="2026-06-02T10:00:00+02:00") for _ in range(5)])
    night(warehouse, cfg, day_before)
    assert scalar(warehouse, "SELECT count(*) FROM respondents WHERE anonymised_on IS NOT NULL") == 0
    night(warehouse, cfg, term)
    assert scalar(warehouse, "SELECT count(*) FROM respondents WHERE anonymised_on IS NULL") == 0
    assert (
        str(scalar(warehouse, "SELECT anonymised_on FROM assignments WHERE assignment_id = 'a1'")) == term.isoformat()
    )


def test_number_of_responses_and_mean_nps_survive_anonymisation(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir, retention_months=1, assignments=assignments("2027-01-31"))
    people = [
        person(invited_at="2027-01-05T10:00:00+01:00", responded_at="2027-01-06T10:00:00+01:00", nps=str(n % 11))
        for n in range(40)
    ]
    people += [person(invited_at="2027-01-20T10:00:00+01:00") for _ in range(5)]  # not due for R3 before the term
    load_people(warehouse, "acme", people)
    research = "SELECT count(*), avg(nps), avg(csat) FROM responses WHERE assignment_id = 'a1'"
    before = rows(warehouse, research)[0]
    night(warehouse, cfg, D(2027, 2, 28))
    after = rows(warehouse, research)[0]
    assert after[0] == before[0] == 40
    assert float(after[1]) == pytest.approx(statistics.mean(n % 11 for n in range(40)))
    assert float(after[1]) == pytest.approx(float(before[1])) and float(after[2]) == pytest.approx(float(before[2]))
    # Non-respondents are anonymised too (age band on the invitation day), so invitation counts survive.
    assert scalar(warehouse, "SELECT count(*) FROM respondents WHERE anonymised_on IS NOT NULL") == 45


def test_age_bands_and_regions_written_in_sql_match_the_anonymisers(warehouse, clients_dir):
    from include.sample_data import fake_respondents

    cfg = sync_client(warehouse, clients_dir, retention_months=1, assignments=assignments("2027-01-31"))
    people = fake_respondents(150, assignment_ids=["a1"], seed=7, as_of=D(2027, 1, 31), response_rate=0.6)
    # Birthdays on the very day of the response and the day after, and a leap-day birthday.
    people[0].update(responded_at="2027-01-15T12:00:00+01:00", birth_date="2002-01-15")
    people[1].update(responded_at="2027-01-15T12:00:00+01:00", birth_date="2002-01-16")
    people[2].update(responded_at="2027-02-28T12:00:00+01:00", birth_date="2008-02-29")
    people[3].update(responded_at="2027-01-15T23:59:00+00:00", birth_date="1952-01-16")  # 16 January in Amsterdam
    ids = load_people(warehouse, "acme", people)
    retention.anonymise_due(warehouse, cfg, as_of=D(2027, 2, 28), run_id="t", scrubber=known_values_scrubber())
    got = {r[0]: (r[1], r[2]) for r in rows(warehouse, "SELECT id, age_band, region FROM respondents")}
    for row in people:
        moment = dt.datetime.fromisoformat(row["responded_at"] or row["invited_at"])
        moment = moment if moment.tzinfo else moment.replace(tzinfo=dates.dt.timezone.utc)
        on = moment.astimezone(retention.AMSTERDAM).date() if row["responded_at"] else None
        if on is None:
            invited = dt.datetime.fromisoformat(row["invited_at"])
            on = (
                (invited if invited.tzinfo else invited.replace(tzinfo=retention.AMSTERDAM))
                .astimezone(retention.AMSTERDAM)
                .date()
            )
        expected = (dates.age_band(D.fromisoformat(row["birth_date"]), on), postcodes.region(row["postcode"]))
        assert got[ids[row["respondent_ref"]]] == expected
    assert got[ids[people[0]["respondent_ref"]]][0] == "25-34" and got[ids[people[1]["respondent_ref"]]][0] == "18-24"
    assert got[ids[people[2]["respondent_ref"]]][0] == "18-24"  # a 29 February birthday counts on 1 March
    assert got[ids[people[3]["respondent_ref"]]][0] == "75+"


def test_open_answers_are_scrubbed_with_the_persons_own_values(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir, retention_months=1, k_anonymity=2, assignments=assignments("2027-01-31"))
    someone = person(
        invited_at="2027-01-10T09:00:00+01:00",
        responded_at="2027-01-11T10:00:00+01:00",
        first_name="Zwaantje",
        last_name="Plantinga",
        email="zwaantje@example.nl",
    )
    someone["answer_text"] = "Bel Zwaantje Plantinga gerust, of mail zwaantje@example.nl. Prima service!"
    silent = person(invited_at="2027-01-10T09:00:00+01:00", responded_at="2027-01-11T10:00:00+01:00", answer_text="")
    load_people(warehouse, "acme", [someone, silent])
    calls: list = []
    retention.anonymise_due(warehouse, cfg, as_of=D(2027, 2, 28), run_id="t", scrubber=known_values_scrubber(calls))
    assert len(calls) == 1, "only answers with text are scrubbed"
    assert {"Zwaantje", "Plantinga", "zwaantje@example.nl", someone["phone"]} <= set(calls[0][1])
    texts = [r[0] for r in rows(warehouse, "SELECT answer_text FROM responses ORDER BY respondent_id")]
    assert texts == ["Bel <X> <X> gerust, of mail <X>. Prima service!", None]


def test_a_client_that_drops_open_text_keeps_no_answer_text(warehouse, clients_dir):
    cfg = sync_client(
        warehouse, clients_dir, retention_months=1, open_text="drop", assignments=assignments("2027-01-31")
    )
    load_people(
        warehouse,
        "acme",
        [person(invited_at="2027-01-10T09:00:00+01:00", responded_at="2027-01-11T10:00:00+01:00") for _ in range(5)],
    )

    def refuse(items):
        raise AssertionError("a dropping client's answers are never scrubbed, only removed")

    retention.anonymise_due(warehouse, cfg, as_of=D(2027, 2, 28), run_id="t", scrubber=refuse)
    assert scalar(warehouse, "SELECT count(*) FROM responses WHERE answer_text IS NOT NULL") == 0
    assert scalar(warehouse, "SELECT count(*) FROM responses WHERE nps = 8") == 5


def test_recordings_are_deleted_at_term_files_first_rows_after(warehouse, clients_dir, tmp_path):
    cfg = sync_client(warehouse, clients_dir, retention_months=1, assignments=assignments("2027-01-31"))
    ids = load_people(
        warehouse,
        "acme",
        [person(invited_at="2027-01-10T09:00:00+01:00", responded_at="2027-01-11T10:00:00+01:00") for _ in range(5)],
    )
    files = [add_recording(warehouse, tmp_path, "acme", "a1", rid, seed=n) for n, rid in enumerate(ids.values())]
    summary = night(warehouse, cfg, D(2027, 2, 28))
    assert not any(f.exists() for f in files)
    assert scalar(warehouse, "SELECT count(*) FROM recordings") == 0
    assert summary["recordings_deleted"] == 5 and summary["files"]["recording"] == 5
    assert summary["rules"]["R2"]["files"] == {"recording": 5}


def test_many_batches_anonymise_everyone_once_with_one_audit_event_per_batch(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir, retention_months=1, assignments=assignments("2027-01-31"))
    load_people(
        warehouse,
        "acme",
        [person(invited_at="2027-01-10T09:00:00+01:00", responded_at="2027-01-11T10:00:00+01:00") for _ in range(23)],
    )
    summary = night(warehouse, cfg, D(2027, 2, 28), batch_size=5)
    assert summary["anonymised_respondents"] == 23
    assert summary["actions"]["respondents_anonymised"] == 5
    assert summary["rules"]["R2"]["rows"] == {"respondents": 23, "responses": 23}


# --- R3: non-respondents ---------------------------------------------------------------------


def test_non_respondent_invited_exactly_two_months_ago_is_deleted_tonight_one_day_short_is_kept(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir, assignments=assignments(None))
    due, short = person(invited_at="2027-01-01T18:00:00+01:00"), person(invited_at="2027-01-02T08:00:00+01:00")
    load_people(warehouse, "acme", [due, short])
    night(warehouse, cfg, D(2027, 2, 28))
    assert scalar(warehouse, "SELECT count(*) FROM respondents") == 2
    summary = night(warehouse, cfg, D(2027, 3, 1))
    assert [r[0] for r in rows(warehouse, "SELECT respondent_ref FROM respondents")] == [short["respondent_ref"]]
    assert summary["deleted_non_respondents"] == 1
    night(warehouse, cfg, D(2027, 3, 2))
    assert scalar(warehouse, "SELECT count(*) FROM respondents") == 0


def test_late_responder_who_answered_before_the_due_night_is_kept(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir, assignments=assignments(None))
    late = person(invited_at="2027-01-01T18:00:00+01:00", responded_at="2027-02-28T23:59:00+01:00")
    load_people(warehouse, "acme", [late])
    for day in (D(2027, 3, 1), D(2027, 3, 2), D(2027, 6, 1)):
        night(warehouse, cfg, day)
    assert [r[0] for r in rows(warehouse, "SELECT respondent_ref FROM respondents")] == [late["respondent_ref"]]
    assert scalar(warehouse, "SELECT nps FROM responses") == 8


def test_a_client_with_a_one_month_non_respondent_term_deletes_after_one_month(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir, non_respondent_months=1, assignments=assignments(None))
    load_people(warehouse, "acme", [person(invited_at="2027-01-31T12:00:00+01:00")])
    night(warehouse, cfg, D(2027, 2, 27))
    assert scalar(warehouse, "SELECT count(*) FROM respondents") == 1
    night(warehouse, cfg, D(2027, 2, 28))
    assert scalar(warehouse, "SELECT count(*) FROM respondents") == 0


def test_a_non_respondents_recording_goes_with_them(warehouse, clients_dir, tmp_path):
    cfg = sync_client(warehouse, clients_dir, assignments=assignments(None))
    ids = load_people(warehouse, "acme", [person(invited_at="2027-01-01T18:00:00+01:00")])
    stored = add_recording(warehouse, tmp_path, "acme", "a1", next(iter(ids.values())), seed=3)
    summary = night(warehouse, cfg, D(2027, 3, 1))
    assert not stored.exists() and scalar(warehouse, "SELECT count(*) FROM recordings") == 0
    assert summary["rules"]["R3"] == {"rows": {"recordings": 1, "respondents": 1}, "files": {"recording": 1}}


# --- R4: destruction ---------------------------------------------------------------------------


def test_destruction_of_one_assignment_deletes_it_outright_and_leaves_the_other(warehouse, clients_dir, tmp_path):
    cfg = sync_client(warehouse, clients_dir, assignments=assignments("2026-12-31", destruction="2027-01-10"))
    ids = load_people(
        warehouse,
        "acme",
        [
            person("a1", invited_at="2026-12-20T10:00:00+01:00", responded_at="2026-12-21T10:00:00+01:00")
            for _ in range(4)
        ]
        + [
            person("a2", invited_at="2026-12-20T10:00:00+01:00", responded_at="2026-12-21T10:00:00+01:00")
            for _ in range(3)
        ],
    )
    kept_ids = [i for r, i in ids.items()][4:]
    doomed = add_recording(warehouse, tmp_path, "acme", "a1", next(iter(ids.values())), seed=1)
    kept = add_recording(warehouse, tmp_path, "acme", "a2", kept_ids[0], seed=2)
    quarantined = quarantine_a_file(warehouse, tmp_path, "acme", on=D(2027, 1, 5), content="kapot;bestand")

    night(warehouse, cfg, D(2027, 1, 9))
    assert scalar(warehouse, "SELECT count(*) FROM respondents WHERE assignment_id = 'a1'") == 4

    summary = night(warehouse, cfg, D(2027, 1, 10))
    assert scalar(warehouse, "SELECT count(*) FROM respondents WHERE assignment_id = 'a1'") == 0
    assert scalar(warehouse, "SELECT count(*) FROM responses WHERE assignment_id = 'a1'") == 0
    assert (
        scalar(warehouse, "SELECT count(*) FROM respondents WHERE assignment_id = 'a2' AND first_name IS NOT NULL") == 3
    )
    assert not doomed.exists() and kept.exists()
    assert not quarantined.exists(), "quarantined rows cannot be told apart by assignment: they go too"
    assert rows(warehouse, "SELECT status FROM assignments ORDER BY assignment_id") == [("destroyed",), ("running",)]
    assert summary["destroyed_respondents"] == 4 and summary["assignments_destroyed"] == 1


def test_destruction_of_a_whole_client_leaves_nothing_of_it(warehouse, clients_dir, tmp_path):
    cfg = sync_client(
        warehouse, clients_dir, destruction_requested_on="2027-01-10", assignments=assignments("2026-06-30")
    )
    ids = load_people(
        warehouse,
        "acme",
        [
            person("a2", invited_at="2026-12-20T10:00:00+01:00", responded_at="2026-12-21T10:00:00+01:00")
            for _ in range(3)
        ],
    )
    add_recording(warehouse, tmp_path, "acme", "a2", next(iter(ids.values())), seed=5)
    stray = settings.recordings_dir("acme") / "a2" / "stray.wav"
    stray.write_bytes(b"RIFF")
    waiting = settings.landing_dir("acme") / "responses_later.csv"
    waiting.parent.mkdir(parents=True)
    waiting.write_text("assignment_id,respondent_ref\n", encoding="utf-8")
    quarantine_a_file(warehouse, tmp_path, "acme", on=D(2027, 1, 8), content="x")

    night(warehouse, cfg, D(2027, 1, 10))
    for table in ("respondents", "responses", "recordings"):
        assert scalar(warehouse, f"SELECT count(*) FROM {table} WHERE client_id = 'acme'") == 0, table
    assert not settings.recordings_dir("acme").exists()
    assert not settings.landing_dir("acme").exists() and not settings.quarantine_dir("acme").exists()
    assert str(scalar(warehouse, "SELECT destroyed_on FROM clients")) == "2027-01-10"
    assert {r[0] for r in rows(warehouse, "SELECT status FROM assignments")} == {"destroyed"}
    assert scalar(warehouse, "SELECT count(*) FROM quarantine_records WHERE purged_on IS NULL") == 0
    # Swept again every night, but only what is found is audited.
    assert night(warehouse, cfg, D(2027, 1, 11))["events"] == 0


def test_a_destruction_request_dated_in_the_future_does_nothing_yet(warehouse, clients_dir):
    cfg = sync_client(
        warehouse,
        clients_dir,
        destruction_requested_on="2027-02-01",
        assignments=assignments(None, second_destruction="2027-01-20"),
    )
    load_people(
        warehouse,
        "acme",
        [
            person(a, invited_at="2026-12-20T10:00:00+01:00", responded_at="2026-12-21T10:00:00+01:00")
            for a in ("a1", "a2")
        ],
    )
    summary = night(warehouse, cfg, D(2027, 1, 15))
    assert scalar(warehouse, "SELECT count(*) FROM respondents") == 2
    assert summary["destroyed_respondents"] == 0
    night(warehouse, cfg, D(2027, 1, 20))
    assert [r[0] for r in rows(warehouse, "SELECT assignment_id FROM respondents")] == ["a1"]


def test_destroying_an_anonymised_assignment_deletes_its_anonymised_rows_too(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir, retention_months=1, assignments=assignments("2027-01-31"))
    load_people(
        warehouse,
        "acme",
        [person(invited_at="2027-01-10T09:00:00+01:00", responded_at="2027-01-11T10:00:00+01:00") for _ in range(6)],
    )
    night(warehouse, cfg, D(2027, 2, 28))
    cfg = sync_client(
        warehouse, clients_dir, retention_months=1, assignments=assignments("2027-01-31", destruction="2027-03-10")
    )
    night(warehouse, cfg, D(2027, 3, 10))
    assert scalar(warehouse, "SELECT count(*) FROM respondents") == 0
    assert scalar(warehouse, "SELECT status FROM assignments WHERE assignment_id = 'a1'") == "destroyed"


# --- R10: files with terms of their own ------------------------------------------------------------


def test_a_quarantined_delivery_is_purged_on_its_own_term_day(warehouse, clients_dir, tmp_path):
    cfg = sync_client(warehouse, clients_dir)
    stored = quarantine_a_file(warehouse, tmp_path, "acme", on=D(2027, 1, 5), content="jan;jansen")
    reason = stored.with_name(stored.name + ".reason.json")
    assert reason.exists()
    night(warehouse, cfg, D(2027, 2, 3))
    assert stored.exists()
    summary = night(warehouse, cfg, D(2027, 2, 4))  # 30 days after quarantining
    assert not stored.exists() and not reason.exists()
    assert str(scalar(warehouse, "SELECT purged_on FROM quarantine_records")) == "2027-02-04"
    assert summary["files"] == {"quarantine": 2}


def test_stray_quarantine_files_and_exports_older_than_their_term_are_purged(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir)
    folder = settings.quarantine_dir("acme")
    folder.mkdir(parents=True)
    stray = folder / "0123456789abcdef-responses.rejected.csv"
    stray.write_text("_record,_reasons\n", encoding="utf-8")
    exports = settings.exports_dir()
    old, young = exports / "request-0001", exports / "request-0002"
    for folder_, written in ((old, dt.datetime(2027, 1, 1, 12)), (young, dt.datetime(2027, 1, 20, 12))):
        folder_.mkdir(parents=True)
        (folder_ / "export.json").write_text("{}", encoding="utf-8")
        stamp = written.replace(tzinfo=retention.AMSTERDAM).timestamp()
        for path in (folder_ / "export.json", folder_):
            os.utime(path, (stamp, stamp))
    os.utime(stray, (dt.datetime(2027, 1, 1, 12).timestamp(),) * 2)

    night(warehouse, cfg, D(2027, 1, 30))
    assert stray.exists() and old.exists()
    summary = night(warehouse, cfg, D(2027, 1, 31))
    assert not stray.exists() and not old.exists() and young.exists()
    assert summary["actions"]["exports_purged"] == 1 and summary["files"] == {"export": 1, "quarantine": 1}


def test_recordings_left_marked_by_a_crashed_run_are_finished_first(warehouse, clients_dir, tmp_path):
    cfg = sync_client(warehouse, clients_dir)
    ids = load_people(warehouse, "acme", [person("a2", responded_at="2026-06-02T10:00:00+02:00") for _ in range(2)])
    gone, half = (add_recording(warehouse, tmp_path, "acme", "a2", i, seed=n) for n, i in enumerate(ids.values()))
    with warehouse.begin() as conn:
        conn.execute(retention.sa.text("UPDATE recordings SET state = 'deleting', delete_rule = 'R6'"))
    gone.unlink()  # the crash came after the first file was deleted
    summary = night(warehouse, cfg, D(2027, 1, 5))
    assert not half.exists() and scalar(warehouse, "SELECT count(*) FROM recordings") == 0
    event = rows(warehouse, "SELECT rule, counts FROM audit_events WHERE action = 'recordings_deleted'")
    assert [(rule, json.loads(counts)["files_already_absent"]) for rule, counts in event] == [("R6", 1)]
    assert summary["rules"]["R6"]["files"] == {"recording": 1}


def test_a_night_with_nothing_due_changes_nothing_and_records_nothing(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir, assignments=assignments(None))
    load_people(
        warehouse, "acme", [person(invited_at="2027-01-01T18:00:00+01:00", responded_at="2027-01-02T10:00:00+01:00")]
    )
    before = scalar(warehouse, "SELECT count(*) FROM audit_events")
    summary = night(warehouse, cfg, D(2027, 1, 5))
    assert summary["events"] == 0 and scalar(warehouse, "SELECT count(*) FROM audit_events") == before


# --- catch-up ------------------------------------------------------------------------------------


def test_nights_caught_up_one_after_another_then_rerun_out_of_order_change_nothing_more(
    warehouse, clients_dir, tmp_path
):
    two = [
        {"id": "a1", "title": "Winter", "completed_on": "2027-01-31", "destruction_requested_on": None},
        {"id": "a2", "title": "Voorjaar", "completed_on": "2027-02-15", "destruction_requested_on": "2027-03-20"},
    ]
    cfg = sync_client(warehouse, clients_dir, retention_months=1, k_anonymity=2, assignments=two)
    answered = dict(responded_at="2027-01-11T10:00:00+01:00")
    ids = load_people(
        warehouse,
        "acme",
        [person("a1", invited_at="2027-01-10T09:00:00+01:00", **answered) for _ in range(4)]
        + [person("a1", invited_at=f"{d}T09:00:00+01:00") for d in ("2026-12-20", "2026-12-31", "2027-01-05")]
        + [person("a2", invited_at="2027-01-10T09:00:00+01:00", **answered) for _ in range(3)],
    )
    add_recording(warehouse, tmp_path, "acme", "a1", next(iter(ids.values())), seed=1)
    quarantine_a_file(warehouse, tmp_path, "acme", on=D(2027, 2, 1), content="x;y")
    from tests.test_retention_world import snapshot

    for day in (D(2027, 2, 15) + dt.timedelta(days=n) for n in range(38)):  # the scheduler catching up
        night(warehouse, cfg, day)
    caught_up = snapshot(warehouse)
    assert {r["assignment_id"]: r["status"] for r in caught_up["assignments"]} == {
        "a1": "anonymised", "a2": "destroyed"
    }  # fmt: skip
    # a1's answered people, and the one invited on 5 January: anonymised at term before R3 reached them.
    assert len(caught_up["respondents"]) == 4 + 1
    for day in (D(2027, 3, 1), D(2027, 2, 28), D(2027, 2, 20), D(2027, 3, 20)):  # old nights cleared and run again
        night(warehouse, cfg, day)
    assert snapshot(warehouse) == caught_up
