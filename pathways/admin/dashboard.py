"""Dashboards: participation and completion over time (SVG), per-pathway summary, compliance; CSV exports."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, render_template, request, stream_with_context
from marshmallow import validate

from cairn.auth import current_user
from cairn.db import get_session, streamed
from cairn.fields import Integer, String
from cairn.pages import load_form
from pathways import access, reports, services, trends
from pathways.admin.attendance import staff_required
from pathways.admin.blueprint import bp
from pathways.admin.charts import line_chart
from pathways.admin.forms import PageForm

STATUSES = ("not_started", "in_progress", "completed", "overdue", "expired")
DASHBOARD_ROWS = 50  # compliance rows listed on the dashboard; the CSV exports have them all


class ReportFilter(PageForm):
    pathway_id = Integer(load_default=None)
    audience_id = Integer(load_default=None)
    class_id = Integer(load_default=None)
    status = String(load_default=None, validate=validate.OneOf(STATUSES))
    within_days = Integer(load_default=30, validate=validate.Range(min=0, max=3650))
    weeks = Integer(load_default=12, validate=validate.Range(min=2, max=104))


def _filters() -> tuple[dict[str, Any], dict]:
    data, errors = load_form(ReportFilter(), request.args)
    return (data or ReportFilter().load({})), errors


def _scope(data: dict[str, Any]) -> dict[str, Any]:
    """The report filters, narrowed for instructors to the learners of the classes they teach."""
    scope = {k: data[k] for k in ("pathway_id", "audience_id", "class_id") if data.get(k) is not None}
    viewer = current_user()
    assert viewer is not None
    learners = access.report_scope(get_session(), viewer)
    if learners is not None:
        scope["learner_ids"] = learners
    return scope


def _csv(name: str, lines: Iterator[str]) -> Response:
    return Response(stream_with_context(streamed(lines)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@bp.get("/", endpoint="dashboard")
@staff_required
def dashboard() -> Any:
    session = get_session()
    data, errors = _filters()
    scope = _scope(data)
    summary = reports.summary_report(session, **scope)
    # The first rows of each compliance list, with the totals; the CSV links export every row.
    overdue = reports.compliance_page(session, kind="overdue", limit=DASHBOARD_ROWS, **scope)
    expiring = reports.compliance_page(session, kind="expiring", within_days=data["within_days"],
                                       limit=DASHBOARD_ROWS, **scope)
    expiring_total = reports.compliance_count(session, kind="expiring", within_days=data["within_days"],
                                              **scope)
    weeks = trends.weekly_activity(session, weeks=data["weeks"], pathway_id=data.get("pathway_id"),
                                   learner_ids=_learners_in(session, data))
    chart = line_chart("Participation and completions per week",
                       [w.week_start.strftime("%d %b") for w in weeks],
                       [("Active learners", "started", [w.active_learners for w in weeks]),
                        ("Completions", "completed", [w.completions for w in weeks])])
    totals = {s: sum(row.counts.get(s, 0) for row in summary) for s in STATUSES}
    return render_template(
        "pathways_admin/dashboard.html", summary=summary, overdue=overdue.rows, expiring=expiring.rows,
        overdue_total=sum(row.counts.get("overdue", 0) for row in summary), expiring_total=expiring_total,
        shown=DASHBOARD_ROWS, chart=chart,
        weeks=weeks, totals=totals, learners=sum(r.learners for r in summary), filters=data, errors=errors,
        pathways=services.list_pathways(session, status="published"),
        audiences=services.list_audiences(session),
        classes=services.list_classes(session), args={k: v for k, v in request.args.items() if v}), \
        (400 if errors else 200)


def _learners_in(session: Any, data: dict[str, Any]) -> set[int] | None:
    learners: set[int] | None = _scope(data).get("learner_ids")
    if data.get("audience_id") is not None:
        learners = set(services.audience_member_ids(session, data["audience_id"]))
    if data.get("class_id") is not None:
        members = {m.user_id for m in services.class_members(session, data["class_id"], role="learner")}
        learners = members if learners is None else learners & members
    return learners


@bp.get("/reports/progress", endpoint="progress_report")
@staff_required
def progress_report() -> Any:
    session = get_session()
    data, errors = _filters()
    cursor = request.args.get("cursor", type=int)
    page = reports.progress_report(session, status=data["status"], cursor=cursor, limit=50, **_scope(data))
    return render_template("pathways_admin/progress_report.html", page=page, filters=data, errors=errors,
                           statuses=STATUSES, pathways=services.list_pathways(session, status="published"),
                           audiences=services.list_audiences(session), classes=services.list_classes(session),
                           args={k: v for k, v in request.args.items() if v and k != "cursor"})


@bp.get("/reports/progress.csv", endpoint="progress_csv")
@staff_required
def progress_csv() -> Response:
    data, _ = _filters()
    session = get_session()
    rows = reports.iter_progress(session, status=data["status"], **_scope(data))
    return _csv("progress", reports.csv_lines(rows, reports.columns_of(reports.ProgressRow)))


@bp.get("/reports/summary.csv", endpoint="summary_csv")
@staff_required
def summary_csv() -> Response:
    data, _ = _filters()
    rows = ({"pathway_id": r.pathway_id, "pathway_title": r.pathway_title, "learners": r.learners,
             **{s: r.counts.get(s, 0) for s in STATUSES}, "completion_rate": r.completion_rate}
            for r in reports.summary_report(get_session(), **_scope(data)))
    return _csv("summary", reports.csv_lines(rows, ["pathway_id", "pathway_title", "learners", *STATUSES,
                                                    "completion_rate"]))


@bp.get("/reports/compliance.csv", endpoint="compliance_csv")
@staff_required
def compliance_csv() -> Response:
    data, _ = _filters()
    kind = request.args.get("kind", "overdue")
    rows = reports.iter_compliance(get_session(), kind=kind if kind in ("overdue", "expiring", "expired")
                                     else "overdue", within_days=data["within_days"], **_scope(data))
    return _csv(f"compliance-{kind}", reports.csv_lines(rows, reports.columns_of(reports.ProgressRow)))


@bp.get("/reports/activity.csv", endpoint="activity_csv")
@staff_required
def activity_csv() -> Response:
    data, _ = _filters()
    session = get_session()
    weeks = trends.weekly_activity(session, weeks=data["weeks"], pathway_id=data.get("pathway_id"),
                                   learner_ids=_learners_in(session, data))
    rows = ({"week_start": w.week_start.date().isoformat(), "active_learners": w.active_learners,
             "completions": w.completions} for w in weeks)
    return _csv("activity", reports.csv_lines(rows, ["week_start", "active_learners", "completions"]))
