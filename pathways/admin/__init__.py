"""The pathways administration: builder, people and assignments, assessments, records, dashboards."""
from __future__ import annotations

from flask import Flask

from cairn.nav import register_nav_link


def init_app(app: Flask) -> None:
    from pathways.admin import assessments, attendance, builder, dashboard, learners, organisation  # noqa: F401 - routes
    from pathways.admin.blueprint import bp
    app.register_blueprint(bp)
    register_nav_link(app, "admin", "pathways_admin.dashboard", "Dashboard", order=10,
                      section="pathways_admin.dashboard")
    register_nav_link(app, "admin", "pathways_admin.progress_report", "Progress report", order=12,
                      section="pathways_admin.progress")
    register_nav_link(app, "admin", "pathways_admin.learners", "Learner records", order=15,
                      section="pathways_admin.learner")
    register_nav_link(app, "admin", "pathways_admin.pathways", "Pathways", order=20,
                      section="pathways_admin.pathway")
    register_nav_link(app, "admin", "pathways_admin.assessments", "Assessments", order=25,
                      section="pathways_admin.assessment")
    register_nav_link(app, "admin", "pathways_admin.sessions", "Sessions and attendance", order=70,
                      section="pathways_admin.attendance")
    register_nav_link(app, "admin", "pathways_admin.categories", "Categories", order=30,
                      section="pathways_admin.categor")
    register_nav_link(app, "admin", "pathways_admin.audiences", "Audiences", order=40,
                      section="pathways_admin.audience")
    register_nav_link(app, "admin", "pathways_admin.classes", "Classes", order=50,
                      section="pathways_admin.class")
    register_nav_link(app, "admin", "pathways_admin.assignments", "Assignments", order=60,
                      section="pathways_admin.assign")
