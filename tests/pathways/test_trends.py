"""Participation per week for the dashboards (``pathways.trends``): counted by the database."""
from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta, timezone

from cairn.accounts.services import Identity, add_identity
from pathways import trends
from pathways.catalogue import VERB_COMPLETED
from pathways.models import PathwayProgress, ProgressFact
from tests import factories
from tests.pathways.conftest import make_pathway

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday: the weeks start on 9, 16 and 23 November
_sequence = itertools.count(1)


def _fact(db_session, identity: Identity, at: datetime, *, activity: str = "https://content.example.org/x",
          voided: bool = False) -> None:
    db_session.execute(ProgressFact.__table__.insert(), [{
        "statement_id": str(uuid.uuid4()), "sequence": next(_sequence), "identity_kind": identity.kind,
        "identity_value": identity.value, "verb": VERB_COMPLETED, "activity_iri": activity,
        "timestamp": at, "voided_by": str(uuid.uuid4()) if voided else None}])


def _learner(db_session, *identities: Identity):
    user = factories.user(db_session)
    for identity in identities:
        add_identity(db_session, user, identity)
    return user


def _counts(db_session, **kwargs) -> list[tuple[str, int]]:
    return [(w.week_start.date().isoformat(), w.active_learners)
            for w in trends.weekly_activity(db_session, weeks=3, now=NOW, **kwargs)]


def test_each_learner_counts_once_a_week_by_any_identity_in_weeks_of_utc(db_session) -> None:
    ann_mail, ann_account = Identity("mbox", "mailto:ann@example.org"), \
        Identity("account", "https://moodle.example.edu|ann")
    bob, cat = Identity("mbox", "mailto:bob@example.org"), Identity("mbox", "mailto:cat@example.org")
    ann = _learner(db_session, ann_mail, ann_account)
    _learner(db_session, bob)
    _learner(db_session, cat)
    _fact(db_session, ann_mail, datetime(2026, 11, 23, 9, tzinfo=UTC))
    _fact(db_session, ann_account, datetime(2026, 11, 24, 9, tzinfo=UTC))  # the same learner, once
    _fact(db_session, bob, datetime(2026, 11, 22, 23, 59, 59, tzinfo=UTC))  # Sunday: the week before
    _fact(db_session, bob, datetime(2026, 11, 23, 0, 30, tzinfo=timezone(timedelta(hours=1))))  # Sunday, UTC
    _fact(db_session, bob, datetime(2026, 11, 23, 0, 0, tzinfo=UTC))  # Monday 00:00: this week
    _fact(db_session, cat, datetime(2026, 11, 24, 9, tzinfo=UTC), voided=True)
    _fact(db_session, cat, datetime(2026, 11, 8, 23, tzinfo=UTC))  # before the first week shown
    _fact(db_session, Identity("mbox", "mailto:nobody@example.org"), datetime(2026, 11, 24, tzinfo=UTC))
    db_session.flush()
    assert _counts(db_session) == [("2026-11-09", 0), ("2026-11-16", 1), ("2026-11-23", 2)]
    assert _counts(db_session, learner_ids=[ann.id]) == [("2026-11-09", 0), ("2026-11-16", 0),
                                                         ("2026-11-23", 1)]
    assert _counts(db_session, learner_ids=[]) == [("2026-11-09", 0), ("2026-11-16", 0), ("2026-11-23", 0)]
    # An audience of tens of thousands: one parameter (an array; JSON on SQLite).
    many = [*range(10**6, 10**6 + 40_000), ann.id]
    assert _counts(db_session, learner_ids=many) == [("2026-11-09", 0), ("2026-11-16", 0), ("2026-11-23", 1)]


def test_a_scope_past_the_parameters_a_statement_takes_is_one_parameter(db_session,
                                                                       few_sqlite_parameters) -> None:
    bob = Identity("mbox", "mailto:bob@example.org")
    learner = _learner(db_session, bob)
    _fact(db_session, bob, datetime(2026, 11, 17, tzinfo=UTC))
    db_session.flush()
    scope = [*range(10**6, 10**6 + few_sqlite_parameters + 1), learner.id]
    assert _counts(db_session, learner_ids=scope) == [("2026-11-09", 0), ("2026-11-16", 1), ("2026-11-23", 0)]


def test_a_pathway_counts_the_statements_about_its_steps_only(db_session) -> None:
    detail = make_pathway(db_session, steps=2)
    ann, bob = Identity("mbox", "mailto:ann@example.org"), Identity("mbox", "mailto:bob@example.org")
    _learner(db_session, ann)
    _learner(db_session, bob)
    _fact(db_session, ann, datetime(2026, 11, 17, tzinfo=UTC), activity=detail.steps[1].activity_iri)
    _fact(db_session, bob, datetime(2026, 11, 17, tzinfo=UTC))  # about something else
    db_session.flush()
    assert _counts(db_session, pathway_id=detail.pathway.id) == [("2026-11-09", 0), ("2026-11-16", 1),
                                                                 ("2026-11-23", 0)]
    assert _counts(db_session) == [("2026-11-09", 0), ("2026-11-16", 2), ("2026-11-23", 0)]


def test_completions_count_a_week_in_utc_by_scope_and_pathway(db_session, few_sqlite_parameters) -> None:
    first, second, third = (make_pathway(db_session, steps=1) for _ in range(3))
    ann, bob = _learner(db_session), _learner(db_session)
    db_session.flush()
    an_hour_east = timezone(timedelta(hours=1))
    for user, pathway, at in ((ann, first, datetime(2026, 11, 23, 0, 0, tzinfo=UTC)),  # Monday 00:00
                              (bob, first, datetime(2026, 11, 22, 23, 59, tzinfo=UTC)),  # the Sunday before
                              (bob, second, datetime(2026, 11, 23, 0, 30, tzinfo=an_hour_east)),  # Sunday
                              (ann, second, datetime(2026, 11, 1, tzinfo=UTC)),  # before the first week shown
                              (ann, third, None)):  # not completed
        db_session.execute(PathwayProgress.__table__.insert(), [{
            "user_id": user.id, "pathway_id": pathway.pathway.id,
            "status": "completed" if at else "in_progress", "percent": 100 if at else 50,
            "attempts": 1, "renewal_percent": 0, "evidence": {}, "completed_at": at}])
    db_session.flush()

    def done(**kwargs) -> list[int]:
        return [w.completions for w in trends.weekly_activity(db_session, weeks=3, now=NOW, **kwargs)]

    assert done() == [0, 2, 1]
    assert done(learner_ids=[ann.id]) == [0, 0, 1]
    assert done(learner_ids=[*range(10**6, 10**6 + few_sqlite_parameters + 1), bob.id]) == [0, 2, 0]
    assert done(learner_ids=[]) == [0, 0, 0]
    assert done(pathway_id=first.pathway.id) == [0, 1, 1]
