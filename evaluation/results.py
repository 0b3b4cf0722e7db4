"""Evaluation records: one line of a results file per problem put to a model (or held back from it)."""

from __future__ import annotations

from enum import Enum

from mathcamps.strict import Strict

RESULTS_SCHEMA_VERSION = 2  # 2: `reason`, why an answer that was read is wrong (a hedge, an expression)


class Verdict(str, Enum):
    """What the grader made of a response."""

    correct = "correct"
    wrong = "wrong"  # an answer was found and it is not the gold one
    no_answer = "no-answer"  # no answer could be read from the response
    not_asked = "not-asked"  # a follow-up whose original the model got wrong: never put to it


class Result(Strict):
    """One problem of a release, the model's response and its grade.

    `release` is the sha256 of the release's manifest.json and `settings` a hash of the prompt
    format and generation settings: with `model` and `revision` they say which run a line
    belongs to, so that a rerun skips what is done.
    """

    schema_version: int = RESULTS_SCHEMA_VERSION
    id: str
    standard: str
    grade: str
    kind: str  # original, incremental, counterfactual
    parent: str | None = None
    model: str
    revision: str | None = None
    release: str
    settings: str
    answer_kind: str
    gold: str
    response: str | None = None
    extracted: str | None = None
    verdict: Verdict
    reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def to_json(self) -> str:
        """One JSONL line, keys in a fixed order."""
        return self.model_dump_json()
