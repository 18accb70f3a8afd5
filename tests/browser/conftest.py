"""Browser tests: Playwright for Python driving Debian's headless Chromium against a real Cairn.

Rules of this folder:
- Chromium is ``/usr/bin/chromium`` (``apt-get install -y chromium``); without it the tests skip
  with that reason, except under ``CI=true`` where a missing browser is a failure, never a skip.
- One gunicorn Cairn per test module (``live``), on a fresh database of the kind this run tests;
  each test gets its own browser context (cookies), so tests of a module stay independent.
- A failing test saves a full-page screenshot of every page it had open under ``test-artifacts/``.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.live import ROOT, LiveCairn, live_cairn

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--no-first-run",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "correct horse battery"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.e2e)


def chromium_missing_reason() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists():
        return f"Debian's chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


def skip_or_fail_without_chromium() -> None:
    reason = chromium_missing_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true, so browser tests must run, not skip", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Per module, not per session: a Playwright left running would stop other test folders from
    # starting their own (the sync API refuses to run inside another's event loop).
    skip_or_fail_without_chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCairn]:
    """A Cairn for this module: gunicorn on a fresh database (2 workers: the machine has 2 cores)."""
    skip_or_fail_without_chromium()
    name = "br_" + re.sub(r"[^a-z0-9_]", "_", request.module.__name__.rsplit(".", 1)[-1].lower())
    with live_cairn(tmp_path_factory.mktemp(name), name, workers=2) as server:
        yield server


@pytest.fixture()
def context(browser: Any, live: LiveCairn, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser profile for this test; screenshots of its pages if the test fails."""
    ctx = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(10_000)
    console_errors: list[str] = []
    ctx.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    ctx.console_errors = console_errors  # type: ignore[attr-defined]
    yield ctx
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        for n, page in enumerate(ctx.pages):
            try:
                page.screenshot(path=str(ARTIFACTS / f"{stem}-{n}.png"), full_page=True)
            except Exception:  # noqa: BLE001 - a closed page must not hide the real failure
                pass
    ctx.close()


@pytest.fixture()
def page(context: Any) -> Any:
    return context.new_page()


@contextmanager
def live_session(live: LiveCairn) -> Iterator[Any]:
    """A committed session on the live server's database, inside an app context (test setup through
    the service functions, with the app's statement subscribers wired as in the server)."""
    from cairn import create_app
    from cairn.db import get_session
    app = create_app({"DATABASE_URL": live.database_url, "SECRET_KEY": "setup", "ENV": "test",
                      "AUTO_UPGRADE": False, "SKIP_SCHEMA_CHECK": True})
    try:
        with app.app_context():
            session = get_session()
            yield session
            session.commit()
    finally:
        app.extensions["cairn.db"].dispose()


def make_user(live: LiveCairn, *, email: str, name: str, role: str = "learner",
              password: str = PASSWORD, **attributes: str) -> int:
    """Create a user in the live server's database through the accounts service (test setup)."""
    from cairn.accounts.services import create_user
    with live_session(live) as session:
        user = create_user(session, name=name, email=email, password=password, role=role,
                           attributes=dict(attributes))
        session.flush()
        return user.id


def sign_in(page: Any, email: str, password: str = PASSWORD) -> None:
    """Sign in through the sign-in page, as a person would."""
    page.goto("/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
