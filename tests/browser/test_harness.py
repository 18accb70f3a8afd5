"""The browser-test harness's own rule: without Chromium, skip locally but fail under CI=true."""
from __future__ import annotations

import pytest

from tests.browser import conftest as harness


@pytest.fixture()
def no_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "CHROMIUM", "/nonexistent/chromium")


def test_a_missing_chromium_skips_with_the_reason_outside_ci(no_chromium, monkeypatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        harness.skip_or_fail_without_chromium()


def test_a_missing_chromium_fails_under_ci(no_chromium, monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true, so browser tests must run"):
        harness.skip_or_fail_without_chromium()
