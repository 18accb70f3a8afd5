"""Marshmallow schemas for the administration forms.

HTML forms send an empty string for an empty input: ``PageForm`` drops those for non-text fields
so that "no value" loads as the field's default (None), and text fields keep "".
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

from cairn.fields import Integer, String
from cairn.pages import KeyValueLines, Lines
from pathways.models import MOVE_ON, ORDERINGS, OUTCOME_KINDS, STEP_KINDS

RULE_OPS = ("equals", "in", "contains")


class PageForm(Schema):
    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _blank_is_missing(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {k: v for k, v in data.items()
                if not (v == "" and not isinstance(self.fields.get(k),
                                                   (fields.String, Lines, KeyValueLines)))}


class LocalDateTime(fields.DateTime):
    """A ``datetime-local`` input (no zone), taken as UTC; aware values keep their zone."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise ValidationError("is not a date and time (YYYY-MM-DDTHH:MM)") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class LocalDate(fields.Date):
    """A ``date`` input as the end of that day in UTC (a due date includes its day)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        day = super()._deserialize(value, attr, data, **kwargs)
        return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value / 100, 4)


class CategoryForm(PageForm):
    name = String(required=True, validate=validate.Length(min=1, max=200))
    description = String(load_default="")
    parent_id = Integer(load_default=None)
    position = Integer(load_default=0)


class PathwayForm(PageForm):
    title = String(required=True, validate=validate.Length(min=1, max=300))
    description = String(load_default="")
    outcome_kind = String(required=True, validate=validate.OneOf(OUTCOME_KINDS))
    ordering = String(load_default="free", validate=validate.OneOf(ORDERINGS))
    category_id = Integer(load_default=None)
    grants_certification = fields.Boolean(load_default=False)
    validity_days = Integer(load_default=None, validate=validate.Range(min=1))
    recertification_window_days = Integer(load_default=None, validate=validate.Range(min=1))


class StepForm(PageForm):
    kind = String(required=True, validate=validate.OneOf(STEP_KINDS))
    title = String(required=True, validate=validate.Length(min=1, max=300))
    description = String(load_default="")
    launch_url = String(load_default="")
    activity_iri = String(load_default="")
    done_verbs = Lines(load_default=list)
    move_on = String(load_default="", validate=validate.OneOf(("", *MOVE_ON)))
    mastery_percent = fields.Float(load_default=None, validate=validate.Range(min=0, max=100))
    required = fields.Boolean(load_default=False)
    min_score_percent = fields.Float(load_default=None, validate=validate.Range(min=0, max=100))
    session_starts_at = LocalDateTime(load_default=None)
    session_place = String(load_default="")
    session_capacity = Integer(load_default=None, validate=validate.Range(min=1))
    document_url = String(load_default="")
    assessment_id = Integer(load_default=None)
    prerequisites = fields.List(String(), load_default=list)

    @post_load
    def _to_service_values(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """The keyword arguments of ``add_step``/``update_step``: None for what this kind has not."""
        kind = data["kind"]
        values: dict[str, Any] = {
            "kind": kind, "title": data["title"], "description": data["description"],
            "required": data["required"], "prerequisites": data["prerequisites"],
            "done_verbs": data["done_verbs"] if kind == "xapi" else [],
            "min_score": _percent(data["min_score_percent"]),
            "launch_url": data["launch_url"] or None if kind in ("xapi", "cmi5", "document") else None,
            "move_on": (data["move_on"] or None) if kind == "cmi5" else None,
            "mastery_score": _percent(data["mastery_percent"]) if kind == "cmi5" else None,
            "session_starts_at": data["session_starts_at"] if kind == "session" else None,
            "session_place": (data["session_place"] or None) if kind == "session" else None,
            "session_capacity": data["session_capacity"] if kind == "session" else None,
            "document_url": (data["document_url"] or None) if kind == "document" else None,
            "assessment_id": data["assessment_id"] if kind == "assessment" else None,
        }
        if data["activity_iri"] and kind in ("xapi", "cmi5"):
            values["activity_iri"] = data["activity_iri"]
        return values


class ReorderForm(PageForm):
    order = fields.List(Integer(), required=True)
    move = String(load_default=None, validate=validate.Regexp(r"^\d+:(up|down)$"))

    @post_load
    def _apply_move(self, data: dict[str, Any], **_: Any) -> list[int]:
        """The wanted order: as posted, with the one-step move of a no-script button applied."""
        order = list(data["order"])
        if data["move"]:
            step_id, direction = data["move"].split(":")
            if int(step_id) in order:
                i = order.index(int(step_id))
                j = i - 1 if direction == "up" else i + 1
                if 0 <= j < len(order):
                    order[i], order[j] = order[j], order[i]
        return order


class RuleForm(PageForm):
    attribute = String(required=True, validate=validate.Length(min=1))
    op = String(load_default="equals", validate=validate.OneOf(RULE_OPS))
    value = String(load_default="")


class AudienceForm(PageForm):
    name = String(required=True, validate=validate.Length(min=1, max=200))
    description = String(load_default="")
    rules = Lines(load_default=list)
    member_ids = fields.List(Integer(), load_default=list)

    @post_load
    def _rules(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Rules typed one per line: ``department = Sales``, ``location in Lyon, Paris``,
        ``title contains nurse``."""
        rules = []
        for number, line in enumerate(data["rules"], start=1):
            for op, sep in (("contains", " contains "), ("in", " in "), ("equals", "=")):
                attribute, found, value = line.partition(sep)
                if found and attribute.strip():
                    rule_value: Any = value.strip()
                    if op == "in":
                        rule_value = [v.strip() for v in value.split(",") if v.strip()]
                    rules.append({"attribute": attribute.strip(), "op": op, "value": rule_value})
                    break
            else:
                raise ValidationError({"rules": [f"line {number}: write 'attribute = value', "
                                                 "'attribute in a, b' or 'attribute contains text'"]})
        data["rules"] = rules
        return data


def rules_as_lines(rules: Any) -> str:
    lines = []
    for rule in rules or ():
        if rule.get("op") == "in":
            lines.append(f"{rule['attribute']} in {', '.join(map(str, rule.get('value') or []))}")
        elif rule.get("op") == "contains":
            lines.append(f"{rule['attribute']} contains {rule.get('value')}")
        else:
            lines.append(f"{rule['attribute']} = {rule.get('value')}")
    return "\n".join(lines)


class ClassForm(PageForm):
    title = String(required=True, validate=validate.Length(min=1, max=300))


class MembershipForm(PageForm):
    user_id = Integer(required=True)
    role = String(load_default="learner", validate=validate.OneOf(("learner", "instructor")))
    active = fields.Boolean(load_default=True)


class AssignmentForm(PageForm):
    pathway_id = Integer(required=True)
    target = String(required=True, validate=validate.OneOf(("audience", "class", "learner")))
    audience_id = Integer(load_default=None)
    class_id = Integer(load_default=None)
    user_id = Integer(load_default=None)
    mandatory = fields.Boolean(load_default=False)
    due_on = LocalDate(load_default=None)
    due_days = Integer(load_default=None, validate=validate.Range(min=0))
    recurrence_months = Integer(load_default=None, validate=validate.Range(min=1))
    reminder_days = String(load_default="")

    @post_load
    def _to_service_values(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        try:
            reminders = [int(x) for x in data["reminder_days"].replace(",", " ").split()]
        except ValueError as exc:
            raise ValidationError({"reminder_days": ["whole numbers of days, e.g. 14, 7, 1"]}) from exc
        target = data["target"]
        chosen = {"audience": "audience_id", "class": "class_id", "learner": "user_id"}[target]
        if data[chosen] is None:
            raise ValidationError({chosen: [f"choose the {target} to assign to"]})
        return {"pathway_id": data["pathway_id"], chosen: data[chosen], "mandatory": data["mandatory"],
                "due_at": data["due_on"], "due_days": data["due_days"],
                "recurrence_months": data["recurrence_months"], "reminder_days": reminders}


class AssessmentForm(PageForm):
    title = String(required=True, validate=validate.Length(min=1, max=300))
    pass_percent = fields.Float(required=True, validate=validate.Range(min=1, max=100))
    attempt_limit = Integer(load_default=None, validate=validate.Range(min=1))
    time_limit_minutes = fields.Float(load_default=None, validate=validate.Range(min=0.5))
    shuffle = fields.Boolean(load_default=False)

    @post_load
    def _to_service_values(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        minutes = data["time_limit_minutes"]
        return {"title": data["title"], "pass_mark": round(data["pass_percent"] / 100, 4),
                "attempt_limit": data["attempt_limit"], "shuffle": data["shuffle"],
                "time_limit_seconds": None if minutes is None else int(minutes * 60)}


def _choice_lines(lines: list[str], prefix: str = "c") -> tuple[list[dict[str, str]], list[str]]:
    """Lines of choices, the correct ones starting with ``*``: ``[{id, text}]`` and the correct ids."""
    items, correct = [], []
    for index, line in enumerate(lines, start=1):
        is_correct = line.startswith("*")
        text = line.lstrip("*").strip()
        items.append({"id": f"{prefix}{index}", "text": text})
        if is_correct:
            correct.append(f"{prefix}{index}")
    return items, correct


class QuestionForm(PageForm):
    """One question of any xAPI interaction type, typed the way a person would write it."""

    interaction_type = String(required=True, validate=validate.OneOf(
        ("choice", "true-false", "fill-in", "numeric", "matching", "sequencing")))
    prompt = String(required=True, validate=validate.Length(min=1))
    choices = Lines(load_default=list)       # choice (``*`` marks correct ones), sequencing (in order)
    true_false = String(load_default="true", validate=validate.OneOf(("true", "false")))
    accepted = Lines(load_default=list)      # fill-in
    case_sensitive = fields.Boolean(load_default=False)
    numeric_min = fields.Float(load_default=None)
    numeric_max = fields.Float(load_default=None)
    pairs = Lines(load_default=list)         # matching: ``source = target``
    feedback = String(load_default="")
    points = fields.Float(load_default=1.0, validate=validate.Range(min=0.01))

    @post_load
    def _to_service_values(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        kind = data["interaction_type"]
        options: dict[str, Any] = {}
        correct: Any = None
        if kind == "choice":
            options["choices"], correct = _choice_lines(data["choices"])
            if not correct:
                raise ValidationError({"choices": ["mark the correct choice(s) with a * "
                                                   "at the start of the line"]})
        elif kind == "sequencing":
            options["choices"], _ = _choice_lines(data["choices"])
            correct = [c["id"] for c in options["choices"]]
        elif kind == "true-false":
            correct = data["true_false"] == "true"
        elif kind == "fill-in":
            options["case_sensitive"], correct = data["case_sensitive"], data["accepted"]
        elif kind == "numeric":
            low, high = data["numeric_min"], data["numeric_max"]
            if low is None and high is None:
                raise ValidationError({"numeric_min": ["give the correct number (or a range)"]})
            correct = {"min": low if low is not None else high, "max": high if high is not None else low}
        else:  # matching
            sources, targets, mapping = [], [], {}
            for index, line in enumerate(data["pairs"], start=1):
                left, sep, right = line.partition("=")
                if not sep or not left.strip() or not right.strip():
                    raise ValidationError({"pairs": [f"line {index}: write 'item = its match'"]})
                sources.append({"id": f"s{index}", "text": left.strip()})
                target_id = next((t["id"] for t in targets if t["text"] == right.strip()), None)
                if target_id is None:
                    target_id = f"t{len(targets) + 1}"
                    targets.append({"id": target_id, "text": right.strip()})
                mapping[f"s{index}"] = target_id
            options, correct = {"source": sources, "target": targets}, mapping
        return {"interaction_type": kind, "prompt": data["prompt"], "options": options, "correct": correct,
                "feedback": data["feedback"], "points": data["points"]}


def question_form_values(question: Any) -> dict[str, Any]:
    """A stored question as the editor form's values (the inverse of ``QuestionForm``)."""
    kind, options, correct = question.interaction_type, question.options or {}, question.correct
    values: dict[str, Any] = {"interaction_type": kind, "prompt": question.prompt,
                              "feedback": question.feedback, "points": question.points}
    if kind == "choice":
        values["choices"] = "\n".join(("* " if c["id"] in (correct or []) else "") + c["text"]
                                      for c in options.get("choices", []))
    elif kind == "sequencing":
        text = {c["id"]: c["text"] for c in options.get("choices", [])}
        values["choices"] = "\n".join(text.get(i, i) for i in (correct or []))
    elif kind == "true-false":
        values["true_false"] = "true" if correct else "false"
    elif kind == "fill-in":
        values["accepted"] = "\n".join(correct or [])
        values["case_sensitive"] = bool(options.get("case_sensitive"))
    elif kind == "numeric":
        values["numeric_min"], values["numeric_max"] = (correct or {}).get("min"), (correct or {}).get("max")
    elif kind == "matching":
        target = {t["id"]: t["text"] for t in options.get("target", [])}
        values["pairs"] = "\n".join(f"{s['text']} = {target.get((correct or {}).get(s['id']), '')}"
                                    for s in options.get("source", []))
    return values
