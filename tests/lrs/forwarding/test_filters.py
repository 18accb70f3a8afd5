"""Which statements a forwarding target (or an export) selects."""
from __future__ import annotations

from lrs.forwarding.filters import StatementFilter, related_activity_ids
from tests.lrs.forwarding.helpers import COMPLETED, EXPERIENCED, statement


def test_an_empty_filter_selects_every_statement() -> None:
    assert StatementFilter.build().matches(statement(verb=EXPERIENCED))


def test_verb_filter_selects_any_of_the_listed_verbs_only() -> None:
    selected = StatementFilter.build(verbs=[COMPLETED, "http://adlnet.gov/expapi/verbs/passed"])
    assert selected.matches(statement(verb=COMPLETED))
    assert not selected.matches(statement(verb=EXPERIENCED))


def test_activity_filter_matches_the_object_or_any_context_activity_xapi_4_1_6_2() -> None:
    course = "http://example.org/course"
    in_context = statement(activity="http://example.org/lesson",
                           context={"contextActivities": {"parent": [{"id": course}],
                                                          "grouping": {"id": "g:x"}}})
    assert related_activity_ids(in_context) == {"http://example.org/lesson", course, "g:x"}
    assert StatementFilter.build(activities=[course]).matches(in_context)
    assert StatementFilter.build(activities=[course]).matches(statement(activity=course))
    assert not StatementFilter.build(activities=[course]).matches(statement(activity="http://example.org/other"))


def test_actor_filter_compares_identities_case_insensitively_and_sees_group_members() -> None:
    selected = StatementFilter.build(actors=[{"mbox": "mailto:Ann@Example.org"}])
    assert selected.matches(statement(email="ann@example.org"))
    assert not selected.matches(statement(email="bob@example.org"))
    group = statement(actor={"objectType": "Group", "member": [{"mbox": "mailto:ann@example.org"}]})
    assert selected.matches(group)


def test_registration_filter_and_criteria_combine_with_and() -> None:
    registration = "6f0c6a4e-3f1b-4a3a-9d59-0d9e8f1f2a3b"
    selected = StatementFilter.build(verbs=[COMPLETED], registrations=[registration.upper()])
    assert selected.matches(statement(registration=registration))
    assert not selected.matches(statement(registration=registration, verb=EXPERIENCED))
    assert not selected.matches(statement())


def test_pathway_filter_uses_the_resolved_step_activities() -> None:
    pathway = "http://example.org/pathways/onboarding"
    selected = StatementFilter.build(pathways=[pathway],
                                     resolve_pathway=lambda ref: ["http://example.org/steps/1"])
    assert selected.matches(statement(activity="http://example.org/steps/1"))
    assert selected.matches(statement(activity=pathway))
    assert not selected.matches(statement(activity="http://example.org/steps/2"))
