"""The HTTP side: client processes that drive a Cairn server and time every request."""
from __future__ import annotations

import http.client
import math
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

Request = tuple[str, str, bytes | None]  # method, path with query, body


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


@dataclass
class Response:
    status: int
    body: bytes
    ms: float


class Client:
    """One HTTP/1.1 client; gunicorn's sync workers close every connection, so one per request."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = headers

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Response:
        all_headers = dict(self.headers)
        if headers:
            all_headers.update(headers)
        started = time.perf_counter()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        return Response(response.status, data, (time.perf_counter() - started) * 1000)


@dataclass
class LoadResult:
    requests: int = 0
    items: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    first_error: str = ""

    @property
    def ok(self) -> bool:
        return not self.first_error

    def joined(self, other: LoadResult) -> LoadResult:
        """Two loads as one: their requests, items and latencies, over the time both took."""
        return LoadResult(self.requests + other.requests, self.items + other.items,
                          self.seconds + other.seconds, self.latencies_ms + other.latencies_ms,
                          self.statuses + other.statuses, self.first_error or other.first_error)

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        return {"requests": self.requests, "items": self.items, "seconds": round(self.seconds, 3),
                "per_second": round(self.items_per_second, 1),
                "p50_ms": round(percentile(self.latencies_ms, 50), 2),
                "p95_ms": round(percentile(self.latencies_ms, 95), 2),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "first_error": self.first_error[:300]}


def _client_main(base_url: str, headers: dict[str, str],
                 make_requests: Callable[[int], list[tuple[Request, int]]],
                 index: int, ok_statuses: frozenset[int], seconds_cap: float | None,
                 barrier: Any, queue: Any) -> None:
    work = make_requests(index)  # built before the clock starts
    client = Client(base_url, headers)
    latencies, statuses, items, first_error = [], Counter(), 0, ""
    barrier.wait()
    started = time.perf_counter()
    for (method, path, body), count in work:
        if seconds_cap is not None and time.perf_counter() - started > seconds_cap:
            break  # a bounded run: what was sent in time is what is measured
        try:
            response = client.request(method, path, body)
        except OSError as exc:
            statuses[0] += 1
            first_error = first_error or f"{method} {path}: {exc!r}"
            continue
        latencies.append(response.ms)
        statuses[response.status] += 1
        if response.status in ok_statuses:
            items += count
        elif not first_error:
            first_error = f"{method} {path} -> {response.status}: {response.body[:300]!r}"
    queue.put((started, time.perf_counter(), latencies, dict(statuses), items, first_error))


def run_processes(clients: int, client_main: Callable[..., None],
                  args_for: Callable[[int], tuple[Any, ...]]) -> tuple[LoadResult, list[tuple[Any, ...]]]:
    """Run ``client_main(*args_for(i), barrier, queue)`` in ``clients`` forked processes.

    Each client builds its work, waits on the barrier (so all start together) and puts one tuple
    ``(started, ended, latencies_ms, statuses, items, first_error, *extra)`` on the queue. The
    result adds the clients up, its wall time from the common start to the last client's end, so
    the rate is the real aggregate throughput; each client's ``extra`` fields come back as they are.
    """
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(clients), context.Queue()
    processes = [context.Process(target=client_main, daemon=True, args=(*args_for(i), barrier, queue))
                 for i in range(clients)]
    for process in processes:
        process.start()
    result = LoadResult()
    starts, ends, extras = [], [], []
    for _ in processes:
        started, ended, latencies, statuses, items, first_error, *extra = queue.get()
        starts.append(started)
        ends.append(ended)
        result.latencies_ms.extend(latencies)
        result.statuses.update(statuses)
        result.items += items
        result.first_error = result.first_error or first_error
        extras.append(tuple(extra))
    for process in processes:
        process.join()
    result.requests = len(result.latencies_ms)
    result.seconds = max(ends) - min(starts)
    return result, extras


def run_clients(base_url: str, headers: dict[str, str], clients: int,
                make_requests: Callable[[int], list[tuple[Request, int]]],
                ok_statuses: frozenset[int] = frozenset({200, 204}),
                seconds_cap: float | None = None) -> LoadResult:
    """Run ``clients`` processes; client i sends ``make_requests(i)`` (request, items it carries).

    Every request's own latency is kept; the rate is the aggregate throughput (``run_processes``).
    """
    result, _ = run_processes(clients, _client_main,
                              lambda i: (base_url, headers, make_requests, i, ok_statuses, seconds_cap))
    return result
