"""The dependency direction cairn <- lrs <- pathways <- lti, checked by import-linter."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([lint, str(ROOT / "setup.cfg")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_wsgi_is_two_lines() -> None:
    lines = [line for line in (ROOT / "wsgi.py").read_text().splitlines() if line.strip()]
    assert lines == ["from cairn import create_app", "app = create_app()"]


def test_ruff_finds_nothing() -> None:
    """The style's checks (ruff.toml: pycodestyle, pyflakes, bugbear, pyupgrade; lines of 110)."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    result = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", "."], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
