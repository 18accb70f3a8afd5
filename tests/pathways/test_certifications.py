"""Certifications: awards with validity, expiry, renewal window, history, earned statement, verification."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from lrs import services as lrs_services
from pathways import services
from pathways.catalogue import VERB_COMPLETED, VERB_EARNED
from pathways.models import ProgressCursor
from pathways.projection import earned_statement_id
from tests import factories
from tests.lrs.conftest import XAPIClient, make_credential
from tests.pathways.conftest import T0, make_pathway, voiding, xapi


def _certified(db_session, **fields):
    fields.setdefault("validity_days", 365)
    fields.setdefault("recertification_window_days", 30)
    detail = make_pathway(db_session, steps=1, outcome_kind="certification", grants_certification=True,
                          **fields)
    learner = factories.user(db_session)
    services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id)
    return detail, learner


def test_completing_a_certifying_pathway_awards_with_expiry_and_a_verification_code(db_session,
                                                                                    store) -> None:
    detail, learner = _certified(db_session)
    [done] = store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    [award] = services.learner_certifications(db_session, learner.id, now=T0 + timedelta(days=1))
    assert award.status == "active" and award.earned_at == T0 and award.expires_at == T0 + timedelta(days=365)
    assert award.statement_ids == (done.id,) and award.code and len(award.code) == 16
    progress = services.learner_pathways(db_session, learner.id, now=T0 + timedelta(days=1))[0]
    assert progress.status == "completed" and progress.expires_at == award.expires_at
    assert progress.renewal_opens_at == T0 + timedelta(days=335)


def test_a_transaction_that_makes_a_certificate_code_commits_durably(db_session, store) -> None:
    """The projection after a response commits asynchronously on PostgreSQL (its rows can be derived
    again), but a certificate's code is random and shown at once: making one restores the
    synchronous commit for the rest of its transaction."""
    import pytest
    from sqlalchemy import text
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's asynchronous commit")
    durability = text("SELECT current_setting('synchronous_commit')")
    detail, learner = _certified(db_session)
    other = make_pathway(db_session, steps=1, title="Not certifying")
    services.assign_pathway(db_session, other.pathway.id, user_id=learner.id)
    db_session.execute(text("SET LOCAL synchronous_commit TO off"))
    store(xapi(learner.email, VERB_COMPLETED, other.steps[0].activity_iri))
    assert db_session.scalar(durability) == "off"  # progress only: derived again after a crash
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    assert services.learner_certifications(db_session, learner.id)[0].code
    assert db_session.scalar(durability) == "on"


def test_each_award_records_an_earned_statement_once(db_session, store) -> None:
    detail, learner = _certified(db_session)
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    earned = lrs_services.get_statement(db_session,
                                        earned_statement_id(learner.id, detail.pathway.lineage, T0))
    assert earned is not None
    body = earned.statement
    assert body["verb"]["id"] == VERB_EARNED and body["object"]["id"] == detail.pathway.activity_iri
    assert body["actor"]["mbox"] == f"mailto:{learner.email}"
    assert body["authority"]["account"]["name"] == "system"
    # A second completion inside the same cycle earns nothing new.
    before = lrs_services.latest_sequence(db_session)
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri, minutes=5))
    assert lrs_services.latest_sequence(db_session) == before + 1


def test_certificates_expire_at_read_time(db_session, store) -> None:
    detail, learner = _certified(db_session)
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    later = T0 + timedelta(days=366)
    assert services.learner_certifications(db_session, learner.id, now=later)[0].status == "expired"
    assert services.learner_pathways(db_session, learner.id, now=later)[0].status == "expired"


def test_renewal_counts_only_statements_from_the_window_and_keeps_history(db_session, store) -> None:
    detail, learner = _certified(db_session)
    activity = detail.steps[0].activity_iri
    store(xapi(learner.email, VERB_COMPLETED, activity))
    # Too early: before the renewal window opens (day 335), it does not renew.
    store(xapi(learner.email, VERB_COMPLETED, activity, at=T0 + timedelta(days=100)))
    assert len(services.learner_certifications(db_session, learner.id)) == 1
    store(xapi(learner.email, VERB_COMPLETED, activity, at=T0 + timedelta(days=340)))
    awards = services.learner_certifications(db_session, learner.id, now=T0 + timedelta(days=341))
    assert [a.earned_at for a in awards] == [T0 + timedelta(days=340), T0]
    assert [a.status for a in awards] == ["active", "active"]
    assert awards[0].code != awards[1].code


def test_a_voided_completion_revokes_the_award_it_alone_justified(db_session, store) -> None:
    detail, learner = _certified(db_session)
    [done] = store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    code = services.learner_certifications(db_session, learner.id)[0].code
    [void] = store(voiding(done.id))
    [award] = services.learner_certifications(db_session, learner.id)
    assert award.status == "revoked" and award.revoked_by == (void.id,) and award.code is None
    verified = services.verify_certificate(db_session, code)
    assert verified is not None and verified.status == "revoked"


def test_an_award_backed_by_another_statement_survives_a_void(db_session, store) -> None:
    detail, learner = _certified(db_session)
    [first] = store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri, minutes=10))
    store(voiding(first.id))
    awards = services.learner_certifications(db_session, learner.id)
    statuses = sorted((a.earned_at, a.status) for a in awards)
    assert statuses == [(T0, "revoked"), (T0.replace(minute=10), "active")]


def test_pathways_that_grant_no_certification_make_no_awards(db_session, store) -> None:
    detail = make_pathway(db_session, steps=1, outcome_kind="onboarding")
    learner = factories.user(db_session)
    services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id)
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    assert services.learner_certifications(db_session, learner.id) == []


def test_recurring_compliance_assignment_makes_completion_due_again(db_session, store) -> None:
    detail = make_pathway(db_session, steps=1, outcome_kind="compliance")
    learner = factories.user(db_session)
    services.assign_pathway(db_session, detail.pathway.id, user_id=learner.id, recurrence_months=12)
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    progress = services.learner_pathways(db_session, learner.id, now=T0 + timedelta(days=10))[0]
    assert progress.status == "completed" and progress.due_at == T0 + timedelta(days=360)
    assert services.learner_pathways(db_session, learner.id,
                                     now=T0 + timedelta(days=361))[0].status == "expired"


def test_public_verification_page_shows_holder_and_status(client, db_session, store) -> None:
    detail, learner = _certified(db_session)
    store(xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri))
    code = services.learner_certifications(db_session, learner.id)[0].code
    db_session.commit()
    page = client.get(f"/certificates/verify?code={code.lower()}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and learner.name in html and detail.pathway.title in html
    assert "Valid certificate" in html or "Expired certificate" in html
    unknown = client.get("/certificates/verify/NOSUCHCODE")
    assert unknown.status_code == 404 and "No certificate has this code" in unknown.get_data(as_text=True)
    api = client.get(f"/api/certificates/{code}")
    assert api.status_code == 200 and api.get_json()["holder"] == learner.name
    assert client.get("/api/certificates/NOSUCHCODE").status_code == 404


def test_over_xapi_the_award_and_its_earned_statement_follow_the_commit(client, db_session) -> None:
    # The projection runs after the statements commit; the earned statement is stored after the
    # projection commits (the sequence lock is never taken while the cursor row is held).
    detail, learner = _certified(db_session)
    info, secret = make_credential(db_session)
    response = XAPIClient(client, info.key, secret).post(
        "/statements", json_body=[xapi(learner.email, VERB_COMPLETED, detail.steps[0].activity_iri)])
    assert response.status_code == 200, response.get_json()
    [award] = services.learner_certifications(db_session, learner.id, now=T0 + timedelta(days=1))
    assert award.status == "active" and award.statement_ids == tuple(response.get_json())
    earned = lrs_services.get_statement(db_session,
                                        earned_statement_id(learner.id, detail.pathway.lineage, T0))
    assert earned is not None and earned.statement["verb"]["id"] == VERB_EARNED
    # ... and the earned statement itself was projected: the cursor is at the newest statement.
    assert db_session.scalar(select(ProgressCursor.last_sequence)) == lrs_services.latest_sequence(db_session)
