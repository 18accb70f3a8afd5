"""Helpers shared by every HTML page: parse a posted form with a marshmallow schema.

Pages show a form again with the errors beside the fields (400) instead of an error page, so they
parse with ``load_form`` rather than letting ``ValidationError`` reach the error handler.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError, fields
from werkzeug.datastructures import MultiDict

from cairn.fields import refuse_nul


def form_values(schema: Schema, source: MultiDict[str, str] | None = None) -> dict[str, Any]:
    """The posted values, as lists for the schema's List fields and as strings otherwise."""
    source = request.form if source is None else source
    values: dict[str, Any] = {}
    for key in source:
        field = schema.fields.get(key)
        values[key] = source.getlist(key) if isinstance(field, fields.List) else source.get(key)
    return values


def load_form(schema: Schema,
              source: MultiDict[str, str] | None = None) -> tuple[dict[str, Any] | None, dict]:
    """``(data, {})`` when the form is valid, else ``(None, errors by field)``."""
    try:
        return schema.load(form_values(schema, source)), {}
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return None, messages


class KeyValueLines(fields.Field):
    """``key = value`` lines (a textarea) as a dict of strings; blank lines are ignored."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> dict:
        if isinstance(value, dict):
            value = {str(k): str(v) for k, v in value.items()}
            refuse_nul("".join(f"{k}{v}" for k, v in value.items()))
            return value
        refuse_nul(str(value or ""))
        result: dict[str, str] = {}
        for number, line in enumerate(str(value or "").splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, val = line.partition("=")
            if not sep or not key.strip():
                raise ValidationError(f"line {number}: write it as name = value")
            result[key.strip()] = val.strip()
        return result

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        return "\n".join(f"{k} = {v}" for k, v in (value or {}).items())


class Lines(fields.Field):
    """One value per line (a textarea) as a list of non-blank, stripped strings."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> list:
        if isinstance(value, list):
            refuse_nul("".join(str(v) for v in value))
            return [str(v).strip() for v in value if str(v).strip()]
        refuse_nul(str(value or ""))
        return [line.strip() for line in str(value or "").splitlines() if line.strip()]
