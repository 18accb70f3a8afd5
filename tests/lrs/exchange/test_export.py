"""Export: xAPI JSON-lines and CSV, filtered by learner, activity and registration, in constant memory."""
from __future__ import annotations

import csv
import io
import json
import tracemalloc

from cairn.accounts.services import Identity, add_identity
from lrs.exchange.export import CSV_COLUMNS, csv_lines, export_lines, iter_export, jsonl_lines
from lrs.exchange.selection import build_selection
from lrs.forwarding.filters import StatementFilter
from tests import factories
from tests.lrs.forwarding.helpers import EXPERIENCED, statement, store, voiding
from tests.pagetools import sign_in

REGISTRATION = "0e3a1f7c-1d0b-4b6e-8f43-2a4c6c3a9b21"


def test_jsonl_export_has_every_statement_exactly_as_stored_in_stored_order(db_session) -> None:
    stored = store(db_session, statement(), statement(verb=EXPERIENCED), statement())
    lines = list(jsonl_lines(iter_export(db_session, StatementFilter())))
    assert [json.loads(line) for line in lines] == [s.statement for s in stored]
    assert all(line.endswith("\n") and "\n" not in line[:-1] for line in lines)


def test_a_learner_export_covers_all_their_identities_and_the_voids_of_their_statements(db_session) -> None:
    ann = factories.user(db_session, email="ann-export@example.org")
    account = {"homePage": "https://lms.example.org", "name": "ann-42"}
    add_identity(db_session, ann, Identity.from_agent({"account": account}))
    by_mail, other, by_account = store(
        db_session, statement(email="ann-export@example.org"), statement(email="bob@example.org"),
        statement(actor={"objectType": "Agent", "account": account}))
    [void] = store(db_session, voiding(by_mail.id))
    selection = build_selection(db_session, learners=["Ann-Export@example.org"])
    assert [s.id for s in iter_export(db_session, selection)] == [by_mail.id, by_account.id, void.id]


def test_activity_and_registration_filters_select_a_course_or_a_single_attempt(db_session) -> None:
    course = "http://example.org/course/1"
    in_course, elsewhere, attempt = store(
        db_session, statement(activity=course), statement(activity="http://example.org/course/2"),
        statement(activity="http://example.org/lesson",
                  context={"registration": REGISTRATION, "contextActivities": {"parent": [{"id": course}]}}))
    by_course = build_selection(db_session, activities=[course])
    assert [s.id for s in iter_export(db_session, by_course)] == [in_course.id, attempt.id]
    by_registration = build_selection(db_session, registrations=[REGISTRATION])
    assert [s.id for s in iter_export(db_session, by_registration)] == [attempt.id]


def test_csv_export_has_a_header_and_one_flat_row_per_statement(db_session) -> None:
    [stored] = store(db_session, statement(email="carl@example.org", result={
        "success": True, "completion": True, "score": {"scaled": 0.75, "raw": 15}, "duration": "PT5M"},
        context={"registration": REGISTRATION}))
    rows = list(csv.DictReader(io.StringIO("".join(csv_lines(iter_export(db_session, StatementFilter()))))))
    assert list(rows[0].keys()) == list(CSV_COLUMNS)
    assert rows[0] == {
        "id": stored.id, "timestamp": "2026-11-28T10:00:00.000Z", "stored": stored.statement["stored"],
        "actor_name": "carl", "actor": "mailto:carl@example.org",
        "verb": "http://adlnet.gov/expapi/verbs/completed", "verb_display": "completed",
        "object_type": "Activity", "object": "http://example.org/activities/a", "object_name": "a",
        "result_success": "true", "result_completion": "true", "result_score_scaled": "0.75",
        "result_score_raw": "15", "result_duration": "PT5M", "registration": REGISTRATION, "voided": "false"}


def test_export_memory_does_not_grow_with_the_number_of_statements(db_session) -> None:
    def peak_for(count: int) -> int:
        for _ in range(count // 500):
            store(db_session, *[statement() for _ in range(500)])
        db_session.commit()
        db_session.expunge_all()
        tracemalloc.start()
        written = sum(len(chunk) for chunk in export_lines(db_session, StatementFilter(), "jsonl",
                                                           between_chunks=db_session.commit))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert written > 0
        return peak

    small = peak_for(2000)  # two chunks of 1000
    large = peak_for(6000)  # the store now holds 8000 statements: four times as many
    assert large < small * 1.25, (small, large)


def test_statements_export_command_writes_jsonl_or_csv(app, db_session, tmp_path) -> None:
    stored = store(db_session, statement(), statement())
    db_session.commit()
    runner = app.test_cli_runner()
    out = tmp_path / "all.jsonl"
    result = runner.invoke(args=["statements", "export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [s.id for s in stored]
    result = runner.invoke(args=["statements", "export", "--format", "csv"])
    assert result.output.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert len(result.output.splitlines()) == 3
    missing = runner.invoke(args=["statements", "export", "--learner", "nobody@example.org"])
    assert missing.exit_code != 0 and "no learner" in missing.output


def test_the_admin_download_streams_the_filtered_export(client, db_session) -> None:
    factories.admin(db_session, email="root-export@example.org")
    mine, _other = store(db_session, statement(activity="http://example.org/x"), statement())
    db_session.commit()
    assert client.get("/admin/lrs/export/download").status_code == 302
    sign_in(client, "root-export@example.org")
    assert client.get("/admin/lrs/export").status_code == 200
    response = client.get("/admin/lrs/export/download?format=jsonl&activity=http://example.org/x")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Disposition"] == 'attachment; filename="statements.jsonl"'
    assert [json.loads(line)["id"] for line in response.get_data(as_text=True).splitlines()] == [mine.id]
    csv_response = client.get("/admin/lrs/export/download?format=csv")
    assert csv_response.mimetype == "text/csv" and len(csv_response.get_data(as_text=True).splitlines()) == 3
    assert client.get("/admin/lrs/export/download?format=xml").status_code == 400
