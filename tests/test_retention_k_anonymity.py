"""R9 k-anonymity: after anonymisation every client's anonymised respondents form classes of at least k
over the quasi-identifiers (gender, age band, region), generalising or suppressing only where needed."""

from __future__ import annotations

import datetime as dt

from include import data_map, retention
from include.sample_data import fake_respondents
from tests.test_retention_rules import assignments, night
from tests.test_retention_world import load_people, person, rows, scalar, sync_client

D = dt.date
TERM_NIGHT = D(2027, 2, 28)  # a1 completed 2027-01-31, one month's retention


def classes(eng, client_id: str = "acme") -> list[tuple]:
    """What an auditor runs: the class sizes over the data map's quasi-identifiers."""
    qi = ", ".join(data_map.load().quasi_identifiers("respondents"))
    return rows(
        eng,
        f"SELECT {qi}, count(*) FROM respondents WHERE client_id = :c AND anonymised_on IS NOT NULL GROUP BY {qi}",
        c=client_id,
    )


def population(n: int, *, seed: int, assignment_id: str = "a1", invited_at: str | None = None) -> list[dict]:
    """Faker people of one assignment who all answered (so R3 takes none), with rare combinations planted."""
    people = fake_respondents(n, assignment_ids=[assignment_id], seed=seed, as_of=D(2027, 1, 31), response_rate=1.0)
    for index, row in enumerate(people[:12]):
        # Rare: the only 'anders' in their area and age, the oldest, a postcode area nobody else has.
        row.update(gender="anders", birth_date=f"19{30 + index}-05-0{1 + index % 9}", postcode=f"{97 - index % 3}11 AB")
    for row in people[12:24]:
        row.update(gender="man", birth_date="1995-06-01", postcode="1011 AB")  # a common class: 12 alike
    if invited_at:
        for row in people:
            row["invited_at"] = invited_at
            row["responded_at"] = row["responded_at"] and invited_at
    return people


def test_rare_combinations_are_generalised_until_every_class_has_at_least_k_members(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir, retention_months=1, assignments=assignments("2027-01-31"))
    load_people(warehouse, "acme", population(400, seed=11))
    research = "SELECT count(*), avg(nps) FROM responses"
    before = rows(warehouse, research)[0]

    summary = night(warehouse, cfg, TERM_NIGHT)

    sizes = [c[-1] for c in classes(warehouse)]
    assert sum(sizes) == 400 and min(sizes) >= cfg.k_anonymity
    assert retention.k_anonymity_violations(warehouse, "acme", cfg.k_anonymity)["classes"] == 0
    assert rows(warehouse, research)[0][0] == before[0] and float(rows(warehouse, research)[0][1]) == float(before[1])
    assert summary["actions"]["k_anonymity_enforced"] == 1
    # The common class stayed as precise as it was: nothing is generalised that need not be.
    assert ("man", "25-34", "NL-10", 12) in {tuple(c) for c in classes(warehouse)}
    # Everyone rare was generalised (a province 'NL-GR', the country 'NL') or suppressed ('*').
    assert scalar(warehouse, "SELECT count(*) FROM respondents WHERE gender = 'anders' AND region LIKE 'NL-9%'") == 0


def test_a_later_assignment_keeps_the_whole_client_k_anonymous_and_leaves_settled_classes_alone(warehouse, clients_dir):
    two = [
        {"id": "a1", "title": "Voorjaar", "completed_on": "2027-01-31", "destruction_requested_on": None},
        {"id": "a2", "title": "Zomer", "completed_on": "2027-02-28", "destruction_requested_on": None},
    ]
    cfg = sync_client(warehouse, clients_dir, retention_months=1, k_anonymity=3, assignments=two)
    load_people(warehouse, "acme", population(150, seed=21))
    load_people(warehouse, "acme", population(60, seed=22, assignment_id="a2", invited_at="2027-02-10T10:00:00+01:00"))
    night(warehouse, cfg, TERM_NIGHT)
    first = {tuple(c[:3]): c[3] for c in classes(warehouse)}
    settled = {key: size for key, size in first.items() if size >= 3}

    night(warehouse, cfg, D(2027, 3, 28))
    after = {tuple(c[:3]): c[3] for c in classes(warehouse)}
    assert min(after.values()) >= 3 and sum(after.values()) == 210
    for key, size in settled.items():
        assert after.get(key, 0) >= size, "a class of k or more never loses members"


def test_a_client_with_fewer_anonymised_people_than_k_has_them_all_suppressed(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir, retention_months=1, k_anonymity=5, assignments=assignments("2027-01-31"))
    load_people(
        warehouse,
        "acme",
        [person(invited_at="2027-01-10T09:00:00+01:00", responded_at="2027-01-11T10:00:00+01:00") for _ in range(3)],
    )
    night(warehouse, cfg, TERM_NIGHT)
    result = rows(warehouse, "SELECT DISTINCT gender, age_band, region FROM respondents")
    assert result == [("*", "*", "*")]
    assert scalar(warehouse, "SELECT count(*) FROM responses WHERE nps = 8") == 3


def test_the_suppressed_class_is_topped_up_to_k_from_a_class_that_can_spare_members(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir, retention_months=1, k_anonymity=5, assignments=assignments("2027-01-31"))
    alike = dict(invited_at="2027-01-10T09:00:00+01:00", responded_at="2027-01-11T10:00:00+01:00")
    people = [person(gender="vrouw", birth_date="1990-03-03", postcode="3511 AA", **alike) for _ in range(12)]
    people += [person(gender="anders", birth_date="1930-03-03", postcode="9911 AA", **alike)]  # alone anywhere
    load_people(warehouse, "acme", people)
    night(warehouse, cfg, TERM_NIGHT)
    sizes = {tuple(c[:3]): c[3] for c in classes(warehouse)}
    assert sizes == {("*", "*", "*"): 5, ("vrouw", "35-44", "NL-35"): 8}


def test_a_night_without_changes_to_the_anonymised_set_does_not_read_it(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir, retention_months=1, assignments=assignments("2027-01-31"))
    load_people(warehouse, "acme", population(60, seed=5))
    night(warehouse, cfg, TERM_NIGHT)
    assert retention.enforce_k_anonymity(warehouse, cfg, as_of=D(2027, 3, 1), run_id="t")["checked"] == 0
    stricter = sync_client(
        warehouse, clients_dir, retention_months=1, k_anonymity=8, assignments=assignments("2027-01-31")
    )
    assert retention.enforce_k_anonymity(warehouse, stricter, as_of=D(2027, 3, 2), run_id="t")["checked"] == 1
    assert min(c[-1] for c in classes(warehouse)) >= 8
