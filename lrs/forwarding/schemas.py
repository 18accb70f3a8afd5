"""Form schemas of the forwarding admin page."""
from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, pre_load, validate

from cairn.fields import String
from lrs.forwarding.targets import SUPPORTED_VERSIONS


def _lines(value: Any) -> list[str]:
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


class TargetForm(Schema):
    """The "add a forwarding target" form; list fields are one value per line."""

    class Meta:
        unknown = EXCLUDE

    name = String(load_default=None, validate=validate.Length(max=200))
    endpoint = fields.Url(required=True, schemes={"http", "https"}, require_tld=False)
    key = String(required=True, validate=validate.Length(min=1, max=500))
    secret = String(required=True, validate=validate.Length(min=1, max=500))
    xapi_version = String(load_default="1.0.3", validate=validate.OneOf(SUPPORTED_VERSIONS))
    verbs = fields.List(fields.Url(require_tld=False), load_default=list)
    activities = fields.List(fields.Url(require_tld=False), load_default=list)
    actors = fields.List(fields.Email(), load_default=list)
    pathways = fields.List(fields.Url(require_tld=False), load_default=list)
    from_now = fields.Boolean(load_default=False)

    @pre_load
    def _split_lines(self, data: Any, **_kwargs: Any) -> dict[str, Any]:
        data = {k: v for k, v in dict(data).items() if v != "" or k in {"endpoint", "key", "secret"}}
        for name in ("verbs", "activities", "actors", "pathways"):
            if name in data:
                data[name] = _lines(data[name])
        if "from_now" in data:
            data["from_now"] = data["from_now"] in {"on", "true", "1", True}
        return data
