"""The one module that talks to remote LRSs, through the ``tincan`` package.

What we use of tincan, and why not more (measured against a real LRS):
- ``RemoteLRS`` and its transport (``HTTPRequest`` sent by ``RemoteLRS._send_request``): endpoint
  handling, Basic auth and the version header. We hand it the statements' exact JSON instead of
  going through ``save_statements``: that path re-serialises every statement through tincan's
  models, which rewrites durations ("PT1H30M" becomes "PT01H30M00S"), timestamps and adds
  ``objectType``s, and a forwarded record must arrive as it was stored.
- ``RemoteLRS`` refuses any version but 1.0.x ("Unsupported Version"), so we construct it at 1.0.3
  and put the target's version in the request's own header, which tincan applies last.
- Not used: ``About`` (raises on a version list containing "2.0.0"), ``save_state`` (sends its PUT
  twice and drops the registration), and the document calls (they never read the ETag).
- tincan's ``http.client`` connections have no timeout of their own; we bound each call with the
  socket default timeout so a remote that hangs cannot stall a worker.
"""
from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass

from tincan import RemoteLRS
from tincan.http_request import HTTPRequest

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class RemoteResponse:
    """What the remote answered: ``status`` is None when it could not be reached at all."""

    status: int | None
    body: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class RemoteLRSClient:
    """Send statements to one remote LRS."""

    def __init__(self, endpoint: str, key: str, secret: str, version: str = "1.0.3",
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self._lrs = RemoteLRS(endpoint=endpoint, username=key, password=secret, version="1.0.3")
        self.version = version
        self.timeout = timeout

    def post_statements(self, statements: list[dict]) -> RemoteResponse:
        """POST a batch of statements (all or nothing on the remote)."""
        return self._send("POST", "statements", json.dumps(statements), {})

    def put_statement(self, statement: dict) -> RemoteResponse:
        """PUT one statement under its id (204 stored; 409 means the remote already has that id)."""
        return self._send("PUT", "statements", json.dumps(statement), {"statementId": statement["id"]})

    def _send(self, method: str, resource: str, body: str, params: dict[str, str]) -> RemoteResponse:
        request = HTTPRequest(method=method, resource=resource)
        request.headers = {"Content-Type": "application/json", "X-Experience-API-Version": self.version}
        request.query_params = params
        request.content = body
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(self.timeout)
        try:
            response = self._lrs._send_request(request)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # refused, reset, timed out, DNS, malformed URL
            return RemoteResponse(None, f"{type(exc).__name__}: {exc}")
        finally:
            socket.setdefaulttimeout(previous)
        data = response.data
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")
        return RemoteResponse(response.response.status, text)
