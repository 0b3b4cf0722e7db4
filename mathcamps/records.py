"""Problem records: what the compiler emits and every other stage reads."""

from __future__ import annotations

from enum import Enum

from mathcamps.answers import AnswerKind
from mathcamps.strict import Strict

SCHEMA_VERSION = 1


class ProblemKind(str, Enum):
    original = "original"
    incremental = "incremental"
    counterfactual = "counterfactual"



class Span(Strict):
    """A stretch of the statement and the program part it says: `literal 2`, `question`."""

    start: int
    end: int
    source: str


class Verdicts(Strict):
    """What each solver said: sympy's exact answer, z3's proof status."""

    sympy: str
    z3: str


class Provenance(Strict):
    """How the statement was written: the frame, the theme, and which span came from which node."""

    frame: str
    theme: str
    spans: list[Span]


class Problem(Strict):
    """One verified problem."""

    schema_version: int = SCHEMA_VERSION
    id: str
    standard: str
    grade: str
    kind: ProblemKind = ProblemKind.original
    parent: str | None = None
    seed: int
    index: int
    program: str
    statement: str
    answer: str
    answer_kind: AnswerKind
    verdicts: Verdicts
    render: Provenance

    def to_json(self) -> str:
        """One JSONL line, keys in a fixed order, no whitespace variance."""
        return self.model_dump_json()
