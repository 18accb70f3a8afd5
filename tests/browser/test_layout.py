"""The page shell in a real browser: CSP, no inline script, skip link, keyboard sign-in, navigation."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from playwright.sync_api import expect

from tests.browser.conftest import make_user, sign_in

INLINE_HANDLERS_JS = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name) || attr.name === 'style') found.push(el.tagName + ' ' + attr.name);
    }
    if (el.tagName === 'SCRIPT' && !el.src) found.push('inline SCRIPT');
    if (el.tagName === 'A' && /^javascript:/i.test(el.getAttribute('href') || ''))
      found.push('javascript: link');
  }
  return found;
}"""


def test_pages_send_a_content_security_policy_that_forbids_inline_script(live) -> None:
    response = requests.get(f"{live.url}/signin", timeout=5)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors *" in policy  # usable inside an LTI platform's iframe


def test_sign_in_page_has_no_inline_handlers_and_works_by_keyboard_alone(live, page) -> None:
    make_user(live, email="kb@example.org", name="Kim Keyboard")
    page.goto("/signin")
    assert page.evaluate(INLINE_HANDLERS_JS) == []
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.type("kb@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("button", name="Sign out").is_visible()
    assert page.evaluate(INLINE_HANDLERS_JS) == []


def test_administrators_see_the_administration_link_and_learners_do_not(live, browser) -> None:
    make_user(live, email="boss@example.org", name="Bo Boss", role="administrator")
    make_user(live, email="lea@example.org", name="Lea Learner")
    for email, expected in (("boss@example.org", True), ("lea@example.org", False)):
        ctx = browser.new_context(base_url=live.url)
        page = ctx.new_page()
        sign_in(page, email)
        main_nav = page.get_by_role("navigation", name="Main")
        has_admin = main_nav.get_by_role("link", name="Administration").count() == 1
        ctx.close()
        assert has_admin is expected, email


def test_pages_fit_a_phone_screen_and_render_inside_a_platform_iframe(live, browser) -> None:
    make_user(live, email="phone@example.org", name="Pho Ne")
    ctx = browser.new_context(base_url=live.url, viewport={"width": 360, "height": 740})
    page = ctx.new_page()
    sign_in(page, "phone@example.org")
    for path in ("/portal/", "/portal/catalogue", "/portal/history", "/portal/certificates"):
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - "
                                 "document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways on a phone by {overflow}px"
    ctx.close()
    # An LTI platform (another origin) frames Cairn: nothing forbids it (frame-ancestors *,
    # no X-Frame-Options).
    html = (f'<!doctype html><title>Platform</title><iframe title="Cairn" src="{live.url}/signin" '
            'width="800" height="600"></iframe>')

    class Platform(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    platform = ThreadingHTTPServer(("127.0.0.1", 0), Platform)
    threading.Thread(target=platform.serve_forever, daemon=True).start()
    try:
        ctx = browser.new_context()
        page = ctx.new_page()
        page.goto(f"http://127.0.0.1:{platform.server_port}/course")
        expect(page.frame_locator("iframe").get_by_role("heading", name="Sign in")).to_be_visible()
        ctx.close()
    finally:
        platform.shutdown()
