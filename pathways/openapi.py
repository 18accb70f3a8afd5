"""The OpenAPI 3 document of the pathways JSON API, built from the routes and their marshmallow schemas."""
from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for converter, name in _PARAM.findall(rule):
        params.append({"name": name, "in": "path", "required": True,
                       "schema": {"type": "integer" if converter == "int" else "string"}})
    return "/api" + _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule), params


def build_spec(routes: list[Any]) -> dict[str, Any]:
    """OpenAPI 3.0 for every registered route: parameters, request body, responses and errors."""
    spec = APISpec(title="Cairn pathways API", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Learning pathways, progress derived from xAPI statements, reports."})
    spec.components.schema("Error", {"type": "object", "properties": {
        "error": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "object", "description": "invalid input: field name -> messages"}}})
    spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie", "name": "cairn_session"})
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path, params = _path(route.rule)
        operation: dict[str, Any] = {"summary": route.summary, "tags": [route.tag],
                                     "parameters": list(params), "responses": {}}
        if route.query is not None:
            operation["parameters"].append({"in": "query", "schema": route.query})
        if route.body is not None:
            operation["requestBody"] = {"required": True,
                                        "content": {"application/json": {"schema": route.body}}}
        success: dict[str, Any] = {"description": "OK"}
        if route.response is not None:
            schema: Any = route.response(many=True) if route.many else route.response
            success["content"] = {"application/json": {"schema": schema}}
            if route.csv:
                success["content"]["text/csv"] = {"schema": {"type": "string"}}
        operation["responses"][str(route.status)] = (success if route.status != 204
                                                     else {"description": "Done"})
        error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        if route.body is not None or route.query is not None:
            operation["responses"]["400"] = {"description": "Invalid input (the field is named)", **error}
            operation["responses"]["422"] = {"description": "Breaks a domain rule (the field is named)",
                                             **error}
        if not route.public:
            operation["security"] = [{"session": []}]
            operation["responses"]["401"] = {"description": "Not signed in", **error}
            operation["responses"]["403"] = {"description": "Not allowed for this user", **error}
        if "{" in path:
            operation["responses"]["404"] = {"description": "Not found", **error}
        paths.setdefault(path, {})[route.method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
