"""Audiences, classes (the LTI-facing functions), assignments and self-enrolment (issue 6)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pathways import services
from pathways.errors import InvalidInput, NotFound
from tests import factories
from tests.pathways.conftest import make_pathway
from tests.sql_seen import statements_run


def test_audience_has_explicit_members_and_attribute_rules(db_session) -> None:
    sales = factories.user(db_session, department="Sales", location="Lyon")
    factories.user(db_session, department="Support", location="Lyon")
    explicit = factories.user(db_session, department="Legal")
    audience = services.create_audience(db_session, name="Sales in Lyon", member_ids=[explicit.id],
                                        rules=[{"attribute": "department", "op": "equals", "value": "sales"},
                                               {"attribute": "location", "op": "in",
                                                "value": ["Lyon", "Paris"]}])
    assert set(services.audience_member_ids(db_session, audience.id)) == {sales.id, explicit.id}
    assert audience.id in services.audiences_of(db_session, sales.id)


def test_audience_rules_can_use_lti_custom_claims_lists(db_session) -> None:
    member = factories.user(db_session, lti_custom={"cohort": "A"}, groups=["nurses", "night"])
    factories.user(db_session, groups=["doctors"])
    audience = services.create_audience(db_session, name="Nurses",
                                        rules=[{"attribute": "groups", "op": "contains", "value": "nurses"}])
    assert services.audience_member_ids(db_session, audience.id) == [member.id]


def test_audience_rule_input_is_checked_with_the_field_named(db_session) -> None:
    with pytest.raises(InvalidInput) as error:
        services.create_audience(db_session, name="Bad", rules=[{"attribute": "x", "op": "like", "value": 1}])
    assert error.value.field == "rules.0.op"
    with pytest.raises(InvalidInput) as error:
        services.create_audience(db_session, name="Bad", member_ids=[987654])
    assert error.value.field == "member_ids"


def test_ensure_class_is_idempotent_and_updates_the_title(db_session) -> None:
    first = services.ensure_class(db_session, source="https://lms.example", external_id="ctx-1",
                                  title="Bio 101")
    again = services.ensure_class(db_session, source="https://lms.example", external_id="ctx-1",
                                  title="Biology 101")
    other = services.ensure_class(db_session, source="https://other.example", external_id="ctx-1",
                                  title="Bio")
    assert first.id == again.id and again.title == "Biology 101"
    assert other.id != first.id


def test_class_membership_roles_and_leaving_makes_inactive(db_session) -> None:
    klass = services.create_class(db_session, title="Chemistry")
    teacher, learner = factories.user(db_session), factories.user(db_session)
    services.set_class_membership(db_session, klass.id, teacher.id, "instructor")
    services.set_class_membership(db_session, klass.id, learner.id, "learner")
    assert [c.id for c in services.classes_taught_by(db_session, teacher.id)] == [klass.id]
    assert services.classes_taught_by(db_session, learner.id) == []
    assert services.learners_taught_by(db_session, teacher.id) == {learner.id}
    services.set_class_membership(db_session, klass.id, learner.id, "learner", active=False)
    assert services.learners_taught_by(db_session, teacher.id) == set()
    members = services.class_members(db_session, klass.id, active_only=False)
    assert {(m.user_id, m.active) for m in members} == {(teacher.id, True), (learner.id, False)}
    with pytest.raises(InvalidInput) as error:
        services.set_class_membership(db_session, klass.id, learner.id, "owner")
    assert error.value.field == "role"


def test_assignment_needs_exactly_one_target(db_session) -> None:
    detail = make_pathway(db_session)
    learner = factories.user(db_session)
    audience = services.create_audience(db_session, name="A", member_ids=[learner.id])
    with pytest.raises(InvalidInput) as error:
        services.assign_pathway(db_session, detail.pathway.id)
    assert error.value.field == "target"
    with pytest.raises(InvalidInput):
        services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id, audience_id=audience.id)
    with pytest.raises(InvalidInput) as error:
        services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id, due_days=5,
                                due_at=datetime.now(UTC))
    assert error.value.field == "due_days"


def test_mandatory_assignment_to_an_audience_reaches_its_members_with_relative_due_date(db_session) -> None:
    detail = make_pathway(db_session)
    learner = factories.user(db_session, department="Ops")
    audience = services.create_audience(db_session, name="Ops",
                                        rules=[{"attribute": "department", "value": "Ops"}])
    assignment = services.assign_pathway(db_session, detail.pathway.id, audience_id=audience.id, due_days=14,
                                         reminder_days=[1, 7])
    assert assignment.reminder_days == (7, 1)
    mine = services.learner_pathways(db_session, learner.id)
    assert [p.pathway.id for p in mine] == [detail.pathway.id]
    assert mine[0].status == "not_started" and mine[0].mandatory
    assert mine[0].due_at == assignment.created_at + timedelta(days=14)
    later = assignment.created_at + timedelta(days=15)
    assert services.learner_pathways(db_session, learner.id, now=later)[0].status == "overdue"


def test_class_assignment_reaches_learners_not_instructors(db_session) -> None:
    detail = make_pathway(db_session)
    klass = services.create_class(db_session, title="History")
    teacher, learner = factories.user(db_session), factories.user(db_session)
    services.set_class_membership(db_session, klass.id, teacher.id, "instructor")
    services.set_class_membership(db_session, klass.id, learner.id, "learner")
    services.assign_pathway(db_session, detail.pathway.id, class_id=klass.id)
    assert [p.pathway.id for p in services.learner_pathways(db_session, learner.id)] == [detail.pathway.id]
    assert services.learner_pathways(db_session, teacher.id) == []


def test_optional_assignment_is_a_catalogue_entry_until_self_enrolment(db_session) -> None:
    detail = make_pathway(db_session)
    other = make_pathway(db_session, title="Not offered")
    learner = factories.user(db_session)
    audience = services.create_audience(db_session, name="All", member_ids=[learner.id])
    services.assign_pathway(db_session, detail.pathway.id, audience_id=audience.id, mandatory=False)
    assert services.learner_pathways(db_session, learner.id) == []
    assert services.catalogue_for(db_session, learner.id) == [detail.pathway.lineage]
    with pytest.raises(InvalidInput):
        services.self_enroll(db_session, learner.id, other.pathway.id)
    enrolment = services.self_enroll(db_session, learner.id, detail.pathway.id)
    assert enrolment.self_enrolled and not enrolment.mandatory
    assert [p.pathway.id for p in services.learner_pathways(db_session, learner.id)] == [detail.pathway.id]
    assert services.catalogue_for(db_session, learner.id) == []


def test_assignments_follow_the_pathway_to_its_new_version(db_session) -> None:
    detail = make_pathway(db_session)
    learner = factories.user(db_session)
    services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id)
    draft = services.update_pathway(db_session, detail.pathway.id, title="v2")
    services.publish_pathway(db_session, draft.id)
    assert [p.pathway.id for p in services.learner_pathways(db_session, learner.id)] == [draft.id]


def test_unassigning_removes_the_pathway_from_the_learner(db_session) -> None:
    detail = make_pathway(db_session)
    learner = factories.user(db_session)
    assignment = services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id)
    services.unassign(db_session, assignment.id)
    assert services.learner_pathways(db_session, learner.id) == []
    with pytest.raises(NotFound):
        services.unassign(db_session, assignment.id)


def test_reminders_fall_on_their_thresholds_before_the_due_date(db_session) -> None:
    detail = make_pathway(db_session)
    learner = factories.user(db_session)
    due = datetime(2026, 3, 1, 12, tzinfo=UTC)
    services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id, due_at=due,
                            reminder_days=[7, 1])
    week_before = services.due_reminders(db_session, now=due - timedelta(days=7, hours=1))
    assert [(r.user_id, r.days_before) for r in week_before] == [(learner.id, 7)]
    assert services.due_reminders(db_session, now=due - timedelta(days=5)) == []
    assert [r.days_before
            for r in services.due_reminders(db_session, now=due - timedelta(days=1, hours=2))] == [1]


def test_enrollments_of_many_learners_by_every_kind_of_assignment_cost_one_query(db_session) -> None:
    from pathways.people import enrollments_for
    direct, by_class, by_audience, by_rule, inactive = (
        make_pathway(db_session, title=t) for t in ("Direct", "Class", "Audience", "Rule", "Gone"))
    learner = factories.user(db_session, department="Ops")
    other = factories.user(db_session, department="Sales")
    klass = services.create_class(db_session, title="History")
    services.set_class_membership(db_session, klass.id, learner.id, "learner")
    services.set_class_membership(db_session, klass.id, other.id, "instructor")
    listed = services.create_audience(db_session, name="Listed", member_ids=[learner.id, other.id])
    ruled = services.create_audience(db_session, name="Ops",
                                     rules=[{"attribute": "department", "value": "Ops"}])
    services.assign_pathway(db_session, direct.pathway.id, user_id=learner.id)
    services.assign_pathway(db_session, by_class.pathway.id, class_id=klass.id)
    services.assign_pathway(db_session, by_audience.pathway.id, audience_id=listed.id)
    services.assign_pathway(db_session, by_rule.pathway.id, audience_id=ruled.id)
    services.assign_pathway(db_session, inactive.pathway.id, user_id=other.id, mandatory=False)
    seen, enrollments = statements_run(db_session,
                                       lambda: enrollments_for(db_session, [learner.id, other.id, 987654]))
    assert len(seen) == 1
    assert set(enrollments) == {learner.id, other.id}  # no such learner: no entry
    assert set(enrollments[learner.id]) == {p.pathway.lineage
                                            for p in (direct, by_class, by_audience, by_rule)}
    assert set(enrollments[other.id]) == {by_audience.pathway.lineage}
    # Reached twice (listed in the rule audience too, and assigned directly as well): once each.
    services.add_audience_member(db_session, ruled.id, learner.id)
    again = services.assign_pathway(db_session, by_class.pathway.id, user_id=learner.id)
    twice = enrollments_for(db_session, [learner.id])[learner.id]
    assert twice[by_rule.pathway.lineage].assignment_ids == enrollments[learner.id][by_rule.pathway.lineage] \
        .assignment_ids
    assert twice[by_class.pathway.lineage].assignment_ids == \
        tuple(sorted(enrollments[learner.id][by_class.pathway.lineage].assignment_ids + (again.id,)))
