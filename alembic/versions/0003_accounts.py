"""Accounts: when a registration was activated, and failed-login counters.

Existing users were made by operators (or imported), so they count as activated at the time
they joined; only registrations made from now on start without a date.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


# Not batch_alter_table: on SQLite that rebuilds the table and silently drops the expression
# indexes on lower(username) / lower(email), which it cannot reflect. Plain ALTER TABLE ADD/DROP
# COLUMN works on both engines (SQLite >= 3.35).
def upgrade() -> None:
    op.add_column("users", sa.Column("activated", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE users SET activated = date_joined")
    op.create_table(
        "login_throttles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_throttles")),
        sa.UniqueConstraint("key", name=op.f("uq_login_throttles_key")),
    )


def downgrade() -> None:
    op.drop_table("login_throttles")
    op.execute("ALTER TABLE users DROP COLUMN activated")
