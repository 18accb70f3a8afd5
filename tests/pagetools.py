"""Helpers for page tests with Flask's test client: CSRF tokens, signing in, checking markup."""
from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

from flask.testing import FlaskClient

from tests.factories import PASSWORD

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "the page has no form with a csrf_token"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    token = csrf_token(client.get("/signin").get_data(as_text=True))
    response = client.post("/signin", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def post_form(client: FlaskClient, page_url: str, action: str, data: dict, **kwargs):  # type: ignore[no-untyped-def]
    """Post ``data`` to ``action`` with the csrf token of the form on ``page_url``."""
    token = csrf_token(client.get(page_url).get_data(as_text=True))
    return client.post(action, data={**data, "csrf_token": token}, **kwargs)


# Attributes whose value is text for people, which may itself be quoted.
FREE_TEXT_ATTRIBUTES = {"value", "title", "alt", "content", "placeholder", "aria-label", "aria-description"}


class _InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.forms_without_token = 0
        self._in_post_form = False
        self._form_has_token = False
        self.fields: list[tuple[str, str]] = []  # (tag, id) of controls that need a label
        self.unnamed: list[str] = []
        self.label_targets: set[str] = set()
        self._in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}>")
            if name == "style":
                self.problems.append(f"<{tag} style>")
            if name == "href" and (value or "").lower().startswith("javascript:"):
                self.problems.append(f"<{tag} href=javascript:>")
            if name not in FREE_TEXT_ATTRIBUTES and not name.startswith("data-") and value \
                    and len(value) > 1 and value[0] == value[-1] in "\"'":
                # An attribute escaped twice (a template's string of attributes autoescaped) reaches
                # the browser as a quoted value: min="&#34;1&#34;" is no minimum at all.
                self.problems.append(f"<{tag} {name}={value}> (a quoted value)")
        if tag == "script" and not names.get("src"):
            self.problems.append("inline <script>")
        if tag == "form" and (names.get("method") or "get").lower() == "post":
            self._in_post_form, self._form_has_token = True, False
        if tag == "input" and names.get("name") == "csrf_token":
            self._form_has_token = True
        if tag == "label":
            self._in_label += 1
            if names.get("for"):
                self.label_targets.add(names["for"] or "")
        needs_label = tag in ("select", "textarea") or (
            tag == "input"
            and (names.get("type") or "text") not in ("hidden", "submit", "button", "image", "reset"))
        if needs_label and not (names.get("aria-label") or names.get("aria-labelledby") or self._in_label):
            if names.get("id"):
                self.fields.append((tag, names["id"] or ""))
            else:
                self.unnamed.append(f"<{tag} name={names.get('name')}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._in_label:
            self._in_label -= 1
        if tag == "form" and self._in_post_form:
            if not self._form_has_token:
                self.forms_without_token += 1
            self._in_post_form = False


def assert_clean_page(html: str) -> None:
    """No inline script, handler or style (the CSP forbids them); every POST form carries a CSRF token;
    every form control has a label (WCAG 2.1 1.3.1/4.1.2); no attribute's value is wrapped in quotes
    of its own; the page has its landmarks."""
    finder = _InlineFinder()
    finder.feed(html)
    assert finder.problems == []
    assert finder.forms_without_token == 0
    unlabelled = [f"<{tag} id={id_}>" for tag, id_ in finder.fields if id_ not in finder.label_targets]
    assert unlabelled + finder.unnamed == [], "form controls without a label"
    assert 'id="main"' in html and "<nav" in html


PAGE_LINK = re.compile(r'href="(/(?:portal|admin|lti/admin)[^"#?]*)"')
NOT_FOLLOWED = re.compile(r"\.(csv|json)$|/signout")


def crawl(client: FlaskClient, start: list[str], *, limit: int = 250, link: re.Pattern[str] = PAGE_LINK,
          skip: re.Pattern[str] = NOT_FOLLOWED) -> Iterator[tuple[str, object]]:
    """Follow same-site links breadth-first from ``start``: each address reached and its response
    (links are followed from HTML pages that answered 200; downloads and signing out are not)."""
    seen: set[str] = set()
    queue = list(start)
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen or skip.search(url):
            continue
        seen.add(url)
        response = client.get(url)
        yield url, response
        if response.status_code == 200 and response.mimetype == "text/html":
            queue.extend(u for u in link.findall(response.get_data(as_text=True)) if u not in seen)
