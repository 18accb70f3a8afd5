"""The database: one declarative base, shared column types, the engine and a session per request.

Nothing here connects at import time. ``Database`` is attached to the app by ``init_app`` and
creates its engine lazily; tests re-bind it to a connection that wraps each test in a savepoint.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from flask import Flask, current_app, g, has_request_context, request
from flask.testing import FlaskClient
from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, Engine, Integer, MetaData, String, any_,
                        bindparam, create_engine, event, func, literal_column, null, select, text, true,
                        type_coerce)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator

from cairn import jsoncodec

log = logging.getLogger(__name__)

AFTER_COMMIT_KEY = "cairn.after_commit"
_AFTER_RESPONSE_ENVIRON = "cairn.work_after_response"  # for ClosingTestClient

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON documents keep their exact structure; PostgreSQL stores them as JSONB.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")

IntPK = Annotated[int, mapped_column(Integer, primary_key=True)]
BigIntPK = Annotated[int, mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)]
UUIDStr = Annotated[str, mapped_column(String(36))]
IRI = Annotated[str, mapped_column(String(2048))]
Timestamp = Annotated[datetime, mapped_column(UTCDateTime())]
Json = Annotated[Any, mapped_column(JSONDocument)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and real transactions.

    JSON columns are (de)serialised by orjson (``cairn.jsoncodec``): statements are large JSON
    documents and the standard library's encoder was a visible share of every write and read.
    """
    kwargs.setdefault("json_serializer", jsoncodec.dumps_str)
    kwargs.setdefault("json_deserializer", jsoncodec.loads)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    # JIT compiling costs hundreds of milliseconds and pays off only for long analytic queries;
    # every query here is short, and one misestimated plan must not pay that on each request.
    # psycopg prepares a statement after its fifth run, and PostgreSQL then switches to a generic
    # plan, one for any values: an ``IN`` list of 100 ids became a sequential scan comparing every
    # row with each id in turn (8 ms for a lookup that takes 0.5 ms planned for its values), and
    # skewed columns (a prolific agent, a frequent verb) get the plan of an average value. Our
    # statements are short to plan: plan each for its values.
    connect_args = {"options": "-c jit=off -c plan_cache_mode=force_custom_plan",
                    **kwargs.pop("connect_args", {})}
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    _ping_when_idle(engine)
    event.listen(engine, "connect", _binary_lists)
    return engine


def _binary_lists(dbapi_connection: Any, _record: Any) -> None:
    """Send list parameters (``Among``'s id arrays) in PostgreSQL's binary array format.

    psycopg writes a list as an array literal by default, searching every element with a regular
    expression to decide whether to quote it: 0.58 ms for a store's 200 statement ids, on every
    store, against 0.07 ms in binary, which needs no quoting. The parameters keep their
    casts, so the server sees the same types.
    """
    if hasattr(dbapi_connection, "adapters"):  # psycopg 3
        from psycopg.types.array import ListBinaryDumper
        dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)


PING_AFTER_IDLE_SECONDS = 2.0
_CHECKED_IN = "cairn.checked_in"


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled PostgreSQL connection before use only if it has been idle for a while.

    ``pool_pre_ping`` sent a round trip on every checkout: two per POST (the request's session
    and the work after the response), 4% of a worker's time under load (py-spy, 4 clients posting
    batches of 100). A connection given back less than ``PING_AFTER_IDLE_SECONDS`` ago has just
    worked; if the server went away in between, its request fails as one in flight would, and
    SQLAlchemy replaces the pool's connections. A stale one is replaced before use, as before.
    """
    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(_CHECKED_IN)
        if last is not None and time.monotonic() - last < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - any failure: the pool replaces the connection
            raise DisconnectionError(f"the pooled connection failed its ping: {exc}") from exc

    event.listen(engine, "connect", checked_in)
    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite opens transactions lazily and cannot do SAVEPOINTs reliably; take over BEGIN
    # ourselves (SQLAlchemy's documented recipe). IMMEDIATE takes the write lock at the start, so
    # two workers never deadlock upgrading a read lock; readers are not blocked in WAL mode.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if not connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        # A read-only request waits for the write in flight, if any (it takes the write lock and
        # gives it back at once), then reads a snapshot DEFERRED: in WAL mode without the lock, so
        # stores go on during a long statement query. Nothing committed before ``QUIET_SINCE`` is
        # missing from its snapshot, and every later store takes a later moment.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        connection.exec_driver_sql("COMMIT")
        connection.info[QUIET_SINCE] = utcnow()
        connection.exec_driver_sql("BEGIN")


# Connection execution option: this connection's transaction only reads (SQLite begins it DEFERRED).
READ_ONLY = "cairn_read_only"
# SQLite, a read-only transaction: when it last found no write in flight (connection ``info``).
QUIET_SINCE = "cairn.quiet_since"


class Database:
    """The app's database: a lazily created engine and a session per app context."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._factory: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    @property
    def dialect(self) -> str:
        return "sqlite" if self.url.startswith("sqlite") else "postgresql"

    def session_factory(self) -> sessionmaker[Session]:
        if self._factory is None:
            self._factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        return self._factory

    def bind_to(self, connection: Connection) -> None:
        """Use ``connection`` for every session; ``commit()`` then only releases a savepoint."""
        self._factory = sessionmaker(bind=connection, expire_on_commit=False,
                                     join_transaction_mode="create_savepoint")

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._factory = None


class ClosingTestClient(FlaskClient):
    """Flask's test client, but a response with work after it (``after_commit``) is read and closed
    before the call returns, as a server does once it has written it: that work has run when a
    test looks at what it changed. Other responses stay open (a test may read a stream)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        waiting: list[Callable[[], None]] = []  # the environ is copied on the way: the list is shared
        overrides = kwargs.get("environ_overrides") or {}
        kwargs["environ_overrides"] = {**overrides, _AFTER_RESPONSE_ENVIRON: waiting}
        response = super().open(*args, **kwargs)
        if waiting:
            response.make_sequence()
            response.close()
        return response


def init_app(app: Flask) -> None:
    app.extensions["cairn.db"] = Database(app.config["DATABASE_URL"])
    app.test_client_class = ClosingTestClient

    @app.after_request
    def _commit(response: Any) -> Any:
        # The request commits once; an error response leaves nothing half-written.
        session: Session | None = g.pop("_cairn_session_pending", None)
        if session is not None:
            if response.status_code < 400:
                session.commit()
                _after_response(response, session.info.pop(AFTER_COMMIT_KEY, None) or [])
            else:
                session.info.pop(AFTER_COMMIT_KEY, None)
                session.rollback()
        return response

    @app.teardown_appcontext
    def _close(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("_cairn_session", None)
        if session is not None:
            session.close()


def after_commit(session: Session, work: Callable[[Session], None]) -> bool:
    """Do ``work(session)`` in a transaction of its own once the request's response has been sent.

    For work that follows from what the request committed but that its response does not show
    (the progress projection of statements stored over the xAPI resource): it must not hold the
    request's locks (a store's ticket, which later batches wait for, above all) nor keep the client
    waiting. The worker does it right after writing the response (WSGI ``close``), in a new app
    context and session. Returns False, and defers nothing, when ``session`` is not the current
    request's: the caller then does the work at once, in its own transaction. Work that fails is
    logged and rolled back alone; what the request committed stays. Work that never ran (the worker
    died) must be recoverable by its owner from the committed data (``cairn worker`` catches the
    projection up).
    """
    if not has_request_context() or g.get("_cairn_session_pending") is not session:
        return False
    session.info.setdefault(AFTER_COMMIT_KEY, []).append(work)
    return True


def _after_response(response: Any, works: list[Callable[[Session], None]]) -> None:
    if not works:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        with app.app_context():
            with get_db().session_factory()() as session:
                for work in works:
                    try:
                        work(session)
                        session.commit()
                    except Exception:
                        log.exception("work after the response %r failed; it is rolled back", work)
                        session.rollback()

    response.call_on_close(run)
    waiting = request.environ.get(_AFTER_RESPONSE_ENVIRON)
    if isinstance(waiting, list):  # a ClosingTestClient's request: it closes the response at once
        waiting.append(run)


class Among:
    """Conditions on a list parameter, in the form that suits the session's database (``built_once``)."""

    def __init__(self, dialect: str) -> None:
        self.postgresql = dialect == "postgresql"

    def __call__(self, column: Any, name: str = "ids") -> Any:
        """``column IN :name``: on PostgreSQL ``= ANY(:name)``, one array parameter whatever the count,
        where an expanded IN list is rendered value by value."""
        if self.postgresql:
            return column == any_(bindparam(name, type_=ARRAY(column.type)))
        return column.in_(bindparam(name, expanding=True))

    def rows(self, *columns: Any, key: Any, name: str = "ids", also: Any = None) -> Any:
        """The rows (of ``columns``) whose ``key`` is in the list ``name``, as a subquery to select
        from or join; ``key`` picks out a few rows per value (an id, a learner).

        On PostgreSQL each value is looked up in ``key``'s index (unnest, LATERAL, OFFSET 0). As
        ``= ANY(:name)``, a table small enough that reading its pages whole looks cheaper than a
        hundred index look-ups, or without statistics yet, was read whole for every list: 1.2 ms
        for 100 ids among 12,000 facts, growing with the table until an analysis, against 0.2 ms.
        Conditions on other columns belong on the subquery's columns: OFFSET 0 keeps them out of
        the look-up, so they filter what ``key``'s index found. Inside, a plan for any values (see
        ``reuse_plans``) combined ``key``'s index with the index of a list of activities, which
        matches a large share of the table. ``also``: a condition that goes into the look-up, for
        an index whose leading column is ``key`` and whose next one it narrows.
        """
        extra = [] if also is None else [also]
        if not self.postgresql:
            return select(*columns).where(self(key, name), *extra).subquery()
        each = func.unnest(bindparam(name, type_=ARRAY(key.type))).table_valued("value") \
            .render_derived(name=f"each_{name}")
        found = select(*columns).where(key == each.c.value, *extra).offset(literal_column("0")).lateral()
        return select(*found.c).select_from(each.join(found, true())).subquery()


class _InValues(ColumnElement[bool]):
    """``column IN values`` bound as one parameter (``in_values``)."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition as it is (SQLite would otherwise compare it to 1)
    # The values go as both forms; each database's compiler renders (and so binds) only its own.
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("array", InternalTraversal.dp_clauseelement),
                           ("json", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any, values: Iterable[Any]) -> None:
        listed = sorted(set(values))
        self.column = column
        self.array = bindparam(None, listed, type_=ARRAY(column.type))
        self.json = bindparam(None, jsoncodec.dumps_str(listed), type_=String())


def in_values(column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN values`` as one parameter however many values there are: an array on PostgreSQL
    (``= ANY``), a JSON array read by ``json_each`` on SQLite.

    An IN list is a parameter a value: PostgreSQL takes at most 65,535 a statement, SQLite builds
    999, 32,766 or 250,000, and an audience, an instructor's learners or a rule's members may be
    tens of thousands.
    """
    return _InValues(column, values)


@compiles(_InValues)
def _compile_in_json(element: _InValues, compiler: Any, **kw: Any) -> str:
    values = compiler.process(element.json, **kw)
    return f"{compiler.process(element.column, **kw)} IN (SELECT value FROM json_each({values}))"


@compiles(_InValues, "postgresql")
def _compile_in_array(element: _InValues, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY ({compiler.process(element.array, **kw)})"


_BUILT: dict[tuple[Callable[..., Any], str], Any] = {}

# See ``reuse_plans``; also part of the store's lock statement (``lrs.statements``), saving a round trip.
REUSE_PLANS_SQL = "set_config('plan_cache_mode', 'auto', true)"


def reuse_plans(session: Session) -> None:
    """Let PostgreSQL reuse the plans of this transaction's prepared statements (until it ends).

    Connections plan every statement for its values (``make_engine``), which the queries need. The
    writes of a store and of the projection are the same dozen statements every batch, each looking
    rows up by key, and planning them again cost more server time than running them: 2.3 ms of
    3.8 ms per batch of 100 (PostgreSQL's log). With ``auto`` PostgreSQL still plans the first five
    runs of a prepared statement for their values, and keeps doing so when that is cheaper.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_REUSE_PLANS)


_REUSE_PLANS = text(f"SELECT {REUSE_PLANS_SQL}")

# A commit that does not wait for its WAL to reach the disk (PostgreSQL's asynchronous commit), for
# the rest of the transaction: only for one whose every row can be derived again from what durable
# transactions stored. A crash may then lose its last such commits, whole (a later synchronous commit
# flushes every earlier one); the projection's cursor goes back with them and the statements are
# projected again. Part of the projection's cursor claim (``pathways.projection``), no round trip.
ASYNC_COMMIT_SQL = "set_config('synchronous_commit', 'off', true)"


def commit_durably(session: Session) -> None:
    """Undo ``ASYNC_COMMIT_SQL`` for the rest of this transaction: it made something that cannot be
    derived again (a certificate's random code, shown to the learner at once). PostgreSQL only."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_DURABLE_COMMIT)


_DURABLE_COMMIT = text("SET LOCAL synchronous_commit TO DEFAULT")


def typed_null(column: Any) -> Any:
    """NULL of ``column``'s type, under its name: a branch of a UNION ALL that has no such column
    keeps the column's converters (UTC timestamps, JSON) for the rows of the branches that do."""
    return type_coerce(null(), column.type).label(column.key)


def built_once(session: Session, build: Callable[[Among], Any]) -> Any:
    """``build(among)`` for this session's database, built once per process and run with its lists.

    Building a statement of a few joins cost more than running it does for a batch of one
    statement; ``among`` (an ``Among``) writes the conditions on its list parameters.
    """
    dialect = session.get_bind().dialect.name
    statement = _BUILT.get((build, dialect))
    if statement is None:
        statement = _BUILT[(build, dialect)] = build(Among(dialect))
    return statement


def read_built(session: Session, build: Callable[[Among], Any], parameters: dict[str, Any]) -> list[Any]:
    """The rows of ``built_once(session, build)`` (a SELECT of columns, or a statement RETURNING
    some) run with ``parameters``.

    For the few reads every stored batch makes (the store's and the projection's): on PostgreSQL the
    statement, compiled once per process, runs straight on the driver's cursor. ``Session.execute``
    costs about 200 us of CPU a statement before and after the database's own work (the ORM's
    compile state, the execution context, the result object) where the driver alone costs 90; a
    batch makes a dozen such reads. Parameters and values go through the columns' types as they
    would through ``execute`` (a list through its ARRAY type, timestamps returned in UTC), rows come
    as named tuples (by position or by column name, as ``Row``), pending ORM changes are flushed
    first (autoflush), the connection's cursor events are dispatched, and the driver's errors are
    raised as SQLAlchemy's. SQLite: ``execute``.
    """
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        return session.execute(built_once(session, build), parameters).all()
    compiled = _COMPILED.get(build)
    if compiled is None:
        compiled = _COMPILED[build] = _Compiled(built_once(session, build), dialect)
    if session.autoflush:
        session.flush()
    values = compiled.compiled.construct_params(parameters)
    for name, process in compiled.binds:
        if values[name] is not None:
            values[name] = process(values[name])
    with _driver_errors(dialect, compiled.sql, values), \
            connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
        # Listeners of the connection's cursor events (query counts, tracing) hear it as any statement.
        connection.dispatch.before_cursor_execute(connection, cursor, compiled.sql, values, None, False)
        rows = cursor.execute(compiled.sql, values).fetchall()
        connection.dispatch.after_cursor_execute(connection, cursor, compiled.sql, values, None, False)
        if compiled.results is None:  # some converters depend on the type the server sent
            compiled.results = [
                (n, process) for n, (column, described) in enumerate(zip(
                    compiled.columns, cursor.description, strict=True))
                if (process := column.type.dialect_impl(dialect).result_processor(
                    dialect, described.type_code)) is not None]
    make, processors = compiled.row._make, compiled.results
    if not processors:
        return [make(row) for row in rows]
    out = []
    for row in rows:
        items = list(row)
        for n, process in processors:
            items[n] = process(items[n])
        out.append(make(items))
    return out


class _Compiled:
    """A ``built_once`` read compiled for PostgreSQL, with its types' converters (``read_built``).

    Kept by build function alone: only PostgreSQL's statements are kept here."""

    def __init__(self, statement: Any, dialect: Any) -> None:
        self.compiled = statement.compile(dialect=dialect)
        if self.compiled.literal_execute_params or self.compiled.post_compile_params:
            raise ValueError("read_built runs statements without expanding parameters (use Among)")
        self.sql = self.compiled.string
        self.binds = [(name, process) for name, bind in self.compiled.binds.items()
                      if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None]
        self.columns = list(statement.exported_columns)  # a SELECT's columns, or what it RETURNs
        self.results: list[tuple[int, Callable[[Any], Any]]] | None = None  # known after the first run
        self.row = namedtuple("Row", [str(column.key) for column in self.columns],  # type: ignore[misc]
                              rename=True)


_COMPILED: dict[Callable[..., Any], _Compiled] = {}


def copy_rows(connection: Connection, sql: str, rows: Iterable[Sequence[Any]],
              types: Sequence[str] | None = None) -> None:
    """Stream ``rows`` (tuples of driver values) into ``COPY ... FROM STDIN`` on PostgreSQL.

    The fastest way in for many rows: one stream, no statement per row. ``types`` (PostgreSQL type
    names, one per column) makes the stream binary, for a statement ``... (FORMAT BINARY)``. The
    driver's errors are raised as SQLAlchemy's (``DBAPIError`` and its kinds, ``IntegrityError``...),
    as an ``execute`` raises them, so callers handle a failed COPY as any failed statement.
    """
    with _driver_errors(connection.dialect, sql, None), \
            connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
        with cursor.copy(sql) as copy:
            if types is not None:
                copy.set_types(types)
            for row in rows:
                copy.write_row(row)


@contextmanager
def _driver_errors(dialect: Any, sql: str, parameters: Any) -> Iterator[None]:
    """The driver's errors inside the block raised as SQLAlchemy's (``DBAPIError`` and its kinds,
    ``IntegrityError``...), as ``execute`` raises them, for work done on the driver's cursor."""
    dbapi_error = dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as error:
        raise DBAPIError.instance(sql, parameters, error, dbapi_error, dialect=dialect) from error


def get_db() -> Database:
    return current_app.extensions["cairn.db"]


def streamed(lines: Iterable[str]) -> Iterator[str]:
    """A response body that reads the database as it is sent: wrap it in ``stream_with_context(...)``.

    Such a body reads with the request's session after the request has ended its transaction, so its
    reads begin another, which nothing else ends: on SQLite it kept the write lock (IMMEDIATE) after
    the download, and every write after it, on any worker, failed with "database is locked"; on
    PostgreSQL the connection stayed idle in a transaction. Here the reads take a read-only
    transaction (SQLite: DEFERRED, no write lock, writes go on during a long download), which ends
    with the body, when it is read to the end or the client goes away.
    """
    session = get_session()

    def body() -> Iterator[str]:
        try:
            if not session.in_transaction():
                session.connection(execution_options={READ_ONLY: True})  # SQLite: DEFERRED
            yield from lines
        finally:
            session.close()
    return body()


def roll_back_request() -> None:
    """Roll the current request's session back now, if it has one (nothing is committed on an error).

    For the error page of an unexpected failure: after a failed flush the session refuses every
    query until rolled back, and the page reads the signed-in person with it.
    """
    session: Session | None = g.get("_cairn_session")
    if session is not None:
        session.rollback()


def get_session() -> Session:
    """The session of the current request or CLI command (created on first use)."""
    if "_cairn_session" not in g:
        g._cairn_session = get_db().session_factory()()
        g._cairn_session_pending = g._cairn_session
    return g._cairn_session
