"""Marshmallow schemas of the pathways JSON API: every input is loaded through one, every output dumped.

Unknown input fields are refused (``RAISE``) so a typo is a 400 naming the field, not a silent no-op.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from pathways.models import INTERACTION_TYPES, MOVE_ON, ORDERINGS, OUTCOME_KINDS, STEP_KINDS
from pathways.reports import STATUSES


class Strict(Schema):
    class Meta:
        unknown = RAISE


# ------------------------------------------------------------------------------------------------ inputs


class CategoryIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="")
    parent_id = fields.Integer(allow_none=True, load_default=None)
    position = fields.Integer(load_default=0)


class CategoryPatch(Strict):
    name = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String()
    parent_id = fields.Integer(allow_none=True)
    position = fields.Integer()


class PathwayIn(Strict):
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    outcome_kind = fields.String(required=True, validate=validate.OneOf(OUTCOME_KINDS))
    description = fields.String(load_default="")
    ordering = fields.String(load_default="free", validate=validate.OneOf(ORDERINGS))
    category_id = fields.Integer(allow_none=True, load_default=None)
    activity_iri = fields.Url(allow_none=True, load_default=None, schemes={"http", "https"},
                              require_tld=False)
    grants_certification = fields.Boolean(load_default=False)
    validity_days = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=1))
    recertification_window_days = fields.Integer(allow_none=True, load_default=None,
                                                 validate=validate.Range(min=1))


class PathwayPatch(Strict):
    title = fields.String(validate=validate.Length(min=1, max=300))
    outcome_kind = fields.String(validate=validate.OneOf(OUTCOME_KINDS))
    description = fields.String()
    ordering = fields.String(validate=validate.OneOf(ORDERINGS))
    category_id = fields.Integer(allow_none=True)
    grants_certification = fields.Boolean()
    validity_days = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    recertification_window_days = fields.Integer(allow_none=True, validate=validate.Range(min=1))


class PathwayQuery(Strict):
    status = fields.String(validate=validate.OneOf(("draft", "published", "archived")))
    category_id = fields.Integer()
    outcome_kind = fields.String(validate=validate.OneOf(OUTCOME_KINDS))
    search = fields.String(validate=validate.Length(max=200))


class _StepFields(Strict):
    title = fields.String(validate=validate.Length(min=1, max=300))
    description = fields.String()
    activity_iri = fields.String(validate=validate.Length(min=3, max=2048))
    launch_url = fields.Url(allow_none=True, require_tld=False)
    done_verbs = fields.List(fields.Url(require_tld=False))
    move_on = fields.String(allow_none=True, validate=validate.OneOf(MOVE_ON))
    mastery_score = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1))
    required = fields.Boolean()
    min_score = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1))
    session_starts_at = fields.AwareDateTime(allow_none=True)
    session_place = fields.String(allow_none=True, validate=validate.Length(max=300))
    session_capacity = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    document_url = fields.Url(allow_none=True, require_tld=False)
    assessment_id = fields.Integer(allow_none=True)
    prerequisites = fields.List(fields.Raw())


class StepIn(_StepFields):
    kind = fields.String(required=True, validate=validate.OneOf(STEP_KINDS))
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    position = fields.Integer(validate=validate.Range(min=0))


class StepPatch(_StepFields):
    kind = fields.String(validate=validate.OneOf(STEP_KINDS))


class StepOrderIn(Strict):
    step_ids = fields.List(fields.Integer(), required=True, validate=validate.Length(min=1))


class RuleIn(Strict):
    attribute = fields.String(required=True, validate=validate.Length(min=1, max=100))
    op = fields.String(load_default="equals", validate=validate.OneOf(("equals", "in", "contains")))
    value = fields.Raw(required=True, allow_none=True)


class AudienceIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="")
    rules = fields.List(fields.Nested(RuleIn), load_default=list)
    member_ids = fields.List(fields.Integer(), load_default=list)


class AudiencePatch(Strict):
    name = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String()
    rules = fields.List(fields.Nested(RuleIn))
    member_ids = fields.List(fields.Integer())


class ClassIn(Strict):
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))


class MembershipIn(Strict):
    role = fields.String(required=True, validate=validate.OneOf(("learner", "instructor")))
    active = fields.Boolean(load_default=True)


class AssignmentIn(Strict):
    pathway_id = fields.Integer(required=True)
    audience_id = fields.Integer(allow_none=True, load_default=None)
    class_id = fields.Integer(allow_none=True, load_default=None)
    user_id = fields.Integer(allow_none=True, load_default=None)
    mandatory = fields.Boolean(load_default=True)
    due_at = fields.AwareDateTime(allow_none=True, load_default=None)
    due_days = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=0))
    recurrence_months = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=1))
    reminder_days = fields.List(fields.Integer(validate=validate.Range(min=0)), load_default=list)

    @validates_schema
    def one_target(self, data: dict, **_: object) -> None:
        given = [k for k in ("audience_id", "class_id", "user_id") if data.get(k) is not None]
        if len(given) != 1:
            raise ValidationError("give exactly one of audience_id, class_id, user_id", "target")


class AssignmentQuery(Strict):
    pathway_id = fields.Integer()
    audience_id = fields.Integer()
    class_id = fields.Integer()
    user_id = fields.Integer()


class AssessmentIn(Strict):
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    pass_mark = fields.Float(load_default=0.8, validate=validate.Range(min=0, max=1, min_inclusive=False))
    attempt_limit = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=1))
    time_limit_seconds = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=10))
    shuffle = fields.Boolean(load_default=False)


class AssessmentPatch(Strict):
    title = fields.String(validate=validate.Length(min=1, max=300))
    pass_mark = fields.Float(validate=validate.Range(min=0, max=1, min_inclusive=False))
    attempt_limit = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    time_limit_seconds = fields.Integer(allow_none=True, validate=validate.Range(min=10))
    shuffle = fields.Boolean()


class QuestionIn(Strict):
    interaction_type = fields.String(required=True, validate=validate.OneOf(INTERACTION_TYPES))
    prompt = fields.String(required=True, validate=validate.Length(min=1))
    options = fields.Dict(load_default=dict)
    correct = fields.Raw(required=True)
    feedback = fields.String(load_default="")
    points = fields.Float(load_default=1.0, validate=validate.Range(min=0, min_inclusive=False))


class QuestionPatch(Strict):
    interaction_type = fields.String(validate=validate.OneOf(INTERACTION_TYPES))
    prompt = fields.String(validate=validate.Length(min=1))
    options = fields.Dict()
    correct = fields.Raw()
    feedback = fields.String()
    points = fields.Float(validate=validate.Range(min=0, min_inclusive=False))


class AttemptStartIn(Strict):
    step_id = fields.Integer(allow_none=True, load_default=None)


class AttemptSubmitIn(Strict):
    answers = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True)


class EnrolIn(Strict):
    pathway_id = fields.Integer(required=True)


class LaunchIn(Strict):
    registration = fields.UUID(allow_none=True, load_default=None)


class AttendanceIn(Strict):
    attended = fields.Boolean(required=True)


class ReportQuery(Strict):
    pathway_id = fields.Integer()
    audience_id = fields.Integer()
    class_id = fields.Integer()
    user_id = fields.Integer()
    status = fields.String(validate=validate.OneOf(STATUSES))
    cursor = fields.Integer(validate=validate.Range(min=0))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))


class ComplianceQuery(Strict):
    kind = fields.String(load_default="overdue", validate=validate.OneOf(("overdue", "expiring", "expired")))
    within_days = fields.Integer(load_default=30, validate=validate.Range(min=0, max=3650))
    pathway_id = fields.Integer()
    audience_id = fields.Integer()
    class_id = fields.Integer()
    cursor = fields.Integer(validate=validate.Range(min=0))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))


class SummaryQuery(Strict):
    pathway_id = fields.Integer()
    audience_id = fields.Integer()
    class_id = fields.Integer()
    cursor = fields.Integer(validate=validate.Range(min=0))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))


class HistoryQuery(Strict):
    verb = fields.Url(require_tld=False)
    activity = fields.String(validate=validate.Length(min=1, max=2048))
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()
    cursor = fields.String()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv", "xapi")))


# ----------------------------------------------------------------------------------------------- outputs


class CategoryOut(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    parent_id = fields.Integer(allow_none=True)
    position = fields.Integer()
    depth = fields.Integer()
    path = fields.List(fields.String())


class StepOut(Schema):
    id = fields.Integer()
    key = fields.String()
    pathway_id = fields.Integer()
    position = fields.Integer()
    kind = fields.String()
    title = fields.String()
    description = fields.String()
    activity_iri = fields.String()
    launch_url = fields.String(allow_none=True)
    done_verbs = fields.List(fields.String())
    move_on = fields.String(allow_none=True)
    mastery_score = fields.Float(allow_none=True)
    required = fields.Boolean()
    min_score = fields.Float(allow_none=True)
    session_starts_at = fields.DateTime(allow_none=True)
    session_place = fields.String(allow_none=True)
    session_capacity = fields.Integer(allow_none=True)
    document_url = fields.String(allow_none=True)
    assessment_id = fields.Integer(allow_none=True)
    prerequisites = fields.List(fields.String())


class PathwayOut(Schema):
    id = fields.Integer()
    lineage = fields.String()
    version = fields.Integer()
    title = fields.String()
    description = fields.String()
    outcome_kind = fields.String()
    status = fields.String()
    activity_iri = fields.String()
    ordering = fields.String()
    category_id = fields.Integer(allow_none=True)
    grants_certification = fields.Boolean()
    validity_days = fields.Integer(allow_none=True)
    recertification_window_days = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)
    step_count = fields.Integer()


class PathwayDetailOut(Schema):
    pathway = fields.Nested(PathwayOut)
    steps = fields.List(fields.Nested(StepOut))


class StatusChangeOut(Schema):
    user_id = fields.Integer()
    name = fields.String()
    status_before = fields.String()
    status_after = fields.String()
    percent_before = fields.Integer()
    percent_after = fields.Integer()


class AudienceOut(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    rules = fields.List(fields.Dict())
    member_ids = fields.List(fields.Integer())


class ClassOut(Schema):
    id = fields.Integer()
    source = fields.String()
    external_id = fields.String()
    title = fields.String()


class MembershipOut(Schema):
    class_id = fields.Integer()
    user_id = fields.Integer()
    role = fields.String()
    active = fields.Boolean()


class AssignmentOut(Schema):
    id = fields.Integer()
    lineage = fields.String()
    target = fields.String()
    audience_id = fields.Integer(allow_none=True)
    class_id = fields.Integer(allow_none=True)
    user_id = fields.Integer(allow_none=True)
    mandatory = fields.Boolean()
    self_enrolled = fields.Boolean()
    due_at = fields.DateTime(allow_none=True)
    due_days = fields.Integer(allow_none=True)
    recurrence_months = fields.Integer(allow_none=True)
    reminder_days = fields.List(fields.Integer())
    created_at = fields.DateTime()


Evidence = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class LearnerPathwayOut(Schema):
    user_id = fields.Integer()
    pathway = fields.Nested(PathwayOut)
    status = fields.String()
    percent = fields.Integer()
    mandatory = fields.Boolean()
    assigned = fields.Boolean()
    due_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    renewal_opens_at = fields.DateTime(allow_none=True)
    renewal_percent = fields.Integer()
    best_score = fields.Float(allow_none=True)
    attempts = fields.Integer()
    last_activity_at = fields.DateTime(allow_none=True)
    evidence = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class StepStateOut(Schema):
    step = fields.Nested(StepOut)
    state = fields.String()
    availability = fields.String()
    locked_by = fields.List(fields.String())
    done_at = fields.DateTime(allow_none=True)
    best_score = fields.Float(allow_none=True)
    attempts = fields.Integer()
    last_activity_at = fields.DateTime(allow_none=True)
    evidence = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    withdrawn = fields.List(fields.Dict())


class LearnerPathwayDetailOut(Schema):
    progress = fields.Nested(LearnerPathwayOut)
    steps = fields.List(fields.Nested(StepStateOut))


class CertificationOut(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    user_name = fields.String()
    pathway = fields.Nested(PathwayOut)
    earned_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    status = fields.String()
    code = fields.String(allow_none=True)
    revoked_by = fields.List(fields.String())
    statement_ids = fields.List(fields.String())


class VerificationOut(Schema):
    valid = fields.Boolean()
    status = fields.String()
    holder = fields.String()
    pathway_title = fields.String()
    earned_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)


class QuestionOut(Schema):
    id = fields.Integer()
    position = fields.Integer()
    interaction_type = fields.String()
    prompt = fields.String()
    options = fields.Dict()
    correct = fields.Raw(allow_none=True)
    feedback = fields.String()
    points = fields.Float()
    activity_iri = fields.String()


class AssessmentOut(Schema):
    id = fields.Integer()
    title = fields.String()
    activity_iri = fields.String()
    pass_mark = fields.Float()
    attempt_limit = fields.Integer(allow_none=True)
    time_limit_seconds = fields.Integer(allow_none=True)
    shuffle = fields.Boolean()
    questions = fields.List(fields.Nested(QuestionOut))


class LearnerQuestionOut(Schema):
    """A question as a learner sees it: without the answer."""

    id = fields.Integer()
    position = fields.Integer()
    interaction_type = fields.String()
    prompt = fields.String()
    options = fields.Dict()
    points = fields.Float()
    activity_iri = fields.String()


class AttemptOut(Schema):
    id = fields.Integer()
    assessment_id = fields.Integer()
    user_id = fields.Integer()
    registration = fields.String()
    started_at = fields.DateTime()
    deadline = fields.DateTime(allow_none=True)
    questions = fields.List(fields.Nested(LearnerQuestionOut))


class AnswerResultOut(Schema):
    question_id = fields.Integer()
    response = fields.String()
    correct = fields.Boolean()
    feedback = fields.String()


class AttemptResultOut(Schema):
    attempt_id = fields.Integer()
    scaled_score = fields.Float()
    passed = fields.Boolean()
    late = fields.Boolean()
    answers = fields.List(fields.Nested(AnswerResultOut))
    statement_ids = fields.List(fields.String())


class StatementIdOut(Schema):
    statement_id = fields.String(allow_none=True)


class RegistrationOut(Schema):
    registration = fields.String()
    step_id = fields.Integer()
    activity_iri = fields.String()
    launch_url = fields.String(allow_none=True)


class ProgressRowOut(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    name = fields.String()
    email = fields.String(allow_none=True)
    pathway_id = fields.Integer()
    pathway_title = fields.String()
    version = fields.Integer()
    status = fields.String()
    percent = fields.Integer()
    mandatory = fields.Boolean()
    due_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    last_activity_at = fields.DateTime(allow_none=True)
    best_score = fields.Float(allow_none=True)
    attempts = fields.Integer()
    statement_ids = fields.List(fields.String())


class ReportPageOut(Schema):
    rows = fields.List(fields.Nested(ProgressRowOut))
    next_cursor = fields.Integer(allow_none=True)


class SummaryRowOut(Schema):
    pathway_id = fields.Integer()
    pathway_title = fields.String()
    learners = fields.Integer()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    completion_rate = fields.Float()


class SummaryPageOut(Schema):
    rows = fields.List(fields.Nested(SummaryRowOut))
    next_cursor = fields.Integer(allow_none=True)


class HistoryEntryOut(Schema):
    statement_id = fields.String()
    timestamp = fields.String()
    stored = fields.String()
    verb = fields.String()
    verb_display = fields.String()
    activity = fields.String()
    activity_name = fields.String()
    success = fields.Boolean(allow_none=True)
    completion = fields.Boolean(allow_none=True)
    score_scaled = fields.Float(allow_none=True)
    voided = fields.Boolean()


class HistoryPageOut(Schema):
    entries = fields.List(fields.Nested(HistoryEntryOut))
    more_cursor = fields.String(allow_none=True)


class AttendanceEntryOut(Schema):
    user_id = fields.Integer()
    name = fields.String()
    attended = fields.Boolean()
    statement_id = fields.String(allow_none=True)


class SessionOut(Schema):
    user_id = fields.Integer(allow_none=True)
    name = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    instructor = fields.Boolean()
    csrf_token = fields.String()
