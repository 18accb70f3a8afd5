"""``cairn forward add | list | remove | resume | run``."""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from cairn.db import get_session
from cairn.errors import CairnError
from lrs.forwarding import targets
from lrs.forwarding.filters import pathway_activities_of
from lrs.services import latest_sequence

forward_group = click.Group("forward", help="Forward statements to other LRSs.")


def _agent(value: str) -> dict:
    """An actor filter: an email, a mailto: IRI, or an xAPI Agent as JSON."""
    if value.lstrip().startswith("{"):
        return json.loads(value)
    return {"mbox": value if value.startswith("mailto:") else f"mailto:{value}"}


@forward_group.command("add")
@click.option("--endpoint", required=True, help="The remote LRS's xAPI endpoint URL.")
@click.option("--key", required=True)
@click.option("--secret", required=True)
@click.option("--name")
@click.option("--xapi-version", default="1.0.3", show_default=True,
              type=click.Choice(targets.SUPPORTED_VERSIONS))
@click.option("--verb", "verbs", multiple=True, help="Only statements with this verb IRI (repeatable).")
@click.option("--activity", "activities", multiple=True, help="Only statements about this activity IRI.")
@click.option("--actor", "actors", multiple=True, help="Only statements by this email or Agent JSON.")
@click.option("--pathway", "pathways", multiple=True, help="Only statements within this pathway's IRI.")
@click.option("--from-now", is_flag=True, help="Skip the statements already stored.")
@with_appcontext
def add(endpoint: str, key: str, secret: str, name: str | None, xapi_version: str, verbs: tuple[str, ...],
        activities: tuple[str, ...], actors: tuple[str, ...], pathways: tuple[str, ...],
        from_now: bool) -> None:
    """Forward every matching statement (by default the whole store, then each new one) to ENDPOINT."""
    session = get_session()
    try:
        target = targets.create_target(
            session, endpoint=endpoint, key=key, secret=secret, name=name, xapi_version=xapi_version,
            verbs=list(verbs), activities=list(activities), actors=[_agent(a) for a in actors],
            pathways=list(pathways), from_sequence=latest_sequence(session) if from_now else 0)
    except (CairnError, json.JSONDecodeError) as exc:
        session.rollback()
        raise click.ClickException(getattr(exc, "message", str(exc))) from exc
    session.commit()
    click.echo(f"forwarding target {target.id} added: {target.endpoint}")


@forward_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_(as_json: bool) -> None:
    """Each target with its backlog, last success and last error."""
    statuses = targets.list_targets(get_session(), pathway_activities_of(current_app))
    if as_json:
        click.echo(json.dumps([{
            "id": s.id, "name": s.name, "endpoint": s.endpoint, "xapi_version": s.xapi_version,
            "verbs": s.verbs, "activities": s.activities, "actors": s.actors, "pathways": s.pathways,
            "active": s.active, "cursor": s.cursor, "delivered": s.delivered_count, "backlog": s.backlog,
            "failures": s.failures, "rejected": s.rejected_count,
            "last_success_at": s.last_success_at.isoformat() if s.last_success_at else None,
            "last_error": s.last_error,
        } for s in statuses], indent=2))
        return
    if not statuses:
        click.echo("no forwarding targets")
    for s in statuses:
        backlog = f"{s.backlog}{'+' if s.backlog_is_lower_bound else ''}"
        click.echo(f"{s.id}\t{s.name}\t{s.endpoint}\tdelivered {s.delivered_count}\tbacklog {backlog}\t"
                   f"last success {s.last_success_at or '-'}\tlast error {s.last_error or '-'}")


@forward_group.command("remove")
@click.argument("target_id", type=int)
@with_appcontext
def remove(target_id: int) -> None:
    """Stop forwarding to target TARGET_ID and forget it."""
    session = get_session()
    try:
        targets.remove_target(session, target_id)
    except CairnError as exc:
        raise click.ClickException(exc.message) from exc
    session.commit()
    click.echo(f"forwarding target {target_id} removed")


@forward_group.command("resume")
@click.argument("target_id", type=int)
@with_appcontext
def resume(target_id: int) -> None:
    """Retry target TARGET_ID now instead of waiting out its backoff."""
    session = get_session()
    try:
        targets.resume_target(session, target_id)
    except CairnError as exc:
        raise click.ClickException(exc.message) from exc
    session.commit()
    click.echo(f"forwarding target {target_id} will be retried now")
