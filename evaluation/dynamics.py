"""Learning dynamics: per-standard learning curves over training checkpoints, emergence points and their order.

Pure functions over graded results (`Result` records) of several checkpoints of a model, a
checkpoint being a (model, revision):

- training tokens of a revision: Pythia's `stepN` is N x 2,097,152 tokens (1024 sequences of 2048
  tokens a step); OLMo's `step1000-tokens4B` carries its tokens (K, M, B, T: 1e3, 1e6, 1e9, 1e12);
  any other model's `stepN` needs its tokens per step. A revision that says neither is refused.
- a learning curve: accuracy on the original problems of a standard at each checkpoint, in token
  order (follow-ups are conditional on their original and left out of curves).
- the emergence point of a curve for a threshold: the first checkpoint from which accuracy stays
  at or above the threshold through the last checkpoint. Two thresholds: an absolute one, and one
  relative to the standard's final accuracy (a fraction of it). A standard whose final accuracy is
  below the threshold (or zero, for the relative one) never emerges and is listed apart.
- the rank correlation between grade (K = 0) and emergence tokens over the standards that
  emerged: Spearman's rho and Kendall's tau-b (scipy.stats), each with a two-sided permutation
  p-value: the emergence points are shuffled among the standards `permutations` times with a
  numpy Generator seeded by `seed`, and p = (1 + #{|statistic| >= |observed|}) / (1 + permutations).
  A positive rho says lower grades emerge earlier.
- across models: pairwise Spearman rho between emergence points over the standards that emerged
  in both (at least 3 and not all tied, else no rho).
- prerequisites: for each (prerequisite, standard) pair of the definitions, whether the
  prerequisite emerged before, at the same checkpoint (a tie, counted apart), or after the
  standard. A prerequisite that emerged when the standard never did counts as before, the other
  way round as after; pairs where neither emerged are counted apart.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Iterable

from mathcamps.errors import MathcampsError
from mathcamps.registry import grade_number
from mathcamps.evaluation.figures import save_figure
from mathcamps.evaluation.report import ORIGINAL, Accuracy
from mathcamps.evaluation.results import Result

PYTHIA_TOKENS_PER_STEP = 2_097_152  # 1024 sequences x 2048 tokens
ABSOLUTE = "absolute"
RELATIVE = "relative"
MEASURES = (ABSOLUTE, RELATIVE)
_SCALE = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}


class DynamicsError(MathcampsError):
    """Results that cannot make learning curves: a revision without tokens, two revisions at one point."""


def tokens_of(model: str, revision: str | None, tokens_per_step: int | None = None) -> int:
    """The training tokens a checkpoint has seen, read from its revision's name."""
    text = revision or ""
    tokens = re.search(r"tokens?[-_]?(\d+(?:\.\d+)?)([KMBT]?)\b", text, re.I)
    if tokens:
        return round(float(tokens.group(1)) * _SCALE[tokens.group(2).upper()])
    step = re.search(r"(?:^|[^a-z])step[-_]?(\d+)\b", text, re.I)
    per_step = tokens_per_step or (PYTHIA_TOKENS_PER_STEP if "pythia" in model.lower() else None)
    if step and per_step:
        return int(step.group(1)) * per_step
    if step:
        raise DynamicsError(
            f"revision {revision!r} of {model} counts steps, and how many tokens a step of {model} has is not "
            "known: pass --tokens-per-step (Pythia's 2,097,152 is assumed only for models named pythia)"
        )
    raise DynamicsError(
        f"revision {revision!r} of {model} says nothing about training tokens: name checkpoints by step "
        "(`step1000`, with --tokens-per-step for models other than Pythia) or by tokens (`step1000-tokens4B`); "
        "leave out results of revisions such as `main`"
    )


@dataclass(frozen=True)
class Checkpoint:
    """One point of a learning curve."""

    revision: str
    tokens: int
    accuracy: float
    asked: int


@dataclass
class Curve:
    """A standard's accuracy over a model's checkpoints, in token order."""

    standard: str
    grade: str
    points: list[Checkpoint]

    @property
    def final(self) -> float:
        return self.points[-1].accuracy


def learning_curves(results: Iterable[Result], tokens_per_step: int | None = None) -> dict[str, dict[str, Curve]]:
    """Per model, per standard (curriculum order), accuracy on original problems at each checkpoint."""
    tallies: dict[str, dict[str, dict[str, Accuracy]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(Accuracy)))
    grades: dict[str, str] = {}
    for result in results:
        if result.kind != ORIGINAL:
            continue
        tallies[result.model][result.standard][result.revision or ""].add(result)
        grades[result.standard] = result.grade
    curves: dict[str, dict[str, Curve]] = {}
    for model, standards in tallies.items():
        revisions = {revision for per_standard in standards.values() for revision in per_standard}
        tokens = {revision: tokens_of(model, revision or None, tokens_per_step) for revision in revisions}
        by_tokens: dict[int, str] = {}
        for revision in sorted(revisions):
            other = by_tokens.setdefault(tokens[revision], revision)
            if other != revision:
                raise DynamicsError(
                    f"revisions {other!r} and {revision!r} of {model} are both at {tokens[revision]:,} tokens: "
                    "keep the results of one"
                )
        curves[model] = {}
        for standard in sorted(standards, key=lambda s: (grade_number(grades[s]), s)):
            points = [
                Checkpoint(revision, tokens[revision], accuracy.rate, accuracy.asked)
                for revision, accuracy in standards[standard].items()
                if accuracy.asked
            ]
            if points:
                curves[model][standard] = Curve(standard, grades[standard], sorted(points, key=lambda p: p.tokens))
    return curves


def emergence(curve: Curve, threshold: float) -> Checkpoint | None:
    """The first checkpoint from which accuracy stays at or above `threshold`; None if the last is below."""
    emerged = None
    for point in reversed(curve.points):
        if point.accuracy < threshold:
            break
        emerged = point
    return emerged


def relative_emergence(curve: Curve, fraction: float) -> Checkpoint | None:
    """The emergence point for a threshold of `fraction` of the final accuracy; None when that is 0."""
    if curve.final <= 0:
        return None
    return emergence(curve, fraction * curve.final)


@dataclass(frozen=True)
class Correlation:
    """Rank correlation between grade and emergence tokens, with permutation p-values."""

    n: int
    rho: float | None
    rho_p: float | None
    tau: float | None
    tau_p: float | None
    permutations: int
    seed: int

    def to_json(self) -> dict:
        return dict(self.__dict__)


def rank_correlation(grades: list[float], tokens: list[float], permutations: int = 10000, seed: int = 0) -> Correlation:
    """Spearman's rho and Kendall's tau-b between two paired lists, each with a permutation p-value.

    Statistics are None for fewer than 3 pairs or a list whose values are all equal."""
    import numpy as np
    from scipy import stats

    n = len(grades)
    if n < 3 or len(set(grades)) < 2 or len(set(tokens)) < 2:
        return Correlation(n, None, None, None, None, permutations, seed)
    x = np.asarray(grades, dtype=float)
    y = np.asarray(tokens, dtype=float)
    rho = float(stats.spearmanr(x, y).statistic)
    tau = float(stats.kendalltau(x, y, variant="b").statistic)
    if permutations <= 0:
        return Correlation(n, rho, None, tau, None, permutations, seed)
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((permutations, n)), axis=1)  # one permutation of the points per row
    # Spearman: the Pearson correlation of ranks; ranks permute with the values they rank.
    rx = stats.rankdata(x)
    ry = stats.rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    rho_permuted = (ry[order] @ rx) / math.sqrt((rx @ rx) * (ry @ ry))
    # Kendall tau-b: its denominator (pairs untied in each list) does not change under permutation;
    # its numerator sums sign(x_i - x_j) sign(y_pi(i) - y_pi(j)) over all pairs (each counted twice here).
    sx = np.sign(x[:, None] - x[None, :]).astype(np.int32)
    sy = np.sign(y[:, None] - y[None, :]).astype(np.int8)
    denominator = math.sqrt(np.count_nonzero(sx) * np.count_nonzero(sy)) / 2
    tau_permuted = np.empty(permutations)
    for start in range(0, permutations, 500):
        rows = order[start:start + 500]
        gathered = sy[rows[:, :, None], rows[:, None, :]]
        tau_permuted[start:start + 500] = np.einsum("kij,ij->k", gathered, sx) / 2 / denominator
    tolerance = 1e-12
    rho_p = (1 + int(np.sum(np.abs(rho_permuted) >= abs(rho) - tolerance))) / (1 + permutations)
    tau_p = (1 + int(np.sum(np.abs(tau_permuted) >= abs(tau) - tolerance))) / (1 + permutations)
    return Correlation(n, rho, rho_p, tau, tau_p, permutations, seed)


@dataclass(frozen=True)
class Emergence:
    """Where a standard's skill emerged in one model's training, by each measure (None: never)."""

    standard: str
    grade: str
    final: float
    absolute: Checkpoint | None
    relative: Checkpoint | None

    def at(self, measure: str) -> Checkpoint | None:
        return self.absolute if measure == ABSOLUTE else self.relative


@dataclass
class PrerequisiteOrder:
    """How often a prerequisite emerged before, with, or after the standard that builds on it."""

    before: int = 0
    tie: int = 0
    after: int = 0
    neither: int = 0
    pairs: list[tuple[str, str, str]] = field(default_factory=list)  # (prerequisite, standard, outcome)

    def to_json(self) -> dict:
        return {"before": self.before, "tie": self.tie, "after": self.after, "neither": self.neither,
                "pairs": [list(p) for p in self.pairs]}


def prerequisite_order(
    emerged: dict[str, int | None], prerequisites: dict[str, list[str]]
) -> PrerequisiteOrder:
    """The order of emergence of each (prerequisite, standard) pair among the standards measured
    (`emerged`: tokens at emergence, None for never)."""
    order = PrerequisiteOrder()
    for standard in emerged:
        for prerequisite in prerequisites.get(standard, []):
            if prerequisite not in emerged:
                continue
            first, then = emerged[prerequisite], emerged[standard]
            if first is None and then is None:
                outcome = "neither"
            elif then is None or (first is not None and first < then):
                outcome = "before"
            elif first is None or first > then:
                outcome = "after"
            else:
                outcome = "tie"
            setattr(order, outcome, getattr(order, outcome) + 1)
            order.pairs.append((prerequisite, standard, outcome))
    return order


@dataclass
class ModelDynamics:
    """One model's curves, emergence points and their correlation with grade."""

    model: str
    curves: dict[str, Curve]
    emergences: dict[str, Emergence]
    correlations: dict[str, Correlation]  # by measure
    prerequisites: dict[str, PrerequisiteOrder]  # by measure

    def emerged(self, measure: str) -> dict[str, int | None]:
        """Tokens at emergence per standard (None: never)."""
        return {s: (e.at(measure).tokens if e.at(measure) else None) for s, e in self.emergences.items()}

    def never(self, measure: str) -> list[str]:
        return [s for s, tokens in self.emerged(measure).items() if tokens is None]


@dataclass(frozen=True)
class Agreement:
    """How well two models' emergence orders agree over the standards that emerged in both."""

    first: str
    second: str
    measure: str
    n: int
    rho: float | None


@dataclass
class Dynamics:
    """The learning dynamics of every model of a set of results."""

    threshold: float
    relative: float
    models: list[ModelDynamics]
    agreements: list[Agreement]

    def to_json(self) -> dict:
        def point(p: Checkpoint | None):
            return None if p is None else {"revision": p.revision, "tokens": p.tokens, "accuracy": p.accuracy}

        return {
            "threshold": self.threshold,
            "relative": self.relative,
            "models": [
                {
                    "model": m.model,
                    "curves": {
                        s: [{"revision": p.revision, "tokens": p.tokens, "accuracy": p.accuracy, "asked": p.asked}
                            for p in c.points]
                        for s, c in m.curves.items()
                    },
                    "emergence": {
                        s: {"grade": e.grade, "final": e.final, ABSOLUTE: point(e.absolute), RELATIVE: point(e.relative)}
                        for s, e in m.emergences.items()
                    },
                    "never": {measure: m.never(measure) for measure in MEASURES},
                    "correlation": {measure: c.to_json() for measure, c in m.correlations.items()},
                    "prerequisites": {measure: o.to_json() for measure, o in m.prerequisites.items()},
                }
                for m in self.models
            ],
            "agreement": [a.__dict__ for a in self.agreements],
        }


def agreement(models: list[ModelDynamics], measure: str) -> list[Agreement]:
    """Spearman rho between each two models' emergence tokens over the standards that emerged in both."""
    from scipy import stats

    found = []
    for first, second in combinations(models, 2):
        a, b = first.emerged(measure), second.emerged(measure)
        common = [s for s in a if a[s] is not None and b.get(s) is not None]
        x, y = [a[s] for s in common], [b[s] for s in common]
        rho = None
        if len(common) >= 3 and len(set(x)) > 1 and len(set(y)) > 1:
            rho = float(stats.spearmanr(x, y).statistic)
        found.append(Agreement(first.model, second.model, measure, len(common), rho))
    return found


def analyse(
    results: Iterable[Result],
    threshold: float = 0.5,
    relative: float = 0.8,
    tokens_per_step: int | None = None,
    prerequisites: dict[str, list[str]] | None = None,
    permutations: int = 10000,
    seed: int = 0,
) -> Dynamics:
    """Curves, emergence points, their rank correlation with grade, agreement between models and
    the order of prerequisites, from the results of several checkpoints of one or more models."""
    prerequisites = prerequisites or {}
    models = []
    for model, curves in learning_curves(results, tokens_per_step).items():
        emergences = {
            s: Emergence(s, c.grade, c.final, emergence(c, threshold), relative_emergence(c, relative))
            for s, c in curves.items()
        }
        dynamics = ModelDynamics(model, curves, emergences, {}, {})
        for measure in MEASURES:
            emerged = dynamics.emerged(measure)
            done = [s for s, tokens in emerged.items() if tokens is not None]
            dynamics.correlations[measure] = rank_correlation(
                [grade_number(emergences[s].grade) for s in done], [emerged[s] for s in done], permutations, seed
            )
            dynamics.prerequisites[measure] = prerequisite_order(emerged, prerequisites)
        models.append(dynamics)
    agreements = [a for measure in MEASURES for a in agreement(models, measure)]
    return Dynamics(threshold, relative, models, agreements)


def plot(dynamics: Dynamics, path: Path) -> None:
    """Per model, the learning curves (colored by grade) and emergence tokens against grade."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    count = max(1, len(dynamics.models))
    figure, axes = plt.subplots(count, 2, figsize=(12, 4.2 * count), squeeze=False)
    colors = plt.get_cmap("viridis")
    for row, model in zip(axes, dynamics.models):
        curves_axes, scatter_axes = row
        positive = [p.tokens for c in model.curves.values() for p in c.points if p.tokens > 0]
        for curve in model.curves.values():
            tone = colors(grade_number(curve.grade) / 8)
            curves_axes.plot([p.tokens for p in curve.points], [p.accuracy for p in curve.points],
                             color=tone, alpha=0.7, linewidth=1)
        if positive:
            curves_axes.set_xscale("symlog", linthresh=min(positive))
        curves_axes.axhline(dynamics.threshold, color="grey", linestyle="--", linewidth=0.8)
        curves_axes.set(title=f"{model.model}: accuracy per standard", xlabel="training tokens", ylabel="accuracy",
                        ylim=(-0.02, 1.02))
        scale = plt.cm.ScalarMappable(cmap=colors, norm=plt.Normalize(0, 8))
        figure.colorbar(scale, ax=curves_axes, label="grade (K = 0)")
        rng = np.random.default_rng(0)
        for measure, marker in ((ABSOLUTE, "o"), (RELATIVE, "^")):
            emerged = {s: t for s, t in model.emerged(measure).items() if t is not None}
            grades = [grade_number(model.emergences[s].grade) + rng.uniform(-0.15, 0.15) for s in emerged]
            correlation = model.correlations[measure]
            label = f"{measure}: rho = {correlation.rho:.2f} (p = {correlation.rho_p:.3g})" \
                if correlation.rho is not None and correlation.rho_p is not None else f"{measure}: no rho"
            scatter_axes.scatter(grades, list(emerged.values()), marker=marker, alpha=0.7, label=label)
        if positive:
            scatter_axes.set_yscale("symlog", linthresh=min(positive))
        scatter_axes.set(title=f"{model.model}: emergence against grade", xlabel="grade (K = 0)",
                         ylabel="tokens at emergence", xticks=range(9))
        scatter_axes.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path, dpi=110)
    plt.close(figure)


def plot_grades(dynamics: Dynamics, path: Path) -> None:
    """One panel per model (a data order, in the lab): mean accuracy of each grade's standards at
    each checkpoint, against training tokens, the emergence threshold dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = max(1, len(dynamics.models))
    figure, axes = plt.subplots(1, count, figsize=(4.6 * count, 3.8), squeeze=False, sharey=True)
    colors = plt.get_cmap("tab10")  # nine grades, each its own hue
    for panel, model in zip(axes[0], dynamics.models):
        by_grade: dict[str, list[Curve]] = {}
        for curve in model.curves.values():
            by_grade.setdefault(curve.grade, []).append(curve)
        for grade in sorted(by_grade, key=grade_number):
            curves = by_grade[grade]
            points = list(zip(*(c.points for c in curves)))  # the checkpoints every curve of the grade has
            tokens = [p[0].tokens for p in points]
            mean = [sum(q.accuracy for q in p) / len(p) for p in points]
            panel.plot(tokens, mean, marker="o", markersize=3, color=colors(grade_number(grade)),
                       label=f"grade {grade} ({len(curves)})")
        panel.axhline(dynamics.threshold, color="grey", linestyle="--", linewidth=0.8)
        panel.set(title=model.model, xlabel="training tokens", ylim=(-0.02, 1.02))
        panel.legend(fontsize=7)
    axes[0][0].set_ylabel("mean accuracy of the grade's standards")
    figure.tight_layout()
    save_figure(figure, path, dpi=110)
    plt.close(figure)
