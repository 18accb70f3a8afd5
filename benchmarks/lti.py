"""LTI 1.3 launches against real Cairn servers, driven over HTTP by client processes.

The platform (``benchmarks.lti_platform``, the tests' platform) runs in the runner's process on
127.0.0.1: it signs the id_tokens and serves its JWKS over HTTP, which Cairn fetches on the first
launch and keeps in the database. A launch is the whole round trip a browser makes: login initiation
at Cairn -> the platform's authentication endpoint -> the id_token form posted to Cairn's launch URL
-> the page Cairn redirects to.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests

from benchmarks.load import LoadResult, run_processes
from benchmarks.lti_platform import Message, Person, TestPlatform, parse_page

TIMEOUT = 120


@contextmanager
def platform_for(*servers: Any) -> Iterator[TestPlatform]:
    """A running platform registered (``cairn lti platform add``) with the servers' database."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request on the console
    platform = TestPlatform(servers[0].url)
    platform.redirect_uris.update(f"{server.url}/lti/launch" for server in servers)
    platform.start()
    try:
        servers[0].cli(*platform.registration_args())
        # Fetched now (which also makes the tool's first key), not from inside the first /token
        # request: that fetch needs a free tool worker while the tool's workers, all launching,
        # wait on /token (two sync workers under four clients timed out after 5 s).
        platform.fetch_tool_keys()
        yield platform
    finally:
        platform.stop()


def login_params(platform: TestPlatform, count: int, tag: str) -> list[dict[str, str]]:
    """Login initiations of ``count`` launches by distinct learners into one course."""
    return [platform.login_params(Message(person=Person(sub=f"{tag}-{n}", name=f"Bench Learner {tag} {n}",
                                                        email=f"{tag}-{n}@lti.example.edu"),
                                          context_id=f"course-{tag}", resource_link_id=f"link-{tag}"))
            for n in range(count)]


@dataclass
class Launched:
    """Steps 1-2 of one launch: the id_token form and the state cookie the browser holds."""

    action: str
    fields: dict[str, str]
    cookies: dict[str, str] = field(default_factory=dict)


STEPS = ("login", "platform auth", "launch", "final page")


def start(browser: requests.Session, tool_url: str, params: dict[str, str],
          steps: dict[str, float] | None = None) -> Launched:
    """Login initiation at Cairn, then the platform's authentication answer (the auto-posting form)."""
    steps = {} if steps is None else steps
    login = browser.post(f"{tool_url}/lti/login", data=params, allow_redirects=False, timeout=TIMEOUT)
    steps["login"] = login.elapsed.total_seconds() * 1000
    if login.status_code != 302:
        raise LaunchFailed(f"login -> {login.status_code}: {login.text[:200]}")
    auth = browser.get(login.headers["Location"], timeout=TIMEOUT)
    steps["platform auth"] = auth.elapsed.total_seconds() * 1000
    if auth.status_code != 200:
        raise LaunchFailed(f"platform auth -> {auth.status_code}: {auth.text[:200]}")
    form = parse_page(auth.text).forms[0]
    return Launched(form["action"], dict(form["fields"]), {c.name: c.value for c in browser.cookies})


def finish(browser: requests.Session, tool_url: str, launched: Launched,
           steps: dict[str, float] | None = None) -> None:
    """Post the id_token to the launch URL and open the page Cairn sends the learner to."""
    steps = {} if steps is None else steps
    posted = browser.post(launched.action, data=launched.fields, allow_redirects=False, timeout=TIMEOUT)
    steps["launch"] = posted.elapsed.total_seconds() * 1000
    if posted.status_code != 302:
        raise LaunchFailed(f"launch -> {posted.status_code}: {posted.text[:200]}")
    page = browser.get(urljoin(tool_url + "/", posted.headers["Location"]), timeout=TIMEOUT)
    steps["final page"] = page.elapsed.total_seconds() * 1000
    if page.status_code != 200:
        raise LaunchFailed(f"{posted.headers['Location']} -> {page.status_code}: {page.text[:200]}")


class LaunchFailed(Exception):
    pass


def round_trip(tool_url: str, params: dict[str, str]) -> dict[str, float]:
    """One whole launch in a new browser (nobody signed in yet); the milliseconds of each step."""
    steps: dict[str, float] = {}
    with requests.Session() as browser:
        finish(browser, tool_url, start(browser, tool_url, params, steps), steps)
    return steps


def _client(tool_url: str, work: list[dict[str, str]], seconds_cap: float, barrier: Any, queue: Any) -> None:
    latencies, statuses, first_error, done = [], Counter(), "", 0
    steps: dict[str, list[float]] = {step: [] for step in STEPS}
    barrier.wait()
    started = time.perf_counter()
    for params in work:
        if time.perf_counter() - started > seconds_cap:
            break
        began = time.perf_counter()
        try:
            for step, ms in round_trip(tool_url, params).items():
                steps[step].append(ms)
        except (LaunchFailed, requests.RequestException) as exc:
            statuses["failed"] += 1
            first_error = first_error or repr(exc)
            continue
        latencies.append((time.perf_counter() - began) * 1000)
        statuses["ok"] += 1
        done += 1
    queue.put((started, time.perf_counter(), latencies, dict(statuses), done, first_error, steps))


def run_launches(tool_url: str, params: list[dict[str, str]], clients: int,
                 seconds_cap: float) -> tuple[LoadResult, dict[str, list[float]]]:
    """``clients`` processes share the launches (client i takes every clients-th); one latency per
    launch, and the milliseconds of each step."""
    result, extras = run_processes(clients, _client, lambda i: (tool_url, params[i::clients], seconds_cap))
    steps: dict[str, list[float]] = {step: [] for step in STEPS}
    for (client_steps,) in extras:
        for step, values in client_steps.items():
            steps[step].extend(values)
    return result, steps


# -- scale-out: one nonce, two servers --------------------------------------------------------------
def race(first_url: str, second_url: str, launched: Launched) -> list[int]:
    """Post the same id_token and state to both servers at the same moment; the status of each."""
    statuses = [0, 0]
    go = threading.Barrier(2)

    def post(index: int, base: str) -> None:
        with requests.Session() as browser:
            go.wait()
            try:
                response = browser.post(f"{base}/lti/launch", data=launched.fields, cookies=launched.cookies,
                                        allow_redirects=False, timeout=TIMEOUT)
                statuses[index] = response.status_code
            except requests.RequestException:
                statuses[index] = -1
    threads = [threading.Thread(target=post, args=(i, base))
               for i, base in enumerate((first_url, second_url))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def replay(url: str, launched: Launched) -> int:
    """Post a used id_token again (with its state cookie) to ``url``: the status."""
    with requests.Session() as browser:
        return browser.post(f"{url}/lti/launch", data=launched.fields, cookies=launched.cookies,
                            allow_redirects=False, timeout=TIMEOUT).status_code
