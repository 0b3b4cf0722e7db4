"""The `mathcamps` command: list standards, sample problems, compile datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table

from mathcamps import __version__

from mathcamps.cli.common import (
    GrammarsDir,
    Seed,
    StandardIds,
    StandardsDir,
    TemplatesDir,
    _state,
    console,
    load_registry,
    progress_bar,
    user_errors,
)

app = typer.Typer(
    help="Compile verified, curriculum-grounded math word problems from grammars and solvers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    _state["debug"] = debug
    if version:
        console.print(f"mathcamps {__version__}")
        raise typer.Exit()


@app.command("standards")
@user_errors
def list_standards(standards: StandardsDir = None, grammars: GrammarsDir = None) -> None:
    """List the registered standards: id, grade, domain, answer kind and the official text."""
    registry = load_registry(standards, grammars)
    table = Table(title=f"{len(registry)} standards", show_lines=False, expand=True)
    table.add_column("standard", no_wrap=True, style="bold")
    table.add_column("grade", justify="center")
    table.add_column("domain", no_wrap=True)
    table.add_column("answer", no_wrap=True)
    table.add_column("text", ratio=1)
    for standard in registry:
        d = standard.definition
        table.add_row(standard.id, d.grade, d.domain, d.answer.kind.value, d.text)
    console.print(table)


@app.command()
@user_errors
def sample(
    standard: Annotated[str, typer.Argument(help="Standard id, e.g. one listed by `mathcamps standards`.")],
    n: Annotated[int, typer.Option("-n", "--count", min=1, help="How many problems.")] = 3,
    seed: Annotated[int, typer.Option(help="Release seed.")] = 0,
    standards: StandardsDir = None,
    grammars: GrammarsDir = None,
    templates: TemplatesDir = None,
) -> None:
    """Show a few problems of one standard: program, statement, answer and both solvers' verdicts."""
    from mathcamps.compiler.pipeline import StandardCompiler

    registry = load_registry(standards, grammars)
    compiler = StandardCompiler(registry.get(standard), seed, templates)
    for problem in compiler.problems(n):
        body = (
            f"[dim]{problem.program}[/]\n\n{problem.statement}\n\n"
            f"[bold]answer:[/] {problem.answer}   "
            f"[green]sympy: {problem.verdicts.sympy}   z3: {problem.verdicts.z3}[/]"
        )
        if problem.parent is None:
            console.print(Panel(body, title=problem.id, subtitle=problem.render.frame, expand=False, width=88))
        else:
            # A follow-up continues the dialogue of the problem above it.
            title = f"↳ {problem.kind.value} follow-up"
            console.print(Padding(Panel(body, title=title, expand=False, width=84), (0, 0, 0, 4)))


@app.command("compile")
@user_errors
def compile_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write problems.jsonl into.")],
    per_standard: Annotated[int, typer.Option("--per-standard", min=1, help="Problems per standard.")] = 100,
    seed: Seed = 0,
    standard: StandardIds = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing problems.jsonl.")] = False,
    standards: StandardsDir = None,
    grammars: GrammarsDir = None,
    templates: TemplatesDir = None,
) -> None:
    """Compile verified problems of every (or the chosen) standard into OUT/problems.jsonl."""
    from mathcamps.compiler.emit import compile_standards

    registry = load_registry(standards, grammars)
    chosen = registry.select(standard)
    total = per_standard * len(chosen)
    with progress_bar() as progress:
        task = progress.add_task("compiling", total=total)

        def advance(problem) -> None:
            if problem.parent is not None:
                return  # the bar counts originals; follow-ups come with them
            progress.update(task, advance=1, description=problem.standard)
            if progress.tasks[task].completed % 50 == 0:
                progress.refresh()

        stats = compile_standards(chosen, out, per_standard, seed, templates, force=force, on_problem=advance)
    print_summary(stats)
    followups = sum(sum(s.followups.values()) for s in stats)
    console.print(
        f"wrote {sum(s.problems for s in stats)} problems and {followups} follow-ups to {out / 'problems.jsonl'}"
    )


def print_summary(stats) -> None:
    """Counts and acceptance per standard, time per stage, and rejection reasons, as tables."""
    from mathcamps.compiler.pipeline import STAGES, Stats

    table = Table(title="compiled", expand=False)
    for column in ("standard", "problems", "follow-ups", "candidates", "accepted", "problems/s"):
        table.add_column(column, justify="left" if column == "standard" else "right", no_wrap=True)
    total = Stats("all")
    for s in stats:
        total.merge(s)
        table.add_row(s.standard, *_counts(s))
    table.add_row("all", *_counts(total), style="bold")
    console.print(table)
    stages = Table(title="time per verified problem", expand=False)
    stages.add_column("stage")
    stages.add_column("µs", justify="right")
    stages.add_column("share", justify="right")
    for stage in STAGES:
        seconds = total.seconds[stage]
        share = seconds / total.total_seconds if total.total_seconds else 0.0
        stages.add_row(stage, f"{1e6 * seconds / max(total.problems, 1):,.0f}", f"{100 * share:.0f}%")
    console.print(stages)
    if total.rejections:
        why = Table(title="rejected candidates and number draws, by reason", expand=False)
        why.add_column("reason")
        why.add_column("count", justify="right")
        for reason, count in total.rejections.most_common(12):
            why.add_row(reason, f"{count:,}")
        console.print(why)


def _counts(s) -> tuple[str, ...]:
    rate = s.problems / s.total_seconds if s.total_seconds else 0.0
    accepted = f"{100 * s.problems / s.candidates:.0f}%" if s.candidates else "-"
    return str(s.problems), str(sum(s.followups.values())), str(s.candidates), accepted, f"{rate:,.0f}"


@app.command("validate")
@user_errors
def validate_command(
    paths: Annotated[list[Path], typer.Argument(help="JSONL records, MathCAMPS v1 .json files, or folders of them.")],
    report: Annotated[
        Optional[Path], typer.Option("--report", help="Write every problem's verdict to this JSON file.")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes (same verdicts for any number).")] = 1,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --report.")] = False,
    standards: StandardsDir = None,
    grammars: GrammarsDir = None,
) -> None:
    """Re-derive every answer from its program (sympy, then z3) and say whether the stored one holds.

    Exits 0 only when every problem agrees."""
    from mathcamps.compiler.validate import AGREES, DISAGREES, UNPARSEABLE, UNPROVED, run

    shown = []

    def note(verdict) -> None:
        if verdict.verdict != AGREES and len(shown) < 20:
            shown.append(verdict)

    with progress_bar(bar=False) as progress:
        task = progress.add_task("validating", total=None)

        def advance(verdict) -> None:
            note(verdict)
            progress.update(task, advance=1)
            if progress.tasks[task].completed % 200 == 0:
                progress.refresh()

        summary = run(paths, workers, report, advance, load_registry(standards, grammars), force)
    table = Table(title="validation", expand=False)
    columns = ("standard", "problems", AGREES, DISAGREES, UNPARSEABLE, UNPROVED)
    for column in columns:
        table.add_column(column, justify="left" if column == "standard" else "right", no_wrap=True)
    for standard, counts in summary.counts.items():
        table.add_row(standard, str(sum(counts.values())), *(str(counts[v]) for v in columns[2:]))
    total = summary.total()
    table.add_row("all", str(sum(total.values())), *(str(total[v]) for v in columns[2:]), style="bold")
    console.print(table)
    console.print("problems read: " + ", ".join(f"{n} {kind}" for kind, n in summary.kinds.most_common()), highlight=False)
    for verdict in shown:
        console.print(f"[yellow]{verdict.verdict}[/] {verdict.id} ({verdict.source}): {verdict.reason}", highlight=False)
    if report is not None:
        console.print(f"wrote the verdict of every problem to {report}")
    if not summary.all_agree:
        raise typer.Exit(1)


# The other command groups, one module each: releases and exports, and `eval`, whose commands
# eval_analysis (grade, report) and eval_run (run, sweep) register on it.
from mathcamps.cli import eval_run  # noqa: E402,F401
from mathcamps.cli.eval_analysis import dynamics_command  # noqa: E402
from mathcamps.cli.evaluate import eval_app  # noqa: E402
from mathcamps.cli.frames import frames_app  # noqa: E402
from mathcamps.cli.lab import lab_app  # noqa: E402
from mathcamps.cli.release import export_command, release_app  # noqa: E402

app.add_typer(release_app, name="release")
app.command("export")(export_command)
app.add_typer(eval_app, name="eval")
app.add_typer(frames_app, name="frames")
app.add_typer(lab_app, name="lab")
app.command("dynamics")(dynamics_command)
