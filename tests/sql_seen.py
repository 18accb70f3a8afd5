"""What SQL a piece of work sends: the statements run on a connection (or an engine) while it works."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import event
from sqlalchemy.orm import Session


class Sent(NamedTuple):
    statement: str
    parameters: Any


@contextmanager
def sql_sent(target: Any) -> Iterator[list[Sent]]:
    """Every statement (as sent, with its parameters) that ``target``, a connection or an engine
    (all its connections: a request's too), runs inside the block, in order."""
    sent: list[Sent] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        sent.append(Sent(statement, parameters))

    event.listen(target, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(target, "before_cursor_execute", note)


def statements_run(session: Session, work: Callable[[], Any]) -> tuple[list[str], Any]:
    """The statements (as sent) that ``work()`` runs on ``session``'s connection, and its result."""
    with sql_sent(session.connection()) as sent:
        result = work()
    return [item.statement for item in sent], result
