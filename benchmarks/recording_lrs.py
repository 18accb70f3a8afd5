"""A recording remote LRS on 127.0.0.1 for the forwarding tests and the benchmark's scale-out check:
an HTTP boundary we do not own.

It keeps what it receives by statement id, answers like a strict LRS (a POST whose batch holds an id
it already has is a 409; a PUT of a known id is a 409), counts every arrival of every id (so a
statement delivered twice shows, even though it is refused), and can be told to fail: the next N
requests with a status, or particular statement ids with a 400. The end-to-end tests use a real Cairn instead.
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class RecordingLRS:
    statements: dict[str, dict] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    refuse_ids: set[str] = field(default_factory=set)
    arrivals: Counter[str] = field(default_factory=Counter)  # every id in every request, refused or not
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/xapi/"

    def handle(self, method: str, path: str, headers: dict[str, str],
               body: bytes) -> tuple[int, dict | list | None]:
        with self.lock:
            self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
            if self.fail_next:
                return self.fail_next.pop(0), {"message": "scripted failure"}
            payload = json.loads(body or b"null")
            if method == "PUT":
                statement_id = parse_qs(urlparse(path).query)["statementId"][0]
                payload = [{**payload, "id": statement_id}]
            elif isinstance(payload, dict):
                payload = [payload]
            self.arrivals.update(s["id"] for s in payload if isinstance(s, dict) and "id" in s)
            for statement in payload:
                if statement["id"] in self.refuse_ids:
                    return 400, {"message": f"statement {statement['id']} refused"}
                if statement["id"] in self.statements:
                    return 409, {"message": f"statement {statement['id']} already stored"}
            for statement in payload:
                self.statements[statement["id"]] = statement
                self.order.append(statement["id"])
            return (204, None) if method == "PUT" else (200, [s["id"] for s in payload])


@contextmanager
def recording_lrs() -> Iterator[RecordingLRS]:
    remote = RecordingLRS()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, answer = remote.handle(self.command, self.path, dict(self.headers), body)
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_PUT = _serve  # noqa: N815

        def log_message(self, *_args: Any) -> None:
            pass

    remote.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=remote.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield remote
    finally:
        remote.server.shutdown()
        remote.server.server_close()
