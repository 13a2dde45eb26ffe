"""Nightly retention: the regions lookup (R9), k-anonymity bookkeeping, and indexes on what is due.

- `regions`: Dutch postcode areas and their provinces, filled from
  include.anonymisers.postcodes.REGION_TO_PROVINCE, so generalisation is set-based SQL.
- `clients.k_anonymity_verified`: the k the client's anonymised set was last verified for;
  NULL after any change, so a night with nothing anonymised reads nothing.
- Partial indexes that hold only what a night may have to do (R2, R3, R10), so its cost
  follows what is due, not what is stored; and the audit trail by client and night.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    from include.anonymisers.postcodes import PROVINCE_NAMES, REGION_TO_PROVINCE

    regions = op.create_table(
        "regions",
        sa.Column("region", sa.String(10), primary_key=True),
        sa.Column("province", sa.String(10), nullable=False),
        sa.Column("province_name", sa.String(40), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
    )
    op.bulk_insert(
        regions,
        [
            {"region": region, "province": province, "province_name": PROVINCE_NAMES[province], "country": "NL"}
            for region, province in sorted(REGION_TO_PROVINCE.items())
        ],
    )
    op.add_column("clients", sa.Column("k_anonymity_verified", sa.Integer))

    # R3: only people who never answered and are not anonymised; anonymised ones are no longer due.
    op.drop_index("ix_respondents_non_respondent_due", table_name="respondents")
    _partial_index(
        "ix_respondents_non_respondent_due",
        "respondents",
        ["client_id", "invited_on"],
        "responded_at IS NULL AND anonymised_on IS NULL",
    )
    # R2: the rows of an assignment still to anonymise, in id order for batches.
    _partial_index(
        "ix_respondents_anonymise_due", "respondents", ["client_id", "assignment_id", "id"], "anonymised_on IS NULL"
    )
    # R9: the k-anonymity GROUP BY reads this index only.
    _partial_index(
        "ix_respondents_k_classes",
        "respondents",
        ["client_id", "gender", "age_band", "region"],
        "anonymised_on IS NOT NULL",
    )
    # R10: quarantined items still on disk, by term.
    _partial_index("ix_quarantine_due", "quarantine_records", ["client_id", "purge_on"], "purged_on IS NULL")
    # R12: one client's night (include.retention.night_summary).
    op.create_index("ix_audit_events_night", "audit_events", ["client_id", "as_of"])


def _partial_index(name: str, table: str, columns: list[str], where: str) -> None:
    op.create_index(name, table, columns, postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def downgrade() -> None:
    op.drop_index("ix_audit_events_night", table_name="audit_events")
    op.drop_index("ix_quarantine_due", table_name="quarantine_records")
    op.drop_index("ix_respondents_k_classes", table_name="respondents")
    op.drop_index("ix_respondents_anonymise_due", table_name="respondents")
    op.drop_index("ix_respondents_non_respondent_due", table_name="respondents")
    _partial_index(
        "ix_respondents_non_respondent_due", "respondents", ["client_id", "invited_on"], "responded_at IS NULL"
    )
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("k_anonymity_verified")
    op.drop_table("regions")
