"""The append-only tables refuse DELETE and TRUNCATE as well as UPDATE: consent_event and
booking_change (they refused UPDATE only), audit_entry (TRUNCATE was not covered).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORDS = ("consent_event", "booking_change")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in (*RECORDS, "audit_entry"):
            op.execute(
                f"""
                CREATE FUNCTION {table}_no_removal() RETURNS trigger AS $$
                BEGIN
                  RAISE EXCEPTION '{table} is append-only: rows cannot be removed';
                END;
                $$ LANGUAGE plpgsql
                """
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_no_removal()"
            )
        for table in RECORDS:
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_no_removal()"
            )
    else:  # SQLite has no TRUNCATE (a DELETE of every row runs the row trigger)
        for table in RECORDS:
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: rows cannot be removed'); "
                "END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in RECORDS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table}")
        for table in (*RECORDS, "audit_entry"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_no_removal()")
    else:
        for table in RECORDS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
