"""Statement validation: every MUST of the xAPI data model (1.0.3 section 2 and 4; xAPI 2.0 part 2).

Each check raises ``StatementInvalid`` with the place (``actor.mbox``) and the rule broken, so a
client can tell what to fix. ``version`` ("1.0.3" or "2.0.0") is the version of the request; 2.0-only
rules (context agents and groups, ``2.0.x`` statement versions, RFC 3339 timestamps) apply then.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from cairn import jsoncodec
from lrs.errors import StatementInvalid

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$")
IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
MEDIA_TYPE_RE = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;.*)?$")
SHA1_RE = re.compile(r"^[0-9a-fA-F]{40}$")
SHA2_RE = re.compile(r"^[0-9a-fA-F]{56}$|^[0-9a-fA-F]{64}$|^[0-9a-fA-F]{96}$|^[0-9a-fA-F]{128}$")
MBOX_RE = re.compile(r"^mailto:[^@\s]+@[^@\s]+$")
# RFC 5646 language tag (a pragmatic subset: language, script, region, variants, private use).
LANG_RE = re.compile(
    r"^(?:(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-[xX](?:-[A-Za-z0-9]{1,8})+)?|[xX](?:-[A-Za-z0-9]{1,8})+|i-[A-Za-z]+)$")
DURATION_RE = re.compile(
    r"^P(?:(?=\d|T)(?:\d+(?:[.,]\d+)?Y)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?D)?"
    r"(?:T(?=\d)(?:\d+(?:[.,]\d+)?H)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?S)?)?|\d+(?:[.,]\d+)?W)$")
TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:?\d{2}|[+-]\d{2})?$")
NEGATIVE_ZERO_OFFSET_RE = re.compile(r"-00(:?00)?$")
STATEMENT_VERSION_RE = {"1": re.compile(r"^1\.0(\.\d+)?$"), "2": re.compile(r"^(1\.0(\.\d+)?|2\.0(\.\d+)?)$")}

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"
SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
INTERACTION_TYPES = {
    "true-false": (), "choice": ("choices",), "fill-in": (), "long-fill-in": (),
    "matching": ("source", "target"), "performance": ("steps",), "sequencing": ("choices",),
    "likert": ("scale",), "numeric": (), "other": (),
}
COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")

STATEMENT_KEYS = {"id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority",
                  "version", "attachments"}
SUBSTATEMENT_KEYS = {"objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"}
AGENT_KEYS = {"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"}
GROUP_KEYS = AGENT_KEYS | {"member"}
IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")
ACTIVITY_DEFINITION_KEYS = {"name", "description", "type", "moreInfo", "extensions", "interactionType",
                            "correctResponsesPattern", *COMPONENT_LISTS}
RESULT_KEYS = {"score", "success", "completion", "response", "duration", "extensions"}
SCORE_KEYS = {"scaled", "raw", "min", "max"}
CONTEXT_KEYS = {"registration", "instructor", "team", "contextActivities", "revision", "platform", "language",
                "statement", "extensions"}
CONTEXT_KEYS_2 = CONTEXT_KEYS | {"contextAgents", "contextGroups"}
CONTEXT_ACTIVITY_KEYS = {"parent", "grouping", "category", "other"}
ATTACHMENT_KEYS = {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}


def fail(path: str, rule: str) -> StatementInvalid:
    return StatementInvalid(f"{path}: {rule}")


class _FoundValid:
    """Serialised actors, verbs and activities found valid, shared by every ``Validator`` of the process.

    A stream of statements repeats them a lot, within a batch and across requests (the same learners,
    verbs, courses and modules), and their validity depends on nothing but their value: none of
    their rules differs between xAPI versions. Only values found valid are kept, as their exact
    serialisation, so a value that differs in any way is validated afresh. Bounded by bytes (an
    entry's serialisation plus ``ENTRY_OVERHEAD``): when the next would pass ``max_bytes`` the set
    starts again empty, so a worker's memory stays flat whatever it is sent.
    """

    ENTRY_OVERHEAD = 80  # a bytes object's header and its set slot, about

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._keys: set[bytes] = set()
        self._bytes = 0

    def __contains__(self, key: bytes) -> bool:
        return key in self._keys

    def add(self, key: bytes) -> None:
        size = len(key) + self.ENTRY_OVERHEAD
        if self._bytes + size > self.max_bytes:
            # A new set rather than clear(): a thread between its check and its add sees either.
            self._keys, self._bytes = set(), 0
        self._keys.add(key)
        self._bytes += size

    @property
    def size_bytes(self) -> int:
        return self._bytes


FOUND_VALID = _FoundValid(max_bytes=8 * 1024 * 1024)


class Validator:
    """Validates statements for one request version; reusable for a whole batch."""

    def __init__(self, version: str = "1.0.3") -> None:
        self.version = version
        self.v2 = version.startswith("2.")
        self._valid = FOUND_VALID

    # -- entry points ---------------------------------------------------------------------------

    def statement(self, statement: Any, path: str = "statement") -> None:
        """Validate one top-level statement (as sent: ``stored``/``authority`` may be present)."""
        self._object(statement, path)
        self._no_nulls(statement, path)
        self._keys(statement, STATEMENT_KEYS, path)
        if "id" in statement:
            self._uuid(statement["id"], f"{path}.id")
        self._statement_body(statement, path, substatement=False)
        if "stored" in statement:
            self.timestamp(statement["stored"], f"{path}.stored")
        if "authority" in statement:
            self._authority(statement["authority"], f"{path}.authority")
        if "version" in statement:
            version = statement["version"]
            pattern = STATEMENT_VERSION_RE["2" if self.v2 else "1"]
            if not isinstance(version, str) or not pattern.match(version):
                raise fail(f"{path}.version", "must be a supported xAPI version such as 1.0.3"
                           + (" or 2.0.0" if self.v2 else ""))

    def _statement_body(self, statement: dict, path: str, *, substatement: bool) -> None:
        for required in ("actor", "verb", "object"):
            if required not in statement:
                raise fail(f"{path}.{required}", "is required")
        self.actor(statement["actor"], f"{path}.actor")
        self._verb(statement["verb"], f"{path}.verb")
        self._statement_object(statement["object"], f"{path}.object", substatement=substatement)
        if "result" in statement:
            self._result(statement["result"], f"{path}.result")
        if "context" in statement:
            self._context(statement["context"], statement["object"], f"{path}.context")
        if "timestamp" in statement:
            self.timestamp(statement["timestamp"], f"{path}.timestamp")
        if "attachments" in statement:
            self._attachments(statement["attachments"], f"{path}.attachments")
        verb_id = statement["verb"].get("id")
        if verb_id == VOIDED_VERB:
            target = statement["object"]
            if target.get("objectType") != "StatementRef":
                raise fail(f"{path}.object",
                           "a voiding statement's object must be a StatementRef (xAPI 2.3.2)")

    # -- agents and groups ----------------------------------------------------------------------

    def actor(self, actor: Any, path: str) -> None:
        self._object(actor, path)
        key = _cache_key(b"actor", actor)
        if key is not None and key in self._valid:
            return
        self._actor(actor, path)
        if key is not None:
            self._valid.add(key)

    def _actor(self, actor: dict, path: str) -> None:
        object_type = actor.get("objectType", "Agent")
        if object_type == "Agent":
            self.agent(actor, path)
        elif object_type == "Group":
            self.group(actor, path)
        else:
            raise fail(f"{path}.objectType", "must be Agent or Group")

    def agent(self, agent: Any, path: str) -> None:
        self._object(agent, path)
        self._keys(agent, AGENT_KEYS, path)
        if agent.get("objectType", "Agent") != "Agent":
            raise fail(f"{path}.objectType", "must be Agent")
        if self._count_ifis(agent, path) != 1:
            raise fail(path, "an Agent must have exactly one inverse functional identifier "
                             "(mbox, mbox_sha1sum, openid or account)")
        self._optional_string(agent, "name", path)

    def group(self, group: Any, path: str) -> None:
        self._object(group, path)
        self._keys(group, GROUP_KEYS, path)
        if group.get("objectType") != "Group":
            raise fail(f"{path}.objectType", "a Group must have objectType Group")
        ifis = self._count_ifis(group, path)
        if ifis > 1:
            raise fail(path, "a Group must not have more than one inverse functional identifier")
        self._optional_string(group, "name", path)
        if "member" in group:
            members = group["member"]
            if not isinstance(members, list):
                raise fail(f"{path}.member", "must be an array of Agents")
            for index, member in enumerate(members):
                self._object(member, f"{path}.member[{index}]")
                if member.get("objectType") == "Group":
                    raise fail(f"{path}.member[{index}]", "a Group's members must be Agents, not Groups")
                self.agent(member, f"{path}.member[{index}]")
        if ifis == 0:
            if "member" not in group:
                raise fail(f"{path}.member", "an anonymous Group must list its members")
            if not group["member"]:
                raise fail(f"{path}.member", "an anonymous Group must have at least one member")

    def _count_ifis(self, agent: dict, path: str) -> int:
        count = 0
        if "mbox" in agent:
            count += 1
            mbox = agent["mbox"]
            if not isinstance(mbox, str) or not MBOX_RE.match(mbox):
                raise fail(f"{path}.mbox", "must be a mailto: IRI (mailto:name@example.org)")
        if "mbox_sha1sum" in agent:
            count += 1
            if not isinstance(agent["mbox_sha1sum"], str) or not SHA1_RE.match(agent["mbox_sha1sum"]):
                raise fail(f"{path}.mbox_sha1sum", "must be a hex-encoded SHA-1 of a mailto IRI")
        if "openid" in agent:
            count += 1
            self.iri(agent["openid"], f"{path}.openid")
        if "account" in agent:
            count += 1
            account = agent["account"]
            self._object(account, f"{path}.account")
            self._keys(account, {"homePage", "name"}, f"{path}.account")
            if "homePage" not in account:
                raise fail(f"{path}.account.homePage", "is required")
            self.iri(account["homePage"], f"{path}.account.homePage")
            if not isinstance(account.get("name"), str):
                raise fail(f"{path}.account.name", "is required and must be a string")
        return count

    def _authority(self, authority: Any, path: str) -> None:
        self.actor(authority, path)
        if authority.get("objectType") == "Group":
            if any(key in authority for key in IFI_KEYS):
                raise fail(path, "an authority Group must be anonymous (an OAuth consumer and a user, "
                                 "xAPI 1.0.3 Data 2.4.9)")
            members = authority.get("member", [])
            if "member" not in authority or len(members) != 2:
                raise fail(path, "an authority Group must be an anonymous Group of exactly two Agents "
                                 "(an OAuth consumer and a user)")

    # -- verbs, objects -------------------------------------------------------------------------

    def _verb(self, verb: Any, path: str) -> None:
        self._object(verb, path)
        key = _cache_key(b"verb", verb)
        if key is not None and key in self._valid:
            return
        self._verb_once(verb, path)
        if key is not None:
            self._valid.add(key)

    def _verb_once(self, verb: dict, path: str) -> None:
        self._keys(verb, {"id", "display"}, path)
        if "id" not in verb:
            raise fail(f"{path}.id", "is required")
        self.iri(verb["id"], f"{path}.id")
        if "display" in verb:
            self.language_map(verb["display"], f"{path}.display")

    def _statement_object(self, obj: Any, path: str, *, substatement: bool) -> None:
        self._object(obj, path)
        object_type = obj.get("objectType", "Activity")
        if object_type == "Activity":
            self.activity(obj, path)
        elif object_type == "Agent":
            self.agent(obj, path)
        elif object_type == "Group":
            self.group(obj, path)
        elif object_type == "StatementRef":
            self._keys(obj, {"objectType", "id"}, path)
            if "id" not in obj:
                raise fail(f"{path}.id", "is required")
            self._uuid(obj["id"], f"{path}.id")
        elif object_type == "SubStatement":
            if substatement:
                raise fail(f"{path}.objectType", "a SubStatement must not contain a SubStatement")
            self._keys(obj, SUBSTATEMENT_KEYS, path)
            self._statement_body(obj, path, substatement=True)
        else:
            raise fail(f"{path}.objectType", "must be Activity, Agent, Group, StatementRef or SubStatement")

    def activity(self, activity: Any, path: str) -> None:
        self._object(activity, path)
        key = _cache_key(b"activity", activity)
        if key is not None and key in self._valid:
            return
        self._activity(activity, path)
        if key is not None:
            self._valid.add(key)

    def _activity(self, activity: dict, path: str) -> None:
        self._keys(activity, {"objectType", "id", "definition"}, path)
        if activity.get("objectType", "Activity") != "Activity":
            raise fail(f"{path}.objectType", "must be Activity")
        if "id" not in activity:
            raise fail(f"{path}.id", "an Activity must have an id")
        self.iri(activity["id"], f"{path}.id")
        if "definition" in activity:
            self._definition(activity["definition"], f"{path}.definition")

    def _definition(self, definition: Any, path: str) -> None:
        self._object(definition, path)
        self._keys(definition, ACTIVITY_DEFINITION_KEYS, path)
        for key in ("name", "description"):
            if key in definition:
                self.language_map(definition[key], f"{path}.{key}")
        if "type" in definition:
            self.iri(definition["type"], f"{path}.type")
        if "moreInfo" in definition:
            self.iri(definition["moreInfo"], f"{path}.moreInfo")
        if "extensions" in definition:
            self.extensions(definition["extensions"], f"{path}.extensions")
        interaction_type = definition.get("interactionType")
        if interaction_type is None:
            for key in ("correctResponsesPattern", *COMPONENT_LISTS):
                if key in definition:
                    raise fail(f"{path}.{key}", "needs an interactionType")
            return
        if not isinstance(interaction_type, str) or interaction_type not in INTERACTION_TYPES:
            raise fail(f"{path}.interactionType", f"must be one of {', '.join(INTERACTION_TYPES)}")
        if "correctResponsesPattern" in definition:
            pattern = definition["correctResponsesPattern"]
            if not isinstance(pattern, list) or not all(isinstance(p, str) for p in pattern):
                raise fail(f"{path}.correctResponsesPattern", "must be an array of strings")
        allowed = INTERACTION_TYPES[interaction_type]
        for key in COMPONENT_LISTS:
            if key not in definition:
                continue
            if key not in allowed:
                raise fail(f"{path}.{key}", f"is not allowed for interactionType {interaction_type}")
            components = definition[key]
            if not isinstance(components, list):
                raise fail(f"{path}.{key}", "must be an array of interaction components")
            seen: set[str] = set()
            for index, component in enumerate(components):
                where = f"{path}.{key}[{index}]"
                self._object(component, where)
                self._keys(component, {"id", "description"}, where)
                if not isinstance(component.get("id"), str) or not component["id"]:
                    raise fail(f"{where}.id", "is required and must be a non-empty string")
                if component["id"] in seen:
                    raise fail(f"{where}.id", "interaction component ids must be unique within the list")
                seen.add(component["id"])
                if "description" in component:
                    self.language_map(component["description"], f"{where}.description")

    # -- result, context, attachments -----------------------------------------------------------

    def _result(self, result: Any, path: str) -> None:
        self._object(result, path)
        self._keys(result, RESULT_KEYS, path)
        if "score" in result:
            self._score(result["score"], f"{path}.score")
        for key in ("success", "completion"):
            if key in result and not isinstance(result[key], bool):
                raise fail(f"{path}.{key}", "must be true or false")
        if "response" in result and not isinstance(result["response"], str):
            raise fail(f"{path}.response", "must be a string")
        if "duration" in result:
            duration = result["duration"]
            if not isinstance(duration, str) or not DURATION_RE.match(duration):
                raise fail(f"{path}.duration", "must be an ISO 8601 duration such as PT1H30M")
        if "extensions" in result:
            self.extensions(result["extensions"], f"{path}.extensions")

    def _score(self, score: Any, path: str) -> None:
        self._object(score, path)
        self._keys(score, SCORE_KEYS, path)
        for key in SCORE_KEYS:
            if key in score and (isinstance(score[key], bool) or not isinstance(score[key], int | float)):
                raise fail(f"{path}.{key}", "must be a number")
        if "scaled" in score and not -1 <= score["scaled"] <= 1:
            raise fail(f"{path}.scaled", "must be between -1 and 1")
        low, high, raw = score.get("min"), score.get("max"), score.get("raw")
        if low is not None and high is not None and low >= high:
            raise fail(f"{path}.min", "must be less than max")
        if raw is not None and low is not None and raw < low:
            raise fail(f"{path}.raw", "must not be less than min")
        if raw is not None and high is not None and raw > high:
            raise fail(f"{path}.raw", "must not be greater than max")

    def _context(self, context: Any, statement_object: dict, path: str) -> None:
        self._object(context, path)
        self._keys(context, CONTEXT_KEYS_2 if self.v2 else CONTEXT_KEYS, path)
        if "registration" in context:
            self._uuid(context["registration"], f"{path}.registration")
        if "instructor" in context:
            self.actor(context["instructor"], f"{path}.instructor")
        if "team" in context:
            self.group(context["team"], f"{path}.team")
        if "contextActivities" in context:
            self._context_activities(context["contextActivities"], f"{path}.contextActivities")
        object_type = (statement_object.get("objectType", "Activity")
                       if isinstance(statement_object, dict) else None)
        for key in ("revision", "platform"):
            if key in context:
                if not isinstance(context[key], str):
                    raise fail(f"{path}.{key}", "must be a string")
                if object_type != "Activity":
                    raise fail(f"{path}.{key}", "must only be used when the object is an Activity")
        if "language" in context:
            if not isinstance(context["language"], str) or not LANG_RE.match(context["language"]):
                raise fail(f"{path}.language", "must be an RFC 5646 language tag")
        if "statement" in context:
            reference = context["statement"]
            self._object(reference, f"{path}.statement")
            self._keys(reference, {"objectType", "id"}, f"{path}.statement")
            if reference.get("objectType") != "StatementRef":
                raise fail(f"{path}.statement.objectType", "must be StatementRef")
            self._uuid(reference.get("id"), f"{path}.statement.id")
        if "extensions" in context:
            self.extensions(context["extensions"], f"{path}.extensions")
        if self.v2:
            self._context_agents(context, path)

    def _context_agents(self, context: dict, path: str) -> None:
        for key, object_type, field in (("contextAgents", "contextAgent", "agent"),
                                        ("contextGroups", "contextGroup", "group")):
            if key not in context:
                continue
            entries = context[key]
            if not isinstance(entries, list):
                raise fail(f"{path}.{key}", "must be an array")
            for index, entry in enumerate(entries):
                where = f"{path}.{key}[{index}]"
                self._object(entry, where)
                self._keys(entry, {"objectType", field, "relevantTypes"}, where)
                if entry.get("objectType") != object_type:
                    raise fail(f"{where}.objectType", f"must be {object_type}")
                if field not in entry:
                    raise fail(f"{where}.{field}", "is required")
                if field == "agent":
                    self.agent(entry[field], f"{where}.agent")
                else:
                    self.group(entry[field], f"{where}.group")
                if "relevantTypes" in entry:
                    types = entry["relevantTypes"]
                    if not isinstance(types, list) or not types:
                        raise fail(f"{where}.relevantTypes", "must be a non-empty array of IRIs")
                    for n, iri in enumerate(types):
                        self.iri(iri, f"{where}.relevantTypes[{n}]")

    def _context_activities(self, activities: Any, path: str) -> None:
        self._object(activities, path)
        self._keys(activities, CONTEXT_ACTIVITY_KEYS, path)
        for key, value in activities.items():
            items = value if isinstance(value, list) else [value]
            for index, activity in enumerate(items):
                where = f"{path}.{key}[{index}]" if isinstance(value, list) else f"{path}.{key}"
                self.activity(activity, where)

    def _attachments(self, attachments: Any, path: str) -> None:
        if not isinstance(attachments, list):
            raise fail(path, "must be an array of attachments")
        for index, attachment in enumerate(attachments):
            where = f"{path}[{index}]"
            self._object(attachment, where)
            self._keys(attachment, ATTACHMENT_KEYS, where)
            for key in ("usageType", "display", "contentType", "length", "sha2"):
                if key not in attachment:
                    raise fail(f"{where}.{key}", "is required")
            self.iri(attachment["usageType"], f"{where}.usageType")
            self.language_map(attachment["display"], f"{where}.display")
            if "description" in attachment:
                self.language_map(attachment["description"], f"{where}.description")
            content_type = attachment["contentType"]
            if not isinstance(content_type, str) or not MEDIA_TYPE_RE.match(content_type):
                raise fail(f"{where}.contentType", "must be an Internet Media Type")
            length = attachment["length"]
            if isinstance(length, bool) or not isinstance(length, int) or length < 0:
                raise fail(f"{where}.length", "must be a non-negative integer")
            if not isinstance(attachment["sha2"], str) or not SHA2_RE.match(attachment["sha2"]):
                raise fail(f"{where}.sha2", "must be a hex SHA-2 hash")
            if "fileUrl" in attachment:
                self.iri(attachment["fileUrl"], f"{where}.fileUrl")

    # -- value types ----------------------------------------------------------------------------

    def timestamp(self, value: Any, path: str) -> datetime:
        if not isinstance(value, str):
            raise fail(path, "must be an ISO 8601 timestamp string")
        parsed = parse_timestamp(value)
        if parsed is None:
            raise fail(path, "must be an ISO 8601 timestamp with a time zone (e.g. 2024-01-31T12:00:00Z)")
        if NEGATIVE_ZERO_OFFSET_RE.search(value):
            raise fail(path, "must not use the negative zero offset -00:00 (RFC 3339 unknown local offset)")
        return parsed

    def language_map(self, value: Any, path: str) -> None:
        self._object(value, path)
        for tag, text in value.items():
            if not LANG_RE.match(tag):
                raise fail(f"{path}.{tag}", "language map keys must be RFC 5646 language tags")
            if not isinstance(text, str):
                raise fail(f"{path}.{tag}", "language map values must be strings")

    def extensions(self, value: Any, path: str) -> None:
        self._object(value, path)
        for key in value:
            if not IRI_RE.match(key):
                raise fail(f"{path}.{key}", "extension keys must be IRIs")

    def iri(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or not IRI_RE.match(value):
            raise fail(path, "must be an IRI (an absolute identifier with a scheme, e.g. http://...)")

    def _uuid(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or not UUID_RE.match(value):
            raise fail(path, "must be a UUID")

    # -- structure ------------------------------------------------------------------------------

    def _object(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise fail(path, "must be a JSON object")

    def _keys(self, value: dict, allowed: set[str], path: str) -> None:
        for key in value:
            if key not in allowed:
                raise fail(f"{path}.{key}", "is not a property allowed here")

    def _optional_string(self, value: dict, key: str, path: str) -> None:
        if key in value and not isinstance(value[key], str):
            raise fail(f"{path}.{key}", "must be a string")

    def _no_nulls(self, value: Any, path: str) -> None:
        # Null is not a value xAPI allows anywhere except inside extensions (xAPI 1.0.3 2.2).
        # Without "null" in its serialisation a value holds no null at all: no walk needed.
        serialised = _cache_key(b"", value)
        if serialised is not None and b"null" not in serialised:
            return
        self._no_nulls_in(value, path)

    def _no_nulls_in(self, value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if item is None:
                    raise fail(f"{path}.{key}", "must not be null")
                if key != "extensions":
                    self._no_nulls_in(item, f"{path}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if item is None:
                    raise fail(f"{path}[{index}]", "must not be null")
                self._no_nulls_in(item, f"{path}[{index}]")


def _cache_key(kind: bytes, value: Any) -> bytes | None:
    """``kind`` plus the serialised value, or None for a value JSON cannot hold."""
    try:
        return kind + jsoncodec.dumps(value)
    except (TypeError, ValueError):
        return None


# The widest identifier the store's columns and indexes take, in UTF-8 bytes (an activity or verb
# IRI, the value of an agent's ``kind|value``): PostgreSQL's varchar(2048) counts characters, but a
# B-tree index entry holds at most 2,704 bytes, so 2,048 characters of CJK text (6,144 bytes) fail
# there. xAPI sets no limit; SQLite would keep any length.
MAX_IDENTIFIER_BYTES = 2048


def too_wide(value: str) -> bool:
    """Whether an identifier is longer than ``MAX_IDENTIFIER_BYTES`` in UTF-8 (ASCII measured by len())."""
    return len(value) > MAX_IDENTIFIER_BYTES or (not value.isascii()
                                                 and len(value.encode()) > MAX_IDENTIFIER_BYTES)


def holds_nul(value: Any) -> bool:
    """Whether a JSON value has U+0000 in a string or key: PostgreSQL's text and JSON cannot hold it."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in key or holds_nul(member) for key, member in value.items())
    if isinstance(value, list):
        return any(holds_nul(member) for member in value)
    return False


def parse_timestamp(value: str) -> datetime | None:
    """Parse an ISO 8601 timestamp; a missing zone is read as UTC (xAPI says it SHOULD have one)."""
    match = TIMESTAMP_RE.match(value)
    if not match:
        return None
    if match.group(8) == "Z":
        # The usual form, which fromisoformat reads as the steps below would (any separator, a
        # fraction cut to microseconds), at a fraction of their cost.
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    text = f"{year}-{month}-{day}T{hour}:{minute}:{second}"
    if fraction:
        text += fraction[:7].ljust(7, "0")[:7]
    if zone in (None, "Z", "z"):
        text += "+00:00"
    elif len(zone) == 3:
        text += zone + ":00"
    elif ":" not in zone:
        text += zone[:3] + ":" + zone[3:]
    else:
        text += zone
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(UTC)


def validate_statements(statements: list[Any], version: str = "1.0.3") -> None:
    """Validate a batch; the first broken rule raises ``StatementInvalid`` naming the statement."""
    validator = Validator(version)
    for index, statement in enumerate(statements):
        validator.statement(statement, "statement" if len(statements) == 1 else f"statements[{index}]")


_SECONDS_RE = re.compile(r"(\d+)(?:[.,](\d+))?S$")


def truncate_duration(duration: str) -> str:
    """A duration with its seconds cut to 0.01 s: finer precision does not count (xAPI 2.0 4.2.7)."""
    if "." not in duration and "," not in duration:
        return duration  # no fraction of a second to cut
    def cut(match: re.Match[str]) -> str:
        fraction = (match.group(2) or "")[:2].rstrip("0")
        return f"{match.group(1)}.{fraction}S" if fraction else f"{match.group(1)}S"
    return _SECONDS_RE.sub(cut, duration)
