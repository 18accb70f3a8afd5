"""A Cairn with one more route that reports its worker's garbage-collector settings (test_serving)."""
from __future__ import annotations

import gc

from flask import Flask, jsonify

from cairn import create_app


def create() -> Flask:
    app = create_app()

    @app.get("/test-gc-probe")
    def gc_probe():  # noqa: ANN202
        return jsonify(frozen=gc.get_freeze_count(), threshold=list(gc.get_threshold()))

    return app
