"""``cairn statements export`` and ``cairn statements import``."""
from __future__ import annotations

import os
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from cairn.db import get_session
from cairn.errors import CairnError
from lrs.exchange.export import FORMATS, export_lines
from lrs.exchange.importer import import_statements, read_items
from lrs.exchange.selection import build_selection

statements_group = click.Group("statements", help="Export and import statements.")


def import_authority() -> dict:
    """The authority of statements imported without one: this Cairn itself."""
    return {"objectType": "Agent", "name": "Cairn import",
            "account": {"homePage": current_app.config["BASE_URL"], "name": "import"}}


@statements_group.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option("--learner", "learners", multiple=True,
              help="A learner's email: all their identities (repeatable).")
@click.option("--agent", "agents", multiple=True, help="An email or xAPI Agent JSON (repeatable).")
@click.option("--activity", "activities", multiple=True,
              help="An activity IRI, object or context (repeatable).")
@click.option("--registration", "registrations", multiple=True, help="A registration UUID (repeatable).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File (default stdout).")
@with_appcontext
def export(fmt: str, learners: tuple[str, ...], agents: tuple[str, ...], activities: tuple[str, ...],
           registrations: tuple[str, ...], output: str | None) -> None:
    """Write statements as xAPI JSON-lines or CSV, in stored order, in constant memory."""
    session = get_session()
    try:
        selection = build_selection(session, learners=learners, agents=agents, activities=activities,
                                    registrations=registrations)
    except CairnError as exc:
        raise click.ClickException(exc.message) from exc
    count = 0
    stream = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout  # noqa: SIM115
    try:
        for chunk in export_lines(session, selection, fmt, between_chunks=session.commit):
            stream.write(chunk)
            count += 1
    finally:
        if output:
            stream.close()
    if output:
        rows = count - 1 if fmt == "csv" else count
        click.echo(f"exported {rows} statements to {output}", err=True)


@statements_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--batch-size", default=500, show_default=True, type=int)
@click.option("--replace-authority", is_flag=True,
              help="Record this Cairn as the authority instead of keeping each statement's own.")
@with_appcontext
def import_(path: str, batch_size: int, replace_authority: bool) -> None:
    """Import statements from a JSON array or JSON-lines file; already stored ids are skipped."""
    session = get_session()
    size = os.path.getsize(path)
    with open(path, "rb") as stream, click.progressbar(length=size, label="importing", file=sys.stderr,
                                                         show_pos=False) as bar:
        summary = import_statements(session, read_items(stream, on_bytes=bar.update),
                                    authority=import_authority(), batch_size=batch_size,
                                    keep_authority=not replace_authority, after_batch=session.commit)
        session.commit()
    click.echo(f"read {summary.read}, stored {summary.stored}, already present {summary.already_present}, "
               f"rejected {len(summary.rejected)}")
    for rejection in summary.rejected:
        click.echo(f"  rejected #{rejection.position} {rejection.statement_id or '(no id)'}: "
                   f"{rejection.reason}")
    if summary.rejected:
        sys.exit(1)
