"""End to end in Chromium: an administrator builds, publishes and assigns a pathway with an assessment;
a learner of the audience completes it with the keyboard alone and gets the certificate; the
administrator sees the completion on the dashboard and in the CSV export.

One server for the module; the tests run in order and build on each other (the flow is one story).
"""
from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import make_user, sign_in
from tests.browser.test_layout import INLINE_HANDLERS_JS

PATHWAY = "Fire safety"
AUDIENCE = "Safety team"


@pytest.fixture(scope="module")
def people(live) -> dict[str, str]:
    make_user(live, email="ada@example.org", name="Ada Admin", role="administrator")
    make_user(live, email="lena@example.org", name="Lena Learner", department="Safety")
    make_user(live, email="otto@example.org", name="Otto Outsider", department="Sales")
    return {"admin": "ada@example.org", "learner": "lena@example.org", "outsider": "otto@example.org"}


def _watch(page: Any) -> list[str]:
    """Problems seen while the test browses: missing CSP headers on pages, console errors (CSP violations)."""
    problems: list[str] = []

    def on_response(response: Any) -> None:
        if response.request.resource_type == "document" and \
                "script-src 'self'" not in (response.headers.get("content-security-policy") or ""):
            problems.append(f"no CSP on {response.url}")

    page.on("response", on_response)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
                                   if msg.type == "error" else None)
    return problems


def _clean(page: Any) -> None:
    assert page.evaluate(INLINE_HANDLERS_JS) == [], page.url


def _submit(page: Any, name: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=name, exact=True).click()


def test_an_administrator_builds_publishes_and_assigns_a_pathway_with_an_assessment(
        live, people, page) -> None:
    problems = _watch(page)
    sign_in(page, people["admin"])

    # The assessment: two questions, pass mark 80%.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Administration").click()
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Assessments").click()
    page.get_by_label("Title").fill("Fire quiz")
    page.get_by_label("Pass mark (%)").fill("80")
    _submit(page, "Create assessment")
    page.get_by_label("Question type").select_option("choice")
    page.get_by_label("Question", exact=True).fill("Which number do you call in a fire?")
    page.get_by_label("Choices, one per line").fill("* 112\n999")
    page.get_by_label("Feedback shown after submission").fill("112 works everywhere in Europe.")
    _submit(page, "Add question")
    page.get_by_label("Question type").select_option("true-false")
    page.get_by_label("Question", exact=True).fill("Water puts out electrical fires.")
    page.get_by_label("The statement is false").check()
    _submit(page, "Add question")
    assert page.get_by_role("heading", name="Questions (2)").is_visible()
    _clean(page)

    # The pathway: sequential, grants a certification; steps added in the wrong order, then reordered.
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Pathways").click()
    page.get_by_role("link", name="New pathway").click()
    page.get_by_label("Title").fill(PATHWAY)
    page.get_by_label("Outcome").select_option("certification")
    page.get_by_label("Order of steps").select_option("sequential")
    page.get_by_label("Completing it grants a certification").check()
    page.get_by_label("Certification valid for (days)").fill("365")
    _submit(page, "Create draft")
    page.get_by_role("link", name="Add assessment").click()
    page.get_by_label("Title").fill("Fire quiz")
    page.get_by_label("Assessment", exact=True).select_option(label="Fire quiz")
    _submit(page, "Add step")
    page.get_by_role("link", name="Add document or link").click()
    page.get_by_label("Title").fill("Read the fire policy")
    page.get_by_label("Document URL").fill(f"{live.url}/healthz")
    _submit(page, "Add step")

    # Keyboard reordering: focus "Move up" of the reading, press Enter, save.
    steps = page.locator("ol.steps > li h3")
    assert steps.all_inner_texts() == ["Fire quiz", "Read the fire policy"]
    page.get_by_role("button", name="Move “Read the fire policy” up").focus()
    page.keyboard.press("Enter")
    assert steps.all_inner_texts() == ["Read the fire policy", "Fire quiz"]
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == \
        "Move “Read the fire policy” up"
    expect(page.locator("#cairn-announcer")).to_contain_text("moved to position 1 of 2")
    _submit(page, "Save order")
    assert steps.all_inner_texts() == ["Read the fire policy", "Fire quiz"]
    _clean(page)

    # Publish with the dry run first.
    page.get_by_role("link", name="Review and publish").click()
    assert page.get_by_text("No learner's status or progress would change.").is_visible()
    _submit(page, "Publish now")
    assert page.locator("h1 .badge").inner_text() == "published"

    # The audience (by rule) and the assignment.
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Audiences").click()
    page.get_by_label("Name").fill(AUDIENCE)
    page.get_by_label("Rules").fill("department = Safety")
    _submit(page, "Add audience")
    members = page.get_by_role("region", name="Members now (1)")
    assert members.get_by_text("Lena Learner").is_visible() and \
        members.get_by_text("Otto Outsider").count() == 0
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Assignments").click()
    page.get_by_label("Pathway", exact=True).select_option(label=PATHWAY)
    page.get_by_label("An audience").check()
    page.get_by_label("Audience", exact=True).select_option(label=AUDIENCE)
    page.get_by_label("Mandatory (on their home page); otherwise offered in the catalogue").check()
    _submit(page, "Assign")
    assert page.get_by_role("cell", name=f"Audience: {AUDIENCE}").is_visible()
    _clean(page)
    assert problems == []


def _tab_to(page: Any, text: str, *, limit: int = 60) -> None:
    """Press Tab until the focused element's accessible text contains ``text`` (keyboard only)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => { const e = document.activeElement;
            return (e.getAttribute('aria-label') || e.innerText || e.value || '') + ' ' +
                (e.labels && e.labels[0] ? e.labels[0].innerText : ''); }""")
        if text in focused:
            return
    raise AssertionError(f"no focusable element with {text!r} reached by Tab")


def _press_enter_and_wait(page: Any) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_a_learner_of_the_audience_completes_the_pathway_with_the_keyboard_alone(live, people, page) -> None:
    problems = _watch(page)
    page.goto("/signin")
    _tab_to(page, "Email")
    page.keyboard.type(people["learner"])
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery")
    _press_enter_and_wait(page)

    # Home: the assigned pathway at 0%.
    assert page.get_by_role("heading", name="My learning").is_visible()
    card = page.locator(".card", has_text=PATHWAY)
    assert card.locator("progress").get_attribute("value") == "0"
    _clean(page)
    _tab_to(page, PATHWAY)
    _press_enter_and_wait(page)

    # The quiz is locked until the reading is done, and says why.
    assert page.get_by_text("Locked: finish “Read the fire policy” first.").is_visible()
    _tab_to(page, "Mark as read")
    _press_enter_and_wait(page)
    assert page.locator(".progress-summary progress").get_attribute("value") == "50"
    _clean(page)

    _tab_to(page, "Take the assessment")
    _press_enter_and_wait(page)
    _tab_to(page, "Start")
    _press_enter_and_wait(page)
    _clean(page)
    # Question 1: the first radio ("112") takes focus; Space chooses it.
    _tab_to(page, "112")
    page.keyboard.press("Space")
    # Question 2: Tab enters the next radio group on "True"; the arrow key moves the choice to "False".
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")
    assert page.get_by_label("False").is_checked() and page.get_by_label("112").is_checked()
    _tab_to(page, "Submit my answers")
    _press_enter_and_wait(page)
    assert page.get_by_role("heading", name="Fire quiz: passed").is_visible()
    assert "Your score: 100%" in page.locator("main [role=status]").inner_text()
    assert page.get_by_text("112 works everywhere in Europe.").is_visible()

    _tab_to(page, "Back to the pathway")
    _press_enter_and_wait(page)
    assert page.locator(".progress-summary progress").get_attribute("value") == "100"
    assert page.locator(".progress-summary .badge").inner_text() == "completed"

    # The certificate, with its verification code.
    _tab_to(page, "Certificates")
    _press_enter_and_wait(page)
    _tab_to(page, PATHWAY)
    _press_enter_and_wait(page)
    code = page.locator(".verification-code").inner_text()
    assert len(code) >= 6 and page.locator(".certificate .recipient").inner_text() == "Lena Learner"
    _clean(page)
    assert problems == []


def test_someone_outside_the_audience_does_not_get_the_pathway(live, people, page) -> None:
    sign_in(page, people["outsider"])
    assert page.get_by_text("Nothing is assigned to you yet.").is_visible()
    assert page.get_by_text(PATHWAY).count() == 0


def test_the_administrator_sees_the_learner_complete_on_the_dashboard_and_in_the_csv(
        live, people, page) -> None:
    problems = _watch(page)
    sign_in(page, people["admin"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Administration").click()
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    row = page.get_by_role("row", name=PATHWAY)
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "1" and cells[3] == "1" and cells[-1] == "100%", cells  # 1 learner, 1 completed
    chart = page.locator("svg.chart")
    assert chart.get_attribute("role") == "img" and chart.locator("polyline").count() == 2
    _clean(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Every learner's progress as CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    lena = [r for r in rows if r["email"] == people["learner"]]
    assert len(lena) == 1 and lena[0]["status"] == "completed" and lena[0]["percent"] == "100"
    assert lena[0]["pathway_title"] == PATHWAY
    assert problems == []
