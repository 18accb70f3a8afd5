"""Forwarding: copy matching statements to remote LRSs through a durable queue in the database."""
from __future__ import annotations

from flask import Flask

from lrs.forwarding.cli import forward_group
from lrs.forwarding.delivery import deliver_round
from lrs.forwarding.views import bp
from lrs.forwarding.worker import register_worker_task, worker_command


def _forwarding_task(app: Flask) -> bool:
    database = app.extensions["cairn.db"]
    return any(report.progressed for report in deliver_round(database.session_factory()))


def init_app(app: Flask) -> None:
    """Attach the forwarding admin pages, ``cairn forward``, ``cairn worker`` and its task."""
    app.register_blueprint(bp)
    app.cli.add_command(forward_group)
    app.cli.add_command(worker_command)
    register_worker_task(app, _forwarding_task)
