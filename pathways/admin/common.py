"""Small helpers shared by the administration views."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import flash, redirect
from marshmallow import Schema

from cairn.errors import CairnError
from cairn.pages import load_form

T = TypeVar("T")
Errors = dict[str, list[str]]

# Form fields that carry a service value under another name (percentages for scaled scores).
_FORM_FIELD = {"min_score": "min_score_percent", "mastery_score": "mastery_percent", "due_at": "due_on"}


def errors_from(exc: CairnError) -> Errors:
    """A domain error as form errors: beside its field when it names one, else for the whole form."""
    fields_ = exc.details.get("fields") if isinstance(exc.details, dict) else None
    if isinstance(fields_, dict) and fields_:
        return {_FORM_FIELD.get(name, name): list(msgs) if isinstance(msgs, list | tuple) else [str(msgs)]
                for name, msgs in fields_.items()}
    return {"_schema": [exc.message]}


def handle_form(schema: Schema, action: Callable[[Any], T], success_message: str | Callable[[T], str],
                redirect_to: str | Callable[[T], str], show_errors: Callable[[Errors], Any], *,
                errors_of: Callable[[CairnError], Errors] = errors_from) -> Any:
    """A posted form: load it with ``schema`` and call ``action`` with what it loaded.

    When that succeeds, flash ``success_message`` and redirect to ``redirect_to`` (either may be a
    function of what ``action`` returned). When the form does not load, or ``action`` raises a
    ``CairnError`` (turned into form errors by ``errors_of``), answer ``show_errors(errors)``.
    """
    data, errors = load_form(schema)
    if data is not None:
        try:
            result = action(data)
        except CairnError as exc:
            errors = errors_of(exc)
        else:
            flash(success_message(result) if callable(success_message) else success_message)
            return redirect(redirect_to(result) if callable(redirect_to) else redirect_to)
    return show_errors(errors)
