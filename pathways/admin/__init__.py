"""The pathways administration: builder, people and assignments, assessments, records, dashboards."""
from __future__ import annotations

from flask import Flask

from cairn.nav import register_nav_link

# The administration menu: endpoint, label, order, and the prefix of the endpoints of the pages that
# belong to the entry (all in the pathways_admin blueprint).
ADMIN_MENU = (
    ("dashboard", "Dashboard", 10, "dashboard"),
    ("progress_report", "Progress report", 12, "progress"),
    ("learners", "Learner records", 15, "learner"),
    ("pathways", "Pathways", 20, "pathway"),
    ("assessments", "Assessments", 25, "assessment"),
    ("categories", "Categories", 30, "categor"),
    ("audiences", "Audiences", 40, "audience"),
    ("classes", "Classes", 50, "class"),
    ("assignments", "Assignments", 60, "assign"),
    ("sessions", "Sessions and attendance", 70, "attendance"),
)


def init_app(app: Flask) -> None:
    from pathways.admin import assessments, attendance, builder, dashboard, learners, organisation  # noqa: F401 - routes
    from pathways.admin.blueprint import bp
    app.register_blueprint(bp)
    for endpoint, label, order, section in ADMIN_MENU:
        register_nav_link(app, "admin", f"{bp.name}.{endpoint}", label, order=order,
                          section=f"{bp.name}.{section}")
