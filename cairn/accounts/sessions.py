"""Flask sessions kept as rows, so that gunicorn workers on several hosts share them.

The cookie carries only a random session id. Sign-out deletes the row, so a stolen cookie dies
with it. The row is written in its own short transaction, independent of the request's unit of work.
"""
from __future__ import annotations

import secrets
import time
from datetime import timedelta
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import delete
from werkzeug.datastructures import CallbackDict

from cairn.accounts.models import WebSession
from cairn.db import utcnow

COOKIE_NAME = "cairn_session"


class DatabaseSession(CallbackDict, SessionMixin):  # type: ignore[type-arg]
    def __init__(self, initial: dict | None = None, sid: str | None = None, new: bool = False) -> None:
        def on_update(_self: Any) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.sid = sid
        self.new = new
        self.modified = False
        self.rotate = False

    def regenerate(self) -> None:
        """Give the session a new id (on sign-in, against session fixation)."""
        self.rotate = True
        self.modified = True


class DatabaseSessionInterface(SessionInterface):
    def _factory(self, app: Flask) -> Any:
        return app.extensions["cairn.db"].session_factory()

    def open_session(self, app: Flask, request: Request) -> DatabaseSession:
        sid = request.cookies.get(COOKIE_NAME)
        if sid:
            with self._factory(app)() as db:
                row = db.get(WebSession, sid)
                if row is not None and row.expires_at > utcnow():
                    return DatabaseSession(dict(row.data or {}), sid=sid)
        return DatabaseSession(new=True)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, DatabaseSession)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        if not session:
            if session.sid and session.modified:
                with self._factory(app)() as db, db.begin():
                    db.execute(delete(WebSession).where(WebSession.id == session.sid))
                response.delete_cookie(COOKIE_NAME, domain=domain, path=path)
            return
        if not session.modified and not session.new:
            return
        lifetime = timedelta(hours=app.config["SESSION_HOURS"])
        expires = utcnow() + lifetime
        with self._factory(app)() as db, db.begin():
            if session.rotate and session.sid:
                db.execute(delete(WebSession).where(WebSession.id == session.sid))
                session.sid = None
            if not session.sid:
                session.sid = secrets.token_urlsafe(32)
                db.add(WebSession(id=session.sid, data=dict(session), user_id=session.get("user_id"),
                                  expires_at=expires))
            else:
                row = db.get(WebSession, session.sid)
                if row is None:
                    db.add(WebSession(id=session.sid, data=dict(session), user_id=session.get("user_id"),
                                      expires_at=expires))
                else:
                    row.data = dict(session)
                    row.user_id = session.get("user_id")
                    row.expires_at = expires
        response.set_cookie(
            COOKIE_NAME, session.sid, max_age=int(lifetime.total_seconds()), httponly=True,
            secure=app.config["SESSION_COOKIE_SECURE"], samesite=app.config["SESSION_COOKIE_SAMESITE"],
            domain=domain, path=path)


def purge_expired(db: Any) -> int:
    """Delete expired sessions; returns how many."""
    result = db.execute(delete(WebSession).where(WebSession.expires_at <= utcnow()))
    return result.rowcount or 0


# How often ``cairn worker`` sweeps expired sessions (they are refused when read anyway; the sweep
# keeps the table from growing with every visitor who never signed out).
PURGE_INTERVAL_SECONDS = 600.0


def purge_task(app: Flask) -> bool:
    """``cairn worker``'s task: delete expired sessions, at most once per ``PURGE_INTERVAL_SECONDS``.

    Says it found no work either way: the sweep is periodic, not a queue to drain."""
    last = app.extensions.get("cairn.sessions_purged_at")
    now = time.monotonic()
    if last is not None and now - last < app.config.get("SESSION_PURGE_INTERVAL", PURGE_INTERVAL_SECONDS):
        return False
    app.extensions["cairn.sessions_purged_at"] = now
    with app.extensions["cairn.db"].session_factory()() as db, db.begin():
        purge_expired(db)
    return False
