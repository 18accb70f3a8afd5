"""The routing tables of the Learning Portal (views in the sibling modules)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="../templates")
# Pages anyone may open without signing in (certificate verification).
public = Blueprint("portal_public", __name__, url_prefix="/certificates", template_folder="../templates")
