"""The one public page of `pathways`: certificate verification (anyone with the code, no sign-in)."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from cairn.db import get_session
from pathways.records import verify_certificate

bp = Blueprint("pathways_public", __name__, template_folder="templates")


@bp.get("/certificates/verify", endpoint="verify")
@bp.get("/certificates/verify/<code>", endpoint="verify_code")
def verify(code: str | None = None) -> tuple[str, int]:
    code = (code or request.args.get("code", "")).strip()[:64] or None
    award = verify_certificate(get_session(), code) if code else None
    status = award.status if award else "unknown"
    return render_template("pathways/verify.html", code=code, award=award, status=status), \
        (404 if code and award is None else 200)
