"""lrs: statements get their numbers from a function, so batches can be written side by side (PostgreSQL)

Until now every store held one transaction-wide lock from its look-up of known statements to its
commit, so that sequence numbers grow in commit order: the COPY of one batch waited for the commit
of the one before. ``lrs_take_numbers`` hands out a batch's numbers, its ``stored`` time and a
ticket (an advisory lock held to the end of the transaction) under that same lock, but for a
moment only; it also returns the tickets still held by batches numbered before, and a store
waits for those before it commits (``lrs.statements``). So commits still come in sequence order,
and the rows of several batches go in at once.

The numbers and the newest ``stored`` handed out are kept in sequences (which a rollback does not
undo: a batch that fails leaves a gap, which every reader of the sequence allows). Rows written
without the function (a restore, a benchmark's world) are allowed for: the function also reads
the newest stored statement. SQLite has one writer at a time and none of this.

Revision ID: 0011
Revises: 0010
"""
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# lrs.statements.SEQUENCE_LOCK_KEY and TICKET_LOCK_CLASS: the values, not an import (a migration
# stays as it was written).
SEQUENCE_LOCK_KEY = 0x4C5253_5345
TICKET_LOCK_CLASS = 0x4C525354

TAKE_NUMBERS = f"""
CREATE FUNCTION lrs_take_numbers(how_many integer, serial boolean,
                                 OUT first_number bigint, OUT stored timestamptz, OUT ticket integer,
                                 OUT before integer[])
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    newest_number bigint;
    newest_stored timestamptz;
    numbers_given bigint;
    numbers_called boolean;
    clock bigint;
BEGIN
    -- serial: keep the lock to the end of the transaction (a store that may not be written side
    -- by side, and any later store in the same transaction); else hold it for this call only.
    IF serial THEN
        PERFORM pg_advisory_xact_lock({SEQUENCE_LOCK_KEY});
    END IF;
    PERFORM pg_advisory_lock({SEQUENCE_LOCK_KEY});
    BEGIN
        SELECT coalesce(array_agg(l.objid::integer ORDER BY l.objid), '{{}}') INTO before
        FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ExclusiveLock' AND l.objsubid = 2
          AND l.classid = {TICKET_LOCK_CLASS}::oid AND l.pid <> pg_backend_pid()
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database());
        ticket := (nextval('lrs_store_tickets') % 2147483647)::integer;
        PERFORM pg_advisory_xact_lock({TICKET_LOCK_CLASS}, ticket);
        SELECT s.sequence, s.stored INTO newest_number, newest_stored
        FROM lrs_statements s ORDER BY s.sequence DESC LIMIT 1;
        SELECT last_value, is_called INTO numbers_given, numbers_called FROM lrs_statement_numbers;
        first_number := greatest(coalesce(newest_number, 0),
                                 CASE WHEN numbers_called THEN numbers_given ELSE 0 END) + 1;
        PERFORM setval('lrs_statement_numbers', first_number + how_many - 1);
        SELECT last_value INTO clock FROM lrs_stored_clock;
        -- The database's clock, read while holding the ticket: a reader that finds no ticket held
        -- knows that anything stored later gets a later time (lrs.statements.consistent_through).
        stored := greatest(date_trunc('milliseconds', clock_timestamp()), newest_stored,
                           timestamptz 'epoch' + clock * interval '1 millisecond');
        PERFORM setval('lrs_stored_clock', (extract(epoch FROM stored) * 1000)::bigint);
        IF serial THEN
            -- Serial: every batch numbered before is committed or gone before anything is read.
            PERFORM pg_advisory_xact_lock_shared({TICKET_LOCK_CLASS}, b) FROM unnest(before) b;
            before := '{{}}';
        END IF;
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        PERFORM pg_advisory_unlock({SEQUENCE_LOCK_KEY});
        RAISE;
    END;
    PERFORM pg_advisory_unlock({SEQUENCE_LOCK_KEY});
END $$
"""

WAIT_FOR_BEFORE = f"""
CREATE FUNCTION lrs_wait_for(before integer[], after_number bigint, first_number bigint)
RETURNS TABLE (statement_id varchar, object_statement_id varchar)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- Each ticket is released when its batch ends; one that commits has waited for those before it.
    PERFORM pg_advisory_xact_lock_shared({TICKET_LOCK_CLASS}, b) FROM unnest(before) b;
    -- A new snapshot: what the batches before committed, numbered between what the caller saw and
    -- its own first number.
    RETURN QUERY SELECT s.statement_id, s.object_statement_id FROM lrs_statements s
        WHERE s.sequence > after_number AND s.sequence < first_number;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE SEQUENCE lrs_statement_numbers")
    op.execute("CREATE SEQUENCE lrs_store_tickets")
    op.execute("CREATE SEQUENCE lrs_stored_clock MINVALUE 0 START 0")
    op.execute(TAKE_NUMBERS)
    op.execute(WAIT_FOR_BEFORE)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION lrs_wait_for(integer[], bigint, bigint)")
    op.execute("DROP FUNCTION lrs_take_numbers(integer, boolean)")
    for name in ("lrs_stored_clock", "lrs_store_tickets", "lrs_statement_numbers"):
        op.execute(f"DROP SEQUENCE {name}")
