"""Pathway versions as the projection derives progress from them: rules and steps, kept per process.

A version that is not a draft never changes but for its status, so each process keeps the ones it
has read (``KEPT_VERSIONS``) and a batch only reads their keys.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cairn.db import Among, read_built
from pathways.catalogue import StepInfo, step_info
from pathways.models import Pathway, Step


@dataclass
class PathwayVersion:
    """What deriving progress needs of a pathway version: its rules and its steps, in order.

    One that is not a draft is shared between batches (``KEPT_VERSIONS``): read it, never change it.
    """

    id: int
    lineage: str
    status: str
    certifies: bool
    validity_days: int | None
    recertification_window_days: int | None
    steps: list[StepInfo]


_VERSION_COLUMNS = (Pathway.id.label("version_id"), Pathway.lineage.label("version_lineage"),
                    Pathway.status.label("version_status"), Pathway.updated_at.label("version_updated_at"),
                    (Pathway.grants_certification | (Pathway.outcome_kind == "certification"))
                    .label("certifies"),
                    Pathway.validity_days.label("version_validity_days"),
                    Pathway.recertification_window_days.label("version_window_days"))


_VERSIONS = (select(*_VERSION_COLUMNS, *Step.__table__.c).outerjoin(Step, Step.pathway_id == Pathway.id)
             .order_by(Pathway.id, Step.position, Step.id))


def _versions_by_id(among: Among) -> Any:
    return _VERSIONS.where(among(Pathway.id))


# A version that is not a draft never changes but for its status: editing it makes a new draft
# (``catalogue._editable_version``). Each process keeps those it has read, keyed by what a change
# of status (or a publish rolled back and done again) changes too; the lineage, a random UUID, keeps
# an id reused on another database or after a rollback from matching. The keys are read every batch.
VersionKey = tuple[int, str, str, datetime]
KEPT_VERSIONS: dict[VersionKey, PathwayVersion] = {}
KEPT_VERSIONS_MAX = 4096


def _version_keys(among: Among) -> Any:
    return select(Pathway.id, Pathway.lineage, Pathway.status, Pathway.updated_at).where(among(Pathway.id))


def versions_among(session: Session, ids: list[int]) -> dict[int, PathwayVersion]:
    """The versions with these ids (as ``versions_where``), the unchanged ones from this process's
    copies: one small query of their keys."""
    versions: dict[int, PathwayVersion] = {}
    missing: list[int] = []
    for key in read_built(session, _version_keys, {"ids": ids}):
        kept = KEPT_VERSIONS.get(tuple(key)) if key[2] != "draft" else None
        if kept is None:
            missing.append(key[0])
        else:
            versions[key[0]] = kept
    if missing:
        versions.update(_versions(read_built(session, _versions_by_id, {"ids": missing})))
    return versions


def versions_where(session: Session, condition: Any) -> dict[int, PathwayVersion]:
    """The pathway versions that meet ``condition`` (on ``Pathway``), by id; those that are not
    drafts are kept (``KEPT_VERSIONS``).
    """
    return _versions(session.execute(_VERSIONS.where(condition)))


def _versions(rows: Iterable[Any]) -> dict[int, PathwayVersion]:
    """The pathway versions in ``rows`` of ``_VERSIONS`` (with a condition), with their steps, by id.

    One query of plain rows: ORM objects with their steps loaded by a second query cost more than
    the derivation of a batch's few learners did.
    """
    versions: dict[int, PathwayVersion] = {}
    keys: dict[VersionKey, PathwayVersion] = {}
    for row in rows:
        version = versions.get(row.version_id)
        if version is None:
            version = versions[row.version_id] = PathwayVersion(
                row.version_id, row.version_lineage, row.version_status, bool(row.certifies),
                row.version_validity_days, row.version_window_days, [])
            if row.version_status != "draft":
                key = (row.version_id, row.version_lineage, row.version_status, row.version_updated_at)
                keys[key] = version
        if row.id is not None:
            version.steps.append(step_info(row))
    if len(KEPT_VERSIONS) > KEPT_VERSIONS_MAX:
        KEPT_VERSIONS.clear()
    KEPT_VERSIONS.update(keys)  # only once every step is in
    return versions
