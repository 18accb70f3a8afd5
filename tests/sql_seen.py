"""What SQL a piece of work sends: the statements a session's connection runs while it works."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session


def statements_run(session: Session, work: Callable[[], Any]) -> tuple[list[str], Any]:
    """The statements (as sent) that ``work()`` runs on ``session``'s connection, and its result."""
    run: list[str] = []
    connection = session.connection()

    def note(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        run.append(statement)

    event.listen(connection, "before_cursor_execute", note)
    try:
        result = work()
    finally:
        event.remove(connection, "before_cursor_execute", note)
    return run, result
