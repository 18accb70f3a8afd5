"""Marshmallow schemas for LTI requests and the administration API."""
from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load, pre_load, validate

from cairn.fields import Integer, String


class LoginInitiation(Schema):
    """Third-party initiated login (LTI Core §4.1.1), by GET or POST."""

    class Meta:
        unknown = EXCLUDE

    iss = String(load_default="")
    login_hint = String(load_default="")
    target_link_uri = String(load_default="")
    lti_message_hint = String(load_default="")
    lti_deployment_id = String(load_default="")
    client_id = String(load_default="")
    lti_storage_target = String(load_default="")


class LaunchForm(Schema):
    """The authentication response the platform posts (form_post), or our own storage-checked re-post."""

    class Meta:
        unknown = EXCLUDE

    id_token = String(load_default="")
    state = String(load_default="")
    lti_storage_target = String(load_default="")
    lti_storage_state = String(load_default=None, allow_none=True)


class DeepLinkingChoice(Schema):
    class Meta:
        unknown = EXCLUDE

    items = fields.List(String(validate=validate.Length(max=100)), load_default=list)

    @pre_load
    def _from_form(self, data: Any, **_: Any) -> Any:
        if hasattr(data, "getlist"):
            return {"items": data.getlist("items")}
        return data


class RegistrationStart(Schema):
    """LTI Dynamic Registration §3.3: the platform opens the tool with these parameters."""

    class Meta:
        unknown = EXCLUDE

    openid_configuration = fields.Url(required=True, require_tld=False)
    registration_token = String(load_default=None)
    cairn_token = String(load_default=None)


def _split_ids(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.replace(",", " ").split() if v.strip()]
    return [str(v) for v in value or []]


class PlatformInput(Schema):
    """A platform registration, from the admin form or the JSON API."""

    class Meta:
        unknown = EXCLUDE

    issuer = String(required=True, validate=validate.Length(min=1, max=2048))
    client_id = String(required=True, validate=validate.Length(min=1, max=255))
    name = String(load_default="", validate=validate.Length(max=200))
    auth_login_url = fields.Url(required=True, require_tld=False)
    token_url = fields.Url(required=True, require_tld=False)
    jwks_url = fields.Url(required=True, require_tld=False)
    auth_audience = String(load_default=None, allow_none=True)
    deployment_ids = fields.Raw(load_default=list)

    @pre_load
    def _from_form(self, data: Any, **_: Any) -> Any:
        if hasattr(data, "getlist"):
            data = {k: v for k, v in data.items() if k != "csrf_token"}
        return data

    @post_load
    def _normalise(self, data: dict, **_: Any) -> dict:
        data["deployment_ids"] = _split_ids(data.get("deployment_ids"))
        data["auth_audience"] = data.get("auth_audience") or None
        return data


class DeploymentOutput(Schema):
    deployment_id = String()


class PlatformOutput(Schema):
    id = Integer()
    issuer = String()
    client_id = String()
    name = String()
    auth_login_url = String()
    token_url = String()
    jwks_url = String()
    auth_audience = String(allow_none=True)
    deployment_ids = fields.Method("_deployment_ids")
    created_at = fields.DateTime()

    def _deployment_ids(self, platform: Any) -> list[str]:
        return [d.deployment_id for d in platform.deployments]


class RosterSyncOutput(Schema):
    context_id = String()
    active = Integer()
    inactive = Integer()
    pages = Integer()
