"""The LTI 1.3 tool. The only package that imports pylti1p3."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Attach the LTI blueprints and CLI commands to ``app``."""
