"""The learning domain: pathways, steps, audiences, assessments, certifications and progress."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Attach the pathways blueprints, CLI commands, the statement subscriber and the demo loader."""
    from cairn.cli import register_demo_loader
    from lrs.services import subscribe
    from pathways import api, cli, demo, launch_views, projection, public, relevance

    app.register_blueprint(api.bp)
    app.register_blueprint(public.bp)
    app.cli.add_command(cli.progress_group)
    # After commit: the projection then does not keep the store's transaction open, which later
    # batches wait for before they commit; its cursor catches up on anything a failed run missed
    # (and `cairn worker` too).
    subscribe(app, projection.on_statements, after_commit=True)
    app.extensions.setdefault("cairn.worker_tasks", []).append(projection.worker_catch_up)
    projection.watch_people()
    relevance.watch_steps()  # the facts follow the steps and launches (see pathways.relevance)
    register_demo_loader(app, demo.load)
    launch_views.init_app(app)  # xAPI content and cmi5 launches: fetch URL, moveOn subscriber, session sweep
    from pathways import admin, portal
    admin.init_app(app)
    portal.init_app(app)
