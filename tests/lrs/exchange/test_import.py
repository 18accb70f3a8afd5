"""Import: JSON or JSON-lines, validated like any statement, idempotent on ids, with the reasons for
rejects."""
from __future__ import annotations

import io
import json

from lrs.exchange.importer import import_statements, read_items
from lrs.services import get_statement
from tests import factories
from tests.lrs.forwarding.helpers import AUTHORITY, statement, voiding
from tests.pagetools import post_form, sign_in

OTHER_AUTHORITY = {"objectType": "Agent", "account": {"homePage": "https://other-lrs.example", "name": "src"}}


def jsonl(*statements: dict) -> bytes:
    return b"".join(json.dumps(s).encode() + b"\n" for s in statements)


def run(session, data: bytes, **kwargs):
    return import_statements(session, read_items(io.BytesIO(data)), authority=AUTHORITY, **kwargs)


def test_json_lines_import_stores_each_statement_keeping_its_id_and_authority(db_session) -> None:
    first, second = statement(authority=OTHER_AUTHORITY), statement()
    summary = run(db_session, jsonl(first, second))
    assert (summary.read, summary.stored, summary.already_present, summary.rejected) == (2, 2, 0, [])
    assert get_statement(db_session, first["id"]).statement["authority"] == OTHER_AUTHORITY
    assert get_statement(db_session, second["id"]).statement["authority"] == AUTHORITY


def test_a_json_array_or_a_single_object_is_accepted_too(db_session) -> None:
    array = [statement(), statement()]
    assert run(db_session, b"  \n" + json.dumps(array).encode()).stored == 2
    single = statement()
    assert run(db_session, json.dumps(single).encode()).stored == 1
    assert get_statement(db_session, single["id"]) is not None


def test_importing_the_same_file_twice_stores_nothing_the_second_time(db_session) -> None:
    data = jsonl(statement(), statement(), statement())
    assert run(db_session, data).stored == 3
    again = run(db_session, data)
    assert (again.stored, again.already_present, again.rejected) == (0, 3, [])


def test_invalid_statements_are_rejected_with_their_line_and_reason_and_the_rest_kept(db_session) -> None:
    good, also_good = statement(), statement()
    no_verb = statement()
    del no_verb["verb"]
    data = jsonl(good) + b"{not json\n" + jsonl(no_verb) + b"\n" + jsonl(also_good) + b"[1]\n"
    summary = run(db_session, data, batch_size=10)
    assert summary.stored == 2 and summary.read == 5
    assert [(r.position, r.statement_id) for r in summary.rejected] == [(2, None), (3, no_verb["id"]),
                                                                         (6, None)]
    assert "not valid JSON" in summary.rejected[0].reason
    assert "verb" in summary.rejected[1].reason
    assert "JSON object" in summary.rejected[2].reason
    assert get_statement(db_session, good["id"]) and get_statement(db_session, also_good["id"])


def test_a_different_statement_under_a_stored_id_is_rejected_as_a_conflict(db_session) -> None:
    original = statement()
    run(db_session, jsonl(original))
    changed = {**original, "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}}
    summary = run(db_session, jsonl(changed))
    assert summary.stored == 0 and "different statement" in summary.rejected[0].reason


def test_voiding_statements_in_the_file_void_their_targets(db_session) -> None:
    target = statement()
    void = voiding(target["id"])
    assert run(db_session, jsonl(target, void)).stored == 2
    assert get_statement(db_session, target["id"]) is None
    assert get_statement(db_session, target["id"], voided=True) is not None


def test_statements_import_command_shows_progress_and_a_summary_of_rejects(app, db_session, tmp_path) -> None:
    bad = statement()
    bad["actor"] = {"mbox": "not-a-mailto"}
    path = tmp_path / "in.jsonl"
    path.write_bytes(jsonl(statement(), bad, statement()))
    result = app.test_cli_runner().invoke(args=["statements", "import", str(path)])
    assert result.exit_code == 1
    assert "read 3, stored 2, already present 0, rejected 1" in result.output
    assert f"rejected #2 {bad['id']}: " in result.output and "mbox" in result.output
    assert "importing" in result.output  # the progress bar's label
    again = app.test_cli_runner().invoke(args=["statements", "import", str(path)])
    assert "stored 0, already present 2, rejected 1" in again.output


def test_the_admin_import_page_shows_what_was_stored_and_what_was_rejected(client, db_session) -> None:
    factories.admin(db_session, email="root-import@example.org")
    db_session.commit()
    sign_in(client, "root-import@example.org")
    good = statement()
    data = {"file": (io.BytesIO(jsonl(good) + b"oops\n"), "records.jsonl")}
    response = post_form(client, "/admin/lrs/import", "/admin/lrs/import", data,
                         content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "stored: 1" in html and "rejected: 1" in html and "not valid JSON" in html
    assert get_statement(db_session, good["id"]) is not None
    missing = post_form(client, "/admin/lrs/import", "/admin/lrs/import", {},
                        content_type="multipart/form-data")
    assert missing.status_code == 400
