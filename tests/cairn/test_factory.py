from __future__ import annotations

import pytest

from cairn import create_app
from cairn.settings import load_settings


def test_settings_come_from_cairn_environment_variables() -> None:
    settings = load_settings({"CAIRN_DATABASE_URL": "postgresql+psycopg://db/x", "CAIRN_SECRET_KEY": "k",
                              "CAIRN_BASE_URL": "https://lrs.example.org/", "CAIRN_XAPI_PATH": "lrs/xapi/",
                              "CAIRN_LOG_LEVEL": "DEBUG"})
    assert settings["DATABASE_URL"] == "postgresql+psycopg://db/x"
    assert settings["BASE_URL"] == "https://lrs.example.org"
    assert settings["XAPI_PATH"] == "/lrs/xapi"
    assert settings["LOG_LEVEL"] == "DEBUG"
    assert settings["AUTO_UPGRADE"] is False


def test_overrides_win_over_the_environment() -> None:
    settings = load_settings({"CAIRN_BASE_URL": "https://a"}, {"BASE_URL": "https://b", "SECRET_KEY": "s"})
    assert settings["BASE_URL"] == "https://b"


def test_a_configured_database_without_a_secret_key_is_refused() -> None:
    with pytest.raises(RuntimeError, match="CAIRN_SECRET_KEY"):
        load_settings({"CAIRN_DATABASE_URL": "postgresql+psycopg://db/x"})


def test_embedded_default_is_sqlite_in_instance_and_upgrades_itself(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CAIRN_DATABASE_URL", raising=False)
    monkeypatch.delenv("CAIRN_SECRET_KEY", raising=False)
    app = create_app({"ENV": "development"})
    assert app.config["DATABASE_URL"] == "sqlite:///instance/cairn.db"
    assert (tmp_path / "instance" / "cairn.db").exists()
    assert app.test_client().get("/healthz").json == {"status": "ok"}
    # The secret is stable across restarts, so sessions survive them.
    assert create_app({"ENV": "development"}).config["SECRET_KEY"] == app.config["SECRET_KEY"]


def test_factory_registers_every_package(app) -> None:
    assert "accounts" in app.blueprints
    assert {"db", "users", "serve", "demo"} <= set(app.cli.commands)


def test_out_of_date_database_is_refused_with_the_command_to_run(tmp_path) -> None:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/old.db", "SECRET_KEY": "k",
                      "AUTO_UPGRADE": False, "ENV": "test"})
    response = app.test_client().get("/healthz", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert "cairn db upgrade" in response.json["message"]


def test_no_module_builds_an_app_at_import_time() -> None:
    import importlib

    import cairn.app
    import cairn.db
    module = importlib.reload(cairn.db)
    assert not any(type(v).__name__ in {"Flask", "Engine", "Session"} for v in vars(module).values())
    assert not any(type(v).__name__ in {"Flask", "Engine"} for v in vars(cairn.app).values())


def test_responses_carry_security_headers(client) -> None:
    response = client.get("/signin")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
