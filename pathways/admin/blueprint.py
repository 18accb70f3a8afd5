"""The routing table of the pathways administration (views live in the sibling modules)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pathways_admin", __name__, url_prefix="/admin", template_folder="../templates")


@bp.app_template_filter("labelled")
def labelled(values: object) -> list[tuple[str, str]]:
    """Choices from code values: ``training_attendance`` shows as "training attendance"."""
    return [(str(v), str(v).replace("_", " ")) for v in values]  # type: ignore[attr-defined]


@bp.app_template_filter("category_choices")
def category_choices(categories: object) -> list[tuple[int, str]]:
    return [(c.id, " › ".join(c.path)) for c in categories]  # type: ignore[attr-defined]


@bp.app_template_filter("title_choices")
def title_choices(items: object) -> list[tuple[int, str]]:
    return [(i.id, i.title) for i in items]  # type: ignore[attr-defined]


@bp.app_template_filter("name_choices")
def name_choices(items: object) -> list[tuple[int, str]]:
    return [(i.id, i.name + (f" ({i.email})" if getattr(i, "email", None) else "")) for i in items]  # type: ignore[attr-defined]
