"""Storing a batch costs a bounded number of SQL statements, not one per statement (issue 8)."""
from __future__ import annotations

import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from benchmarks.generator import VOIDED, StatementGenerator
from lrs import services
from tests.lrs.conftest import AUTHORITY
from tests.sql_seen import sql_sent, statements_run


def _statements_run(session: Session, work) -> tuple[list[str], object]:
    run, result = statements_run(session, work)
    return [statement.lstrip().upper() for statement in run], result


def _count_selects(session: Session, work) -> tuple[int, object]:
    run, result = _statements_run(session, work)
    return len([s for s in run if s.startswith("SELECT")]), result


def test_storing_100_statements_reads_back_none_of_them_one_by_one(db_session: Session) -> None:
    batch = StatementGenerator(seed=11).statements(0, 100)
    selects, stored = _count_selects(db_session, lambda: services.store_statements(
        db_session, batch, authority=AUTHORITY))
    assert [s.id for s in stored] == [s["id"] for s in batch]
    assert selects < 20, f"{selects} SELECTs to store 100 statements"


def test_without_a_reload_the_stored_batch_still_reports_what_voiding_did(db_session: Session) -> None:
    gen = StatementGenerator(seed=12)
    target, other = gen.statement(1), gen.statement(2)
    void = {"actor": target["actor"], "verb": {"id": VOIDED}, "object": {"objectType": "StatementRef",
                                                                          "id": other["id"]}}
    services.store_statements(db_session, [void], authority=AUTHORITY)
    # ``other`` arrives after the statement voiding it: voided from the start, and reported so.
    stored = services.store_statements(db_session, [target, other], authority=AUTHORITY)
    assert [s.voided for s in stored] == [False, True]
    assert services.get_statement(db_session, other["id"]) is None
    assert services.get_statement(db_session, other["id"], voided=True) is not None


def test_storing_one_statement_takes_a_handful_of_round_trips_and_no_update(db_session: Session) -> None:
    # Lock (PostgreSQL), one lookup (ids, voiding, highest sequence), then the inserts: one
    # statement on PostgreSQL (a COPY per table from 20 statements), one per table on SQLite.
    # Nothing voided, so no UPDATE.
    body = StatementGenerator(seed=13).statement(1)
    run, _ = _statements_run(db_session, lambda: services.store_statements(db_session, [body],
                                                                           authority=AUTHORITY))
    assert not [s for s in run if s.startswith("UPDATE")], run
    assert len(run) <= 4, run


def test_statement_rows_are_the_rows_the_store_writes(db_session: Session) -> None:
    batch = StatementGenerator(seed=14).statements(0, 5)
    stored = services.store_statements(db_session, batch, authority=AUTHORITY)
    rows = services.statement_rows(batch, stored[0].sequence, stored[0].stored, authority=AUTHORITY)
    columns = list(rows.statements[0])
    written = [dict(r._mapping) for r in db_session.execute(text(
        f"SELECT {', '.join(columns)} FROM lrs_statements WHERE sequence >= :first ORDER BY sequence"),
        {"first": stored[0].sequence})]
    assert [r["statement_id"] for r in written] == [r["statement_id"] for r in rows.statements]
    for built, row in zip(rows.statements, written, strict=True):
        for column in ("sequence", "content_hash", "actor_ifi", "verb_id", "object_activity_id",
                       "object_agent_ifi", "object_statement_id", "registration", "authority_ifi"):
            assert built[column] == row[column], column
        assert bool(row["voided"]) == built["voided"] and bool(row["voiding"]) == built["voiding"]
    assert [s.statement for s in stored] == [r["statement"] for r in rows.statements]
    for table, built_rows, key in (("lrs_statement_agents", rows.agents, "ifi"),
                                   ("lrs_statement_activities", rows.activities, "activity_id")):
        found = {(r.sequence, getattr(r, key), bool(r.direct)) for r in db_session.execute(text(
            f"SELECT sequence, {key}, direct FROM {table} WHERE sequence >= :first"),
            {"first": stored[0].sequence})}
        assert found == {(r["sequence"], r[key], r["direct"]) for r in built_rows}


def test_a_batch_voiding_a_statement_it_also_resends_reports_it_voided(db_session: Session) -> None:
    gen = StatementGenerator(seed=15)
    target = gen.statement(1)
    services.store_statements(db_session, [target], authority=AUTHORITY)
    void = {"actor": target["actor"], "verb": {"id": VOIDED}, "object": {"objectType": "StatementRef",
                                                                          "id": target["id"]}}
    resent, voiding = services.store_statements(db_session, [target, void], authority=AUTHORITY)
    assert resent.voided is True and voiding.voided is False
    assert services.get_statement(db_session, target["id"]) is None
    assert services.get_statement(db_session, target["id"], voided=True) is not None


def test_reference_chains_are_marked_from_the_read_under_the_lock(db_session: Session) -> None:
    """``targets_reference`` (a StatementRef whose target is a StatementRef statement) is set on the
    new rows before they are inserted, whether the target is stored or in the same batch: no UPDATE.
    Only a stored statement that targets a StatementRef arriving later needs one."""
    import uuid

    gen = StatementGenerator(seed=16)
    end = gen.statement(1)
    services.store_statements(db_session, [end], authority=AUTHORITY)

    def ref(target: str, statement_id: str | None = None) -> dict:
        return {"id": statement_id or str(uuid.uuid4()), "actor": end["actor"],
                "verb": {"id": "http://example.org/verbs/cites"},
                "object": {"objectType": "StatementRef", "id": target}}

    middle = ref(end["id"])
    head = ref(middle["id"])
    run, _ = _statements_run(db_session, lambda: services.store_statements(
        db_session, [head, middle], authority=AUTHORITY))
    assert not [s for s in run if s.startswith("UPDATE")], run
    top = ref(head["id"])
    early_id = str(uuid.uuid4())
    early = ref(early_id)  # its target is not stored yet
    run, _ = _statements_run(db_session, lambda: services.store_statements(
        db_session, [top, early], authority=AUTHORITY))
    assert not [s for s in run if s.startswith("UPDATE")], run
    late = ref(end["id"], early_id)  # the target early was waiting for: a StatementRef statement
    run, _ = _statements_run(db_session, lambda: services.store_statements(
        db_session, [late], authority=AUTHORITY))
    assert len([s for s in run if s.startswith("UPDATE")]) == 1, run
    ids = [end["id"], middle["id"], head["id"], top["id"], early["id"], late["id"]]
    query = text("SELECT statement_id, targets_reference FROM lrs_statements WHERE statement_id IN :ids")
    marked = dict(db_session.execute(query.bindparams(bindparam("ids", expanding=True)), {"ids": ids}).all())
    assert {k: bool(v) for k, v in marked.items()} == {
        end["id"]: False, middle["id"]: False, head["id"]: True, top["id"]: True, early["id"]: True,
        late["id"]: False}


def test_the_read_under_the_lock_uses_the_indexes_without_statistics(db_session: Session) -> None:
    """The store's one read under the sequence lock looks every id up in an index, even while the
    table has no statistics (a young store between autovacuum's analyses): as ORs in one WHERE it was
    a sequential scan of the whole table for every batch on PostgreSQL."""
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite uses its indexes for IN lists without statistics")
    gen = StatementGenerator(seed=17)
    for start in range(0, 4000, 500):
        services.store_statements(db_session, gen.statements(start, 500), authority=AUTHORITY)
    connection = db_session.connection()
    batch = gen.statements(4000, 100)
    batch[0] = {"actor": batch[1]["actor"], "verb": {"id": VOIDED},  # a StatementRef: every branch
                "object": {"objectType": "StatementRef", "id": gen.statement(7)["id"]}}
    with sql_sent(connection) as sent:
        services.store_statements(db_session, batch, authority=AUTHORITY)
    [(sql, parameters)] = [(sql, parameters) for sql, parameters in sent
                           if "lrs_statements" in sql and sql.lstrip().upper().startswith("SELECT")]
    plan = "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql, parameters))
    assert "Seq Scan on lrs_statements" not in plan, plan


def test_the_store_reuses_its_plans_under_the_lock_and_queries_still_plan_for_their_values(
        db_session: Session) -> None:
    """Under the sequence lock the store's statements reuse their plans (plan_cache_mode auto, for
    that transaction only); every other statement is still planned for its values, including a
    page's queries after a store in its own transaction."""
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan cache")
    mode = text("SELECT current_setting('plan_cache_mode')")
    # A connection of its own: the test's session is one transaction, which a store never ends.
    statements = StatementGenerator(seed=29).statements(0, 6)
    with db_session.get_bind().engine.connect() as connection, Session(bind=connection) as session:
        assert session.scalar(mode) == "force_custom_plan"
        # The xAPI resource: its transaction ends with the store.
        services.store_statements(session, statements[:3], authority=AUTHORITY, subscribers_after_commit=True)
        assert session.scalar(mode) == "auto"
        session.rollback()  # as a commit does, the end of the transaction ends the setting
        assert session.scalar(mode) == "force_custom_plan"
        # A page's store: the page's own queries may follow in the same transaction.
        services.store_statements(session, statements[3:], authority=AUTHORITY)
        assert session.scalar(mode) == "force_custom_plan"
        session.rollback()


@pytest.mark.parametrize("size", [3, 25])  # PostgreSQL: one INSERT, and COPY from 20 statements
def test_a_database_error_while_writing_the_rows_is_raised_as_sqlalchemys_and_loses_nothing(
        db_session: Session, size: int) -> None:
    """PostgreSQL's larger batches go in by COPY through the driver; its errors still arrive as
    SQLAlchemy's (what an execute raises), and the transaction rolls back whole."""
    from sqlalchemy.exc import DBAPIError

    gen = StatementGenerator(seed=18)
    kept = services.store_statements(db_session, [gen.statement(1)], authority=AUTHORITY)
    db_session.commit()
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(text("CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS "
                                "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"))
        db_session.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON lrs_statement_activities "
                                "FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse()"))
    else:
        db_session.execute(text("CREATE TEMP TRIGGER refuse BEFORE INSERT ON lrs_statement_activities "
                                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))
    with pytest.raises(DBAPIError, match="refused by the test"):
        services.store_statements(db_session, gen.statements(2, size), authority=AUTHORITY)
    db_session.rollback()
    assert services.latest_sequence(db_session) == kept[0].sequence
    assert services.get_statement(db_session, kept[0].id) is not None
