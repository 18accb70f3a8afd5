"""Statement subscribers: told of every batch stored, in its transaction or after its commit."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from cairn.db import after_commit

if TYPE_CHECKING:
    from lrs.statements import StoredStatement

log = logging.getLogger(__name__)

SUBSCRIBERS_KEY = "lrs.subscribers"
AFTER_COMMIT_KEY = "lrs.told_after_commit"


def subscribe(app: Flask, callback: Callable[[Session, list[StoredStatement]], None], *,
              after_commit: bool = False, savepoint: bool = True) -> None:
    """Call ``callback(session, statements)`` after every stored batch.

    By default in the same transaction, inside a SAVEPOINT of its own: one that fails is logged
    and rolled back alone, and the statements still commit. ``savepoint=False``: without that
    SAVEPOINT (two round trips on every store), for a subscriber that only reads until it finds
    work, and opens a SAVEPOINT itself around the work (``in_savepoint``).

    ``after_commit``: when the store asks for it (``store_statements(subscribers_after_commit=True)``)
    in a request, in a transaction of its own once the request has committed and its response is
    written (``cairn.db.after_commit``), so that it does not keep the store's transaction open (later
    batches wait for it to commit) nor keep the client waiting; otherwise as by default.
    ``told_after_commit(session)`` says which. Such a subscriber must catch up by itself on batches
    it missed (its transaction can fail, or the process stop, after the statements committed), and
    while told after commit it must not store statements while holding locks of its own (storing
    takes the sequence lock; everywhere else that lock is taken first). Stores outside an app
    context notify nobody.
    """
    app.extensions.setdefault(SUBSCRIBERS_KEY, []).append((callback, after_commit, savepoint))


def in_savepoint(session: Session, work: Callable[[], None], what: str) -> None:
    """Do ``work()`` in a SAVEPOINT: if it fails, it is logged (as ``what``) and rolled back alone."""
    savepoint = session.begin_nested()
    try:
        work()
        savepoint.commit()
    except Exception:
        log.exception("%s failed; its work is rolled back", what)
        savepoint.rollback()


def told_after_commit(session: Session) -> bool:
    """Whether the subscriber running now was told after the statements' transaction committed."""
    return bool(session.info.get(AFTER_COMMIT_KEY))


def _bound(callback: Callable[[Session, list[StoredStatement]], None],
           statements: list[StoredStatement]) -> Callable[[Session], None]:
    def work(session: Session) -> None:
        session.info[AFTER_COMMIT_KEY] = True
        try:
            callback(session, statements)
        finally:
            session.info.pop(AFTER_COMMIT_KEY, None)
    work.__qualname__ = f"{getattr(callback, '__qualname__', callback)} after commit"
    return work


def tell_subscribers(session: Session, statements: list[StoredStatement],
                     allow_after_commit: bool = False) -> None:
    if not has_app_context():
        return
    # A store made by a subscriber told after commit tells its own subscribers in its transaction.
    told = session.info.pop(AFTER_COMMIT_KEY, None)
    try:
        for callback, deferred, savepoint in current_app.extensions.get(SUBSCRIBERS_KEY, []):
            if deferred and allow_after_commit and after_commit(session, _bound(callback, statements)):
                continue
            if savepoint:
                in_savepoint(session, lambda: callback(session, statements),  # noqa: B023 (called at once)
                             f"statement subscriber {callback!r}")
            else:
                callback(session, statements)
    finally:
        if told is not None:
            session.info[AFTER_COMMIT_KEY] = told
