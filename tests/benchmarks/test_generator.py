"""The benchmark's data generator: realistic, deterministic, valid-looking xAPI statements."""
from __future__ import annotations

import json
import uuid

from benchmarks.generator import VOIDED, Population, StatementGenerator, assignments, pathways, statement_id


def test_statements_are_deterministic_for_a_seed_and_differ_between_seeds() -> None:
    assert StatementGenerator(seed=1).statement(123) == StatementGenerator(seed=1).statement(123)
    assert StatementGenerator(seed=1).statement(123)["id"] != StatementGenerator(seed=2).statement(123)["id"]


def test_statements_average_about_one_kilobyte_with_unique_uuid_ids() -> None:
    statements = StatementGenerator().statements(0, 2000)
    sizes = [len(json.dumps(s, separators=(",", ":"))) for s in statements]
    assert 900 <= sum(sizes) / len(sizes) <= 1500
    ids = [s["id"] for s in statements]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_the_stream_mixes_results_context_attachments_and_voids_of_earlier_statements() -> None:
    gen = StatementGenerator()
    statements = gen.statements(0, 5000)
    voids = [s for s in statements if s["verb"]["id"] == VOIDED]
    assert 20 <= len(voids) <= 80
    earlier = {s["id"]: n for n, s in enumerate(statements)}
    for void in voids:
        target = void["object"]["id"]
        assert earlier[target] < earlier[void["id"]] - 400
        assert statements[earlier[target]]["verb"]["id"] != VOIDED
    assert any("attachments" in s for s in statements)
    assert sum("result" in s for s in statements) > 1000
    assert len({s["actor"].get("mbox") or s["actor"]["account"]["name"] for s in statements}) > 1000
    regular = [s for s in statements if s["verb"]["id"] != VOIDED]
    assert all(s["context"]["registration"] and s["context"]["contextActivities"]["grouping"]
               for s in regular)


def test_sample_filters_name_values_that_occur_in_the_generated_statements() -> None:
    gen = StatementGenerator()
    statements = gen.statements(0, 3000)
    filters = gen.sample_filters(3000, how_many=5)
    verbs = {s["verb"]["id"] for s in statements}
    registrations = {s.get("context", {}).get("registration") for s in statements}
    assert all(f["verb"] in verbs for f in filters["verb"])
    assert all(f["registration"] in registrations for f in filters["registration"])
    assert {"agent", "verb", "activity", "activity+related", "registration", "since/until",
            "agent+verb+activity"} == set(filters)


def test_statement_ids_are_reproducible_without_building_the_statement() -> None:
    assert StatementGenerator(seed=3).statement(77)["id"] == statement_id(3, 77)


def test_pathways_have_ordered_steps_on_generated_activities_and_every_learner_is_assigned() -> None:
    population = Population(learners=300, courses=10)
    paths = pathways(population, count=10, steps=5)
    assert all(len(p["steps"]) == 5 for p in paths)
    assigned = {learner for learner, _ in assignments(population, pathway_count=10)}
    assert assigned == set(range(300))
