import sqlalchemy as sa


def test_warehouse_is_migrated_on_both_databases(warehouse):
    tables = set(sa.inspect(warehouse).get_table_names())
    assert {"clients", "assignments", "respondents", "responses", "recordings", "audit_events"} <= tables
