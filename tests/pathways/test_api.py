"""The pathways JSON API: access rules, input checking, atomicity, CSV, OpenAPI (issue 6: access, reports)."""
from __future__ import annotations

import csv
import io

import pytest

from pathways import services
from pathways.catalogue import VERB_COMPLETED
from pathways.models import Pathway
from tests import factories
from tests.pathways.conftest import make_pathway, xapi


class Api:
    """A signed-in JSON client: session cookie plus the CSRF header, like the portal's scripts."""

    def __init__(self, client, user=None):
        self.client = client
        if user is not None:
            with client.session_transaction() as web_session:
                web_session["user_id"] = user.id
        self.token = client.get("/api/session").get_json()["csrf_token"]

    def __getattr__(self, method):
        def call(path, json=None, **kwargs):
            headers = {"X-CSRFToken": self.token} if method != "get" else {}
            return getattr(self.client, method)(path, json=json, headers=headers, **kwargs)
        return call


@pytest.fixture()
def people(db_session):
    admin = factories.admin(db_session)
    teacher, learner, outsider = (factories.user(db_session), factories.user(db_session),
                                  factories.user(db_session))
    klass = services.create_class(db_session, title="Biology")
    services.set_class_membership(db_session, klass.id, teacher.id, "instructor")
    services.set_class_membership(db_session, klass.id, learner.id, "learner")
    detail = make_pathway(db_session, steps=2)
    services.assign_pathway(db_session, detail.pathway.id, class_id=klass.id)
    services.assign_pathway(db_session, detail.pathway.id, user_id=outsider.id)
    db_session.commit()
    return {"admin": admin, "teacher": teacher, "learner": learner, "outsider": outsider, "class": klass,
            "pathway": detail}


def test_not_signed_in_is_401_and_writes_need_csrf(client, people) -> None:
    assert client.get("/api/me/pathways").status_code == 401
    api = Api(client, people["admin"])
    refused = client.post("/api/categories", json={"name": "No token"})
    assert refused.status_code == 400 and refused.get_json()["error"] == "csrf_failed"
    assert api.post("/api/categories", json={"name": "With token"}).status_code == 201


def test_administrators_build_and_learners_cannot(client, people) -> None:
    learner = Api(client, people["learner"])
    assert learner.post("/api/pathways",
                        json={"title": "Mine", "outcome_kind": "onboarding"}).status_code == 403
    admin = Api(client, people["admin"])
    created = admin.post("/api/pathways", json={"title": "Onboarding", "outcome_kind": "onboarding"})
    assert created.status_code == 201 and created.get_json()["status"] == "draft"
    pathway_id = created.get_json()["id"]
    step = admin.post(f"/api/pathways/{pathway_id}/steps", json={"kind": "document", "title": "Handbook",
                                                                 "document_url": "https://intranet.example/h.pdf"})
    assert step.status_code == 201
    assert admin.post(f"/api/pathways/{pathway_id}/publish").get_json()["status"] == "published"
    edited = admin.patch(f"/api/pathways/{pathway_id}", json={"title": "Onboarding 2"}).get_json()
    assert edited["version"] == 2 and edited["id"] != pathway_id
    assert admin.get(f"/api/pathways/{edited['id']}/publish-dry-run").status_code == 200


def test_bad_input_is_400_naming_the_field(client, people) -> None:
    admin = Api(client, people["admin"])
    response = admin.post("/api/pathways", json={"title": "X", "outcome_kind": "party"})
    assert response.status_code == 400 and "outcome_kind" in response.get_json()["fields"]
    response = admin.post("/api/pathways", json={"title": "X", "outcome_kind": "onboarding", "colour": "red"})
    assert response.status_code == 400 and "colour" in response.get_json()["fields"]
    response = admin.post("/api/assignments", json={"pathway_id": people["pathway"].pathway.id})
    assert response.status_code == 400 and "target" in response.get_json()["fields"]
    assert admin.post("/api/categories", data="not json", content_type="application/json").status_code == 400


def test_a_domain_rule_is_422_naming_the_field_and_nothing_is_saved(client, db_session, people) -> None:
    admin = Api(client, people["admin"])
    before = db_session.query(Pathway).count()
    response = admin.post("/api/pathways", json={"title": "Cert", "outcome_kind": "certification",
                                                 "validity_days": 10, "recertification_window_days": 20})
    assert response.status_code == 422
    assert response.get_json()["fields"] == \
        {"recertification_window_days": ["must be shorter than the validity period"]}
    pathway_id = people["pathway"].pathway.id
    # The step would be added to a new draft version: the refused request must not leave that draft behind.
    response = admin.post(f"/api/pathways/{pathway_id}/steps", json={"kind": "cmi5", "title": "AU",
                                                                      "launch_url": "https://c.example/au"})
    assert response.status_code == 422 and "move_on" in response.get_json()["fields"]
    db_session.expire_all()
    assert db_session.query(Pathway).count() == before


def test_learners_see_only_their_own_records(client, people) -> None:
    api = Api(client, people["learner"])
    mine = api.get("/api/me/pathways").get_json()
    assert [p["pathway"]["id"] for p in mine] == [people["pathway"].pathway.id]
    assert api.get(f"/api/learners/{people['learner'].id}/pathways").status_code == 200
    assert api.get(f"/api/learners/{people['outsider'].id}/pathways").status_code == 403
    assert api.get("/api/reports/progress").status_code == 403


def test_instructors_see_the_learners_of_the_classes_they_teach(client, people) -> None:
    api = Api(client, people["teacher"])
    assert api.get(f"/api/learners/{people['learner'].id}/pathways").status_code == 200
    assert api.get(f"/api/learners/{people['outsider'].id}/pathways").status_code == 403
    rows = api.get("/api/reports/progress").get_json()["rows"]
    assert {r["user_id"] for r in rows} == {people["learner"].id}
    assert [c["id"] for c in api.get("/api/classes").get_json()] == [people["class"].id]
    assert api.get(f"/api/classes/{people['class'].id}/members").status_code == 200
    # Rosters come from LTI or administrators: an instructor cannot enrol people by hand.
    assert api.put(f"/api/classes/{people['class'].id}/members/{people['outsider'].id}",
                   json={"role": "learner"}).status_code == 403


def test_administrators_see_everyone_in_reports_with_paging_and_filters(client, people) -> None:
    api = Api(client, people["admin"])
    first = api.get("/api/reports/progress?limit=1").get_json()
    assert len(first["rows"]) == 1 and first["next_cursor"] is not None
    second = api.get(f"/api/reports/progress?limit=1&cursor={first['next_cursor']}").get_json()
    assert len(second["rows"]) == 1 and second["next_cursor"] is None
    assert {first["rows"][0]["user_id"], second["rows"][0]["user_id"]} == {people["learner"].id,
                                                                           people["outsider"].id}
    by_class = api.get(f"/api/reports/progress?class_id={people['class'].id}").get_json()["rows"]
    assert [r["user_id"] for r in by_class] == [people["learner"].id]
    assert api.get("/api/reports/progress?status=finished").status_code == 400


def test_progress_report_as_csv(client, db_session, store, people) -> None:
    store(xapi(people["learner"].email, VERB_COMPLETED, people["pathway"].steps[0].activity_iri))
    db_session.commit()
    api = Api(client, people["admin"])
    response = api.get("/api/reports/progress?format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    learner_row = next(r for r in rows if r["user_id"] == str(people["learner"].id))
    assert learner_row["status"] == "in_progress" and learner_row["percent"] == "50"
    summary = api.get("/api/reports/summary").get_json()
    assert summary["rows"][0]["learners"] == 2 and summary["rows"][0]["counts"]["in_progress"] == 1
    assert summary["next_cursor"] is None
    assert api.get("/api/reports/compliance?kind=expiring&within_days=30").status_code == 200


def test_learner_history_as_json_csv_and_xapi(client, db_session, store, people) -> None:
    [stored] = store(xapi(people["learner"].email, VERB_COMPLETED, people["pathway"].steps[0].activity_iri))
    db_session.commit()
    api = Api(client, people["learner"])
    page = api.get(f"/api/learners/{people['learner'].id}/history").get_json()
    assert [e["statement_id"] for e in page["entries"]] == [stored.id]
    exported = api.get(f"/api/learners/{people['learner'].id}/history?format=xapi").get_json()
    assert [s["id"] for s in exported] == [stored.id] and exported[0]["verb"]["id"] == VERB_COMPLETED
    text = api.get(f"/api/learners/{people['learner'].id}/history?format=csv").get_data(as_text=True)
    assert stored.id in text and text.splitlines()[0].startswith("statement_id,")


def test_reading_a_document_through_the_api_completes_the_step(client, db_session, people) -> None:
    pathway = services.create_pathway(db_session, title="Policy", outcome_kind="compliance")
    step = services.add_step(db_session, pathway.id, kind="document", title="Read",
                             document_url="https://intranet.example/p.pdf")
    services.publish_pathway(db_session, pathway.id)
    services.assign_pathway(db_session, pathway.id, user_id=people["learner"].id)
    db_session.commit()
    api = Api(client, people["learner"])
    assert api.post(f"/api/me/steps/{step.id}/read").status_code == 201
    detail = api.get(f"/api/me/pathways/{pathway.id}").get_json()
    assert detail["progress"]["status"] == "completed" and detail["steps"][0]["state"] == "done"
    assert detail["steps"][0]["evidence"]["state"]


def test_attendance_is_marked_by_the_instructor_only(client, db_session, people) -> None:
    pathway = services.create_pathway(db_session, title="Workshop", outcome_kind="training_attendance")
    step = services.add_step(db_session, pathway.id, kind="session", title="Day 1", session_capacity=1)
    services.publish_pathway(db_session, pathway.id)
    services.assign_pathway(db_session, pathway.id, class_id=people["class"].id)
    db_session.commit()
    learner = Api(client, people["learner"])
    assert learner.put(f"/api/steps/{step.id}/attendance/{people['learner'].id}",
                       json={"attended": True}).status_code == 403
    teacher = Api(client, people["teacher"])
    marked = teacher.put(f"/api/steps/{step.id}/attendance/{people['learner'].id}", json={"attended": True})
    assert marked.status_code == 200 and marked.get_json()["statement_id"]
    sheet = teacher.get(f"/api/steps/{step.id}/attendance").get_json()
    assert sheet == [{"user_id": people["learner"].id, "name": people["learner"].name, "attended": True,
                      "statement_id": marked.get_json()["statement_id"]}]
    assert services.learner_pathway(db_session, people["learner"].id,
                                    pathway.id).progress.status == "completed"
    teacher.put(f"/api/steps/{step.id}/attendance/{people['learner'].id}", json={"attended": False})
    db_session.expire_all()
    assert services.learner_pathway(db_session, people["learner"].id,
                                    pathway.id).progress.status == "not_started"


def test_session_capacity_is_enforced(client, db_session, people) -> None:
    pathway = services.create_pathway(db_session, title="Small", outcome_kind="training_attendance")
    step = services.add_step(db_session, pathway.id, kind="session", title="Only one", session_capacity=1)
    services.publish_pathway(db_session, pathway.id)
    db_session.commit()
    admin = Api(client, people["admin"])
    assert admin.put(f"/api/steps/{step.id}/attendance/{people['learner'].id}",
                     json={"attended": True}).status_code == 200
    full = admin.put(f"/api/steps/{step.id}/attendance/{people['outsider'].id}", json={"attended": True})
    assert full.status_code == 409


def test_self_enrolment_through_the_catalogue(client, db_session, people) -> None:
    optional = make_pathway(db_session, title="Optional extra")
    audience = services.create_audience(db_session, name="Everyone", member_ids=[people["learner"].id])
    services.assign_pathway(db_session, optional.pathway.id, audience_id=audience.id, mandatory=False)
    db_session.commit()
    api = Api(client, people["learner"])
    assert [p["id"] for p in api.get("/api/me/catalogue").get_json()] == [optional.pathway.id]
    assert api.post("/api/me/enrolments", json={"pathway_id": optional.pathway.id}).status_code == 201
    assert api.get("/api/me/catalogue").get_json() == []


def test_openapi_document_describes_every_endpoint(client, app) -> None:
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    api_rules = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("pathways_api.")}
    import re
    documented = {re.sub(r"\{(\w+)\}", r"<\1>", p) for p in document["paths"]}
    assert {re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", r) for r in api_rules} == documented
    create = document["paths"]["/api/pathways"]["post"]
    assert "422" in create["responses"] and "requestBody" in create
    schema_name = create["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "outcome_kind" in document["components"]["schemas"][schema_name]["properties"]


def test_attempts_through_the_api_hide_answers_and_grade(client, db_session, people) -> None:
    from pathways import assessments
    bank = assessments.create_assessment(db_session, title="Quiz", pass_mark=0.5)
    question = assessments.add_question(db_session, bank.id, interaction_type="true-false",
                                        prompt="Sky is blue", correct=True)
    db_session.commit()
    api = Api(client, people["learner"])
    attempt = api.post(f"/api/assessments/{bank.id}/attempts", json={})
    assert attempt.status_code == 201 and "correct" not in attempt.get_json()["questions"][0]
    result = api.post(f"/api/attempts/{attempt.get_json()['id']}/submit",
                      json={"answers": {str(question.id): True}})
    assert result.status_code == 200 and result.get_json()["passed"] is True
    bad = api.post(f"/api/attempts/{attempt.get_json()['id']}/submit", json={"answers": {"first": True}})
    assert bad.status_code in (400, 404, 409)


def test_instructors_assign_pathways_to_their_classes_only(client, db_session, people) -> None:
    other_class = services.create_class(db_session, title="Chemistry")
    db_session.commit()
    api = Api(client, people["teacher"])
    pathway_id = people["pathway"].pathway.id
    mine = api.post("/api/assignments", json={"pathway_id": pathway_id, "class_id": people["class"].id,
                                              "mandatory": False})
    assert mine.status_code == 201
    assert api.post("/api/assignments", json={"pathway_id": pathway_id,
                                              "class_id": other_class.id}).status_code == 403
    assert api.post("/api/assignments", json={"pathway_id": pathway_id,
                                              "user_id": people["learner"].id}).status_code == 403


def test_compliance_report_is_paginated_by_cursor_and_exports_every_row_as_csv(
        client, db_session, people) -> None:
    from datetime import timedelta

    from cairn.db import utcnow
    pathway = services.create_pathway(db_session, title="Fire safety", outcome_kind="compliance")
    services.add_step(db_session, pathway.id, kind="document", title="Read",
                      document_url="https://intranet.example/fire.pdf")
    services.publish_pathway(db_session, pathway.id)
    for learner in (people["learner"], people["outsider"]):
        services.assign_pathway(db_session, pathway.id, user_id=learner.id,
                                due_at=utcnow() - timedelta(days=3))
    db_session.commit()
    api = Api(client, people["admin"])
    first = api.get(f"/api/reports/compliance?kind=overdue&pathway_id={pathway.id}&limit=1").get_json()
    assert len(first["rows"]) == 1 and first["next_cursor"] is not None
    second = api.get(f"/api/reports/compliance?kind=overdue&pathway_id={pathway.id}&limit=1"
                     f"&cursor={first['next_cursor']}").get_json()
    assert len(second["rows"]) == 1 and second["next_cursor"] is None
    assert {first["rows"][0]["user_id"], second["rows"][0]["user_id"]} == {people["learner"].id,
                                                                           people["outsider"].id}
    assert all(r["status"] == "overdue" for r in first["rows"] + second["rows"])
    text = api.get(f"/api/reports/compliance?kind=overdue&pathway_id={pathway.id}&format=csv") \
        .get_data(as_text=True)
    assert len(text.strip().splitlines()) == 3  # header and both learners, whatever the page size
    assert api.get("/api/reports/compliance?limit=0").status_code == 400


def test_summary_report_is_paginated_by_pathway(client, db_session, people) -> None:
    for title in ("Second", "Third"):
        pathway = services.create_pathway(db_session, title=title, outcome_kind="onboarding")
        services.add_step(db_session, pathway.id, kind="document", title="Read",
                          document_url="https://intranet.example/x.pdf")
        services.publish_pathway(db_session, pathway.id)
        services.assign_pathway(db_session, pathway.id, user_id=people["learner"].id)
    db_session.commit()
    api = Api(client, people["admin"])
    seen, cursor = [], None
    while True:
        page = api.get("/api/reports/summary?limit=1" + (f"&cursor={cursor}" if cursor else "")).get_json()
        assert len(page["rows"]) == 1
        seen.append(page["rows"][0]["pathway_id"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 3 and seen == sorted(seen)


def test_values_the_database_cannot_hold_are_400_naming_the_field_and_nothing_changes(
        client, db_session, people) -> None:
    """A number past the columns' INTEGER, U+0000 (PostgreSQL's text refuses it) and an assessment
    that does not exist reached the database and came back as 500."""
    admin = Api(client, people["admin"])
    too_big = admin.post("/api/categories", json={"name": "Big", "position": 10**30})
    assert too_big.status_code == 400
    bound = "must be a whole number from -2147483648 to 2147483647"
    assert too_big.get_json()["fields"] == {"position": [bound]}
    nul = admin.post("/api/categories", json={"name": "Nu\u0000l"})
    assert nul.status_code == 400
    assert nul.get_json()["fields"]["name"] == ["must not contain the character U+0000"]
    step_id = people["pathway"].steps[0].id
    draft = admin.patch(f"/api/steps/{step_id}", json={"title": "Draft title"}).get_json()
    missing = admin.patch(f"/api/steps/{draft['id']}", json={"assessment_id": 999_999})
    assert missing.status_code == 422
    assert missing.get_json()["fields"] == {"assessment_id": ["no assessment 999999"]}
    assert admin.patch(f"/api/steps/{draft['id']}", json={"title": "T\u0000"}).status_code == 400
    db_session.expire_all()
    assert [c.name for c in services.list_categories(db_session)] == []
    assert services.get_step(db_session, draft["id"]).title == "Draft title"
