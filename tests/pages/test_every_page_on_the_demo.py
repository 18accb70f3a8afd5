"""Every page, on the realistic demo data (all step kinds, certifications, classes): each renders, has no
inline script or handler, and every POST form carries its CSRF token, for each kind of account."""
from __future__ import annotations

import re

from cairn.demo import load_demo
from tests.pagetools import assert_clean_page, crawl, sign_in

LINK = re.compile(r'href="(/(?:portal|admin)/[^"#?]*)"')


def _crawl(client, start: list[str], limit: int = 250) -> dict[str, int]:
    """Follow same-site portal and admin links breadth-first; the status of each page reached."""
    seen: dict[str, int] = {}
    for url, response in crawl(client, start, limit=limit, link=LINK):
        seen[url] = response.status_code
        if response.status_code == 200 and response.mimetype == "text/html":
            assert_clean_page(response.get_data(as_text=True))
    return seen


def test_every_page_renders_cleanly_for_the_administrator_the_instructor_and_a_learner(
        app, client, db_session) -> None:
    with app.app_context():
        info = load_demo(db_session, app.extensions["cairn.demo_loaders"])
        db_session.commit()
    accounts = {a["role"]: a for a in info["accounts"]}
    for role, start in (("administrator", ["/admin/", "/portal/"]), ("instructor", ["/portal/", "/admin/"]),
                        ("learner", ["/portal/"])):
        client.delete_cookie("cairn_session")
        sign_in(client, accounts[role]["email"], accounts[role]["password"])
        statuses = _crawl(client, start)
        broken = {url: status for url, status in statuses.items() if status >= 500}
        assert broken == {}, role
        assert len(statuses) > (40 if role == "administrator" else 5), (role, statuses)
        if role == "learner":
            assert all(status != 403 for url, status in statuses.items()
                       if url.startswith("/portal/")), statuses
