"""The ``format`` of statements returned by GET /statements (xAPI 1.0.3 Communication 2.1.3).

``exact`` is the statement as stored; ``ids`` keeps only identifiers of agents, groups, activities
and verbs; ``canonical`` keeps one language per language map, the best for ``Accept-Language``.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

FORMATS = ("exact", "ids", "canonical")
IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")


def format_statement(statement: dict, fmt: str, languages: Sequence[str] = ()) -> dict:
    if fmt == "exact":
        return statement
    result = copy.deepcopy(statement)
    if fmt == "ids":
        _ids_statement(result)
    else:
        _canonical(result, list(languages))
    return result


def _ids_agent(agent: Any) -> Any:
    if not isinstance(agent, dict):
        return agent
    reduced = {k: agent[k] for k in ("objectType", *IFI_KEYS) if k in agent}
    if agent.get("objectType") == "Group" and "member" in agent and not any(k in agent for k in IFI_KEYS):
        reduced["member"] = [_ids_agent(m) for m in agent["member"]]
    return reduced


def _ids_object(obj: dict) -> dict:
    object_type = obj.get("objectType", "Activity")
    if object_type == "Activity":
        return {"id": obj["id"]}
    if object_type in ("Agent", "Group"):
        return _ids_agent(obj)
    if object_type == "SubStatement":
        sub = dict(obj)
        _ids_statement(sub)
        return sub
    return obj


def _ids_statement(statement: dict) -> None:
    for key in ("actor", "authority"):
        if key in statement:
            statement[key] = _ids_agent(statement[key])
    if "verb" in statement:
        statement["verb"] = {"id": statement["verb"]["id"]}
    if "object" in statement:
        statement["object"] = _ids_object(statement["object"])
    context = statement.get("context")
    if isinstance(context, dict):
        for key in ("instructor", "team"):
            if key in context:
                context[key] = _ids_agent(context[key])
        activities = context.get("contextActivities")
        if isinstance(activities, dict):
            for key, value in activities.items():
                activities[key] = ([_ids_object(a) for a in value] if isinstance(value, list)
                                   else _ids_object(value))
        for entry in context.get("contextAgents", []) or []:
            entry["agent"] = _ids_agent(entry.get("agent"))
        for entry in context.get("contextGroups", []) or []:
            entry["group"] = _ids_agent(entry.get("group"))


def best_language(language_map: dict, languages: list[str]) -> dict:
    """Keep the single entry that best matches the accepted ``languages`` (first entry otherwise)."""
    if not language_map:
        return language_map
    lowered = {k.lower(): k for k in language_map}
    for wanted in languages:
        wanted = wanted.lower()
        if wanted == "*":
            break
        if wanted in lowered:
            key = lowered[wanted]
            return {key: language_map[key]}
        for tag, key in lowered.items():
            if tag.split("-")[0] == wanted.split("-")[0]:
                return {key: language_map[key]}
    key = next(iter(language_map))
    return {key: language_map[key]}


def _canonical(value: Any, languages: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("display", "name", "description") and isinstance(item, dict) and all(
                    isinstance(v, str) for v in item.values()):
                value[key] = best_language(item, languages)
            elif key != "extensions":
                _canonical(item, languages)
    elif isinstance(value, list):
        for item in value:
            _canonical(item, languages)
