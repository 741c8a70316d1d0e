"""Hosts remember the last prefix sent to them (prefix updates answer nochg on a repeat).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("published_prefix_ipv4", sa.String(45), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("published_prefix_ipv6", sa.String(45), nullable=False,
                                   server_default=""))
    with op.batch_alter_table("hosts") as batch:
        batch.alter_column("published_prefix_ipv4", server_default=None)
        batch.alter_column("published_prefix_ipv6", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("published_prefix_ipv6")
        batch.drop_column("published_prefix_ipv4")
