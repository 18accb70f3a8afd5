"""Categories, audiences, classes and assignments: how pathways are organised and who gets them."""
from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for

from cairn.accounts import services as accounts
from cairn.auth import admin_required
from cairn.db import get_session
from cairn.fields import INT32
from cairn.pages import load_form
from pathways import services
from pathways.admin.blueprint import bp
from pathways.admin.common import handle_form
from pathways.admin.forms import (
    AssignmentForm,
    AudienceForm,
    CategoryForm,
    ClassForm,
    MembershipForm,
    rules_as_lines,
)


# The people a picker (a select of people) offers at most; past this many, a search narrows it.
PICKER_LIMIT = 1000


def _people(chosen: list[int] | None = None) -> dict[str, Any]:
    """What the people pickers of a page need: the first ``PICKER_LIMIT`` people by name who match
    the page's ``?people=`` search (everyone without one), plus those already ``chosen``, so that
    a saved choice is never dropped; how many match; the search. Without a limit a select of every
    person is no way to pick among 30,000, and a silent one hid everyone past it."""
    session = get_session()
    search = request.args.get("people", "").strip()
    found, total = accounts.find_users(session, search=search, limit=PICKER_LIMIT)
    listed = {u.id for u in found}
    found += list(accounts.users_by_ids(session, [i for i in chosen or [] if i not in listed]).values())
    return {"people": found, "people_total": total, "people_search": search}


# ------------------------------------------------------------------------------------------ categories


def _categories_page(form: Any, errors: dict, status: int = 200, editing: Any = None) -> Any:
    session = get_session()
    pathways = services.list_pathways(session)
    counts: dict[int, int] = {}
    for p in pathways:
        if p.category_id is not None:
            counts[p.category_id] = counts.get(p.category_id, 0) + 1
    return render_template("pathways_admin/categories.html", categories=services.list_categories(session),
                           counts=counts, form=form, errors=errors, editing=editing), status


@bp.get("/categories", endpoint="categories")
@admin_required
def categories() -> Any:
    return _categories_page({}, {})


@bp.post("/categories")
@admin_required
def create_category() -> Any:
    return handle_form(CategoryForm(), lambda data: services.create_category(get_session(), **data),
                       lambda created: f"Category “{created.name}” added.",
                       url_for("pathways_admin.categories"),
                       lambda errors: _categories_page(request.form, errors, 400))


@bp.get("/categories/<int:category_id>", endpoint="category")
@admin_required
def category(category_id: int) -> Any:
    found = {c.id: c for c in services.list_categories(get_session())}.get(category_id) or abort(404)
    return _categories_page(found.__dict__, {}, editing=found)


@bp.post("/categories/<int:category_id>")
@admin_required
def update_category(category_id: int) -> Any:
    found = {c.id: c for c in services.list_categories(get_session())}.get(category_id) or abort(404)

    def save(data: dict[str, Any]) -> str:
        services.update_category(get_session(), category_id, **data)
        return data["name"]  # as typed (the service strips it)
    return handle_form(CategoryForm(), save, "Category “{}” saved.".format,
                       url_for("pathways_admin.categories"),
                       lambda errors: _categories_page(request.form, errors, 400, editing=found))


@bp.post("/categories/<int:category_id>/delete", endpoint="delete_category")
@admin_required
def delete_category(category_id: int) -> Response:
    services.delete_category(get_session(), category_id)
    flash("Category deleted; its pathways and sub-categories moved up one level.")
    return redirect(url_for("pathways_admin.categories"))


# ------------------------------------------------------------------------------------------- audiences


def _audiences_page(form: Any, errors: dict, status: int = 200) -> Any:
    session = get_session()
    rows = services.list_audiences(session)
    sizes = {a.id: len(services.audience_member_ids(session, a.id)) for a in rows}
    return render_template("pathways_admin/audiences.html", audiences=rows, sizes=sizes, form=form,
                           errors=errors, **_people(), rules_as_lines=rules_as_lines), status


@bp.get("/audiences", endpoint="audiences")
@admin_required
def audiences() -> Any:
    return _audiences_page({}, {})


@bp.post("/audiences")
@admin_required
def create_audience() -> Any:
    return handle_form(AudienceForm(), lambda data: services.create_audience(get_session(), **data),
                       lambda created: f"Audience “{created.name}” added.",
                       lambda created: url_for("pathways_admin.audience", audience_id=created.id),
                       lambda errors: _audiences_page(request.form, errors, 400))


def _audience_page(audience_id: int, form: Any = None, errors: dict | None = None, status: int = 200) -> Any:
    session = get_session()
    audience = services.get_audience(session, audience_id)
    members = accounts.users_by_ids(session, services.audience_member_ids(session, audience_id))
    values = form if form is not None else {"name": audience.name, "description": audience.description,
                                            "rules": rules_as_lines(audience.rules)}
    # Posted ids are shown again as chosen; what is not an id (the form refused it) is not.
    chosen = [int(i) for i in (form.getlist("member_ids") if form is not None else audience.member_ids)
              if str(i).isdigit() and int(i) <= INT32[1]]
    return render_template("pathways_admin/audience.html", audience=audience, members=members.values(),
                           form=values, chosen=chosen, errors=errors or {}, **_people(chosen),
                           assignments=services.list_assignments(session, audience_id=audience_id),
                           pathways={p.lineage: p for p in services.list_pathways(session)}), status


@bp.get("/audiences/<int:audience_id>", endpoint="audience")
@admin_required
def audience(audience_id: int) -> Any:
    return _audience_page(audience_id)


@bp.post("/audiences/<int:audience_id>")
@admin_required
def update_audience(audience_id: int) -> Any:
    return handle_form(AudienceForm(),
                       lambda data: services.update_audience(get_session(), audience_id, **data),
                       "Audience saved.", url_for("pathways_admin.audience", audience_id=audience_id),
                       lambda errors: _audience_page(audience_id, request.form, errors, 400))


@bp.post("/audiences/<int:audience_id>/delete", endpoint="delete_audience")
@admin_required
def delete_audience(audience_id: int) -> Response:
    services.delete_audience(get_session(), audience_id)
    flash("Audience deleted.")
    return redirect(url_for("pathways_admin.audiences"))


# --------------------------------------------------------------------------------------------- classes


@bp.get("/classes", endpoint="classes")
@admin_required
def classes() -> Any:
    return render_template("pathways_admin/classes.html", classes=services.list_classes(get_session()),
                           form={}, errors={})


@bp.post("/classes")
@admin_required
def create_class() -> Any:
    data, errors = load_form(ClassForm())
    if data is not None:
        created = services.create_class(get_session(), **data)
        flash(f"Class “{created.title}” added.")
        return redirect(url_for("pathways_admin.class_page", class_id=created.id))
    return render_template("pathways_admin/classes.html", classes=services.list_classes(get_session()),
                           form=request.form, errors=errors), 400


def _class_page(class_id: int, errors: dict | None = None, status: int = 200) -> Any:
    session = get_session()
    members = services.class_members(session, class_id, active_only=False)
    return render_template("pathways_admin/class.html", klass=services.get_class(session, class_id),
                           members=members,
                           users=accounts.users_by_ids(session, [m.user_id for m in members]),
                           **_people(), errors=errors or {},
                           assignments=services.list_assignments(session, class_id=class_id),
                           pathways={p.lineage: p for p in services.list_pathways(session)}), status


@bp.get("/classes/<int:class_id>", endpoint="class_page")
@admin_required
def class_page(class_id: int) -> Any:
    return _class_page(class_id)


@bp.post("/classes/<int:class_id>/members", endpoint="class_membership")
@admin_required
def class_membership(class_id: int) -> Any:
    return handle_form(MembershipForm(),
                       lambda data: services.set_class_membership(get_session(), class_id, **data),
                       "Membership saved.", url_for("pathways_admin.class_page", class_id=class_id),
                       lambda errors: _class_page(class_id, errors, 400))


@bp.post("/classes/<int:class_id>/delete", endpoint="delete_class")
@admin_required
def delete_class(class_id: int) -> Response:
    services.delete_class(get_session(), class_id)
    flash("Class deleted.")
    return redirect(url_for("pathways_admin.classes"))


# ----------------------------------------------------------------------------------------- assignments


def _assignments_page(form: Any, errors: dict, status: int = 200) -> Any:
    session = get_session()
    pathway_id = request.args.get("pathway_id", type=int)
    rows = services.list_assignments(session, pathway_id=pathway_id)
    every = services.list_pathways(session, latest_only=False)
    by_lineage: dict[str, Any] = {}
    for p in every:  # the published version names a lineage; else its newest version
        if p.lineage not in by_lineage or p.status == "published":
            by_lineage[p.lineage] = p
    users = accounts.users_by_ids(session, [a.user_id for a in rows if a.user_id])
    return render_template(
        "pathways_admin/assignments.html", assignments=rows, by_lineage=by_lineage, users=users,
        audiences={a.id: a for a in services.list_audiences(session)},
        classes={c.id: c for c in services.list_classes(session)},
        published=[p for p in services.list_pathways(session, status="published")],
        **_people(), form=form, errors=errors, pathway_id=pathway_id), status


@bp.get("/assignments", endpoint="assignments")
@admin_required
def assignments() -> Any:
    return _assignments_page({"pathway_id": request.args.get("pathway_id", ""), "target": "audience",
                              "mandatory": True}, {})


@bp.post("/assignments")
@admin_required
def assign() -> Any:
    def save(data: dict[str, Any]) -> int:
        pathway_id = data.pop("pathway_id")
        services.assign_pathway(get_session(), pathway_id, **data)
        return pathway_id
    return handle_form(AssignmentForm(), save, "Pathway assigned.",
                       lambda pathway_id: url_for("pathways_admin.assignments", pathway_id=pathway_id),
                       lambda errors: _assignments_page(request.form, errors, 400))


@bp.post("/assignments/<int:assignment_id>/delete", endpoint="unassign")
@admin_required
def unassign(assignment_id: int) -> Response:
    services.unassign(get_session(), assignment_id)
    flash("Assignment removed; learners keep their records.")
    return redirect(url_for("pathways_admin.assignments"))
