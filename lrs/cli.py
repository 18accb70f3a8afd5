"""``cairn credentials create|list|revoke``: the xAPI clients allowed to use the LRS."""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from cairn.db import get_session
from lrs import services
from lrs.errors import LRSError

credentials_group = click.Group("credentials", help="xAPI client credentials (HTTP Basic key and secret).")


@credentials_group.command("create")
@click.option("--name", required=True, help="Who the credential is for.")
@click.option("--scopes", default="statements/write,statements/read/mine", show_default=True,
              help=f"Comma-separated xAPI scopes: {', '.join(services.SCOPES)}.")
@click.option("--authority-email", default=None,
              help="mbox of the authority agent (default: an account named after the key on this Cairn).")
@click.option("--json", "as_json", is_flag=True, help="Print key, secret and endpoint as JSON.")
@with_appcontext
def create(name: str, scopes: str, authority_email: str | None, as_json: bool) -> None:
    """Create a credential and print its key and secret (the secret is shown only now)."""
    session = get_session()
    base_url = current_app.config["BASE_URL"]
    if authority_email:
        authority = {"objectType": "Agent", "name": name, "mbox": f"mailto:{authority_email}"}
    else:
        authority = {"objectType": "Agent", "name": name, "account": {"homePage": base_url, "name": name}}
    try:
        info, secret = services.create_credential(
            session, name=name, scopes=[s.strip() for s in scopes.split(",") if s.strip()],
            authority=authority)
    except LRSError as exc:
        session.rollback()
        raise click.ClickException(exc.message) from exc
    session.commit()
    endpoint = base_url + current_app.config["XAPI_PATH"] + "/"
    if as_json:
        click.echo(json.dumps({"key": info.key, "secret": secret, "scopes": list(info.scopes),
                               "endpoint": endpoint, "authority": info.authority}))
    else:
        click.echo(f"key:      {info.key}\nsecret:   {secret}\nscopes:   {', '.join(info.scopes)}\n"
                   f"endpoint: {endpoint}")


@credentials_group.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked credentials.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_(include_revoked: bool, as_json: bool) -> None:
    """List credentials (never their secrets)."""
    rows = services.list_credentials(get_session(), include_revoked=include_revoked)
    if as_json:
        click.echo(json.dumps([{"key": c.key, "name": c.name, "scopes": list(c.scopes),
                                "created_at": c.created_at.isoformat(),
                                "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
                                "expires_at": c.expires_at.isoformat() if c.expires_at else None}
                               for c in rows]))
        return
    for c in rows:
        state = "revoked" if c.revoked_at else ("launch" if c.is_launch else "active")
        click.echo(f"{c.key}  {state:<8} {c.name:<30} {','.join(c.scopes)}")


@credentials_group.command("revoke")
@click.argument("key")
@with_appcontext
def revoke(key: str) -> None:
    """Revoke the credential with KEY."""
    session = get_session()
    try:
        services.revoke_credential(session, key)
    except LRSError as exc:
        session.rollback()
        raise click.ClickException(exc.message) from exc
    session.commit()
    click.echo(f"credential {key} revoked")
