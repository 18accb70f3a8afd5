"""The learning world behind the statements: learners with the generator's identities, pathways
whose steps are the generator's activities, and assignments, created through the real services.

Runs in the runner's process against the benchmark database (before the server takes load), so
the projection has real work to do for every ingested statement.
"""
from __future__ import annotations

import time
from typing import Any

from benchmarks import generator

# A learner (a mailbox identity, so they can sign in by email) whose home page is measured.
LEARNER_NUMBER = 4
LEARNER_EMAIL = "learner4@students.example.edu"


def available() -> bool:
    try:
        from pathways import catalogue, people  # noqa: F401
    except ImportError:
        return False
    return hasattr(people, "assign_pathway") and hasattr(catalogue, "publish_pathway")


def build(database_url: str, population: generator.Population, pathway_count: int,
          steps: int = 8) -> dict[str, Any]:
    """Create learners, published pathways and one assignment per pathway (to its course's audience)."""
    from benchmarks.runner import service_app
    from cairn.accounts.services import Identity, add_identity, create_user, set_password
    from pathways import catalogue, people
    started = time.perf_counter()
    app = service_app(database_url)
    with app.app_context():
        from cairn.db import get_session
        session = get_session()
        gen = generator.StatementGenerator(population=population)
        members: dict[int, list[int]] = {}
        for n in range(population.learners):
            agent = generator.learner_agent(n)
            if "mbox" in agent:
                user = create_user(session, name=agent["name"], email=agent["mbox"].removeprefix("mailto:"))
                if n == LEARNER_NUMBER:
                    from benchmarks.runner import LEARNER_PASSWORD
                    set_password(session, user, LEARNER_PASSWORD)
            else:
                user = create_user(session, name=agent["name"])
                identity = Identity.from_agent(agent)
                assert identity is not None
                add_identity(session, user, identity)
            members.setdefault(gen.course_of(n), []).append(user.id)
            if n % 1000 == 999:
                session.commit()
        session.commit()
        audiences: dict[int, int] = {}
        for definition in generator.pathways(population, count=pathway_count, steps=steps):
            pathway = catalogue.create_pathway(session, title=definition["title"], outcome_kind="compliance")
            for step in definition["steps"]:
                catalogue.add_step(session, pathway.id, kind="xapi", title=step["title"],
                                   activity_iri=step["activity"], launch_url=step["activity"],
                                   required=step["required"])
            catalogue.publish_pathway(session, pathway.id)
            course = definition["course"]
            if course not in audiences:
                audiences[course] = people.create_audience(session, name=f"Course {course} cohort",
                                                           member_ids=members.get(course, [])).id
            people.assign_pathway(session, pathway.id, audience_id=audiences[course], due_days=90)
            session.commit()
    app.extensions["cairn.db"].dispose()
    return {"learners": population.learners, "pathways": pathway_count,
            "assignments": pathway_count, "seconds": round(time.perf_counter() - started, 1)}
