"""The catalogue an instructor links to by Deep Linking: the whole catalogue, published pathways and
their steps (read through ``pathways.services``).

Targets name a pathway by its lineage and a step by its key, so a link follows new versions:
``pathway:<lineage>``, ``step:<lineage>/<step key>``, ``catalogue:``.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from pathways import services as pathways

# A pathway's score is its percentage; an assessment step's is its best score in percent.
SCORE_MAXIMUM = 100.0


@dataclass(frozen=True)
class Entry:
    key: str  # the cairn_target custom parameter
    kind: str
    title: str
    description: str = ""
    category: str = ""
    gradable: bool = False
    score_maximum: float | None = None
    activity_iri: str | None = None
    pathway_id: int | None = None
    step_id: int | None = None


@dataclass(frozen=True)
class Catalogue:
    entries: list[Entry]
    categories: list[str]


WHOLE_CATALOGUE = Entry(key="catalogue:", kind="catalogue", title="The Cairn catalogue",
                        description="Every pathway a learner may enrol in.")


def pathway_key(lineage: str) -> str:
    return f"pathway:{lineage}"


def step_key(lineage: str, key: str) -> str:
    return f"step:{lineage}/{key}"


def _category_names(session: Session) -> dict[int, str]:
    return {c.id: " / ".join(c.path) or c.name for c in pathways.list_categories(session)}


def _entries(session: Session, *, search: str | None = None, category_id: int | None = None) -> list[Entry]:
    names = _category_names(session)
    entries: list[Entry] = []
    for info in pathways.list_pathways(session, status="published", search=search or None,
                                       category_id=category_id):
        category = names.get(info.category_id or -1, "")
        entries.append(Entry(key=pathway_key(info.lineage), kind="pathway", title=info.title,
                             description=info.description, category=category, gradable=True,
                             score_maximum=SCORE_MAXIMUM, activity_iri=info.activity_iri, pathway_id=info.id))
        for step in pathways.get_pathway(session, info.id).steps:
            entries.append(Entry(key=step_key(info.lineage, step.key), kind="step",
                                 title=f"{info.title}: {step.title}", description=step.description,
                                 category=category, gradable=step.kind == "assessment",
                                 score_maximum=SCORE_MAXIMUM if step.kind == "assessment" else None,
                                 activity_iri=step.activity_iri, pathway_id=info.id, step_id=step.id))
    return entries


def load(session: Session, *, query: str = "", category: str = "") -> Catalogue:
    """What an instructor may link to: published pathways matching ``query`` (title or description),
    in the category named ``category`` when given, each followed by its steps."""
    names = _category_names(session)
    category_id = next((cid for cid, name in names.items() if name == category), None) if category else None
    if category and category_id is None:
        return Catalogue(entries=[], categories=sorted(set(names.values())))
    entries = _entries(session, search=query, category_id=category_id)
    whole = [] if query or category else [WHOLE_CATALOGUE]
    return Catalogue(entries=whole + entries, categories=sorted(set(names.values())))


def entries_by_key(session: Session, keys: list[str]) -> list[Entry]:
    """The entries named by ``keys``, in that order; unknown keys are ignored."""
    by_key = {e.key: e for e in [WHOLE_CATALOGUE, *_entries(session)]}
    return [by_key[k] for k in dict.fromkeys(keys) if k in by_key]


def entry_for(session: Session, kind: str, target_id: str | None) -> Entry:
    """The catalogue entry a resource link's target names (the whole catalogue if it is gone)."""
    if kind == "catalogue" or not target_id:
        return WHOLE_CATALOGUE
    lineage, _, key = target_id.partition("/")
    info = pathways.published_version(session, lineage)
    if info is None:
        return WHOLE_CATALOGUE
    if kind == "pathway":
        return Entry(key=pathway_key(lineage), kind="pathway", title=info.title, description=info.description,
                     gradable=True, score_maximum=SCORE_MAXIMUM, activity_iri=info.activity_iri,
                     pathway_id=info.id)
    step = next((s for s in pathways.get_pathway(session, info.id).steps if s.key == key), None)
    if step is None:
        return WHOLE_CATALOGUE
    return Entry(key=step_key(lineage, key), kind="step", title=f"{info.title}: {step.title}",
                 description=step.description, gradable=step.kind == "assessment",
                 score_maximum=SCORE_MAXIMUM if step.kind == "assessment" else None,
                 activity_iri=step.activity_iri, pathway_id=info.id, step_id=step.id)


def target_of_outcome(session: Session, pathway_id: int, step_id: int | None) -> tuple[str, str]:
    """The resource link target (kind, id) an outcome change is about."""
    detail = pathways.get_pathway(session, pathway_id)
    lineage = detail.pathway.lineage
    if step_id is None:
        return "pathway", lineage
    step = next(s for s in detail.steps if s.id == step_id)
    return "step", f"{lineage}/{step.key}"
