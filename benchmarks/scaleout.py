"""Scale-out checks: two Cairn servers on one PostgreSQL database never take one thing twice.

- LTI nonces: every launch starts on one server and its id_token is posted to both servers at the
  same moment, then once more to each: exactly one post may be accepted, every other refused, and
  the database holds one used-nonce row per launch.
- Queued items: forwarding targets (each a recording LRS in this process) fed by ``cairn worker``
  running beside each server at once: every stored statement reaches every target exactly once.
"""
from __future__ import annotations

import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass

import requests
from sqlalchemy import text

from benchmarks import lti, servers
from benchmarks.recording_lrs import RecordingLRS, recording_lrs


@dataclass
class Check:
    checked: int          # launches, or statements x targets
    taken_twice: int      # nonces accepted twice, or statements received more than once
    wrong: int            # replays not refused with a 4xx, or statements never received
    note: str


def nonces(first: servers.Server, second: servers.Server, launches: int) -> Check:
    with lti.platform_for(first, second) as platform:
        params = lti.login_params(platform, launches + 1, "scaleout")
        lti.round_trip(first.url, params.pop())  # the course exists before the races
        twice = wrong = 0
        for n, login in enumerate(params):
            here, there = (first, second) if n % 2 == 0 else (second, first)
            with requests.Session() as browser:
                launched = lti.start(browser, here.url, login)
            statuses = lti.race(here.url, there.url, launched)
            statuses += [lti.replay(server.url, launched) for server in (there, here)]
            accepted = statuses.count(302)
            twice += accepted > 1
            wrong += (accepted == 0) + sum(not 400 <= s < 500 for s in statuses if s != 302)
        engine = servers.engine_for(first.database_url)
        try:
            with engine.connect() as connection:
                rows, distinct = connection.execute(
                    text("SELECT count(*), count(DISTINCT nonce) FROM lti_used_nonces WHERE issuer = :i"),
                    {"i": platform.issuer}).one()
        finally:
            engine.dispose()
    if rows != launches + 1 or distinct != rows:
        wrong += 1
    return Check(launches, twice, wrong,
                 f"{launches} id_tokens each posted to both servers at once, then again to each: "
                 f"{launches - twice} accepted once; {rows} used-nonce rows ({distinct} distinct) for "
                 f"{launches + 1} launches")


def _ids(remote: RecordingLRS) -> set[str]:
    with remote.lock:
        return set(remote.arrivals)


def add_targets(database_url: str, endpoints: list[str]) -> None:
    """What ``cairn forward add`` does, in this process (one command start per target costs seconds)."""
    from benchmarks.runner import service_app
    from cairn.db import get_session
    from lrs.forwarding import targets
    app = service_app(database_url)
    with app.app_context():
        for n, endpoint in enumerate(endpoints):
            targets.create_target(get_session(), endpoint=endpoint, key=f"k{n}", secret="s",
                                  name=f"scale-out {n}")
        get_session().commit()
    app.extensions["cairn.db"].dispose()


def queued(first: servers.Server, second: servers.Server, targets: int, seconds_cap: float) -> Check:
    """Forward the whole store to ``targets`` recording LRSs with a ``cairn worker`` beside each server."""
    engine = servers.engine_for(first.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT statement_id FROM lrs_statements"))
            expected = {str(r[0]) for r in rows}
    finally:
        engine.dispose()
    with ExitStack() as stack:
        remotes = [stack.enter_context(recording_lrs()) for _ in range(targets)]
        add_targets(first.database_url, [remote.endpoint for remote in remotes])
        workers = [subprocess.Popen([sys.executable, "-c", "from cairn.cli import main; main()", "worker",
                                     "--poll", "0.2"], env=server.env(), cwd=servers.ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for server in (first, second)]
        started = time.perf_counter()
        try:
            while time.perf_counter() - started < seconds_cap:
                with_all = sum(1 for r in remotes if expected <= _ids(r))
                if with_all == targets or any(w.poll() is not None for w in workers):
                    break
                time.sleep(0.5)
            seconds = time.perf_counter() - started
            time.sleep(1.5)  # a duplicate sent late would still be counted
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        twice = sum(count - 1 for r in remotes for count in r.arrivals.values() if count > 1)
        missing = sum(len(expected - _ids(r)) for r in remotes)
    capped = f"; stopped at the {seconds_cap:.0f} s cap" if seconds >= seconds_cap else ""
    return Check(len(expected) * targets, twice, missing,
                 f"{len(expected):,} statements to {targets} forwarding targets by `cairn worker` on both "
                 f"servers in {seconds:.1f} s: {missing} missing{capped}")
