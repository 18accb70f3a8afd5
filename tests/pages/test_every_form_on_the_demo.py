"""Every form on every page of the demo, submitted with values nobody should send (a number past any
column, U+0000, 5,000 characters, a negative number, text in a number field): each is refused
or taken, never answered with a 500. The administrator's forms and the learner's, POST forms and
GET forms (searches, filters), and every page's address with its id past any column."""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from cairn.demo import load_demo
from tests.pagetools import crawl, sign_in

# Deleting and signing out would end the walk; what they take is an id in the path.
SKIP = re.compile(r"\.(csv|json)$|/signout|/delete|/revoke")
ODD = ("9" * 30, "a\x00b", "x" * 5000, "-1", "é")


class Forms(HTMLParser):
    """The POST forms of a page: action and fields (name, value as the page shows it, kind)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: list | None = None
        self._textarea: list | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "form":
            self._form = {"action": html.unescape(names.get("action") or ""), "fields": [],
                          "method": (names.get("method") or "get").lower()}
            self.forms.append(self._form)
        if self._form is None:
            return
        if tag == "option" and self._select is not None and (self._select[1] is None or "selected" in names):
            self._select[1] = names.get("value", "")
        if not names.get("name"):
            return
        if tag == "input":
            kind = (names.get("type") or "text").lower()
            sent = kind not in ("checkbox", "radio") or "checked" in names  # unticked boxes send nothing
            self._form["fields"].append([names["name"], (names.get("value") or "") if sent else None, kind])
        elif tag == "select":
            self._select = [names["name"], None, tag]
            self._form["fields"].append(self._select)
        elif tag == "textarea":
            self._textarea = [names["name"], "", tag]
            self._form["fields"].append(self._textarea)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _submissions(form: dict) -> list[dict[str, str]]:
    """The form as shown, then with every field a person types or picks set to each odd value."""
    shown = {name: value for name, value, _ in form["fields"] if value is not None}
    typed = [name for name, _, kind in form["fields"]
             if kind not in ("hidden", "submit", "button", "checkbox", "radio", "file")]
    return [shown] + [{**shown, **{name: odd for name in typed}} for odd in ODD]


@pytest.mark.parametrize("role", ["administrator", "learner"])
def test_every_form_refuses_or_takes_odd_values_and_never_answers_500(app, client, db_session, role) -> None:
    with app.app_context():
        info = load_demo(db_session, app.extensions["cairn.demo_loaders"])
        db_session.commit()
    account = next(a for a in info["accounts"] if a["role"] == role)
    sign_in(client, account["email"], account["password"])
    failures, submitted = [], 0
    for url, response in crawl(client, ["/admin/", "/portal/"], limit=200, skip=SKIP):
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        page = response.get_data(as_text=True)
        parser = Forms()
        parser.feed(page)
        for form in parser.forms:
            action = form["action"] or url
            if SKIP.search(action):
                continue
            for data in _submissions(form):
                submitted += 1
                if form["method"] == "post":
                    answer = client.post(action, data=data)
                else:
                    answer = client.get(action, query_string=data)
                    answer.close()  # a CSV download: its body's transaction ends with it
                if answer.status_code >= 500:
                    failures.append((url, action, {k: v[:20] for k, v in data.items() if k != "csrf_token"}))
        if re.search(r"/\d+", url):
            huge = client.get(re.sub(r"/\d+", "/" + "9" * 30, url, count=1))
            if huge.status_code >= 500:
                failures.append((url, "an id past any column", huge.status_code))
    assert failures == []
    assert submitted > (200 if role == "administrator" else 10), submitted
