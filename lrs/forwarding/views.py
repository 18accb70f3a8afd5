"""The forwarding admin page: targets with their backlog, last success and last error."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from cairn.auth import admin_required
from cairn.db import get_session
from lrs.forwarding import targets
from lrs.forwarding.filters import pathway_activities_of
from lrs.forwarding.schemas import TargetForm
from lrs.services import latest_sequence

bp = Blueprint("lrs_forwarding", __name__, url_prefix="/admin/lrs/forwarding", template_folder="../templates")


def _statuses(session: Session) -> list[targets.TargetStatus]:
    return targets.list_targets(session, pathway_activities_of(current_app))


@bp.get("/")
@admin_required
def index() -> str:
    session = get_session()
    return render_template("lrs_forwarding.html", targets=_statuses(session), form={}, errors={})


@bp.post("/")
@admin_required
def add() -> Response | tuple[str, int]:
    session = get_session()
    try:
        form = TargetForm().load(request.form)
    except ValidationError as exc:
        return render_template("lrs_forwarding.html", targets=_statuses(session),
                               form=request.form, errors=exc.messages), 400
    from_now = form.pop("from_now")
    target = targets.create_target(session,
                                   **{**form, "actors": [{"mbox": f"mailto:{a}"} for a in form["actors"]]},
                                   from_sequence=latest_sequence(session) if from_now else 0)
    flash(f"Forwarding target {target.name} added.")
    return redirect(url_for(".index"))


@bp.get("/<int:target_id>")
@admin_required
def detail(target_id: int) -> str:
    session = get_session()
    target = targets.get_target(session, target_id)
    return render_template("lrs_forwarding_target.html", target=target,
                           rejections=targets.rejections(session, target_id))


@bp.post("/<int:target_id>/resume")
@admin_required
def resume(target_id: int) -> Response:
    target = targets.resume_target(get_session(), target_id)
    flash(f"{target.name} will be retried now.")
    return redirect(url_for(".index"))


@bp.post("/<int:target_id>/remove")
@admin_required
def remove(target_id: int) -> Response:
    targets.remove_target(get_session(), target_id)
    flash("Forwarding target removed.")
    return redirect(url_for(".index"))
