"""Administration of people: list, search, create and edit accounts and their learner attributes.

Learners mostly arrive by LTI launches; these pages cover people who sign in directly, and the
attributes (department, role, location...) that audience rules match.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, abort, flash, redirect, render_template, request, url_for
from marshmallow import EXCLUDE, Schema, fields, validate

from cairn.accounts import services
from cairn.accounts.models import ROLES
from cairn.auth import admin_required
from cairn.db import get_session
from cairn.errors import CairnError, Conflict
from cairn.fields import Integer, String
from cairn.nav import register_nav_link
from cairn.pages import KeyValueLines, load_form

bp = Blueprint("people", __name__, url_prefix="/admin/people")


class PersonSearch(Schema):
    class Meta:
        unknown = EXCLUDE

    q = String(load_default="")
    role = String(load_default=None, validate=validate.OneOf(("", *ROLES)))
    page = Integer(load_default=1, validate=validate.Range(min=1))


class PersonForm(Schema):
    class Meta:
        unknown = EXCLUDE

    name = String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(load_default=None)
    # Checked here as well as by the service, so that the page marks the field and keeps the form.
    password = String(load_default=None, validate=validate.Length(
        min=services.MIN_PASSWORD_LENGTH, error="Use at least {min} characters."))
    role = String(load_default="learner", validate=validate.OneOf(ROLES))
    active = fields.Boolean(load_default=False)
    attributes = KeyValueLines(load_default=dict)


def _blank_to_none(form: dict) -> dict:
    return {k: (v if v != "" else None) for k, v in form.items()}


@bp.get("/", endpoint="index")
@admin_required
def index() -> str:
    search, _ = load_form(PersonSearch(), request.args)
    search = search or {"q": "", "role": None, "page": 1}
    return _people_page(search, form={"role": "learner", "active": True}, errors={})


PER_PAGE = 50


def _people_page(search: dict, *, form: Any, errors: dict, status: int = 200) -> Any:
    """The list, a page of ``PER_PAGE`` by name, with the form to add someone."""
    session = get_session()
    role = search["role"] or None
    total = services.count_users(session, search=search["q"], role=role)
    pages = max(1, -(-total // PER_PAGE))
    page = min(search.get("page") or 1, pages)
    people = services.list_users(session, search=search["q"], role=role, limit=PER_PAGE,
                                 offset=(page - 1) * PER_PAGE)
    first = (page - 1) * PER_PAGE + 1 if people else 0
    return render_template("people.html", people=people, search=search, total=total, page=page, pages=pages,
                           first=first, last=first + len(people) - 1 if people else 0,
                           form=form, errors=errors, roles=ROLES), status


@bp.post("/")
@admin_required
def create() -> Response | tuple[str, int]:
    data, errors = load_form(PersonForm(), _form_without_blanks())
    if data is not None:
        try:
            user = services.create_user(get_session(), name=data["name"], email=data["email"],
                                        password=data["password"], role=data["role"],
                                        attributes=data["attributes"])
        except Conflict as exc:  # the email is taken: said beside it
            errors = {"email": [exc.message]}
        except CairnError as exc:
            errors = {"_schema": [exc.message]}
        else:
            flash(f"{user.name} added.")
            return redirect(url_for("people.index"))
    return _people_page({"q": "", "role": None, "page": 1}, form=request.form, errors=errors, status=400)


@bp.get("/<int:user_id>", endpoint="edit")
@admin_required
def edit(user_id: int) -> str:
    user = services.get_user(get_session(), user_id) or abort(404)
    return render_template("person.html", person=user, errors={}, roles=ROLES,
                           attributes=KeyValueLines()._serialize(user.attributes, None, None))


@bp.post("/<int:user_id>")
@admin_required
def update(user_id: int) -> Response | tuple[str, int]:
    user = services.get_user(get_session(), user_id) or abort(404)
    data, errors = load_form(PersonForm(), _form_without_blanks())
    if data is None:
        return render_template("person.html", person=user, errors=errors, roles=ROLES,
                               attributes=request.form.get("attributes", "")), 400
    services.update_user(get_session(), user, name=data["name"], role=data["role"], active=data["active"],
                         attributes=data["attributes"])
    if data["password"]:
        services.set_password(get_session(), user, data["password"])
    flash(f"{user.name} saved.")
    return redirect(url_for("people.edit", user_id=user.id))


def _form_without_blanks():  # type: ignore[no-untyped-def]
    from werkzeug.datastructures import MultiDict
    return MultiDict([(k, v) for k, v in request.form.items(multi=True) if v != "" or k == "name"])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register_nav_link(app, "admin", "people.index", "People", order=80, section="people.")
