"""``cairn worker`` sweeps expired browser sessions (``cairn.accounts.sessions.purge_task``)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from cairn.accounts.models import WebSession
from cairn.db import utcnow


def _sessions(db_session) -> set[str]:
    db_session.expire_all()
    return set(db_session.scalars(select(WebSession.id).where(WebSession.id.like("purge-%"))))


def test_a_worker_pass_deletes_expired_sessions_and_keeps_live_ones(app, db_session) -> None:
    now = utcnow()
    db_session.add_all([WebSession(id="purge-expired", data={}, expires_at=now - timedelta(minutes=1)),
                        WebSession(id="purge-long-expired", data={}, expires_at=now - timedelta(days=30)),
                        WebSession(id="purge-live", data={"user_id": 1},
                                   expires_at=now + timedelta(hours=1))])
    db_session.commit()
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert _sessions(db_session) == {"purge-live"}


def test_the_sweep_runs_once_per_interval_not_on_every_round(app, db_session) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0  # the first pass sweeps at once
    db_session.add(WebSession(id="purge-later", data={}, expires_at=utcnow() - timedelta(seconds=1)))
    db_session.commit()
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    assert _sessions(db_session) == {"purge-later"}  # within the interval: left for the next sweep
    app.config["SESSION_PURGE_INTERVAL"] = 0
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    assert _sessions(db_session) == set()
