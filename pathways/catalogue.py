"""Commands and queries for what administrators build: categories, pathways (with versions) and steps.

Every function takes a ``Session`` and plain values, flushes and never commits. Results are frozen
dataclasses, so pages and the JSON API never hold live ORM rows.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cairn.db import utcnow
from pathways.errors import Conflict, InvalidInput, NotFound
from pathways.models import (MOVE_ON, ORDERINGS, OUTCOME_KINDS, STEP_KINDS, Assessment, Category, Pathway,
                             Step)

VERB_COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
VERB_PASSED = "http://adlnet.gov/expapi/verbs/passed"
VERB_FAILED = "http://adlnet.gov/expapi/verbs/failed"
VERB_ATTENDED = "http://adlnet.gov/expapi/verbs/attended"
VERB_READ = "http://activitystrea.ms/schema/1.0/read"
VERB_ANSWERED = "http://adlnet.gov/expapi/verbs/answered"
VERB_EARNED = "http://id.tincanapi.com/verb/earned"
VERB_VOIDED = "http://adlnet.gov/expapi/verbs/voided"
# cmi5 defined verbs the LMS records when it decides for the AU (cmi5 section 9.3).
VERB_SATISFIED = "https://w3id.org/xapi/adl/verbs/satisfied"
VERB_WAIVED = "https://w3id.org/xapi/adl/verbs/waived"

# The verbs that complete a step of each kind when the step names none.
DEFAULT_DONE_VERBS: dict[str, tuple[str, ...]] = {
    "xapi": (VERB_COMPLETED, VERB_PASSED),
    "cmi5": (),  # decided by moveOn
    "assessment": (VERB_PASSED,),
    "session": (VERB_ATTENDED,),
    "document": (VERB_READ,),
}


def new_activity_iri() -> str:
    """A fresh, globally unique activity IRI for things Cairn itself defines."""
    return f"urn:uuid:{uuid.uuid4()}"


# --------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CategoryInfo:
    id: int
    name: str
    description: str
    parent_id: int | None
    position: int
    depth: int = 0
    path: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepInfo:
    """A step with everything needed to launch it and to tell when it is done."""

    id: int
    key: str
    pathway_id: int
    position: int
    kind: str
    title: str
    description: str
    activity_iri: str
    launch_url: str | None
    done_verbs: tuple[str, ...]  # effective verbs (the step's own, or its kind's default)
    move_on: str | None
    mastery_score: float | None
    required: bool
    min_score: float | None
    session_starts_at: datetime | None
    session_place: str | None
    session_capacity: int | None
    document_url: str | None
    assessment_id: int | None
    prerequisites: tuple[str, ...]  # step keys


@dataclass(frozen=True)
class PathwayInfo:
    id: int
    lineage: str
    version: int
    title: str
    description: str
    outcome_kind: str
    status: str
    activity_iri: str
    ordering: str
    category_id: int | None
    grants_certification: bool
    validity_days: int | None
    recertification_window_days: int | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    step_count: int = 0


@dataclass(frozen=True)
class PathwayDetail:
    pathway: PathwayInfo
    steps: tuple[StepInfo, ...] = field(default_factory=tuple)


def category_info(row: Category, depth: int = 0, path: tuple[str, ...] = ()) -> CategoryInfo:
    return CategoryInfo(row.id, row.name, row.description, row.parent_id, row.position, depth, path)


def step_info(row: Step) -> StepInfo:
    verbs = tuple(row.done_verbs or DEFAULT_DONE_VERBS.get(row.kind, ()))
    return StepInfo(row.id, row.key, row.pathway_id, row.position, row.kind, row.title, row.description,
                    row.activity_iri, row.launch_url, verbs, row.move_on, row.mastery_score, row.required,
                    row.min_score, row.session_starts_at, row.session_place, row.session_capacity,
                    row.document_url, row.assessment_id, tuple(row.prerequisites or ()))


def pathway_info(row: Pathway, step_count: int | None = None) -> PathwayInfo:
    return PathwayInfo(row.id, row.lineage, row.version, row.title, row.description, row.outcome_kind,
                       row.status, row.activity_iri, row.ordering, row.category_id, row.grants_certification,
                       row.validity_days, row.recertification_window_days, row.created_at, row.updated_at,
                       row.published_at, len(row.steps) if step_count is None else step_count)


# ------------------------------------------------------------------------------------------ categories


def create_category(session: Session, *, name: str, parent_id: int | None = None, description: str = "",
                    position: int = 0) -> CategoryInfo:
    """Create a category, optionally inside another."""
    if not name.strip():
        raise InvalidInput("name", "must not be empty")
    if parent_id is not None and session.get(Category, parent_id) is None:
        raise InvalidInput("parent_id", f"no category {parent_id}")
    row = Category(name=name.strip(), parent_id=parent_id, description=description, position=position)
    session.add(row)
    session.flush()
    return category_info(row)


def update_category(session: Session, category_id: int, *, name: str | None = None,
                    description: str | None = None, parent_id: int | None | type[...] = ...,
                    position: int | None = None) -> CategoryInfo:
    """Rename or move a category; a category cannot be moved inside itself."""
    row = _category(session, category_id)
    if name is not None:
        if not name.strip():
            raise InvalidInput("name", "must not be empty")
        row.name = name.strip()
    if description is not None:
        row.description = description
    if position is not None:
        row.position = position
    if parent_id is not ...:
        if parent_id is not None:
            ancestor: Category | None = _category(session, parent_id)  # type: ignore[arg-type]
            while ancestor is not None:
                if ancestor.id == row.id:
                    raise InvalidInput("parent_id", "a category cannot be inside itself")
                ancestor = session.get(Category, ancestor.parent_id) if ancestor.parent_id else None
        row.parent_id = parent_id  # type: ignore[assignment]
    session.flush()
    return category_info(row)


def delete_category(session: Session, category_id: int) -> None:
    """Delete a category; its pathways and sub-categories move to its parent."""
    row = _category(session, category_id)
    for child in session.scalars(select(Category).where(Category.parent_id == row.id)):
        child.parent_id = row.parent_id
    for pathway in session.scalars(select(Pathway).where(Pathway.category_id == row.id)):
        pathway.category_id = row.parent_id
    session.delete(row)
    session.flush()


def list_categories(session: Session) -> list[CategoryInfo]:
    """Every category as a tree in depth-first order, each with its depth and path of names."""
    rows = list(session.scalars(select(Category).order_by(Category.position, Category.name)))
    children: dict[int | None, list[Category]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    result: list[CategoryInfo] = []

    def walk(parent: int | None, depth: int, path: tuple[str, ...]) -> None:
        for row in children.get(parent, []):
            result.append(category_info(row, depth, path + (row.name,)))
            walk(row.id, depth + 1, path + (row.name,))

    walk(None, 0, ())
    return result


def _category(session: Session, category_id: int) -> Category:
    row = session.get(Category, category_id)
    if row is None:
        raise NotFound(f"no category {category_id}")
    return row


# -------------------------------------------------------------------------------------------- pathways


def create_pathway(session: Session, *, title: str, outcome_kind: str, description: str = "",
                   ordering: str = "free", category_id: int | None = None, activity_iri: str | None = None,
                   grants_certification: bool = False, validity_days: int | None = None,
                   recertification_window_days: int | None = None) -> PathwayInfo:
    """Create a draft pathway (version 1) with its own xAPI activity IRI."""
    row = Pathway(lineage=str(uuid.uuid4()), version=1, status="draft",
                  activity_iri=activity_iri or new_activity_iri(), title="", outcome_kind="")
    _apply_pathway_fields(session, row, dict(title=title, outcome_kind=outcome_kind, description=description,
                                             ordering=ordering, category_id=category_id,
                                             grants_certification=grants_certification,
                                             validity_days=validity_days,
                                             recertification_window_days=recertification_window_days))
    session.add(row)
    session.flush()
    return pathway_info(row, 0)


PATHWAY_EDITABLE = ("title", "description", "outcome_kind", "ordering", "category_id", "grants_certification",
                    "validity_days", "recertification_window_days")


def update_pathway(session: Session, pathway_id: int, **changes: Any) -> PathwayInfo:
    """Change a pathway's fields. A published pathway is not changed: a new draft version is.

    Returns the version that was changed (its id differs from ``pathway_id`` when a draft was made).
    """
    unknown = set(changes) - set(PATHWAY_EDITABLE)
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "cannot be changed")
    row = _editable_version(session, pathway_id)
    _apply_pathway_fields(session, row, changes)
    row.updated_at = utcnow()
    session.flush()
    return pathway_info(row)


def _apply_pathway_fields(session: Session, row: Pathway, values: dict[str, Any]) -> None:
    if "title" in values:
        if not str(values["title"] or "").strip():
            raise InvalidInput("title", "must not be empty")
        row.title = values["title"].strip()
    if "outcome_kind" in values:
        if values["outcome_kind"] not in OUTCOME_KINDS:
            raise InvalidInput("outcome_kind", f"must be one of {', '.join(OUTCOME_KINDS)}")
        row.outcome_kind = values["outcome_kind"]
    if "ordering" in values:
        if values["ordering"] not in ORDERINGS:
            raise InvalidInput("ordering", f"must be one of {', '.join(ORDERINGS)}")
        row.ordering = values["ordering"]
    if "description" in values:
        row.description = values["description"] or ""
    if "category_id" in values:
        if values["category_id"] is not None and session.get(Category, values["category_id"]) is None:
            raise InvalidInput("category_id", f"no category {values['category_id']}")
        row.category_id = values["category_id"]
    for name in ("validity_days", "recertification_window_days"):
        if name in values:
            if values[name] is not None and values[name] <= 0:
                raise InvalidInput(name, "must be a positive number of days")
            setattr(row, name, values[name])
    if "grants_certification" in values:
        row.grants_certification = bool(values["grants_certification"])
    if row.recertification_window_days and not row.validity_days:
        raise InvalidInput("recertification_window_days", "needs a validity period")
    if row.recertification_window_days and row.validity_days and \
            row.recertification_window_days >= row.validity_days:
        raise InvalidInput("recertification_window_days", "must be shorter than the validity period")


def get_pathway(session: Session, pathway_id: int) -> PathwayDetail:
    """A pathway version with its steps in order."""
    row = _pathway(session, pathway_id)
    return PathwayDetail(pathway_info(row), tuple(step_info(s) for s in row.steps))


def list_pathways(session: Session, *, status: str | None = None, category_id: int | None = None,
                  outcome_kind: str | None = None, search: str | None = None,
                  latest_only: bool = True) -> list[PathwayInfo]:
    """Pathways, filtered; by default only the newest version of each lineage."""
    query = select(Pathway)
    if status:
        query = query.where(Pathway.status == status)
    if category_id is not None:
        query = query.where(Pathway.category_id == category_id)
    if outcome_kind:
        query = query.where(Pathway.outcome_kind == outcome_kind)
    if search:
        like = f"%{search.lower()}%"
        query = query.where(or_(func.lower(Pathway.title).like(like),
                                func.lower(Pathway.description).like(like)))
    rows = list(session.scalars(query.order_by(Pathway.title, Pathway.version.desc())))
    if latest_only:
        seen: set[str] = set()
        kept = []
        for row in rows:
            if row.lineage not in seen:
                seen.add(row.lineage)
                kept.append(row)
        rows = kept
    counts: dict[int, int] = {pid: n for pid, n in session.execute(
        select(Step.pathway_id, func.count()).where(Step.pathway_id.in_([r.id for r in rows] or [-1]))
        .group_by(Step.pathway_id))}
    return [pathway_info(r, counts.get(r.id, 0)) for r in rows]


def published_version(session: Session, lineage: str) -> PathwayInfo | None:
    """The published version of a pathway lineage, if any."""
    row = session.scalar(select(Pathway).where(Pathway.lineage == lineage, Pathway.status == "published"))
    return pathway_info(row) if row else None


def versions_of(session: Session, lineage: str) -> list[PathwayInfo]:
    """Every version of a pathway, newest first."""
    rows = session.scalars(select(Pathway).where(Pathway.lineage == lineage).order_by(Pathway.version.desc()))
    return [pathway_info(r) for r in rows]


def draft_version(session: Session, pathway_id: int) -> PathwayInfo:
    """The draft to edit for this pathway: itself if a draft, else the lineage's draft, made if needed."""
    return pathway_info(_editable_version(session, pathway_id))


def _editable_version(session: Session, pathway_id: int) -> Pathway:
    row = _pathway(session, pathway_id)
    if row.status == "draft":
        return row
    draft = session.scalar(select(Pathway).where(Pathway.lineage == row.lineage, Pathway.status == "draft"))
    if draft is not None:
        return draft
    newest = session.scalar(select(func.max(Pathway.version)).where(Pathway.lineage == row.lineage)) or 0
    draft = Pathway(lineage=row.lineage, version=newest + 1, status="draft", activity_iri=row.activity_iri,
                    **{name: getattr(row, name) for name in PATHWAY_EDITABLE})
    for step in row.steps:
        draft.steps.append(Step(**{c: getattr(step, c) for c in _STEP_COPY}))
    session.add(draft)
    session.flush()
    return draft


_STEP_COPY = ("position", "kind", "title", "description", "activity_iri", "launch_url", "done_verbs",
              "move_on", "mastery_score", "required", "min_score", "session_starts_at", "session_place",
              "session_capacity", "document_url", "assessment_id", "key", "prerequisites")


def publish_pathway(session: Session, pathway_id: int) -> PathwayInfo:
    """Publish a draft version; the previously published version of the lineage is archived.

    Assignments follow the lineage, so learners now work on the new version; what they completed on
    the old one stays recorded against it. Progress on the new version is derived at once.
    """
    row = _pathway(session, pathway_id)
    if row.status != "draft":
        raise Conflict(f"pathway {pathway_id} is {row.status}; only a draft can be published")
    if not row.steps:
        raise InvalidInput("steps", "a pathway needs at least one step to be published")
    for old in session.scalars(select(Pathway).where(Pathway.lineage == row.lineage,
                                                     Pathway.status == "published")):
        old.status = "archived"
    row.status = "published"
    row.published_at = row.updated_at = utcnow()
    session.flush()
    from pathways import refresh
    refresh.refresh_lineage(session, row.lineage)
    return pathway_info(row)


def archive_pathway(session: Session, pathway_id: int) -> PathwayInfo:
    """Withdraw a pathway from learners; its records stay."""
    row = _pathway(session, pathway_id)
    row.status = "archived"
    row.updated_at = utcnow()
    session.flush()
    return pathway_info(row)


def delete_draft(session: Session, pathway_id: int) -> None:
    """Delete a draft version (published and archived versions are history and stay)."""
    row = _pathway(session, pathway_id)
    if row.status != "draft":
        raise Conflict("only a draft can be deleted; archive a published pathway instead")
    session.delete(row)
    session.flush()


def _pathway(session: Session, pathway_id: int) -> Pathway:
    row = session.get(Pathway, pathway_id)
    if row is None:
        raise NotFound(f"no pathway {pathway_id}")
    return row


# ----------------------------------------------------------------------------------------------- steps

STEP_FIELDS = ("kind", "title", "description", "activity_iri", "launch_url", "done_verbs", "move_on",
               "mastery_score", "required", "min_score", "session_starts_at", "session_place",
               "session_capacity", "document_url", "assessment_id", "prerequisites")


def add_step(session: Session, pathway_id: int, *, kind: str, title: str, position: int | None = None,
             **values: Any) -> StepInfo:
    """Add a step at ``position`` (default: last). On a published pathway this edits its draft version."""
    pathway = _editable_version(session, pathway_id)
    step = Step(pathway_id=pathway.id, key=str(uuid.uuid4()), kind="", title="", activity_iri="",
                done_verbs=[], prerequisites=[])
    _apply_step_fields(session, pathway, step, {"kind": kind, "title": title, **values}, new=True)
    steps = list(pathway.steps)
    index = len(steps) if position is None else max(0, min(position, len(steps)))
    steps.insert(index, step)
    pathway.steps = steps
    _renumber(steps)
    pathway.updated_at = utcnow()
    session.flush()
    return step_info(step)


def update_step(session: Session, step_id: int, **values: Any) -> StepInfo:
    """Change a step. A step of a published pathway is changed in the pathway's draft version."""
    step = _editable_step(session, step_id)
    _apply_step_fields(session, step.pathway, step, values, new=False)
    step.pathway.updated_at = utcnow()
    session.flush()
    from pathways import refresh
    if step.pathway.status != "draft":
        refresh.refresh_lineage(session, step.pathway.lineage)
    return step_info(step)


def remove_step(session: Session, step_id: int) -> None:
    """Remove a step (from the draft version when the pathway is published)."""
    step = _editable_step(session, step_id)
    pathway = step.pathway
    for other in pathway.steps:
        if step.key in (other.prerequisites or []):
            other.prerequisites = [k for k in other.prerequisites if k != step.key]
    pathway.steps = [s for s in pathway.steps if s.id != step.id]
    _renumber(pathway.steps)
    session.flush()


def reorder_steps(session: Session, pathway_id: int, step_ids: Iterable[int]) -> list[StepInfo]:
    """Put the steps in the given order (every step of the version exactly once, by id or key)."""
    pathway = _editable_version(session, pathway_id)
    wanted = list(step_ids)
    by_id = {s.id: s for s in pathway.steps}
    source = _pathway(session, pathway_id)
    if source.id != pathway.id:  # ids of the published version map to the draft's steps by key
        key_of = {s.id: s.key for s in source.steps}
        by_key = {s.key: s for s in pathway.steps}
        by_id.update({sid: by_key[k] for sid, k in key_of.items() if k in by_key})
    if sorted(by_id[i].id for i in wanted if i in by_id) != sorted(s.id for s in pathway.steps) or \
            len(wanted) != len(pathway.steps):
        raise InvalidInput("step_ids", "must list every step of the pathway exactly once")
    pathway.steps = [by_id[i] for i in wanted]
    _renumber(pathway.steps)
    session.flush()
    return [step_info(s) for s in pathway.steps]


def get_step(session: Session, step_id: int) -> StepInfo:
    row = session.get(Step, step_id)
    if row is None:
        raise NotFound(f"no step {step_id}")
    return step_info(row)


def steps_for_activity(session: Session, activity_iri: str) -> list[StepInfo]:
    """Steps (of any version) completed by statements about this activity."""
    return [step_info(s) for s in session.scalars(select(Step).where(Step.activity_iri == activity_iri))]


def _editable_step(session: Session, step_id: int) -> Step:
    step = session.get(Step, step_id)
    if step is None:
        raise NotFound(f"no step {step_id}")
    if step.pathway.status == "draft":
        return step
    draft = _editable_version(session, step.pathway_id)
    for candidate in draft.steps:
        if candidate.key == step.key:
            return candidate
    raise NotFound(f"step {step_id} was removed from the draft version")


def _renumber(steps: list[Step]) -> None:
    for index, step in enumerate(steps):
        step.position = index


def _apply_step_fields(session: Session, pathway: Pathway, step: Step, values: dict[str, Any], *,
                       new: bool) -> None:
    unknown = set(values) - set(STEP_FIELDS)
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "is not a step field")
    merged = {name: getattr(step, name) for name in STEP_FIELDS}
    merged.update(values)
    kind = merged["kind"]
    if kind not in STEP_KINDS:
        raise InvalidInput("kind", f"must be one of {', '.join(STEP_KINDS)}")
    if not str(merged["title"] or "").strip():
        raise InvalidInput("title", "must not be empty")
    if kind == "cmi5" and merged["move_on"] not in MOVE_ON:
        raise InvalidInput("move_on", f"a cmi5 unit needs moveOn, one of {', '.join(MOVE_ON)}")
    if kind != "cmi5" and merged["move_on"] is not None:
        raise InvalidInput("move_on", "only cmi5 steps have moveOn")
    if kind in ("xapi", "cmi5") and not merged["launch_url"]:
        raise InvalidInput("launch_url", "content steps need a launch URL")
    if kind == "document" and not (merged["document_url"] or merged["launch_url"]):
        raise InvalidInput("document_url", "a document step needs the document's URL")
    if kind == "assessment" and merged["assessment_id"] is None:
        raise InvalidInput("assessment_id", "an assessment step needs an assessment")
    if merged["assessment_id"] is not None:  # on any kind of step: the row refers to it
        assessment = session.get(Assessment, merged["assessment_id"])
        if assessment is None:
            raise InvalidInput("assessment_id", f"no assessment {merged['assessment_id']}")
        if kind == "assessment":
            # The assessment's own activity is what its attempts' passed/failed statements are about.
            merged["activity_iri"] = assessment.activity_iri
    if kind == "session" and merged["session_capacity"] is not None and merged["session_capacity"] < 1:
        raise InvalidInput("session_capacity", "must be at least 1")
    for name in ("min_score", "mastery_score"):
        if merged[name] is not None and not 0 <= merged[name] <= 1:
            raise InvalidInput(name, "is a scaled score between 0 and 1")
    if merged["done_verbs"] and not all(isinstance(v, str) and ":" in v for v in merged["done_verbs"]):
        raise InvalidInput("done_verbs", "must be verb IRIs")
    prerequisites = list(merged["prerequisites"] or [])
    known = {s.key: s for s in pathway.steps}
    id_to_key = {s.id: s.key for s in pathway.steps if s.id is not None}
    keys = []
    for item in prerequisites:  # accept step ids or keys
        key = id_to_key.get(item, item) if isinstance(item, int) else item
        if key not in known or key == step.key:
            raise InvalidInput("prerequisites", f"{item} is not another step of this pathway")
        keys.append(key)
    merged["prerequisites"] = keys
    if keys and _has_cycle(known, step.key, keys):
        raise InvalidInput("prerequisites", "prerequisites must not form a cycle")
    if not merged["activity_iri"]:
        merged["activity_iri"] = new_activity_iri()
    merged["done_verbs"] = list(merged["done_verbs"] or [])
    for name, value in merged.items():
        setattr(step, name, value)


def _has_cycle(steps: dict[str, Step], start: str, prerequisites: list[str]) -> bool:
    stack = list(prerequisites)
    seen: set[str] = set()
    while stack:
        key = stack.pop()
        if key == start:
            return True
        if key in seen or key not in steps:
            continue
        seen.add(key)
        stack.extend(steps[key].prerequisites or [])
    return False


def info_fields(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]
