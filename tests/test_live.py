from __future__ import annotations

import requests

from tests.live import live_cairn


def test_a_live_cairn_serves_over_http_and_its_cli_shares_the_database(tmp_path) -> None:
    with live_cairn(tmp_path, "live_smoke", workers=2) as cairn:
        assert requests.get(f"{cairn.url}/healthz", timeout=5).json() == {"status": "ok"}
        created = cairn.cli("users", "create-admin", "--email", "live@example.org", "--password",
                            "long enough pw")
        assert "created" in created.stdout
        page = requests.get(f"{cairn.url}/signin", timeout=5)
        assert page.status_code == 200 and "Sign in" in page.text
