"""``python -m benchmarks.compare REF``: this checkout's ingest against another commit's, side by side.

Two runs of the benchmark differ by several per cent on one machine whose speed drifts (the same
code measured 4,756 and 5,472 statements/s minutes apart), more than most changes move it.
This runs both commits' Cairn at once instead (gunicorn, the same workers), each on its own copy of
one learning world, and sends them the same statements in alternating rounds, A B, B A, B A, A B...,
so that each round's drift falls on both. A round with the projection ends when it has caught up.
It prints each side's rate per round, their medians, the ratio of the medians and each round's
ratio (its two runs back to back); the rounds' spread says how far the ratio can be trusted.

REF is checked out in a temporary git worktree (removed afterwards) and served with its own
packages from this virtualenv; its migrations must be this checkout's (one database schema).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import generator, servers, world
from benchmarks.load import percentile, run_clients
from benchmarks.runner import XAPI_HEADERS, basic_auth, round_order, statement_posts, wait_until_projected

WARM_UP_BATCHES = 10


class CompareError(Exception):
    """What stops a comparison before it measures (told to the user, exit 2)."""


@dataclass
class Side:
    label: str  # "A" (REF) or "B" (this checkout)
    commit: str
    root: Path
    rates: dict[int, list[float]] = field(default_factory=dict)  # clients -> statements/s per round
    p50_ms: dict[int, list[float]] = field(default_factory=dict)  # clients -> p50 per round


def git(*args: str, cwd: Path = servers.ROOT) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise CompareError(f"git {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def check_same_schema(ref: str) -> None:
    """Refuse a REF whose migrations differ from this checkout's: both serve one schema."""
    changed = " ".join((git("diff", "--name-only", ref, "--", "migrations"),
                        git("ls-files", "--others", "--exclude-standard", "--", "migrations"))).strip()
    if changed:
        raise CompareError(f"{ref}'s migrations differ from this checkout's ({', '.join(changed.split())}): "
                           "the two sides must share one database schema")


@contextlib.contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """REF checked out (detached) in a temporary directory, removed on the way out."""
    with tempfile.TemporaryDirectory(prefix="cairn-compare-") as tmp:
        path = Path(tmp) / "tree"
        git("worktree", "add", "--detach", str(path), ref)
        try:
            yield path
        finally:
            git("worktree", "remove", "--force", str(path))


def measure(sides: list[Side], kind: str, clients_list: list[int], rounds: int, statements: int,
            batch: int, learners: int, pathways: int, workers: int, workdir: Path, postgres_url: str) -> None:
    """Serve both sides on copies of one world and send them the same statements, round by round."""
    population = generator.Population(learners=learners)
    template = servers.fresh_database(kind, "compare_world", workdir, postgres_url)
    started: list[tuple[Side, servers.Server, str, dict[str, str]]] = []
    try:
        world.build(template, population, pathways)
        for side in sides:
            url = servers.clone_database(template, f"compare_{side.label}", workdir)
            server = servers.Server(url, workers=workers, root=side.root,
                                    log_path=workdir / f"compare-{side.label}.log")
            started.append((side, server, url, {}))
            try:
                server.start()
            except RuntimeError as error:  # REF's code did not come up: its log says why
                raise CompareError(f"{side.label} ({side.commit}): {error}") from None
            credential = servers.create_credentials(server)
            if credential is None:
                raise CompareError(f"{side.commit} has no `cairn credentials create`")
            started[-1] = (side, server, url, {**XAPI_HEADERS, "Authorization": basic_auth(credential)})
        gen = generator.StatementGenerator(seed=11, population=population)
        offset = 0
        engines = {side.label: servers.engine_for(url) for side, _server, url, _headers in started}
        try:
            for clients in clients_list:
                for n in range(-1, rounds):  # round -1 warms both up and is not counted
                    count = WARM_UP_BATCHES * batch if n < 0 else statements
                    order = round_order(n, started)
                    for side, server, url, headers in order:
                        servers.checkpoint(url)
                        result = run_clients(server.url, headers, clients,
                                             statement_posts(gen, offset, count, batch, clients, "/xapi"))
                        if not result.ok or result.items != count:
                            raise CompareError(f"{side.label} ({side.commit}), {clients} clients: "
                                               f"{result.items} of {count} stored; {result.first_error}")
                        seconds = result.seconds
                        waited = time.perf_counter()
                        if not wait_until_projected(engines[side.label], poll_seconds=0.005):
                            raise CompareError(f"{side.label} ({side.commit}): the projection did not "
                                               "catch up within 60 s")
                        seconds += time.perf_counter() - waited
                        if n >= 0:
                            side.rates.setdefault(clients, []).append(result.items / seconds)
                            side.p50_ms.setdefault(clients, []).append(percentile(result.latencies_ms, 50))
                    offset += count
        finally:
            for engine in engines.values():
                engine.dispose()
    finally:
        for _side, server, url, _headers in started:
            server.stop()
            servers.drop_database(url)
        servers.drop_database(template)


def summary(sides: list[Side], batch: int) -> list[dict[str, Any]]:
    """Per number of clients: each side's rounds and median, and B's median over A's."""
    rows = []
    a, b = sides
    for clients in sorted(a.rates):
        medians = {side.label: statistics.median(side.rates[clients]) for side in sides}
        rows.append({
            "clients": clients, "batch": batch,
            **{f"{side.label}_rates": [round(r) for r in side.rates[clients]] for side in sides},
            **{f"{side.label}_median": round(medians[side.label]) for side in sides},
            **{f"{side.label}_p50_ms": round(statistics.median(side.p50_ms[clients]), 1) for side in sides},
            "ratio": round(medians[b.label] / medians[a.label], 3),
            # Each round's B over A (the two ran back to back): the drift between rounds cancels.
            "round_ratios": [round(y / x, 3)
                             for x, y in zip(a.rates[clients], b.rates[clients], strict=True)],
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.splitlines()[0])
    parser.add_argument("ref", help="the commit to compare this checkout with (A; this checkout is B)")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--clients", default="1,4", help="comma-separated numbers of client processes")
    parser.add_argument("--rounds", type=int, default=6, help="counted rounds per number of clients")
    parser.add_argument("--statements", type=int, default=10_000, help="statements per side per round")
    parser.add_argument("--batch", type=int, default=100, help="statements per POST")
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--pathways", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--postgres-url", default=servers.DEFAULT_POSTGRES)
    parser.add_argument("--output", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args(argv)
    items = [c.strip() for c in args.clients.split(",") if c.strip()]
    clients_list = [int(c) for c in items if c.isdigit()]
    if len(clients_list) != len(items) or not clients_list or min(clients_list) < 1 or \
            min(args.rounds, args.statements, args.batch) < 1:
        parser.error("--clients needs numbers of 1 or more; --rounds, --statements and --batch 1 or more")
    try:
        if args.database == "postgresql" and not servers.postgres_available(args.postgres_url):
            raise CompareError(f"PostgreSQL is not reachable at {args.postgres_url}")
        check_same_schema(args.ref)
        commits = (git("rev-parse", "--short", args.ref), git("rev-parse", "--short", "HEAD"))
        dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
        with worktree(args.ref) as tree, tempfile.TemporaryDirectory(prefix="cairn-compare-db-") as tmp:
            sides = [Side("A", commits[0], tree), Side("B", commits[1] + dirty, servers.ROOT)]
            measure(sides, args.database, clients_list, args.rounds, args.statements, args.batch,
                    args.learners, args.pathways, args.workers, Path(tmp), args.postgres_url)
    except CompareError as error:
        print(f"benchmarks.compare: {error}", file=sys.stderr)
        return 2
    rows = summary(sides, args.batch)
    print(f"A = {sides[0].commit}, B = {sides[1].commit}; {args.database}, {args.workers} workers, "
          f"batches of {args.batch}, {args.statements:,} statements per side per round")
    for row in rows:
        print(f"{row['clients']} client(s): A {row['A_rates']} median {row['A_median']:,}/s "
              f"(p50 {row['A_p50_ms']} ms); B {row['B_rates']} median {row['B_median']:,}/s "
              f"(p50 {row['B_p50_ms']} ms); B / A {row['ratio']} (round by round {row['round_ratios']}, "
              f"median {statistics.median(row['round_ratios']):.3f})")
    if args.output:
        args.output.write_text(json.dumps({"sides": [asdict(s) | {"root": str(s.root)} for s in sides],
                                           "summary": rows}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
