"""Who may see and do what in the learning domain.

Administrators manage everything; instructors manage the classes they teach (their learners'
records, attendance, class reports); learners see only their own records.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from cairn.accounts.models import User
from cairn.auth import Unauthorized, current_user
from pathways.errors import Forbidden

__all__ = ["Forbidden", "admin", "can_view_learner", "report_scope", "require_class_manager",
           "require_learner_view", "signed_in"]
from pathways.people import classes_taught_by, learners_taught_by


def signed_in() -> User:
    user = current_user()
    if user is None:
        raise Unauthorized("sign in first")
    return user


def admin() -> User:
    user = signed_in()
    if not user.is_admin:
        raise Forbidden("this needs an administrator")
    return user


def can_view_learner(session: Session, viewer: User, learner_id: int) -> bool:
    """Administrators see everyone; instructors their classes' learners; learners themselves."""
    return viewer.is_admin or viewer.id == learner_id or learner_id in learners_taught_by(session, viewer.id)


def require_learner_view(session: Session, viewer: User, learner_id: int) -> None:
    if not can_view_learner(session, viewer, learner_id):
        raise Forbidden("you may only see your own records, or those of learners in classes you teach")


def report_scope(session: Session, viewer: User) -> set[int] | None:
    """The learners whose rows a viewer may see in reports: None = everyone (administrators)."""
    if viewer.is_admin:
        return None
    if classes_taught_by(session, viewer.id):
        return learners_taught_by(session, viewer.id)
    raise Forbidden("reports are for administrators and instructors")


def require_class_manager(session: Session, viewer: User, class_id: int) -> None:
    if viewer.is_admin or any(c.id == class_id for c in classes_taught_by(session, viewer.id)):
        return
    raise Forbidden("only an administrator or an instructor of this class can do this")
