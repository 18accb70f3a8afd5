"""Admin pages: export statements (a streaming download) and import a file of statements."""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request, stream_with_context
from marshmallow import ValidationError

from cairn.auth import admin_required
from cairn.db import get_session, streamed
from cairn.errors import CairnError
from lrs.exchange.cli import import_authority
from lrs.exchange.export import export_lines
from lrs.exchange.importer import import_statements, read_items
from lrs.exchange.schemas import ExportQuery, ImportForm
from lrs.exchange.selection import build_selection

bp = Blueprint("lrs_exchange", __name__, url_prefix="/admin/lrs", template_folder="../templates")

MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


@bp.get("/export")
@admin_required
def export_page() -> str:
    return render_template("lrs_export.html")


@bp.get("/export/download")
@admin_required
def export_download() -> Response:
    query = ExportQuery().load(request.args)
    session = get_session()
    selection = build_selection(session, learners=query["learner"], agents=query["agent"],
                                activities=query["activity"],
                                registrations=[str(r) for r in query["registration"]])
    fmt = query["format"]
    # Streamed after the request has committed: end each chunk's read transaction as we go.
    lines = export_lines(session, selection, fmt, between_chunks=session.commit)
    response = Response(stream_with_context(streamed(lines)),
                        mimetype=MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="statements.{fmt}"'
    return response


@bp.get("/import")
@admin_required
def import_page() -> str:
    return render_template("lrs_import.html", summary=None, error=None)


@bp.post("/import")
@admin_required
def import_submit() -> tuple[str, int] | str:
    try:
        form = ImportForm().load(request.form)
    except ValidationError as exc:
        return render_template("lrs_import.html", summary=None, error=str(exc.messages)), 400
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("lrs_import.html", summary=None, error="Choose a file to import."), 400
    try:
        summary = import_statements(get_session(), read_items(upload.stream), authority=import_authority(),
                                    keep_authority=not form["replace_authority"])
    except CairnError as exc:
        return render_template("lrs_import.html", summary=None, error=exc.message), 400
    return render_template("lrs_import.html", summary=summary, error=None, filename=upload.filename)
