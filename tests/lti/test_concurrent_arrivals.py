"""Two first launches into the same new course at the same moment: both are accepted, one course."""
from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from lti import arrivals, platforms
from lti.launches import ValidLaunch
from lti.models import Context, ContextMember
from tests.conftest import fresh_database_url, make_test_app, reset_database

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
ISSUER = "https://vle.example.edu"


def _claims(sub: str) -> dict:
    return {"iss": ISSUER, "aud": "cairn", "sub": sub, "name": f"Learner {sub}",
            LTI + "message_type": "LtiResourceLinkRequest", LTI + "version": "1.3.0",
            LTI + "deployment_id": "d1", LTI + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
            LTI + "context": {"id": "new-course", "label": "NEW", "title": "A brand-new course"},
            LTI + "resource_link": {"id": "link-1", "title": "Week 1"}}


def test_a_launch_that_loses_the_race_to_create_the_course_is_retried_and_accepted(tmp_path) -> None:
    engine = reset_database(fresh_database_url(tmp_path, "ltirace"))
    app = make_test_app(engine.url.render_as_string(hide_password=False))
    factory = app.extensions["cairn.db"].session_factory()
    try:
        with app.app_context(), factory() as session:
            platform_id = platforms.add_platform(
                session, issuer=ISSUER, client_id="cairn", auth_login_url=f"{ISSUER}/auth",
                token_url=f"{ISSUER}/token", jwks_url=f"{ISSUER}/jwks", deployment_ids=["d1"]).id
            session.commit()

        outcome: dict[str, object] = {}
        first_done = threading.Event()

        def second_launch() -> None:
            first_done.wait(30)
            with app.app_context(), factory() as session:
                try:
                    valid = ValidLaunch(platform=platforms.get_platform(session, platform_id),
                                        claims=_claims("b"))
                    outcome["arrival"] = arrivals.accept(session, valid, base_url="http://localhost")
                    session.commit()
                except Exception as exc:  # reported below, with its type
                    outcome["error"] = exc

        with app.app_context(), factory() as first:
            valid = ValidLaunch(platform=platforms.get_platform(first, platform_id), claims=_claims("a"))
            arrivals.accept(first, valid, base_url="http://localhost")  # the course row exists, uncommitted
            thread = threading.Thread(target=second_launch)
            thread.start()
            first_done.set()
            time.sleep(1.5)  # the second launch now waits on the first one's course row (PostgreSQL)
            first.commit()
        thread.join(60)

        assert "error" not in outcome, repr(outcome.get("error"))
        with factory() as session:
            assert session.scalar(select(func.count()).select_from(Context)) == 1
            assert session.scalar(select(func.count()).select_from(ContextMember)) == 2
    finally:
        app.extensions["cairn.db"].dispose()
        engine.dispose()
