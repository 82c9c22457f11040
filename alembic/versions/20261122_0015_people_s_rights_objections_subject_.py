"""People's rights: objections to one photo, subject requests, erasure.

Erasure needs the database to let go of two kinds of rows it otherwise keeps for good:
- audit_entry: an UPDATE is allowed only when it is a tombstone (personal fields and their salt
  set to NULL, erased_at set, every chained column unchanged), so an erased entry keeps its place
  and its hash;
- consent_event: rows may be changed or removed only while an erasure_permit row names their
  request, which an erasure writes and deletes inside its own transaction.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-22 22:09:35.033940
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


import registry.db

TOMBSTONE = """
    NEW.personal IS NULL AND NEW.personal_salt IS NULL AND NEW.erased_at IS NOT NULL
    AND OLD.erased_at IS NULL AND NEW.seq = OLD.seq AND NEW.hash = OLD.hash
    AND NEW.prev_hash = OLD.prev_hash AND NEW.at = OLD.at AND NEW.actor = OLD.actor
    AND NEW.action = OLD.action AND NEW.entity_type = OLD.entity_type
    AND NEW.entity_id = OLD.entity_id
    AND {text}NEW.personal_digest IS NOT DISTINCT FROM OLD.personal_digest
    AND {before_new} IS NOT DISTINCT FROM {before_old}
    AND {after_new} IS NOT DISTINCT FROM {after_old}
"""


def _tombstone(dialect: str) -> str:
    if dialect == "postgresql":
        return TOMBSTONE.format(
            text="",
            before_new="NEW.before::text",
            before_old="OLD.before::text",
            after_new="NEW.after::text",
            after_old="OLD.after::text",
        )
    # SQLite spells IS NOT DISTINCT FROM as IS
    return TOMBSTONE.replace("IS NOT DISTINCT FROM", "IS").format(
        text="",
        before_new="NEW.before",
        before_old="OLD.before",
        after_new="NEW.after",
        after_old="OLD.after",
    )


def _guards_up() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger AS $$
            BEGIN
              IF TG_OP = 'UPDATE' AND ({_tombstone(dialect)}) THEN
                RETURN NEW;
              END IF;
              RAISE EXCEPTION 'audit_entry is append-only (only personal fields can be erased)';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            """
            CREATE FUNCTION consent_event_guard() RETURNS trigger AS $$
            BEGIN
              IF EXISTS (SELECT 1 FROM erasure_permit WHERE record_id = OLD.request_id) THEN
                IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                RETURN NEW;
              END IF;
              RAISE EXCEPTION 'consent_event is append-only: rows cannot be changed or removed';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute("DROP TRIGGER IF EXISTS consent_event_no_update ON consent_event")
        op.execute("DROP TRIGGER IF EXISTS consent_event_no_delete ON consent_event")
        op.execute(
            "CREATE TRIGGER consent_event_guard BEFORE UPDATE OR DELETE ON consent_event "
            "FOR EACH ROW EXECUTE FUNCTION consent_event_guard()"
        )
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_update")
        op.execute(
            "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
            f"WHEN NOT ({_tombstone(dialect)}) "
            "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only (only personal fields can "
            "be erased)'); END"
        )
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"DROP TRIGGER IF EXISTS consent_event_no_{verb.lower()}")
            op.execute(
                f"CREATE TRIGGER consent_event_no_{verb.lower()} BEFORE {verb} ON consent_event "
                "WHEN NOT EXISTS (SELECT 1 FROM erasure_permit WHERE record_id = OLD.request_id) "
                "BEGIN SELECT RAISE(ABORT, 'consent_event is append-only: rows cannot be "
                "changed or removed'); END"
            )


def _guards_down() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger AS $$
            BEGIN
              RAISE EXCEPTION 'audit_entry is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute("DROP TRIGGER IF EXISTS consent_event_guard ON consent_event")
        op.execute("DROP FUNCTION IF EXISTS consent_event_guard()")
        op.execute(
            "CREATE TRIGGER consent_event_no_update BEFORE UPDATE ON consent_event "
            "FOR EACH ROW EXECUTE FUNCTION consent_event_no_update()"
        )
        op.execute(
            "CREATE TRIGGER consent_event_no_delete BEFORE DELETE ON consent_event "
            "FOR EACH ROW EXECUTE FUNCTION consent_event_no_removal()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_entry_no_{verb.lower()}")
            op.execute(
                f"CREATE TRIGGER audit_entry_no_{verb.lower()} BEFORE {verb} ON audit_entry "
                "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END"
            )
        op.execute("DROP TRIGGER IF EXISTS consent_event_no_update")
        op.execute(
            "CREATE TRIGGER consent_event_no_update BEFORE UPDATE ON consent_event "
            "BEGIN SELECT RAISE(ABORT, 'consent_event rows cannot be changed'); END"
        )
        op.execute("DROP TRIGGER IF EXISTS consent_event_no_delete")
        op.execute(
            "CREATE TRIGGER consent_event_no_delete BEFORE DELETE ON consent_event "
            "BEGIN SELECT RAISE(ABORT, 'consent_event is append-only: rows cannot be removed'); "
            "END"
        )


revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table(
        "erasure_permit",
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_erasure_permit")),
    )
    op.create_table(
        "subject_request",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("received_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("exported_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("erased_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("erased", sa.JSON(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_request")),
    )
    with op.batch_alter_table("subject_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_request_due_at"), ["due_at"], unique=False)

    op.create_table(
        "media_objection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["booking.id"], name=op.f("fk_media_objection_booking_id_booking")
        ),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_media_objection_media_id_media")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_objection")),
        sa.UniqueConstraint(
            "media_id", "booking_id", name=op.f("uq_media_objection_media_id_booking_id")
        ),
    )
    with op.batch_alter_table("media_objection", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_media_objection_booking_id"), ["booking_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_media_objection_media_id"), ["media_id"], unique=False)

    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("personal", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("personal_salt", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("personal_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("erased_at", registry.db.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("erased_at", registry.db.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("consent_request", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("erase_requested_at", registry.db.UTCDateTime(timezone=True), nullable=True)
        )

    # ### end Alembic commands ###
    _guards_up()


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("consent_request", schema=None) as batch_op:
        batch_op.drop_column("erase_requested_at")

    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_column("erased_at")

    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
        batch_op.drop_column("personal_digest")
        batch_op.drop_column("personal_salt")
        batch_op.drop_column("personal")

    with op.batch_alter_table("media_objection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_objection_media_id"))
        batch_op.drop_index(batch_op.f("ix_media_objection_booking_id"))

    op.drop_table("media_objection")
    with op.batch_alter_table("subject_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_request_due_at"))

    op.drop_table("subject_request")
    op.drop_table("erasure_permit")
    # ### end Alembic commands ###
    # Last: on SQLite, dropping audit_entry's columns rebuilt the table without its triggers.
    _guards_down()
