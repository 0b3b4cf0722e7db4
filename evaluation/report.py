"""Reports: accuracy of graded results per standard, grade and kind, follow-ups given a right original, per run.

A run is one (model, revision). Accuracy counts the problems put to the model (correct, wrong,
no-answer); a follow-up held back because its original was wrong (`not-asked`) counts nowhere.
Follow-up accuracy given a correct original is MathCAMPS' measure: over the follow-ups that were
asked and whose original (same run) was answered correctly.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from pydantic import ValidationError

from mathcamps.errors import MathcampsError
from mathcamps.files import json_lines
from mathcamps.registry import grade_number
from mathcamps.evaluation.figures import save_figure, save_json
from mathcamps.evaluation.results import Result, Verdict

ORIGINAL = "original"


class ResultsError(MathcampsError):
    """A results file that cannot be read: missing, not JSON, or a line that is not a result."""


def _field_errors(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in item['loc']) or '(line)'}: {item['msg']}" for item in error.errors())


def read_results(paths: Iterable[Path]) -> list[Result]:
    """Every result line of the files, in order; ResultsError names the file, line and field."""
    results = []
    for path in paths:
        for number, data, problem in json_lines(path, ResultsError, "results"):
            if problem is not None:
                raise ResultsError(f"{path}:{number}: {problem}")
            try:
                results.append(Result.model_validate(data))
            except ValidationError as error:
                raise ResultsError(
                    f"{path}:{number}: not a result line of the results schema: {_field_errors(error)}"
                ) from None
    return results


def curriculum_order(standard: str, grade: str) -> tuple[int, str]:
    return grade_number(grade), standard


@dataclass
class Accuracy:
    """Right answers among the problems asked."""

    correct: int = 0
    asked: int = 0

    def add(self, result: Result) -> None:
        if result.verdict is Verdict.not_asked:
            return
        self.asked += 1
        self.correct += result.verdict is Verdict.correct

    @property
    def rate(self) -> float | None:
        return self.correct / self.asked if self.asked else None

    def to_json(self) -> dict:
        return {"correct": self.correct, "asked": self.asked, "accuracy": self.rate}


@dataclass
class RunReport:
    """The accuracy of one (model, revision)."""

    model: str
    revision: str | None
    overall: Accuracy = field(default_factory=Accuracy)
    by_standard: dict[str, Accuracy] = field(default_factory=dict)
    by_grade: dict[str, Accuracy] = field(default_factory=dict)
    by_kind: dict[str, Accuracy] = field(default_factory=dict)
    followups_given_correct: dict[str, Accuracy] = field(default_factory=dict)
    not_asked: int = 0
    grades: dict[str, str] = field(default_factory=dict)  # standard -> grade

    @property
    def name(self) -> str:
        return self.model if self.revision is None else f"{self.model}@{self.revision}"

    def to_json(self) -> dict:
        def table(accuracies: dict[str, Accuracy]) -> dict:
            return {key: value.to_json() for key, value in accuracies.items()}

        return {
            "model": self.model,
            "revision": self.revision,
            "overall": self.overall.to_json(),
            "by_standard": table(self.by_standard),
            "by_grade": table(self.by_grade),
            "by_kind": table(self.by_kind),
            "followups_given_correct_original": table(self.followups_given_correct),
            "not_asked": self.not_asked,
        }


def runs(results: Iterable[Result]) -> dict[tuple[str, str | None], list[Result]]:
    """The results of each (model, revision), in the order first seen."""
    grouped: dict[tuple[str, str | None], list[Result]] = defaultdict(list)
    for result in results:
        grouped[(result.model, result.revision)].append(result)
    return dict(grouped)


def _tally(results: list[Result], key: Callable[[Result], str], order: Callable[[str], object]) -> dict[str, Accuracy]:
    tallies: dict[str, Accuracy] = defaultdict(Accuracy)
    for result in results:
        tallies[key(result)].add(result)
    return {k: tallies[k] for k in sorted(tallies, key=order)}


def followups_given_correct(results: list[Result]) -> dict[str, Accuracy]:
    """Per follow-up kind, accuracy over the asked follow-ups whose original was answered right.
    The results are one run's; a follow-up whose parent is not among them is left out."""
    by_id = {r.id: r for r in results}
    tallies: dict[str, Accuracy] = defaultdict(Accuracy)
    for result in results:
        if result.parent is None or result.verdict is Verdict.not_asked:
            continue
        parent = by_id.get(result.parent)
        if parent is not None and parent.verdict is Verdict.correct:
            tallies[result.kind].add(result)
    return dict(sorted(tallies.items()))


def report_run(results: list[Result]) -> RunReport:
    """The accuracy of one run's results (all of one model and revision)."""
    first = results[0]
    grades = {r.standard: r.grade for r in results}
    run = RunReport(first.model, first.revision, grades=grades)
    for result in results:
        run.overall.add(result)
        run.not_asked += result.verdict is Verdict.not_asked
    run.by_standard = _tally(results, lambda r: r.standard, lambda s: curriculum_order(s, grades[s]))
    run.by_grade = _tally(results, lambda r: r.grade, grade_number)
    run.by_kind = _tally(results, lambda r: r.kind, lambda k: (k != ORIGINAL, k))
    run.followups_given_correct = followups_given_correct(results)
    return run


def report(results: Iterable[Result]) -> list[RunReport]:
    """One report per (model, revision) of the results, in the order the runs first appear."""
    return [report_run(group) for group in runs(results).values()]


def write_json(reports: list[RunReport], path: Path) -> None:
    """The reports as one JSON document (a list of runs)."""
    save_json([r.to_json() for r in reports], path)


def plot_heatmap(reports: list[RunReport], path: Path) -> None:
    """A heat map of accuracy: one row per run, one column per standard in curriculum order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    grades: dict[str, str] = {}
    for run in reports:
        grades.update(run.grades)
    standards = sorted(grades, key=lambda s: curriculum_order(s, grades[s]))
    matrix = np.full((len(reports), len(standards)), np.nan)
    for i, run in enumerate(reports):
        for j, standard in enumerate(standards):
            accuracy = run.by_standard.get(standard)
            if accuracy is not None and accuracy.rate is not None:
                matrix[i, j] = accuracy.rate
    width = max(6.0, 0.28 * len(standards) + 2.5)
    height = max(2.0, 0.35 * len(reports) + 2.2)
    figure, axes = plt.subplots(figsize=(width, height))
    image = axes.imshow(matrix, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    axes.set_xticks(range(len(standards)), standards, rotation=90, fontsize=7)
    axes.set_yticks(range(len(reports)), [run.name for run in reports], fontsize=8)
    axes.set_title("accuracy by standard")
    figure.colorbar(image, ax=axes, fraction=0.03, pad=0.01, label="accuracy")
    figure.tight_layout()
    save_figure(figure, path, dpi=120)
    plt.close(figure)
