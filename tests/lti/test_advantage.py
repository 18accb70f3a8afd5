"""LTI Advantage services driven by the test platform against a live Cairn: Deep Linking 2.0,
Assignment and Grade Services 2.0 (through the durable queue), Names and Role Provisioning Services
2.0 (with paging), Dynamic Registration 1.0 and tool key rotation."""
from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

import pytest
import requests

from benchmarks.lti_platform import (
    INSTRUCTOR,
    LEARNER,
    Message,
    Person,
    parse_page,
    running_platform,
)
from tests.conftest import make_test_app
from tests.lti.conftest import LtiWorld

pytestmark = pytest.mark.e2e

XAPI_HEADERS = {"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"}
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"


@dataclass
class Catalogue:
    lineage: str
    title: str
    step_iris: list[str]
    step_keys: list[str]


@pytest.fixture(scope="module")
def pathway(world: LtiWorld) -> Catalogue:
    """A published two-step pathway in the live Cairn's database, made by pathways' own services."""
    from pathways import services
    app = make_test_app(world.cairn.database_url, BASE_URL=world.cairn.url)
    with app.app_context():
        from cairn.db import get_session
        session = get_session()
        category = services.create_category(session, name="Safety")
        info = services.create_pathway(session, title="Fire safety", outcome_kind="compliance",
                                       description="Evacuation and extinguishers", category_id=category.id)
        steps = [services.add_step(session, info.id, kind="xapi", title=f"Module {n}",
                                   launch_url=f"https://content.example/m{n}") for n in (1, 2)]
        services.publish_pathway(session, info.id)
        session.commit()
        return Catalogue(info.lineage, info.title, [s.activity_iri for s in steps], [s.key for s in steps])


@pytest.fixture(scope="module")
def xapi(world: LtiWorld) -> Iterator[dict[str, str]]:
    created = world.cairn.cli("credentials", "create", "--name", "content", "--scopes",
                             "statements/write,statements/read", "--json")
    credential = json.loads(created.stdout)
    token = base64.b64encode(f"{credential['key']}:{credential['secret']}".encode()).decode()
    yield {**XAPI_HEADERS, "Authorization": f"Basic {token}"}


def deep_link(world: LtiWorld, browser: requests.Session, chosen: list[str], *,
              query: str = "") -> requests.Response:
    """An instructor's Deep Linking launch, the selection, and the return to the platform."""
    teacher = Person(sub=f"teacher-{time.time_ns()}", name="Tess Teacher", roles=[INSTRUCTOR])
    launched = world.platform.launch(browser, Message(person=teacher, message_type="LtiDeepLinkingRequest",
                                                      resource_link_id=None))
    assert launched.status_code == 302, launched.text
    page_url = world.cairn.url + launched.headers["Location"]
    page = browser.get(page_url, params={"q": query} if query else None, timeout=10)
    assert page.status_code == 200
    form = next(f for f in parse_page(page.text).forms if f["method"] == "post")
    returned = browser.post(urljoin(page_url, form["action"]), data={"items": chosen}, timeout=10)
    assert returned.status_code == 200, returned.text
    back = next(f for f in parse_page(returned.text).forms if f["id"] == "lti-autosubmit")
    assert back["action"] == f"{world.platform.issuer}/deep_link_return"
    return browser.post(back["action"], data=back["fields"], timeout=10)


def test_deep_linking_round_trip_returns_signed_content_items_with_line_items(
        world: LtiWorld, pathway: Catalogue, browser: requests.Session) -> None:
    """Deep Linking 2.0 §4.2: ltiResourceLink items, a lineItem for gradable ones, the data claim
    echoed, the JWT signed with the tool's key (verified by the platform against our JWKS)."""
    keys_before = {k["kid"] for k in
                   requests.get(f"{world.cairn.url}/lti/jwks.json", timeout=5).json()["keys"]}
    chosen = [f"pathway:{pathway.lineage}", f"step:{pathway.lineage}/{pathway.step_keys[0]}"]
    answer = deep_link(world, browser, chosen, query="fire")
    assert answer.status_code == 200, answer.text
    received = world.platform.deep_link_responses[-1]
    assert received["kid"] in keys_before
    claims = received["claims"]
    items = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert [i["type"] for i in items] == ["ltiResourceLink", "ltiResourceLink"]
    assert [i["custom"]["cairn_target"] for i in items] == chosen
    assert items[0]["lineItem"]["scoreMaximum"] == 100 and items[0]["lineItem"]["resourceId"] == chosen[0]
    assert "lineItem" not in items[1]  # a content step has no grade
    assert items[0]["url"] == f"{world.cairn.url}/lti/launch"
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-data-42"


def test_deep_linking_page_searches_the_catalogue(
        world: LtiWorld, pathway: Catalogue, browser: requests.Session) -> None:
    teacher = Person(sub=f"teacher-{time.time_ns()}", name="Tess Teacher", roles=[INSTRUCTOR])
    launched = world.platform.launch(browser, Message(person=teacher, message_type="LtiDeepLinkingRequest",
                                                      resource_link_id=None))
    page_url = world.cairn.url + launched.headers["Location"]
    assert pathway.title in browser.get(page_url, params={"q": "evacuation"}, timeout=10).text
    assert pathway.title not in browser.get(page_url, params={"q": "chemistry"}, timeout=10).text
    assert pathway.title in browser.get(page_url, params={"category": "Safety"}, timeout=10).text


def test_a_deep_linking_selection_answers_once(
        world: LtiWorld, pathway: Catalogue, browser: requests.Session) -> None:
    teacher = Person(sub=f"teacher-{time.time_ns()}", name="Tess Teacher", roles=[INSTRUCTOR])
    launched = world.platform.launch(browser, Message(person=teacher, message_type="LtiDeepLinkingRequest",
                                                      resource_link_id=None))
    url = world.cairn.url + launched.headers["Location"]
    assert browser.post(url, data={"items": ["catalogue:"]}, timeout=10).status_code == 200
    again = browser.post(url, data={"items": ["catalogue:"]}, timeout=10)
    assert again.status_code == 404 and 'data-check="launch"' in again.text


def complete(world: LtiWorld, headers: dict[str, str], sub: str, activity: str) -> None:
    statement = {"actor": {"objectType": "Agent",
                           "account": {"homePage": world.platform.issuer, "name": sub}},
                 "verb": {"id": COMPLETED, "display": {"en-US": "completed"}},
                 "object": {"objectType": "Activity", "id": activity}}
    response = requests.post(f"{world.cairn.url}/xapi/statements", json=statement, headers=headers,
                             timeout=10)
    assert response.status_code == 200, response.text


def deliver(world: LtiWorld, *args: str) -> str:
    return world.cairn.cli("lti", "deliver-scores", *args).stdout


def test_scores_reach_the_platform_once_and_in_order_after_it_was_down(
        world: LtiWorld, pathway: Catalogue, xapi: dict[str, str]) -> None:
    """AGS 2.0 §3.4: scores posted to the link's line item; a platform that is down gets them later,
    each once, in order (the durable queue)."""
    platform = world.platform
    item_url = f"{platform.lineitems_url('c-ags')}/given"
    platform.lineitems[item_url] = {"id": item_url, "label": "Fire safety", "scoreMaximum": 100,
                                    "_context": "c-ags"}
    learner = Person(sub=f"ags-{time.time_ns()}", name="Ada Grade", roles=[LEARNER])
    with requests.Session() as browser:
        launched = platform.launch(browser, Message(person=learner, context_id="c-ags",
                                                    resource_link_id="ags-link",
                                                    custom={"cairn_target": f"pathway:{pathway.lineage}"},
                                                    lineitem=item_url))
        assert launched.status_code == 302
    platform.down = True
    complete(world, xapi, learner.sub, pathway.step_iris[0])
    complete(world, xapi, learner.sub, pathway.step_iris[1])
    assert "delivered 0, failed 1, waiting 1" in deliver(world)
    assert platform.scores.get(item_url, []) == []
    platform.down = False
    assert "delivered 2" in deliver(world, "--now")
    scores = [s for s in platform.scores[item_url] if s["userId"] == learner.sub]
    assert [(s["scoreGiven"], s["activityProgress"], s["gradingProgress"]) for s in scores] == [
        (50.0, "InProgress", "Pending"), (100.0, "Completed", "FullyGraded")]
    assert all(s["scoreMaximum"] == 100 for s in scores)
    assert "delivered 0, failed 0" in deliver(world, "--now")
    assert len([s for s in platform.scores[item_url] if s["userId"] == learner.sub]) == 2


def test_a_link_without_a_line_item_gets_one_created(
        world: LtiWorld, pathway: Catalogue, xapi: dict[str, str]) -> None:
    platform = world.platform
    learner = Person(sub=f"ags2-{time.time_ns()}", name="Bo Grade", roles=[LEARNER])
    with requests.Session() as browser:
        assert platform.launch(browser, Message(person=learner, context_id="c-ags2",
                                                resource_link_id="no-item",
                                                custom={"cairn_target": f"pathway:{pathway.lineage}"})
                               ).status_code == 302
    complete(world, xapi, learner.sub, pathway.step_iris[0])
    assert "delivered 1" in deliver(world, "--now")
    created = [i for i in platform.lineitems.values() if i.get("tag") == "cairn-no-item"]
    assert len(created) == 1
    assert created[0]["resourceId"] == f"pathway:{pathway.lineage}" \
        and created[0]["resourceLinkId"] == "no-item"
    assert [s["scoreGiven"] for s in platform.scores[created[0]["id"]]] == [50.0]
    rows = world.query("SELECT lineitem_url FROM lti_resource_links WHERE resource_link_id = 'no-item'")
    assert rows == [(created[0]["id"],)]


def wait_for(condition, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_roster_is_synced_with_paging_and_leavers_become_inactive(world: LtiWorld) -> None:
    """NRPS 2.0: every page (Link rel="next") is read after a launch; on a later sync members who
    left are made inactive in the context and in its class, not deleted."""
    platform = world.platform
    stamp = time.time_ns()
    teacher = Person(sub=f"t-{stamp}", name="Tara Teacher", roles=[INSTRUCTOR])
    pupils = [Person(sub=f"p{n}-{stamp}", name=f"Pupil {n}", email=f"p{n}.{stamp}@school.example")
              for n in range(4)]
    platform.members["c-roster"] = [teacher, *pupils]
    pages_before = platform.nrps_pages_served
    with requests.Session() as browser:
        assert platform.launch(browser, Message(person=teacher, context_id="c-roster")).status_code == 302

    def members() -> dict[str, bool]:
        return {sub: bool(active) for sub, active in world.query(
            "SELECT m.sub, m.active FROM lti_context_members m JOIN lti_contexts c "
            "ON c.id = m.context_id WHERE c.context_id = 'c-roster'")}
    wait_for(lambda: len(members()) == 5)
    assert platform.nrps_pages_served - pages_before == 3  # 5 members, 2 per page
    assert all(members().values())
    platform.members["c-roster"] = [teacher, pupils[0], pupils[1]]
    pupils[1].status = "Inactive"
    context_pk = world.query("SELECT id FROM lti_contexts WHERE context_id = 'c-roster'")[0][0]
    output = world.cairn.cli("lti", "sync-roster", str(context_pk)).stdout
    assert "2 active, 3 inactive, 2 pages" in output
    assert members() == {teacher.sub: True, pupils[0].sub: True, pupils[1].sub: False,
                         pupils[2].sub: False, pupils[3].sub: False}
    in_class = {value: bool(active) for value, active in world.query(
        "SELECT i.value, cm.active FROM class_members cm JOIN academic_classes ac ON ac.id = cm.class_id "
        "JOIN user_identities i ON i.user_id = cm.user_id "
        "WHERE ac.external_id = 'c-roster' AND i.kind = 'account'")}
    assert in_class[f"{platform.issuer}|{pupils[2].sub}"] is False
    assert in_class[f"{platform.issuer}|{teacher.sub}"] is True
    roles = dict(world.query("SELECT i.value, cm.role FROM class_members cm JOIN user_identities i "
                             "ON i.user_id = cm.user_id WHERE i.kind = 'account' AND i.value = :v",
                             v=f"{platform.issuer}|{teacher.sub}"))
    assert roles == {f"{platform.issuer}|{teacher.sub}": "instructor"}


def test_a_launch_records_a_launched_statement_with_the_class_platform_and_registration(
        world: LtiWorld, pathway: Catalogue, xapi: dict[str, str]) -> None:
    learner = Person(sub=f"stmt-{time.time_ns()}", name="Sam Statement")
    with requests.Session() as browser:
        assert world.platform.launch(browser, Message(person=learner, context_id="c-stmt",
                                                      resource_link_id="s-link",
                                                      custom={"cairn_target": f"pathway:{pathway.lineage}"})
                                     ).status_code == 302
    agent = json.dumps({"account": {"homePage": world.platform.issuer, "name": learner.sub}})
    found = requests.get(f"{world.cairn.url}/xapi/statements", params={
        "agent": agent, "verb": "http://adlnet.gov/expapi/verbs/launched"}, headers=xapi, timeout=10)
    assert found.status_code == 200, found.text
    statements = found.json()["statements"]
    assert len(statements) == 1
    statement = statements[0]
    assert statement["object"]["id"] == world.query(
        "SELECT activity_iri FROM pathways WHERE lineage = :l AND status = 'published'",
        l=pathway.lineage)[0][0]
    grouping = statement["context"]["contextActivities"]["grouping"][0]
    assert grouping["id"].endswith("/lti/contexts/c-stmt")
    assert grouping["definition"]["type"] == "http://adlnet.gov/expapi/activities/course"
    assert statement["context"]["platform"] == "Test platform"
    assert len(statement["context"]["registration"]) == 36
    assert statement["authority"]["account"]["name"] == "lti"


def test_dynamic_registration_registers_the_platform_and_closes(world: LtiWorld) -> None:
    """LTI Dynamic Registration 1.0 §3: configuration read, client registration posted, result
    stored, and the page posts org.imsglobal.lti.close."""
    with running_platform(world.cairn.url, client_id="dynamic-client", deployment_id="dyn-1") as other:
        config = json.loads(world.cairn.cli("lti", "tool-config", "--json").stdout)
        url = config["dynamic_registration_url"]
        assert url.startswith(f"{world.cairn.url}/lti/register?cairn_token=")
        openid = f"{other.issuer}/.well-known/openid-configuration"
        # Without an administrator's registration link nobody may register a platform.
        unlinked = requests.get(f"{world.cairn.url}/lti/register", params={
            "openid_configuration": openid, "registration_token": other.registration_token}, timeout=10)
        assert unlinked.status_code == 403 and other.registrations == []
        refused = requests.get(url, params={"openid_configuration": openid, "registration_token": "wrong"},
                               timeout=10)
        assert refused.status_code == 502 and other.registrations == []
        page = requests.get(url, params={"openid_configuration": openid,
                                         "registration_token": other.registration_token}, timeout=10)
        assert page.status_code == 200, page.text
        assert parse_page(page.text).data_elements["lti-registered"]["close"] == "org.imsglobal.lti.close"
        sent = other.registrations[0]
        assert sent["initiate_login_uri"] == f"{world.cairn.url}/lti/login"
        assert sent["jwks_uri"] == f"{world.cairn.url}/lti/jwks.json"
        messages = sent["https://purl.imsglobal.org/spec/lti-tool-configuration"]["messages"]
        assert {m["type"] for m in messages} == {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"}
        assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in sent["scope"].split()
        with requests.Session() as browser:
            assert other.launch(browser,
                                Message(person=Person(sub="dyn-user", name="Dyn User"))).status_code == 302


def test_key_rotation_publishes_first_then_signs_with_the_new_key(
        world: LtiWorld, pathway: Catalogue, browser: requests.Session) -> None:
    jwks_url = f"{world.cairn.url}/lti/jwks.json"
    assert deep_link(world, browser, ["catalogue:"]).status_code == 200
    old_kid = world.platform.deep_link_responses[-1]["kid"]
    # Long enough ahead that the next deep link is signed before it, even on a loaded machine.
    output = world.cairn.cli("lti", "keys", "rotate", "--publish-ahead", "12", "--keep-old", "3600").stdout
    new_kid = output.split()[2]
    assert {k["kid"] for k in requests.get(jwks_url, timeout=5).json()["keys"]} >= {old_kid, new_kid}
    with requests.Session() as other:
        assert deep_link(world, other, ["catalogue:"]).status_code == 200
    assert world.platform.deep_link_responses[-1]["kid"] == old_kid  # published, not signing yet
    signs_from = datetime.fromisoformat(output.rsplit("signs from ", 1)[1].strip())
    time.sleep(max(0.0, (signs_from - datetime.now(UTC)).total_seconds() + 0.5))
    with requests.Session() as other:
        assert deep_link(world, other, ["catalogue:"]).status_code == 200
    assert world.platform.deep_link_responses[-1]["kid"] == new_kid
    assert old_kid in {k["kid"] for k in requests.get(jwks_url, timeout=5).json()["keys"]}
