"""Marshmallow schemas of the pathways JSON API: every input is loaded through one, every output dumped.

Unknown input fields are refused (``RAISE``) so a typo is a 400 naming the field, not a silent no-op.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from cairn.fields import Integer, String
from pathways.models import INTERACTION_TYPES, MOVE_ON, ORDERINGS, OUTCOME_KINDS, STEP_KINDS
from pathways.reports import STATUSES


class Strict(Schema):
    class Meta:
        unknown = RAISE


# ------------------------------------------------------------------------------------------------ inputs


class CategoryIn(Strict):
    name = String(required=True, validate=validate.Length(min=1, max=200))
    description = String(load_default="")
    parent_id = Integer(allow_none=True, load_default=None)
    position = Integer(load_default=0)


class CategoryPatch(Strict):
    name = String(validate=validate.Length(min=1, max=200))
    description = String()
    parent_id = Integer(allow_none=True)
    position = Integer()


class PathwayIn(Strict):
    title = String(required=True, validate=validate.Length(min=1, max=300))
    outcome_kind = String(required=True, validate=validate.OneOf(OUTCOME_KINDS))
    description = String(load_default="")
    ordering = String(load_default="free", validate=validate.OneOf(ORDERINGS))
    category_id = Integer(allow_none=True, load_default=None)
    activity_iri = fields.Url(allow_none=True, load_default=None, schemes={"http", "https"},
                              require_tld=False)
    grants_certification = fields.Boolean(load_default=False)
    validity_days = Integer(allow_none=True, load_default=None, validate=validate.Range(min=1))
    recertification_window_days = Integer(allow_none=True, load_default=None,
                                                 validate=validate.Range(min=1))


class PathwayPatch(Strict):
    title = String(validate=validate.Length(min=1, max=300))
    outcome_kind = String(validate=validate.OneOf(OUTCOME_KINDS))
    description = String()
    ordering = String(validate=validate.OneOf(ORDERINGS))
    category_id = Integer(allow_none=True)
    grants_certification = fields.Boolean()
    validity_days = Integer(allow_none=True, validate=validate.Range(min=1))
    recertification_window_days = Integer(allow_none=True, validate=validate.Range(min=1))


class PathwayQuery(Strict):
    status = String(validate=validate.OneOf(("draft", "published", "archived")))
    category_id = Integer()
    outcome_kind = String(validate=validate.OneOf(OUTCOME_KINDS))
    search = String(validate=validate.Length(max=200))


class _StepFields(Strict):
    title = String(validate=validate.Length(min=1, max=300))
    description = String()
    activity_iri = String(validate=validate.Length(min=3, max=2048))
    launch_url = fields.Url(allow_none=True, require_tld=False)
    done_verbs = fields.List(fields.Url(require_tld=False))
    move_on = String(allow_none=True, validate=validate.OneOf(MOVE_ON))
    mastery_score = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1))
    required = fields.Boolean()
    min_score = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1))
    session_starts_at = fields.AwareDateTime(allow_none=True)
    session_place = String(allow_none=True, validate=validate.Length(max=300))
    session_capacity = Integer(allow_none=True, validate=validate.Range(min=1))
    document_url = fields.Url(allow_none=True, require_tld=False)
    assessment_id = Integer(allow_none=True)
    prerequisites = fields.List(fields.Raw())


class StepIn(_StepFields):
    kind = String(required=True, validate=validate.OneOf(STEP_KINDS))
    title = String(required=True, validate=validate.Length(min=1, max=300))
    position = Integer(validate=validate.Range(min=0))


class StepPatch(_StepFields):
    kind = String(validate=validate.OneOf(STEP_KINDS))


class StepOrderIn(Strict):
    step_ids = fields.List(Integer(), required=True, validate=validate.Length(min=1))


class RuleIn(Strict):
    attribute = String(required=True, validate=validate.Length(min=1, max=100))
    op = String(load_default="equals", validate=validate.OneOf(("equals", "in", "contains")))
    value = fields.Raw(required=True, allow_none=True)


class AudienceIn(Strict):
    name = String(required=True, validate=validate.Length(min=1, max=200))
    description = String(load_default="")
    rules = fields.List(fields.Nested(RuleIn), load_default=list)
    member_ids = fields.List(Integer(), load_default=list)


class AudiencePatch(Strict):
    name = String(validate=validate.Length(min=1, max=200))
    description = String()
    rules = fields.List(fields.Nested(RuleIn))
    member_ids = fields.List(Integer())


class ClassIn(Strict):
    title = String(required=True, validate=validate.Length(min=1, max=300))


class MembershipIn(Strict):
    role = String(required=True, validate=validate.OneOf(("learner", "instructor")))
    active = fields.Boolean(load_default=True)


class AssignmentIn(Strict):
    pathway_id = Integer(required=True)
    audience_id = Integer(allow_none=True, load_default=None)
    class_id = Integer(allow_none=True, load_default=None)
    user_id = Integer(allow_none=True, load_default=None)
    mandatory = fields.Boolean(load_default=True)
    due_at = fields.AwareDateTime(allow_none=True, load_default=None)
    due_days = Integer(allow_none=True, load_default=None, validate=validate.Range(min=0))
    recurrence_months = Integer(allow_none=True, load_default=None, validate=validate.Range(min=1))
    reminder_days = fields.List(Integer(validate=validate.Range(min=0)), load_default=list)

    @validates_schema
    def one_target(self, data: dict, **_: object) -> None:
        given = [k for k in ("audience_id", "class_id", "user_id") if data.get(k) is not None]
        if len(given) != 1:
            raise ValidationError("give exactly one of audience_id, class_id, user_id", "target")


class AssignmentQuery(Strict):
    pathway_id = Integer()
    audience_id = Integer()
    class_id = Integer()
    user_id = Integer()


class AssessmentIn(Strict):
    title = String(required=True, validate=validate.Length(min=1, max=300))
    pass_mark = fields.Float(load_default=0.8, validate=validate.Range(min=0, max=1, min_inclusive=False))
    attempt_limit = Integer(allow_none=True, load_default=None, validate=validate.Range(min=1))
    time_limit_seconds = Integer(allow_none=True, load_default=None, validate=validate.Range(min=10))
    shuffle = fields.Boolean(load_default=False)


class AssessmentPatch(Strict):
    title = String(validate=validate.Length(min=1, max=300))
    pass_mark = fields.Float(validate=validate.Range(min=0, max=1, min_inclusive=False))
    attempt_limit = Integer(allow_none=True, validate=validate.Range(min=1))
    time_limit_seconds = Integer(allow_none=True, validate=validate.Range(min=10))
    shuffle = fields.Boolean()


class QuestionIn(Strict):
    interaction_type = String(required=True, validate=validate.OneOf(INTERACTION_TYPES))
    prompt = String(required=True, validate=validate.Length(min=1))
    options = fields.Dict(load_default=dict)
    correct = fields.Raw(required=True)
    feedback = String(load_default="")
    points = fields.Float(load_default=1.0, validate=validate.Range(min=0, min_inclusive=False))


class QuestionPatch(Strict):
    interaction_type = String(validate=validate.OneOf(INTERACTION_TYPES))
    prompt = String(validate=validate.Length(min=1))
    options = fields.Dict()
    correct = fields.Raw()
    feedback = String()
    points = fields.Float(validate=validate.Range(min=0, min_inclusive=False))


class AttemptStartIn(Strict):
    step_id = Integer(allow_none=True, load_default=None)


class AttemptSubmitIn(Strict):
    answers = fields.Dict(keys=String(), values=fields.Raw(allow_none=True), required=True)


class EnrolIn(Strict):
    pathway_id = Integer(required=True)


class LaunchIn(Strict):
    registration = fields.UUID(allow_none=True, load_default=None)


class AttendanceIn(Strict):
    attended = fields.Boolean(required=True)


class ReportQuery(Strict):
    pathway_id = Integer()
    audience_id = Integer()
    class_id = Integer()
    user_id = Integer()
    status = String(validate=validate.OneOf(STATUSES))
    cursor = Integer(validate=validate.Range(min=0))
    limit = Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    format = String(load_default="json", validate=validate.OneOf(("json", "csv")))


class ComplianceQuery(Strict):
    kind = String(load_default="overdue", validate=validate.OneOf(("overdue", "expiring", "expired")))
    within_days = Integer(load_default=30, validate=validate.Range(min=0, max=3650))
    pathway_id = Integer()
    audience_id = Integer()
    class_id = Integer()
    cursor = Integer(validate=validate.Range(min=0))
    limit = Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    format = String(load_default="json", validate=validate.OneOf(("json", "csv")))


class SummaryQuery(Strict):
    pathway_id = Integer()
    audience_id = Integer()
    class_id = Integer()
    cursor = Integer(validate=validate.Range(min=0))
    limit = Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    format = String(load_default="json", validate=validate.OneOf(("json", "csv")))


class HistoryQuery(Strict):
    verb = fields.Url(require_tld=False)
    activity = String(validate=validate.Length(min=1, max=2048))
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()
    cursor = String()
    limit = Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    format = String(load_default="json", validate=validate.OneOf(("json", "csv", "xapi")))


# ----------------------------------------------------------------------------------------------- outputs


class CategoryOut(Schema):
    id = Integer()
    name = String()
    description = String()
    parent_id = Integer(allow_none=True)
    position = Integer()
    depth = Integer()
    path = fields.List(String())


class StepOut(Schema):
    id = Integer()
    key = String()
    pathway_id = Integer()
    position = Integer()
    kind = String()
    title = String()
    description = String()
    activity_iri = String()
    launch_url = String(allow_none=True)
    done_verbs = fields.List(String())
    move_on = String(allow_none=True)
    mastery_score = fields.Float(allow_none=True)
    required = fields.Boolean()
    min_score = fields.Float(allow_none=True)
    session_starts_at = fields.DateTime(allow_none=True)
    session_place = String(allow_none=True)
    session_capacity = Integer(allow_none=True)
    document_url = String(allow_none=True)
    assessment_id = Integer(allow_none=True)
    prerequisites = fields.List(String())


class PathwayOut(Schema):
    id = Integer()
    lineage = String()
    version = Integer()
    title = String()
    description = String()
    outcome_kind = String()
    status = String()
    activity_iri = String()
    ordering = String()
    category_id = Integer(allow_none=True)
    grants_certification = fields.Boolean()
    validity_days = Integer(allow_none=True)
    recertification_window_days = Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)
    step_count = Integer()


class PathwayDetailOut(Schema):
    pathway = fields.Nested(PathwayOut)
    steps = fields.List(fields.Nested(StepOut))


class StatusChangeOut(Schema):
    user_id = Integer()
    name = String()
    status_before = String()
    status_after = String()
    percent_before = Integer()
    percent_after = Integer()


class AudienceOut(Schema):
    id = Integer()
    name = String()
    description = String()
    rules = fields.List(fields.Dict())
    member_ids = fields.List(Integer())


class ClassOut(Schema):
    id = Integer()
    source = String()
    external_id = String()
    title = String()


class MembershipOut(Schema):
    class_id = Integer()
    user_id = Integer()
    role = String()
    active = fields.Boolean()


class AssignmentOut(Schema):
    id = Integer()
    lineage = String()
    target = String()
    audience_id = Integer(allow_none=True)
    class_id = Integer(allow_none=True)
    user_id = Integer(allow_none=True)
    mandatory = fields.Boolean()
    self_enrolled = fields.Boolean()
    due_at = fields.DateTime(allow_none=True)
    due_days = Integer(allow_none=True)
    recurrence_months = Integer(allow_none=True)
    reminder_days = fields.List(Integer())
    created_at = fields.DateTime()


Evidence = fields.Dict(keys=String(), values=fields.List(String()))


class LearnerPathwayOut(Schema):
    user_id = Integer()
    pathway = fields.Nested(PathwayOut)
    status = String()
    percent = Integer()
    mandatory = fields.Boolean()
    assigned = fields.Boolean()
    due_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    renewal_opens_at = fields.DateTime(allow_none=True)
    renewal_percent = Integer()
    best_score = fields.Float(allow_none=True)
    attempts = Integer()
    last_activity_at = fields.DateTime(allow_none=True)
    evidence = fields.Dict(keys=String(), values=fields.List(String()))


class StepStateOut(Schema):
    step = fields.Nested(StepOut)
    state = String()
    availability = String()
    locked_by = fields.List(String())
    done_at = fields.DateTime(allow_none=True)
    best_score = fields.Float(allow_none=True)
    attempts = Integer()
    last_activity_at = fields.DateTime(allow_none=True)
    evidence = fields.Dict(keys=String(), values=fields.List(String()))
    withdrawn = fields.List(fields.Dict())


class LearnerPathwayDetailOut(Schema):
    progress = fields.Nested(LearnerPathwayOut)
    steps = fields.List(fields.Nested(StepStateOut))


class CertificationOut(Schema):
    id = Integer()
    user_id = Integer()
    user_name = String()
    pathway = fields.Nested(PathwayOut)
    earned_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    status = String()
    code = String(allow_none=True)
    revoked_by = fields.List(String())
    statement_ids = fields.List(String())


class VerificationOut(Schema):
    valid = fields.Boolean()
    status = String()
    holder = String()
    pathway_title = String()
    earned_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)


class QuestionOut(Schema):
    id = Integer()
    position = Integer()
    interaction_type = String()
    prompt = String()
    options = fields.Dict()
    correct = fields.Raw(allow_none=True)
    feedback = String()
    points = fields.Float()
    activity_iri = String()


class AssessmentOut(Schema):
    id = Integer()
    title = String()
    activity_iri = String()
    pass_mark = fields.Float()
    attempt_limit = Integer(allow_none=True)
    time_limit_seconds = Integer(allow_none=True)
    shuffle = fields.Boolean()
    questions = fields.List(fields.Nested(QuestionOut))


class LearnerQuestionOut(Schema):
    """A question as a learner sees it: without the answer."""

    id = Integer()
    position = Integer()
    interaction_type = String()
    prompt = String()
    options = fields.Dict()
    points = fields.Float()
    activity_iri = String()


class AttemptOut(Schema):
    id = Integer()
    assessment_id = Integer()
    user_id = Integer()
    registration = String()
    started_at = fields.DateTime()
    deadline = fields.DateTime(allow_none=True)
    questions = fields.List(fields.Nested(LearnerQuestionOut))


class AnswerResultOut(Schema):
    question_id = Integer()
    response = String()
    correct = fields.Boolean()
    feedback = String()


class AttemptResultOut(Schema):
    attempt_id = Integer()
    scaled_score = fields.Float()
    passed = fields.Boolean()
    late = fields.Boolean()
    answers = fields.List(fields.Nested(AnswerResultOut))
    statement_ids = fields.List(String())


class StatementIdOut(Schema):
    statement_id = String(allow_none=True)


class RegistrationOut(Schema):
    registration = String()
    step_id = Integer()
    activity_iri = String()
    launch_url = String(allow_none=True)


class ProgressRowOut(Schema):
    id = Integer()
    user_id = Integer()
    name = String()
    email = String(allow_none=True)
    pathway_id = Integer()
    pathway_title = String()
    version = Integer()
    status = String()
    percent = Integer()
    mandatory = fields.Boolean()
    due_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    last_activity_at = fields.DateTime(allow_none=True)
    best_score = fields.Float(allow_none=True)
    attempts = Integer()
    statement_ids = fields.List(String())


class ReportPageOut(Schema):
    rows = fields.List(fields.Nested(ProgressRowOut))
    next_cursor = Integer(allow_none=True)


class SummaryRowOut(Schema):
    pathway_id = Integer()
    pathway_title = String()
    learners = Integer()
    counts = fields.Dict(keys=String(), values=Integer())
    completion_rate = fields.Float()


class SummaryPageOut(Schema):
    rows = fields.List(fields.Nested(SummaryRowOut))
    next_cursor = Integer(allow_none=True)


class HistoryEntryOut(Schema):
    statement_id = String()
    timestamp = String()
    stored = String()
    verb = String()
    verb_display = String()
    activity = String()
    activity_name = String()
    success = fields.Boolean(allow_none=True)
    completion = fields.Boolean(allow_none=True)
    score_scaled = fields.Float(allow_none=True)
    voided = fields.Boolean()


class HistoryPageOut(Schema):
    entries = fields.List(fields.Nested(HistoryEntryOut))
    more_cursor = String(allow_none=True)


class AttendanceEntryOut(Schema):
    user_id = Integer()
    name = String()
    attended = fields.Boolean()
    statement_id = String(allow_none=True)


class SessionOut(Schema):
    user_id = Integer(allow_none=True)
    name = String(allow_none=True)
    role = String(allow_none=True)
    instructor = fields.Boolean()
    csrf_token = String()
