"""Forwarding: copy matching statements to remote LRSs through a durable queue in the database.

Importing this package imports nothing else, so ``lrs.models`` can collect ``lrs.forwarding.models``.
"""
from __future__ import annotations

from flask import Flask


def _forwarding_task(app: Flask) -> bool:
    from lrs.forwarding.delivery import deliver_round
    from lrs.forwarding.filters import pathway_activities_of
    database = app.extensions["cairn.db"]
    reports = deliver_round(database.session_factory(), pathway_activities=pathway_activities_of(app))
    return any(report.progressed for report in reports)


def init_app(app: Flask) -> None:
    """Attach the forwarding admin page, ``cairn forward``, ``cairn worker`` and its task."""
    from cairn.nav import register_nav_link
    from lrs.forwarding.cli import forward_group
    from lrs.forwarding.views import bp
    from lrs.forwarding.worker import register_worker_task, worker_command
    app.register_blueprint(bp)
    app.cli.add_command(forward_group)
    app.cli.add_command(worker_command)
    register_worker_task(app, _forwarding_task)
    register_nav_link(app, "admin", "lrs_forwarding.index", "Forwarding", order=60, section="lrs_forwarding.")
