"""``cairn forward`` and the forwarding admin page."""
from __future__ import annotations

import json

from lrs.forwarding.delivery import DeliveryPolicy, deliver_once
from lrs.forwarding.models import ForwardingTarget
from tests import factories
from tests.lrs.forwarding.helpers import COMPLETED, statement, store
from tests.pagetools import assert_clean_page, post_form, sign_in


def test_forward_add_list_and_remove_from_the_command_line(app, db_session, remote) -> None:
    runner = app.test_cli_runner()
    added = runner.invoke(args=["forward", "add", "--endpoint", remote.endpoint, "--key", "K",
                                "--secret", "S", "--verb", COMPLETED, "--actor", "ann@example.org",
                                "--name", "Records office"])
    assert added.exit_code == 0, added.output
    listed = json.loads(runner.invoke(args=["forward", "list", "--json"]).output)
    assert [(t["name"], t["verbs"], t["actors"]) for t in listed] == [
        ("Records office", [COMPLETED], [{"mbox": "mailto:ann@example.org"}])]
    assert "backlog 0" in runner.invoke(args=["forward", "list"]).output
    removed = runner.invoke(args=["forward", "remove", str(listed[0]["id"])])
    assert removed.exit_code == 0
    assert "no forwarding targets" in runner.invoke(args=["forward", "list"]).output


def test_forward_add_refuses_a_bad_endpoint_or_version(app) -> None:
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["forward", "add", "--endpoint", "ftp://x", "--key", "K", "--secret", "S"])
    assert bad.exit_code != 0 and "http(s) URL" in bad.output
    bad = runner.invoke(args=["forward", "add", "--endpoint", "http://127.0.0.1:1/xapi", "--key", "K",
                              "--secret", "S", "--xapi-version", "0.9"])
    assert bad.exit_code != 0


def test_the_worker_once_delivers_the_backlog_and_exits(app, db_session, remote) -> None:
    stored = store(db_session, statement(), statement())
    db_session.commit()
    runner = app.test_cli_runner()
    runner.invoke(args=["forward", "add", "--endpoint", remote.endpoint, "--key", "K", "--secret", "S"])
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert remote.order == [s.id for s in stored]


def test_forwarding_page_is_for_administrators_only(client, db_session) -> None:
    factories.user(db_session, email="learner-fwd@example.org")
    db_session.commit()
    assert client.get("/admin/lrs/forwarding/").status_code == 302
    sign_in(client, "learner-fwd@example.org")
    assert client.get("/admin/lrs/forwarding/").status_code == 403


def test_an_administrator_adds_a_target_and_sees_backlog_last_success_and_last_error(
        app, client, db_session, remote) -> None:
    factories.admin(db_session, email="root-fwd@example.org")
    store(db_session, statement(verb=COMPLETED), statement(verb=COMPLETED))
    db_session.commit()
    sign_in(client, "root-fwd@example.org")
    response = post_form(client, "/admin/lrs/forwarding/", "/admin/lrs/forwarding/", {
        "endpoint": remote.endpoint, "name": "Partner LRS", "key": "K", "secret": "S",
        "xapi_version": "1.0.3", "verbs": COMPLETED + "\n", "activities": "", "actors": "", "pathways": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/admin/lrs/forwarding/").get_data(as_text=True)
    assert "Partner LRS" in page and "<td>2</td>" in page and "never" in page  # backlog 2, no success yet
    assert_clean_page(page)

    remote.fail_next = [503]
    deliver_once(app.extensions["cairn.db"].session_factory(), DeliveryPolicy())
    page = client.get("/admin/lrs/forwarding/").get_data(as_text=True)
    assert "remote answered 503" in page

    target = db_session.query(ForwardingTarget).one()
    post_form(client, "/admin/lrs/forwarding/", f"/admin/lrs/forwarding/{target.id}/resume", {})
    deliver_once(app.extensions["cairn.db"].session_factory(), DeliveryPolicy())
    page = client.get("/admin/lrs/forwarding/").get_data(as_text=True)
    assert "<td>0</td>" in page and "UTC" in page and len(remote.order) == 2
    assert client.get(f"/admin/lrs/forwarding/{target.id}").status_code == 200


def test_a_bad_target_form_names_the_field(client, db_session) -> None:
    factories.admin(db_session, email="root-fwd2@example.org")
    db_session.commit()
    sign_in(client, "root-fwd2@example.org")
    response = post_form(client, "/admin/lrs/forwarding/", "/admin/lrs/forwarding/",
                         {"endpoint": "not a url", "key": "K", "secret": "S", "verbs": "not an iri"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "endpoint" in html and "verbs" in html
