"""``python -m benchmarks`` / ``cairn bench``: run every phase on SQLite and PostgreSQL.

Each phase records metrics (value, unit, target) per database; the runner prints one table and
writes ``benchmarks/results/<mode>-<time>.json``. A phase whose feature is not on this Cairn yet
records a clear "not available yet" line instead of a number; an error or a failed request makes
the run exit non-zero.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from benchmarks import bulk, generator, servers, world
from benchmarks.load import Client, LoadResult, percentile, run_clients

RESULTS_DIR = Path(__file__).resolve().parent / "results"
T = TypeVar("T")
XAPI_HEADERS = {"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"}


@dataclass(frozen=True)
class Sizes:
    ingest: dict[int, int]            # batch size -> statements per (batch, clients) run
    clients: tuple[int, ...]
    query_levels: tuple[int, ...]     # stored statements at which queries are timed
    query_repeats: int
    more_results: int                 # results to page through by ``more`` links
    scaleout_statements: int
    learners: int
    pathways: int
    progress_statements: int              # per side of the with/without-projection comparison
    load_seconds_cap: float           # stop topping up the store after this long (reported)
    run_seconds_cap: float = 60       # each ingest run stops sending after this long (reported)
    command_seconds_cap: float = 300  # rebuild and export are stopped after this long (reported)
    sqlite_query_max: int = 100_000   # SQLite's query levels stop here (the time budget of a full run)
    lti_launches: int = 300           # per (clients) run of the LTI phase, within run_seconds_cap
    budget_seconds: float = 0         # per database; a phase that would start later is not run (0: none)
    reserve_seconds: float = 0        # of the budget, kept for the phases after the store is loaded
    projection_passes: int = 30       # batches of 100 projected one by one after the rebuild
    projection_round_seconds_cap: float = 15  # each side's round of the projection-cost phase


QUICK = Sizes(ingest={1: 10, 10: 50, 100: 200}, clients=(1, 4), query_levels=(1_000,), query_repeats=10,
              more_results=500, scaleout_statements=200, learners=100, pathways=4, progress_statements=200,
              load_seconds_cap=30, run_seconds_cap=20, command_seconds_cap=60, lti_launches=12,
              projection_passes=5, projection_round_seconds_cap=5)
# The full run fits 30 minutes for both databases on the shared 2-core machine: a budget per database,
# with time caps on every run, load and command (each says so in its note when it stopped something).
# PostgreSQL loads about 2,500 statements/s in bulk, so reaching 1,000,000 takes about 360 s of load;
# SQLite stops at sqlite_query_max and finishes well inside its budget.
FULL = Sizes(ingest={1: 1_000, 10: 5_000, 100: 20_000}, clients=(1, 4), query_levels=(100_000, 1_000_000),
             query_repeats=40, more_results=2_000, scaleout_statements=2_000, learners=10_000, pathways=10,
             progress_statements=40_000, load_seconds_cap=420, run_seconds_cap=20, command_seconds_cap=90,
             budget_seconds=1_150, reserve_seconds=420)


def scaled(sizes: Sizes, factor: float) -> Sizes:
    if factor == 1:
        return sizes
    def n(value: int, least: int) -> int:
        return max(least, int(value * factor))
    return Sizes(ingest={b: n(c, b) for b, c in sizes.ingest.items()}, clients=sizes.clients,
                 query_levels=tuple(n(level, 600) for level in sizes.query_levels),
                 query_repeats=n(sizes.query_repeats, 3), more_results=n(sizes.more_results, 200),
                 scaleout_statements=n(sizes.scaleout_statements, 200), learners=n(sizes.learners, 100),
                 pathways=n(sizes.pathways, 3), progress_statements=n(sizes.progress_statements, 200),
                 load_seconds_cap=sizes.load_seconds_cap, run_seconds_cap=sizes.run_seconds_cap,
                 command_seconds_cap=sizes.command_seconds_cap,
                 sqlite_query_max=n(sizes.sqlite_query_max, 600), lti_launches=n(sizes.lti_launches, 8),
                 projection_passes=n(sizes.projection_passes, 3),
                 projection_round_seconds_cap=sizes.projection_round_seconds_cap,
                 budget_seconds=sizes.budget_seconds, reserve_seconds=sizes.reserve_seconds)


@dataclass
class Metric:
    phase: str
    metric: str
    value: float | str | None
    unit: str = ""
    target: str = ""
    note: str = ""


@dataclass
class Run:
    kind: str
    sizes: Sizes
    workers: int
    workdir: Path
    postgres_url: str
    metrics: list[Metric] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    server: servers.Server | None = None
    headers: dict[str, str] = field(default_factory=dict)
    features: dict[str, bool] = field(default_factory=dict)
    next_index: int = 0               # the next statement index of the generator's stream
    generator: generator.StatementGenerator = field(default_factory=generator.StatementGenerator)
    sequence_ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    profile: bool = False
    loader: Any = None
    started: float = field(default_factory=time.perf_counter)

    def left(self) -> float:
        """Seconds left of this database's budget (infinite without one)."""
        if not self.sizes.budget_seconds:
            return float("inf")
        return self.sizes.budget_seconds - (time.perf_counter() - self.started)

    def profiler(self, name: str) -> Any:
        """py-spy on the workers when ``--profile`` was given (figures measured so are flagged)."""
        if not self.profile or self.server is None:
            return contextlib.nullcontext()
        return servers.Profiler(self.server, RESULTS_DIR / f"profile-{self.kind}-{name}")

    def add(self, phase: str, metric: str, value: float | str | None, unit: str = "", target: str = "",
            note: str = "") -> None:
        self.metrics.append(Metric(phase, metric, value, unit, target, note))

    def skip(self, phase: str, why: str) -> None:
        self.add(phase, "skipped", "not available yet", note=why)

    def take(self, count: int) -> int:
        start, self.next_index = self.next_index, self.next_index + count
        return start


def service_app(database_url: str) -> Any:
    """A Cairn app in this process on ``database_url``, to call services directly (setup, checks)."""
    from cairn import create_app
    return create_app({"DATABASE_URL": database_url, "SECRET_KEY": "benchmark-secret", "AUTO_UPGRADE": False,
                       "SKIP_SCHEMA_CHECK": True, "LOG_LEVEL": "WARNING"})


# -- features present on this Cairn --------------------------------------------------------------
def detect_features(database_url: str) -> dict[str, bool]:
    app = service_app(database_url)
    rules: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        rules.setdefault(rule.rule, set()).update(rule.methods or ())
    commands = app.cli.commands
    progress = commands.get("progress")
    xapi = app.config["XAPI_PATH"]
    return {
        "xapi_statements": "POST" in rules.get(f"{xapi}/statements", set()) and "credentials" in commands,
        "progress_rebuild": progress is not None and "rebuild" in getattr(progress, "commands", {}),
        "lti_launch": any(r.startswith("/lti/") for r in rules),
        "portal": "portal.home" in app.view_functions,
        "compliance_report": "/api/reports/compliance" in rules,
        "export": "export" in commands or any("export" in r for r in rules),
        "projection": bool(app.extensions.get("lrs.subscribers")),
        "world": world.available(),
    }


# -- xAPI helpers ----------------------------------------------------------------------------------
def basic_auth(credential: dict[str, Any]) -> str:
    if "authorization" in credential:
        return str(credential["authorization"])
    key = credential.get("key") or credential.get("username")
    secret = credential.get("secret") or credential.get("password")
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def statement_posts(gen: generator.StatementGenerator, start: int, count: int, batch: int, clients: int,
                    xapi: str) -> Callable[[int], list[tuple[tuple[str, str, bytes | None], int]]]:
    """Client i's share: every clients-th batch of statements [start, start+count)."""
    def make(index: int) -> list[tuple[tuple[str, str, bytes | None], int]]:
        work = []
        for n, offset in enumerate(range(start, start + count, batch)):
            if n % clients == index:
                size = min(batch, start + count - offset)
                body = json.dumps(gen.statements(offset, size), separators=(",", ":")).encode()
                work.append((("POST", f"{xapi}/statements", body), size))
        return work
    return make


def max_sequence(run: Run) -> int:
    return max_sequence_of(run.server.database_url)  # type: ignore[union-attr]


def max_sequence_of(database_url: str) -> int:
    return _count(database_url, "SELECT coalesce(max(sequence), 0) FROM lrs_statements")


def count_statements(run: Run) -> int:
    return _count(run.server.database_url, "SELECT count(*) FROM lrs_statements")  # type: ignore[union-attr]


def _count(database_url: str, sql: str) -> int:
    engine = servers.engine_for(database_url)
    try:
        with engine.connect() as connection:
            from sqlalchemy import text
            return int(connection.execute(text(sql)).scalar())
    finally:
        engine.dispose()


# -- phases ----------------------------------------------------------------------------------------
def phase_ingest(run: Run) -> None:
    """Each ingest run and (with the limit phase) the limit of the same rows, in time-symmetric rounds.

    This machine's speed drifts by a fifth within minutes, and a ratio is only as good as the moment
    both sides share. So each run is sent in two halves around two writes of the first half's rows
    through the driver (ingest, limit, limit, ingest): the two sides' measuring is centred on the
    same moment, and a drift that is steady over the run counts the same on both.
    """
    server = run.server
    assert server is not None
    limit = Limit(run) if _selected("limit") else None
    try:
        for batch, count in run.sizes.ingest.items():
            for clients in run.sizes.clients:
                if limit is None:
                    _ingest_run(run, server, batch, count, clients)
                else:
                    _ingest_and_limit(run, server, limit, batch, count, clients)
    finally:
        if limit is not None:
            limit.close()


@dataclass
class CpuUsed:
    """CPU seconds of one side of a comparison: its own processes, and the local PostgreSQL's."""

    own: float = 0.0
    database: float = 0.0

    def add(self, meter: servers.CpuMeter) -> None:
        self.own += meter.watched
        self.database += meter.database_seconds


def _send(run: Run, server: servers.Server, batch: int, count: int, clients: int,
          seconds_cap: float, cpu: CpuUsed | None = None) -> tuple[LoadResult, tuple[int, int]]:
    """Post ``count`` new statements in batches; return the load and the sequence range stored.

    ``cpu``: add the workers' and PostgreSQL's CPU time of the run to it, up to the moment the
    projection (work after the responses) has caught up with the last statement.
    """
    start = run.take(count)
    first = max_sequence(run) + 1
    servers.checkpoint(server.database_url)
    with servers.CpuMeter(server.worker_pids(), database_url=server.database_url) as meter:
        result = run_clients(server.url, run.headers, clients,
                             statement_posts(run.generator, start, count, batch, clients, "/xapi"),
                             seconds_cap=seconds_cap)
        last = max_sequence(run)
        wait_for_projection(run, last)
    if cpu is not None:
        cpu.add(meter)
    return result, (first, last)


def _ingest_run(run: Run, server: servers.Server, batch: int, count: int, clients: int) -> float | None:
    server.reset_peak_rss()
    cpu = CpuUsed()
    with run.profiler(f"ingest-{batch}x{clients}") if clients == 1 else contextlib.nullcontext():
        result, stored = _send(run, server, batch, count, clients, run.sizes.run_seconds_cap, cpu)
    run.sequence_ranges[f"{batch}x{clients}"] = stored
    return _report_ingest(run, server, batch, count, clients, result, cpu=cpu)


def _ingest_and_limit(run: Run, server: servers.Server, limit: Limit, batch: int, count: int,
                      clients: int) -> None:
    """Ingest half, limit of that half twice, ingest the other half (see ``phase_ingest``)."""
    half = max(batch, count // 2 // batch * batch)
    cap = run.sizes.run_seconds_cap / 2
    server.reset_peak_rss()
    cpu = CpuUsed()
    with run.profiler(f"ingest-{batch}x{clients}") if clients == 1 else contextlib.nullcontext():
        first_half, stored = _send(run, server, batch, half, clients, cap, cpu)
    run.sequence_ranges[f"{batch}x{clients}"] = stored
    limits = limit.write_twice(batch, clients, stored)
    second_half = LoadResult()
    if count > half:
        with run.profiler(f"ingest-{batch}x{clients}-second") if clients == 1 else contextlib.nullcontext():
            second_half, _ = _send(run, server, batch, count - half, clients, cap, cpu)
    rate = _report_ingest(run, server, batch, count, clients, first_half.joined(second_half),
                          note=f"in two halves around the limit's two writes of the first {half:,}", cpu=cpu)
    limit.report(batch, clients, rate, limits)


def _report_ingest(run: Run, server: servers.Server, batch: int, count: int, clients: int, result: LoadResult,
                   note: str = "", cpu: CpuUsed | None = None) -> float | None:
    label = run_label(batch, clients)
    summary = result.summary()
    target = ""
    if batch == 100:
        target = ">= 5000/s"
    capped = f"{result.items:,} of {count:,} sent within the {run.sizes.run_seconds_cap:.0f} s cap" \
        if result.ok and result.items < count else ""
    run.add("ingest", f"{label}: statements/s", summary["per_second"], "/s", target,
            note="; ".join(n for n in (note, capped) if n))
    run.add("ingest", f"{label}: p50 / p95 per request",
            f"{summary['p50_ms']:.1f} / {summary['p95_ms']:.1f}", "ms",
            "p50 < 5 ms" if batch == 1 else "")
    run.add("memory", f"ingest {label}: worker peak RSS", server.peak_rss_mb(), "MB", "< 200 MB")
    if cpu is not None and result.items and batch == 100:
        run.add("ingest", f"{label}: CPU per 100 statements, workers / PostgreSQL",
                _cpu_per_100(cpu, result.items, run.kind), "ms",
                note="until the projection had caught up; PostgreSQL: all its processes on this host"
                if run.kind == "postgresql" else "SQLite works inside the workers")
    if not result.ok:
        run.failures.append(f"ingest {label}: {result.items}/{count} stored; {result.first_error}")
        return None
    return summary["per_second"]


def _cpu_per_100(cpu: CpuUsed, statements: int, kind: str) -> str:
    own = f"{1000 * cpu.own * 100 / statements:.1f}"
    database = f"{1000 * cpu.database * 100 / statements:.1f}" if kind == "postgresql" else "n/a"
    return f"{own} / {database}"


def run_label(batch: int, clients: int) -> str:
    return f"batch {batch}, {clients} client{'s' if clients > 1 else ''}"


class Limit:
    """The database limit (``benchmarks.limit``) of ingest runs' rows, in a fresh database."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.source = servers.engine_for(run.server.database_url)  # type: ignore[union-attr]
        self.url = servers.fresh_database(run.kind, "limit", run.workdir, run.postgres_url)
        self.target = servers.engine_for(self.url)

    def write_twice(self, batch: int, clients: int, stored: tuple[int, int]) -> list[dict[str, Any]]:
        """Write the rows ``stored`` (first, last sequence) again, twice, once the server has finished
        with them: read once, and before each write the rows of the write before are removed, so that
        both meet the tables as a single write did (the earlier runs' rows stay)."""
        from benchmarks.limit import measure_limit, read_rows, remove_rows
        run = self.run
        written: list[dict[str, Any]] = []
        try:
            first, last = stored
            wait_for_projection(run, last)
            data = read_rows(self.source, first, last)
            # SQLite has one writer: extra connections only queue, so it is measured with one.
            connections = clients if run.kind == "postgresql" else 1
            for _ in range(2):
                remove_rows(self.target, first, last)
                servers.checkpoint(self.url)
                with servers.CpuMeter([], database_url=self.url, own=True) as meter:
                    done = measure_limit(self.target, data, batch, connections)
                written.append({**done, "cpu": meter.watched, "database_cpu": meter.database_seconds})
        except Exception as exc:  # noqa: BLE001 - reported; the next ingest runs still run
            traceback.print_exc()
            run.failures.append(f"limit {run_label(batch, clients)}: {exc!r}")
        return written

    def report(self, batch: int, clients: int, rate: float | None, written: list[dict[str, Any]]) -> None:
        """The limit of a run from its writes (statements over seconds, all writes together)."""
        if not written:
            return
        run = self.run
        label = run_label(batch, clients)
        per_second = round(sum(w["statements"] for w in written) / sum(w["seconds"] for w in written), 1)
        connections = written[0]["connections"]
        each = " and ".join(f"{w['per_second']:,.0f}" for w in written)
        run.add("limit", f"{label}: driver statements/s", per_second, "/s",
                note=f"{connections} connection{'s' if connections > 1 else ''}; "
                     f"{len(written)} writes of {written[0]['statements']:,}: {each}/s")
        if batch == 100:
            cpu = CpuUsed(sum(w["cpu"] for w in written), sum(w["database_cpu"] for w in written))
            run.add("limit", f"{label}: CPU per 100 statements, driver / PostgreSQL",
                    _cpu_per_100(cpu, sum(w["statements"] for w in written), run.kind), "ms",
                    note="the driver: the runner's threads, building and sending the rows")
        if rate and per_second:
            run.add("limit", f"{label}: ingest / limit", round(rate / per_second, 3), "",
                    ">= 0.5" if batch == 100 else "")

    def close(self) -> None:
        self.source.dispose()
        self.target.dispose()
        servers.drop_database(self.url)


def wait_for_projection(run: Run, last_sequence: int | None = None, timeout: float = 60.0, *,
                        engine: Any = None, poll_seconds: float = 0.05) -> None:
    """Wait until the server has projected every statement up to ``last_sequence`` (None: every one
    stored by now).

    The last requests of a run project their statements after their responses: a limit (or the
    next run) measured while they still do would share the machine with them. ``engine``: poll on
    the caller's (its pooled connection kept from one call to the next), else on one of this call's.
    """
    if not run.features.get("projection"):
        return
    polling = engine or servers.engine_for(run.server.database_url)  # type: ignore[union-attr]
    try:
        if wait_until_projected(polling, last_sequence, timeout, poll_seconds):
            return
    finally:
        if engine is None:
            polling.dispose()
    print(f"  [{run.kind}] the projection had not reached sequence {last_sequence or 'the last'} "
          f"after {timeout:.0f} s", file=sys.stderr)


def top_up(run: Run, level: int) -> None:
    """Fill the store to ``level`` statements (bulk rows, or over HTTP without), within the time cap."""
    server = run.server
    assert server is not None
    missing = level - count_statements(run)
    if missing <= 0:
        return
    started = time.perf_counter()
    cap = min(run.sizes.load_seconds_cap, max(0.0, run.left() - run.sizes.reserve_seconds))
    loaded = 0
    if bulk.available():
        engine = servers.engine_for(server.database_url)
        try:
            if run.loader is None:
                run.loader = bulk.Loader(engine, run.generator)
            run.loader.engine = engine
            while loaded < missing and time.perf_counter() - started < cap:
                count = min(50_000, missing - loaded)
                run.loader.load(run.take(count), count)
                loaded += count
            run.loader.finish()
        finally:
            engine.dispose()
        note = "LRS-built rows written by COPY/executemany (see benchmarks/bulk.py)"
    else:
        clients = 2 if run.kind == "postgresql" else 1
        while loaded < missing and time.perf_counter() - started < cap:
            count = min(50_000, missing - loaded)
            result = run_clients(server.url, run.headers, clients,
                                 statement_posts(run.generator, run.take(count), count, 500, clients,
                                                 "/xapi"))
            if not result.ok:
                run.failures.append(f"loading to {level}: {result.first_error}")
                return
            loaded += result.items
        note = f"over HTTP, batches of 500, {clients} client{'s' if clients > 1 else ''}"
    seconds = time.perf_counter() - started
    if loaded < missing:
        spent = " (what the budget left)" if cap < run.sizes.load_seconds_cap else ""
        note += f"; stopped at the {cap:.0f} s cap{spent}"
    run.add("load", f"to {level:,}: statements/s", round(loaded / seconds, 1) if seconds else None, "/s",
            note=note)


def _query_string(params: dict[str, str]) -> str:
    from urllib.parse import urlencode
    return urlencode({**params, "limit": "100"})


def phase_queries(run: Run) -> None:
    server = run.server
    assert server is not None
    client = Client(server.url, run.headers)
    for level in run.sizes.query_levels:
        if run.kind == "sqlite" and level > run.sizes.sqlite_query_max:
            run.add("queries", f"at {level:,}", "not measured",
                    note=f"SQLite is measured up to {run.sizes.sqlite_query_max:,} statements (time budget)")
            continue
        top_up(run, level)
        stored = count_statements(run)
        filters = stored_filters(run)
        filters["since/until"] = stored_windows(run, len(filters["since/until"]))
        server.reset_peak_rss()
        with run.profiler(f"queries-{level}"):
            query_filters(run, client, stored, filters)
        follow_more(run, client, stored)
        run.add("memory", f"queries at {stored:,}: worker peak RSS", server.peak_rss_mb(), "MB", "< 200 MB")


def stored_filters(run: Run, how_many: int = 20) -> dict[str, list[dict[str, str]]]:
    """Filter values from statements really stored (capped runs leave holes in the generated stream)."""
    import random

    from sqlalchemy import text
    top = max_sequence(run)
    rng = random.Random(top)
    engine = servers.engine_for(run.server.database_url)  # type: ignore[union-attr]
    picked: list[dict[str, Any]] = []
    try:
        with engine.connect() as connection:
            for _ in range(how_many * 10):
                if len(picked) >= how_many:
                    break
                row = connection.execute(text("SELECT statement FROM lrs_statements WHERE sequence = :s"),
                                         {"s": rng.randint(1, top)}).first()
                statement = row[0] if row else None
                if isinstance(statement, str):
                    statement = json.loads(statement)
                if (statement and "context" in statement
                        and statement["object"].get("objectType", "Activity") == "Activity"):
                    picked.append(statement)
    finally:
        engine.dispose()
    return generator.filters_from(picked)


def stored_windows(run: Run, how_many: int) -> list[dict[str, str]]:
    """since/until filter ``stored``: one-minute windows ending at stored times of sampled statements."""
    import random
    from datetime import timedelta

    from sqlalchemy import text
    engine = servers.engine_for(run.server.database_url)  # type: ignore[union-attr]
    top = max_sequence(run)
    picks = random.Random(top).sample(range(1, top + 1), min(how_many, top))
    try:
        with engine.connect() as connection:
            stored = [connection.execute(text("SELECT stored FROM lrs_statements WHERE sequence = :s"),
                                         {"s": s}).scalar() for s in picks]
    finally:
        engine.dispose()
    windows = []
    for moment in stored:
        if isinstance(moment, str):  # SQLite through the raw column
            moment = datetime.fromisoformat(moment)
        if moment is None:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        windows.append({"since": (moment - timedelta(minutes=1)).isoformat(), "until": moment.isoformat()})
    return windows


def query_filters(run: Run, client: Client, stored: int, filters: dict[str, list[dict[str, str]]]) -> None:
    for name, values in filters.items():
            latencies, empty = [], 0
            first = time.perf_counter()
            for i in range(run.sizes.query_repeats):
                if latencies and time.perf_counter() - first > run.sizes.run_seconds_cap / 2:
                    break  # the note says how many were sent
                params = values[i % len(values)]
                response = client.request("GET", f"/xapi/statements?{_query_string(params)}")
                if response.status != 200:
                    run.failures.append(f"query {name}: {response.status} {response.body[:200]!r}")
                    break
                if not json.loads(response.body)["statements"]:
                    empty += 1
                latencies.append(response.ms)
            run.add("queries", f"at {stored:,}: {name} p50 / p95",
                    f"{percentile(latencies, 50):.1f} / {percentile(latencies, 95):.1f}", "ms", "p95 < 20 ms",
                    note="; ".join(n for n in (
                        f"{empty} of {len(latencies)} empty" if empty else "",
                        f"{len(latencies)} of {run.sizes.query_repeats} requests within the "
                        f"{run.sizes.run_seconds_cap / 2:.0f} s cap"
                        if len(latencies) < run.sizes.query_repeats else "") if n))


def follow_more(run: Run, client: Client, stored: int) -> None:
    """Follow ``more`` links through the newest N statements."""
    latencies, seen = [], 0
    path = "/xapi/statements?limit=100"
    started = time.perf_counter()
    while path and seen < run.sizes.more_results:
        response = client.request("GET", path)
        if response.status != 200:
            run.failures.append(f"more links: {response.status} {response.body[:200]!r}")
            break
        page = json.loads(response.body)
        seen += len(page["statements"])
        latencies.append(response.ms)
        more = page.get("more") or ""
        path = "/" + more.split("://", 1)[1].split("/", 1)[1] if "://" in more else more
    run.add("queries", f"at {stored:,}: {seen:,} results by more links, total",
            round((time.perf_counter() - started) * 1000), "ms")
    run.add("queries", f"at {stored:,}: more-link page p50 / p95",
            f"{percentile(latencies, 50):.1f} / {percentile(latencies, 95):.1f}", "ms", "p95 < 20 ms")


ADMIN = ("bench-admin@example.org", "benchmark admin password")
LEARNER_PASSWORD = "benchmark learner password"


def signed_in(run: Run, email: str, password: str) -> Any:
    """A requests session signed in to the main server through the real sign-in form."""
    import re

    import requests
    server = run.server
    assert server is not None
    browser = requests.Session()
    form = browser.get(f"{server.url}/signin", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if token is None:
        raise RuntimeError("no csrf_token on the sign-in page")
    done = browser.post(f"{server.url}/signin", data={"email": email, "password": password,
                                                      "csrf_token": token.group(1), "next": ""},
                        allow_redirects=False, timeout=30)
    if done.status_code not in (302, 303):
        raise RuntimeError(f"sign-in as {email} failed: {done.status_code}")
    return browser


def _timed_gets(run: Run, browser: Any, url: str, repeats: int) -> list[float]:
    """GET ``url`` ``repeats`` times, or fewer if the run's time cap is reached (at least once)."""
    latencies: list[float] = []
    first = time.perf_counter()
    for _ in range(repeats):
        if latencies and time.perf_counter() - first > run.sizes.run_seconds_cap:
            break
        started = time.perf_counter()
        response = browser.get(url, timeout=120, allow_redirects=False)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            run.failures.append(f"pages: GET {url} -> {response.status_code}: {response.text[:200]}")
            break
    return latencies


def phase_pages(run: Run) -> None:
    """p50/p95 of the admin compliance report and the learner home page, signed in as each."""
    server = run.server
    assert server is not None
    learners = f"{run.sizes.learners:,} learners"
    server.reset_peak_rss()
    if run.features["compliance_report"]:
        server.cli("users", "create-admin", "--email", ADMIN[0], "--password", ADMIN[1])
        admin = signed_in(run, *ADMIN)
        for kind in ("overdue", "expiring"):
            latencies = _timed_gets(run, admin, f"{server.url}/api/reports/compliance?kind={kind}",
                                    run.sizes.query_repeats // 2 or 1)
            run.add("pages", f"admin compliance report ({kind}, JSON API) p50 / p95",
                    f"{percentile(latencies, 50):.1f} / {percentile(latencies, 95):.1f}", "ms",
                    note=f"{learners}, {len(latencies)} requests")
        _time_dashboard(run, "before the store is loaded", admin)
    else:
        run.skip("pages", "the admin compliance report is not on main yet")
    if run.features["portal"]:
        learner = signed_in(run, world.LEARNER_EMAIL, LEARNER_PASSWORD)
        home = learner.get(f"{server.url}/", allow_redirects=False, timeout=30)
        url = home.headers.get("Location", "/")
        url = url if url.startswith("http") else f"{server.url}{url}"
        latencies = _timed_gets(run, learner, url, run.sizes.query_repeats // 2 or 1)
        run.add("pages", "learner home page p50 / p95",
                f"{percentile(latencies, 50):.1f} / {percentile(latencies, 95):.1f}", "ms", note=learners)
    else:
        run.skip("pages", "the learner home page (portal) is not on main yet")
    run.add("memory", "pages: worker peak RSS", server.peak_rss_mb(), "MB", "< 200 MB")


def phase_lti(run: Run) -> None:
    """Whole LTI launch round trips (login -> platform auth -> id_token post -> final page) per second."""
    from benchmarks import lti
    server = run.server
    assert server is not None
    with lti.platform_for(server) as platform:
        lti.round_trip(server.url, lti.login_params(platform, 1, "warm")[0])  # Cairn fetches the JWKS here
        fetched = platform.jwks_requests
        for clients in run.sizes.clients:
            count = run.sizes.lti_launches
            params = lti.login_params(platform, count + 1, f"c{clients}")
            # The course, its resource link and class exist before the clock starts (its first launch
            # creates them): the timed launches are learners arriving in a running course.
            lti.round_trip(server.url, params.pop())
            server.reset_peak_rss()
            result, steps = lti.run_launches(server.url, params, clients, run.sizes.run_seconds_cap)
            label = f"{clients} client{'s' if clients > 1 else ''}"
            cap = run.sizes.run_seconds_cap
            capped = f"{result.items:,} of {count:,} launched within the {cap:.0f} s cap" \
                if result.items < count and not result.first_error else ""
            run.add("lti", f"{label}: launches/s", round(result.items_per_second, 1), "/s",
                    note=capped or f"{result.items:,} launches, each by a new learner (account created)")
            latencies = result.latencies_ms
            run.add("lti", f"{label}: p50 / p95 per launch round trip",
                    f"{percentile(latencies, 50):.1f} / {percentile(latencies, 95):.1f}", "ms",
                    note="login -> platform auth -> id_token POST -> final page")
            run.add("lti", f"{label}: p50 per step, " + " / ".join(steps),
                    " / ".join(f"{percentile(v, 50):.1f}" for v in steps.values()), "ms",
                    note="the server's time to answer each request (the platform auth is the runner's)")
            run.add("memory", f"lti {label}: worker peak RSS", server.peak_rss_mb(), "MB", "< 200 MB")
            if result.first_error:
                run.failures.append(f"lti {label}: {result.statuses.get('failed', 0)} launches failed; "
                                    f"{result.first_error}")
        again = platform.jwks_requests - fetched
    run.add("lti", "platform JWKS fetches: first launch / all later launches", f"{fetched} / {again}", "",
            "1 / 0", note="keys cached by Cairn (in the platform's row) after the first launch" if not again
            else "Cairn fetched the JWKS again: the platform keys are not cached")


def phase_scaleout(run: Run) -> None:
    if run.kind != "postgresql":
        run.add("scale-out", "two servers", "n/a", note="SQLite is one file on one host")
        return
    url = servers.fresh_database(run.kind, "scaleout", run.workdir, run.postgres_url)
    first = servers.Server(url, workers=run.workers, log_path=run.workdir / "scaleout-a.log")
    second = servers.Server(url, workers=run.workers, log_path=run.workdir / "scaleout-b.log")
    try:
        first.start()
        second.start()
        credential = servers.create_credentials(first)
        headers = {**XAPI_HEADERS, "Authorization": basic_auth(credential or {})}
        count = run.sizes.scaleout_statements
        gen = generator.StatementGenerator(seed=2)
        # Each client talks to one server; every statement is sent once, then 5% are sent again
        # to the other server (an idempotent re-send must not duplicate).
        make_a = statement_posts(gen, 0, count, 100, 4, "/xapi")
        started = time.perf_counter()
        results = []
        import threading

        def drive(server: servers.Server, indices: tuple[int, int]) -> None:
            results.append(run_clients(server.url, headers, 2, lambda i: make_a(indices[i])))
        threads = [threading.Thread(target=drive, args=(first, (0, 2))),
                   threading.Thread(target=drive, args=(second, (1, 3)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        stored = sum(r.items for r in results)
        run.add("scale-out", "2 servers x 2 clients, batch 100: statements/s", round(stored / seconds, 1),
                "/s")
        resend = run_clients(second.url, headers, 1, statement_posts(gen, 0, count // 20, 100, 1, "/xapi"))
        for result in [*results, resend]:
            if not result.ok:
                run.failures.append(f"scale-out: {result.first_error}")
        engine = servers.engine_for(url)
        from sqlalchemy import text
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT statement_id, sequence FROM lrs_statements")).all()
        engine.dispose()
        ids = [r[0] for r in rows]
        expected = {generator.statement_id(2, i) for i in range(count)}
        lost, duplicated = len(expected - set(ids)), len(ids) - len(set(ids))
        sequences_unique = len({r[1] for r in rows}) == len(rows)
        run.add("scale-out", "statements lost / duplicated", f"{lost} / {duplicated}", "", "0 / 0")
        run.add("scale-out", "sequence numbers unique", "yes" if sequences_unique else "NO", "", "yes")
        if lost or duplicated or not sequences_unique:
            run.failures.append(f"scale-out: {lost} lost, {duplicated} duplicated, unique={sequences_unique}")
        _taken_twice(run, first, second)
    finally:
        first.stop()
        second.stop()
        servers.drop_database(url)


def _taken_twice(run: Run, first: servers.Server, second: servers.Server) -> None:
    """No LTI nonce and no queued item is taken by both servers (see benchmarks/scaleout.py)."""
    from benchmarks import scaleout
    checks = []
    if run.features["lti_launch"]:
        checks.append(scaleout.nonces(first, second, max(10, run.sizes.lti_launches // 15)))
    checks.append(scaleout.queued(first, second, 4, run.sizes.command_seconds_cap))
    nonce, items = (checks[0].taken_twice if len(checks) == 2 else "n/a"), checks[-1].taken_twice
    run.add("scale-out", "nonces / queued items taken twice", f"{nonce} / {items}", "", "0 / 0",
            note="; ".join(c.note for c in checks))
    for check in checks:
        if check.taken_twice or check.wrong:
            run.failures.append(f"scale-out: {check.taken_twice} taken twice, {check.wrong} wrong: "
                                f"{check.note}")


@dataclass
class CommandRun:
    seconds: float
    peak_mb: float
    returncode: int | None   # None: stopped at the time cap
    output: str


def cairn_command(run: Run, args: list[str], name: str) -> CommandRun:
    """``cairn ARGS`` against the main database: wall time and peak RSS, stopped at the cap."""
    server = run.server
    assert server is not None
    log = run.workdir / f"{name}.log"
    with open(log, "wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-c", "from cairn.cli import main; main()", *args],
                                   env=server.env(), cwd=servers.ROOT, stdout=out, stderr=out)
        peak_kb = 0
        while process.poll() is None:  # VmHWM is the peak so far; read it until the process ends
            peak_kb = max(peak_kb, servers._status_kb(process.pid, "VmHWM"))
            if time.perf_counter() - started > run.sizes.command_seconds_cap:
                process.kill()
                process.wait()
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
    killed = process.returncode is not None and seconds > run.sizes.command_seconds_cap
    return CommandRun(seconds, round(peak_kb / 1024, 1), None if killed else process.returncode,
                      log.read_text(errors="replace")[-500:])


def phase_export(run: Run) -> None:
    """``cairn statements export`` of the whole store: statements/s and the exporting process's peak RSS."""
    server = run.server
    assert server is not None
    total = count_statements(run)
    for fmt in ("jsonl", "csv"):
        output = run.workdir / f"{run.kind}-export.{fmt}"
        done = cairn_command(run, ["statements", "export", "--format", fmt, "--output", str(output)],
                             f"export-{fmt}")
        lines = sum(1 for _ in output.open("rb")) if output.exists() else 0
        exported = max(0, lines - 1 if fmt == "csv" else lines)
        output.unlink(missing_ok=True)
        if done.returncode is None:
            run.add("export", f"{fmt}: statements/s", round(exported / done.seconds), "/s",
                    note=f"stopped at the {run.sizes.command_seconds_cap:.0f} s cap "
                         f"after {exported:,} of {total:,}")
        else:
            run.add("export", f"{fmt}: statements/s",
                    round(exported / done.seconds) if done.seconds else None,
                    "/s", note=f"{exported:,} statements in {done.seconds:.1f} s (incl. process start)")
            if done.returncode != 0 or exported != total:
                run.failures.append(f"export {fmt}: {exported}/{total} exported, exit {done.returncode}: "
                                    f"{done.output}")
        run.add("memory", f"export {fmt} of {total:,}: process peak RSS", done.peak_mb, "MB",
                "constant in the number of statements")


def round_order(n: int, sides: Sequence[T]) -> list[T]:
    """Round ``n``'s order of two sides run in alternating rounds: A B, B A, B A, A B, then again,
    so that a drift of the machine's speed over the rounds falls on both alike."""
    return list(sides) if n % 4 in (0, 3) else list(reversed(sides))


def wait_until_projected(engine: Any, last_sequence: int | None = None, timeout: float = 60.0,
                         poll_seconds: float = 0.05) -> bool:
    """Poll ``engine``'s database until its projection cursor reaches ``last_sequence`` (None: the
    newest statement stored by now); False if it has not within ``timeout`` seconds."""
    from sqlalchemy import BigInteger, bindparam, text
    query = text("SELECT coalesce((SELECT max(last_sequence) FROM progress_cursor), 0) >= "
                 "coalesce(:last, (SELECT max(sequence) FROM lrs_statements), 0)"
                 ).bindparams(bindparam("last", type_=BigInteger()))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.execute(query, {"last": last_sequence}).scalar():
                return True
        time.sleep(poll_seconds)
    return False


# -- the run ---------------------------------------------------------------------------------------
def run_database(kind: str, sizes: Sizes, workers: int, workdir: Path, postgres_url: str,
                 profile: bool = False) -> Run:
    run = Run(kind=kind, sizes=sizes, workers=workers, workdir=workdir, postgres_url=postgres_url,
              profile=profile)
    population = generator.Population(learners=sizes.learners)
    run.generator = generator.StatementGenerator(population=population)
    template = servers.fresh_database(kind, "world", workdir, postgres_url)
    run.features = detect_features(template)
    if run.features["world"]:
        def build_world(run: Run) -> None:
            built = world.build(template, population, sizes.pathways)
            run.add("setup", "learners / pathways (8 steps) / assignments",
                    f"{built['learners']:,} / {built['pathways']} / {built['assignments']}",
                    note=f"built through the services in {built['seconds']} s")
        _guarded(run, "world", build_world)
    else:
        run.skip("setup", "pathways services are not on main yet: no learners or pathways")
    url = servers.clone_database(template, "main", workdir)
    server = servers.Server(url, workers=workers, log_path=workdir / f"{kind}.log")
    run.server = server
    try:
        server.start()
        run.add("server", "workers", workers)
        run.add("memory", "idle worker RSS", server.peak_rss_mb(), "MB", "< 200 MB")
        if not run.features["xapi_statements"]:
            for phase in ("ingest", "limit", "queries", "scale-out"):
                run.skip(phase, "POST /xapi/statements or `cairn credentials` is not on main yet")
        else:
            _guarded(run, "credentials", _authorise)
            if run.headers:
                # The limit is measured inside the ingest phase, run by run; either name selects it.
                _guarded(run, "ingest and limit" if _selected("limit") else "ingest", phase_ingest)
        # LTI and pages before the store is loaded for queries: they do not read statements, and the
        # budget must not cut them.
        if run.features["lti_launch"]:
            _guarded(run, "lti", phase_lti)
        if run.features["world"] and (run.features["compliance_report"] or run.features["portal"]):
            _guarded(run, "pages", phase_pages)
        if run.features["xapi_statements"] and run.headers:
            _guarded(run, "queries", phase_queries)
            if run.features["progress_rebuild"]:
                _guarded(run, "progress rebuild", phase_rebuild)
        for feature, phase, why in (
                ("progress_rebuild", "progress", "`cairn progress rebuild` is not on main yet"),
                ("lti_launch", "lti", "LTI launch endpoints are not on main yet"),
                ("export", "export", "statement export is not on main yet")):
            if not run.features[feature]:
                run.skip(phase, why)
        if run.features["export"] and run.headers:
            _guarded(run, "export", phase_export)
        # A feature on main whose benchmark phase is not written yet must still show a row.
        for phase in ("progress", "lti", "pages", "export"):
            if not any(m.phase == phase for m in run.metrics) and phase not in DEFERRED_PHASES \
                    and _selected(phase):
                run.skip(phase, f"the {phase} phase of the benchmark is not written yet")
    finally:
        server.stop()
    if run.features["xapi_statements"]:
        _guarded(run, "scale-out", phase_scaleout)
        if run.features["projection"] and run.features["world"]:
            _guarded(run, "projection cost", lambda r: phase_projection_cost(r, template))
        else:
            run.skip("progress", "no statement subscriber (progress projection) on main yet")
    servers.drop_database(url)
    servers.drop_database(template)
    return run


# Phases measured after the main server stops (they add their rows later).
DEFERRED_PHASES = {"progress"}


def phase_rebuild(run: Run) -> None:
    """``cairn progress rebuild`` on everything stored so far: wall time and the process's peak RSS."""
    server = run.server
    assert server is not None
    stored = count_statements(run)
    done = cairn_command(run, ["progress", "rebuild"], "rebuild")
    if done.returncode is None:
        run.add("progress", f"rebuild of {stored:,} statements", f"> {done.seconds:.0f}", "s",
                "< 60 s at 1,000,000", note="stopped at the time cap")
    elif done.returncode != 0:
        run.failures.append(f"cairn progress rebuild exited {done.returncode}: {done.output}")
        return
    else:
        run.add("progress", f"rebuild of {stored:,} statements", round(done.seconds, 1), "s",
                "< 60 s at 1,000,000", note="incl. process start")
    run.add("memory", f"progress rebuild of {stored:,}: peak RSS", done.peak_mb, "MB", "< 200 MB")
    if done.returncode == 0:
        phase_projection_passes(run, stored)
        if run.features["compliance_report"]:
            _time_dashboard(run, f"with {stored:,} statements projected")


def _time_dashboard(run: Run, when: str, admin: Any = None) -> None:
    """The administrators' dashboard (its weekly participation reads the facts of the last weeks),
    as ``admin`` (a signed-in session), or as the benchmark's administrator, made if missing."""
    server = run.server
    assert server is not None
    if admin is None:
        server.cli("users", "create-admin", "--email", ADMIN[0], "--password", ADMIN[1], check=False)
        admin = signed_in(run, *ADMIN)
    latencies = _timed_gets(run, admin, f"{server.url}/admin/", run.sizes.query_repeats // 2 or 1)
    run.add("pages", f"admin dashboard {when}: p50 / p95",
            f"{percentile(latencies, 50):.1f} / {percentile(latencies, 95):.1f}", "ms",
            note=f"{len(latencies)} requests, signed in through the form")


# Batches of 100 projected after the rebuild before the measured ones (they warm the caches up).
PROJECTION_WARM_UP = 5


def phase_projection_passes(run: Run, stored: int) -> None:
    """The projection's pass over one stored batch of 100, with the whole store projected before it.

    The projection-cost phase measures the projection on a young store (its two servers start
    from the world alone); here every learner has a history (about 100 facts each at 1,000,000),
    which the derivation reads again for each learner a batch touches. In this process, with the
    server idle: each batch is stored without subscribers, then projected as the server's
    subscriber projects it after a response (``catch_up`` with the batch, reusing plans); the
    wall time and this process's CPU of each pass (the database's work is in the wall time only).
    """
    from benchmarks.app import SUBSCRIBERS_KEY
    from cairn.db import get_session
    from lrs import services as lrs_services
    from pathways.projection import catch_up, record_earned
    server = run.server
    assert server is not None
    app = service_app(server.database_url)
    app.extensions[SUBSCRIBERS_KEY] = []
    gen = generator.StatementGenerator(seed=5, population=run.generator.population)
    authority = {"objectType": "Agent", "account": {"homePage": "https://bench.example.org", "name": "bench"}}
    walls: list[float] = []
    cpus: list[float] = []
    with app.app_context():
        session = get_session()
        for n in range(run.sizes.projection_passes + PROJECTION_WARM_UP):
            batch = lrs_services.store_statements(session, gen.statements(n * 100, 100), authority=authority)
            session.commit()
            started, cpu = time.perf_counter(), time.process_time()
            earned: list[tuple[int, int]] = []
            catch_up(session, batch=batch, earned=earned, reusing_plans=True)
            session.commit()
            if n >= PROJECTION_WARM_UP:
                walls.append((time.perf_counter() - started) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
            if earned:  # their statements, and their own pass, as a server would store them (not timed)
                record_earned(session, earned)
                session.commit()
                catch_up(session)
                session.commit()
    run.add("progress", f"projection pass of 100 statements with {stored:,} projected: wall p50 / p95",
            f"{percentile(walls, 50):.1f} / {percentile(walls, 95):.1f}", "ms",
            note=f"{run.sizes.projection_passes} batches, one pass each, in the runner's process (server "
                 f"idle); its CPU {statistics.mean(cpus):.1f} ms a pass, the rest is the database's work and "
                 "the round trips; compare the projection-cost rows (a young store)")


PROJECTION_COST_ROUNDS = 8


def phase_projection_cost(run: Run, template: str) -> None:
    """The same statements into two copies of the same world, with and without the projection.

    Both servers run side by side and take the statements in alternating rounds (with, without,
    without, with, ...), each round from a checkpoint and once the other server has projected what
    it was sent: two runs one after the other measured the machine's drift as much as the
    projection (the share swung from 1% to 27% between runs of the same code).

    With 1 client the projection, done after the response, mostly overlaps the next request (the
    other worker takes it): the share is what a client waits for. With 4 clients the two cores
    are busy and the share is the projection's cost in throughput, per statement. The share is
    taken from all rounds' statements and seconds; each pair of rounds run back to back gives one
    too, and their spread is reported beside it (with 4 rounds of about 1 s each, the share of two
    runs of the same code was 33% and 55%).
    """
    count = run.sizes.progress_statements
    per_round = max(100, count // PROJECTION_COST_ROUNDS // 100 * 100)
    sides: dict[str, tuple[str, servers.Server, dict[str, str]]] = {}
    watch = None
    try:
        for label, app in (("with", "cairn:create_app()"),
                           ("without", "benchmarks.app:create_app_without_projection()")):
            url = servers.clone_database(template, f"projection_{label}", run.workdir)
            server = servers.Server(url, workers=run.workers, app=app,
                                    log_path=run.workdir / f"projection-{label}.log")
            sides[label] = (url, server, {})  # stopped and dropped below even if it fails to start
            server.start()
            credential = servers.create_credentials(server)
            sides[label] = (url, server, {**XAPI_HEADERS, "Authorization": basic_auth(credential or {})})
        gen = generator.StatementGenerator(seed=3, population=run.generator.population)
        cap = run.sizes.projection_round_seconds_cap
        offset = 0
        watch = servers.engine_for(sides["with"][0])
        for clients in run.sizes.clients:
            totals = {"with": [0, 0.0], "without": [0, 0.0]}
            pairs: list[float] = []  # each round's share, from its two sides run back to back
            for n in range(PROJECTION_COST_ROUNDS):
                order = round_order(n, ("with", "without"))
                this_round: dict[str, float] = {}
                for label in order:
                    url, server, headers = sides[label]
                    servers.checkpoint(url)
                    result = run_clients(server.url, headers, clients,
                                         statement_posts(gen, offset, per_round, 100, clients, "/xapi"),
                                         seconds_cap=cap)
                    if not result.ok:
                        run.failures.append(
                            f"projection cost ({label}, {clients} clients): {result.first_error}")
                        return
                    seconds = result.seconds
                    if label == "with":
                        # The last requests project after their responses: until the projection has
                        # caught up the round is not over (a few milliseconds of polling count too).
                        sent = time.perf_counter()
                        wait_for_projection(run, engine=watch, poll_seconds=0.005)
                        seconds += time.perf_counter() - sent
                    totals[label][0] += result.items
                    totals[label][1] += seconds
                    this_round[label] = result.items / seconds
                pairs.append(1 - this_round["with"] / this_round["without"])
                offset += per_round
            _report_projection_cost(run, clients, totals, pairs)
    finally:
        if watch is not None:
            watch.dispose()
        for url, server, _headers in sides.values():
            server.stop()
            servers.drop_database(url)


def _report_projection_cost(run: Run, clients: int, totals: dict[str, list[float]],
                            pairs: list[float]) -> None:
    rates = {label: items / seconds for label, (items, seconds) in totals.items()}
    share = 1 - rates["with"] / rates["without"]
    who = "1 client" if clients == 1 else f"{clients} clients"
    run.add("progress", f"ingest batch 100, {who}, with / without the projection",
            f"{rates['with']:.0f} / {rates['without']:.0f}", "/s")
    busy = "" if clients == 1 else "; both cores busy: the share is the projection's cost in throughput"
    run.add("progress", f"projection share of ingest time, {who}", round(100 * share, 1), "%", "< 20%",
            note=f"{int(totals['with'][0]):,} statements each, in {len(pairs)} alternating rounds "
                 f"({run.sizes.projection_round_seconds_cap:.0f} s cap each); round by round "
                 f"{100 * min(pairs):.1f} to {100 * max(pairs):.1f}%, "
                 f"median {100 * statistics.median(pairs):.1f}%; "
                 f"about {run.sizes.learners:,} learners with assigned pathways{busy}")


def _authorise(run: Run) -> None:
    credential = servers.create_credentials(run.server)  # type: ignore[arg-type]
    if credential is None:
        raise RuntimeError("`cairn credentials create` is missing although POST /xapi/statements exists")
    run.headers = {**XAPI_HEADERS, "Authorization": basic_auth(credential)}


# --phases: run only these (setup always runs); None runs every phase.
SELECTED_PHASES: set[str] | None = None
PHASE_NAMES = ("ingest", "limit", "queries", "rebuild", "export", "lti", "pages", "scale-out", "projection")


# Phases of bounded size that the issue asks for in every full run: the budget never cuts them (each
# has its own caps); the open-ended ones (the store's load, queries, rebuild, export...) share the rest.
BUDGET_EXEMPT = {"world", "credentials", "ingest", "ingest and limit", "lti", "pages", "scale-out"}


def _selected(name: str) -> bool:
    """Whether --phases asked for the phase ``name`` (setup always runs)."""
    return SELECTED_PHASES is None or name in ("world", "credentials") or \
        name.split()[-1] in SELECTED_PHASES or name.split()[0] in SELECTED_PHASES


def _guarded(run: Run, name: str, phase: Callable[[Run], None]) -> None:
    if not _selected(name):
        return
    if run.left() <= 0 and name not in BUDGET_EXEMPT:
        budget = run.sizes.budget_seconds / 60
        run.add(name.split()[-1], "not measured", "budget spent",
                note=f"the full run's {budget:.1f}-minute budget per database was spent")
        print(f"  [{run.kind}] {name} not run: budget spent", file=sys.stderr)
        return
    started = time.perf_counter()
    try:
        phase(run)
    except Exception as exc:  # noqa: BLE001 - one phase's failure is reported, the others still run
        traceback.print_exc()
        run.failures.append(f"{name}: {exc!r}")
    print(f"  [{run.kind}] {name} done in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def commit() -> str:
    if os.environ.get("CAIRN_BENCH_COMMIT"):  # a run from an exported snapshot of the tree
        return os.environ["CAIRN_BENCH_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=servers.ROOT, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def table(runs: list[Run]) -> str:
    kinds = [r.kind for r in runs]
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:
        for m in run.metrics:
            row = rows.setdefault((m.phase, m.metric), {"unit": m.unit, "target": m.target, "notes": {}})
            row[run.kind] = m.value
            if m.note:
                row["notes"][run.kind] = m.note
    header = ["phase", "metric", *kinds, "unit", "target", "note"]
    lines = [header]
    for (phase, metric), row in rows.items():
        notes = row["notes"]
        note = (next(iter(notes.values())) if len(set(notes.values())) == 1 and len(notes) == len(kinds)
                else "; ".join(f"{k}: {v}" for k, v in notes.items()))
        lines.append([phase, metric, *[str(row.get(k, "")) for k in kinds], row["unit"], row["target"], note])
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
           for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def write_report(args: argparse.Namespace, mode: str, sizes: Sizes, runs: list[Run], failures: list[str],
                 seconds: float) -> tuple[dict[str, Any], Path]:
    """Write the JSON report (also after each database, so a stopped full run keeps what it measured)."""
    report = {"load_average_1_5_15": list(os.getloadavg()), "mode": mode,
              "date": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit(),
              "machine": machine(), "workers": args.workers, "seconds": round(seconds, 1),
              "sizes": asdict(sizes), "profiled": args.profile, "failures": failures,
              "results": {run.kind: [asdict(m) for m in run.metrics] for run in runs}}
    output = args.output or RESULTS_DIR / f"{mode}-{args.started:%Y%m%dT%H%M%S}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2))
    return report, output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="every phase at small sizes (CI; under 2 minutes)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--postgres-url", default=servers.DEFAULT_POSTGRES,
                        help="PostgreSQL URL whose database name prefixes the benchmark's databases")
    parser.add_argument("--output", type=Path, default=None, help="JSON file to write")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the workers during ingest (1 client) and queries; "
                             "see benchmarks.profiles")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every size (e.g. 0.1 for a smoke test)")
    parser.add_argument("--phases", default="", help=f"comma-separated subset of: {', '.join(PHASE_NAMES)}")
    args = parser.parse_args(argv)
    args.started = datetime.now(UTC)
    global SELECTED_PHASES
    SELECTED_PHASES = {p.strip() for p in args.phases.split(",") if p.strip()} or None
    sizes = scaled(QUICK if args.quick else FULL, args.scale)
    mode = "quick" if args.quick else "full"
    started = time.perf_counter()
    runs: list[Run] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cairn-bench-") as tmp:
        workdir = Path(tmp)
        for kind in [k.strip() for k in args.databases.split(",") if k.strip()]:
            if kind == "postgresql" and not servers.postgres_available(args.postgres_url):
                failures.append(f"PostgreSQL is not reachable at {args.postgres_url}")
                continue
            print(f"== {kind} ({mode})", file=sys.stderr)
            run = run_database(kind, sizes, args.workers, workdir, args.postgres_url, args.profile)
            runs.append(run)
            failures.extend(f"{kind}: {f}" for f in run.failures)
            write_report(args, mode, sizes, runs, failures, time.perf_counter() - started)
            if run.failures:
                for log in workdir.glob("*.log"):
                    tail = log.read_text(errors="replace")[-3000:]
                    if tail.strip():
                        print(f"--- {log.name} (tail)\n{tail}", file=sys.stderr)
    seconds = time.perf_counter() - started
    report, output = write_report(args, mode, sizes, runs, failures, seconds)
    print(f"Cairn benchmark ({mode}), {report['date']}, commit {report['commit']}, {report['machine']}, "
          f"{args.workers} workers, {seconds:.0f} s, load average {os.getloadavg()[1]:.2f} (5 min)")
    print(table(runs))
    print(f"results written to {output}")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0
