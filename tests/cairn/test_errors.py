from __future__ import annotations

from flask import Blueprint

from cairn.errors import NotFound


def _add_failing_routes(app) -> None:
    bp = Blueprint("boom", __name__)

    @bp.get("/api/boom")
    def api_boom():
        raise RuntimeError("secret internals")

    @bp.get("/page/boom")
    def page_boom():
        raise RuntimeError("secret internals")

    @bp.get("/api/missing")
    def api_missing():
        raise NotFound("pathway 7 does not exist")

    app.register_blueprint(bp)


def test_api_errors_are_json_with_error_and_message(app) -> None:
    _add_failing_routes(app)
    response = app.test_client().get("/api/missing")
    assert response.status_code == 404
    assert response.json == {"error": "not_found", "message": "pathway 7 does not exist"}


def test_unexpected_api_errors_are_500_json_without_a_stack_trace(app) -> None:
    _add_failing_routes(app)
    response = app.test_client().get("/api/boom")
    assert response.status_code == 500
    assert response.json["error"] == "internal_error"
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_page_errors_are_html_without_a_stack_trace(app) -> None:
    _add_failing_routes(app)
    response = app.test_client().get("/page/boom")
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert "secret internals" not in response.get_data(as_text=True)


def test_unknown_page_is_an_html_404_and_unknown_api_path_a_json_404(client) -> None:
    assert client.get("/nowhere").mimetype == "text/html"
    response = client.get("/api/nowhere")
    assert response.status_code == 404 and response.json["error"] == "not_found"


def test_wrong_method_is_405_with_allow(client) -> None:
    response = client.delete("/signin")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_a_failed_flush_still_gets_its_error_page_and_leaves_nothing_behind(app, db_session) -> None:
    """After a flush fails the session refuses every query until rolled back, and the error page
    reads the signed-in person with it: the page itself failed (the client got gunicorn's bare 500)."""
    from cairn.db import get_session
    from pathways.models import Category
    from tests import factories
    from tests.pagetools import sign_in

    bp = Blueprint("flush_boom", __name__)

    @bp.get("/page/flush-boom")
    def flush_boom():
        session = get_session()
        session.add(Category(name="Too far", position=10**30))  # no INTEGER holds it, on either database
        session.flush()
        return "not reached"

    app.register_blueprint(bp)
    factories.user(db_session, email="flush@example.org", name="Fran Flush")
    db_session.commit()
    client = app.test_client()
    sign_in(client, "flush@example.org")
    response = client.get("/page/flush-boom")
    assert response.status_code == 500 and response.mimetype == "text/html"
    assert "Fran Flush" in response.get_data(as_text=True)  # the page, signed in, as any other
    db_session.expire_all()
    assert db_session.query(Category).count() == 0


def test_an_id_in_a_path_past_any_integer_column_is_404_not_500(client, db_session) -> None:
    """Flask's ``<int:...>`` took any number; SQLite cannot bind one past 64 bits (OverflowError)."""
    from tests import factories
    from tests.pagetools import sign_in
    factories.admin(db_session, email="ids@example.org")
    db_session.commit()
    sign_in(client, "ids@example.org")
    for huge in ("2147483648", "9" * 30):
        page = client.get(f"/admin/people/{huge}")
        assert page.status_code == 404 and page.mimetype == "text/html"
        api = client.get(f"/api/pathways/{huge}")
        assert api.status_code == 404 and api.json["error"] == "not_found"
    assert client.get("/admin/people/2147483647").status_code == 404  # the largest id: looked up, absent


def test_u0000_in_an_address_is_a_400_on_pages_and_apis_and_the_lrs_keeps_its_own_message(
        client, db_session) -> None:
    """A search for U+0000 reached PostgreSQL, whose text refuses it (500); SQLite took it."""
    from tests import factories
    from tests.pagetools import sign_in
    factories.admin(db_session, email="nul@example.org")
    db_session.commit()
    sign_in(client, "nul@example.org")
    for path in ("/admin/pathways?q=a%00b", "/admin/learners?q=%00", "/certificates/verify?code=%00",
                 "/certificates/verify/AB%00CD", "/admin/pathways?status=ok&status=%00"):
        page = client.get(path)
        assert page.status_code == 400 and page.mimetype == "text/html", path
        assert "U+0000" in page.get_data(as_text=True)
    api = client.get("/api/pathways?q=%00")
    assert api.status_code == 400 and api.json["error"] == "bad_request"
    import base64

    from lrs.credentials import create_credential
    info, secret = create_credential(db_session, name="nul", scopes=["all"],
                                     authority={"objectType": "Agent", "mbox": "mailto:nul@example.org"})
    db_session.commit()
    headers = {"X-Experience-API-Version": "1.0.3",
               "Authorization": "Basic " + base64.b64encode(f"{info.key}:{secret}".encode()).decode()}
    lrs = client.get("/xapi/statements?verb=http://example.org/%00", headers=headers)
    assert lrs.status_code == 400 and lrs.json["message"].startswith("parameter verb: contains the character")
    assert client.get("/admin/pathways?q=fire").status_code == 200
