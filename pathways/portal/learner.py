"""Learner pages: home, catalogue and self-enrolment, a pathway's steps, certificates."""
from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from marshmallow import EXCLUDE, Schema

from cairn.auth import current_user, login_required
from cairn.db import get_session, utcnow
from cairn.errors import CairnError
from cairn.fields import Integer, String
from cairn.pages import load_form
from pathways import reports, services
from pathways.admin.learners import csv_export, history_filters, xapi_json_export
from pathways.portal.blueprint import bp

STEP_KIND_LABELS = {"xapi": "Content", "cmi5": "Course unit", "assessment": "Assessment",
                    "session": "Session", "document": "Reading"}


class CatalogueQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    q = String(load_default="")
    category = Integer(load_default=None, allow_none=True)


class EnrolForm(Schema):
    class Meta:
        unknown = EXCLUDE

    pathway_id = Integer(required=True)


def _user_id() -> int:
    user = current_user()
    assert user is not None  # login_required ran first
    return user.id


@bp.app_template_filter("when")
def when(value: Any, with_time: bool = False) -> str:
    """A UTC date (and time) for people: ``28 Nov 2026`` or ``28 Nov 2026, 14:05 UTC``."""
    if value is None:
        return "—"
    return value.strftime("%d %b %Y, %H:%M UTC" if with_time else "%d %b %Y").lstrip("0")


@bp.app_template_filter("percent")
def percent(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)}%"


@bp.get("/", endpoint="home")
@login_required
def home() -> str:
    session = get_session()
    user_id = _user_id()
    pathways = services.learner_pathways(session, user_id)
    # "Continue where you left off": the unfinished pathway touched last.
    started = [p for p in pathways if p.status in ("in_progress", "overdue") and p.last_activity_at]
    resume = max(started, key=lambda p: p.last_activity_at) if started else None
    return render_template("portal/home.html", pathways=pathways, resume=resume,
                           certifications=services.learner_certifications(session, user_id), now=utcnow(),
                           teaching=services.classes_taught_by(session, user_id))


@bp.get("/catalogue", endpoint="catalogue")
@login_required
def catalogue() -> str:
    session = get_session()
    query, _ = load_form(CatalogueQuery(), request.args)
    query = query or {"q": "", "category": None}
    offered = [p for p in (services.published_version(session, lineage)
                           for lineage in services.catalogue_for(session, _user_id())) if p is not None]
    words = query["q"].strip().lower()
    if words:
        offered = [p for p in offered if words in p.title.lower() or words in p.description.lower()]
    if query["category"]:
        offered = [p for p in offered if p.category_id == query["category"]]
    categories = services.list_categories(session)
    groups: list[tuple[Any, list[Any]]] = []
    for category in [None, *categories]:
        members = [p for p in offered if p.category_id == (category.id if category else None)]
        if members:
            groups.append((category, sorted(members, key=lambda p: p.title)))
    return render_template("portal/catalogue.html", groups=groups, categories=categories, query=query,
                           total=len(offered))


@bp.post("/catalogue", endpoint="enrol")
@login_required
def enrol() -> Response:
    data, errors = load_form(EnrolForm())
    if data is None:
        abort(400)
    try:
        services.self_enroll(get_session(), _user_id(), data["pathway_id"])
    except CairnError as exc:
        flash(f"You could not be enrolled: {exc.message}", "error")
        return redirect(url_for("portal.catalogue"))
    flash("You are enrolled. It is now on your home page.")
    return redirect(url_for("portal.pathway", pathway_id=data["pathway_id"]))


@bp.get("/pathways/<int:pathway_id>", endpoint="pathway")
@login_required
def pathway(pathway_id: int) -> str:
    session = get_session()
    detail = services.learner_pathway(session, _user_id(), pathway_id)
    if not detail.progress.assigned and detail.progress.status == "not_started" \
            and detail.progress.pathway.lineage not in services.catalogue_for(session, _user_id()):
        abort(404)
    return render_template("portal/pathway.html", detail=detail, progress=detail.progress,
                           pathway=detail.progress.pathway, steps=detail.steps, step_kinds=STEP_KIND_LABELS)


@bp.get("/certificates", endpoint="certificates")
@login_required
def certificates() -> str:
    return render_template("portal/certificates.html",
                           certifications=services.learner_certifications(get_session(), _user_id()))


@bp.get("/certificates/<int:award_id>", endpoint="certificate")
@login_required
def certificate(award_id: int) -> str:
    awards = {c.id: c for c in services.learner_certifications(get_session(), _user_id())}
    award = awards.get(award_id) or abort(404)
    return render_template("portal/certificate.html", award=award)
@bp.get("/history", endpoint="history")
@login_required
def history() -> Any:
    session = get_session()
    user_id = _user_id()
    filters, errors = history_filters(request.args)
    statements = reports.learner_history(session, user_id, cursor=request.args.get("cursor") or None,
                                         limit=50, **filters)
    return render_template("portal/history.html", errors=errors, history=statements,
                           pathways=services.learner_pathways(session, user_id, include_history=True),
                           args={k: v for k, v in request.args.items() if v and k != "cursor"}), \
        (400 if errors else 200)


@bp.get("/history.csv", endpoint="history_csv")
@login_required
def history_csv() -> Response:
    filters, _ = history_filters(request.args)
    rows = reports.iter_learner_history(get_session(), _user_id(), **filters)
    return csv_export(reports.csv_lines(rows, reports.columns_of(reports.HistoryEntry)),
                      "my-training-history")


@bp.get("/history.json", endpoint="history_json")
@login_required
def history_json() -> Response:
    filters, _ = history_filters(request.args)
    return xapi_json_export(reports.iter_learner_statements(get_session(), _user_id(), **filters),
                            "my-statements")
