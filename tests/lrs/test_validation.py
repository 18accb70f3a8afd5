"""Statement validation rules of the xAPI data model, each named after its section (xAPI 1.0.3 Data)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from cairn import jsoncodec
from lrs.errors import StatementInvalid
from lrs.validation import FOUND_VALID, Validator, _FoundValid, parse_timestamp
from tests.lrs.conftest import statement

ACTIVITY = {"id": "http://example.org/a"}


def rejects(body: dict, where: str, version: str = "1.0.3") -> None:
    with pytest.raises(StatementInvalid) as caught:
        Validator(version).statement(body)
    assert where in caught.value.message, caught.value.message


def accepts(body: dict, version: str = "1.0.3") -> None:
    Validator(version).statement(body)


def test_minimal_statement_is_valid() -> None:
    accepts(statement())


@pytest.mark.parametrize("actor, where", [
    ({"objectType": "Agent"}, "statement.actor"),
    ({"mbox": "mailto:a@b.c", "openid": "http://openid.example.org/a"}, "statement.actor"),
    ({"mbox": "a@b.c"}, "statement.actor.mbox"),
    ({"mbox_sha1sum": "xyz"}, "statement.actor.mbox_sha1sum"),
    ({"account": {"name": "n"}}, "statement.actor.account.homePage"),
    ({"account": {"homePage": "http://h.example.org"}}, "statement.actor.account.name"),
    ({"objectType": "Group"}, "statement.actor.member"),
    ({"objectType": "Group", "member": [{"objectType": "Group", "mbox": "mailto:g@b.c"}]},
     "statement.actor.member[0]"),
    ({"objectType": "Person", "mbox": "mailto:a@b.c"}, "statement.actor.objectType"),
    ({"mbox": "mailto:a@b.c", "colour": "blue"}, "statement.actor.colour"),
])
def test_actor_has_exactly_one_inverse_functional_identifier_data_2_4_2(actor: dict, where: str) -> None:
    rejects(statement(actor=actor), where)


def test_identified_group_and_anonymous_group_are_valid_data_2_4_2_2() -> None:
    accepts(statement(actor={"objectType": "Group", "member": [{"mbox": "mailto:a@b.c"}]}))
    accepts(statement(actor={"objectType": "Group",
                             "account": {"homePage": "http://h.example.org", "name": "t"}}))


@pytest.mark.parametrize("verb, where", [
    ({}, "statement.verb.id"),
    ({"id": "not an iri"}, "statement.verb.id"),
    ({"id": "http://example.org/v", "display": {"not a tag!": "x"}}, "statement.verb.display"),
    ({"id": "http://example.org/v", "display": "experienced"}, "statement.verb.display"),
])
def test_verb_needs_an_iri_id_and_a_language_map_display_data_2_4_3(verb: dict, where: str) -> None:
    rejects(statement(verb=verb), where)


@pytest.mark.parametrize("obj, where", [
    ({"objectType": "Activity"}, "statement.object.id"),
    ({"objectType": "Thing", "id": "http://example.org/x"}, "statement.object.objectType"),
    ({"objectType": "StatementRef", "id": "not-a-uuid"}, "statement.object.id"),
    ({"objectType": "SubStatement", "actor": {"mbox": "mailto:a@b.c"}, "verb": {"id": "http://e.org/v"},
      "object": {"objectType": "SubStatement"}}, "statement.object.object.objectType"),
    ({"objectType": "SubStatement", "id": "x", "actor": {"mbox": "mailto:a@b.c"}, "verb": {"id": "http://e.org/v"},
      "object": ACTIVITY}, "statement.object.id"),
    ({"id": "http://example.org/a", "definition": {"interactionType": "choice",
                                                   "scale": [{"id": "a"}]}},
     "statement.object.definition.scale"),
    ({"id": "http://example.org/a", "definition": {"interactionType": "choice",
                                                   "choices": [{"id": "a"}, {"id": "a"}]}}, "choices[1].id"),
    ({"id": "http://example.org/a", "definition": {"interactionType": "dance"}}, "interactionType"),
])
def test_object_rules_activity_statementref_substatement_data_2_4_4(obj: dict, where: str) -> None:
    rejects(statement(object=obj), where)


@pytest.mark.parametrize("result, where", [
    ({"score": {"scaled": 1.5}}, "statement.result.score.scaled"),
    ({"score": {"raw": 5, "min": 6}}, "statement.result.score.raw"),
    ({"score": {"raw": 11, "max": 10}}, "statement.result.score.raw"),
    ({"score": {"min": 10, "max": 1}}, "statement.result.score.min"),
    ({"success": "true"}, "statement.result.success"),
    ({"duration": "1 hour"}, "statement.result.duration"),
    ({"extensions": {"not-an-iri": 1}}, "statement.result.extensions"),
])
def test_result_score_ranges_duration_and_types_data_2_4_5(result: dict, where: str) -> None:
    rejects(statement(result=result), where)


def test_result_durations_in_iso_8601_are_accepted_data_2_4_5() -> None:
    for duration in ("PT1H30M", "P1DT12H", "PT0.5S", "P4W", "P1Y2M3DT4H5M6.7S"):
        accepts(statement(result={"duration": duration}))


@pytest.mark.parametrize("context, obj, where", [
    ({"revision": "r1"}, {"objectType": "Agent", "mbox": "mailto:a@b.c"}, "statement.context.revision"),
    ({"platform": "web"}, {"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"},
     "statement.context.platform"),
    ({"registration": "nope"}, ACTIVITY, "statement.context.registration"),
    ({"language": "not a tag"}, ACTIVITY, "statement.context.language"),
    ({"contextActivities": {"cousin": [ACTIVITY]}}, ACTIVITY, "statement.context.contextActivities.cousin"),
    ({"team": {"mbox": "mailto:a@b.c"}}, ACTIVITY, "statement.context.team"),
])
def test_context_rules_revision_platform_only_for_activities_data_2_4_6(
        context: dict, obj: dict, where: str) -> None:
    rejects(statement(context=context, object=obj), where)


def test_context_agents_are_2_0_only() -> None:
    context = {"contextAgents": [{"objectType": "contextAgent", "agent": {"mbox": "mailto:a@b.c"},
                                  "relevantTypes": ["http://example.org/t"]}]}
    rejects(statement(context=context), "statement.context.contextAgents")
    accepts(statement(context=context), version="2.0.0")
    bad = {"contextAgents": [{"objectType": "contextAgent", "agent": {"mbox": "mailto:a@b.c"},
                              "relevantTypes": []}]}
    rejects(statement(context=bad), "relevantTypes", version="2.0.0")


@pytest.mark.parametrize("fraction", ["", ".1", ".12", ".123", ".123456", ".1234567", ".123456789"])
@pytest.mark.parametrize("separator", ["T", "t", " "])
def test_a_utc_timestamp_reads_the_same_with_z_as_with_a_zero_offset(fraction: str, separator: str) -> None:
    # "Z" is read by a shorter way than the other zones: the same instant either way, to the microsecond.
    with_z = parse_timestamp(f"2024-02-29{separator}23:59:58{fraction}Z")
    assert with_z is not None and with_z == parse_timestamp(f"2024-02-29T23:59:58{fraction}+00:00")
    assert with_z.utcoffset() == timedelta(0)
    assert with_z.microsecond == int((fraction[1:] or "0")[:6].ljust(6, "0"))


@pytest.mark.parametrize("timestamp", ["2024-02-30T12:00:00Z", "2024-01-31T24:00:00Z",
                                       "2024-01-31T12:00:00.Z"])
def test_an_impossible_utc_timestamp_is_refused(timestamp: str) -> None:
    assert parse_timestamp(timestamp) is None
    rejects(statement(timestamp=timestamp), "statement.timestamp")


@pytest.mark.parametrize("timestamp", ["2024-13-01T00:00:00Z", "yesterday", "2024-01-01T00:00:00-00:00"])
def test_timestamps_are_iso_8601_data_2_4_7(timestamp: str) -> None:
    rejects(statement(timestamp=timestamp), "statement.timestamp")


def test_statement_id_must_be_a_uuid_data_2_4_1() -> None:
    rejects(statement(id="1234"), "statement.id")


def test_version_must_be_1_0_x_or_2_0_x_for_2_0_requests_data_2_4_10() -> None:
    rejects(statement(version="0.95"), "statement.version")
    rejects(statement(version="2.0.0"), "statement.version")
    accepts(statement(version="2.0.0"), version="2.0.0")


def test_null_values_are_rejected_outside_extensions_data_2_2() -> None:
    rejects(statement(result={"response": None}), "statement.result.response")
    accepts(statement(result={"extensions": {"http://example.org/x": None}}))


def test_attachment_needs_usage_type_display_content_type_length_sha2_data_2_4_11() -> None:
    rejects(statement(attachments=[{"usageType": "http://example.org/u", "display": {"en": "x"}}]),
            "statement.attachments[0].contentType")


def test_voiding_statement_object_must_be_a_statement_ref_data_2_3_2() -> None:
    rejects(statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"}), "statement.object")


def test_a_validator_reused_for_a_batch_still_rejects_each_broken_statement_at_its_place() -> None:
    # Actors, verbs and activities found valid are remembered per validator; a broken one is not.
    validator = Validator()
    good = statement(object={"id": "http://example.org/a", "definition": {"name": {"en": "A"}}})
    validator.statement(good, "statements[0]")
    validator.statement(dict(good), "statements[1]")
    broken = statement(object={"id": "http://example.org/a", "definition": {"name": {"not a tag!": "A"}}})
    with pytest.raises(StatementInvalid, match=r"statements\[2\]\.object\.definition\.name"):
        validator.statement(broken, "statements[2]")
    with pytest.raises(StatementInvalid, match=r"statements\[3\]\.actor\.mbox"):
        validator.statement({**good, "actor": {"mbox": "ann@example.org"}}, "statements[3]")


def test_values_found_valid_are_shared_by_later_validators_and_a_changed_value_is_checked_again() -> None:
    # The process remembers valid actors, verbs and activities across requests (a new Validator
    # each); a value that differs in any byte, or is broken in a way it never was, is still refused.
    activity = {"id": "http://example.org/shared", "definition": {"name": {"en": "Shared"}}}
    Validator().statement(statement(object=activity))
    assert b"activity" + jsoncodec.dumps(activity) in FOUND_VALID
    broken = {**activity, "definition": {"name": {"not a tag!": "Shared"}}}
    with pytest.raises(StatementInvalid, match=r"statement\.object\.definition\.name"):
        Validator("2.0.0").statement(statement(object=broken))
    assert b"activity" + jsoncodec.dumps(broken) not in FOUND_VALID


def test_the_shared_store_of_valid_values_is_bounded_by_bytes() -> None:
    found = _FoundValid(max_bytes=10_000)
    for n in range(1_000):
        found.add(b"actor" + jsoncodec.dumps({"mbox": f"mailto:learner{n}@example.org"}))
        assert found.size_bytes <= 10_000
    last = b"actor" + jsoncodec.dumps({"mbox": "mailto:learner999@example.org"})
    first = b"actor" + jsoncodec.dumps({"mbox": "mailto:learner0@example.org"})
    assert last in found and first not in found


def test_null_is_refused_outside_extensions_even_in_a_statement_that_says_null_data_2_2() -> None:
    # The word "null" in a string or a null inside extensions is fine; a null value elsewhere is not.
    accepts(statement(result={"response": "null", "extensions": {"http://example.org/x": None}}))
    rejects(statement(result={"response": "null", "success": None}), "statement.result.success")
    rejects(statement(context={"contextActivities": {"parent": [None]}}),
            "statement.context.contextActivities")
