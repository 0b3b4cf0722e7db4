"""The `mathcamps eval grade`, `mathcamps eval report` and `mathcamps dynamics` commands: grade, report, learning dynamics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Group
from rich.table import Table

from mathcamps.cli.common import GrammarsDir, StandardsDir, console, load_registry, user_errors
from mathcamps.cli.evaluate import eval_app

PlotFile = Annotated[
    Optional[Path], typer.Option("--plot", help="Write a figure to this file (.png, .pdf or .svg; .png if none).")
]
JsonFile = Annotated[Optional[Path], typer.Option("--json", help="Write the figures as JSON to this file.")]
Force = Annotated[bool, typer.Option("--force", help="Replace an existing --plot or --json file.")]


def _outputs(plot: Path | None, json_out: Path | None, force: bool, inputs: list[Path]) -> Path | None:
    """Checks the files a command will write before it reads anything: the figure's path (with its suffix)."""
    from mathcamps.evaluation.figures import figure_path
    from mathcamps.files import check_output

    if json_out is not None:
        check_output(json_out, force, inputs, "--json")
    return figure_path(plot, force, inputs) if plot is not None else None


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f}%"


def _cell(accuracy) -> str:
    if accuracy is None or accuracy.asked == 0:
        return "-"
    return f"{_percent(accuracy.rate)} [dim]({accuracy.correct}/{accuracy.asked})[/]"


@eval_app.command("grade")
@user_errors
def grade_command(
    responses: Annotated[Path, typer.Argument(help="JSONL: one object a line with `gold` and `response` "
                                              "(optionally `answer_kind`, `id`, `standard`).")],
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Graded JSONL to write (default: RESPONSES with .graded.jsonl).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")] = False,
) -> None:
    """Read each response's answer strictly, compare it with the gold one, and write the verdicts to a new file."""
    from mathcamps.evaluation.grade_file import grade_file

    out = out or responses.with_name(responses.name.removesuffix(".jsonl") + ".graded.jsonl")
    summary = grade_file(responses, out, force=force)
    table = Table(title="graded", expand=False)
    for column in ("standard", "lines", "correct", "wrong", "no-answer", "not-asked", "accuracy"):
        table.add_column(column, justify="left" if column == "standard" else "right", no_wrap=True)

    def row(name: str, counts) -> list[str]:
        lines = sum(counts.values())
        asked = lines - counts["not-asked"]
        rate = counts["correct"] / asked if asked else None
        return [name, str(lines), *(str(counts[v]) for v in ("correct", "wrong", "no-answer", "not-asked")),
                _percent(rate)]

    for standard, counts in sorted(summary.by_standard.items()):
        table.add_row(*row(standard, counts))
    table.add_row(*row("all", summary.verdicts), style="bold")
    console.print(table)
    found = ", ".join(f"{n} {method}" for method, n in summary.methods.most_common())
    console.print(f"answers read from: {found or 'nothing'}", highlight=False)
    console.print(f"wrote {summary.lines} graded lines to {out}", highlight=False)


@eval_app.command("report")
@user_errors
def report_command(
    results: Annotated[list[Path], typer.Argument(help="Results JSONL files (several models or revisions may mix).")],
    plot: PlotFile = None,
    json_out: JsonFile = None,
    force: Force = False,
) -> None:
    """Accuracy per standard, grade and kind for each (model, revision), and follow-ups given a correct original."""
    from mathcamps.evaluation.report import read_results, report, write_json

    plot = _outputs(plot, json_out, force, results)
    reports = report(read_results(results))
    if not reports:
        console.print("no results in the files given")
        raise typer.Exit(1)
    kinds = sorted({k for r in reports for k in r.by_kind}, key=lambda k: (k != "original", k))
    followups = sorted({k for r in reports for k in r.followups_given_correct})
    summary = Table(title="accuracy per run", expand=False)
    for column in ("run", "all", *kinds, *(f"{k} | original right" for k in followups), "not asked"):
        summary.add_column(column, justify="left" if column == "run" else "right", no_wrap=column == "run")
    for run in reports:
        summary.add_row(
            run.name, _cell(run.overall), *(_cell(run.by_kind.get(k)) for k in kinds),
            *(_cell(run.followups_given_correct.get(k)) for k in followups), str(run.not_asked),
        )
    console.print(summary)
    grades = sorted({g for r in reports for g in r.by_grade}, key=lambda g: (g != "K", g))
    console.print(_by_run("accuracy per grade", "grade", grades, reports, lambda run: run.by_grade))
    grade_of = {s: g for r in reports for s, g in r.grades.items()}
    standards = sorted(grade_of, key=lambda s: (grade_of[s] != "K", grade_of[s], s))
    console.print(_by_run("accuracy per standard", "standard", standards, reports, lambda run: run.by_standard))
    if json_out is not None:
        write_json(reports, json_out)
        console.print(f"wrote the report as JSON to {json_out}", highlight=False)
    if plot is not None:
        from mathcamps.evaluation.report import plot_heatmap

        plot_heatmap(reports, plot)
        console.print(f"wrote the heat map to {plot}", highlight=False)


def _by_run(title: str, label: str, keys: list[str], reports, table_of) -> Group:
    """Tables of accuracy with one column per run, as many runs a table as fit the console's width."""
    compact = len(reports) > 3
    one_model = len({run.model for run in reports}) == 1
    headers = [run.revision if compact and one_model and run.revision else run.name for run in reports]
    cell = max(6 if compact else 16, *map(len, headers)) + 3
    per_table = max(1, (console.width - 26) // cell)
    tables = []
    for start in range(0, len(reports), per_table):
        chunk = reports[start:start + per_table]
        part = f" ({start + 1}-{start + len(chunk)} of {len(reports)} runs)" if len(reports) > per_table else ""
        table = Table(title=title + part, expand=False)
        table.add_column(label, no_wrap=True)
        for header in headers[start:start + per_table]:
            table.add_column(header, justify="right", no_wrap=True)
        for key in keys:
            cells = [table_of(run).get(key) for run in chunk]
            table.add_row(key, *(_compact(c) if compact else _cell(c) for c in cells))
        tables.append(table)
    return Group(*tables)


def _compact(accuracy) -> str:
    return "-" if accuracy is None or accuracy.rate is None else f"{100 * accuracy.rate:.0f}%"


@user_errors
def dynamics_command(
    results: Annotated[list[Path], typer.Argument(help="Results JSONL files of several checkpoints (and models).")],
    plot: PlotFile = None,
    json_out: JsonFile = None,
    threshold: Annotated[
        float, typer.Option("--threshold", min=0.0, max=1.0, help="Absolute accuracy a skill must keep to emerge.")
    ] = 0.5,
    relative: Annotated[
        float, typer.Option("--relative", min=0.0, max=1.0, help="Share of its final accuracy a skill must keep.")
    ] = 0.8,
    tokens_per_step: Annotated[
        Optional[int],
        typer.Option("--tokens-per-step", min=1, help="Training tokens per step of `stepN` revisions "
                     "(default: 2,097,152 for Pythia; required for other models named by step)."),
    ] = None,
    permutations: Annotated[
        int, typer.Option("--permutations", min=0, help="Permutations for the p-values of rank correlations.")
    ] = 10000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the permutations.")] = 0,
    force: Force = False,
    standards: StandardsDir = None,
    grammars: GrammarsDir = None,
) -> None:
    """Learning curves over checkpoints, each standard's emergence point, and its rank correlation with grade."""
    from mathcamps.evaluation.dynamics import analyse
    from mathcamps.evaluation.report import read_results

    plot = _outputs(plot, json_out, force, results)
    registry = load_registry(standards, grammars)
    prerequisites = {s.id: list(s.definition.prerequisites) for s in registry}
    dynamics = analyse(read_results(results), threshold, relative, tokens_per_step, prerequisites, permutations, seed)
    if not dynamics.models:
        console.print("no original problems in the files given")
        raise typer.Exit(1)
    print_dynamics(dynamics, permutations, seed)
    from mathcamps.evaluation.dynamics import plot as draw

    _save("dynamics", dynamics, json_out, plot, draw)


def _save(what: str, document, json_out: Path | None, plot: Path | None, draw) -> None:
    """Writes a command's figures as JSON (`document.to_json()`) and its figure (`draw(document, path)`), if asked."""
    if json_out is not None:
        from mathcamps.evaluation.figures import save_json

        save_json(document.to_json(), json_out)
        console.print(f"wrote the {what} as JSON to {json_out}", highlight=False)
    if plot is not None:
        draw(document, plot)
        console.print(f"wrote the figure to {plot}", highlight=False)


def print_dynamics(dynamics, permutations: int, seed: int) -> None:
    """Each model's emergence table, its correlation with grade and prerequisite order, and the
    agreement of the models' emergence orders."""
    from mathcamps.evaluation.dynamics import MEASURES

    threshold, relative = dynamics.threshold, dynamics.relative
    for model in dynamics.models:
        table = Table(title=f"{model.model}: emergence (threshold {threshold:g}, relative {relative:g} of final)")
        for column in ("standard", "grade", "final", "absolute", "relative"):
            table.add_column(column, justify="left" if column == "standard" else "right", no_wrap=True)
        for standard, emerged in model.emergences.items():
            table.add_row(
                standard, emerged.grade, _percent(emerged.final),
                *(f"{p.revision} ({_tokens(p.tokens)})" if p else "[dim]never[/]" for p in (emerged.absolute, emerged.relative)),
            )
        console.print(table)
        for measure in MEASURES:
            never = model.never(measure)
            if never:
                console.print(f"never emerged ({measure}): {', '.join(never)}", highlight=False)
        correlation = Table(title=f"{model.model}: emergence against grade (permutation p, {permutations} "
                            f"permutations, seed {seed})", expand=False)
        for column in ("measure", "standards", "Spearman rho", "p", "Kendall tau-b", "p"):
            correlation.add_column(column, justify="left" if column == "measure" else "right")
        for measure, c in model.correlations.items():
            correlation.add_row(measure, str(c.n), *(_number(v) for v in (c.rho, c.rho_p, c.tau, c.tau_p)))
        console.print(correlation)
        order = Table(title=f"{model.model}: did the prerequisite emerge first?", expand=False)
        for column in ("measure", "before", "same checkpoint", "after", "neither emerged"):
            order.add_column(column, justify="left" if column == "measure" else "right")
        for measure, counts in model.prerequisites.items():
            order.add_row(measure, str(counts.before), str(counts.tie), str(counts.after), str(counts.neither))
        console.print(order)
    if dynamics.agreements:
        agreement = Table(title="agreement of emergence orders between models (Spearman rho)", expand=False)
        for column in ("measure", "model", "model", "standards emerged in both", "rho"):
            agreement.add_column(column)
        for a in dynamics.agreements:
            agreement.add_row(a.measure, a.first, a.second, str(a.n), _number(a.rho))
        console.print(agreement)


@eval_app.command("compare")
@user_errors
def compare_command(
    results_a: Annotated[Path, typer.Argument(help="Results JSONL of run A (e.g. the base model).")],
    results_b: Annotated[Path, typer.Argument(help="Results JSONL of run B (e.g. the instruction-tuned one).")],
    run_a: Annotated[
        Optional[str], typer.Option("--run-a", help="The run of RESULTS_A to compare (MODEL@REVISION), if it has several.")
    ] = None,
    run_b: Annotated[
        Optional[str], typer.Option("--run-b", help="The run of RESULTS_B to compare (MODEL@REVISION), if it has several.")
    ] = None,
    plot: PlotFile = None,
    json_out: JsonFile = None,
    force: Force = False,
) -> None:
    """Per-standard accuracy of two runs on the same problems, B - A with a 95% bootstrap interval, an exact
    McNemar test with Holm's correction, and the skills that gain and that lose."""
    from mathcamps.evaluation.compare import ALPHA, compare, one_run
    from mathcamps.evaluation.report import read_results

    plot = _outputs(plot, json_out, force, [results_a, results_b])
    a_name, a = one_run(read_results([results_a]), "a", results_a, run_a)
    b_name, b = one_run(read_results([results_b]), "b", results_b, run_b)
    if (results_a, a_name) == (results_b, b_name):
        console.print(f"A and B are the same run ({a_name} of {results_a}): name two with --run-a and --run-b")
        raise typer.Exit(1)
    comparison = compare(a, b, a_name, b_name)
    table = Table(title=f"B = {b_name} against A = {a_name} (problems both were asked)", expand=False)
    for column in ("standard", "grade", "problems", "A", "B", "B - A", "95% interval", "gained", "lost", "p",
                   "p (Holm)"):
        table.add_column(column, justify="left" if column == "standard" else "right", no_wrap=True)
    for row in [*comparison.standards, comparison.overall]:
        gained = row.p_holm is not None and row.p_holm < ALPHA
        table.add_row(
            row.standard, row.grade, str(row.paired.problems), _percent(row.paired.accuracy_a),
            _percent(row.paired.accuracy_b), _points(row.paired.delta),
            f"{_points(row.low)} .. {_points(row.high)}", str(row.paired.gained), str(row.paired.lost),
            _number(row.p), "" if row.p_holm is None else _number(row.p_holm),
            style="bold" if row.standard == "all" else ("green" if gained and row.paired.delta > 0 else "red" if gained else None),
        )
    console.print(table)
    for title, rows in (("gains", comparison.gains), ("losses", comparison.losses)):
        listed = ", ".join(f"{r.standard} ({_points(r.paired.delta)})" for r in rows)
        console.print(f"{title} (Holm-corrected p < {ALPHA:g}): {listed or 'none'}", highlight=False)
    from mathcamps.evaluation.compare import plot as draw

    _save("comparison", comparison, json_out, plot, draw)


def _points(difference: float) -> str:
    return f"{100 * difference:+.1f}"


def _tokens(count: int) -> str:
    for unit, size in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if count >= size:
            return f"{count / size:.3g}{unit} tokens"
    return f"{count} tokens"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"
