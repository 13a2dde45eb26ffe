"""Data-subject requests (R6) and the suppression list (R7).

- `subject_requests`: one row per request, with its due date (receipt + 1 calendar
  month) and outcome counts. The person is recorded only as a keyed hash
  (`subject_hmac`) and the names of the identifier kinds given, never the values.
- `erased_subjects`: HMACs of the normalised identifiers of every erased or
  objecting person, per client scope ('*' = all clients), so the nightly proof (R11)
  can check they are gone without the project keeping the identifiers.
- `suppression_list`: HMACs of objecting people's identifiers (R7); later
  deliveries drop matching rows before they are stored.
- `deliveries.rows_suppressed`: rows of a delivery dropped by the suppression list,
  so rows_total = rows_loaded + rows_quarantined + rows_suppressed.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "subject_requests",
        sa.Column("request_id", sa.String(40), primary_key=True),
        sa.Column("request_type", sa.String(20), nullable=False),
        sa.Column("client_scope", sa.String(40), nullable=False),
        sa.Column("received_on", sa.Date, nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("identifier_kinds", sa.String(100), nullable=False),
        sa.Column("subject_hmac", sa.String(64), nullable=False),
        sa.Column("fields", sa.String(500)),
        sa.Column("run_id", sa.String(250), nullable=False, unique=True),
        sa.Column("recorded_at", Stamp, nullable=False),
        sa.Column("completed_at", Stamp),
        sa.Column("completed_on", sa.Date),
        sa.Column("outcome", sa.Text, nullable=False, server_default="{}"),
        sa.Column("export_path", sa.String(500)),
    )
    # R6 SLA check: only open requests, by due date.
    op.create_index(
        "ix_subject_requests_open_due",
        "subject_requests",
        ["due_on"],
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "erased_subjects",
        sa.Column("request_id", sa.String(40), sa.ForeignKey("subject_requests.request_id"), primary_key=True),
        sa.Column("identifier_kind", sa.String(20), primary_key=True),
        sa.Column("identifier_hmac", sa.String(64), primary_key=True),
        sa.Column("client_scope", sa.String(40), nullable=False),
        sa.Column("erased_at", Stamp, nullable=False),
    )
    op.create_index("ix_erased_subjects_hmac", "erased_subjects", ["identifier_hmac"])
    op.create_table(
        "suppression_list",
        sa.Column("client_scope", sa.String(40), primary_key=True),
        sa.Column("identifier_kind", sa.String(20), primary_key=True),
        sa.Column("identifier_hmac", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.String(40), nullable=False),
        sa.Column("added_on", sa.Date, nullable=False),
    )
    op.create_index("ix_suppression_list_hmac", "suppression_list", ["identifier_hmac"])
    op.add_column("deliveries", sa.Column("rows_suppressed", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("rows_suppressed")
    op.drop_index("ix_suppression_list_hmac", table_name="suppression_list")
    op.drop_table("suppression_list")
    op.drop_index("ix_erased_subjects_hmac", table_name="erased_subjects")
    op.drop_table("erased_subjects")
    op.drop_index("ix_subject_requests_open_due", table_name="subject_requests")
    op.drop_table("subject_requests")
