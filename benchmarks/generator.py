"""Realistic xAPI statements (about 1 KB each) and pathways, deterministic for a seed.

The population mimics a university VLE: many learners (LTI ``account`` identities, some ``mbox``),
courses of modules of activities, registrations per learner and course, cmi5-style context, results
with scores and durations, a few attachments (by ``fileUrl``) and voiding statements.
Statement ``i`` of a seed is always the same statement, so separate client processes can each build
their own share of the load and the runner knows every id that was sent.
"""
from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

HOME_PAGE = "https://vle.example.edu"
COURSE_BASE = "https://courses.example.edu/course"
START = datetime(2025, 9, 1, tzinfo=UTC)
# One statement every ~30 s on average: a million statements span about a year.
SECONDS_PER_STATEMENT = 30

VERBS: list[tuple[str, str, float]] = [  # (id, display, weight)
    ("http://adlnet.gov/expapi/verbs/experienced", "experienced", 30),
    ("http://adlnet.gov/expapi/verbs/attempted", "attempted", 10),
    ("http://adlnet.gov/expapi/verbs/answered", "answered", 20),
    ("http://adlnet.gov/expapi/verbs/completed", "completed", 10),
    ("http://adlnet.gov/expapi/verbs/passed", "passed", 5),
    ("http://adlnet.gov/expapi/verbs/failed", "failed", 2),
    ("http://adlnet.gov/expapi/verbs/initialized", "initialized", 6),
    ("http://adlnet.gov/expapi/verbs/terminated", "terminated", 6),
    ("http://adlnet.gov/expapi/verbs/progressed", "progressed", 6),
    ("http://adlnet.gov/expapi/verbs/scored", "scored", 3),
    ("http://adlnet.gov/expapi/verbs/launched", "launched", 2),
]
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
ACTIVITY_TYPES = {
    "lesson": "http://adlnet.gov/expapi/activities/lesson",
    "assessment": "http://adlnet.gov/expapi/activities/assessment",
    "interaction": "http://adlnet.gov/expapi/activities/cmi.interaction",
    "module": "http://adlnet.gov/expapi/activities/module",
    "course": "http://adlnet.gov/expapi/activities/course",
    "video": "https://w3id.org/xapi/video/activity-type/video",
}
TOPICS = ["Safeguarding", "Data protection", "Fire safety", "Statistics", "Organic chemistry",
          "Academic writing", "Research ethics", "Clinical skills", "Python programming", "Accounting",
          "Microeconomics", "Nursing practice", "Structural design", "Contract law", "Marketing"]
PLATFORMS = ["Moodle 4.3", "Canvas", "Blackboard Learn Ultra", "Brightspace", "Cairn Portal"]


@dataclass(frozen=True)
class Population:
    """The sizes of the world statements are drawn from."""

    learners: int = 10_000
    courses: int = 60
    modules_per_course: int = 6
    activities_per_module: int = 8
    void_rate: float = 0.01
    attachment_rate: float = 0.02


def learner_agent(n: int) -> dict[str, Any]:
    """Learner ``n``'s xAPI identity: 80% LTI accounts, 20% mailboxes."""
    if n % 5 == 4:
        return {"objectType": "Agent", "name": f"Learner {n}",
                "mbox": f"mailto:learner{n}@students.example.edu"}
    return {"objectType": "Agent", "name": f"Learner {n}",
            "account": {"homePage": HOME_PAGE, "name": f"lti-sub-{n:07d}"}}


def course_id(course: int) -> str:
    return f"{COURSE_BASE}/{course}"


def module_id(course: int, module: int) -> str:
    return f"{COURSE_BASE}/{course}/module/{module}"


def activity_id(course: int, module: int, activity: int) -> str:
    return f"{COURSE_BASE}/{course}/module/{module}/activity/{activity}"


def registration_id(learner: int, course: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{HOME_PAGE}/registration/{learner}/{course}"))


def statement_id(seed: int, index: int) -> str:
    return str(uuid.UUID(int=random.Random(seed * 1_000_003 + index).getrandbits(128), version=4))


def statement_time(index: int) -> datetime:
    return START + timedelta(seconds=index * SECONDS_PER_STATEMENT)


class StatementGenerator:
    """``statement(i)`` is the i-th statement of the stream for ``seed``."""

    def __init__(self, seed: int = 1, population: Population | None = None) -> None:
        self.seed = seed
        self.population = population or Population()
        self._verb_ids = [v[0] for v in VERBS]
        self._verb_display = {v[0]: v[1] for v in VERBS}
        self._verb_cum: list[float] = []
        total = 0.0
        for _, _, weight in VERBS:
            total += weight
            self._verb_cum.append(total)

    # -- the parts of a statement ---------------------------------------------------------------
    def learner_of(self, index: int) -> int:
        # Skewed: a third of the traffic comes from a tenth of the learners, like real cohorts.
        rng = random.Random(self.seed * 7919 + index)
        learners = self.population.learners
        return rng.randrange(max(1, learners // 10)) if rng.random() < 0.33 else rng.randrange(learners)

    def course_of(self, learner: int) -> int:
        return (learner * 7 + learner // 13) % self.population.courses

    def is_void(self, index: int) -> bool:
        return index >= 1000 and random.Random(self.seed * 31 + index).random() < self.population.void_rate

    def void_target(self, index: int) -> str:
        """A non-voiding statement at least 500 positions earlier (so it is stored before)."""
        rng = random.Random(self.seed * 37 + index)
        target = rng.randrange(0, index - 500)
        while self.is_void(target):
            target -= 1
        return statement_id(self.seed, target)

    def statement(self, index: int) -> dict[str, Any]:
        timestamp = statement_time(index)
        if self.is_void(index):
            learner = self.learner_of(index)
            return {"id": statement_id(self.seed, index), "actor": learner_agent(learner),
                    "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
                    "object": {"objectType": "StatementRef", "id": self.void_target(index)},
                    "timestamp": timestamp.isoformat().replace("+00:00", "Z")}
        rng = random.Random(self.seed * 104_729 + index)
        pop = self.population
        learner = self.learner_of(index)
        course = self.course_of(learner) if rng.random() < 0.85 else rng.randrange(pop.courses)
        module = rng.randrange(pop.modules_per_course)
        activity = rng.randrange(pop.activities_per_module)
        pick = rng.random() * self._verb_cum[-1]
        verb = next(v for v, c in zip(self._verb_ids, self._verb_cum, strict=True) if pick <= c)
        verb_name = self._verb_display[verb]
        kind = ("interaction" if verb_name in {"answered", "scored"} else
                "assessment" if verb_name in {"passed", "failed"} else
                "video" if activity % 4 == 3 else "lesson")
        topic = TOPICS[course % len(TOPICS)]
        definition: dict[str, Any] = {
            "name": {"en-US": f"{topic} {course}: module {module + 1}, {kind} {activity + 1}"},
            "description": {"en-US": f"{kind.capitalize()} {activity + 1} of module {module + 1}, {topic}."},
            "type": ACTIVITY_TYPES[kind],
        }
        if kind == "interaction":
            definition["interactionType"] = "choice"
            definition["correctResponsesPattern"] = ["b"]
            definition["choices"] = [{"id": c, "description": {"en-US": f"Option {c.upper()}"}}
                                     for c in "abcd"]
        statement: dict[str, Any] = {
            "id": statement_id(self.seed, index),
            "actor": learner_agent(learner),
            "verb": {"id": verb, "display": {"en-US": verb_name}},
            "object": {"objectType": "Activity", "id": activity_id(course, module, activity),
                       "definition": definition},
            "context": {
                "registration": registration_id(learner, course),
                "platform": PLATFORMS[course % len(PLATFORMS)],
                "language": "en-GB",
                "contextActivities": {
                    "parent": [{"id": module_id(course, module)}],
                    "grouping": [{"id": course_id(course), "objectType": "Activity",
                                  "definition": {"type": ACTIVITY_TYPES["course"]}}],
                    "category": [{"id": "https://w3id.org/xapi/cmi5/context/categories/moveon"}],
                },
                "extensions": {
                    "https://w3id.org/xapi/cmi5/context/extensions/sessionid":
                        str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "https://vle.example.edu/xapi/extensions/cohort": f"{2025 - course % 3}-{course % 4}",
                },
            },
            "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
        }
        if verb_name in {"answered", "scored", "passed", "failed", "completed", "terminated", "progressed"}:
            raw = rng.randrange(0, 101)
            result: dict[str, Any] = {"score": {"scaled": raw / 100, "raw": raw, "min": 0, "max": 100},
                                      "duration": f"PT{rng.randrange(1, 50)}M{rng.randrange(60)}S"}
            if verb_name in {"answered", "passed", "failed", "scored"}:
                result["success"] = verb_name == "passed" or (verb_name != "failed" and raw >= 50)
            if verb_name in {"completed", "passed", "failed"}:
                result["completion"] = True
            if kind == "interaction":
                result["response"] = "abcd"[rng.randrange(4)]
            statement["result"] = result
        if rng.random() < pop.attachment_rate:
            statement["attachments"] = [{
                "usageType": "http://id.tincanapi.com/attachment/certificate-of-completion",
                "display": {"en-US": "Certificate"}, "contentType": "application/pdf",
                "length": 48213, "sha2": f"{rng.getrandbits(256):064x}",
                "fileUrl": f"https://files.example.edu/certificates/{learner}/{course}.pdf"}]
        return statement

    def statements(self, start: int, count: int) -> list[dict[str, Any]]:
        return [self.statement(i) for i in range(start, start + count)]

    def batches(self, start: int, count: int, size: int) -> Iterator[list[dict[str, Any]]]:
        for offset in range(start, start + count, size):
            yield self.statements(offset, min(size, start + count - offset))

    # -- query targets that exist in the first ``count`` statements ---------------------------------
    def sample_filters(self, count: int, how_many: int = 20) -> dict[str, list[dict[str, str]]]:
        """Values for each common GET filter, taken from statements that were generated."""
        rng = random.Random(self.seed * 65_537 + count)
        picks = [self.statement(rng.randrange(count)) for _ in range(how_many * 4)]
        return filters_from([s for s in picks if "context" in s][:how_many])


def filters_from(statements: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """Values for each common GET filter taken from these (stored, non-voiding) statements."""
    import json
    out: dict[str, list[dict[str, str]]] = {k: [] for k in (
        "agent", "verb", "activity", "activity+related", "registration", "since/until",
        "agent+verb+activity")}
    for s in statements:
        agent = json.dumps({k: v for k, v in s["actor"].items() if k not in {"name", "objectType"}})
        out["agent"].append({"agent": agent})
        out["verb"].append({"verb": s["verb"]["id"]})
        out["activity"].append({"activity": s["object"]["id"]})
        out["activity+related"].append({"activity": s["context"]["contextActivities"]["grouping"][0]["id"],
                                        "related_activities": "true"})
        out["registration"].append({"registration": s["context"]["registration"]})
        at = datetime.fromisoformat(s["timestamp"].replace("Z", "+00:00"))
        out["since/until"].append({"since": (at - timedelta(days=3)).isoformat(), "until": at.isoformat()})
        out["agent+verb+activity"].append({"agent": agent, "verb": s["verb"]["id"],
                                           "activity": s["object"]["id"]})
    return out


def pathways(population: Population | None = None, count: int = 20, steps: int = 8,
             seed: int = 1) -> list[dict[str, Any]]:
    """Pathways over the generated courses: ordered steps that are the courses' activities."""
    pop = population or Population()
    rng = random.Random(seed)
    result = []
    for p in range(count):
        course = p % pop.courses
        chosen = sorted(rng.sample([(m, a) for m in range(pop.modules_per_course)
                                    for a in range(pop.activities_per_module)], steps))
        result.append({"title": f"{TOPICS[course % len(TOPICS)]} pathway {p + 1}", "course": course,
                       "steps": [{"title": f"Step {i + 1}", "activity": activity_id(course, m, a),
                                  "required": i % 4 != 3} for i, (m, a) in enumerate(chosen)]})
    return result


def assignments(population: Population | None = None, pathway_count: int = 20) -> Iterator[tuple[int, int]]:
    """(learner, pathway) pairs: every learner is assigned the pathways of their own course."""
    pop = population or Population()
    gen = StatementGenerator(population=pop)
    for learner in range(pop.learners):
        course = gen.course_of(learner)
        for p in range(course, pathway_count, pop.courses):
            yield learner, p
