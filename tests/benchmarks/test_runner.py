"""The benchmark runner, end to end at a tiny scale: real servers, real HTTP, a JSON report."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.load import percentile
from benchmarks.runner import QUICK, Metric, Run, table
from tests.benchmarks import postgres_url

ROOT = Path(__file__).resolve().parents[2]


def test_percentile_is_the_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) == 0.0


def test_table_puts_each_database_in_its_own_column(tmp_path) -> None:
    sqlite = Run("sqlite", QUICK, 2, tmp_path, "")
    postgres = Run("postgresql", QUICK, 2, tmp_path, "")
    sqlite.metrics.append(Metric("ingest", "rate", 10.0, "/s", ">= 5"))
    postgres.metrics.append(Metric("ingest", "rate", 20.0, "/s", ">= 5"))
    lines = table([sqlite, postgres]).splitlines()
    assert lines[0].split("|")[3].strip() == "sqlite" and lines[0].split("|")[4].strip() == "postgresql"
    assert [c.strip() for c in lines[2].split("|")[1:-1]] == \
        ["ingest", "rate", "10.0", "20.0", "/s", ">= 5", ""]


def _quick_run(tmp_path: Path, phases: str) -> tuple[str, list[dict], subprocess.CompletedProcess[str]]:
    """``benchmarks --quick --scale 0.2`` on PostgreSQL if the tests have it, else SQLite, for
    ``phases``: the database's name, its metrics from the JSON report and the finished process."""
    output = tmp_path / "report.json"
    args = [sys.executable, "-m", "benchmarks", "--quick", "--scale", "0.2", "--output", str(output),
            "--phases", phases]
    postgres = postgres_url("bench")
    args += (["--databases", "postgresql", "--postgres-url", postgres] if postgres
             else ["--databases", "sqlite"])
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    kind = "postgresql" if postgres else "sqlite"
    return kind, json.loads(output.read_text())["results"][kind], done


@pytest.mark.e2e
def test_quick_run_at_a_tiny_scale_measures_ingest_limit_and_queries_and_exits_zero(tmp_path) -> None:
    # The suite runs the core phases only, to stay fast; .ci/run runs every phase with --quick.
    kind, results, done = _quick_run(tmp_path, "ingest,limit,queries")
    postgres = kind == "postgresql"
    phases = {m["phase"] for m in results}
    assert {"ingest", "limit", "queries"} <= phases
    metrics = {m["metric"]: m["value"] for m in results}
    rates = [v for k, v in metrics.items() if k.startswith("batch ") and k.endswith(": statements/s")]
    assert len(rates) == 6 and all(rate > 0 for rate in rates)
    assert any(k.endswith("ingest / limit") and v > 0 for k, v in metrics.items())
    # Each run in two halves around two writes of its first half's rows (ingest, limit, limit, ingest).
    notes = {m["metric"]: m["note"] for m in results}
    assert all("2 writes of" in note for metric, note in notes.items()
               if metric.endswith("driver statements/s"))
    assert all("in two halves" in notes[metric] for metric in notes
               if metric.startswith("batch ") and metric.endswith(": statements/s"))
    assert any(k.endswith("agent p50 / p95") for k in metrics)
    # Where the CPU of a run of batches of 100 went, on both sides of the ratio (in clock ticks of
    # 10 ms: a run this small may show 0 for one of them, not for all).
    used = []
    for label in ("batch 100, 1 client", "batch 100, 4 clients"):
        for side in ("workers", "driver"):
            own, database = metrics[f"{label}: CPU per 100 statements, {side} / PostgreSQL"].split(" / ")
            used.append(float(own))
            assert float(own) >= 0 and ((float(database) >= 0) if postgres else database == "n/a")
    assert sum(used) > 0
    assert "| phase" in done.stdout


def test_the_cpu_meter_counts_the_processes_it_watches_and_its_own() -> None:
    import time

    from benchmarks.servers import CpuMeter
    # The busy child spins for 0.4 s of CPU once told to, inside the measured window.
    busy = subprocess.Popen([sys.executable, "-c", "import sys, time\nsys.stdin.readline()\n"
                             "end = time.process_time() + 0.4\nwhile time.process_time() < end: pass\n"
                             "time.sleep(5)"], stdin=subprocess.PIPE, text=True)
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        time.sleep(0.3)  # both started up
        with CpuMeter([busy.pid, idle.pid], database_url="sqlite:///x.db", own=True) as meter:
            busy.stdin.write("go\n")
            busy.stdin.flush()
            end = time.process_time() + 0.2
            while time.process_time() < end:
                pass
            time.sleep(1.0)
        assert 0.55 <= meter.watched <= 0.9  # 0.4 s of the busy child + 0.2 s of this process
        assert meter.database_seconds == 0.0  # SQLite: no server to count
        with CpuMeter([idle.pid], database_url="sqlite:///x.db") as meter:
            time.sleep(0.2)
        assert meter.watched < 0.05
    finally:
        busy.kill()
        idle.kill()


def test_a_phase_that_would_start_after_the_budget_is_recorded_as_not_measured(tmp_path) -> None:
    from dataclasses import replace

    from benchmarks.runner import _guarded
    ran: list[str] = []
    run = Run("sqlite", replace(QUICK, budget_seconds=1e-6), 2, tmp_path, "")
    _guarded(run, "export", lambda r: ran.append("export"))
    assert ran == [] and [(m.phase, m.value) for m in run.metrics] == [("export", "budget spent")]
    _guarded(run, "lti", lambda r: ran.append("lti"))  # asked for in every full run: never cut
    assert ran == ["lti"]
    unbounded = Run("sqlite", QUICK, 2, tmp_path, "")
    _guarded(unbounded, "export", lambda r: ran.append("export"))
    assert ran == ["lti", "export"] and unbounded.left() == float("inf")


def test_the_limit_writes_every_row_the_store_wrote(tmp_path) -> None:
    """The database limit writes the statement rows and their side rows again, table by table."""
    from sqlalchemy import text

    from benchmarks import limit
    from benchmarks.generator import StatementGenerator
    from cairn import create_app, migrate
    from cairn.db import make_engine
    tables = ("lrs_statements", *limit.CHILDREN)
    source_url, target_url = f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'target.db'}"
    source, target = make_engine(source_url), make_engine(target_url)
    try:
        migrate.upgrade(source)
        migrate.upgrade(target)
        app = create_app({"DATABASE_URL": source_url, "SECRET_KEY": "x", "AUTO_UPGRADE": False})
        with app.app_context():
            from cairn.db import get_session
            from lrs import services
            session = get_session()
            services.store_statements(session, StatementGenerator(seed=21).statements(0, 30),
                                      authority={"objectType": "Agent", "mbox": "mailto:limit@example.org"})
            session.commit()
        app.extensions["cairn.db"].dispose()
        data = limit.read_rows(source, 1, 30)
        result = limit.measure_limit(target, data, batch=10)

        def counts(engine) -> list[int]:  # noqa: ANN001
            with engine.connect() as connection:
                return [connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables]
        written = counts(source)
        assert written[0] == 30 and all(n > 0 for n in written)
        assert counts(target) == written and result["rows"] == sum(written)
        # A run's rows are written twice (around its two halves): the first write's rows are removed
        # before the second; rows of other statements stay.
        limit.remove_rows(target, 11, 30)
        assert counts(target)[0] == 10
        limit.remove_rows(target, 1, 10)
        assert counts(target) == [0] * len(tables)
        again = limit.measure_limit(target, data, batch=10)
        assert counts(target) == written and again["rows"] == result["rows"]
    finally:
        source.dispose()
        target.dispose()


def test_two_halves_of_a_run_add_up_to_one_load() -> None:
    from collections import Counter

    from benchmarks.load import LoadResult
    first = LoadResult(requests=2, items=200, seconds=1.0, latencies_ms=[40.0, 60.0],
                       statuses=Counter({200: 2}))
    second = LoadResult(requests=1, items=50, seconds=0.25, latencies_ms=[50.0], statuses=Counter({200: 1}),
                        first_error="POST /statements -> 500")
    joined = first.joined(second)
    assert (joined.requests, joined.items, joined.seconds) == (3, 250, 1.25)
    assert joined.items_per_second == 200.0 and joined.statuses == Counter({200: 3})
    assert sorted(joined.latencies_ms) == [40.0, 50.0, 60.0] and not joined.ok


def test_a_phase_left_out_by_phases_is_not_reported_as_unwritten(monkeypatch) -> None:
    from benchmarks import runner
    monkeypatch.setattr(runner, "SELECTED_PHASES", {"ingest", "limit"})
    assert runner._selected("ingest") and runner._selected("credentials") and runner._selected("world")
    assert not runner._selected("lti") and not runner._selected("export")
    assert runner._selected("progress rebuild") is False
    monkeypatch.setattr(runner, "SELECTED_PHASES", {"progress"})
    assert runner._selected("progress rebuild")
    monkeypatch.setattr(runner, "SELECTED_PHASES", None)
    assert runner._selected("lti")


def test_a_checkpoint_before_each_measured_run_writes_out_what_came_before(tmp_path) -> None:
    import sqlite3

    from benchmarks import servers
    path = tmp_path / "wal.db"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE t (v TEXT)")
    connection.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
    connection.commit()
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 0
    servers.checkpoint(f"sqlite:///{path}")
    assert wal.stat().st_size == 0
    connection.close()
    postgres = os.environ.get("CAIRN_TEST_DATABASE_URL")
    if postgres:
        from sqlalchemy import create_engine, text
        engine = create_engine(postgres)
        with engine.connect() as pg:
            # PostgreSQL 17 moved the count of requested checkpoints to pg_stat_checkpointer.
            requested = text("SELECT num_requested FROM pg_stat_checkpointer"
                             if pg.dialect.server_version_info >= (17,)
                             else "SELECT checkpoints_req FROM pg_stat_bgwriter")
            before = pg.scalar(requested)
        servers.checkpoint(postgres)
        with engine.connect() as pg:
            assert pg.scalar(requested) > before
        engine.dispose()


def test_the_profiler_makes_its_directory(tmp_path) -> None:
    # A run given --output elsewhere had not made benchmarks/results/: py-spy could not write there
    # and the profiles were silently missing.
    from types import SimpleNamespace

    from benchmarks.servers import Profiler
    out = tmp_path / "not-yet" / "results" / "profile-sqlite-ingest"
    with Profiler(SimpleNamespace(worker_pids=lambda: []), out):  # type: ignore[arg-type]
        pass
    assert out.parent.is_dir()


@pytest.mark.e2e
def test_after_the_rebuild_single_passes_of_the_projection_and_the_dashboard_are_timed(tmp_path) -> None:
    _kind, results, _done = _quick_run(tmp_path, "queries,rebuild")
    rows = [m for m in results if m["metric"].startswith("projection pass of 100 statements with ")]
    assert len(rows) == 1, rows
    p50, p95 = (float(v) for v in rows[0]["value"].split(" / "))
    assert 0 < p50 <= p95
    assert rows[0]["note"].startswith("3 batches, one pass each")
    # And the administrators' dashboard, whose weekly participation reads the facts of recent weeks.
    dashboard = [m for m in results if m["metric"].startswith("admin dashboard with ")]
    assert len(dashboard) == 1 and float(dashboard[0]["value"].split(" / ")[0]) > 0, dashboard


@pytest.mark.e2e
def test_the_projection_cost_is_measured_in_alternating_rounds_each_giving_a_share(tmp_path) -> None:
    _kind, results, _done = _quick_run(tmp_path, "projection")
    rows = {m["metric"]: m for m in results}
    for who in ("1 client", "4 clients"):
        rates = rows[f"ingest batch 100, {who}, with / without the projection"]["value"]
        with_rate, without_rate = (float(v) for v in rates.split(" / "))
        assert with_rate > 0 and without_rate > 0
        share = rows[f"projection share of ingest time, {who}"]
        assert abs(share["value"] - 100 * (1 - with_rate / without_rate)) < 1  # the rates are rounded
        assert share["note"].startswith("800 statements each, in 8 alternating rounds (5 s cap each); "
                                        "round by round "), share["note"]
        assert "median" in share["note"]
