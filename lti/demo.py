"""Demo data for LTI: one registered platform, so a newcomer sees what a registration looks like."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lti import platforms

DEMO_PLATFORM = {
    "issuer": "https://moodle.example.edu",
    "client_id": "cairn-demo-client",
    "name": "Demo Moodle (example registration)",
    "auth_login_url": "https://moodle.example.edu/mod/lti/auth.php",
    "token_url": "https://moodle.example.edu/mod/lti/token.php",
    "jwks_url": "https://moodle.example.edu/mod/lti/certs.php",
    "deployment_ids": ["1"],
}


def load(session: Session) -> dict[str, Any]:
    """Register the demo platform once; a second call changes nothing."""
    platform = platforms.find_platform(session, DEMO_PLATFORM["issuer"], DEMO_PLATFORM["client_id"])
    if platform is None:
        platform = platforms.add_platform(session, **DEMO_PLATFORM)  # type: ignore[arg-type]
    return {"platform": {"id": platform.id, "issuer": platform.issuer, "client_id": platform.client_id}}
