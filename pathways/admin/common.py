"""Small helpers shared by the administration views."""
from __future__ import annotations

from typing import Any

from cairn.errors import CairnError

# Form fields that carry a service value under another name (percentages for scaled scores).
_FORM_FIELD = {"min_score": "min_score_percent", "mastery_score": "mastery_percent", "due_at": "due_on"}


def errors_from(exc: CairnError) -> dict[str, list[str]]:
    """A domain error as form errors: beside its field when it names one, else for the whole form."""
    fields_ = exc.details.get("fields") if isinstance(exc.details, dict) else None
    if isinstance(fields_, dict) and fields_:
        return {_FORM_FIELD.get(name, name): list(msgs) if isinstance(msgs, list | tuple) else [str(msgs)]
                for name, msgs in fields_.items()}
    return {"_schema": [exc.message]}


def choices(items: Any, label: str = "name") -> list[tuple[Any, str]]:
    return [(item.id, getattr(item, label)) for item in items]
