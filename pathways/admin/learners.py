"""Learner records: find a learner, see their pathways and history, and the statements behind each value."""
from __future__ import annotations

import json
from typing import Any

from flask import Response, render_template, request, stream_with_context

from cairn.accounts import services as accounts
from cairn.auth import current_user
from cairn.db import get_session, streamed
from cairn.errors import NotFound
from cairn.fields import String
from cairn.pages import load_form
from pathways import access, reports, services
from pathways.admin.attendance import staff_required
from pathways.admin.blueprint import bp
from pathways.admin.forms import LocalDateTime, PageForm


class HistoryFilter(PageForm):
    verb = String(load_default="")
    activity = String(load_default="")
    since = LocalDateTime(load_default=None)
    until = LocalDateTime(load_default=None)
    cursor = String(load_default=None)


def history_filters(source: Any) -> tuple[dict[str, Any], dict]:
    """The history filter form as keyword arguments of the reports' history functions."""
    data, errors = load_form(HistoryFilter(), source)
    data = data or HistoryFilter().load({})
    return {"verb": data["verb"] or None, "activity": data["activity"] or None, "since": data["since"],
            "until": data["until"]}, errors


def xapi_json_export(statements: Any, name: str) -> Response:
    """A JSON array of statements, streamed (``[`` … ``]``) so a long history needs no memory."""
    def body() -> Any:
        yield "["
        for index, statement in enumerate(statements):
            yield ("," if index else "") + json.dumps(statement, ensure_ascii=False)
        yield "]"
    return Response(stream_with_context(streamed(body())), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}.json"'})


def csv_export(lines: Any, name: str) -> Response:
    return Response(stream_with_context(streamed(lines)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _learner(user_id: int) -> Any:
    """The learner, if the viewer may see their records (instructors: learners of their classes)."""
    user = accounts.get_user(get_session(), user_id)
    if user is None:
        raise NotFound(f"no learner {user_id}")
    viewer = current_user()
    assert viewer is not None
    access.require_learner_view(get_session(), viewer, user_id)
    return user


@bp.get("/learners", endpoint="learners")
@staff_required
def learners() -> str:
    q = request.args.get("q", "").strip()
    viewer = current_user()
    assert viewer is not None
    # Instructors find the learners of their classes only: filtered in the query, so that the first
    # hundred are theirs (filtered afterwards, the hundred could hold none of them).
    allowed = access.report_scope(get_session(), viewer)
    found, matches = accounts.find_users(get_session(), search=q, limit=SEARCH_LIMIT, among=allowed) \
        if q else ([], 0)
    return render_template("pathways_admin/learners.html", q=q, found=found, matches=matches)


SEARCH_LIMIT = 100


@bp.get("/learners/<int:user_id>", endpoint="learner")
@staff_required
def learner(user_id: int) -> Any:
    session = get_session()
    user = _learner(user_id)
    filters, errors = history_filters(request.args)
    history = reports.learner_history(session, user_id, cursor=request.args.get("cursor") or None, limit=50,
                                      **filters)
    return render_template(
        "pathways_admin/learner.html", learner=user, errors=errors,
        pathways=services.learner_pathways(session, user_id, include_history=True),
        certifications=services.learner_certifications(session, user_id), history=history,
        args={k: v for k, v in request.args.items() if v and k != "cursor"}), (400 if errors else 200)


@bp.get("/learners/<int:user_id>/pathways/<int:pathway_id>", endpoint="learner_pathway")
@staff_required
def learner_pathway(user_id: int, pathway_id: int) -> str:
    learner_row = _learner(user_id)
    detail = services.learner_pathway(get_session(), user_id, pathway_id)
    return render_template("pathways_admin/learner_pathway.html", learner=learner_row, detail=detail,
                           progress=detail.progress, steps=detail.steps)


@bp.get("/learners/<int:user_id>/history.csv", endpoint="learner_history_csv")
@staff_required
def learner_history_csv(user_id: int) -> Response:
    _learner(user_id)
    filters, _ = history_filters(request.args)
    rows = reports.iter_learner_history(get_session(), user_id, **filters)
    return csv_export(reports.csv_lines(rows, reports.columns_of(reports.HistoryEntry)),
                      f"learner-{user_id}-history")


@bp.get("/learners/<int:user_id>/history.json", endpoint="learner_history_json")
@staff_required
def learner_history_json(user_id: int) -> Response:
    _learner(user_id)
    filters, _ = history_filters(request.args)
    return xapi_json_export(reports.iter_learner_statements(get_session(), user_id, **filters),
                            f"learner-{user_id}-statements")
