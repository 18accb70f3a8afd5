"""Fixtures for pathways tests: small builders that go through the service functions."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from pathways import services


def make_pathway(session: Session, *, steps: int = 2, publish: bool = True, **fields: Any):
    """A pathway with ``steps`` xAPI content steps (required), published unless told otherwise."""
    fields.setdefault("title", "Safety basics")
    fields.setdefault("outcome_kind", "training_attendance")
    pathway = services.create_pathway(session, **fields)
    for n in range(steps):
        services.add_step(session, pathway.id, kind="xapi", title=f"Module {n + 1}",
                          launch_url=f"https://content.example.org/m{n + 1}/index.html",
                          activity_iri=f"https://content.example.org/{pathway.lineage}/m{n + 1}")
    if publish:
        services.publish_pathway(session, pathway.id)
    return services.get_pathway(session, pathway.id)


@pytest.fixture()
def pathway_factory(db_session):
    return lambda **kw: make_pathway(db_session, **kw)
