"""``cairn lti ...``: platform registrations, the tool configuration, keys, scores and rosters."""
from __future__ import annotations

import json
import time
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError

from cairn.db import get_db, get_session
from cairn.errors import CairnError
from lti import grades, keys, launches, platforms, registration, rosters
from lti.schemas import PlatformInput, PlatformOutput

lti_group = click.Group("lti", help="The LTI 1.3 tool: platforms, configuration, keys, scores, rosters.")
platform_group = click.Group("platform", help="Platform registrations.")
keys_group = click.Group("keys", help="The tool's signing keys.")
lti_group.add_command(platform_group)
lti_group.add_command(keys_group)


def _fail(exc: Exception) -> click.ClickException:
    get_session().rollback()
    if isinstance(exc, ValidationError):
        return click.ClickException(f"invalid input: {exc.messages}")
    return click.ClickException(getattr(exc, "message", str(exc)))


@platform_group.command("add")
@click.option("--issuer", required=True)
@click.option("--client-id", required=True)
@click.option("--deployment-id", "deployment_ids", multiple=True, help="Repeat for several deployments.")
@click.option("--auth-login-url", required=True, help="The platform's OIDC authentication endpoint.")
@click.option("--token-url", required=True)
@click.option("--jwks-url", required=True)
@click.option("--name", default="")
@click.option("--auth-audience", default=None, help="Audience of client assertions, if not the token URL.")
@with_appcontext
def platform_add(**options: object) -> None:
    """Register a platform."""
    try:
        data = PlatformInput().load({**options, "deployment_ids": list(options["deployment_ids"])})  # type: ignore[call-overload]
        platform = platforms.add_platform(get_session(), **data)
    except (CairnError, ValidationError) as exc:
        raise _fail(exc) from exc
    get_session().commit()
    click.echo(f"platform {platform.id} registered: {platform.issuer} client_id {platform.client_id}")


@platform_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def platform_list(as_json: bool) -> None:
    """List registered platforms."""
    rows = platforms.list_platforms(get_session())
    if as_json:
        click.echo(json.dumps(PlatformOutput(many=True).dump(rows), indent=2))
        return
    for p in rows:
        click.echo(f"{p.id}\t{p.issuer}\t{p.client_id}\tdeployments: "
                   f"{', '.join(d.deployment_id for d in p.deployments) or '-'}")


@platform_group.command("remove")
@click.argument("platform_id", type=int)
@with_appcontext
def platform_remove(platform_id: int) -> None:
    """Remove a platform registration."""
    try:
        platforms.remove_platform(get_session(), platform_id)
    except CairnError as exc:
        raise _fail(exc) from exc
    get_session().commit()
    click.echo(f"platform {platform_id} removed")


@lti_group.command("tool-config")
@click.option("--json", "as_json", is_flag=True, help="The Canvas-style JSON configuration.")
@with_appcontext
def tool_config(as_json: bool) -> None:
    """Print what a VLE administrator enters on the platform."""
    config = platforms.tool_configuration(current_app.config["BASE_URL"],
                                          registration.registration_link_token(current_app.config["SECRET_KEY"]))
    if as_json:
        click.echo(json.dumps(config, indent=2))
        return
    for label, key in (("Login (OIDC initiation) URL", "oidc_initiation_url"),
                       ("Launch URL", "target_link_uri"), ("JWKS URL", "public_jwk_url"),
                       ("Deep Linking URL", "deep_linking_url"),
                       ("Dynamic registration URL", "dynamic_registration_url")):
        click.echo(f"{label}: {config[key]}")


@keys_group.command("rotate")
@click.option("--publish-ahead", default=3600, show_default=True, type=int,
              help="Seconds the new key is published before it signs.")
@click.option("--keep-old", default=3600, show_default=True, type=int,
              help="Seconds the old key stays published after it stops signing.")
@with_appcontext
def keys_rotate(publish_ahead: int, keep_old: int) -> None:
    """Add a new signing key; the current one signs until it takes over."""
    key = keys.rotate(get_session(), publish_ahead=timedelta(seconds=publish_ahead),
                      keep_old=timedelta(seconds=keep_old))
    get_session().commit()
    click.echo(f"new key {key.kid} published; it signs from {key.activates_at.isoformat()}")


@keys_group.command("list")
@with_appcontext
def keys_list() -> None:
    """List the tool's keys and when each signs and is published."""
    for key in keys.list_keys(get_session()):
        click.echo(f"{key.kid}\tsigns from {key.activates_at.isoformat()}\tretired "
                   f"{key.retired_at.isoformat() if key.retired_at else '-'}\tunpublished "
                   f"{key.expires_at.isoformat() if key.expires_at else '-'}")


@lti_group.command("deliver-scores")
@click.option("--loop", is_flag=True, help="Keep delivering (a worker); otherwise one pass.")
@click.option("--now", "retry_now", is_flag=True, help="Retry waiting scores at once.")
@click.option("--interval", default=5.0, show_default=True, type=float)
@with_appcontext
def deliver_scores(loop: bool, retry_now: bool, interval: float) -> None:
    """Post queued AGS scores to their platforms."""
    if retry_now:
        grades.retry_now(get_session())
        get_session().commit()
    factory = get_db().session_factory()
    while True:
        report = grades.deliver_due(factory)
        click.echo(f"delivered {report.delivered}, failed {report.failed}, waiting {report.waiting}")
        if not loop:
            return
        time.sleep(interval)


@lti_group.command("sync-roster")
@click.argument("context_id", type=int)
@with_appcontext
def sync_roster(context_id: int) -> None:
    """Sync a context's roster from the platform (NRPS)."""
    try:
        result = rosters.sync_now(get_db().session_factory(), context_id)
    except CairnError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"context {result.context_id}: {result.active} active, {result.inactive} inactive, "
               f"{result.pages} pages")


@lti_group.command("purge")
@with_appcontext
def purge() -> None:
    """Delete expired login states and used nonces."""
    count = launches.purge_expired(get_session())
    get_session().commit()
    click.echo(f"{count} expired rows deleted")
