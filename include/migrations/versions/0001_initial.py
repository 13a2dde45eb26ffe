"""Initial warehouse: clients, assignments, deliveries, respondents, responses,
recordings, quarantine records and the append-only audit trail.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

# BIGINT keys on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the autoincrementing rowid.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("retention_months", sa.Integer, nullable=False),
        sa.Column("non_respondent_months", sa.Integer, nullable=False),
        sa.Column("k_anonymity", sa.Integer, nullable=False),
        sa.Column("open_text", sa.String(10), nullable=False),
        sa.Column("destruction_requested_on", sa.Date),
        sa.Column("destroyed_on", sa.Date),
        sa.Column("synced_at", Stamp, nullable=False),
    )
    op.create_table(
        "assignments",
        sa.Column("client_id", sa.String(40), sa.ForeignKey("clients.client_id"), primary_key=True),
        sa.Column("assignment_id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("completed_on", sa.Date),
        sa.Column("destruction_requested_on", sa.Date),
        sa.Column("term_ends_on", sa.Date),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("anonymised_on", sa.Date),
        sa.Column("destroyed_on", sa.Date),
    )
    op.create_index("ix_assignments_term_ends_on", "assignments", ["term_ends_on"])
    op.create_table(
        "deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_kind", sa.String(20), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("received_at", Stamp, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("rows_total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_loaded", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_quarantined", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reasons", sa.Text, nullable=False, server_default="{}"),
        sa.Column("run_id", sa.String(250)),
        sa.UniqueConstraint("client_id", "file_kind", "sha256", name="uq_deliveries_content"),
    )
    op.create_table(
        "respondents",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("assignment_id", sa.String(64), nullable=False),
        sa.Column("respondent_ref", sa.String(100)),
        sa.Column("invited_at", Stamp, nullable=False),
        sa.Column("invited_on", sa.Date, nullable=False),
        sa.Column("responded_at", Stamp),
        sa.Column("first_name", sa.String(100)),
        sa.Column("last_name", sa.String(150)),
        sa.Column("email", sa.String(254)),
        sa.Column("phone", sa.String(20)),
        sa.Column("street", sa.String(200)),
        sa.Column("house_number", sa.String(20)),
        sa.Column("postcode", sa.String(10)),
        sa.Column("city", sa.String(100)),
        sa.Column("birth_date", sa.Date),
        sa.Column("gender", sa.String(20)),
        sa.Column("marital_status", sa.String(30)),
        sa.Column("customer_number", sa.String(64)),
        sa.Column("transaction_id", sa.String(64)),
        sa.Column("transaction_date", sa.Date),
        sa.Column("complaint_history", sa.Text),
        sa.Column("age_band", sa.String(10)),
        sa.Column("region", sa.String(40)),
        sa.Column("delivery_id", sa.BigInteger),
        sa.Column("loaded_at", Stamp, nullable=False),
        sa.Column("anonymised_on", sa.Date),
        sa.UniqueConstraint("client_id", "assignment_id", "respondent_ref", name="uq_respondents_ref"),
    )
    # R3 runs on this partial index: only people who never answered are in it.
    op.create_index(
        "ix_respondents_non_respondent_due",
        "respondents",
        ["client_id", "invited_on"],
        postgresql_where=sa.text("responded_at IS NULL"),
        sqlite_where=sa.text("responded_at IS NULL"),
    )
    op.create_table(
        "responses",
        sa.Column("respondent_id", BigId, sa.ForeignKey("respondents.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("assignment_id", sa.String(64), nullable=False),
        sa.Column("nps", sa.SmallInteger),
        sa.Column("csat", sa.SmallInteger),
        sa.Column("answer_text", sa.Text),
        sa.Column("ip_address", sa.String(45)),
        sa.Column("user_agent", sa.String(500)),
    )
    op.create_index("ix_responses_assignment", "responses", ["client_id", "assignment_id"])
    op.create_table(
        "recordings",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("assignment_id", sa.String(64), nullable=False),
        sa.Column("respondent_id", sa.BigInteger, nullable=False),
        sa.Column("file_name", sa.String(255)),
        sa.Column("stored_path", sa.String(500), nullable=False, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("recorded_at", Stamp),
        sa.Column("duration_seconds", sa.Float, nullable=False),
        sa.Column("sample_rate", sa.Integer, nullable=False),
        sa.Column("channels", sa.SmallInteger, nullable=False),
        sa.Column("sample_width", sa.SmallInteger, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("delivery_id", sa.BigInteger),
        sa.Column("state", sa.String(10), nullable=False, server_default="stored"),
        sa.Column("delete_rule", sa.String(10)),
    )
    op.create_index("ix_recordings_respondent", "recordings", ["respondent_id"])
    op.create_index("ix_recordings_assignment", "recordings", ["client_id", "assignment_id"])
    op.create_index("ix_recordings_state", "recordings", ["state"])
    op.create_table(
        "quarantine_records",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("delivery_id", sa.BigInteger),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("reason_code", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_on", sa.Date, nullable=False),
        sa.Column("purge_on", sa.Date, nullable=False),
        sa.Column("purged_on", sa.Date),
    )
    op.create_index("ix_quarantine_purge_on", "quarantine_records", ["purge_on"])
    op.create_table(
        "audit_events",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("recorded_at", Stamp, nullable=False),
        sa.Column("run_id", sa.String(250)),
        sa.Column("client_id", sa.String(40)),
        sa.Column("assignment_id", sa.String(64)),
        sa.Column("rule", sa.String(10), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("as_of", sa.Date),
        sa.Column("counts", sa.Text, nullable=False),
        # Unique prev_hash: two writers that raced for the same head cannot fork the chain.
        sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    _append_only("audit_events")


def _append_only(table: str) -> None:
    """R12: the trail refuses UPDATE and DELETE; the hash chain detects what bypasses this."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION kcm_refuse_change() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit trail is append-only (R12)'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION kcm_refuse_change()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'audit trail is append-only (R12)'); END"
            )


def downgrade() -> None:
    for table in (
        "audit_events", "quarantine_records", "recordings", "responses",
        "respondents", "deliveries", "assignments", "clients",
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS kcm_refuse_change()")
