"""The pathways part of ``cairn demo``: a realistic catalogue, people, and statements that make progress.

Everything goes through the service functions and ``lrs.services``, so the progress a newcomer sees
is derived from real statements exactly as in production. Loading twice changes nothing.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cairn.accounts.models import User
from cairn.accounts.services import create_user
from cairn.db import utcnow
from lrs import services as lrs_services
from pathways import assessments, catalogue, people, projection
from pathways.catalogue import VERB_COMPLETED, VERB_PASSED

INSTRUCTOR = {"email": "instructor@example.org", "password": "cairn-instructor", "name": "Ian Instructor",
              "role": "instructor"}
LEARNERS = [
    {"email": "lea@example.org", "password": "cairn-learner", "name": "Léa Learner", "role": "learner",
     "attributes": {"department": "Operations", "location": "Lyon"}},
    {"email": "sam@example.org", "password": "cairn-learner", "name": "Sam Student", "role": "learner",
     "attributes": {"department": "Sales", "location": "Leeds"}},
]
CONTENT = "https://content.example.org/cairn-demo"


def _accounts() -> list[dict[str, str]]:
    return [{k: a[k] for k in ("email", "password", "name", "role")} for a in [INSTRUCTOR, *LEARNERS]]


def load(session: Session) -> dict[str, Any]:
    """Create the demo catalogue, people and statements once; return the accounts to sign in with."""
    if session.scalar(select(User.id).where(User.email == INSTRUCTOR["email"])) is not None:
        return {"accounts": _accounts()}
    instructor = create_user(session, name=INSTRUCTOR["name"], email=INSTRUCTOR["email"],
                             password=INSTRUCTOR["password"])
    lea, sam = (create_user(session, name=a["name"], email=a["email"], password=a["password"],
                            attributes=a["attributes"]) for a in LEARNERS)

    compliance = catalogue.create_category(session, name="Compliance")
    safety = catalogue.create_category(session, name="Health and safety", parent_id=compliance.id)
    welcome = catalogue.create_category(session, name="Getting started")
    academic = catalogue.create_category(session, name="Courses")

    onboarding = catalogue.create_pathway(session, title="Welcome to the company", outcome_kind="onboarding",
                                          ordering="sequential", category_id=welcome.id,
                                          description="Your first week: who we are and how we work.")
    catalogue.add_step(session, onboarding.id, kind="document", title="Read the staff handbook",
                       document_url=f"{CONTENT}/handbook.pdf")
    catalogue.add_step(session, onboarding.id, kind="xapi", title="Meet the team (video)",
                       launch_url=f"{CONTENT}/team/index.html", activity_iri=f"{CONTENT}/team")
    catalogue.add_step(session, onboarding.id, kind="xapi", title="Our tools",
                       launch_url=f"{CONTENT}/tools/index.html",
                       activity_iri=f"{CONTENT}/tools", required=False)

    quiz = assessments.create_assessment(session, title="Fire safety check", pass_mark=0.75, attempt_limit=3)
    assessments.add_question(session, quiz.id, interaction_type="choice",
                             prompt="Which extinguisher for electrical fires?",
                             options={"choices": [{"id": "water", "text": "Water"},
                                                  {"id": "co2", "text": "CO2"},
                                                  {"id": "foam", "text": "Foam"}]},
                             correct=["co2"], feedback="CO2 does not conduct electricity.")
    assessments.add_question(session, quiz.id, interaction_type="true-false",
                             prompt="You should use the lift during a fire alarm.", correct=False)
    assessments.add_question(session, quiz.id, interaction_type="numeric",
                             prompt="How many metres from the building is the assembly point?",
                             correct={"min": 45, "max": 55})
    assessments.add_question(session, quiz.id, interaction_type="sequencing",
                             prompt="Put the steps in order.",
                             options={"choices": [{"id": "alarm", "text": "Raise the alarm"},
                                                  {"id": "leave", "text": "Leave the building"},
                                                  {"id": "report", "text": "Report at the assembly point"}]},
                             correct=["alarm", "leave", "report"])
    fire = catalogue.create_pathway(session, title="Fire safety certificate", outcome_kind="certification",
                                    category_id=safety.id, grants_certification=True, validity_days=365,
                                    recertification_window_days=30,
                                    description="Yearly certificate: the e-learning and the check.")
    catalogue.add_step(session, fire.id, kind="cmi5", title="Fire safety e-learning",
                       launch_url=f"{CONTENT}/fire/au1/index.html", activity_iri=f"{CONTENT}/fire/au1",
                       move_on="Completed")
    catalogue.add_step(session, fire.id, kind="assessment", title="Fire safety check", assessment_id=quiz.id)

    drill = catalogue.create_pathway(session, title="Evacuation drill", outcome_kind="training_attendance",
                                     category_id=safety.id, description="A practical drill on site.")
    catalogue.add_step(session, drill.id, kind="session", title="Drill on site",
                       session_place="Main car park",
                       session_starts_at=utcnow() + timedelta(days=10), session_capacity=20)

    gdpr = catalogue.create_pathway(session, title="Data protection essentials", outcome_kind="compliance",
                                    category_id=compliance.id, description="Every year, for everyone.")
    catalogue.add_step(session, gdpr.id, kind="xapi", title="Data protection module",
                       launch_url=f"{CONTENT}/gdpr/index.html", activity_iri=f"{CONTENT}/gdpr", min_score=0.7)

    history = catalogue.create_pathway(session, title="Introduction to history", outcome_kind="academic",
                                       category_id=academic.id, description="Week by week, with readings.")
    catalogue.add_step(session, history.id, kind="xapi", title="Week 1: sources",
                       launch_url=f"{CONTENT}/history/w1/index.html", activity_iri=f"{CONTENT}/history/w1")
    catalogue.add_step(session, history.id, kind="xapi", title="Week 2: archives",
                       launch_url=f"{CONTENT}/history/w2/index.html", activity_iri=f"{CONTENT}/history/w2")
    for pathway in (onboarding, fire, drill, gdpr, history):
        catalogue.publish_pathway(session, pathway.id)

    everyone = people.create_audience(session, name="All staff", member_ids=[lea.id, sam.id])
    operations = people.create_audience(session, name="Operations", description="Everyone in Operations",
                                        rules=[{"attribute": "department", "op": "equals",
                                                "value": "Operations"}])
    klass = people.create_class(session, title="History 101")
    people.set_class_membership(session, klass.id, instructor.id, "instructor")
    for learner in (lea, sam):
        people.set_class_membership(session, klass.id, learner.id, "learner")

    now = utcnow()
    people.assign_pathway(session, onboarding.id, audience_id=everyone.id, due_days=14)
    people.assign_pathway(session, gdpr.id, audience_id=everyone.id, due_at=now - timedelta(days=2),
                          recurrence_months=12, reminder_days=[7, 1])
    people.assign_pathway(session, fire.id, audience_id=operations.id, due_days=30)
    people.assign_pathway(session, drill.id, audience_id=everyone.id, mandatory=False)
    people.assign_pathway(session, history.id, class_id=klass.id, due_days=60)

    statements = []

    def say(user: User, verb: str, activity: str, days_ago: float, **result: Any) -> None:
        statement: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "actor": {"objectType": "Agent", "name": user.name, "mbox": f"mailto:{user.email}"},
            "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
            "object": {"objectType": "Activity", "id": activity},
            "timestamp": (now - timedelta(days=days_ago)).isoformat()}
        if result:
            statement["result"] = result
        statements.append(statement)

    say(lea, "http://adlnet.gov/expapi/verbs/experienced", f"{CONTENT}/team", 5)
    say(lea, VERB_COMPLETED, f"{CONTENT}/team", 5)
    say(lea, VERB_COMPLETED, f"{CONTENT}/fire/au1", 3)
    say(lea, VERB_COMPLETED, f"{CONTENT}/history/w1", 2)
    say(sam, VERB_PASSED, f"{CONTENT}/gdpr", 20, score={"scaled": 0.9}, success=True, completion=True)
    say(sam, VERB_COMPLETED, f"{CONTENT}/history/w1", 4)
    say(sam, VERB_COMPLETED, f"{CONTENT}/history/w2", 1)
    lrs_services.store_statements(session, statements, authority=projection.system_authority())

    from pathways.actions import record_reading
    handbook = catalogue.get_pathway(session, onboarding.id).steps[0]
    record_reading(session, lea.id, handbook.id, now=now - timedelta(days=6))
    attempt = assessments.start_attempt(session, lea.id, quiz.id)
    correct = {q.id: q.correct for q in assessments.get_assessment(session, quiz.id).questions}
    assessments.submit_attempt(session, attempt.id, lea.id, correct)
    projection.catch_up(session)  # when stored outside a request, no subscriber ran
    return {"accounts": _accounts()}
