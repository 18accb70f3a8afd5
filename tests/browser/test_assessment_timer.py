"""A timed assessment in Chromium: the countdown shows, warns, and submits the answers when time is up."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import live_session, make_user, sign_in


def test_the_timer_counts_down_and_submits_the_answers_at_zero(live, page) -> None:
    learner_id = make_user(live, email="timed@example.org", name="Tim Timed")
    with live_session(live) as session:
        from pathways import assessments, services
        quiz = assessments.create_assessment(session, title="Quick check", pass_mark=0.5,
                                             time_limit_seconds=12)
        assessments.add_question(session, quiz.id, interaction_type="true-false", prompt="Fire is hot.",
                                 correct=True)
        pathway = services.create_pathway(session, title="Timed", outcome_kind="training_attendance")
        step = services.add_step(session, pathway.id, kind="assessment", title="Quick check",
                                 assessment_id=quiz.id)
        services.publish_pathway(session, pathway.id)
        services.assign_pathway(session, pathway.id, user_id=learner_id)
        step_id = step.id
    sign_in(page, "timed@example.org")
    page.goto(f"/portal/steps/{step_id}/assessment")
    with page.expect_navigation():
        page.get_by_role("button", name="Start").click()
    timer = page.get_by_role("timer")
    expect(timer).to_have_text(__import__("re").compile(r"^0:(1[0-2]|0\d)$"))
    expect(timer).to_have_class(__import__("re").compile(r"\blow\b"))  # under a minute: the warning style
    expect(page.locator("#cairn-announcer")).to_contain_text("One minute left.")
    page.get_by_label("True").check()
    # Nobody presses Submit: at zero the page submits itself, and the answer given counts.
    expect(page.get_by_role("heading", name="Quick check: passed")).to_be_visible(timeout=20_000)
