"""The pathway builder: pathways, their steps (ordered, with prerequisites), versions, publishing."""
from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for

from cairn.auth import admin_required, current_user
from cairn.db import get_session
from cairn.errors import CairnError
from pathways import assessments, projection, services
from pathways.admin.blueprint import bp
from pathways.admin.common import handle_form
from pathways.admin.forms import PathwayForm, ReorderForm, StepForm
from pathways.models import MOVE_ON, ORDERINGS, OUTCOME_KINDS, STEP_KINDS

STEP_KIND_LABELS = {"xapi": "xAPI content", "cmi5": "cmi5 assignable unit", "assessment": "Assessment",
                    "session": "Attended session", "document": "Document or link"}


def _pathway_page(pathway_id: int, *, form: Any = None, errors: dict | None = None, status: int = 200) -> Any:
    session = get_session()
    detail = services.get_pathway(session, pathway_id)
    return render_template(
        "pathways_admin/pathway.html", detail=detail, pathway=detail.pathway, steps=detail.steps,
        versions=services.versions_of(session, detail.pathway.lineage),
        categories=services.list_categories(session), outcome_kinds=OUTCOME_KINDS, orderings=ORDERINGS,
        step_kinds=STEP_KIND_LABELS, form=form or detail.pathway.__dict__, errors=errors or {},
        steps_by_key={s.key: s for s in detail.steps}), status


@bp.get("/pathways", endpoint="pathways")
@admin_required
def pathways() -> str:
    session = get_session()
    status = request.args.get("status") or None
    search = request.args.get("q", "")
    return render_template("pathways_admin/pathways.html",
                           pathways=services.list_pathways(session, status=status, search=search or None),
                           categories={c.id: c for c in services.list_categories(session)},
                           status=status or "", q=search)


@bp.get("/pathways/new", endpoint="new_pathway")
@admin_required
def new_pathway() -> str:
    return render_template("pathways_admin/pathway_new.html", form={"ordering": "sequential"}, errors={},
                           categories=services.list_categories(get_session()), outcome_kinds=OUTCOME_KINDS,
                           orderings=ORDERINGS)


@bp.post("/pathways/new")
@admin_required
def create_pathway() -> Response | tuple[str, int]:
    return handle_form(
        PathwayForm(), lambda data: services.create_pathway(get_session(), **data),
        lambda created: f"Pathway “{created.title}” created as a draft. Add its steps.",
        lambda created: url_for("pathways_admin.pathway", pathway_id=created.id),
        lambda errors: (render_template("pathways_admin/pathway_new.html", form=request.form, errors=errors,
                                        categories=services.list_categories(get_session()),
                                        outcome_kinds=OUTCOME_KINDS, orderings=ORDERINGS), 400))


@bp.get("/pathways/<int:pathway_id>", endpoint="pathway")
@admin_required
def pathway(pathway_id: int) -> Any:
    return _pathway_page(pathway_id)


@bp.post("/pathways/<int:pathway_id>")
@admin_required
def update_pathway(pathway_id: int) -> Any:
    return handle_form(
        PathwayForm(), lambda data: services.update_pathway(get_session(), pathway_id, **data),
        lambda changed: "Pathway saved." if changed.id == pathway_id else
        f"Saved in the new draft version {changed.version}; publish it to give it to learners.",
        lambda changed: url_for("pathways_admin.pathway", pathway_id=changed.id),
        lambda errors: _pathway_page(pathway_id, form=request.form, errors=errors, status=400))


@bp.post("/pathways/<int:pathway_id>/draft", endpoint="edit_draft")
@admin_required
def edit_draft(pathway_id: int) -> Response:
    draft = services.draft_version(get_session(), pathway_id)
    flash(f"Draft version {draft.version}: learners keep the published version until you publish this one.")
    return redirect(url_for("pathways_admin.pathway", pathway_id=draft.id))


@bp.post("/pathways/<int:pathway_id>/order", endpoint="reorder_steps")
@admin_required
def reorder_steps(pathway_id: int) -> Any:
    def not_saved(errors: dict[str, list[str]]) -> Any:
        flash("The order could not be saved: " + "; ".join(
            f"{k}: {' '.join(map(str, v))}" for k, v in errors.items()), "error")
        return redirect(url_for("pathways_admin.pathway", pathway_id=pathway_id, _anchor="steps"))
    # A reordered published pathway lands in its draft version: go where the steps now are.
    return handle_form(
        ReorderForm(), lambda order: services.reorder_steps(get_session(), pathway_id, order),
        "Step order saved.",
        lambda steps: url_for("pathways_admin.pathway", _anchor="steps",
                              pathway_id=steps[0].pathway_id if steps else pathway_id),
        not_saved)


def _step_page(pathway_id: int, *, step: Any = None, form: Any, errors: dict, status: int = 200) -> Any:
    session = get_session()
    detail = services.get_pathway(session, pathway_id)
    others = [s for s in detail.steps if step is None or s.id != step.id]
    return render_template("pathways_admin/step.html", pathway=detail.pathway, step=step, others=others,
                           form=form, errors=errors, step_kinds=STEP_KIND_LABELS, move_on=MOVE_ON,
                           assessments=assessments.list_assessments(session)), status


def _step_form_values(step: Any) -> dict[str, Any]:
    values = dict(step.__dict__)
    values["mastery_percent"] = None if step.mastery_score is None else round(step.mastery_score * 100, 2)
    values["min_score_percent"] = None if step.min_score is None else round(step.min_score * 100, 2)
    values["done_verbs"] = "\n".join(step.done_verbs) if step.kind == "xapi" else ""
    values["session_starts_at"] = (step.session_starts_at.strftime("%Y-%m-%dT%H:%M")
                                   if step.session_starts_at else "")
    return values


@bp.get("/pathways/<int:pathway_id>/steps/new", endpoint="new_step")
@admin_required
def new_step(pathway_id: int) -> Any:
    kind = request.args.get("kind", "xapi")
    return _step_page(pathway_id, form={"kind": kind if kind in STEP_KINDS else "xapi", "required": True},
                      errors={})


@bp.post("/pathways/<int:pathway_id>/steps/new")
@admin_required
def add_step(pathway_id: int) -> Any:
    return handle_form(
        StepForm(), lambda values: services.add_step(get_session(), pathway_id, **values),
        lambda added: f"Step “{added.title}” added.",
        lambda added: url_for("pathways_admin.pathway", pathway_id=added.pathway_id, _anchor="steps"),
        lambda errors: _step_page(pathway_id, form=request.form, errors=errors, status=400))


@bp.get("/steps/<int:step_id>", endpoint="step")
@admin_required
def step(step_id: int) -> Any:
    row = services.get_step(get_session(), step_id)
    return _step_page(row.pathway_id, step=row, form=_step_form_values(row), errors={})


@bp.post("/steps/<int:step_id>")
@admin_required
def update_step(step_id: int) -> Any:
    row = services.get_step(get_session(), step_id)
    return handle_form(
        StepForm(), lambda values: services.update_step(get_session(), step_id, **values),
        lambda changed: f"Step “{changed.title}” saved.",
        lambda changed: url_for("pathways_admin.pathway", pathway_id=changed.pathway_id, _anchor="steps"),
        lambda errors: _step_page(row.pathway_id, step=row, form=request.form, errors=errors, status=400))


@bp.post("/steps/<int:step_id>/delete", endpoint="remove_step")
@admin_required
def remove_step(step_id: int) -> Response:
    row = services.get_step(get_session(), step_id)
    services.remove_step(get_session(), step_id)
    flash(f"Step “{row.title}” removed.")
    draft = services.draft_version(get_session(), row.pathway_id)
    return redirect(url_for("pathways_admin.pathway", pathway_id=draft.id, _anchor="steps"))


@bp.get("/pathways/<int:pathway_id>/publish", endpoint="review_publish")
@admin_required
def publish_preview(pathway_id: int) -> str:
    session = get_session()
    detail = services.get_pathway(session, pathway_id)
    return render_template("pathways_admin/publish.html", pathway=detail.pathway, steps=detail.steps,
                           dry_run=projection.publish_dry_run(session, pathway_id))


@bp.post("/pathways/<int:pathway_id>/publish")
@admin_required
def publish(pathway_id: int) -> Response:
    try:
        published = services.publish_pathway(get_session(), pathway_id)
    except CairnError as exc:
        flash(f"Not published: {exc.message}", "error")
        return redirect(url_for("pathways_admin.pathway", pathway_id=pathway_id))
    flash(f"Version {published.version} of “{published.title}” is published.")
    return redirect(url_for("pathways_admin.pathway", pathway_id=published.id))


@bp.post("/pathways/<int:pathway_id>/archive", endpoint="archive")
@admin_required
def archive(pathway_id: int) -> Response:
    archived = services.archive_pathway(get_session(), pathway_id)
    flash(f"“{archived.title}” is archived: learners no longer see it; its records stay.")
    return redirect(url_for("pathways_admin.pathway", pathway_id=pathway_id))


@bp.post("/pathways/<int:pathway_id>/delete", endpoint="delete_draft")
@admin_required
def delete_draft(pathway_id: int) -> Response:
    detail = services.get_pathway(get_session(), pathway_id)
    services.delete_draft(get_session(), pathway_id)
    flash(f"Draft version {detail.pathway.version} of “{detail.pathway.title}” deleted.")
    return redirect(url_for("pathways_admin.pathways"))


@bp.get("/pathways/<int:pathway_id>/preview", endpoint="preview")
@admin_required
def preview(pathway_id: int) -> str:
    # The learner page itself, computed by the same rules, for someone who has not started.
    user = current_user()
    assert user is not None
    detail = services.learner_pathway(get_session(), user.id, pathway_id)
    from pathways.portal.learner import STEP_KIND_LABELS as LEARNER_LABELS
    return render_template("portal/pathway.html", detail=detail, progress=detail.progress,
                           pathway=detail.progress.pathway, steps=detail.steps, step_kinds=LEARNER_LABELS,
                           preview=True)
