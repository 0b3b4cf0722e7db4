"""Grading files: a JSONL of responses and gold answers, graded line by line into a new file.

A line is a JSON object with `gold` (our canonical answer text or MathCAMPS v1's) and `response`
(text, or null for none), optionally `answer_kind` and `id`: the field names of the results
schema, so a results file can be graded again. The output keeps each line's fields and sets
`extracted`, `verdict` and `reason` (why an answer that was read is wrong, when it cannot be right:
a hedge, an expression; else null); a line already `not-asked` (a follow-up never put to the model) is
kept as it is.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mathcamps.answers import AnswerError
from mathcamps.errors import MathcampsError
from mathcamps.files import atomic_text, check_output, json_lines
from mathcamps.evaluation.grade import grade
from mathcamps.evaluation.results import Verdict


RUN_FIELDS = ("model", "revision", "release", "settings")  # with `id`, what names one response of a results file


class ResponsesError(MathcampsError):
    """A responses file that cannot be graded: missing, not JSON lines, or a line without its fields."""


@dataclass
class GradeSummary:
    """What grading a file found: verdicts overall and per standard, and where answers were read."""

    lines: int = 0
    verdicts: Counter = field(default_factory=Counter)
    by_standard: dict[str, Counter] = field(default_factory=dict)
    methods: Counter = field(default_factory=Counter)

    @property
    def accuracy(self) -> float | None:
        asked = self.lines - self.verdicts[Verdict.not_asked.value]
        return self.verdicts[Verdict.correct.value] / asked if asked else None


def _graded_line(record: dict, where: str, summary: GradeSummary) -> dict:
    if not isinstance(record, dict):
        raise ResponsesError(f"{where}: expected a JSON object with `gold` and `response`")
    for name in ("gold", "response"):
        if name not in record:
            raise ResponsesError(f"{where}: field `{name}` is missing (a line needs `gold` and `response`)")
    gold, response, kind = record["gold"], record["response"], record.get("answer_kind")
    if not isinstance(gold, str):
        raise ResponsesError(f"{where}: field `gold` must be a string, not {json.dumps(gold)}")
    if response is not None and not isinstance(response, str):
        raise ResponsesError(f"{where}: field `response` must be a string or null, not {type(response).__name__}")
    if kind is not None and not isinstance(kind, str):
        raise ResponsesError(f"{where}: field `answer_kind` must be a string, not {json.dumps(kind)}")
    if record.get("verdict") == Verdict.not_asked.value and response is None:
        verdict, extracted, reason = Verdict.not_asked, None, None
    else:
        try:
            graded = grade(response, gold, kind)
        except AnswerError as error:
            raise ResponsesError(f"{where}: field `gold`: {error}") from None
        verdict, extracted, reason = graded.verdict, graded.extracted, graded.reason
        summary.methods[graded.method or "none"] += 1
    summary.lines += 1
    summary.verdicts[verdict.value] += 1
    standard = record.get("standard")
    if isinstance(standard, str):
        summary.by_standard.setdefault(standard, Counter())[verdict.value] += 1
    return {**record, "extracted": extracted, "verdict": verdict.value, "reason": reason}


def grade_file(path: Path, out: Path, force: bool = False) -> GradeSummary:
    """Grade every line of `path` into `out`, written atomically; ResponsesError names the file,
    line and field of a bad line (and nothing is written)."""
    check_output(out, force, [path])
    summary = GradeSummary()
    lines_of: dict[tuple, int] = {}  # each response's identity, and the line it was first given on
    lines = json_lines(path, ResponsesError, "responses")
    with atomic_text(out) as sink:
        for number, record, problem in lines:
            where = f"{path}:{number}"
            if problem is not None:
                raise ResponsesError(f"{where}: {problem}")
            graded = _graded_line(record, where, summary)
            # A results file holds the same problem once per run (model, revision, release, settings).
            key = (*(record.get(name) for name in RUN_FIELDS), record.get("id"))
            if isinstance(key[-1], str) and lines_of.setdefault(key, number) != number:
                raise ResponsesError(
                    f"{where}: field `id`: {key[-1]!r} is already the id of line {lines_of[key]} (of the same run); "
                    "each response is graded once, so give each line its own id"
                )
            sink.write(json.dumps(graded, ensure_ascii=False) + "\n")
    return summary
