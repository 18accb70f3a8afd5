"""Pure functions: from a learner's facts and a pathway's steps to step states, progress and awards.

No database here. The projection feeds these functions the same inputs whether it runs incrementally
or rebuilds from scratch, and they sort their inputs themselves, so the result never depends on the
order in which statements arrived.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pathways.catalogue import (VERB_COMPLETED, VERB_FAILED, VERB_PASSED, VERB_SATISFIED, VERB_WAIVED,
                                StepInfo)

ATTEMPT_VERBS = (VERB_PASSED, VERB_FAILED)


@dataclass(frozen=True)
class Fact:
    """What one statement says about one activity (a ``progress_facts`` row, detached)."""

    statement_id: str
    verb: str
    activity_iri: str
    registration: str | None
    timestamp: datetime
    success: bool | None = None
    completion: bool | None = None
    score_scaled: float | None = None
    voided_by: str | None = None

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.timestamp, self.statement_id)


@dataclass
class StepResult:
    state: str = "not_started"
    done_at: datetime | None = None
    best_score: float | None = None
    attempts: int = 0
    last_activity_at: datetime | None = None
    evidence: dict[str, list[str]] = field(default_factory=dict)
    withdrawn: list[dict[str, str]] = field(default_factory=list)


@dataclass
class AwardResult:
    earned_at: datetime
    expires_at: datetime | None
    statement_ids: list[str]
    revoked: bool = False
    revoked_by: list[str] = field(default_factory=list)


@dataclass
class PathwayResult:
    status: str = "not_started"
    percent: int = 0
    completed_at: datetime | None = None
    best_score: float | None = None
    attempts: int = 0
    last_activity_at: datetime | None = None
    expires_at: datetime | None = None
    renewal_opens_at: datetime | None = None
    renewal_percent: int = 0
    evidence: dict[str, list[str]] = field(default_factory=dict)
    steps: dict[int, StepResult] = field(default_factory=dict)
    awards: list[AwardResult] = field(default_factory=list)


def facts_for_step(step: StepInfo, facts: list[Fact], registrations: set[str]) -> list[Fact]:
    """Facts about the step's activity, or made in a registration the step launched for this learner."""
    return sorted((f for f in facts if f.activity_iri == step.activity_iri or
                   (f.registration is not None and f.registration in registrations)), key=lambda f: f.order)


def _qualifying(step: StepInfo, fact: Fact) -> bool:
    """Whether one fact on its own completes the step (cmi5 CompletedAndPassed needs two: see below)."""
    if step.kind == "cmi5":
        if fact.verb in (VERB_SATISFIED, VERB_WAIVED):
            return True
        move_on = step.move_on or "NotApplicable"
        if move_on == "NotApplicable":
            return True
        if fact.verb == VERB_PASSED and move_on in ("Passed", "CompletedOrPassed"):
            return _score_ok(step, fact, step.mastery_score)
        if fact.verb == VERB_COMPLETED and move_on in ("Completed", "CompletedOrPassed"):
            return True
        return False
    if fact.verb not in step.done_verbs:
        return False
    return _score_ok(step, fact, step.min_score)


def _score_ok(step: StepInfo, fact: Fact, minimum: float | None) -> bool:
    if minimum is None:
        return True
    return fact.score_scaled is not None and fact.score_scaled >= minimum


def _done_evidence(step: StepInfo, facts: list[Fact],
                   since: datetime | None) -> tuple[datetime, list[str]] | None:
    """When the step became done at or after ``since``, and the ids that show it, from valid facts."""
    window = [f for f in facts if since is None or f.timestamp >= since]
    if step.kind == "cmi5" and step.move_on == "CompletedAndPassed":
        lms = next((f for f in window if f.verb in (VERB_SATISFIED, VERB_WAIVED)), None)
        completed = next((f for f in window if f.verb == VERB_COMPLETED), None)
        passed = next((f for f in window if f.verb == VERB_PASSED and _score_ok(step, f, step.mastery_score)),
                      None)
        candidates = []
        if completed and passed:
            later = max(completed, passed, key=lambda f: f.order)
            candidates.append((later.timestamp, sorted([completed.statement_id, passed.statement_id])))
        if lms:
            candidates.append((lms.timestamp, [lms.statement_id]))
        return min(candidates) if candidates else None
    first = next((f for f in window if _qualifying(step, f)), None)
    return (first.timestamp, [first.statement_id]) if first else None


def derive_step(step: StepInfo, all_facts: list[Fact], registrations: set[str],
                since: datetime | None = None) -> StepResult:
    """A step's state from the facts (voided ones only feed the record of withdrawals)."""
    facts = facts_for_step(step, all_facts, registrations)
    valid = [f for f in facts if f.voided_by is None]
    result = StepResult()
    result.withdrawn = [{"statement": f.statement_id, "voided_by": f.voided_by or ""}
                        for f in facts if f.voided_by is not None and _qualifying(step, f)]
    if not valid:
        return result
    last = max(valid, key=lambda f: f.order)
    result.last_activity_at = last.timestamp
    result.evidence["last_activity"] = [last.statement_id]
    scored = [f for f in valid if f.score_scaled is not None]
    if scored:
        best = max(scored, key=lambda f: (f.score_scaled, _neg(f.order)))
        result.best_score = best.score_scaled
        result.evidence["best_score"] = [best.statement_id]
    attempts = [f for f in valid if f.verb in ATTEMPT_VERBS]
    result.attempts = len(attempts)
    if attempts:
        result.evidence["attempts"] = [f.statement_id for f in attempts]
    done = _done_evidence(step, valid, since)
    in_window = [f for f in valid if since is None or f.timestamp >= since]
    if done is not None:
        result.state = "done"
        result.done_at, result.evidence["state"] = done[0], done[1]
    elif in_window:
        result.state = "in_progress"
        result.evidence["state"] = [f.statement_id for f in in_window]
    return result


def _neg(order: tuple[datetime, str]) -> tuple[float, str]:
    # For ties in best score, prefer the earliest statement (a stable, order-independent choice).
    return (-order[0].timestamp(), "".join(chr(0x10FFFF - ord(c)) for c in order[1]))


def _completion(steps: list[StepInfo], facts_by_step: dict[int, list[Fact]],
                since: datetime | None) -> tuple[datetime, list[str]] | None:
    """When every required step was done at or after ``since``, and the statements that show it."""
    required = [s for s in steps if s.required] or steps
    if not required:
        return None
    times: list[datetime] = []
    ids: list[str] = []
    for step in required:
        done = _done_evidence(step, facts_by_step[step.id], since)
        if done is None:
            return None
        times.append(done[0])
        ids.extend(done[1])
    return max(times), sorted(set(ids))


def _percent(steps: list[StepInfo], facts_by_step: dict[int, list[Fact]], since: datetime | None) -> int:
    required = [s for s in steps if s.required] or steps
    if not required:
        return 0
    done = sum(1 for s in required if _done_evidence(s, facts_by_step[s.id], since) is not None)
    return done * 100 // len(required)


def _cycles(steps: list[StepInfo], facts_by_step: dict[int, list[Fact]], validity: timedelta | None,
            window: timedelta) -> list[tuple[datetime, list[str], datetime | None]]:
    """Successive completions: each later cycle counts only statements from the previous renewal opening."""
    cycles: list[tuple[datetime, list[str], datetime | None]] = []
    since: datetime | None = None
    for _ in range(1000):
        completion = _completion(steps, facts_by_step, since)
        if completion is None:
            break
        expires = completion[0] + validity if validity else None
        cycles.append((completion[0], completion[1], expires))
        if expires is None:
            break
        next_since = expires - window
        if since is not None and next_since <= since:
            break
        since = next_since
    return cycles


def derive_pathway(steps: list[StepInfo], facts: list[Fact], registrations_by_step: dict[int, set[str]], *,
                   validity_days: int | None = None, window_days: int | None = None) -> PathwayResult:
    """A learner's progress on a pathway version, with its certification (or recurrence) cycles.

    ``validity_days`` is the certification's validity or the assignment's recurrence; the renewal
    of a cycle opens ``window_days`` before it expires and counts statements from then on.
    """
    result = PathwayResult()
    validity = timedelta(days=validity_days) if validity_days else None
    window = timedelta(days=window_days or 0)
    all_by_step = {s.id: facts_for_step(s, facts, registrations_by_step.get(s.id, set())) for s in steps}
    valid_by_step = {k: [f for f in v if f.voided_by is None] for k, v in all_by_step.items()}

    valid_cycles = _cycles(steps, valid_by_step, validity, window)
    since = None
    if valid_cycles:
        last_done, last_ids, last_expires = valid_cycles[-1]
        result.status, result.percent, result.completed_at = "completed", 100, last_done
        result.expires_at = last_expires
        result.evidence["status"] = last_ids
        if last_expires is not None:
            since = last_expires - window
            result.renewal_opens_at = since
            result.renewal_percent = _percent(steps, valid_by_step, since)
    for step in steps:
        result.steps[step.id] = derive_step(step, facts, registrations_by_step.get(step.id, set()),
                                            since if result.status == "completed" and since else None)
    if result.status != "completed":
        result.percent = _percent(steps, valid_by_step, None)
        started = [sid for sid, r in result.steps.items() if r.state != "not_started"]
        if started:
            result.status = "in_progress"
            result.evidence["status"] = sorted({i for sid in started
                                                for i in result.steps[sid].evidence["state"]})
    # Step views inside a finished cycle that has not yet reopened show the cycle's completion.
    if result.status == "completed" and since is not None:
        for step in steps:
            if result.steps[step.id].state != "done":
                done = _done_evidence(step, valid_by_step[step.id], None)
                if done is not None and valid_cycles and done[0] <= valid_cycles[-1][0]:
                    result.steps[step.id].state = "done"
                    result.steps[step.id].done_at = done[0]
                    result.steps[step.id].evidence["state"] = done[1]
    scores = [(r.best_score, r.evidence.get("best_score", [])) for r in result.steps.values()
              if r.best_score is not None]
    if scores:
        best = max(scores, key=lambda s: (s[0], [-ord(c) for c in "".join(s[1])]))
        result.best_score, result.evidence["best_score"] = best[0], best[1]
    result.attempts = sum(r.attempts for r in result.steps.values())
    lasts = [(r.last_activity_at, r.evidence["last_activity"]) for r in result.steps.values()
             if r.last_activity_at]
    if lasts:
        last = max(lasts, key=lambda item: (item[0], item[1]))
        result.last_activity_at, result.evidence["last_activity"] = last[0], last[1]

    # Awards: every valid cycle; a cycle that only existed thanks to now-voided statements is revoked.
    for done_at, ids, expires in valid_cycles:
        result.awards.append(AwardResult(done_at, expires, ids))
    valid_times = {c[0] for c in valid_cycles}
    voided_ids = {f.statement_id: f.voided_by for fs in all_by_step.values() for f in fs if f.voided_by}
    if voided_ids:
        for done_at, ids, expires in _cycles(steps, all_by_step, validity, window):
            if done_at not in valid_times and any(i in voided_ids for i in ids):
                result.awards.append(AwardResult(done_at, expires, ids, revoked=True,
                                                 revoked_by=sorted({voided_ids[i] or "" for i in ids
                                                                    if i in voided_ids})))
    result.awards.sort(key=lambda a: (a.earned_at, a.revoked))
    return result
