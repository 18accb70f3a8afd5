"""Two workers signing for the first time at once: one key is made, and both sign with it."""
from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from lti import keys
from lti.models import ToolKey
from tests.conftest import fresh_database_url, make_test_app, reset_database


def test_the_second_first_use_waits_and_signs_with_the_key_the_first_made(tmp_path) -> None:
    engine = reset_database(fresh_database_url(tmp_path, "firstkey"))
    app = make_test_app(engine.url.render_as_string(hide_password=False))
    factory = app.extensions["cairn.db"].session_factory()
    outcome: dict[str, object] = {}
    try:
        def second_worker(started: threading.Event) -> None:
            with app.app_context(), factory() as session:
                try:
                    started.set()
                    outcome["kid"] = keys.signing_key(session).kid
                    session.commit()
                except Exception as exc:  # reported below, with its type
                    outcome["error"] = exc

        with app.app_context(), factory() as first:
            first_kid = keys.signing_key(first).kid  # made, not committed yet
            started = threading.Event()
            thread = threading.Thread(target=second_worker, args=(started,))
            thread.start()
            started.wait(30)
            time.sleep(1.0)  # the second worker now waits for the first one's transaction
            first.commit()
        thread.join(60)

        assert "error" not in outcome, repr(outcome.get("error"))
        assert outcome["kid"] == first_kid
        with factory() as session:
            assert session.scalar(select(func.count()).select_from(ToolKey)) == 1
            assert keys.published_jwks(session)["keys"][0]["kid"] == first_kid
    finally:
        app.extensions["cairn.db"].dispose()
        engine.dispose()
