"""``python -m benchmarks`` / ``cairn bench``: run every phase on SQLite and PostgreSQL.

Each phase records metrics (value, unit, target) per database; the runner prints one table and
writes ``benchmarks/results/<mode>-<time>.json``. A phase whose feature is not on this Cairn yet
records a clear "not available yet" line instead of a number; an error or a failed request makes
the run exit non-zero.
"""
from __future__ import annotations

import argparse
import base64
import json
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import generator, servers
from benchmarks.load import Client, run_clients

RESULTS_DIR = Path(__file__).resolve().parent / "results"
XAPI_HEADERS = {"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"}


@dataclass(frozen=True)
class Sizes:
    ingest: dict[int, int]            # batch size -> statements per (batch, clients) run
    clients: tuple[int, ...]
    query_levels: tuple[int, ...]     # stored statements at which queries are timed
    query_repeats: int
    more_results: int                 # results to page through by ``more`` links
    scaleout_statements: int
    load_seconds_cap: float           # stop topping up the store after this long (reported)


QUICK = Sizes(ingest={1: 100, 10: 500, 100: 1000}, clients=(1, 4), query_levels=(5_000,), query_repeats=10,
              more_results=2_000, scaleout_statements=2_000, load_seconds_cap=60)
FULL = Sizes(ingest={1: 1_000, 10: 5_000, 100: 20_000}, clients=(1, 4), query_levels=(100_000, 1_000_000),
             query_repeats=100, more_results=10_000, scaleout_statements=40_000, load_seconds_cap=900)


def scaled(sizes: Sizes, factor: float) -> Sizes:
    if factor == 1:
        return sizes
    def n(value: int, least: int) -> int:
        return max(least, int(value * factor))
    return Sizes(ingest={b: n(c, b) for b, c in sizes.ingest.items()}, clients=sizes.clients,
                 query_levels=tuple(n(level, 600) for level in sizes.query_levels),
                 query_repeats=n(sizes.query_repeats, 3), more_results=n(sizes.more_results, 200),
                 scaleout_statements=n(sizes.scaleout_statements, 200), load_seconds_cap=sizes.load_seconds_cap)


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

    def add(self, phase: str, metric: str, value: float | str | None, unit: str = "", target: str = "",
            note: str = "") -> None:
        self.metrics.append(Metric(phase, metric, value, unit, target, note))

    def skip(self, phase: str, why: str) -> None:
        self.add(phase, "skipped", "not available yet", note=why)

    def take(self, count: int) -> int:
        start, self.next_index = self.next_index, self.next_index + count
        return start


# -- features present on this Cairn --------------------------------------------------------------
def detect_features(database_url: str) -> dict[str, bool]:
    from cairn import create_app
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "probe", "AUTO_UPGRADE": False,
                      "SKIP_SCHEMA_CHECK": True, "LOG_LEVEL": "WARNING"})
    rules = {rule.rule: rule.methods or set() for rule in app.url_map.iter_rules()}
    commands = app.cli.commands
    progress = commands.get("progress")
    xapi = app.config["XAPI_PATH"]
    return {
        "xapi_statements": "POST" in rules.get(f"{xapi}/statements", set()) and "credentials" in commands,
        "progress_rebuild": progress is not None and "rebuild" in getattr(progress, "commands", {}),
        "lti_launch": any(r.startswith("/lti/") for r in rules),
        "portal": "portal.home" in app.view_functions,
        "export": "export" in commands or any("export" in r for r in rules),
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
    engine = servers.engine_for(run.server.database_url)  # type: ignore[union-attr]
    try:
        with engine.connect() as connection:
            from sqlalchemy import text
            return int(connection.execute(text("SELECT coalesce(max(sequence), 0) FROM lrs_statements")).scalar())
    finally:
        engine.dispose()


def count_statements(run: Run) -> int:
    engine = servers.engine_for(run.server.database_url)  # type: ignore[union-attr]
    try:
        with engine.connect() as connection:
            from sqlalchemy import text
            return int(connection.execute(text("SELECT count(*) FROM lrs_statements")).scalar())
    finally:
        engine.dispose()


# -- phases ----------------------------------------------------------------------------------------
def phase_ingest(run: Run) -> None:
    server = run.server
    assert server is not None
    for batch, count in run.sizes.ingest.items():
        for clients in run.sizes.clients:
            start = run.take(count)
            first = max_sequence(run) + 1
            server.reset_peak_rss()
            result = run_clients(server.url, run.headers, clients,
                                 statement_posts(run.generator, start, count, batch, clients, "/xapi"))
            run.sequence_ranges[f"{batch}x{clients}"] = (first, max_sequence(run))
            label = f"batch {batch}, {clients} client{'s' if clients > 1 else ''}"
            summary = result.summary()
            target = ""
            if batch == 100:
                target = ">= 5000/s"
            run.add("ingest", f"{label}: statements/s", summary["per_second"], "/s", target)
            run.add("ingest", f"{label}: p50 / p95 per request",
                    f"{summary['p50_ms']:.1f} / {summary['p95_ms']:.1f}", "ms",
                    "p50 < 5 ms" if batch == 1 else "")
            run.add("memory", f"ingest {label}: worker peak RSS", server.peak_rss_mb(), "MB", "< 200 MB")
            if not result.ok or result.items != count:
                run.failures.append(f"ingest {label}: {result.items}/{count} stored; {result.first_error}")


def phase_limit(run: Run) -> None:
    from benchmarks.limit import measure_limit, read_rows
    source = servers.engine_for(run.server.database_url)  # type: ignore[union-attr]
    url = servers.fresh_database(run.kind, "limit", run.workdir, run.postgres_url)
    target = servers.engine_for(url)
    ingest = {m.metric: m.value for m in run.metrics if m.phase == "ingest"}
    try:
        for batch in run.sizes.ingest:
            for clients in run.sizes.clients:
                first, last = run.sequence_ranges[f"{batch}x{clients}"]
                data = read_rows(source, first, last)
                # SQLite has one writer: extra connections only queue, so it is measured with one.
                connections = clients if run.kind == "postgresql" else 1
                limit = measure_limit(target, data, batch, connections)
                label = f"batch {batch}, {clients} client{'s' if clients > 1 else ''}"
                rate = ingest.get(f"{label}: statements/s")
                run.add("limit", f"{label}: driver statements/s ({connections} conn)", limit["per_second"], "/s")
                if isinstance(rate, float | int) and limit["per_second"]:
                    run.add("limit", f"{label}: ingest / limit", round(rate / limit["per_second"], 3), "",
                            ">= 0.5" if batch == 100 else "")
    finally:
        source.dispose()
        target.dispose()
        servers.drop_database(url)


def top_up(run: Run, level: int) -> None:
    """Store statements over HTTP (batches of 500) until ``level`` are stored, within the time cap."""
    server = run.server
    assert server is not None
    stored = count_statements(run)
    missing = level - stored
    if missing <= 0:
        return
    clients = 2 if run.kind == "postgresql" else 1
    started = time.perf_counter()
    chunk = 50_000
    loaded = 0
    while loaded < missing and time.perf_counter() - started < run.sizes.load_seconds_cap:
        count = min(chunk, missing - loaded)
        result = run_clients(server.url, run.headers, clients,
                             statement_posts(run.generator, run.take(count), count, 500, clients, "/xapi"))
        if not result.ok:
            run.failures.append(f"loading to {level}: {result.first_error}")
            return
        loaded += result.items
    seconds = time.perf_counter() - started
    run.add("load", f"to {level:,}: statements/s (batches of 500, {clients} clients)",
            round(loaded / seconds, 1), "/s",
            note="" if loaded >= missing else f"stopped at the {run.sizes.load_seconds_cap:.0f} s cap")


def _query_string(params: dict[str, str]) -> str:
    from urllib.parse import urlencode
    return urlencode({**params, "limit": "100"})


def phase_queries(run: Run) -> None:
    server = run.server
    assert server is not None
    client = Client(server.url, run.headers)
    for level in run.sizes.query_levels:
        top_up(run, level)
        stored = count_statements(run)
        filters = run.generator.sample_filters(min(stored, run.next_index))
        server.reset_peak_rss()
        for name, values in filters.items():
            latencies, empty = [], 0
            for i in range(run.sizes.query_repeats):
                params = values[i % len(values)]
                response = client.request("GET", f"/xapi/statements?{_query_string(params)}")
                if response.status != 200:
                    run.failures.append(f"query {name}: {response.status} {response.body[:200]!r}")
                    break
                if not json.loads(response.body)["statements"]:
                    empty += 1
                latencies.append(response.ms)
            from benchmarks.load import percentile
            run.add("queries", f"at {stored:,}: {name} p50 / p95",
                    f"{percentile(latencies, 50):.1f} / {percentile(latencies, 95):.1f}", "ms", "p95 < 20 ms",
                    note=f"{empty} of {len(latencies)} empty" if empty else "")
        # Follow ``more`` links through the newest N statements.
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
            path = page.get("more") or ""
        from benchmarks.load import percentile
        run.add("queries", f"at {stored:,}: {seen:,} results by more links, total",
                round((time.perf_counter() - started) * 1000), "ms")
        run.add("queries", f"at {stored:,}: more-link page p50 / p95",
                f"{percentile(latencies, 50):.1f} / {percentile(latencies, 95):.1f}", "ms", "p95 < 20 ms")
        run.add("memory", f"queries at {stored:,}: worker peak RSS", server.peak_rss_mb(), "MB", "< 200 MB")


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
        run.add("scale-out", "2 servers x 2 clients, batch 100: statements/s", round(stored / seconds, 1), "/s")
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
        run.add("scale-out", "nonces / queued items taken twice", "not available yet",
                note="no LTI nonces or queues on main yet")
    finally:
        first.stop()
        second.stop()
        servers.drop_database(url)


def phase_export(run: Run) -> None:
    """``cairn statements export`` of the whole store: statements/s and the exporting process's peak RSS."""
    server = run.server
    assert server is not None
    total = count_statements(run)
    for fmt in ("jsonl", "csv"):
        output = run.workdir / f"{run.kind}-export.{fmt}"
        command = [sys.executable, "-c", "from cairn.cli import main; main()", "statements", "export",
                   "--format", fmt, "--output", str(output)]
        started = time.perf_counter()
        process = subprocess.Popen(command, env=server.env(), cwd=servers.ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        peak_kb = 0
        while process.poll() is None:  # VmHWM is the peak so far; read it until the process ends
            peak_kb = max(peak_kb, servers._status_kb(process.pid, "VmHWM"))
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        _, error = process.communicate()
        lines = sum(1 for _ in output.open("rb")) if output.exists() else 0
        exported = lines - 1 if fmt == "csv" else lines
        run.add("export", f"{fmt}: statements/s", round(exported / seconds) if seconds else None, "/s",
                note=f"{exported} statements in {seconds:.1f} s")
        run.add("memory", f"export {fmt}: process peak RSS", round(peak_kb / 1024, 1), "MB",
                "constant in the number of statements")
        if process.returncode != 0 or exported != total:
            run.failures.append(f"export {fmt}: {exported}/{total} exported, exit {process.returncode}: "
                                f"{error.decode()[-300:]}")
        output.unlink(missing_ok=True)


# -- the run ---------------------------------------------------------------------------------------
def run_database(kind: str, sizes: Sizes, workers: int, workdir: Path, postgres_url: str) -> Run:
    run = Run(kind=kind, sizes=sizes, workers=workers, workdir=workdir, postgres_url=postgres_url)
    url = servers.fresh_database(kind, "main", workdir, postgres_url)
    run.features = detect_features(url)
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
            credential = servers.create_credentials(server)
            run.headers = {**XAPI_HEADERS, "Authorization": basic_auth(credential or {})}
            for name, phase in (("ingest", phase_ingest), ("limit", phase_limit), ("queries", phase_queries)):
                _guarded(run, name, phase)
        for feature, phase, why in (
                ("progress_rebuild", "progress", "`cairn progress rebuild` is not on main yet"),
                ("lti_launch", "lti", "LTI launch endpoints are not on main yet"),
                ("portal", "pages", "the Learning Portal pages are not on main yet"),
                ("export", "export", "statement export is not on main yet")):
            if not run.features[feature]:
                run.skip(phase, why)
        if run.features["export"]:
            _guarded(run, "export", phase_export)
        if run.features["progress_rebuild"] and not any(m.phase == "progress" for m in run.metrics):
            run.skip("progress", "`cairn progress rebuild` is on main; its benchmark phase is not written yet")
        if run.features["lti_launch"] and not any(m.phase == "lti" for m in run.metrics):
            run.skip("lti", "the LTI launch phase of the benchmark is not written yet")
        if run.features["portal"] and not any(m.phase == "pages" for m in run.metrics):
            run.skip("pages", "the Learning Portal is on main; its benchmark phase is not written yet")
    finally:
        server.stop()
    if run.features["xapi_statements"]:
        _guarded(run, "scale-out", phase_scaleout)
    servers.drop_database(url)
    return run


def _guarded(run: Run, name: str, phase: Callable[[Run], None]) -> None:
    started = time.perf_counter()
    try:
        phase(run)
    except Exception as exc:  # noqa: BLE001 - one phase's failure is reported, the others still run
        traceback.print_exc()
        run.failures.append(f"{name}: {exc!r}")
    print(f"  [{run.kind}] {name} done in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def commit() -> str:
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
    import os
    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


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
    out = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every phase at small sizes (CI; under 2 minutes)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--postgres-url", default=servers.DEFAULT_POSTGRES,
                        help="PostgreSQL URL whose database name prefixes the benchmark's databases")
    parser.add_argument("--output", type=Path, default=None, help="JSON file to write")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size (e.g. 0.1 for a smoke test)")
    args = parser.parse_args(argv)
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
            run = run_database(kind, sizes, args.workers, workdir, args.postgres_url)
            runs.append(run)
            failures.extend(f"{kind}: {f}" for f in run.failures)
            if run.failures:
                for log in workdir.glob("*.log"):
                    tail = log.read_text(errors="replace")[-3000:]
                    if tail.strip():
                        print(f"--- {log.name} (tail)\n{tail}", file=sys.stderr)
    seconds = time.perf_counter() - started
    report = {"mode": mode, "date": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit(),
              "machine": machine(), "workers": args.workers, "seconds": round(seconds, 1),
              "sizes": asdict(sizes), "failures": failures,
              "results": {run.kind: [asdict(m) for m in run.metrics] for run in runs}}
    output = args.output or RESULTS_DIR / f"{mode}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2))
    print(f"Cairn benchmark ({mode}), {report['date']}, commit {report['commit']}, {report['machine']}, "
          f"{args.workers} workers, {seconds:.0f} s")
    print(table(runs))
    print(f"results written to {output}")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0
