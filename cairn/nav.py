"""The site navigation, assembled from links that each package registers in its ``init_app``.

``cairn`` knows nothing of the pages other packages serve; they announce them here, so that the
learner bar and the administration menu list every area without an import pointing the wrong way.
Two areas: ``learner`` (the main bar, for anyone signed in) and ``admin`` (the administration menu).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request

AREAS = ("learner", "admin")


@dataclass(frozen=True)
class NavLink:
    area: str
    endpoint: str
    label: str
    order: int = 100
    # Endpoints of the pages that belong to this entry (marked current there), by prefix.
    section: str = ""

    @property
    def current(self) -> bool:
        endpoint = request.endpoint or ""
        if self.section:
            return endpoint.startswith(self.section)
        return endpoint == self.endpoint


def register_nav_link(app: Flask, area: str, endpoint: str, label: str, *, order: int = 100,
                      section: str = "") -> None:
    """Add a link to the learner bar (``area="learner"``) or the administration menu (``"admin"``)."""
    if area not in AREAS:
        raise ValueError(f"area must be one of {', '.join(AREAS)}")
    app.extensions.setdefault("cairn.nav", []).append(NavLink(area, endpoint, label, order, section))


def nav_links(area: str) -> list[NavLink]:
    """The links of ``area`` whose pages exist in this app, in display order."""
    links = current_app.extensions.get("cairn.nav", [])
    return sorted((link for link in links
                   if link.area == area and link.endpoint in current_app.view_functions),
                  key=lambda link: (link.order, link.label))


def init_app(app: Flask) -> None:
    app.extensions.setdefault("cairn.nav", [])
    app.context_processor(lambda: {"nav_links": nav_links})
