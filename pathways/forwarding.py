"""What a pathway covers, for forwarding targets that filter on a pathway
(``cairn forward add --pathway``)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathways.models import Pathway, Step


def pathway_activities(session: Session, pathway_iri: str) -> list[str]:
    """The activity IRIs of the pathway with this IRI and of its steps, in every version of it."""
    lineages = select(Pathway.lineage).where(Pathway.activity_iri == pathway_iri).scalar_subquery()
    versions = select(Pathway.id).where(Pathway.lineage.in_(lineages))
    found = set(session.scalars(select(Pathway.activity_iri).where(Pathway.id.in_(versions))))
    found.update(session.scalars(select(Step.activity_iri).where(Step.pathway_id.in_(versions))))
    return sorted(found)
