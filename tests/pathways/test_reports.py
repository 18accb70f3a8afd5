"""Reports: statuses filtered in the database agree with each row's own status, and the compliance and
summary reports (and the learner home page) run a fixed number of queries, whatever the number of learners.
"""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import update

from pathways import reports, services
from pathways.catalogue import VERB_COMPLETED
from pathways.models import Assignment
from tests import factories
from tests.pathways.conftest import T0, make_pathway, xapi
from tests.pathways.test_api import Api
from tests.sql_seen import sql_sent


def _varied_world(db_session, store) -> dict:
    """Learners reached by every kind of assignment, some late, some done, some certified."""
    certifying = make_pathway(db_session, steps=1, title="Certified", outcome_kind="certification",
                              grants_certification=True, validity_days=365, recertification_window_days=30)
    plain = make_pathway(db_session, steps=2, title="Plain")
    late, soon = T0 - timedelta(days=3), T0 + timedelta(days=20)
    direct, both, ruled, classed, done = (factories.user(db_session, department="Sales") for _ in range(5))
    outsider = factories.user(db_session, department="Legal")
    audience = services.create_audience(db_session, name="Cohort", member_ids=[direct.id, both.id])
    by_rule = services.create_audience(db_session, name="Sales",
                                       rules=[{"attribute": "department", "op": "equals", "value": "sales"}])
    klass = services.create_class(db_session, title="Class A")
    for learner in (both, classed):
        services.set_class_membership(db_session, klass.id, learner.id, "learner")
    services.assign_pathway(db_session, plain.pathway.id, audience_id=audience.id, due_at=late)
    services.assign_pathway(db_session, plain.pathway.id, class_id=klass.id, due_at=soon)
    services.assign_pathway(db_session, certifying.pathway.id, user_id=done.id, due_at=late)
    services.assign_pathway(db_session, certifying.pathway.id, user_id=outsider.id, due_at=soon)
    relative = services.assign_pathway(db_session, certifying.pathway.id, audience_id=by_rule.id, due_days=10)
    # An optional assignment that is late counts for no one (nobody enrolled).
    services.assign_pathway(db_session, plain.pathway.id, user_id=outsider.id, mandatory=False, due_at=late)
    db_session.execute(update(Assignment).where(Assignment.id == relative.id)
                       .values(created_at=T0 - timedelta(days=5)))
    store(xapi(done.email, VERB_COMPLETED, certifying.steps[0].activity_iri, at=T0 - timedelta(days=1)))
    store(xapi(direct.email, "http://adlnet.gov/expapi/verbs/experienced", plain.steps[0].activity_iri))
    db_session.flush()
    return {"certifying": certifying, "plain": plain,
            "learners": [direct, both, ruled, classed, done, outsider]}


def test_status_filters_in_the_database_agree_with_each_rows_status(db_session, store) -> None:
    _varied_world(db_session, store)
    seen: Counter = Counter()
    # Before any due date, between them, after the relative one, and when the certification has expired.
    for now in (T0 - timedelta(days=10), T0, T0 + timedelta(days=6), T0 + timedelta(days=30),
                T0 + timedelta(days=350), T0 + timedelta(days=400)):
        every = reports.progress_report(db_session, now=now, limit=1000).rows
        assert len(every) == 9
        for status in reports.STATUSES:
            filtered = reports.progress_report(db_session, now=now, status=status, limit=1000).rows
            assert [r.id for r in filtered] == [r.id for r in every if r.status == status], (now, status)
            seen[status] += len(filtered)
        expected = Counter((r.pathway_id, r.status) for r in every)
        summary = reports.summary_report(db_session, now=now)
        assert {(row.pathway_id, s): n for row in summary for s, n in row.counts.items() if n} == expected
        assert all(row.learners == sum(row.counts.values()) for row in summary)
        expiring = reports.compliance_report(db_session, kind="expiring", within_days=30, now=now)
        assert [r.id for r in expiring] == [r.id for r in every if r.status == "completed" and r.expires_at
                                            and now < r.expires_at <= now + timedelta(days=30)]
    assert all(seen[s] for s in reports.STATUSES), seen  # the world covers every status


def test_compliance_pages_follow_the_cursor_without_gaps(db_session, store) -> None:
    _varied_world(db_session, store)
    now = T0 + timedelta(days=30)
    every = reports.compliance_report(db_session, kind="overdue", now=now)
    assert len(every) >= 3
    paged, cursor = [], None
    while True:
        page = reports.compliance_page(db_session, kind="overdue", now=now, cursor=cursor, limit=2)
        paged.extend(page.rows)
        if page.next_cursor is None:
            break
        assert page.next_cursor == page.rows[-1].id
        cursor = page.next_cursor
    assert [r.id for r in paged] == [r.id for r in every]


def _cohort(db_session, pathway_ids: list[int], audience_id: int, count: int) -> None:
    for _ in range(count):
        learner = factories.user(db_session)
        services.add_audience_member(db_session, audience_id, learner.id)
    db_session.flush()


def test_reports_run_as_many_queries_for_sixty_learners_as_for_five(client, db_session, connection) -> None:
    admin = factories.admin(db_session)
    pathways = [make_pathway(db_session, steps=1, title=f"Pathway {n}").pathway.id for n in range(2)]
    audience = services.create_audience(db_session, name="Everyone")
    services.assign_pathway(db_session, pathways[0], audience_id=audience.id, due_at=T0)  # overdue
    services.assign_pathway(db_session, pathways[1], audience_id=audience.id, due_days=400)
    _cohort(db_session, pathways, audience.id, 5)
    db_session.commit()
    api = Api(client, admin)
    pages = ["/api/reports/compliance?kind=overdue", "/api/reports/compliance?kind=expiring",
             "/api/reports/compliance?kind=overdue&format=csv", "/api/reports/summary",
             "/api/reports/progress?status=overdue", "/admin/", "/admin/reports/compliance.csv"]

    def queries() -> dict[str, int]:
        counts = {}
        for page in pages:
            with sql_sent(connection) as seen:
                response = api.get(page)
                response.get_data()
            assert response.status_code == 200, page
            counts[page] = len(seen)
        return counts

    few = queries()
    overdue = api.get("/api/reports/compliance?kind=overdue&limit=1000").get_json()["rows"]
    assert len(overdue) == 5
    _cohort(db_session, pathways, audience.id, 55)
    db_session.commit()
    assert len(api.get("/api/reports/compliance?kind=overdue&limit=1000").get_json()["rows"]) == 60
    assert queries() == few
    # The dashboard lists the first rows and says how many there are; its CSV has every one.
    dashboard = api.get("/admin/").get_data(as_text=True)
    assert "Overdue (60)" in dashboard and "The first 50 are listed here; the CSV has all 60." in dashboard
    assert dashboard.count('class="badge overdue"') == 50
    csv = api.get("/admin/reports/compliance.csv?kind=overdue").get_data(as_text=True)
    assert len(csv.strip().splitlines()) == 61


def test_the_learner_home_page_runs_as_many_queries_for_many_pathways_as_for_one(client, db_session, store,
                                                                                connection) -> None:
    learner = factories.user(db_session)
    audience = services.create_audience(db_session, name="Mine", member_ids=[learner.id])

    def certified_pathway(n: int) -> None:
        detail = make_pathway(db_session, steps=2, title=f"Certified {n}", outcome_kind="certification",
                              grants_certification=True, validity_days=365)
        services.assign_pathway(db_session, detail.pathway.id, audience_id=audience.id, due_days=30)
        for step in detail.steps:
            store(xapi(learner.email, VERB_COMPLETED, step.activity_iri))
        db_session.commit()

    def home_queries() -> int:
        with sql_sent(connection) as seen:
            response = client.get("/portal/")
            assert response.status_code == 200
        return len([q for q, _ in seen if "web_sessions" not in q])  # the session's own bookkeeping aside

    with client.session_transaction() as web_session:
        web_session["user_id"] = learner.id
    certified_pathway(0)
    client.get("/portal/")  # the first request after signing in also writes the session
    one = home_queries()
    for n in range(1, 5):
        certified_pathway(n)
    assert len(services.learner_certifications(db_session, learner.id)) == 5
    assert home_queries() == one


def test_a_scope_past_the_parameters_a_statement_takes_reports_as_its_learners_do(
        db_session, store, few_sqlite_parameters) -> None:
    """An instructor's scope of tens of thousands of learners is one parameter (``cairn.db.in_values``)."""
    world = _varied_world(db_session, store)
    mine = [u.id for u in world["learners"]]
    many = [*range(10**6, 10**6 + few_sqlite_parameters + 1), *mine]

    def rows(learners: list[int], status: str | None = None) -> tuple:
        return reports.progress_report(db_session, now=T0, status=status, learner_ids=learners,
                                       limit=1000).rows

    assert rows(many) == rows(mine) and rows(mine)  # not vacuous
    assert rows(many, "overdue") == rows(mine, "overdue") and rows(mine, "overdue")
    certified = reports.certifications_report(db_session, learner_ids=mine)
    assert reports.certifications_report(db_session, learner_ids=many) == certified and certified
    assert reports.progress_report(db_session, now=T0, learner_ids=[], limit=1000).rows == ()
