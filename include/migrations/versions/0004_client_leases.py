"""One client, one run at a time (design §6): the lease a client's ingest and nightly runs take turns on.

- `client_leases`: at most one row per client, naming the DAG run that holds the lease
  (`dag_id`, `run_id`), since when, when it last proved alive (`heartbeat_at`) and when
  it lapses (`expires_at`). No row: the lease is free. Times come from the warehouse's
  clock, never a worker's, so workers with drifting clocks agree on what has expired.
  No foreign key to `clients`: a new client's first run takes its lease before its
  config is synced.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "client_leases",
        sa.Column("client_id", sa.String(40), primary_key=True),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("acquired_at", Stamp, nullable=False),
        sa.Column("heartbeat_at", Stamp, nullable=False),
        sa.Column("expires_at", Stamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("client_leases")
