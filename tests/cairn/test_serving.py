"""gunicorn's settings (cairn.serving): each worker tunes its garbage collector after loading the app."""
from __future__ import annotations

import gc

import requests

from cairn import serving
from tests.live import Server, free_port


def test_the_worker_hook_freezes_what_is_loaded_and_raises_the_thresholds() -> None:
    before = gc.get_threshold()
    try:
        serving.post_worker_init(object())
        assert gc.get_freeze_count() > 1000
        assert gc.get_threshold() == serving.THRESHOLDS
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_gunicorn_workers_started_as_cairn_serve_starts_them_are_tuned(tmp_path) -> None:
    from tests.conftest import fresh_database_url, reset_database
    url = fresh_database_url(tmp_path, "serving")
    reset_database(url).dispose()
    server = Server(database_url=url, port=free_port(), workers=1, app="tests.cairn.gc_probe_app:create()",
                    log_path=tmp_path / "serving.log")
    server.start()
    try:
        probe = requests.get(f"{server.url}/test-gc-probe", timeout=10).json()
    finally:
        server.stop()
    assert probe["threshold"] == list(serving.THRESHOLDS)
    assert probe["frozen"] > 10_000, probe  # the app and everything it imported


def test_cairn_serve_passes_the_settings_to_gunicorn(app, monkeypatch) -> None:
    import os
    calls: list[list[str]] = []
    monkeypatch.setattr(os, "execv", lambda path, args: calls.append(args))
    result = app.test_cli_runner().invoke(args=["serve", "--port", "5999", "--workers", "3"])
    assert result.exit_code == 0, result.output
    [args] = calls
    assert args[args.index("--config") + 1] == serving.CONFIG == "python:cairn.serving"
    assert args[args.index("--workers") + 1] == "3" and args[-1] == "cairn:create_app()"
