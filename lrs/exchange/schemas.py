"""Input schemas of the export and import admin pages."""
from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, pre_load, validate

from cairn.fields import String
from lrs.exchange.export import FORMATS


class ExportQuery(Schema):
    """Which statements to export, in which format (query string of the download endpoint)."""

    class Meta:
        unknown = EXCLUDE

    format = String(load_default="jsonl", validate=validate.OneOf(FORMATS))
    learner = fields.List(fields.Email(), load_default=list)
    agent = fields.List(String(validate=validate.Length(max=2048)), load_default=list)
    activity = fields.List(fields.Url(require_tld=False), load_default=list)
    registration = fields.List(fields.UUID(), load_default=list)

    @pre_load
    def _lists(self, data: Any, **_kwargs: Any) -> dict[str, Any]:
        getlist = getattr(data, "getlist", None)
        result: dict[str, Any] = {}
        for name in ("learner", "agent", "activity", "registration"):
            values = getlist(name) if getlist else data.get(name, [])
            result[name] = [v.strip() for v in values if str(v).strip()]
        if data.get("format"):
            result["format"] = data.get("format")
        return result


class ImportForm(Schema):
    class Meta:
        unknown = EXCLUDE

    replace_authority = fields.Boolean(load_default=False, truthy={"on", "true", "1"})
