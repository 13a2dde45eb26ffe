"""R3 at the door: a delivery never brings in a person who never answered and was invited on or before the night's
non-respondent cutoff. Such a row goes to quarantine as `non_respondent_past_term`, by the very cutoff the nightly
delete and the proof use, and the counts of the delivery still add up."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from include import config, retention, settings, sync, terms
from include.ingest import contract, responses
from include.sample_data import fake_respondents, write_responses_csv
from tests.factories import write_client
from tests.test_ingest_responses import rows, stored

CLIENT = "testclient"
AS_OF = dt.date(2026, 11, 20)  # two months back: 20 September 2026


def _client(clients_dir, warehouse, **fields):
    write_client(clients_dir, CLIENT, **fields)
    client = config.get_client(CLIENT)
    sync.apply_config(warehouse, client)
    return client


@pytest.fixture
def client(clients_dir, warehouse):
    return _client(clients_dir, warehouse)


@pytest.fixture
def landing(kcm_home):
    folder = settings.landing_dir(CLIENT)
    folder.mkdir(parents=True)
    return folder


def invitee(ref: str, invited_at: str, *, responded_at: str = "", seed: int = 1) -> dict[str, str]:
    """A realistic person of running assignment a2, invited at `invited_at`; no answer unless `responded_at`."""
    [person] = fake_respondents(1, assignment_ids=["a2"], seed=seed, as_of=AS_OF)
    if not responded_at:
        person.update(dict.fromkeys(contract.RESPONSE_VALUES, ""))
    return person | {"respondent_ref": ref, "invited_at": invited_at, "responded_at": responded_at}


def ingest(warehouse, client, landing, name: str, people: list[dict], *, as_of: dt.date = AS_OF) -> dict:
    write_responses_csv(landing / name, people)
    return responses.ingest_file(warehouse, client, name, run_id=f"manual__{as_of}", as_of=as_of)


def test_a_non_respondent_invited_on_the_cutoff_day_is_refused_and_one_invited_a_day_later_loads(
    warehouse, client, landing
):
    assert terms.non_respondent_cutoff(AS_OF, 2) == dt.date(2026, 9, 20)
    delivered = [
        invitee("ON-CUTOFF", "2026-09-20T18:00:00+02:00"),
        invitee("LATE-EVENING", "2026-09-20T23:59:00"),  # no offset: Amsterdam time, still the cutoff day
        invitee("DAY-AFTER", "2026-09-21T08:00:00+02:00"),
        invitee("AFTER-IN-AMSTERDAM", "2026-09-20T22:30:00+00:00"),  # 00:30 on 21 September in Amsterdam
        invitee("LONG-AGO", "2026-07-01T10:00:00+02:00"),
        # Answered: R3 is not about them (R2 keeps them until the assignment's term).
        invitee("ANSWERED", "2026-07-01T10:00:00+02:00", responded_at="2026-07-02T10:00:00+02:00", seed=2),
    ]

    result = ingest(warehouse, client, landing, "responses_november.csv", delivered)

    assert result["rows_total"] == 6 and result["rows_loaded"] == 3 and result["rows_quarantined"] == 3
    assert result["rows_total"] == result["rows_loaded"] + result["rows_quarantined"] + result["rows_suppressed"]
    assert result["reasons"] == {"non_respondent_past_term": 3} and result["status"] == "partially_loaded"
    held = {r["respondent_ref"] for r in rows(warehouse, "SELECT respondent_ref FROM respondents")}
    assert held == {"DAY-AFTER", "AFTER-IN-AMSTERDAM", "ANSWERED"}
    # The quarantine names the record and the reason, never a value; the delivery record says the same.
    reasons = [p for p in settings.quarantine_dir(CLIENT).glob("*.reason.json")]
    [document] = [json.loads(p.read_text(encoding="utf-8")) for p in reasons]
    assert document["reasons"] == {"non_respondent_past_term": 3}
    assert [r["problems"] for r in document["first_rows"]] == [["non_respondent_past_term"]] * 3
    [record] = rows(warehouse, "SELECT rows_total, rows_loaded, rows_quarantined, reasons FROM deliveries")
    assert (record["rows_total"], record["rows_loaded"], record["rows_quarantined"]) == (6, 3, 3)
    assert json.loads(record["reasons"]) == {"non_respondent_past_term": 3}


def test_a_client_with_a_one_month_term_refuses_from_one_month_back(clients_dir, warehouse, landing):
    client = _client(clients_dir, warehouse, non_respondent_months=1)
    delivered = [invitee("ON-CUTOFF", "2026-10-20T12:00:00+02:00"), invitee("DAY-AFTER", "2026-10-21T12:00:00+02:00")]

    result = ingest(warehouse, client, landing, "responses_kort.csv", delivered)

    assert (result["rows_loaded"], result["reasons"]) == (1, {"non_respondent_past_term": 1})
    assert [r["respondent_ref"] for r in rows(warehouse, "SELECT respondent_ref FROM respondents")] == ["DAY-AFTER"]


@pytest.mark.parametrize("as_of, months", [(AS_OF, 2), (dt.date(2027, 2, 28), 1), (dt.date(2027, 3, 31), 1)])
def test_what_ingest_loads_the_nights_r3_delete_of_the_same_day_leaves_alone(
    clients_dir, warehouse, landing, as_of, months
):
    """One cutoff (include.terms): after ingest the night of the same as-of day has no non-respondent to delete,
    also at month ends, where 29, 30 and 31 January all reach 28 February."""
    client = _client(clients_dir, warehouse, non_respondent_months=months)
    days = [as_of - dt.timedelta(days=back) for back in range(20, 75)]
    delivered = [invitee(f"D{day:%Y%m%d}", f"{day}T12:00:00") for day in days]

    result = ingest(warehouse, client, landing, "responses_rond_de_grens.csv", delivered, as_of=as_of)

    cutoff = terms.non_respondent_cutoff(as_of, months)
    due = sum(1 for day in days if day <= cutoff)
    assert 0 < due < len(days)
    assert (result["rows_loaded"], result["rows_quarantined"]) == (len(days) - due, due)
    night = retention.delete_non_respondents(warehouse, client, as_of=as_of, run_id=f"scheduled__{as_of}")
    assert night["non_respondents"] == 0


def test_a_redelivered_non_respondent_past_term_is_not_reloaded_and_goes_tonight(warehouse, client, landing):
    first_day = dt.date(2026, 10, 1)
    person = invitee("R-STORED", "2026-09-01T10:00:00+02:00")
    assert ingest(warehouse, client, landing, "responses_oktober.csv", [person], as_of=first_day)["rows_loaded"] == 1
    before = stored(warehouse, "R-STORED")

    corrected = person | {"email": "nieuw.adres@voorbeeld.nl", "city": "Tilburg"}
    result = ingest(warehouse, client, landing, "responses_november.csv", [corrected])

    assert (result["rows_loaded"], result["reasons"]) == (0, {"non_respondent_past_term": 1})
    after = stored(warehouse, "R-STORED")
    unchanged = ("email", "city", "delivery_id")
    assert [after[name] for name in unchanged] == [before[name] for name in unchanged]
    night = retention.delete_non_respondents(warehouse, client, as_of=AS_OF, run_id=f"scheduled__{AS_OF}")
    assert night["non_respondents"] == 1
    assert rows(warehouse, "SELECT count(*) AS n FROM respondents")[0]["n"] == 0


def test_a_redelivery_withdrawing_an_answer_past_the_non_respondent_term_is_refused(warehouse, client, landing):
    answered = invitee("R-ANSWERED", "2026-09-01T10:00:00+02:00", responded_at="2026-09-02T10:00:00+02:00", seed=3)
    first = ingest(warehouse, client, landing, "responses_oktober.csv", [answered], as_of=dt.date(2026, 10, 1))
    assert first["rows_loaded"] == 1
    withdrawn = answered | dict.fromkeys(("responded_at", *contract.RESPONSE_VALUES), "")

    result = ingest(warehouse, client, landing, "responses_november.csv", [withdrawn])

    # Loading it would turn the person into a non-respondent past term: nothing is loaded, the quarantine says why.
    assert (result["rows_loaded"], result["reasons"]) == (0, {"non_respondent_past_term": 1})
    assert stored(warehouse, "R-ANSWERED")["responded_at"] is not None


def test_a_refused_non_respondent_is_recorded_by_row_and_reason_but_no_value_of_theirs_is_kept(
    warehouse, client, landing
):
    """R3 and R10: quarantine must not keep for 30 more days what R3 says may no longer be held."""
    late = invitee("PAST-TERM-REF-77", "2026-08-01T10:00:00+02:00", seed=77)
    late |= {"first_name": "Quarxplanted", "email": "quarx.planted@voorbeeld.nl"}
    bad_but_in_term = invitee("IN-TERM-REF-78", "2026-11-01T10:00:00+01:00", seed=78) | {"email": "quarx@@x"}

    counts = ingest(warehouse, client, landing, "responses_mixed.csv", [late, bad_but_in_term])

    assert (counts["rows_loaded"], counts["rows_quarantined"]) == (0, 2)
    [rejected] = settings.quarantine_dir(CLIENT).glob("*.rejected.csv")
    text = rejected.read_text(encoding="utf-8")
    assert "non_respondent_past_term" in text, "the client can still find the row by number and reason"
    for value in ("PAST-TERM-REF-77", "Quarxplanted", "quarx.planted@voorbeeld.nl"):
        assert value not in text
    assert "IN-TERM-REF-78" in text and "quarx@@x" in text, "a row that may be held keeps its cells for repair"
