"""The public service API of `pathways`: commands and queries for pages, the JSON API, LTI and records.

Import from here (``from pathways import services``); the modules behind it are an implementation
detail. Every function takes a SQLAlchemy ``Session`` and plain values, flushes and never commits,
and returns frozen dataclasses.
"""
from __future__ import annotations

from pathways.catalogue import (DEFAULT_DONE_VERBS, VERB_ANSWERED, VERB_ATTENDED, VERB_COMPLETED, VERB_EARNED,
                                VERB_FAILED, VERB_PASSED, VERB_READ, CategoryInfo, PathwayDetail, PathwayInfo,
                                StepInfo, add_step, archive_pathway, create_category, create_pathway,
                                delete_category, delete_draft, draft_version, get_pathway, get_step,
                                list_categories, list_pathways, publish_pathway, published_version,
                                remove_step, reorder_steps, steps_for_activity, update_category,
                                update_pathway, update_step, versions_of)
from pathways.people import (AssignmentInfo, AudienceInfo, ClassInfo, Enrollment, MembershipInfo,
                             add_audience_member, assign_pathway, assignment_user_ids, audience_member_ids,
                             audiences_of, catalogue_for, class_members, classes_of, classes_taught_by,
                             create_audience, create_class, delete_audience, delete_class, enrollments_of,
                             ensure_class, get_audience, get_class, is_instructor, learners_of_lineage,
                             learners_taught_by, list_assignments, list_audiences, list_classes,
                             remove_audience_member, self_enroll, set_class_membership, unassign,
                             update_audience)
from pathways.actions import (AttendanceEntry, attendance_sheet, can_mark_attendance, launches_of,
                              mark_attendance, record_reading, record_step_launch)
from pathways.assessments import (AnswerResult, AssessmentInfo, AttemptInfo, AttemptResult, QuestionInfo,
                                  add_question, attempts_used, create_assessment, get_assessment, get_attempt,
                                  list_assessments, remove_question, start_attempt, submit_attempt,
                                  update_assessment, update_question)
from pathways.outcomes import OutcomeChange, on_outcome_changed
from pathways.projection import StatusChange, publish_dry_run, system_authority
from pathways.reports import (HistoryEntry, HistoryPage, ProgressRow, Reminder, ReportPage, SummaryRow,
                              certifications_report, compliance_report, csv_lines, due_reminders,
                              iter_learner_history, iter_learner_statements, iter_progress, learner_history,
                              progress_report, summary_report)
from pathways.records import (CertificationInfo, LearnerPathway, LearnerPathwayDetail, StepState,
                              effective_status, learner_certifications, learner_pathway, learner_pathways,
                              verify_certificate)
from pathways.refresh import refresh_user

__all__ = [
    "DEFAULT_DONE_VERBS", "VERB_ANSWERED", "VERB_ATTENDED", "VERB_COMPLETED", "VERB_EARNED", "VERB_FAILED",
    "VERB_PASSED", "VERB_READ",
    "CategoryInfo", "PathwayDetail", "PathwayInfo", "StepInfo", "add_step", "archive_pathway",
    "create_category", "create_pathway", "delete_category", "delete_draft", "draft_version", "get_pathway",
    "get_step", "list_categories", "list_pathways", "publish_pathway", "published_version", "remove_step",
    "reorder_steps", "steps_for_activity", "update_category", "update_pathway", "update_step", "versions_of",
    "AssignmentInfo", "AudienceInfo", "ClassInfo", "Enrollment", "MembershipInfo", "add_audience_member",
    "assign_pathway", "assignment_user_ids", "audience_member_ids", "audiences_of", "catalogue_for",
    "class_members", "classes_of", "classes_taught_by", "create_audience", "create_class", "delete_audience",
    "delete_class", "enrollments_of", "ensure_class", "get_audience", "get_class", "is_instructor",
    "learners_of_lineage", "learners_taught_by", "list_assignments", "list_audiences", "list_classes",
    "remove_audience_member", "self_enroll", "set_class_membership", "unassign", "update_audience",
    "AttendanceEntry", "attendance_sheet", "can_mark_attendance", "launches_of", "mark_attendance",
    "record_reading", "record_step_launch",
    "AnswerResult", "AssessmentInfo", "AttemptInfo", "AttemptResult", "QuestionInfo", "add_question",
    "attempts_used", "create_assessment", "get_assessment", "get_attempt", "list_assessments",
    "remove_question", "start_attempt", "submit_attempt", "update_assessment", "update_question",
    "OutcomeChange", "StatusChange", "on_outcome_changed", "publish_dry_run", "refresh_user",
    "system_authority",
    "HistoryEntry", "HistoryPage", "ProgressRow", "Reminder", "due_reminders", "ReportPage", "SummaryRow",
    "certifications_report",
    "compliance_report", "csv_lines", "iter_learner_history", "iter_learner_statements", "iter_progress",
    "learner_history", "progress_report", "summary_report",
    "CertificationInfo", "LearnerPathway", "LearnerPathwayDetail", "StepState", "effective_status",
    "learner_certifications", "learner_pathway", "learner_pathways", "verify_certificate",
]
