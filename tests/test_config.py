"""Client configs (R1, design §4): every error names the file, the field and the fix."""

from __future__ import annotations

import datetime as dt

import pytest

from include import config
from tests.factories import write_client


def test_project_clients_are_all_valid_and_include_kcm_own_research():
    clients, errors = config.load_clients()
    assert errors == []
    ids = [c.client_id for c in clients]
    assert ids == sorted(ids)
    assert "kcm" in ids  # R5: KCM's own research is a client too
    assert len(ids) >= 3


def test_valid_config_is_parsed_into_typed_objects(clients_dir):
    write_client(clients_dir, "acme", retention_months=12)
    (client,), errors = config.load_clients(clients_dir)
    assert errors == []
    assert client.retention_months == 12
    assert client.non_respondent_months == 2
    assert client.assignment("a1").completed_on == dt.date(2026, 6, 30)
    assert client.assignment("a2").completed_on is None
    assert client.k_anonymity == 5


@pytest.mark.parametrize(
    ("fields", "field", "fix"),
    [
        ({"country": "US"}, "country", "EU member state"),
        ({"country": "GB"}, "country", "EU member state"),
        ({"country": "CH"}, "country", "EU member state"),
        ({"country": "EL"}, "country", "GR"),
        ({"retention_months": 0}, "retention_months", "1 to 12"),
        ({"retention_months": 13}, "retention_months", "1 to 12"),
        ({"non_respondent_months": 3}, "non_respondent_months", "1 or 2"),
        ({"ingest_schedule": "every day"}, "ingest_schedule", "cron"),
        ({"ingest_schedule": "61 6 * * *"}, "ingest_schedule", "cron"),
        ({"client_id": "Acme-Energie"}, "client_id", "lower-case"),
        ({"destruction_requested_on": "2026-02-30"}, "destruction_requested_on", "YYYY-MM-DD"),
        ({"retention_months": "six"}, "retention_months", "1 to 12"),
        ({"colour": "blue"}, "colour", "unknown field"),
        (
            {"assignments": [{"id": "a1", "title": "x", "completed_on": None}, {"id": "a1", "title": "y", "completed_on": None}]},
            "(file)",
            "appears twice",
        ),
        ({"assignments": [{"id": "a1", "title": "x", "completed_on": "31-12-2026"}]}, "assignments.0.completed_on", "YYYY-MM-DD"),
        ({"assignments": [{"id": "../a1", "title": "x", "completed_on": None}]}, "assignments.0.id", "unique 'id'"),
    ],
)
def test_invalid_config_is_reported_with_file_field_and_fix(clients_dir, fields, field, fix):
    fields = dict(fields)
    path = write_client(clients_dir, fields.pop("client_id", "acme"), **fields)
    clients, errors = config.load_clients(clients_dir)
    assert clients == []
    (error,) = errors
    assert str(path) in error.message
    assert f"'{field}'" in error.message
    assert fix in error.message
    assert "fix:" in error.message


def test_missing_required_field_names_it(clients_dir):
    path = write_client(clients_dir, "acme")
    path.write_text(path.read_text().replace("country: NL\n", ""))
    _, (error,) = config.load_clients(clients_dir)
    assert "'country'" in error.message and "add it" in error.message


def test_client_id_must_match_file_name(clients_dir):
    path = write_client(clients_dir, "acme")
    path.rename(clients_dir / "other.yaml")
    _, (error,) = config.load_clients(clients_dir)
    assert "other.yaml" in error.message and "rename the file" in error.message


def test_yaml_syntax_error_names_the_file(clients_dir):
    (clients_dir / "broken.yaml").write_text("client_id: [unclosed\n")
    _, (error,) = config.load_clients(clients_dir)
    assert "broken.yaml" in error.message and "YAML" in error.message


def test_one_bad_config_never_hides_the_others(clients_dir):
    write_client(clients_dir, "acme")
    write_client(clients_dir, "bakker")
    write_client(clients_dir, "zwitsal", country="CH")
    clients, errors = config.load_clients(clients_dir)
    assert [c.client_id for c in clients] == ["acme", "bakker"]
    assert [e.path.name for e in errors] == ["zwitsal.yaml"]


def test_all_27_member_states_are_accepted_and_country_is_normalised(clients_dir):
    assert len(config.EU_MEMBER_STATES) == 27
    write_client(clients_dir, "acme", country="be")
    (client,), _ = config.load_clients(clients_dir)
    assert client.country == "BE"
