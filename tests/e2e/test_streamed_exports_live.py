"""Downloads that are read from the database as they are sent (CSV and JSON exports), on real gunicorn
workers: each ends its transaction with the download, so the writes after it go through.

They read with the request's session after the request had ended its transaction, and nothing ended
the one their reads began: on SQLite one download of the progress CSV kept the database's write lock,
and every write after it, on either worker, failed ("database is locked") until the worker stopped;
on PostgreSQL the connection stayed idle in a transaction.
"""
from __future__ import annotations

import json
import re
import uuid

import pytest
import requests

from tests.live import live_cairn

pytestmark = pytest.mark.e2e


def _signed_in(url: str, email: str, password: str) -> requests.Session:
    """A browser-like session. The cookies are Secure (production settings), which requests keeps to
    HTTPS, so they are sent by hand, as browsers do for 127.0.0.1."""
    browser = requests.Session()
    jar: dict[str, str] = {}

    def keep(response: requests.Response) -> requests.Response:
        jar.update({cookie.name: cookie.value for cookie in response.cookies})
        browser.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        return response

    page = keep(browser.get(f"{url}/signin", timeout=10))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    form = {"email": email, "password": password, "csrf_token": token}
    signed = keep(browser.post(f"{url}/signin", data=form, allow_redirects=False, timeout=10))
    assert signed.status_code == 302, signed.text
    return browser


def test_every_streamed_download_leaves_the_database_free_for_the_next_write(tmp_path) -> None:
    with live_cairn(tmp_path, "streamed_live", workers=2) as cairn:
        demo = json.loads(cairn.cli("demo", "--json").stdout)
        admin = next(a for a in demo["accounts"] if a["role"] == "administrator")
        learner = next(a for a in demo["accounts"] if a["role"] == "learner")
        created = json.loads(cairn.cli("credentials", "create", "--name", "live", "--scopes", "all",
                                       "--json").stdout)
        xapi = requests.Session()
        xapi.auth = (created["key"], created["secret"])
        xapi.headers["X-Experience-API-Version"] = "1.0.3"
        browser = _signed_in(cairn.url, admin["email"], admin["password"])
        learner_id = _signed_in(cairn.url, learner["email"], learner["password"]).get(
            f"{cairn.url}/api/session", timeout=10).json()["user_id"]
        downloads = ["/admin/reports/progress.csv", "/admin/reports/compliance.csv", "/portal/history.csv",
                     "/portal/history.json", f"/admin/learners/{learner_id}/history.csv",
                     f"/admin/learners/{learner_id}/history.json", "/api/reports/progress?format=csv",
                     "/api/reports/compliance?format=csv", f"/api/learners/{learner_id}/history?format=csv",
                     f"/api/learners/{learner_id}/history?format=xapi",
                     "/admin/lrs/export/download?format=csv", "/admin/lrs/export/download?format=jsonl"]
        for path in downloads:
            download = browser.get(f"{cairn.url}{path}", timeout=30)
            assert download.status_code == 200, (path, download.text[:300])
            # The next writes, on whichever worker takes them: a statement, and a sign-in (a session row).
            statement = {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:after@example.org"},
                         "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
                         "object": {"id": "http://example.org/after-download"}}
            for _ in range(2):
                stored = xapi.post(f"{cairn.url}/xapi/statements", json=statement, timeout=10)
                assert stored.status_code == 200, (path, stored.status_code, stored.text[:300])
                statement["id"] = str(uuid.uuid4())
            _signed_in(cairn.url, learner["email"], learner["password"])
