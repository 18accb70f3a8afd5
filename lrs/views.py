"""The xAPI Statement and About resources (xAPI 1.0.3 Communication 2.1 and 2.8)."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, request

from cairn import jsoncodec
from cairn.db import get_session, utcnow
from lrs import services
from lrs.credentials import CredentialInfo, launch_allows_statement
from lrs.errors import BadRequest, NotFound, ScopeForbidden
from lrs.formats import format_statement
from lrs.http import (
    SUPPORTED_VERSIONS,
    authenticate,
    json_body,
    loads_strict,
    read_only_request,
    xapi_path,
    xapi_version,
)
from lrs.multipart import attachment_parts, build_multipart, parse_multipart
from lrs.schemas import AboutSchema, StatementPutParams, StatementResultSchema, StatementsQueryParams
from lrs.signatures import check_signatures
from lrs.statement_rows import format_stored

bp = Blueprint("xapi", __name__)

READ_SCOPES = ("statements/read", "statements/read/mine", "all/read")
WRITE_SCOPES = ("statements/write",)


@bp.get("/about")
def about() -> Response:
    """Versions and extensions; public, no credential needed (xAPI 1.0.3 Communication 2.8)."""
    body = AboutSchema().dump({"version": list(SUPPORTED_VERSIONS), "extensions": {}})
    return _json(body)


@bp.put("/statements")
def put_statement() -> Response:
    credential = authenticate(*WRITE_SCOPES)
    params = StatementPutParams().load(request.args)
    body, attachments = _statements_from_request()
    if not isinstance(body, dict):
        raise BadRequest("PUT /statements takes one statement object")
    _check_launch(credential, [body])
    services.store_statement(get_session(), body, authority=credential.authority,
                             statement_id=params["statementId"], version=xapi_version(),
                             attachments=attachments, subscribers_after_commit=True)
    return Response(status=204)


@bp.post("/statements")
def post_statements() -> Response:
    credential = authenticate(*WRITE_SCOPES)
    if request.args:
        raise BadRequest(f"unknown parameter(s) on POST /statements: {', '.join(sorted(request.args))}")
    body, attachments = _statements_from_request()
    statements = body if isinstance(body, list) else [body]
    _check_launch(credential, statements)
    # Content that sends statements reads nothing derived back in the same request: the
    # subscribers that allow it (the progress projection) run after the commit.
    stored = services.store_statements(get_session(), statements, authority=credential.authority,
                                       version=xapi_version(), attachments=attachments,
                                       subscribers_after_commit=True)
    return _json([s.id for s in stored])


@bp.get("/statements")
def get_statements() -> Response:
    read_only_request()
    credential = authenticate(*READ_SCOPES)
    schema = StatementsQueryParams()
    schema.context["given"] = set(request.args)
    params = schema.load(request.args)
    mine_only = not credential.allows("statements/read", "all/read")
    session = get_session()
    languages = [lang for lang, _ in request.accept_languages]
    if "statementId" in params or "voidedStatementId" in params:
        voided = "voidedStatementId" in params
        found = services.get_statement(session, params["voidedStatementId" if voided else "statementId"],
                                       voided=voided)
        if found is None or (mine_only and not _vouched_by(found.statement, credential)):
            raise NotFound("no such statement" + (" among the voided ones" if voided else ""))
        statement = format_statement(found.statement, params["format"], languages)
        response = _statements_response(statement, [found.statement], params["attachments"])
        response.headers["Last-Modified"] = _http_date(found.stored)
    else:
        query = services.StatementQuery(
            agent=params.get("agent"), verb=params.get("verb"), activity=params.get("activity"),
            registration=params.get("registration"), related_activities=params["related_activities"],
            related_agents=params["related_agents"], since=params.get("since"), until=params.get("until"),
            limit=params["limit"], ascending=params["ascending"], cursor=params.get("cursor"),
            authority=credential.authority if mine_only else None)
        page = services.query_statements(session, query)
        more = _more_url(page.more_cursor) if page.more_cursor else ""
        if params["format"] == "exact" and not params["attachments"]:
            # The stored JSON text goes out as it is: no decoding and re-encoding of every statement.
            response = _json_text('{"statements":[' + ",".join(s.json_text for s in page.statements)
                                  + '],"more":' + json.dumps(more) + "}")
        else:
            result = StatementResultSchema().dump({
                "statements": [format_statement(s.statement, params["format"], languages)
                               for s in page.statements],
                "more": more,
            })
            response = _statements_response(result, [s.statement for s in page.statements],
                                            params["attachments"])
        newest = max((s.stored for s in page.statements), default=None)
        response.headers["Last-Modified"] = _http_date(newest or utcnow())
    return response


@bp.after_request
def _consistent_through(response: Response) -> Response:
    # On every statement GET, whatever the status (xAPI 1.0.3 Communication 2.1.3, XAPI-00153).
    if request.method in ("GET", "HEAD") and request.path.endswith("/statements"):
        try:
            moment = services.consistent_through(get_session())
        except Exception:  # a failed transaction must not hide the header; "now" is the safe upper bound
            moment = utcnow()
        response.headers["X-Experience-API-Consistent-Through"] = format_stored(moment)
    return response


# -- helpers -----------------------------------------------------------------------------------------


def _json(body: Any, status: int = 200) -> Response:
    return _json_text(jsoncodec.dumps(body), status)


def _json_text(body: str | bytes, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="application/json")


def _http_date(moment: Any) -> str:
    from werkzeug.http import http_date
    return http_date(moment)


def _vouched_by(statement: dict, credential: CredentialInfo) -> bool:
    from lrs.identities import same_identity
    return same_identity(statement.get("authority"), credential.authority)


def _more_url(cursor: str) -> str:
    params = [(k, v) for k, v in request.args.items(multi=True) if k != "cursor"]
    params.append(("cursor", cursor))
    return f"{xapi_path()}/statements?{urlencode(params)}"


def _statements_from_request() -> tuple[Any, dict[str, tuple[str, bytes]]]:
    """The statement JSON of a PUT/POST and the attachment contents sent with it."""
    mimetype = request.mimetype
    if mimetype == "multipart/mixed":
        parts = parse_multipart(request.get_data(cache=True), request.mimetype_params.get("boundary"))
        if parts[0].content_type != "application/json":
            raise BadRequest("the first part of a multipart/mixed statement request must be application/json")
        try:
            body = loads_strict(parts[0].content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the statement part is not valid JSON ({exc})") from None
        attachments = attachment_parts(parts)
        _check_parts_declared(body, attachments)
    elif mimetype in ("application/json", ""):
        body = json_body()
        attachments = {}
    else:
        raise BadRequest(f"statements are sent as application/json or multipart/mixed, not {mimetype}")
    statements = body if isinstance(body, list) else [body]
    check_signatures(statements, attachments, xapi_version())
    return body, attachments


def _check_parts_declared(body: Any, attachments: dict[str, tuple[str, bytes]]) -> None:
    declared = set()
    for statement in body if isinstance(body, list) else [body]:
        if isinstance(statement, dict):
            for attachment in statement.get("attachments", []) or []:
                if isinstance(attachment, dict) and isinstance(attachment.get("sha2"), str):
                    declared.add(attachment["sha2"].lower())
    for sha2 in attachments:
        if sha2 not in declared:
            raise BadRequest(f"multipart part with hash {sha2} matches no attachment of the statements")


def _check_launch(credential: CredentialInfo, statements: list[Any]) -> None:
    if not credential.is_launch:
        return
    for statement in statements:
        reason = launch_allows_statement(credential, statement if isinstance(statement, dict) else {})
        if reason:
            raise ScopeForbidden(reason)


def _statements_response(body: Any, statements: list[dict], with_attachments: bool) -> Response:
    if not with_attachments:
        return _json(body)
    wanted: dict[str, str] = {}
    for statement in statements:
        for attachment in _attachments_of(statement):
            wanted.setdefault(attachment["sha2"].lower(), attachment["contentType"])
    contents = services.attachment_contents(get_session(), list(wanted))
    parts = [(sha2, contents[sha2][0], contents[sha2][1]) for sha2 in wanted if sha2 in contents]
    payload, boundary = build_multipart(jsoncodec.dumps(body), parts)
    return Response(payload, mimetype=f"multipart/mixed; boundary={boundary}")


def _attachments_of(statement: dict) -> list[dict]:
    found = list(statement.get("attachments", []) or [])
    obj = statement.get("object", {})
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        found += obj.get("attachments", []) or []
    return found
