"""Warehouse schema: migrations on both databases, and the data map (R8) covering every column."""

from __future__ import annotations

import sqlalchemy as sa

from include import data_map, warehouse as wh


def test_every_warehouse_column_is_classified_by_the_data_map(warehouse):
    missing_in_map, missing_in_db = data_map.unclassified(warehouse)
    assert missing_in_map == [], f"add these columns to include/data_map.yaml: {missing_in_map}"
    assert missing_in_db == [], f"the data map names columns that do not exist: {missing_in_db}"


def test_a_new_unclassified_column_is_caught(warehouse):
    with warehouse.begin() as conn:
        conn.execute(sa.text("ALTER TABLE respondents ADD COLUMN favourite_colour VARCHAR(20)"))
    missing_in_map, _ = data_map.unclassified(warehouse)
    assert missing_in_map == ["respondents.favourite_colour"]


def test_data_map_classifies_every_delivery_column_as_personal_where_it_is():
    mapping = data_map.load()
    personal = {c.column for c in mapping.personal_columns("respondents")} | {
        c.column for c in mapping.personal_columns("responses")
    }
    for column in ("first_name", "last_name", "email", "phone", "street", "house_number", "postcode", "city",
                   "birth_date", "gender", "marital_status", "customer_number", "transaction_id",
                   "transaction_date", "answer_text", "ip_address", "user_agent", "complaint_history",
                   "respondent_ref"):
        assert column in personal, column
    assert {"nps", "csat"}.isdisjoint(personal)
    kinds = {f.kind for f in mapping.files}
    assert {"recording", "quarantine", "export", "landing_responses", "landing_recordings"} <= kinds


def test_migrations_run_down_and_up_again(warehouse):
    wh.migrate(warehouse, "base", down=True)
    assert set(sa.inspect(warehouse).get_table_names()) <= {"alembic_version"}
    wh.migrate(warehouse, "head")
    assert "respondents" in sa.inspect(warehouse).get_table_names()


def test_migrating_twice_changes_nothing(warehouse):
    before = sorted(sa.inspect(warehouse).get_table_names())
    wh.migrate(warehouse)
    assert sorted(sa.inspect(warehouse).get_table_names()) == before


def test_sqlite_warehouse_overwrites_deleted_data(warehouse):
    if warehouse.dialect.name != "sqlite":
        return
    with warehouse.connect() as conn:
        assert conn.execute(sa.text("PRAGMA secure_delete")).scalar() == 1


def test_audit_trail_refuses_updates_and_deletes(warehouse):
    from include import audit

    audit.append(warehouse, rule="R12", action="test_event", counts={"rows": 1})
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        try:
            with warehouse.begin() as conn:
                conn.execute(sa.text(statement))
        except sa.exc.DBAPIError as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError(f"audit trail accepted: {statement}")
