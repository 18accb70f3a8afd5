"""Administration pages: assessment editor for every question type, organisation, reports, learner records."""
from __future__ import annotations

import csv
import io
import re

from pathways import assessments, services
from tests import factories
from tests.pagetools import assert_clean_page, post_form, sign_in


def _admin(client, db_session, email: str) -> None:
    factories.admin(db_session, email=email)
    db_session.commit()
    sign_in(client, email)


def test_the_assessment_editor_stores_every_question_type_as_typed(client, db_session) -> None:
    _admin(client, db_session, "editor@example.org")
    response = post_form(client, "/admin/assessments", "/admin/assessments",
                         {"title": "Everything", "pass_percent": "75", "attempt_limit": "3",
                          "time_limit_minutes": "10", "shuffle": "true"})
    assert response.status_code == 302
    assessment_id = int(re.search(r"/admin/assessments/(\d+)", response.headers["Location"]).group(1))
    url = f"/admin/assessments/{assessment_id}"
    forms = [
        {"interaction_type": "choice", "prompt": "Pick", "choices": "* Yes\nNo\n* Also yes"},
        {"interaction_type": "true-false", "prompt": "True?", "true_false": "false"},
        {"interaction_type": "fill-in", "prompt": "Capital?", "accepted": "Paris\nparis"},
        {"interaction_type": "numeric", "prompt": "How many?", "numeric_min": "3", "numeric_max": "5"},
        {"interaction_type": "matching", "prompt": "Match", "pairs": "Fire = Extinguisher\nFlood = Pump"},
        {"interaction_type": "sequencing", "prompt": "Order", "choices": "Stop\nLook\nGo"},
    ]
    for form in forms:
        assert post_form(client, url, url + "/questions", {"points": "1", **form}).status_code == 302
    stored = assessments.get_assessment(db_session, assessment_id)
    assert (stored.pass_mark, stored.attempt_limit, stored.time_limit_seconds, stored.shuffle) == \
        (0.75, 3, 600, True)
    by_prompt = {q.prompt: q for q in stored.questions}
    assert by_prompt["Pick"].correct == ["c1", "c3"]
    assert by_prompt["True?"].correct is False
    assert by_prompt["How many?"].correct == {"min": 3, "max": 5}
    assert by_prompt["Match"].correct == {"s1": "t1", "s2": "t2"}
    assert by_prompt["Order"].correct == ["c1", "c2", "c3"]
    page = client.get(url).get_data(as_text=True)
    assert_clean_page(page)
    # Editing shows what was typed, and saves it back unchanged.
    question_url = f"/admin/questions/{by_prompt['Match'].id}"
    edit = client.get(question_url).get_data(as_text=True)
    assert "Fire = Extinguisher" in edit
    assert post_form(client, question_url, question_url,
                     {"interaction_type": "matching", "prompt": "Match",
                      "pairs": "Fire = Pump\nFlood = Pump"}).status_code == 302
    db_session.expire_all()
    changed = next(q for q in assessments.get_assessment(db_session, assessment_id).questions
                   if q.prompt == "Match")
    assert changed.correct == {"s1": "t1", "s2": "t1"}


def test_a_choice_question_without_a_correct_answer_is_refused_beside_the_field(client, db_session) -> None:
    _admin(client, db_session, "editor2@example.org")
    quiz = assessments.create_assessment(db_session, title="Q")
    db_session.commit()
    url = f"/admin/assessments/{quiz.id}"
    response = post_form(client, url, url + "/questions",
                         {"interaction_type": "choice", "prompt": "Pick", "choices": "Yes\nNo"})
    assert response.status_code == 400 and 'id="choices-error"' in response.get_data(as_text=True)
    db_session.expire_all()
    assert assessments.get_assessment(db_session, quiz.id).questions == ()


def test_audiences_classes_and_assignments_are_managed_on_pages(client, db_session) -> None:
    _admin(client, db_session, "org@example.org")
    nurse = factories.user(db_session, email="nurse@example.org", name="Nina Nurse", role="learner", ward="A")
    pathway = services.create_pathway(db_session, title="Hygiene", outcome_kind="compliance")
    services.add_step(db_session, pathway.id, kind="document", title="Wash", document_url="https://d.example/w")
    services.publish_pathway(db_session, pathway.id)
    db_session.commit()
    response = post_form(client, "/admin/audiences", "/admin/audiences",
                         {"name": "Ward A", "rules": "ward = A\nrole in learner, administrator"})
    assert response.status_code == 302, response.get_data(as_text=True)
    [audience] = services.list_audiences(db_session)
    assert audience.rules == ({"attribute": "ward", "op": "equals", "value": "A"},
                              {"attribute": "role", "op": "in", "value": ["learner", "administrator"]})
    assert "Nina Nurse" in client.get(f"/admin/audiences/{audience.id}").get_data(as_text=True)
    response = post_form(client, "/admin/classes", "/admin/classes", {"title": "Cohort 7"})
    class_id = int(re.search(r"/admin/classes/(\d+)", response.headers["Location"]).group(1))
    class_url = f"/admin/classes/{class_id}"
    assert post_form(client, class_url, class_url + "/members",
                     {"user_id": nurse.id, "role": "learner"}).status_code == 302
    response = post_form(client, "/admin/assignments", "/admin/assignments", {
        "pathway_id": pathway.id, "target": "class", "class_id": class_id, "mandatory": "true",
        "due_on": "2031-03-01", "recurrence_months": "12", "reminder_days": "14, 7"})
    assert response.status_code == 302, response.get_data(as_text=True)
    [assignment] = services.list_assignments(db_session, class_id=class_id)
    assert assignment.due_at.isoformat().startswith("2031-03-01T23:59:59")
    assert (assignment.recurrence_months, assignment.reminder_days) == (12, (14, 7))
    for url in ("/admin/audiences", "/admin/classes", class_url, "/admin/assignments", "/admin/categories"):
        assert_clean_page(client.get(url).get_data(as_text=True))
    # A target must be chosen for the kind picked.
    bad = post_form(client, "/admin/assignments", "/admin/assignments",
                    {"pathway_id": pathway.id, "target": "audience"})
    assert bad.status_code == 400 and 'id="audience_id-error"' in bad.get_data(as_text=True)


def test_dashboard_reports_and_learner_records_show_progress_with_its_statements(
        app, client, db_session) -> None:
    _admin(client, db_session, "reports@example.org")
    learner = factories.user(db_session, email="rita@example.org", name="Rita Reader")
    pathway = services.create_pathway(db_session, title="Policies", outcome_kind="compliance")
    step = services.add_step(db_session, pathway.id, kind="document", title="Read it",
                             document_url="https://d.example/p")
    services.publish_pathway(db_session, pathway.id)
    services.assign_pathway(db_session, pathway.id, user_id=learner.id)
    from pathways import actions
    with app.app_context():  # the projection hears of the statement through the app's subscribers
        statement_id = actions.record_reading(db_session, learner.id, step.id)
    db_session.commit()
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert_clean_page(dashboard)
    assert "<svg" in dashboard and "Policies" in dashboard
    rows = list(csv.DictReader(io.StringIO(client.get("/admin/reports/summary.csv").get_data(as_text=True))))
    assert rows == [{"pathway_id": str(pathway.id), "pathway_title": "Policies", "learners": "1",
                     "not_started": "0", "in_progress": "0", "completed": "1", "overdue": "0", "expired": "0",
                     "completion_rate": "1.0"}]
    weekly = list(csv.DictReader(io.StringIO(
        client.get("/admin/reports/activity.csv").get_data(as_text=True))))
    assert len(weekly) == 12 and weekly[-1]["active_learners"] == "1" and weekly[-1]["completions"] == "1"
    records = client.get(f"/admin/learners/{learner.id}/pathways/{pathway.id}").get_data(as_text=True)
    assert_clean_page(records)
    assert f"/admin/lrs/statements/{statement_id}" in records  # the statement behind the step, one click away
    assert "Rita Reader" in client.get("/admin/learners?q=rita").get_data(as_text=True)
    learner_page = client.get(f"/admin/learners/{learner.id}").get_data(as_text=True)
    assert_clean_page(learner_page)
    assert statement_id in learner_page
    exported = client.get(f"/admin/learners/{learner.id}/history.json").get_json()
    assert [s["id"] for s in exported] == [statement_id]
    report = client.get("/admin/reports/progress?status=completed").get_data(as_text=True)
    assert_clean_page(report)
    assert "Rita Reader" in report


def test_an_instructor_marks_attendance_for_their_class_only_and_it_completes_the_step(
        client, db_session) -> None:
    teacher = factories.user(db_session, email="teacher@example.org", name="Tess Teacher")
    pupil = factories.user(db_session, email="pupil@example.org", name="Pia Pupil")
    other = factories.user(db_session, email="other@example.org", name="Oli Other")
    klass = services.create_class(db_session, title="Year 9")
    services.set_class_membership(db_session, klass.id, teacher.id, "instructor")
    services.set_class_membership(db_session, klass.id, pupil.id, "learner")
    pathway = services.create_pathway(db_session, title="Field trip", outcome_kind="training_attendance")
    step = services.add_step(db_session, pathway.id, kind="session", title="Museum visit",
                             session_capacity=30)
    services.publish_pathway(db_session, pathway.id)
    services.assign_pathway(db_session, pathway.id, class_id=klass.id)
    services.assign_pathway(db_session, pathway.id, user_id=other.id)
    db_session.commit()

    sign_in(client, "pupil@example.org")
    assert client.get(f"/admin/steps/{step.id}/attendance").status_code == 403
    client.delete_cookie("cairn_session")  # a fresh browser

    sign_in(client, "teacher@example.org")
    home = client.get("/portal/").get_data(as_text=True)
    assert "Classes you teach" in home and "Year 9" in home
    url = f"/admin/steps/{step.id}/attendance"
    sheet = client.get(url).get_data(as_text=True)
    assert_clean_page(sheet)
    assert "Pia Pupil" in sheet and "Oli Other" not in sheet
    response = post_form(client, url, url, {"learner_ids": [pupil.id, other.id],
                                            "attended": [pupil.id, other.id]})
    assert response.status_code == 302
    db_session.expire_all()
    assert services.learner_pathway(db_session, pupil.id, pathway.id).progress.status == "completed"
    assert services.learner_pathway(db_session, other.id, pathway.id).progress.status != "completed"
    # Unticking voids the attendance: the step is no longer done.
    response = post_form(client, url, url, {"learner_ids": [pupil.id]})
    db_session.expire_all()
    assert services.learner_pathway(db_session, pupil.id, pathway.id).progress.percent == 0


def test_an_instructor_sees_reports_and_records_of_their_classes_learners_only(client, db_session) -> None:
    teacher = factories.user(db_session, email="t2@example.org", name="Theo Teacher")
    mine = factories.user(db_session, email="mine@example.org", name="Mina Mine")
    theirs = factories.user(db_session, email="theirs@example.org", name="Thea Theirs")
    klass = services.create_class(db_session, title="Group B")
    services.set_class_membership(db_session, klass.id, teacher.id, "instructor")
    services.set_class_membership(db_session, klass.id, mine.id, "learner")
    pathway = services.create_pathway(db_session, title="Lab safety", outcome_kind="academic")
    services.add_step(db_session, pathway.id, kind="document", title="Rules", document_url="https://d.example/r")
    services.publish_pathway(db_session, pathway.id)
    services.assign_pathway(db_session, pathway.id, user_id=mine.id)
    services.assign_pathway(db_session, pathway.id, user_id=theirs.id)
    db_session.commit()
    sign_in(client, "t2@example.org")
    report = client.get("/admin/reports/progress").get_data(as_text=True)
    assert "Mina Mine" in report and "Thea Theirs" not in report
    assert_clean_page(report)
    rows = list(csv.DictReader(io.StringIO(client.get("/admin/reports/progress.csv").get_data(as_text=True))))
    assert [r["name"] for r in rows] == ["Mina Mine"]
    assert client.get(f"/admin/learners/{mine.id}").status_code == 200
    assert client.get(f"/admin/learners/{theirs.id}").status_code == 403
    assert "Thea" not in client.get("/admin/learners?q=the").get_data(as_text=True)
    assert client.get("/admin/pathways").status_code == 403  # building stays with administrators


def test_forms_with_values_the_database_cannot_hold_come_back_marked_not_as_500(client, db_session) -> None:
    _admin(client, db_session, "odd@example.org")
    audience = services.create_audience(db_session, name="Ward B")
    db_session.commit()
    url = f"/admin/audiences/{audience.id}"
    # Member ids that are no ids (a hand-made request): the form is shown again, as for any refusal.
    refused = post_form(client, url, url, {"name": "Ward B", "member_ids": ["7", "seven"]})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert '<p class="field-error" id="member_ids-error">Not a valid integer.</p>' in html
    assert 'aria-describedby="member_ids-hint member_ids-error" aria-invalid="true"' in html
    assert_clean_page(html)
    for data, field in (({"name": "Big", "position": "9" * 30}, "position"), ({"name": "Nu\x00l"}, "name")):
        response = post_form(client, "/admin/categories", "/admin/categories", data)
        html = response.get_data(as_text=True)
        assert response.status_code == 400, html
        assert f'id="{field}-error"' in html and 'aria-invalid="true"' in html
    assert services.list_categories(db_session) == []


def test_learner_search_finds_an_instructor_s_learners_past_a_hundred_others_and_says_when_it_stops(
        client, db_session, monkeypatch) -> None:
    """The search took the first hundred of everyone, then kept the instructor's: a class learner
    sorted after a hundred others was never found, and nothing said the list had stopped."""
    from cairn.accounts.models import User
    from pathways.admin import learners
    monkeypatch.setattr(learners, "SEARCH_LIMIT", 5)
    teacher = factories.user(db_session, email="t5@example.org", name="Tess Teacher")
    db_session.add_all(User(email=f"a{n}@example.org", name=f"Alex {n:02}", role="learner", attributes={})
                       for n in range(8))  # sorted before the class learner
    mine = factories.user(db_session, email="zed@example.org", name="Alex Zed")
    klass = services.create_class(db_session, title="Group C")
    services.set_class_membership(db_session, klass.id, teacher.id, "instructor")
    services.set_class_membership(db_session, klass.id, mine.id, "learner")
    factories.admin(db_session, email="boss5@example.org")
    db_session.commit()
    sign_in(client, "t5@example.org")
    page = client.get("/admin/learners?q=alex").get_data(as_text=True)
    assert "Alex Zed" in page and "Alex 00" not in page and "narrow it" not in page
    client.get("/signout")
    client.delete_cookie("cairn_session")
    sign_in(client, "boss5@example.org")
    everyone = client.get("/admin/learners?q=alex").get_data(as_text=True)
    assert "The first 5 of 9 people who match “alex”: add to the name or email to narrow it." in everyone
    assert "Alex 04" in everyone and "Alex 05" not in everyone
    assert_clean_page(everyone)


def test_people_pickers_past_their_limit_offer_a_search_and_keep_the_chosen(client, db_session,
                                                                           monkeypatch) -> None:
    """The class, audience and assignment forms offered a select of the first 1,000 people by name:
    the rest could not be picked at all, and nothing said so."""
    from cairn.accounts.models import User
    from pathways.admin import organisation
    monkeypatch.setattr(organisation, "PICKER_LIMIT", 3)
    _admin(client, db_session, "picker@example.org")
    db_session.add_all(User(email=f"b{n}@example.org", name=f"Bea {n}", role="learner", attributes={})
                       for n in range(4))
    zoe = factories.user(db_session, email="zoe@example.org", name="Zoe Last")
    klass = services.create_class(db_session, title="Group Z")
    audience = services.create_audience(db_session, name="Picked", member_ids=[zoe.id])
    db_session.commit()
    url = f"/admin/classes/{klass.id}"
    page = client.get(url).get_data(as_text=True)
    assert "Zoe Last" not in page  # past the first 3 by name (the administrator, Bea 0, Bea 1)
    assert "The lists below show the first 3 of 6 people, by name: search by name or email" in page
    assert_clean_page(page)
    found = client.get(url + "?people=zoe").get_data(as_text=True)
    assert f'<option value="{zoe.id}">Zoe Last (zoe@example.org)</option>' in found
    assert "The lists below show the 1 person who matches “zoe”." in found
    assert post_form(client, url + "?people=zoe", url + "/members",
                     {"user_id": zoe.id, "role": "learner"}).status_code == 302
    chosen = client.get(f"/admin/audiences/{audience.id}").get_data(as_text=True)
    assert f'<option value="{zoe.id}" selected>Zoe Last' in chosen  # a member stays chosen, listed or not
    kept = client.get("/admin/assignments?pathway_id=7").get_data(as_text=True)
    assert '<input type="hidden" name="pathway_id" value="7">' in kept  # the search keeps the page's filter
