"""What a GET /statements page costs: how many SQL statements, built how (see lrs.statement_queries)."""
from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from lrs import services
from tests.lrs.conftest import AUTHORITY, basic, statement
from tests.sql_seen import sql_sent

Q = services.StatementQuery


def _agent(n: int) -> dict:
    return {"objectType": "Agent", "mbox": f"mailto:learner{n}@example.org"}


def _sql_of(session: Session, query: services.StatementQuery,
            parameters_of: dict | None = None) -> tuple[list[str], services.StatementPage]:
    with sql_sent(session.get_bind().engine) as sent:
        page = services.query_statements(session, query)
    issued = [(sql, parameters) for sql, parameters in sent
              if not sql.startswith(("SAVEPOINT", "RELEASE"))]  # the test's own transaction
    if parameters_of is not None:
        parameters_of.update(issued)
    return [sql for sql, _ in issued], page


def _store_learner(session: Session, n: int, count: int) -> list[str]:
    stored = services.store_statements(session, [statement(actor=_agent(n)) for _ in range(count)],
                                       authority=AUTHORITY)
    return [s.id for s in stored]


def test_a_page_takes_the_same_few_statements_however_many_match_and_refer(db_session: Session) -> None:
    few = _store_learner(db_session, 1, 2)
    many = _store_learner(db_session, 2, 30)
    refs = [statement(object={"objectType": "StatementRef", "id": target}) for target in few + many[:20]]
    services.store_statements(db_session, refs, authority=AUTHORITY)
    db_session.commit()

    few_sql, few_page = _sql_of(db_session, Q(agent=_agent(1)))
    many_sql, many_page = _sql_of(db_session, Q(agent=_agent(2), limit=10))

    assert len(few_page.statements) == 4 and len(many_page.statements) == 10
    # direct matches; the matches' ids; statements referring to them, directly or through a chain
    assert len(few_sql) == len(many_sql) <= 3


def test_filter_values_are_bound_parameters_so_each_shape_has_one_sql_text(db_session: Session) -> None:
    for n in (1, 2):
        _store_learner(db_session, n, 3)
    db_session.commit()

    verb = "http://adlnet.gov/expapi/verbs/experienced"
    first, first_page = _sql_of(db_session, Q(agent=_agent(1), verb=verb, limit=2))
    second, second_page = _sql_of(db_session, Q(agent=_agent(2), verb=verb, limit=2))

    assert first == second
    assert not {s.id for s in first_page.statements} & {s.id for s in second_page.statements}


def test_sqlite_walks_statement_ref_chains_from_the_chain_index(db_session: Session) -> None:
    """Not from every statement of the page's range (SQLite's plan; 0.3 s at 100,000 statements)."""
    if db_session.get_bind().dialect.name != "sqlite":
        pytest.skip("a SQLite query plan")
    _store_learner(db_session, 1, 3)
    db_session.commit()
    parameters: dict = {}
    issued, _ = _sql_of(db_session, Q(agent=_agent(1)), parameters)
    [chain] = [sql for sql in issued if "reference_chain" in sql]

    plan = " / ".join(row[-1] for row in db_session.connection().exec_driver_sql(
        "EXPLAIN QUERY PLAN " + chain, parameters[chain]))

    assert "USING INDEX ix_lrs_statements_chain_sequence" in plan, plan
    assert "lrs_statements USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)" not in plan, plan


def test_sqlite_finds_a_broad_filters_referring_statements_from_the_ranges_statement_refs(
        db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not from every statement of the filter (SQLite's join began at the verb's index: 0.3 s at 100,000)."""
    if db_session.get_bind().dialect.name != "sqlite":
        pytest.skip("a SQLite query plan")
    from lrs import statement_queries
    monkeypatch.setattr(statement_queries, "FEW_MATCHES", -1)  # the broad filter's way, whatever the data
    _store_learner(db_session, 1, 3)
    db_session.commit()
    parameters: dict = {}
    issued, _ = _sql_of(db_session, Q(verb="http://adlnet.gov/expapi/verbs/experienced"), parameters)
    [referring] = [sql for sql in issued if "reference_chain" in sql]

    plan = " / ".join(row[-1] for row in db_session.connection().exec_driver_sql(
        "EXPLAIN QUERY PLAN " + referring, parameters[referring]))

    assert "USING INDEX ix_lrs_statements_reference_sequence" in plan, plan
    assert "ix_lrs_statements_verb_sequence" not in plan, plan


def test_sqlite_reads_one_agent_with_a_verb_and_activity_along_the_agents_indexes(
        db_session: Session) -> None:
    """Not along a frequent verb's index (SQLite has no statistics: 40-100 ms at 100,000 statements)."""
    if db_session.get_bind().dialect.name != "sqlite":
        pytest.skip("a SQLite query plan")
    verb, activity = "http://adlnet.gov/expapi/verbs/experienced", "http://example.org/activity/one"
    for n in (1, 2):
        services.store_statements(db_session, [statement(actor=_agent(n), verb={"id": verb},
                                                         object={"id": activity}) for _ in range(2)],
                                  authority=AUTHORITY)
    db_session.commit()
    parameters: dict = {}
    issued, page = _sql_of(db_session, Q(agent=_agent(1), verb=verb, activity=activity), parameters)
    _, other_page = _sql_of(db_session, Q(agent=_agent(2), verb=verb, activity=activity))

    plans = [" / ".join(row[-1] for row in db_session.connection().exec_driver_sql(
        "EXPLAIN QUERY PLAN " + sql, parameters[sql]))
        for sql in issued if "object_agent_ifi" in sql and "reference_chain" not in sql]
    assert len(plans) == 2, issued  # the page's direct scan and its matches' ids
    for plan in plans:
        assert "USING INDEX ix_lrs_statements_actor_sequence" in plan, plan
        assert "USING INDEX ix_lrs_statements_object_agent_ifi" in plan, plan
        assert "ix_lrs_statements_verb_sequence" not in plan, plan
    # The same SQL text serves both agents, each with its own values.
    assert [s.statement["actor"] for s in page.statements] == [_agent(1)] * 2
    assert [s.statement["actor"] for s in other_page.statements] == [_agent(2)] * 2


def test_a_statements_get_on_postgresql_sends_no_begin_or_commit(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Read-only: under READ COMMITTED each statement has its own snapshot, so a transaction adds only
    round trips."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite takes its lock with BEGIN IMMEDIATE; PostgreSQL only")
    from tests.conftest import fresh_database_url, make_test_app, reset_database
    url = fresh_database_url(tmp_path, "read_only_get")
    engine = reset_database(url)
    app = make_test_app(url)
    try:
        with Session(engine) as session:
            info, secret = services.create_credential(session, name="reader", scopes=["all"],
                                                      authority=AUTHORITY)
            services.store_statements(session, [statement(actor=_agent(1))], authority=AUTHORITY)
            session.commit()
        app_engine = app.extensions["cairn.db"].engine
        in_transaction: list[bool] = []

        def record(conn, cursor, sql, parameters, context, executemany) -> None:  # noqa: ANN001
            in_transaction.append(not cursor.connection.autocommit)

        event.listen(app_engine, "before_cursor_execute", record)
        response = app.test_client().get("/xapi/statements",
                                         query_string={"agent": '{"mbox": "mailto:learner1@example.org"}'},
                                         headers={"Authorization": basic(info.key, secret),
                                                  "X-Experience-API-Version": "1.0.3"})
        assert response.status_code == 200 and len(response.get_json()["statements"]) == 1
        assert response.headers["X-Experience-API-Consistent-Through"]
        assert in_transaction and not any(in_transaction)
    finally:
        app.extensions["cairn.db"].dispose()
        engine.dispose()
