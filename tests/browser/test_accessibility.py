"""Accessibility in a real browser: axe-core's rules (WCAG 2 A and AA, and its best practices) on every
page of the demo that a link reaches, for the administrator, the instructor and a learner; on an
assessment taken from start to result; and on pages in an error state (a refused sign-in, a refused
form, a page that does not exist).

axe-core is Deque's rules engine (the one behind Lighthouse's accessibility audit);
``axe-playwright-python`` brings its script and runs it in the page. The crawl follows same-site
portal and admin links as ``tests/pages/test_every_page_on_the_demo.py`` does with the test client.
"""
from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import live_session, sign_in

LINK = re.compile(r"^/(?:portal/|admin/|lti/admin|lti/register|certificates/)[^#?]*$")
SKIP = re.compile(r"\.(csv|json)$|/signout")


@pytest.fixture(scope="module")
def accounts(live) -> dict[str, dict[str, str]]:
    from flask import current_app

    from cairn.demo import load_demo
    with live_session(live) as session:
        info = load_demo(session, current_app.extensions["cairn.demo_loaders"])
    first_of_each_role: dict[str, dict[str, str]] = {}
    for account in info["accounts"]:  # the learner: Léa, of the audience the assessment is for
        first_of_each_role.setdefault(account["role"], account)
    return first_of_each_role


@pytest.fixture(scope="module")
def axe() -> Any:
    from axe_playwright_python.sync_playwright import Axe
    return Axe()


def _violations(axe: Any, page: Any) -> list[str]:
    """axe's violations on the page as it stands: rule, impact, and the first elements at fault."""
    found = []
    for violation in axe.run(page).response["violations"]:
        nodes = "; ".join(node["html"][:120] for node in violation["nodes"][:3])
        found.append(f"{page.url}: {violation['id']} ({violation['impact']}): {violation['help']}: {nodes}")
    return found


def _crawl(axe: Any, page: Any, start: list[str], limit: int = 250) -> tuple[int, list[str]]:
    """Every portal and admin page reached by links from ``start``: how many, and axe's findings."""
    seen: set[str] = set()
    queue, problems = list(start), []
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen or SKIP.search(url):
            continue
        seen.add(url)
        response = page.goto(url)
        assert response is not None and response.status < 500, url
        if response.status != 200 or "text/html" not in (response.headers.get("content-type") or ""):
            continue
        problems.extend(_violations(axe, page))
        links = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
        queue.extend(link for link in links if link and LINK.match(link) and link not in seen)
    return len(seen), problems


@pytest.mark.parametrize(("role", "start", "at_least"), [
    ("administrator", ["/admin/", "/portal/", "/lti/admin", "/lti/register", "/certificates/verify",
                       "/admin/assignments?people=a"], 40),  # with a people search: its form shows
    ("instructor", ["/portal/", "/admin/"], 10),
    ("learner", ["/portal/"], 5),
])
def test_every_page_of_the_demo_passes_axe(live, context, accounts, axe, role: str, start: list[str],
                                           at_least: int) -> None:
    page = context.new_page()
    sign_in(page, accounts[role]["email"], accounts[role]["password"])
    pages, problems = _crawl(axe, page, start)
    assert problems == []
    assert pages > at_least, pages


def test_pages_in_an_error_state_pass_axe(live, context, accounts, axe) -> None:
    page = context.new_page()
    page.goto("/signin")
    assert _violations(axe, page) == []
    page.get_by_label("Email").fill(accounts["learner"]["email"])
    page.get_by_label("Password").fill("not the password")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").count() >= 1  # the refusal is announced
    assert _violations(axe, page) == []
    admin = accounts["administrator"]
    sign_in(page, admin["email"], admin["password"])
    page.goto("/admin/people/")
    page.locator("#name").fill("Short Password")
    page.get_by_label("Password").fill("short")
    with page.expect_navigation():
        page.get_by_role("button", name="Add person").click()
    assert page.locator("[aria-invalid=true]").count() >= 1  # the field is marked, its error beside it
    assert _violations(axe, page) == []
    missing = page.goto("/portal/no-such-page")
    assert missing is not None and missing.status == 404
    assert _violations(axe, page) == []


def test_an_assessment_from_start_to_result_passes_axe(live, context, accounts, axe) -> None:
    page = context.new_page()
    sign_in(page, accounts["learner"]["email"], accounts["learner"]["password"])
    page.goto("/portal/")
    links = page.eval_on_selector_all("a[href^='/portal/pathways/']", "links => links.map(a => a.href)")
    for link in links:  # the first pathway of the learner's with an assessment to take
        page.goto(link)
        take = page.get_by_role("link", name=re.compile("^(Take the assessment|Retake)"))
        if take.count():
            take.first.click()
            break
    else:
        pytest.fail("the demo's learner has no assessment to take")
    assert _violations(axe, page) == []
    page.get_by_label("One question per page").check()
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("^Start")).click()
    assert "/portal/attempts/" in page.url
    questions = 0
    while True:  # a question a page, unanswered, to the last, then submitted
        assert _violations(axe, page) == []
        questions += 1
        last = page.get_by_role("button", name="Submit my answers").count() == 1
        with page.expect_navigation():
            page.get_by_role("button", name="Submit my answers" if last else "Next question").click()
        if last or questions > 20:
            break
    assert questions == 4  # the demo's assessment has four
    assert page.get_by_text("Submit my answers").count() == 0
    assert _violations(axe, page) == []  # the result
