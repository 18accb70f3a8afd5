"""Request parameters of the document, Activities and Agents resources (xAPI 1.0.3 Communication 2.3-2.7).

Each schema turns the query string (or the form of the alternate request syntax) into plain values;
a missing or malformed parameter is a 400 naming the parameter.
"""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields

from lrs.errors import StatementInvalid
from lrs.validation import MAX_IDENTIFIER_BYTES, Validator, too_wide

IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S*$")


class IRIField(fields.String):
    """An IRI: a string with a scheme (``http://...``, ``urn:...``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not IRI_RE.match(text):
            raise ValidationError(f"must be an IRI, not {text!r}")
        if too_wide(text):
            raise ValidationError(f"is {len(text.encode()):,} bytes long; this LRS stores identifiers "
                                  f"of up to {MAX_IDENTIFIER_BYTES:,} bytes (UTF-8)")
        return text


class JSONObjectField(fields.Field):
    """A JSON object sent as a parameter string (``agent={"mbox": "mailto:..."}``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict:
        if isinstance(value, dict):
            return value
        try:
            parsed = json.loads(value)
        except (TypeError, ValueError):
            raise ValidationError("must be a JSON object (is it URL-encoded JSON?)") from None
        if not isinstance(parsed, dict):
            raise ValidationError("must be a JSON object")
        return parsed


class AgentField(JSONObjectField):
    """An Agent (or identified Group) as a JSON parameter, checked by the statement rules for actors."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict:
        agent = super()._deserialize(value, attr, data, **kwargs)
        try:
            Validator(self.parent.context.get("version", "1.0.3")).actor(agent, "agent")
        except StatementInvalid as exc:
            raise ValidationError(exc.message) from None
        return agent


class TimestampField(fields.Field):
    """An ISO 8601 timestamp; one without a time zone is taken as UTC."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            parsed = datetime.fromisoformat(str(value).strip().replace("z", "Z"))
        except ValueError:
            raise ValidationError(f"must be an ISO 8601 timestamp, not {value!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class DocumentIdField(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text == "":
            raise ValidationError("must not be empty")
        return text


class _Params(Schema):
    class Meta:
        # The alternate request syntax puts headers and content beside the parameters.
        unknown = EXCLUDE


class StateParams(_Params):
    activity_id = IRIField(required=True, data_key="activityId")
    agent = AgentField(required=True)
    registration = fields.UUID(load_default=None)
    state_id = DocumentIdField(load_default=None, data_key="stateId")
    since = TimestampField(load_default=None)


class ActivityProfileParams(_Params):
    activity_id = IRIField(required=True, data_key="activityId")
    profile_id = DocumentIdField(load_default=None, data_key="profileId")
    since = TimestampField(load_default=None)


class AgentProfileParams(_Params):
    agent = AgentField(required=True)
    profile_id = DocumentIdField(load_default=None, data_key="profileId")
    since = TimestampField(load_default=None)


class ActivityParams(_Params):
    activity_id = IRIField(required=True, data_key="activityId")


class AgentParams(_Params):
    agent = AgentField(required=True)


class PersonSchema(Schema):
    """The Person object of the Agents resource (Communication 2.4): every property an array."""

    objectType = fields.Constant("Person")  # noqa: N815 - the xAPI property name
    name = fields.List(fields.String())
    mbox = fields.List(fields.String())
    mbox_sha1sum = fields.List(fields.String())
    openid = fields.List(fields.String())
    account = fields.List(fields.Dict())
