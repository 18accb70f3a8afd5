"""The routing tables of the Learning Portal (views in the sibling modules)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="../templates")


@bp.app_template_filter("shuffle_stable")
def shuffle_stable(items: list, seed: int) -> list:
    """Items in an order that hides the answer but stays the same on reload (seeded by the question)."""
    import random
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    if len(shuffled) > 1 and shuffled == list(items):
        shuffled = shuffled[1:] + shuffled[:1]
    return shuffled
