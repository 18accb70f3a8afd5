"""A comparable picture of the whole progress projection (ids of surrogate rows left out)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathways.models import CertificationAward, PathwayProgress, ProgressFact, StepProgress


def projection_snapshot(session: Session) -> dict:
    session.expire_all()
    steps = sorted((r.user_id, r.step_id, r.state, r.done_at, r.best_score, r.attempts, r.last_activity_at,
                    _norm(r.evidence), _norm(r.withdrawn)) for r in session.scalars(select(StepProgress)))
    pathways = sorted((r.user_id, r.pathway_id, r.status, r.percent, r.completed_at, r.best_score, r.attempts,
                       r.last_activity_at, r.expires_at, r.renewal_opens_at, r.renewal_percent,
                       _norm(r.evidence))
                      for r in session.scalars(select(PathwayProgress)))
    awards = sorted((r.user_id, r.pathway_id, r.earned_at, r.expires_at, r.revoked, _norm(r.revoked_by),
                     _norm(r.statement_ids)) for r in session.scalars(select(CertificationAward)))
    facts = sorted((r.statement_id, r.voided_by) for r in session.scalars(select(ProgressFact)))
    return {"steps": steps, "pathways": pathways, "awards": awards, "facts": facts}


def _norm(value: object) -> str:
    import json
    return json.dumps(value, sort_keys=True)
