"""marshmallow schemas for the xAPI statement resource's query parameters and responses."""
from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from lrs.formats import FORMATS
from lrs.validation import IRI_RE, UUID_RE, Validator, parse_timestamp


class StrictBoolean(fields.Boolean):
    truthy = {"true"}
    falsy = {"false"}


class Timestamp(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        parsed = parse_timestamp(value) if isinstance(value, str) else None
        if parsed is None:
            raise ValidationError("must be an ISO 8601 timestamp with a time zone")
        return parsed


class UUIDString(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not UUID_RE.match(text):
            raise ValidationError("must be a UUID")
        return text.lower()


class AgentJSON(fields.Field):
    """An Agent or identified Group given as JSON in a query parameter."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        from lrs.http import loads_strict
        try:
            agent = loads_strict(value)
        except ValueError as exc:
            raise ValidationError(f"not valid JSON ({exc})") from None
        if not isinstance(agent, dict):
            raise ValidationError("must be a JSON Agent object")
        try:
            Validator(self.metadata.get("version", "1.0.3")).actor(agent, attr or "agent")
        except Exception as exc:
            raise ValidationError(getattr(exc, "message", str(exc))) from None
        return agent


class StatementsQueryParams(Schema):
    """GET /statements parameters (xAPI 1.0.3 Communication 2.1.3)."""

    class Meta:
        unknown = RAISE

    statementId = UUIDString()
    voidedStatementId = UUIDString()
    agent = AgentJSON()
    verb = fields.String(validate=validate.Regexp(IRI_RE, error="must be an IRI"))
    activity = fields.String(validate=validate.Regexp(IRI_RE, error="must be an IRI"))
    registration = UUIDString()
    related_activities = StrictBoolean(load_default=False)
    related_agents = StrictBoolean(load_default=False)
    since = Timestamp()
    until = Timestamp()
    # Any size (xAPI: the server returns at most its own maximum); clamped before it reaches a query.
    limit = fields.Integer(load_default=0, validate=validate.Range(min=0))
    format = fields.String(load_default="exact", validate=validate.OneOf(FORMATS))
    attachments = StrictBoolean(load_default=False)
    ascending = StrictBoolean(load_default=False)
    cursor = fields.String()

    @validates_schema
    def _single_or_query(self, data: dict, **kwargs: Any) -> None:
        if "statementId" in data and "voidedStatementId" in data:
            raise ValidationError("give statementId or voidedStatementId, not both", "statementId")
        if "statementId" in data or "voidedStatementId" in data:
            extra = set(self.context.get("given", data)) - {"statementId", "voidedStatementId", "format",
                                                             "attachments"}
            if extra:
                raise ValidationError("only format and attachments may accompany statementId or "
                                      f"voidedStatementId (not {', '.join(sorted(extra))})", "statementId")


class StatementPutParams(Schema):
    class Meta:
        unknown = RAISE

    statementId = UUIDString(required=True)


class AboutSchema(Schema):
    version = fields.List(fields.String())
    extensions = fields.Dict()


class StatementResultSchema(Schema):
    statements = fields.List(fields.Raw())
    more = fields.String()
