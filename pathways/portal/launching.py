"""Opening xAPI content for a learner: a registration for the step, a short-lived scoped token, and the
launch URL carrying the xAPI launch parameters (endpoint, auth, actor, registration, activity_id).

The content then reports to our LRS as this learner, in this registration, about this activity only
(the LRS enforces the token's scope); statements in the registration count for the step.
"""
from __future__ import annotations

import base64
import json
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy.orm import Session

from cairn.accounts.models import User
from lrs import services as lrs_services
from pathways import actions
from pathways.assessments import _actor
from pathways.catalogue import StepInfo

LAUNCH_TTL_SECONDS = 4 * 3600


def xapi_launch_url(session: Session, user: User, step: StepInfo, *, endpoint: str) -> str:
    """The URL that opens ``step``'s content for ``user`` (a new registration and token each time)."""
    registration = actions.record_step_launch(session, step.id, user.id)
    actor = _actor(session, user)
    key, secret = lrs_services.issue_launch_credential(session, agent=actor, registration=registration,
                                                       activity_id=step.activity_iri,
                                                       ttl_seconds=LAUNCH_TTL_SECONDS)
    auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
    parameters = urlencode({"endpoint": endpoint, "auth": auth, "actor": json.dumps(actor, separators=(",", ":")),
                            "registration": registration, "activity_id": step.activity_iri})
    parts = urlsplit(step.launch_url or "")
    query = f"{parts.query}&{parameters}" if parts.query else parameters
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
