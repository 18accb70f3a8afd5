from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy import select

from cairn.accounts.models import User


def test_users_create_admin(app, db_session) -> None:
    result = app.test_cli_runner().invoke(args=["users", "create-admin", "--email", "root@example.org",
                                                "--name", "Root", "--password", "long enough pw"])
    assert result.exit_code == 0, result.output
    user = db_session.scalar(select(User).where(User.email == "root@example.org"))
    assert user.role == "administrator"


def test_users_create_admin_refuses_a_short_password(app) -> None:
    result = app.test_cli_runner().invoke(args=["users", "create-admin", "--email", "x@example.org",
                                                "--password", "short"])
    assert result.exit_code != 0
    assert "at least 8 characters" in result.output


def test_demo_creates_the_admin_once_and_prints_accounts(app, db_session) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "--json"])
    second = runner.invoke(args=["demo", "--json"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    accounts = json.loads(first.output)["accounts"]
    assert any(a["role"] == "administrator" for a in accounts)
    assert db_session.scalar(select(User).where(User.email == accounts[0]["email"])) is not None


def test_db_upgrade_and_current_on_a_new_database(tmp_path) -> None:
    from tests.conftest import fresh_database_url, make_test_app
    url = fresh_database_url(tmp_path, "cli_upgrade")
    app = make_test_app(url)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    current = runner.invoke(args=["db", "current"])
    database, code = current.output.strip().split("; ")
    assert database.split(": ")[1] == code.split(": ")[1]
    app.extensions["cairn.db"].dispose()


def test_console_script_lists_the_commands(tmp_path) -> None:
    env = {"CAIRN_DATABASE_URL": f"sqlite:///{tmp_path}/c.db", "CAIRN_SECRET_KEY": "k", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", "from cairn.cli import main; main()", "--help"],
                         capture_output=True, text=True, env=env, check=True).stdout
    for command in ("db", "users", "serve", "demo"):
        assert command in out


def test_serve_dev_flag_and_workers_option_exist(app) -> None:
    result = app.test_cli_runner().invoke(args=["serve", "--help"])
    assert "--workers" in result.output and "--dev" in result.output


def test_cairn_bench_is_the_benchmark_runner(app) -> None:
    result = app.test_cli_runner().invoke(args=["bench", "--help"])
    assert result.exit_code == 0, result.output
    assert "--quick" in result.output and "--databases" in result.output


def test_serve_runs_gunicorn_with_the_requested_workers(tmp_path) -> None:
    import os
    import time

    import requests

    from tests.live import free_port
    port = free_port()
    env = dict(os.environ, CAIRN_DATABASE_URL=f"sqlite:///{tmp_path}/serve.db", CAIRN_SECRET_KEY="k",
               CAIRN_AUTO_UPGRADE="1", CAIRN_LOG_LEVEL="WARNING")
    process = subprocess.Popen([sys.executable, "-c", "from cairn.cli import main; main()", "serve",
                                "--port", str(port), "--workers", "2"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # Migrating a new database and booting two workers: seen to take 32 s on a loaded 2-core machine.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise AssertionError("cairn serve did not answer within 90 s")
    finally:
        process.terminate()
        output = process.communicate(timeout=15)[0].decode()
    assert "gunicorn" in output.lower() and output.lower().count("booting worker") == 2
