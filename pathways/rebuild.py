"""``cairn progress rebuild``: the whole projection replayed from the statement stream, in one transaction.

The facts are written into a table without secondary indexes, which are built once at the end: a
million rows maintained into four indexes row by row took the server ten times as long as writing
them and building the indexes afterwards. A failed or interrupted rebuild rolls back whole, and the
previous projection is there as it was.

On PostgreSQL the replayed facts go into a table of the same name in a schema of the rebuild's own
(``REBUILD_SCHEMA``), first on this transaction's ``search_path``: the rebuild reads and writes it
by the usual names, while every other session keeps reading the previous facts, unlocked, until the
new table replaces the old one just before the commit (the only moment readers wait, for as long
as the commit takes; if a transaction holds the old table, its rows are copied in instead, see
``_replace_facts``). On SQLite, whose readers (WAL) see the last commit anyway, the indexes are
dropped and made again in the transaction.
"""
from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine, Table, delete, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.schema import AddConstraint, CreateIndex, DropIndex

from cairn.accounts.models import User
from pathways.models import CertificationAward, PathwayProgress, ProgressFact, ProgressVoid, StepProgress
from pathways.facts import FACT_PATHS, fact_values, insert_rows, void_target
from pathways.projection import catch_up, move_cursor, read_cursor, record_earned
from pathways.refresh import refresh_users
from pathways.relevance import launched, step_activities

if TYPE_CHECKING:
    from lrs.services import StatementMembers

REBUILD_SCHEMA = "cairn_progress_rebuild"
SWAP_WAIT_MS = 200  # the swap's wait for readers of the old facts (below PostgreSQL's deadlock_timeout, 1 s)
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock wait that reached lock_timeout
_FACTS = cast(Table, ProgressFact.__table__)


def rebuild(session: Session, *, batch_size: int = 5000) -> int:
    """Empty the projection and replay every statement; return how many statements were replayed.

    Facts first (streamed a batch at a time, only the members facts read), then every learner
    derived once, a chunk of learners at a time: memory stays bounded by the batch, the chunk and
    the voiding statements (one entry each). The cursor row is locked first (PostgreSQL), so live
    projections wait for the rebuild and then go on from where it stopped. The statements replayed
    are the committed ones (on PostgreSQL a second connection reads them, ``_member_pages``): run it
    in a transaction of its own, as ``cairn progress rebuild`` does.
    """
    read_cursor(session)  # locked until the rebuild commits
    for model in (CertificationAward, StepProgress, PathwayProgress, ProgressVoid):
        session.execute(delete(model))
    count = 0
    last = 0
    with _fresh_facts(session), _collecting_rarely() as collect:
        voids: dict[str, str] = {}
        activities = step_activities(session)  # the cursor is locked: no step changes meanwhile
        for page in _member_pages(session, batch_size):
            _replay(session, page, voids, activities)
            count += len(page)
            last = page[-1][1]
            collect()
        move_cursor(session, last)
        session.flush()
        _index_facts(session)
        # A fact stored before its voiding statement: the replay wrote it unvoided (see ``_replay``).
        session.execute(update(ProgressFact).values(voided_by=select(ProgressVoid.voiding_id).where(
            ProgressVoid.target_id == ProgressFact.statement_id).scalar_subquery()).where(
            ProgressFact.statement_id.in_(select(ProgressVoid.target_id)), ProgressFact.voided_by.is_(None))
            .execution_options(synchronize_session=False))
        # Every learner, with statements or not (those with assignments only get their not-started rows).
        new_awards = refresh_users(session, session.scalars(select(User.id)))
    if record_earned(session, new_awards):
        count += catch_up(session)
    return count


def _member_pages(session: Session, batch_size: int) -> Iterator[list[StatementMembers]]:
    """Every statement's fact members, a page at a time; on PostgreSQL the next page is read meanwhile.

    Reading a page was a fifth of a rebuild's time, spent waiting for the server, and writing the
    facts of a page as much again in Python: a thread reads the next page, on a connection of its
    own, while this one writes. Without its own transaction (autocommit) it reads each page as this
    transaction's own query would, under READ COMMITTED: what was committed when the page was read.
    A session already inside an outer transaction (the tests' savepoints), and SQLite (whose second
    connection could not begin while this one writes), read the pages here, one after the other.
    """
    from lrs import services as lrs_services
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or not isinstance(bind, Engine):
        yield from lrs_services.statement_member_pages(session, FACT_PATHS, batch_size=batch_size)
        return
    with Session(bind) as reader:
        reader.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        pages = lrs_services.statement_member_pages(reader, FACT_PATHS, batch_size=batch_size)
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="rebuild-reader") as pool:
                ahead = pool.submit(next, pages, None)
                while (page := ahead.result()) is not None:
                    ahead = pool.submit(next, pages, None)
                    yield page
        finally:
            pages.close()  # the thread has stopped: the pool waited for it


def _replay(session: Session, page: list[StatementMembers], voids: dict[str, str],
            activities: set[str]) -> None:
    """Write the facts and voids of a page of statements, as ``apply_statements`` would into empty tables.

    In sequence order, nothing to look up but the page's launched registrations: ``voids`` (target
    id -> voiding id, the first voiding statement wins) holds every voiding statement replayed so
    far, so a fact whose voiding came first is written voided; one voided later is marked by one
    UPDATE after the replay. Only the statements a pathway can read get facts (about one of the
    steps' ``activities``, or in a launched registration: ``pathways.relevance``).
    """
    candidates: list[dict[str, Any]] = []
    new_voids: list[dict[str, str]] = []
    for statement_id, sequence, stored, _voided, members in page:
        target = void_target(members)
        if target is not None:
            if target and target not in voids:
                voids[target] = statement_id
                new_voids.append({"target_id": target, "voiding_id": statement_id})
            continue
        row = fact_values(statement_id, sequence, stored, members)
        if row is not None:
            row["voided_by"] = voids.get(statement_id)
            candidates.append(row)
    registrations = launched(session, {row["registration"] for row in candidates
                                       if row["registration"] and row["activity_iri"] not in activities})
    new_facts = [row for row in candidates
                 if row["activity_iri"] in activities or row["registration"] in registrations]
    insert_rows(session, ProgressVoid, new_voids)
    insert_rows(session, ProgressFact, new_facts)


@contextmanager
def _collecting_rarely(every: int = 50) -> Iterator[Callable[[], None]]:
    """Python's cycle collector off for the block, which calls the function given every page: it
    collects every ``every`` calls.

    A page of statements is thousands of new containers, and the collector traversed them (and
    every other object alive) again and again: half the time of reading the statements. Nothing
    here makes cycles of its own, so a collection now and then keeps memory where it was.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    calls = 0

    def collect() -> None:
        nonlocal calls
        calls += 1
        if calls % every == 0:
            gc.collect()

    try:
        yield collect
    finally:
        if was_enabled:
            gc.enable()


def _secondary_indexes() -> list[Any]:
    return sorted(_FACTS.indexes, key=lambda index: index.name)


@contextmanager
def _fresh_facts(session: Session) -> Iterator[None]:
    """An empty ``progress_facts`` without secondary indexes (``_index_facts`` adds them) for the block."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(delete(ProgressFact))
        for index in _secondary_indexes():
            connection.execute(DropIndex(index))
        yield
        return
    schema, search_path = connection.execute(text(
        "SELECT n.nspname, current_setting('search_path') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'progress_facts'::regclass")).one()
    quote = connection.dialect.identifier_preparer.quote
    connection.execute(text(f"CREATE SCHEMA {quote(REBUILD_SCHEMA)}"))
    # LIKE copies the columns, their types and NOT NULLs, and no index: the primary key comes later.
    connection.execute(text(f"CREATE TABLE {quote(REBUILD_SCHEMA)}.progress_facts "
                            f"(LIKE {quote(schema)}.progress_facts INCLUDING DEFAULTS)"))
    connection.execute(text("SELECT set_config('search_path', :path, true)"),
                       {"path": f"{quote(REBUILD_SCHEMA)}, {search_path}"})
    yield
    _replace_facts(session, schema)
    connection.execute(text(f"DROP SCHEMA {quote(REBUILD_SCHEMA)}"))
    connection.execute(text("SELECT set_config('search_path', :path, true)"), {"path": search_path})


def _replace_facts(session: Session, schema: str) -> None:
    """Put the new facts table in the old one's place, or, if a reader holds the old one, its rows.

    Dropping the old table waits for every transaction that has read it. One of them may be waiting
    for the cursor row this rebuild holds (a page that read facts, then stores statements): a
    deadlock, which PostgreSQL would resolve by failing the rebuild. So the drop waits briefly
    (below the deadlock timeout); if it cannot have the table, the rows are copied into the old
    table instead, which readers do not block (slower: its indexes are maintained row by row).
    """
    connection = session.connection()
    quote = connection.dialect.identifier_preparer.quote
    old, new = f"{quote(schema)}.progress_facts", f"{quote(REBUILD_SCHEMA)}.progress_facts"
    lock_timeout = connection.scalar(text("SELECT current_setting('lock_timeout')"))
    connection.execute(text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": f"{SWAP_WAIT_MS}ms"})
    try:
        with connection.begin_nested():
            _grant_as_on(connection, new, old)
            connection.execute(text(f"DROP TABLE {old}"))
            connection.execute(text(f"ALTER TABLE {new} SET SCHEMA {quote(schema)}"))
        swapped = True
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        swapped = False
    connection.execute(text("SELECT set_config('lock_timeout', :value, true)"), {"value": lock_timeout})
    if not swapped:
        columns = ", ".join(quote(c.name) for c in _FACTS.columns)
        connection.execute(text(f"DELETE FROM {old}"))
        connection.execute(text(f"INSERT INTO {old} ({columns}) SELECT {columns} FROM {new}"))
        connection.execute(text(f"DROP TABLE {new}"))


def _grant_as_on(connection: Any, new: str, old: str) -> None:
    """Grant on table ``new`` every privilege granted on ``old`` (a reporting role's SELECT, say),
    which a table replacing it would otherwise lose. Privileges come from the catalogue (keywords);
    role names are quoted."""
    grants = connection.execute(text(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END, a.privilege_type, "
        "a.is_grantable FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a "
        "LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE c.oid = CAST(:old AS regclass)"), {"old": old}).all()
    for grantee, privilege, grantable in grants:
        connection.execute(text(f"GRANT {privilege} ON {new} TO {grantee}"
                                + (" WITH GRANT OPTION" if grantable else "")))


def _index_facts(session: Session) -> None:
    """Build ``progress_facts``' indexes (and on PostgreSQL its primary key and planner statistics)."""
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        connection.execute(AddConstraint(_FACTS.primary_key))
    for index in _secondary_indexes():
        connection.execute(CreateIndex(index))
    if postgresql:
        connection.execute(text("ANALYZE progress_facts"))
