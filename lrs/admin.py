"""LRS administration pages: xAPI credentials (create with scopes, revoke) and a statement browser."""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, Response, current_app, flash, redirect, render_template, request, url_for
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate, validates

from cairn.auth import admin_required
from cairn.db import get_session
from cairn.fields import Integer, String
from cairn.nav import register_nav_link
from cairn.pages import load_form
from lrs import services
from lrs.errors import LRSError

bp = Blueprint("lrs_admin", __name__, url_prefix="/admin/lrs", template_folder="templates")

# Launch credentials are issued per content launch; they are not managed by hand.
MANAGED_SCOPES = services.SCOPES
SCOPE_HELP = {
    "statements/write": "write statements", "statements/read": "read every statement",
    "statements/read/mine": "read the statements it wrote", "all/read": "read everything",
    "all": "everything", "state": "State documents", "define": "define activities",
    "profile": "Agent and Activity Profile documents",
}


class CredentialForm(Schema):
    class Meta:
        unknown = EXCLUDE

    name = String(required=True, validate=validate.Length(min=1, max=200))
    scopes = fields.List(String(validate=validate.OneOf(MANAGED_SCOPES)), required=True,
                         validate=validate.Length(min=1, error="choose at least one scope"))
    authority_email = fields.Email(load_default=None)

    @pre_load
    def _blank(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {k: v for k, v in data.items() if v not in ("", [])}


class StatementFilter(Schema):
    """The xAPI GET /statements filters, as a search form."""

    class Meta:
        unknown = EXCLUDE

    agent = String(load_default="")
    verb = String(load_default="")
    activity = String(load_default="")
    registration = fields.UUID(load_default=None)
    related_activities = fields.Boolean(load_default=False)
    related_agents = fields.Boolean(load_default=False)
    since = fields.DateTime(load_default=None)
    until = fields.DateTime(load_default=None)
    limit = Integer(load_default=25, validate=validate.Range(min=1, max=500))
    ascending = fields.Boolean(load_default=False)
    cursor = String(load_default=None)

    @pre_load
    def _blank(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {k: v for k, v in data.items() if v != ""}

    @validates("agent")
    def _agent(self, value: str, **_: Any) -> None:
        if value:
            _agent_of(value)


def _agent_of(text: str) -> dict:
    """An agent typed as an email, a ``mailto:`` IRI, or xAPI Agent JSON."""
    text = text.strip()
    if text.startswith("{"):
        try:
            agent = json.loads(text)
        except ValueError as exc:
            raise ValidationError("is not valid JSON") from exc
        if not isinstance(agent, dict):
            raise ValidationError("must be an Agent object")
        return agent
    if "@" in text:
        return {"mbox": text if text.startswith("mailto:") else f"mailto:{text}"}
    raise ValidationError("give an email address or Agent JSON")


def _credentials_page(form: Any, errors: dict, status: int = 200, created: Any = None,
                      secret: str = "") -> Any:
    include_revoked = request.args.get("revoked") == "1"
    credentials = [c for c in services.list_credentials(get_session(), include_revoked=include_revoked)
                   if not c.is_launch]
    endpoint = current_app.config["BASE_URL"] + current_app.config["XAPI_PATH"] + "/"
    return render_template("lrs_admin_credentials.html", credentials=credentials, form=form, errors=errors,
                           scopes=MANAGED_SCOPES, scope_help=SCOPE_HELP, created=created, secret=secret,
                           endpoint=endpoint, include_revoked=include_revoked), status


@bp.get("/credentials", endpoint="credentials")
@admin_required
def credentials() -> Any:
    return _credentials_page({"scopes": ["statements/write", "statements/read/mine"]}, {})


@bp.post("/credentials")
@admin_required
def create_credential() -> Any:
    data, errors = load_form(CredentialForm())
    if data is not None:
        name = data["name"]
        if data["authority_email"]:
            authority = {"objectType": "Agent", "name": name, "mbox": f"mailto:{data['authority_email']}"}
        else:
            authority = {"objectType": "Agent", "name": name,
                         "account": {"homePage": current_app.config["BASE_URL"], "name": name}}
        try:
            info, secret = services.create_credential(get_session(), name=name, scopes=data["scopes"],
                                                      authority=authority)
        except LRSError as exc:
            errors = {"_schema": [exc.message]}
        else:
            # The secret is shown on this response only: it is stored as a hash and never again readable.
            return _credentials_page({"scopes": []}, {}, 201, created=info, secret=secret)
    form = {"name": request.form.get("name", ""), "scopes": request.form.getlist("scopes"),
            "authority_email": request.form.get("authority_email", "")}
    return _credentials_page(form, errors, 400)


@bp.post("/credentials/<key>/revoke", endpoint="revoke_credential")
@admin_required
def revoke_credential(key: str) -> Response:
    info = services.revoke_credential(get_session(), key)
    flash(f"Credential “{info.name}” revoked: it authenticates nothing from now on.")
    return redirect(url_for("lrs_admin.credentials"))


@bp.get("/statements", endpoint="statements")
@admin_required
def statements() -> Any:
    data, errors = load_form(StatementFilter(), request.args)
    page = None
    if data is not None:
        query = services.StatementQuery(
            agent=_agent_of(data["agent"]) if data["agent"] else None, verb=data["verb"] or None,
            activity=data["activity"] or None,
            registration=str(data["registration"]) if data["registration"] else None,
            related_activities=data["related_activities"], related_agents=data["related_agents"],
            since=data["since"], until=data["until"], limit=data["limit"], ascending=data["ascending"],
            cursor=data["cursor"])
        try:
            page = services.query_statements(get_session(), query)
        except LRSError as exc:
            errors = {"_schema": [exc.message]}
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    return render_template("lrs_admin_statements.html", page=page, errors=errors, args=args,
                           show=request.args.get("show")), (200 if not errors else 400)


@bp.get("/statements/<statement_id>", endpoint="statement")
@admin_required
def statement(statement_id: str) -> str:
    stored = services.get_statement(get_session(), statement_id) or \
        services.get_statement(get_session(), statement_id, voided=True)
    if stored is None:
        from cairn.errors import NotFound
        raise NotFound(f"no statement {statement_id}")
    return render_template("lrs_admin_statement.html", stored=stored,
                           pretty=json.dumps(stored.statement, indent=2, sort_keys=True, ensure_ascii=False))


@bp.app_template_filter("statement_summary")
def statement_summary(statement: dict) -> str:
    """``actor verb object`` in words, for a table row."""
    actor = statement.get("actor") or {}
    who = actor.get("name") or actor.get("mbox", "").removeprefix("mailto:") or \
        (actor.get("account") or {}).get("name") or actor.get("openid") or "someone"
    verb = statement.get("verb") or {}
    display = verb.get("display") or {}
    did = next(iter(display.values()), None) or verb.get("id", "").rsplit("/", 1)[-1]
    obj = statement.get("object") or {}
    names = ((obj.get("definition") or {}).get("name") or {})
    what = next(iter(names.values()), None) or obj.get("id") or obj.get("objectType", "")
    return f"{who} {did} {what}"


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register_nav_link(app, "admin", "lrs_admin.statements", "Statements", order=90,
                      section="lrs_admin.statement")
    register_nav_link(app, "admin", "lrs_admin.credentials", "xAPI credentials", order=95,
                      section="lrs_admin.credential")
