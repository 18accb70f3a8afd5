"""The pathways JSON API under /api/: parse with a schema, check access, call one service, dump.

Each view is registered with ``route``, which also records it for the OpenAPI document
(``/api/openapi.json``). Writes need the signed-in session's CSRF token in ``X-CSRFToken``
(``GET /api/session`` hands it out).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, request, stream_with_context
from flask_wtf.csrf import generate_csrf
from marshmallow import Schema

from cairn.accounts.models import User
from cairn.auth import current_user
from cairn.db import get_session, streamed
from pathways import access, actions, assessments, projection, reports, services
from pathways import schemas as s
from pathways.errors import NotFound

bp = Blueprint("pathways_api", __name__, url_prefix="/api")


@dataclass(frozen=True)
class RouteDoc:
    rule: str
    method: str
    summary: str
    tag: str
    body: type[Schema] | None
    query: type[Schema] | None
    response: type[Schema] | None
    many: bool
    status: int
    public: bool
    csv: bool


ROUTES: list[RouteDoc] = []


def route(rule: str, method: str, *, summary: str, tag: str, body: type[Schema] | None = None,
          query: type[Schema] | None = None, response: type[Schema] | None = None, many: bool = False,
          status: int = 200, public: bool = False, csv: bool = False) -> Callable[[Callable[..., Any]], Any]:
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=view, methods=[method])
        ROUTES.append(RouteDoc(rule, method, summary, tag, body, query, response, many, status, public, csv))
        return view
    return decorate


def _body(schema: type[Schema]) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        from marshmallow import ValidationError
        raise ValidationError({"_body": ["send a JSON object"]})
    return schema().load(data)


def _query(schema: type[Schema]) -> dict[str, Any]:
    return schema().load(request.args.to_dict())


def _dump(schema: type[Schema], value: Any, status: int = 200, many: bool = False) -> tuple[Any, int]:
    return schema(many=many).dump(value), status


def _csv(rows: Any, columns: list[str], filename: str) -> Response:
    response = Response(stream_with_context(streamed(reports.csv_lines(rows, columns))), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ------------------------------------------------------------------------------------------------ session


@route("/session", "GET", summary="Who is signed in, and the CSRF token for writes", tag="session",
       response=s.SessionOut, public=True)
def session_info() -> Any:
    user = current_user()
    instructor = bool(user and services.classes_taught_by(get_session(), user.id))
    return _dump(s.SessionOut, {"user_id": user.id if user else None, "name": user.name if user else None,
                                "role": user.role if user else None, "instructor": instructor,
                                "csrf_token": generate_csrf()})


# --------------------------------------------------------------------------------------------- categories


@route("/categories", "GET", summary="Categories as a tree (depth-first)", tag="catalogue",
       response=s.CategoryOut, many=True)
def categories_list() -> Any:
    access.signed_in()
    return _dump(s.CategoryOut, services.list_categories(get_session()), many=True)


@route("/categories", "POST", summary="Create a category", tag="catalogue", body=s.CategoryIn,
       response=s.CategoryOut, status=201)
def categories_create() -> Any:
    access.admin()
    data = _body(s.CategoryIn)
    return _dump(s.CategoryOut, services.create_category(get_session(), **data), 201)


@route("/categories/<int:category_id>", "PATCH", summary="Rename or move a category", tag="catalogue",
       body=s.CategoryPatch, response=s.CategoryOut)
def categories_update(category_id: int) -> Any:
    access.admin()
    data = _body(s.CategoryPatch)
    return _dump(s.CategoryOut, services.update_category(get_session(), category_id, **data))


@route("/categories/<int:category_id>", "DELETE", summary="Delete a category (its content moves up)",
       tag="catalogue", status=204)
def categories_delete(category_id: int) -> Any:
    access.admin()
    services.delete_category(get_session(), category_id)
    return "", 204


# ----------------------------------------------------------------------------------------------- pathways


@route("/pathways", "GET", summary="Pathways (newest version of each), filtered", tag="catalogue",
       query=s.PathwayQuery, response=s.PathwayOut, many=True)
def pathways_list() -> Any:
    user = access.signed_in()
    filters = _query(s.PathwayQuery)
    if not user.is_admin:
        filters["status"] = "published"  # learners and instructors see what is live
    return _dump(s.PathwayOut, services.list_pathways(get_session(), **filters), many=True)


@route("/pathways", "POST", summary="Create a draft pathway", tag="catalogue", body=s.PathwayIn,
       response=s.PathwayOut, status=201)
def pathways_create() -> Any:
    access.admin()
    return _dump(s.PathwayOut, services.create_pathway(get_session(), **_body(s.PathwayIn)), 201)


@route("/pathways/<int:pathway_id>", "GET", summary="A pathway version with its steps", tag="catalogue",
       response=s.PathwayDetailOut)
def pathways_get(pathway_id: int) -> Any:
    user = access.signed_in()
    detail = services.get_pathway(get_session(), pathway_id)
    if not user.is_admin and detail.pathway.status == "draft":
        raise NotFound(f"no pathway {pathway_id}")
    return _dump(s.PathwayDetailOut, detail)


@route("/pathways/<int:pathway_id>", "PATCH",
       summary="Change a pathway (a published one gets a new draft version, which is returned)",
       tag="catalogue", body=s.PathwayPatch, response=s.PathwayOut)
def pathways_update(pathway_id: int) -> Any:
    access.admin()
    return _dump(s.PathwayOut, services.update_pathway(get_session(), pathway_id, **_body(s.PathwayPatch)))


@route("/pathways/<int:pathway_id>/publish", "POST", summary="Publish a draft version", tag="catalogue",
       response=s.PathwayOut)
def pathways_publish(pathway_id: int) -> Any:
    access.admin()
    return _dump(s.PathwayOut, services.publish_pathway(get_session(), pathway_id))


@route("/pathways/<int:pathway_id>/publish-dry-run", "GET",
       summary="Learners whose status would change if this draft were published", tag="catalogue",
       response=s.StatusChangeOut, many=True)
def pathways_dry_run(pathway_id: int) -> Any:
    access.admin()
    return _dump(s.StatusChangeOut, projection.publish_dry_run(get_session(), pathway_id), many=True)


@route("/pathways/<int:pathway_id>/archive", "POST", summary="Archive a pathway", tag="catalogue",
       response=s.PathwayOut)
def pathways_archive(pathway_id: int) -> Any:
    access.admin()
    return _dump(s.PathwayOut, services.archive_pathway(get_session(), pathway_id))


@route("/pathways/<int:pathway_id>/steps", "POST",
       summary="Add a step (to the draft version of a published pathway)", tag="catalogue", body=s.StepIn,
       response=s.StepOut, status=201)
def steps_create(pathway_id: int) -> Any:
    access.admin()
    return _dump(s.StepOut, services.add_step(get_session(), pathway_id, **_body(s.StepIn)), 201)


@route("/pathways/<int:pathway_id>/step-order", "PUT", summary="Reorder the steps", tag="catalogue",
       body=s.StepOrderIn, response=s.StepOut, many=True)
def steps_reorder(pathway_id: int) -> Any:
    access.admin()
    data = _body(s.StepOrderIn)
    return _dump(s.StepOut, services.reorder_steps(get_session(), pathway_id, data["step_ids"]), many=True)


@route("/steps/<int:step_id>", "PATCH", summary="Change a step (in the draft version)", tag="catalogue",
       body=s.StepPatch, response=s.StepOut)
def steps_update(step_id: int) -> Any:
    access.admin()
    return _dump(s.StepOut, services.update_step(get_session(), step_id, **_body(s.StepPatch)))


@route("/steps/<int:step_id>", "DELETE", summary="Remove a step (from the draft version)", tag="catalogue",
       status=204)
def steps_delete(step_id: int) -> Any:
    access.admin()
    services.remove_step(get_session(), step_id)
    return "", 204


# ----------------------------------------------------------------------------------- audiences and classes


@route("/audiences", "GET", summary="Audiences", tag="people", response=s.AudienceOut, many=True)
def audiences_list() -> Any:
    access.admin()
    return _dump(s.AudienceOut, services.list_audiences(get_session()), many=True)


@route("/audiences", "POST", summary="Create an audience (members and/or rules)", tag="people",
       body=s.AudienceIn, response=s.AudienceOut, status=201)
def audiences_create() -> Any:
    access.admin()
    return _dump(s.AudienceOut, services.create_audience(get_session(), **_body(s.AudienceIn)), 201)


@route("/audiences/<int:audience_id>", "PATCH", summary="Change an audience", tag="people",
       body=s.AudiencePatch, response=s.AudienceOut)
def audiences_update(audience_id: int) -> Any:
    access.admin()
    return _dump(s.AudienceOut,
                 services.update_audience(get_session(), audience_id, **_body(s.AudiencePatch)))


@route("/audiences/<int:audience_id>", "DELETE", summary="Delete an audience", tag="people", status=204)
def audiences_delete(audience_id: int) -> Any:
    access.admin()
    services.delete_audience(get_session(), audience_id)
    return "", 204


@route("/classes", "GET", summary="Classes (administrators: all; instructors: theirs)", tag="people",
       response=s.ClassOut, many=True)
def classes_list() -> Any:
    user = access.signed_in()
    session = get_session()
    classes = services.list_classes(session) if user.is_admin else \
        services.classes_taught_by(session, user.id)
    return _dump(s.ClassOut, classes, many=True)


@route("/classes", "POST", summary="Create a class by hand", tag="people", body=s.ClassIn,
       response=s.ClassOut, status=201)
def classes_create() -> Any:
    access.admin()
    return _dump(s.ClassOut, services.create_class(get_session(), **_body(s.ClassIn)), 201)


@route("/classes/<int:class_id>/members", "GET", summary="A class's roster", tag="people",
       response=s.MembershipOut, many=True)
def classes_members(class_id: int) -> Any:
    user = access.signed_in()
    session = get_session()
    access.require_class_manager(session, user, class_id)
    return _dump(s.MembershipOut, services.class_members(session, class_id, active_only=False), many=True)


@route("/classes/<int:class_id>/members/<int:user_id>", "PUT", summary="Add or change a member of a class",
       tag="people", body=s.MembershipIn, response=s.MembershipOut)
def classes_set_member(class_id: int, user_id: int) -> Any:
    access.admin()
    data = _body(s.MembershipIn)
    return _dump(s.MembershipOut, services.set_class_membership(get_session(), class_id, user_id, **data))


@route("/assignments", "GET", summary="Assignments, filtered", tag="people", query=s.AssignmentQuery,
       response=s.AssignmentOut, many=True)
def assignments_list() -> Any:
    access.admin()
    return _dump(s.AssignmentOut, services.list_assignments(get_session(), **_query(s.AssignmentQuery)),
                 many=True)


@route("/assignments", "POST",
       summary="Assign a pathway to an audience, class or learner (instructors: to their classes)",
       tag="people", body=s.AssignmentIn, response=s.AssignmentOut, status=201)
def assignments_create() -> Any:
    viewer = access.signed_in()
    data = _body(s.AssignmentIn)
    if not viewer.is_admin:  # instructors assign pathways to the classes they teach, nothing else
        if data.get("class_id") is None:
            raise access.Forbidden("instructors can assign pathways to their classes only")
        access.require_class_manager(get_session(), viewer, data["class_id"])
    return _dump(s.AssignmentOut, services.assign_pathway(get_session(), data.pop("pathway_id"), **data), 201)


@route("/assignments/<int:assignment_id>", "DELETE", summary="Remove an assignment", tag="people", status=204)
def assignments_delete(assignment_id: int) -> Any:
    access.admin()
    services.unassign(get_session(), assignment_id)
    return "", 204


# -------------------------------------------------------------------------------------------- assessments


@route("/assessments", "GET", summary="Question banks", tag="assessments", response=s.AssessmentOut,
       many=True)
def assessments_list() -> Any:
    access.admin()
    return _dump(s.AssessmentOut, assessments.list_assessments(get_session()), many=True)


@route("/assessments", "POST", summary="Create a question bank", tag="assessments", body=s.AssessmentIn,
       response=s.AssessmentOut, status=201)
def assessments_create() -> Any:
    access.admin()
    return _dump(s.AssessmentOut, assessments.create_assessment(get_session(), **_body(s.AssessmentIn)), 201)


@route("/assessments/<int:assessment_id>", "GET", summary="A question bank with its questions and answers",
       tag="assessments", response=s.AssessmentOut)
def assessments_get(assessment_id: int) -> Any:
    access.admin()
    return _dump(s.AssessmentOut, assessments.get_assessment(get_session(), assessment_id))


@route("/assessments/<int:assessment_id>", "PATCH", summary="Change a bank's rules", tag="assessments",
       body=s.AssessmentPatch, response=s.AssessmentOut)
def assessments_update(assessment_id: int) -> Any:
    access.admin()
    data = _body(s.AssessmentPatch)
    return _dump(s.AssessmentOut, assessments.update_assessment(get_session(), assessment_id, **data))


@route("/assessments/<int:assessment_id>/questions", "POST", summary="Add a question", tag="assessments",
       body=s.QuestionIn, response=s.QuestionOut, status=201)
def questions_create(assessment_id: int) -> Any:
    access.admin()
    data = _body(s.QuestionIn)
    return _dump(s.QuestionOut, assessments.add_question(get_session(), assessment_id, **data), 201)


@route("/questions/<int:question_id>", "PATCH", summary="Change a question", tag="assessments",
       body=s.QuestionPatch, response=s.QuestionOut)
def questions_update(question_id: int) -> Any:
    access.admin()
    return _dump(s.QuestionOut,
                 assessments.update_question(get_session(), question_id, **_body(s.QuestionPatch)))


@route("/questions/<int:question_id>", "DELETE", summary="Remove a question", tag="assessments", status=204)
def questions_delete(question_id: int) -> Any:
    access.admin()
    assessments.remove_question(get_session(), question_id)
    return "", 204


@route("/assessments/<int:assessment_id>/attempts", "POST",
       summary="Start an attempt (the signed-in learner)",
       tag="assessments", body=s.AttemptStartIn, response=s.AttemptOut, status=201)
def attempts_start(assessment_id: int) -> Any:
    user = access.signed_in()
    data = _body(s.AttemptStartIn)
    return _dump(s.AttemptOut, assessments.start_attempt(get_session(), user.id, assessment_id, **data), 201)


@route("/attempts/<int:attempt_id>/submit", "POST",
       summary="Submit answers: grades them and records answered and passed/failed statements",
       tag="assessments", body=s.AttemptSubmitIn, response=s.AttemptResultOut)
def attempts_submit(attempt_id: int) -> Any:
    user = access.signed_in()
    data = _body(s.AttemptSubmitIn)
    answers = {_question_key(k): v for k, v in data["answers"].items()}
    return _dump(s.AttemptResultOut, assessments.submit_attempt(get_session(), attempt_id, user.id, answers))


def _question_key(key: str) -> int:
    from marshmallow import ValidationError
    try:
        return int(key)
    except ValueError:
        raise ValidationError({"answers": {key: ["keys are question ids"]}}) from None


# ---------------------------------------------------------------------------------------------- learners


@route("/me/pathways", "GET", summary="My pathways, overdue first", tag="learner",
       response=s.LearnerPathwayOut, many=True)
def me_pathways() -> Any:
    user = access.signed_in()
    return _dump(s.LearnerPathwayOut, services.learner_pathways(get_session(), user.id), many=True)


@route("/me/pathways/<int:pathway_id>", "GET", summary="My progress on a pathway, step by step",
       tag="learner", response=s.LearnerPathwayDetailOut)
def me_pathway(pathway_id: int) -> Any:
    user = access.signed_in()
    return _dump(s.LearnerPathwayDetailOut, services.learner_pathway(get_session(), user.id, pathway_id))


@route("/me/catalogue", "GET", summary="Optional pathways offered to me for self-enrolment", tag="learner",
       response=s.PathwayOut, many=True)
def me_catalogue() -> Any:
    user = access.signed_in()
    session = get_session()
    lineages = services.catalogue_for(session, user.id)
    offered = [p for p in (services.published_version(session, lineage) for lineage in lineages) if p]
    return _dump(s.PathwayOut, offered, many=True)


@route("/me/enrolments", "POST", summary="Enrol myself in an optional pathway", tag="learner", body=s.EnrolIn,
       response=s.AssignmentOut, status=201)
def me_enrol() -> Any:
    user = access.signed_in()
    data = _body(s.EnrolIn)
    return _dump(s.AssignmentOut, services.self_enroll(get_session(), user.id, data["pathway_id"]), 201)


@route("/me/certifications", "GET", summary="My certifications (history included)", tag="learner",
       response=s.CertificationOut, many=True)
def me_certifications() -> Any:
    user = access.signed_in()
    return _dump(s.CertificationOut, services.learner_certifications(get_session(), user.id), many=True)


@route("/me/steps/<int:step_id>/read", "POST", summary="Record a document or link as read", tag="learner",
       response=s.StatementIdOut, status=201)
def me_read(step_id: int) -> Any:
    user = access.signed_in()
    return _dump(s.StatementIdOut,
                 {"statement_id": actions.record_reading(get_session(), user.id, step_id)}, 201)


@route("/me/steps/<int:step_id>/launch", "POST",
       summary="Launch a content step: a registration whose statements count for it", tag="learner",
       body=s.LaunchIn, response=s.RegistrationOut, status=201)
def me_launch(step_id: int) -> Any:
    user = access.signed_in()
    data = _body(s.LaunchIn)
    session = get_session()
    registration = actions.record_step_launch(session, step_id, user.id,
                                              str(data["registration"]) if data["registration"] else None)
    step = services.get_step(session, step_id)
    return _dump(s.RegistrationOut, {"registration": registration, "step_id": step.id,
                                     "activity_iri": step.activity_iri, "launch_url": step.launch_url}, 201)


def _learner(user_id: int) -> User:
    viewer = access.signed_in()
    access.require_learner_view(get_session(), viewer, user_id)
    return viewer


@route("/learners/<int:user_id>/pathways", "GET", summary="A learner's pathways", tag="records",
       response=s.LearnerPathwayOut, many=True)
def learner_pathways(user_id: int) -> Any:
    _learner(user_id)
    return _dump(s.LearnerPathwayOut, services.learner_pathways(get_session(), user_id, include_history=True),
                 many=True)


@route("/learners/<int:user_id>/pathways/<int:pathway_id>", "GET",
       summary="A learner's progress on a pathway, with the statements behind each value", tag="records",
       response=s.LearnerPathwayDetailOut)
def learner_pathway(user_id: int, pathway_id: int) -> Any:
    _learner(user_id)
    return _dump(s.LearnerPathwayDetailOut, services.learner_pathway(get_session(), user_id, pathway_id))


@route("/learners/<int:user_id>/certifications", "GET", summary="A learner's certifications", tag="records",
       response=s.CertificationOut, many=True)
def learner_certifications(user_id: int) -> Any:
    _learner(user_id)
    return _dump(s.CertificationOut, services.learner_certifications(get_session(), user_id), many=True)


@route("/learners/<int:user_id>/history", "GET",
       summary="A learner's training history: every statement about them (JSON, CSV or xAPI JSON)",
       tag="records", query=s.HistoryQuery, response=s.HistoryPageOut, csv=True)
def learner_history(user_id: int) -> Any:
    _learner(user_id)
    filters = _query(s.HistoryQuery)
    out = filters.pop("format")
    session = get_session()
    if out == "csv":
        filters.pop("cursor", None), filters.pop("limit", None)
        return _csv(reports.iter_learner_history(session, user_id, **filters), reports.columns_of(
            reports.HistoryEntry), f"history-{user_id}.csv")
    if out == "xapi":
        filters.pop("cursor", None), filters.pop("limit", None)
        return Response(stream_with_context(streamed(_json_array(reports.iter_learner_statements(
                            session, user_id, **filters)))),
                        mimetype="application/json")
    return _dump(s.HistoryPageOut, reports.learner_history(session, user_id, **filters))


def _json_array(items: Iterator[dict[str, Any]]) -> Iterator[str]:
    yield "["
    first = True
    for item in items:
        yield ("" if first else ",") + json.dumps(item, separators=(",", ":"))
        first = False
    yield "]"


@route("/steps/<int:step_id>/attendance", "GET", summary="Attendance sheet of a session step", tag="records",
       query=None, response=s.AttendanceEntryOut, many=True)
def attendance_sheet(step_id: int) -> Any:
    viewer = access.signed_in()
    session = get_session()
    scope = access.report_scope(session, viewer)
    step = services.get_step(session, step_id)
    pathway = services.get_pathway(session, step.pathway_id).pathway
    learners = set(services.learners_of_lineage(session, pathway.lineage))
    if scope is not None:
        learners &= scope
    return _dump(s.AttendanceEntryOut, actions.attendance_sheet(session, step_id, sorted(learners)),
                 many=True)


@route("/steps/<int:step_id>/attendance/<int:user_id>", "PUT",
       summary="Mark a learner's attendance (records an attended statement, or voids it)", tag="records",
       body=s.AttendanceIn, response=s.StatementIdOut)
def attendance_mark(step_id: int, user_id: int) -> Any:
    viewer = access.signed_in()
    data = _body(s.AttendanceIn)
    statement_id = actions.mark_attendance(get_session(), step_id, user_id, attended=data["attended"],
                                           marked_by=viewer.id)
    return _dump(s.StatementIdOut, {"statement_id": statement_id})


# ------------------------------------------------------------------------------------------------ reports


def _report_filters(data: dict[str, Any]) -> dict[str, Any]:
    viewer = access.signed_in()
    session = get_session()
    if data.get("class_id") is not None and not viewer.is_admin:
        access.require_class_manager(session, viewer, data["class_id"])
    return {"learner_ids": access.report_scope(session, viewer), **data}


@route("/reports/progress", "GET", summary="Progress per learner and pathway, paginated (JSON or CSV)",
       tag="reports", query=s.ReportQuery, response=s.ReportPageOut, csv=True)
def report_progress() -> Any:
    data = _query(s.ReportQuery)
    out = data.pop("format")
    filters = _report_filters(data)
    session = get_session()
    if out == "csv":
        filters.pop("cursor", None), filters.pop("limit", None)
        return _csv(reports.iter_progress(session, **filters), reports.columns_of(reports.ProgressRow),
                    "progress.csv")
    return _dump(s.ReportPageOut, reports.progress_report(session, **filters))


@route("/reports/compliance", "GET",
       summary="Who is overdue, expired, or expires within N days (JSON or CSV)",
       tag="reports", query=s.ComplianceQuery, response=s.ReportPageOut, csv=True)
def report_compliance() -> Any:
    data = _query(s.ComplianceQuery)
    out = data.pop("format")
    filters = _report_filters(data)
    if out == "csv":
        filters.pop("cursor", None), filters.pop("limit", None)
        return _csv(reports.iter_compliance(get_session(), **filters),
                    reports.columns_of(reports.ProgressRow), f"compliance-{filters['kind']}.csv")
    return _dump(s.ReportPageOut, reports.compliance_page(get_session(), **filters))


@route("/reports/summary", "GET", summary="Participation and completion per pathway (JSON or CSV)",
       tag="reports", query=s.SummaryQuery, response=s.SummaryPageOut, csv=True)
def report_summary() -> Any:
    data = _query(s.SummaryQuery)
    out = data.pop("format")
    filters = _report_filters(data)
    if out != "csv":
        return _dump(s.SummaryPageOut, reports.summary_page(get_session(), **filters))
    filters.pop("cursor", None), filters.pop("limit", None)
    flat = [{"pathway_id": r.pathway_id, "pathway_title": r.pathway_title, "learners": r.learners,
             **r.counts, "completion_rate": r.completion_rate}
            for r in reports.summary_report(get_session(), **filters)]
    return _csv(flat, ["pathway_id", "pathway_title", "learners", *reports.STATUSES, "completion_rate"],
                "summary.csv")


# ---------------------------------------------------------------------------------------- certificates


@route("/certificates/<code>", "GET", summary="Verify a certificate by its code (public)", tag="certificates",
       response=s.VerificationOut, public=True)
def certificate_verify(code: str) -> Any:
    award = services.verify_certificate(get_session(), code)
    if award is None:
        raise NotFound("no certificate has this verification code")
    return _dump(s.VerificationOut, {"valid": award.status == "active", "status": award.status,
                                     "holder": award.user_name, "pathway_title": award.pathway.title,
                                     "earned_at": award.earned_at, "expires_at": award.expires_at})


@route("/openapi.json", "GET", summary="This API's OpenAPI document", tag="session", public=True)
def openapi_document() -> Any:
    from pathways.openapi import build_spec
    return build_spec(ROUTES), 200
