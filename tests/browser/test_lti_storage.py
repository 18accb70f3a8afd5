"""A real Chromium runs Cairn's lti.js inside the platform's course page: LTI Client Side
postMessages (lti.put_data at login, lti.get_data at launch) when the browser keeps no cookie."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.lti_platform import Message, Person
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.lti.conftest import LtiWorld, lti_world

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LtiWorld]:
    yield from lti_world(tmp_path_factory, "br_lti_storage")


@pytest.fixture(scope="module")
def chromium(browser: Any) -> Iterator[Any]:
    """A second Chromium from the session's Playwright (which runs once per process), without the
    local-network checks: responses that Playwright fulfils (cookies removed) count as public-network
    documents, whose navigation back to 127.0.0.1 Chromium would otherwise block."""
    args = [*CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests"]
    other = browser.browser_type.launch(executable_path=CHROMIUM, args=args, headless=True)
    yield other
    other.close()


def test_launch_in_an_iframe_without_cookies_is_confirmed_through_the_platform_storage(
        world: LtiWorld, chromium: Any) -> None:
    platform = world.platform
    learner = Person(sub=f"browser-{time.time_ns()}", name="Bea Browser")
    hint = platform.prepare(Message(person=learner, context_id="c-browser"))
    context = chromium.new_context()
    errors: list[str] = []
    context.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    def drop_cookies(route: Any) -> None:
        # The browser keeps no cookie of the tool's in the frame (third-party cookies blocked).
        response = route.fetch(max_redirects=0)
        context.clear_cookies()  # route.fetch() shares the context's cookie jar: empty it again
        headers = {k: v for k, v in response.headers.items() if k.lower() != "set-cookie"}
        route.fulfill(response=response, headers=headers)

    context.route(re.compile(re.escape(world.cairn.url) + r"/.*"), drop_cookies)
    nonces_before = world.count("lti_used_nonces")
    try:
        page = context.new_page()
        page.goto(f"{platform.issuer}/course?hint={hint}")
        tool = page.frame_locator("#tool")
        tool.get_by_role("link", name="Open Cairn in a new window").wait_for(timeout=15_000)
        assert context.cookies(world.cairn.url) == []
    finally:
        context.close()
    assert world.count("lti_used_nonces") == nonces_before + 1
    identity = f"{platform.issuer}|{learner.sub}"
    assert world.query("SELECT COUNT(*) FROM user_identities WHERE value = :v", v=identity) == [(1,)]
    assert not [e for e in errors if "Content Security Policy" in e]
