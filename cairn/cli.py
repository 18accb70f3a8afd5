"""The ``cairn`` command line. Packages add their own groups in their ``init_app``."""
from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from cairn import migrate, serving
from cairn.accounts import services as accounts
from cairn.db import get_db, get_session


def main() -> None:
    from cairn.app import create_app
    group = FlaskGroup(create_app=create_app, add_version_option=False, load_dotenv=False,
                       set_debug_flag=False, help="Cairn: xAPI LRS, LTI 1.3 tool and learning pathways.")
    group.main(prog_name="cairn")


def register_demo_loader(app: Flask, loader: Callable[[Any], dict[str, Any] | None]) -> None:
    """Add a demo data loader; ``cairn demo`` runs them in registration order (lrs, pathways, lti)."""
    app.extensions["cairn.demo_loaders"].append(loader)


db_group = click.Group("db", help="Database schema.")


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Bring the database schema up to date."""
    migrate.upgrade(get_db().engine, revision)
    click.echo(f"database at {migrate.head_revision() if revision == 'head' else revision}")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Print the schema revision of the database and of this code."""
    with get_db().engine.connect() as connection:
        click.echo(f"database: {migrate.current_revision(connection)}; code: {migrate.head_revision()}")


users_group = click.Group("users", help="Accounts.")


@users_group.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", default="Administrator", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def create_admin(email: str, name: str, password: str) -> None:
    """Create an administrator who can sign in with EMAIL and PASSWORD."""
    session = get_session()
    try:
        user = accounts.create_user(session, name=name, email=email, password=password, role="administrator")
    except Exception as exc:  # a clear one-line message, not a traceback
        session.rollback()
        raise click.ClickException(getattr(exc, "message", str(exc))) from exc
    session.commit()
    click.echo(f"administrator {user.email} created (id {user.id})")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--dev", is_flag=True, help="Flask's development server (one process, reloader).")
def serve(host: str, port: int, workers: int, dev: bool) -> None:
    """Serve Cairn with gunicorn (or the Flask development server with --dev)."""
    if dev:
        current_app.run(host=host, port=port, debug=True)
        return
    gunicorn = shutil.which("gunicorn") or os.path.join(os.path.dirname(sys.executable), "gunicorn")
    args = [gunicorn, "--config", serving.CONFIG, "--workers", str(workers), "--bind", f"{host}:{port}",
            "--access-logfile", "-", "cairn:create_app()"]
    click.echo(f"serving Cairn on http://{host}:{port} with {workers} workers")
    os.execv(gunicorn, args)


@click.command("demo")
@click.option("--json", "as_json", is_flag=True, help="Print the demo accounts as JSON.")
@with_appcontext
def demo(as_json: bool) -> None:
    """Load the demo data (once) and print the accounts to sign in with."""
    from cairn.demo import load_demo
    accounts_info = load_demo(get_session(), current_app.extensions["cairn.demo_loaders"])
    get_session().commit()
    if as_json:
        click.echo(json.dumps(accounts_info, indent=2))
        return
    click.echo("Demo loaded. Sign in at {}/signin with:".format(current_app.config["BASE_URL"]))
    for account in accounts_info["accounts"]:
        click.echo(f"  {account['role']:<14} {account['email']:<28} password: {account['password']}")


@click.command("bench", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(args: tuple[str, ...]) -> None:
    """Run the benchmarks (`python -m benchmarks`; `cairn bench --help` for options)."""
    from benchmarks.runner import main as run_benchmarks  # only when asked: it starts servers
    raise SystemExit(run_benchmarks(list(args)))


def init_app(app: Flask) -> None:
    for command in (db_group, users_group, serve, demo, bench):
        app.cli.add_command(command)
