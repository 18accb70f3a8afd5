"""``cairn progress ...``: rebuild and inspect the progress projection."""
from __future__ import annotations

import time

import click
from flask.cli import with_appcontext

from cairn.db import get_session

progress_group = click.Group("progress", help="The progress projection derived from the statements.")


@progress_group.command("rebuild")
@with_appcontext
def rebuild() -> None:
    """Recompute all progress, awards and their evidence from the stored statements."""
    from pathways import projection
    session = get_session()
    started = time.perf_counter()
    count = projection.rebuild(session)
    session.commit()
    click.echo(f"progress rebuilt from {count} statements in {time.perf_counter() - started:.2f}s")


@progress_group.command("catch-up")
@with_appcontext
def catch_up() -> None:
    """Apply statements stored since the projection's cursor (after a failed subscriber)."""
    from pathways import projection
    session = get_session()
    count = projection.catch_up(session)
    session.commit()
    click.echo(f"applied {count} statements; cursor at {projection.last_applied_sequence(session)}")


@progress_group.command("status")
@with_appcontext
def status() -> None:
    """Print how far the projection is behind the statement store."""
    from lrs import services as lrs_services
    from pathways import projection
    session = get_session()
    applied, latest = projection.last_applied_sequence(session), lrs_services.latest_sequence(session)
    click.echo(f"projection at sequence {applied}; store at {latest}; behind by {max(0, latest - applied)}")


@progress_group.command("reminders")
@with_appcontext
def reminders() -> None:
    """Print today's due-date reminders (learner, pathway, due date), one per line, tab-separated."""
    from pathways import reports
    for reminder in reports.due_reminders(get_session()):
        click.echo(f"{reminder.email or reminder.name}\t{reminder.pathway_title}\t"
                   f"{reminder.due_at.isoformat()}\t{reminder.days_before} days before")
