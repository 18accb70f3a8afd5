"""The catalogue an instructor links to by Deep Linking: the whole catalogue, pathways and steps
(read from ``pathways``)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Entry:
    key: str  # "catalogue:", "pathway:ID", "step:ID": the cairn_target custom parameter
    kind: str
    title: str
    description: str = ""
    category: str = ""
    gradable: bool = False
    score_maximum: float | None = None


@dataclass(frozen=True)
class Catalogue:
    entries: list[Entry]
    categories: list[str]


WHOLE_CATALOGUE = Entry(key="catalogue:", kind="catalogue", title="The Cairn catalogue",
                        description="Every pathway a learner may enrol in.")


def _all_entries(session: Session) -> list[Entry]:
    return [WHOLE_CATALOGUE]


def load(session: Session, *, query: str = "", category: str = "") -> Catalogue:
    """Entries whose title or description contains ``query``, in ``category`` when given."""
    entries = _all_entries(session)
    categories = sorted({e.category for e in entries if e.category})
    needle = query.lower()
    chosen = [e for e in entries
              if (not needle or needle in e.title.lower() or needle in e.description.lower())
              and (not category or e.category == category or e.kind == "catalogue")]
    return Catalogue(entries=chosen, categories=categories)


def entries_by_key(session: Session, keys: list[str]) -> list[Entry]:
    """The entries named by ``keys``, in that order; unknown keys are ignored."""
    by_key = {e.key: e for e in _all_entries(session)}
    return [by_key[k] for k in dict.fromkeys(keys) if k in by_key]
