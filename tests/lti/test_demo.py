from __future__ import annotations

import json

from lti import platforms
from lti.demo import DEMO_PLATFORM


def test_demo_registers_one_platform_once(app, db_session) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "--json"])
    second = runner.invoke(args=["demo", "--json"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert json.loads(first.output)["platform"]["issuer"] == DEMO_PLATFORM["issuer"]
    demo_platforms = [p for p in platforms.list_platforms(db_session) if p.issuer == DEMO_PLATFORM["issuer"]]
    assert len(demo_platforms) == 1
    assert [d.deployment_id for d in demo_platforms[0].deployments] == ["1"]
