"""Delivery to a remote LRS: in order, at least once, never lost, retried with backoff."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from cairn.db import utcnow
from lrs.forwarding import targets
from lrs.forwarding.delivery import DeliveryPolicy, claim_target, deliver_once, deliver_round
from lrs.forwarding.models import ForwardingRejection, ForwardingTarget
from tests.lrs.forwarding.helpers import COMPLETED, EXPERIENCED, statement, store, voiding

FAST = DeliveryPolicy(batch_size=3, backoff_base=timedelta(seconds=2), backoff_max=timedelta(seconds=60),
                      timeout=5)


@pytest.fixture()
def factory(app):
    return app.extensions["cairn.db"].session_factory()


def add_target(db_session, remote, **kwargs):
    target = targets.create_target(db_session, endpoint=remote.endpoint, key="k", secret="s", **kwargs)
    db_session.commit()
    return target.id


def drain(factory, policy=FAST, **kwargs):
    reports = []
    while True:
        report = deliver_once(factory, policy, **kwargs)
        if report is None or not report.progressed:
            return reports
        reports.append(report)


def test_every_stored_statement_arrives_once_in_stored_order(db_session, factory, remote) -> None:
    stored = store(db_session, *[statement(verb=COMPLETED if i % 2 else EXPERIENCED) for i in range(7)])
    db_session.commit()
    target_id = add_target(db_session, remote)
    reports = drain(factory)
    assert [r.sent for r in reports] == [3, 3, 1]
    assert remote.order == [s.id for s in stored]
    target = db_session.get(ForwardingTarget, target_id)
    db_session.refresh(target)
    assert target.cursor == stored[-1].sequence and target.delivered_count == 7
    assert target.last_success_at is not None and target.last_error is None
    assert deliver_once(factory, FAST).progressed is False  # nothing new: nothing sent again
    assert len(remote.order) == 7


def test_forwarded_statements_keep_their_exact_json_less_stored(db_session, factory, remote) -> None:
    original = statement(result={"duration": "PT1H30M", "score": {"scaled": 0.5}},
                         context={"contextActivities": {"parent": [{"id": "http://example.org/p"}]}})
    [stored] = store(db_session, original)
    db_session.commit()
    add_target(db_session, remote)
    drain(factory)
    received = remote.statements[stored.id]
    assert received == {k: v for k, v in stored.statement.items() if k != "stored"}
    assert received["result"]["duration"] == "PT1H30M"  # tincan's models would send PT01H30M00S


def test_requests_carry_basic_auth_and_the_targets_xapi_version(db_session, factory, remote) -> None:
    store(db_session, statement())
    db_session.commit()
    targets.create_target(db_session, endpoint=remote.endpoint, key="the-key", secret="the-secret",
                          xapi_version="2.0.0")
    db_session.commit()
    drain(factory)
    headers = remote.requests[0]["headers"]
    assert headers["X-Experience-API-Version"] == "2.0.0"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"the-key:the-secret").decode()
    assert remote.requests[0]["path"].split("?")[0] == "/xapi/statements"  # tincan always adds "?"


def test_a_filtered_target_gets_matching_statements_and_the_voids_of_them(db_session, factory,
                                                                          remote) -> None:
    done, seen = store(db_session, statement(verb=COMPLETED), statement(verb=EXPERIENCED))
    void_done, void_seen = store(db_session, voiding(done.id), voiding(seen.id))
    db_session.commit()
    add_target(db_session, remote, verbs=[COMPLETED])
    drain(factory)
    assert remote.order == [done.id, void_done.id]


def test_statements_stored_while_delivering_are_picked_up_after_the_cursor(db_session, factory,
                                                                           remote) -> None:
    first = store(db_session, statement(), statement())
    db_session.commit()
    add_target(db_session, remote)
    drain(factory)
    later = store(db_session, statement())
    db_session.commit()
    drain(factory)
    assert remote.order == [s.id for s in first + later]


def test_from_sequence_skips_what_was_stored_before_the_target(db_session, factory, remote) -> None:
    from lrs.services import latest_sequence
    store(db_session, statement())
    db_session.commit()
    add_target(db_session, remote, from_sequence=latest_sequence(db_session))
    [new] = store(db_session, statement())
    db_session.commit()
    drain(factory)
    assert remote.order == [new.id]


def test_an_unreachable_remote_backs_off_exponentially_and_loses_nothing(db_session, factory, remote) -> None:
    stored = store(db_session, statement(), statement())
    db_session.commit()
    target = targets.create_target(db_session, endpoint="http://127.0.0.1:9/xapi/", key="k", secret="s")
    db_session.commit()
    waits = []
    for _ in range(3):
        before = utcnow()
        report = deliver_once(factory, FAST)
        assert report is not None and report.sent == 0 and "unreachable" in report.error
        db_session.refresh(target)
        waits.append(round((target.next_attempt_at - before).total_seconds()))
        assert deliver_once(factory, FAST) is None  # not due again before its backoff
        target.next_attempt_at = utcnow() - timedelta(seconds=1)
        db_session.commit()
    assert waits == [2, 4, 8]
    assert target.cursor == 0 and target.failures == 3 and "unreachable" in target.last_error
    target.endpoint = remote.endpoint  # the remote is back
    db_session.commit()
    drain(factory)
    db_session.refresh(target)
    assert remote.order == [s.id for s in stored]
    assert target.failures == 0 and target.next_attempt_at is None


@pytest.mark.parametrize("status", [500, 503, 429, 401])
def test_server_errors_and_throttling_are_retried_not_dropped(db_session, factory, remote, status) -> None:
    stored = store(db_session, statement())
    db_session.commit()
    target_id = add_target(db_session, remote)
    remote.fail_next = [status]
    report = deliver_once(factory, FAST)
    assert report.error.startswith(f"remote answered {status}")
    targets.resume_target(db_session, target_id)
    db_session.commit()
    drain(factory)
    assert remote.order == [stored[0].id]


def test_a_statement_the_remote_refuses_is_set_aside_and_the_rest_still_arrive(db_session, factory,
                                                                               remote) -> None:
    stored = store(db_session, statement(), statement(), statement())
    db_session.commit()
    target_id = add_target(db_session, remote)
    remote.refuse_ids = {stored[1].id}
    report = deliver_once(factory, FAST)
    assert (report.sent, report.rejected, report.error) == (2, 1, None)
    assert remote.order == [stored[0].id, stored[2].id]
    [rejection] = db_session.scalars(select(ForwardingRejection)
                                     .where(ForwardingRejection.target_id == target_id))
    assert rejection.statement_id == stored[1].id and rejection.status == 400
    assert "refused" in rejection.message


def test_a_batch_resent_after_a_lost_response_is_not_duplicated(db_session, factory, remote) -> None:
    stored = store(db_session, statement(), statement(), statement())
    db_session.commit()
    target_id = add_target(db_session, remote)
    # The remote stored the first two, but we never heard back (e.g. it died before answering).
    for s in stored[:2]:
        remote.statements[s.id] = s.statement
        remote.order.append(s.id)
    report = deliver_once(factory, FAST)
    assert report.error is None and report.sent == 3
    assert remote.order == [s.id for s in stored]  # each id once
    target = db_session.get(ForwardingTarget, target_id)
    db_session.refresh(target)
    assert target.cursor == stored[-1].sequence


def test_a_claimed_target_is_not_claimed_by_a_second_worker_until_its_lease_expires(db_session, factory,
                                                                                    remote) -> None:
    target_id = add_target(db_session, remote)
    with factory() as first, factory() as second:
        claim = claim_target(first, FAST)
        assert claim is not None and claim.target_id == target_id
        assert claim_target(second, FAST) is None
        later = utcnow() + FAST.lease + timedelta(seconds=1)
        assert claim_target(second, FAST, now=later).target_id == target_id


def test_a_worker_whose_lease_was_taken_over_does_not_move_the_cursor(db_session, factory, remote) -> None:
    from lrs.forwarding.delivery import DeliveryReport, _record
    store(db_session, statement())
    db_session.commit()
    target_id = add_target(db_session, remote)
    with factory() as session:
        stale = claim_target(session, FAST)
    with factory() as session:
        claim_target(session, FAST, now=utcnow() + FAST.lease + timedelta(seconds=1))
    _record(factory, stale, FAST, DeliveryReport(target_id, sent=1), delivered_through=99)
    target = db_session.get(ForwardingTarget, target_id)
    db_session.refresh(target)
    assert target.cursor == 0 and target.delivered_count == 0


def test_a_round_serves_every_due_target_once(db_session, factory, remote) -> None:
    from benchmarks.recording_lrs import recording_lrs
    stored = store(db_session, statement())
    db_session.commit()
    with recording_lrs() as other:
        add_target(db_session, remote)
        add_target(db_session, other)
        reports = deliver_round(factory, FAST)
        assert sorted(r.sent for r in reports) == [1, 1]
        assert other.order == remote.order == [stored[0].id]


def test_a_narrow_filter_moves_the_cursor_past_statements_it_does_not_want(db_session, factory,
                                                                           remote) -> None:
    stored = store(db_session, *[statement(verb=EXPERIENCED) for _ in range(5)])
    db_session.commit()
    target_id = add_target(db_session, remote, verbs=[COMPLETED])
    report = deliver_once(factory, DeliveryPolicy(scan_limit=2))
    assert report.sent == 0 and report.advanced_to == stored[1].sequence
    drain(factory, DeliveryPolicy(scan_limit=2))
    target = db_session.get(ForwardingTarget, target_id)
    db_session.refresh(target)
    assert target.cursor == stored[-1].sequence and remote.requests == []


def test_backlog_counts_matching_statements_not_yet_delivered(db_session, factory, remote) -> None:
    store(db_session, statement(verb=COMPLETED), statement(verb=EXPERIENCED), statement(verb=COMPLETED))
    db_session.commit()
    add_target(db_session, remote, verbs=[COMPLETED])
    [status] = targets.list_targets(db_session)
    assert status.backlog == 2
    drain(factory)
    db_session.expire_all()
    [status] = targets.list_targets(db_session)
    assert (status.backlog, status.delivered_count) == (0, 2)
    assert json.dumps(status.verbs) == json.dumps([COMPLETED])
