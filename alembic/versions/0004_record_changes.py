"""Incremental zone refreshes: each record carries the zone serial it last changed at, and
removed RRsets are logged in ``record_deletions``, so the built-in nameserver can fetch only
what changed since the serial it holds (two indexed range scans) instead of the whole zone.

Existing rows get serial 0: any running nameserver already holds them. ``zones.generation``
tells a zone made again under the same name from the old one (SQLite may reuse the id).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN (as in 0003) rather than batch_alter_table: no table rebuild on SQLite.
def upgrade() -> None:
    op.add_column("records", sa.Column("serial", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_records_zone_serial", "records", ["zone_id", "serial"], unique=False)
    op.add_column("zones", sa.Column("pruned_serial", sa.BigInteger(), nullable=False,
                                     server_default="0"))
    op.add_column("zones", sa.Column("generation", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_table(
        "record_deletions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("rtype", sa.String(10), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"],
                                name=op.f("fk_record_deletions_zone_id_zones"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_deletions")),
    )
    op.create_index("ix_record_deletions_zone_serial", "record_deletions", ["zone_id", "serial"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_record_deletions_zone_serial", table_name="record_deletions")
    op.drop_table("record_deletions")
    op.execute("ALTER TABLE zones DROP COLUMN generation")
    op.execute("ALTER TABLE zones DROP COLUMN pruned_serial")
    op.drop_index("ix_records_zone_serial", table_name="records")
    op.execute("ALTER TABLE records DROP COLUMN serial")
