"""Settings from ``CAIRN_*`` environment variables, overridable by a mapping in tests."""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_SQLITE_PATH = Path("instance") / "cairn.db"

# name -> (default, parser); the Flask config key is the name without the prefix.
_SETTINGS: dict[str, tuple[Any, Any]] = {
    "DATABASE_URL": (None, str),
    "SECRET_KEY": (None, str),
    "BASE_URL": ("http://127.0.0.1:5000", str),
    "XAPI_PATH": ("/xapi", str),
    "LOG_LEVEL": ("INFO", str),
    "ENV": ("production", str),
    "AUTO_UPGRADE": (None, lambda v: v.lower() in {"1", "true", "yes", "on"}),
    "DOCUMENT_MAX_BYTES": (10 * 1024 * 1024, int),
    "SESSION_HOURS": (12, int),
}


def load_settings(environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read every ``CAIRN_*`` setting, apply defaults, then apply ``overrides`` (used by tests)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, (default, parse) in _SETTINGS.items():
        raw = environ.get(f"CAIRN_{name}")
        values[name] = parse(raw) if raw not in (None, "") else default
    if overrides:
        values.update(overrides)
    embedded = values["DATABASE_URL"] is None
    if embedded:
        path = Path(os.environ.get("CAIRN_INSTANCE_PATH", "instance"))
        values["DATABASE_URL"] = f"sqlite:///{(path / 'cairn.db').as_posix()}"
    if values["AUTO_UPGRADE"] is None:
        # The embedded default upgrades itself so that a newcomer needs no extra command;
        # a configured (production) database must be upgraded by an operator.
        values["AUTO_UPGRADE"] = embedded
    if not values["SECRET_KEY"]:
        if values["ENV"] == "production" and not embedded:
            raise RuntimeError(
                "CAIRN_SECRET_KEY must be set when CAIRN_DATABASE_URL is set: every worker and host "
                "must sign sessions with the same key.")
        values["SECRET_KEY"] = _instance_secret(values["DATABASE_URL"])
    values["XAPI_PATH"] = "/" + values["XAPI_PATH"].strip("/")
    values["BASE_URL"] = values["BASE_URL"].rstrip("/")
    return values


def _instance_secret(database_url: str) -> str:
    """A stable per-instance secret for the embedded SQLite default, kept beside the database."""
    if database_url.startswith("sqlite:///") and ":memory:" not in database_url:
        db_path = Path(database_url.removeprefix("sqlite:///"))
        secret_path = db_path.parent / "secret_key"
        secret_path.parent.mkdir(parents=True, exist_ok=True)
        if not secret_path.exists():
            secret_path.write_text(secrets.token_urlsafe(48))
            secret_path.chmod(0o600)
        return secret_path.read_text().strip()
    return secrets.token_urlsafe(48)
