"""The exceptions of ``lti``; ``cairn.errors`` turns them into responses (JSON under /lti/api)."""
from __future__ import annotations

from cairn.errors import CairnError


class LtiError(CairnError):
    code = "lti_error"


class PlatformNotFound(LtiError):
    status = 404
    code = "platform_not_found"


class LaunchRejected(LtiError):
    """A login or launch failed one of the 1EdTech Security Framework checks.

    ``check`` names it (state, id_token, issuer, audience, signature, expiry, nonce, deployment,
    message) so that a VLE administrator can see what to fix; the page says it, the log records it.
    """

    status = 401
    code = "launch_rejected"

    def __init__(self, check: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message, status=status, details={"check": check})
        self.check = check


class RegistrationFailed(LtiError):
    status = 502
    code = "registration_failed"
