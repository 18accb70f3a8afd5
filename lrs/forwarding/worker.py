"""``cairn worker``: run the database queues (forwarding, and any task other packages register).

Each task is a function ``(app) -> bool`` that does one unit of work and says whether it found any;
the worker sleeps only when a whole round found nothing. Run as many workers on as many hosts as you
like: every task claims its rows so that two workers never do the same unit at once.
"""
from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from types import FrameType

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

log = logging.getLogger(__name__)

WorkerTask = Callable[[Flask], bool]


def register_worker_task(app: Flask, task: WorkerTask) -> None:
    """Have ``cairn worker`` run ``task`` in its loop."""
    app.extensions.setdefault("cairn.worker_tasks", []).append(task)


def run_round(app: Flask) -> bool:
    """Run every task once; True when any found work."""
    found = False
    for task in app.extensions.get("cairn.worker_tasks", []):
        try:
            found = task(app) or found
        except Exception:  # one broken task must not stop the others, nor the worker
            log.exception("worker task %s failed", getattr(task, "__name__", task))
    return found


@click.command("worker")
@click.option("--poll", default=1.0, show_default=True, type=float, help="Seconds to sleep when idle.")
@click.option("--once", is_flag=True, help="Run until no task finds work, then exit.")
@with_appcontext
def worker_command(poll: float, once: bool) -> None:
    """Deliver queued work (statement forwarding...) until stopped with SIGTERM or Ctrl-C."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stopping = {"now": False}

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"worker running {len(app.extensions.get('cairn.worker_tasks', []))} task(s)")
    while not stopping["now"]:
        if run_round(app):
            continue
        if once:
            break
        deadline = time.monotonic() + poll
        while not stopping["now"] and time.monotonic() < deadline:
            time.sleep(min(0.1, poll))
    click.echo("worker stopped")
