"""Two runs on the same problems, compared per standard: which skills a change (instruction tuning,
another data order, more training) helps and which it hurts.

A comparison pairs the problems both runs were asked (correct, wrong or no-answer in each; a
follow-up held back from either run is left out), so both accuracies are over the same problems.
Per standard it gives:

- the accuracy of A and of B and their difference, B - A, with a 95% paired bootstrap interval
  (scipy.stats.bootstrap over problems, 9,999 resamples, seeded: the same files give the same
  interval);
- an exact McNemar test: of the problems the runs disagree on, how likely so many went B's way if
  either way were equally likely (a two-sided binomial test), with Holm's correction over the
  standards compared.

Two results files over different problems (another release, or other problem ids) are refused:
their differences would be differences of problems, not of models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mathcamps.errors import MathcampsError
from mathcamps.evaluation.figures import save_figure
from mathcamps.evaluation.report import curriculum_order, runs
from mathcamps.evaluation.results import Result, Verdict

RESAMPLES = 9999
CONFIDENCE = 0.95
ALPHA = 0.05  # a standard gains or loses when its Holm-corrected p is below this


class ComparisonError(MathcampsError):
    """Two runs that cannot be compared: not one run each, or not the same problems."""


@dataclass
class Paired:
    """The problems of one standard (or of all) that both runs were asked, and how each did."""

    a: list[bool] = field(default_factory=list)  # correct in A, per problem
    b: list[bool] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return len(self.a)

    @property
    def gained(self) -> int:
        """Wrong in A, right in B."""
        return sum(not x and y for x, y in zip(self.a, self.b))

    @property
    def lost(self) -> int:
        """Right in A, wrong in B."""
        return sum(x and not y for x, y in zip(self.a, self.b))

    @property
    def accuracy_a(self) -> float:
        return sum(self.a) / self.problems

    @property
    def accuracy_b(self) -> float:
        return sum(self.b) / self.problems

    @property
    def delta(self) -> float:
        return self.accuracy_b - self.accuracy_a


@dataclass
class Row:
    """One standard's comparison (or the overall one, `standard` "all")."""

    standard: str
    grade: str
    paired: Paired
    low: float  # the 95% bootstrap interval of the difference B - A
    high: float
    p: float  # exact McNemar
    p_holm: float | None = None  # Holm-corrected over the standards (None for "all")

    def to_json(self) -> dict:
        return {
            "standard": self.standard,
            "grade": self.grade,
            "problems": self.paired.problems,
            "accuracy_a": self.paired.accuracy_a,
            "accuracy_b": self.paired.accuracy_b,
            "delta": self.paired.delta,
            "interval": [self.low, self.high],
            "gained": self.paired.gained,
            "lost": self.paired.lost,
            "p": self.p,
            "p_holm": self.p_holm,
        }


@dataclass
class Comparison:
    a: str  # the runs, as model@revision
    b: str
    release: str
    overall: Row
    standards: list[Row]  # in curriculum order

    @property
    def gains(self) -> list[Row]:
        """The standards B does significantly better on, largest difference first."""
        return sorted((r for r in self.standards if r.p_holm < ALPHA and r.paired.delta > 0),
                      key=lambda r: (-r.paired.delta, r.standard))

    @property
    def losses(self) -> list[Row]:
        """The standards B does significantly worse on, largest drop first."""
        return sorted((r for r in self.standards if r.p_holm < ALPHA and r.paired.delta < 0),
                      key=lambda r: (r.paired.delta, r.standard))

    def to_json(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "release": self.release,
            "confidence": CONFIDENCE,
            "alpha": ALPHA,
            "overall": self.overall.to_json(),
            "standards": [r.to_json() for r in self.standards],
            "gains": [r.standard for r in self.gains],
            "losses": [r.standard for r in self.losses],
        }


def _name(run: tuple[str, str | None]) -> str:
    model, revision = run
    return model if revision is None else f"{model}@{revision}"


def one_run(results: list[Result], label: str, source: Path, chosen: str | None) -> tuple[str, list[Result]]:
    """The run of a results file: its only one, or the one named `chosen` (model or model@revision)."""
    grouped = {_name(key): group for key, group in runs(results).items()}
    if not grouped:
        raise ComparisonError(f"{source}: no results in it to compare")
    if chosen is not None:
        if chosen not in grouped:
            raise ComparisonError(
                f"{source}: no run {chosen!r} in it (its runs: {', '.join(grouped)}); --run-{label} names one"
            )
        return chosen, grouped[chosen]
    if len(grouped) > 1:
        raise ComparisonError(
            f"{source} holds {len(grouped)} runs ({', '.join(grouped)}): say which to compare with --run-{label} "
            "MODEL@REVISION"
        )
    (name, group), = grouped.items()
    return name, group


def _same_problems(a: list[Result], b: list[Result], a_name: str, b_name: str) -> str:
    """The release both runs are over; ComparisonError if they are not over the same problems."""
    releases_a, releases_b = {r.release for r in a}, {r.release for r in b}
    if releases_a != releases_b or len(releases_a) != 1:
        raise ComparisonError(
            f"{a_name} was run on release {', '.join(sorted(r[:12] for r in releases_a))} and {b_name} on "
            f"{', '.join(sorted(r[:12] for r in releases_b))} (sha256 of their manifest.json): a comparison needs "
            "both runs on the same release"
        )
    ids_a, ids_b = {r.id for r in a}, {r.id for r in b}
    if ids_a != ids_b:
        only_a, only_b = sorted(ids_a - ids_b), sorted(ids_b - ids_a)
        said = "; ".join(
            f"{len(ids)} only in {name} (e.g. {', '.join(ids[:3])})" for name, ids in ((a_name, only_a), (b_name, only_b))
            if ids
        )
        raise ComparisonError(
            f"{a_name} and {b_name} were asked different problems of the same release: {said}. Compare runs "
            "over the same problems (the same --standard, --limit and follow-up settings)"
        )
    return releases_a.pop()


def _asked(result: Result) -> bool:
    return result.verdict is not Verdict.not_asked


def _row(standard: str, grade: str, paired: Paired) -> Row:
    """The interval and test of one standard's pairs."""
    from scipy import stats

    import numpy as np

    a, b = np.array(paired.a, dtype=float), np.array(paired.b, dtype=float)
    if a.min() == a.max() and b.min() == b.max():  # every resample gives the same difference
        low = high = paired.delta
    else:
        interval = stats.bootstrap(
            (a, b), lambda x, y, axis=-1: y.mean(axis=axis) - x.mean(axis=axis), paired=True, vectorized=True,
            n_resamples=RESAMPLES, confidence_level=CONFIDENCE, method="percentile",
            rng=np.random.default_rng(0),
        ).confidence_interval
        low, high = float(interval.low), float(interval.high)
    discordant = paired.gained + paired.lost
    p = float(stats.binomtest(paired.gained, discordant, 0.5).pvalue) if discordant else 1.0
    return Row(standard, grade, paired, low, high, p)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down correction: each p times the number of hypotheses not yet rejected,
    made monotone and capped at 1, in the order given."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [1.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def compare(a: list[Result], b: list[Result], a_name: str, b_name: str) -> Comparison:
    """Per-standard accuracy of two runs over the same problems, their difference and its tests."""
    release = _same_problems(a, b, a_name, b_name)
    by_id = {r.id: r for r in b}
    grades: dict[str, str] = {}
    pairs: dict[str, Paired] = {}
    overall = Paired()
    for result in a:
        other = by_id[result.id]
        grades[result.standard] = result.grade
        if not (_asked(result) and _asked(other)):
            continue
        for paired in (pairs.setdefault(result.standard, Paired()), overall):
            paired.a.append(result.verdict is Verdict.correct)
            paired.b.append(other.verdict is Verdict.correct)
    if not overall.problems:
        raise ComparisonError(f"{a_name} and {b_name} were not both asked any problem: nothing to compare")
    standards = sorted(pairs, key=lambda s: curriculum_order(s, grades[s]))
    rows = [_row(s, grades[s], pairs[s]) for s in standards]
    for row, adjusted in zip(rows, holm([r.p for r in rows])):
        row.p_holm = adjusted
    return Comparison(a_name, b_name, release, _row("all", "", overall), rows)


def plot(comparison: Comparison, path: Path) -> None:
    """Each standard's difference B - A with its 95% interval, in curriculum order; gains and losses
    that hold after Holm's correction in colour."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    rows = comparison.standards
    figure, axes = pyplot.subplots(figsize=(7, 0.9 + 0.28 * len(rows)))
    ys = range(len(rows))[::-1]
    gains, losses = {r.standard for r in comparison.gains}, {r.standard for r in comparison.losses}
    for y, row in zip(ys, rows):
        color = "tab:green" if row.standard in gains else "tab:red" if row.standard in losses else "0.55"
        delta = 100 * row.paired.delta
        axes.errorbar(delta, y, xerr=[[delta - 100 * row.low], [100 * row.high - delta]], fmt="o", color=color,
                      capsize=2, markersize=4)
    axes.axvline(0, color="0.3", linewidth=0.8)
    axes.set_yticks(list(ys), [f"{r.standard} ({r.paired.problems})" for r in rows], fontsize=7)
    axes.set_xlabel(f"accuracy of {comparison.b} minus {comparison.a} (percentage points, 95% interval)")
    axes.set_title("green: gains, red: losses (Holm-corrected exact McNemar, p < 0.05)", fontsize=8)
    figure.tight_layout()
    save_figure(figure, path, dpi=150)
    pyplot.close(figure)
