"""The projection's derived layer: step states, pathway progress and certification awards.

Recomputed per learner from their facts (``pathways.facts``) by the pure functions of
``pathways.derive`` whenever their facts or their assignments change, and only for the pathways
that can have changed; the rows are read and written with Core, not ORM objects.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (String, bindparam, delete, literal_column, null, or_, select, union_all, update)
from sqlalchemy.orm import Session

from cairn.accounts.models import UserIdentity
from cairn.db import Among, commit_durably, read_built, typed_null
from pathways.derive import Fact, PathwayResult, derive_pathway
from pathways.facts import Affected, chunks, insert_rows, unnest_arrays
from pathways.models import (CertificateCode, CertificationAward, Pathway, PathwayProgress, ProgressFact,
                             Step, StepLaunch, StepProgress)
from pathways.outcomes import tell_listeners
from pathways.versions import PathwayVersion, versions_among, versions_where


def _load_facts(session: Session, user_ids: list[int], activities: list[str] | None = None
                ) -> tuple[dict[int, list[Fact]], dict[int, dict[int, set[str]]]]:
    """Each learner's facts about step activities (by any identity, or in a registration a step launched).

    ``activities``: only facts by identity about these (the steps of the pathways being derived);
    None: about any step's activity.
    """
    owner: dict[tuple[str, str], int] = {}
    launches: dict[int, dict[int, set[str]]] = {u: {} for u in user_ids}
    registration_owner: dict[str, int] = {}
    for user_id, step_id, kind, value in read_built(session, _identities_and_launches, {"ids": user_ids}):
        if step_id is None:
            owner[(kind, value)] = user_id
        else:
            launches[user_id].setdefault(step_id, set()).add(value.lower())
            registration_owner[value.lower()] = user_id
    facts: dict[int, list[Fact]] = {u: [] for u in user_ids}
    seen: set[tuple[int, str]] = set()

    def take(user_id: int | None, row: Any) -> None:
        if user_id is None or (user_id, row[0]) in seen:
            return
        seen.add((user_id, row[0]))
        facts[user_id].append(Fact(*row[:9]))

    if activities is None or activities:
        by_identity = _facts_by_identity if activities is None else _facts_by_identity_about
        for chunk in chunks(sorted({value for _, value in owner})):
            for row in read_built(session, by_identity, {"ids": chunk, "activities": activities}):
                take(owner.get((row[9], row[10])), row)
    for chunk in chunks(sorted(registration_owner)):
        for row in read_built(session, _facts_in_registrations, {"ids": chunk}):
            take(registration_owner.get(row[3]), row)
    for items in facts.values():
        items.sort(key=lambda f: f.order)
    return facts, launches


def _identities_and_launches(among: Among) -> Any:
    """Learners' identities (no step) and launches (a step, the registration as value): one round trip."""
    return union_all(select(UserIdentity.user_id, null(), UserIdentity.kind, UserIdentity.value)
                     .where(among(UserIdentity.user_id)),
                     select(StepLaunch.user_id, StepLaunch.step_id, null(), StepLaunch.registration)
                     .where(among(StepLaunch.user_id)))


_LOADED_FACT = (ProgressFact.statement_id, ProgressFact.verb, ProgressFact.activity_iri,
                ProgressFact.registration, ProgressFact.timestamp, ProgressFact.success,
                ProgressFact.completion, ProgressFact.score_scaled, ProgressFact.voided_by,
                ProgressFact.identity_kind, ProgressFact.identity_value)


def _facts_by_identity(among: Among) -> Any:
    """Facts by these identity values about any step's activity."""
    facts = among.rows(*_LOADED_FACT, key=ProgressFact.identity_value)
    return select(*facts.c).where(facts.c.activity_iri.in_(select(Step.activity_iri)))


def _facts_by_identity_about(among: Among) -> Any:
    """Facts by these identity values about these activities."""
    facts = among.rows(*_LOADED_FACT, key=ProgressFact.identity_value,
                       also=among(ProgressFact.activity_iri, "activities"))
    return select(*facts.c)


def _facts_in_registrations(among: Among) -> Any:
    return select(*_LOADED_FACT).where(among(ProgressFact.registration))


def facts_of(session: Session, user_id: int) -> tuple[list[Fact], dict[int, set[str]]]:
    facts, launches = _load_facts(session, [user_id])
    return facts[user_id], launches[user_id]


def refresh_user(session: Session, user_id: int) -> list[tuple[int, int]]:
    """Recompute one learner's step states, pathway progress and awards from their facts."""
    return refresh_users(session, [user_id])


CHUNK = 200


def refresh_users(session: Session, user_ids: Iterable[int]) -> list[tuple[int, int]]:
    """Recompute learners' step states, pathway progress and awards from their facts, in batches.

    A learner has progress on the published version of every lineage they are enrolled in, and on
    every non-draft version one of whose steps their statements touch (so what they completed on an
    old version stays). Returns (user id, award id) of awards that are new and active.
    """
    ids = sorted(set(user_ids))
    new_awards: list[tuple[int, int]] = []
    for start in range(0, len(ids), CHUNK):
        new_awards.extend(_refresh_chunk(session, ids[start:start + CHUNK], None))
    return new_awards


def refresh_affected(session: Session, affected: Affected) -> list[tuple[int, int]]:
    """``refresh_users`` for only the pathways new facts can change (the others' inputs are unchanged)."""
    ids = sorted(affected)
    new_awards: list[tuple[int, int]] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        new_awards.extend(_refresh_chunk(session, chunk, {u: affected[u] for u in chunk}))
    return new_awards


class _Codes:
    """The learners' certificate codes as (user id, lineage, earned at), read when first asked:
    only a batch that awards a certification needs them."""

    def __init__(self, session: Session, user_ids: list[int]) -> None:
        self._session, self._user_ids = session, user_ids
        self._codes: set[tuple[int, str, datetime]] | None = None

    def _loaded(self) -> set[tuple[int, str, datetime]]:
        if self._codes is None:
            self._codes = {(u, lineage, earned_at) for u, lineage, earned_at in read_built(
                self._session, _codes_of, {"ids": self._user_ids})}
        return self._codes

    def __contains__(self, code: tuple[int, str, datetime]) -> bool:
        return code in self._loaded()

    def add(self, code: tuple[int, str, datetime]) -> None:
        self._loaded().add(code)


def _codes_of(among: Among) -> Any:
    """Built once and run on the driver (``read_built``): the learners' ids go as one list
    parameter, not an IN list whose text changes with their number."""
    return select(CertificateCode.user_id, CertificateCode.lineage, CertificateCode.earned_at) \
        .where(among(CertificateCode.user_id))


_PATHWAY_FIELDS = ("status", "percent", "completed_at", "best_score", "attempts", "last_activity_at",
                   "expires_at", "renewal_opens_at", "renewal_percent", "evidence")
_STEP_FIELDS = ("state", "done_at", "best_score", "attempts", "last_activity_at", "evidence", "withdrawn")


def _refresh_chunk(session: Session, ids: list[int], scope: dict[int, set[int]] | None
                   ) -> list[tuple[int, int]]:
    """Derive these learners' progress; ``scope``: only these pathways of each learner (None: all).

    Reads and writes the progress rows with Core (executemany), not ORM objects: a chunk touches
    thousands of rows and building objects for them cost more than the SQL.
    """
    from pathways.people import enrollments_for
    enrollments = enrollments_for(session, ids)
    if scope is not None:
        wanted = sorted({p for ps in scope.values() for p in ps})
        pathways = versions_among(session, wanted) if wanted else {}
        activities = sorted({s.activity_iri for p in pathways.values() for s in p.steps})
        facts, launches = _load_facts(session, ids, activities)
    else:
        facts, launches = _load_facts(session, ids)
        lineages = sorted({lineage for per in enrollments.values() for lineage in per})
        activities = sorted({f.activity_iri for fs in facts.values() for f in fs})
        launched_steps = sorted({s for per in launches.values() for s in per})
        candidate_ids: set[int] = set()
        for chunk in chunks(activities):
            candidate_ids.update(session.scalars(select(Step.pathway_id).where(Step.activity_iri.in_(chunk))))
        for chunk in chunks(launched_steps):
            candidate_ids.update(session.scalars(select(Step.pathway_id).where(Step.id.in_(chunk))))
        conditions = []
        if lineages:
            conditions.append((Pathway.lineage.in_(lineages)) & (Pathway.status == "published"))
        if candidate_ids:
            conditions.append(Pathway.id.in_(sorted(candidate_ids)))
        pathways = versions_where(session, or_(*conditions)) if conditions else {}
    published = {p.lineage: p for p in pathways.values() if p.status == "published"}
    steps_of = {p.id: p.steps for p in pathways.values()}
    by_activity: dict[str, set[int]] = {}
    pathway_of_step: dict[int, int] = {}
    for pathway in pathways.values():
        for step in pathway.steps:
            by_activity.setdefault(step.activity_iri, set()).add(pathway.id)
            pathway_of_step[step.id] = pathway.id

    progress: dict[int, dict[int, Any]] = {u: {} for u in ids}
    cells: dict[tuple[int, int], Any] = {}
    award_filter = [CertificationAward.pathway_id.in_(sorted(pathways))] if scope is not None else []
    awards: dict[tuple[int, int], dict[datetime, CertificationAward]] = {}
    # Only a certifying version has award rows (a version's fields are fixed once it is published),
    # so without one in scope there is nothing to read; a full refresh may meet any learner's awards.
    if scope is None or any(p.certifies for p in pathways.values()):
        for award in session.scalars(select(CertificationAward).where(CertificationAward.user_id.in_(ids),
                                                                      *award_filter)):
            awards.setdefault((award.user_id, award.pathway_id), {})[award.earned_at] = award
    codes = _Codes(session, ids)
    wanted_rows = {"ids": ids} if scope is None else \
        {"ids": ids, "pathways": sorted(pathways), "steps": sorted(pathway_of_step)}
    for row in read_built(session, _derived_rows if scope is None else _derived_rows_of, wanted_rows):
        if row.kind == "pathway":
            progress[row.user_id][row.key] = _ProgressRow(row.id, row.user_id, row.key,
                                                          *(getattr(row, f) for f in _PATHWAY_FIELDS))
        else:
            cells[(row.user_id, row.key)] = _StepRow(row.id, row.user_id, row.key,
                                                     *(getattr(row, f) for f in _STEP_FIELDS))

    fresh: list[tuple[int, CertificationAward]] = []
    notices: list[tuple[int, PathwayVersion, list[Any], Any, dict[int, Any], PathwayResult]] = []
    new_progress: list[dict[str, Any]] = []
    changed_progress: list[dict[str, Any]] = []
    new_cells: list[dict[str, Any]] = []
    changed_cells: list[dict[str, Any]] = []
    gone: list[tuple[int, int]] = []
    for user_id in ids:
        mine = enrollments.get(user_id, {})
        allowed = scope[user_id] if scope is not None else None
        targets: dict[int, int | None] = {}
        for lineage, enrollment in mine.items():
            if lineage in published and (allowed is None or published[lineage].id in allowed):
                targets[published[lineage].id] = enrollment.recurrence_months
        touched = {p for f in facts[user_id] for p in by_activity.get(f.activity_iri, ())}
        touched |= {pathway_of_step[s] for s in launches[user_id] if s in pathway_of_step}
        for pathway_id in touched:
            pathway = pathways.get(pathway_id)
            if pathway is not None and pathway.status != "draft" and \
                    (allowed is None or pathway_id in allowed):
                enrollment = mine.get(pathway.lineage)
                targets.setdefault(pathway_id, enrollment.recurrence_months if enrollment else None)
        rows = progress.get(user_id, {})
        facts_by_activity: dict[str, list[Fact]] = {}
        registered: dict[str, list[Fact]] = {}
        for fact in facts[user_id]:
            facts_by_activity.setdefault(fact.activity_iri, []).append(fact)
            if fact.registration is not None:
                registered.setdefault(fact.registration, []).append(fact)
        for pathway_id in sorted(targets):
            pathway = pathways[pathway_id]
            steps = steps_of[pathway_id]
            validity = pathway.validity_days or ((targets[pathway_id] or 0) * 30) or None
            chosen = _facts_for_pathway(steps, facts_by_activity, registered, launches[user_id])
            result = derive_pathway(steps, chosen, launches[user_id], validity_days=validity,
                                    window_days=pathway.recertification_window_days)
            row = rows.get(pathway_id)
            before = (row.status, row.percent, row.best_score) if row is not None else None
            before_steps = {s.id: (cells[(user_id, s.id)].state, cells[(user_id, s.id)].best_score)
                            for s in steps if (user_id, s.id) in cells}
            values = {"status": result.status, "percent": result.percent, "completed_at": result.completed_at,
                      "best_score": result.best_score, "attempts": result.attempts,
                      "last_activity_at": result.last_activity_at, "expires_at": result.expires_at,
                      "renewal_opens_at": result.renewal_opens_at, "renewal_percent": result.renewal_percent,
                      "evidence": result.evidence}
            if row is None:
                new_progress.append({"user_id": user_id, "pathway_id": pathway_id, **values})
            elif _differs(row, values):
                changed_progress.append({"id": row.id, **values})
            for step_id, sr in result.steps.items():
                step_values = {"state": sr.state, "done_at": sr.done_at, "best_score": sr.best_score,
                               "attempts": sr.attempts, "last_activity_at": sr.last_activity_at,
                               "evidence": sr.evidence, "withdrawn": sr.withdrawn}
                cell = cells.get((user_id, step_id))
                if cell is None:
                    new_cells.append({"user_id": user_id, "step_id": step_id, **step_values})
                elif _differs(cell, step_values):
                    changed_cells.append({"id": cell.id, **step_values})
            fresh.extend((user_id, a) for a in _sync_awards(session, user_id, pathway, result,
                                                             awards.get((user_id, pathway_id), {}), codes))
            notices.append((user_id, pathway, steps, before, before_steps, result))
        for pathway_id in rows:
            if pathway_id not in targets and (allowed is None or pathway_id in allowed):
                gone.append((user_id, pathway_id))
                for award in awards.get((user_id, pathway_id), {}).values():
                    session.delete(award)
    _write_progress(session, new_progress, changed_progress, new_cells, changed_cells, gone, progress)
    session.flush()
    tell_listeners(session, notices)
    return [(user_id, award.id) for user_id, award in fresh]


_PROGRESS_COLUMNS = (PathwayProgress.id, PathwayProgress.user_id, PathwayProgress.pathway_id,
                     *(getattr(PathwayProgress, f) for f in _PATHWAY_FIELDS))
_STEP_COLUMNS = (StepProgress.id, StepProgress.user_id, StepProgress.step_id,
                 *(getattr(StepProgress, f) for f in _STEP_FIELDS))


def _progress_rows(among: Among) -> Any:
    return select(*_PROGRESS_COLUMNS).where(among(PathwayProgress.user_id))


def _progress_rows_of(among: Among) -> Any:
    """These learners' rows on these pathways: looked up by learner (``Among.rows``)."""
    rows = among.rows(*_PROGRESS_COLUMNS, key=PathwayProgress.user_id)
    return select(*rows.c).where(among(rows.c.pathway_id, "pathways"))


def _step_rows(among: Among) -> Any:
    return select(*_STEP_COLUMNS).where(among(StepProgress.user_id))


def _step_rows_of(among: Among) -> Any:
    """These learners' rows on these steps: looked up by learner (``Among.rows``)."""
    rows = among.rows(*_STEP_COLUMNS, key=StepProgress.user_id)
    return select(*rows.c).where(among(rows.c.step_id, "steps"))


def _derived_rows(among: Among) -> Any:
    """The learners' pathway and step rows, in one round trip (``_both``)."""
    return _both(_progress_rows(among), _step_rows(among))


def _derived_rows_of(among: Among) -> Any:
    """The learners' rows on these pathways and these steps, in one round trip (``_both``)."""
    return _both(_progress_rows_of(among), _step_rows_of(among))


_SHARED_FIELDS = tuple(f for f in _PATHWAY_FIELDS if f in _STEP_FIELDS)
_PATHWAY_ONLY = tuple(f for f in _PATHWAY_FIELDS if f not in _SHARED_FIELDS)
_STEP_ONLY = tuple(f for f in _STEP_FIELDS if f not in _SHARED_FIELDS)
_ProgressRow = namedtuple("_ProgressRow", ("id", "user_id", "pathway_id", *_PATHWAY_FIELDS))  # type: ignore[misc]
_StepRow = namedtuple("_StepRow", ("id", "user_id", "step_id", *_STEP_FIELDS))  # type: ignore[misc]


def _both(progress: Any, steps: Any) -> Any:
    """Pathway rows and step rows as one result: kind ("pathway" or "step"), id, user id, key (the
    pathway's or the step's id), then every field of either, NULL (of the column's type, so that
    its converters apply) where the row's kind has no such field. A pass read them in two round
    trips, each its share of a batch's fixed cost."""
    p, s = progress.subquery(), steps.subquery()
    pathway_columns, step_columns = PathwayProgress.__table__.c, StepProgress.__table__.c
    none = typed_null
    return union_all(
        select(literal_column("'pathway'", String).label("kind"), p.c.id, p.c.user_id,
               p.c.pathway_id.label("key"),
               *(p.c[f] for f in _SHARED_FIELDS + _PATHWAY_ONLY),
               *(none(step_columns[f]) for f in _STEP_ONLY)),
        select(literal_column("'step'", String), s.c.id, s.c.user_id, s.c.step_id,
               *(s.c[f] for f in _SHARED_FIELDS), *(none(pathway_columns[f]) for f in _PATHWAY_ONLY),
               *(s.c[f] for f in _STEP_ONLY)))


def _facts_for_pathway(steps: list[Any], by_activity: dict[str, list[Fact]],
                       registered: dict[str, list[Fact]], launches: dict[int, set[str]]) -> list[Fact]:
    """The learner's facts a pathway's derivation can use: about its steps' activities or in their launches.

    ``derive_pathway`` looks at no other fact; handing it only these keeps its work per pathway small.
    """
    chosen: dict[str, Fact] = {}
    for step in steps:
        for fact in by_activity.get(step.activity_iri, ()):
            chosen[fact.statement_id] = fact
        for registration in launches.get(step.id, ()):
            for fact in registered.get(registration, ()):
                chosen[fact.statement_id] = fact
    return sorted(chosen.values(), key=lambda f: f.order)


def _differs(row: Any, values: dict[str, Any]) -> bool:
    return any(getattr(row, name) != value for name, value in values.items())


def _write_progress(session: Session, new_progress: list[dict[str, Any]],
                    changed_progress: list[dict[str, Any]],
                    new_cells: list[dict[str, Any]], changed_cells: list[dict[str, Any]],
                    gone: list[tuple[int, int]], progress: dict[int, dict[int, Any]]) -> None:
    """Write the derived rows by executemany; objects of them already in the session are expired."""
    insert_rows(session, PathwayProgress, new_progress)
    _update_rows(session, PathwayProgress, _PATHWAY_FIELDS, changed_progress)
    insert_rows(session, StepProgress, new_cells)
    _update_rows(session, StepProgress, _STEP_FIELDS, changed_cells)
    for user_id, pathway_id in gone:
        steps = select(Step.id).where(Step.pathway_id == pathway_id)
        session.execute(delete(StepProgress)
                        .where(StepProgress.user_id == user_id, StepProgress.step_id.in_(steps))
                        .execution_options(synchronize_session=False))
        session.execute(delete(PathwayProgress).where(PathwayProgress.id == progress[user_id][pathway_id].id)
                        .execution_options(synchronize_session=False))
    for model, changed in ((PathwayProgress, changed_progress), (StepProgress, changed_cells)):
        for row in changed:
            obj = session.identity_map.get(session.identity_key(model, row["id"]))
            if obj is not None:
                session.expire(obj)
    if gone:  # rows deleted: loaded objects of them (rare) leave the session
        gone_ids = {progress[u][p].id for u, p in gone}
        users = {u for u, _ in gone}
        for obj in list(session.identity_map.values()):
            if (isinstance(obj, PathwayProgress) and obj.id in gone_ids) or \
                    (isinstance(obj, StepProgress) and obj.user_id in users):
                session.expunge(obj)


_UPDATES: dict[str, Any] = {}


def _update_rows(session: Session, model: Any, fields: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """UPDATE rows (each with its ``id`` and every one of ``fields``) by one statement built once.

    PostgreSQL: one UPDATE from arrays of the new values, one per column (``_array_update``); an
    executemany through the session cost more of the client than the rows a batch changes (a
    pipeline of one statement per row, each through SQLAlchemy's execution). SQLite: one
    executemany of a plain statement (the ORM's bulk update by primary key cost more still).
    """
    if not rows:
        return
    table = model.__table__
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        sql, processors = _array_update(table, fields, connection.dialect)
        parameters: dict[str, Any] = {"id": [row["id"] for row in rows]}
        for name in fields:
            process = processors[name]
            parameters[name] = [row[name] if process is None or row[name] is None else process(row[name])
                                for row in rows]
        connection.exec_driver_sql(sql, parameters)
        return
    statement = _UPDATES.get(table.name)
    if statement is None:
        statement = _UPDATES[table.name] = update(table).where(table.c.id == bindparam("row_id")).values(
            {name: bindparam(f"new_{name}", type_=table.c[name].type) for name in fields})
    session.execute(statement, [{"row_id": row["id"], **{f"new_{name}": row[name] for name in fields}}
                                for row in rows])


_ARRAY_UPDATES: dict[tuple[str, tuple[str, ...]], tuple[str, dict[str, Any]]] = {}


def _array_update(table: Any, fields: tuple[str, ...], dialect: Any) -> tuple[str, dict[str, Any]]:
    """``UPDATE table SET f = v.f ... FROM unnest(ids, f values...) AS v WHERE id = v.id`` for
    PostgreSQL (each array cast to its column's type), and each field's bind processor (timestamps
    in UTC, JSON wrapped for the driver); built once per table."""
    key = (table.name, fields)
    built = _ARRAY_UPDATES.get(key)
    if built is None:
        quote = dialect.identifier_preparer.quote
        sql = (f"UPDATE {quote(table.name)} AS t SET "
               + ", ".join(f"{quote(name)} = v.{quote(name)}" for name in fields)
               + f" FROM {unnest_arrays(table, ('id', *fields), dialect)} WHERE t.id = v.id")
        processors = {name: table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                      for name in fields}
        built = _ARRAY_UPDATES[key] = (sql, processors)
    return built


def _set(row: Any, **values: Any) -> bool:
    """Set only the attributes that differ (an unchanged row is not written); tell whether any did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _sync_awards(session: Session, user_id: int, pathway: PathwayVersion, result: PathwayResult,
                 current: dict[datetime, CertificationAward], codes: _Codes) -> list[CertificationAward]:
    """Bring a learner's award rows for a pathway in line with the derived ones; return newly active ones."""
    if not pathway.certifies:
        result.awards = []
    wanted = {a.earned_at for a in result.awards}
    for earned_at, row in current.items():
        if earned_at not in wanted:
            session.delete(row)
    fresh = []
    for award in result.awards:
        row = current.get(award.earned_at)
        is_new = row is None or (row.revoked and not award.revoked)
        if row is None:
            row = CertificationAward(user_id=user_id, pathway_id=pathway.id, earned_at=award.earned_at)
            session.add(row)
        _set(row, expires_at=award.expires_at, revoked=award.revoked, revoked_by=award.revoked_by,
             statement_ids=award.statement_ids)
        if not award.revoked:
            if (user_id, pathway.lineage, award.earned_at) not in codes:
                import secrets
                session.add(CertificateCode(code=secrets.token_hex(8).upper(), user_id=user_id,
                                            lineage=pathway.lineage, earned_at=award.earned_at))
                commit_durably(session)  # a random code: a rebuild would not make the same one
                codes.add((user_id, pathway.lineage, award.earned_at))
            if is_new:
                fresh.append(row)
    return fresh


def refresh_lineage(session: Session, lineage: str) -> None:
    """Recompute every learner who is on, or has progress on, any version of a pathway."""
    from pathways.people import learners_of_lineage
    users = set(learners_of_lineage(session, lineage))
    users.update(session.scalars(select(PathwayProgress.user_id).join(
        Pathway, Pathway.id == PathwayProgress.pathway_id).where(Pathway.lineage == lineage)))
    # Learners whose earlier statements are about one of the (new) steps' activities.
    steps = select(Step.id, Step.activity_iri).join(Pathway, Pathway.id == Step.pathway_id).where(
        Pathway.lineage == lineage, Pathway.status != "draft")
    activities = sorted({iri for _, iri in session.execute(steps)})
    for chunk in chunks(activities):
        users.update(session.scalars(select(UserIdentity.user_id).join(
            ProgressFact, (ProgressFact.identity_kind == UserIdentity.kind) &
            (ProgressFact.identity_value == UserIdentity.value)).where(ProgressFact.activity_iri.in_(chunk))
            .distinct()))
    users.update(session.scalars(select(StepLaunch.user_id).where(
        StepLaunch.step_id.in_(select(steps.subquery().c.id)))))
    refresh_users(session, users)
