"""The `frames` command group: what the template layer covers, checked against every shape the grammars derive."""

from __future__ import annotations

import typer
from rich.table import Table

from mathcamps.cli.common import GrammarsDir, StandardIds, StandardsDir, TemplatesDir, console, load_registry, user_errors

frames_app = typer.Typer(
    help="Check the frames and themes that write the standards' problems.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@frames_app.command("check")
@user_errors
def check(
    standards: StandardsDir = None,
    grammars: GrammarsDir = None,
    templates: TemplatesDir = None,
    standard: StandardIds = None,
) -> None:
    """Enumerate every program shape each grammar derives within its depth budget, and report shapes
    with no frame (an error), frames no shape reaches (dead), themes no frame can use, and step frames
    that follow nothing. Exits 1 if a shape has no frame."""
    from mathcamps.compiler.coverage import check_frames

    registry = load_registry(standards, grammars)
    chosen = [registry.get(s) for s in standard] if standard else list(registry)
    report = check_frames(chosen, templates)
    table = Table(title="frames check", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [
        ("standards", len(report.shapes)),
        ("shapes their grammars derive", sum(report.shapes.values())),
        ("frames", report.frames),
        ("step frames", report.steps),
        ("shapes with no frame", sum(map(len, report.missing.values()))),
        ("dead frames (no shape reaches them)", len(report.dead)),
        ("themes no frame can use", len(report.unused_themes)),
        ("step frames that follow nothing", len(report.orphan_steps)),
    ]
    for what, count in rows:
        table.add_row(what, f"{count:,}")
    console.print(table)
    for standard_id, shapes in report.missing.items():
        for shape in shapes:
            console.print(f"[red]missing[/] {standard_id}: no frame tells {shape!r}", highlight=False)
    for line in report.dead:
        console.print(f"[yellow]dead[/] {line}", highlight=False)
    for theme in report.unused_themes:
        console.print(f"[yellow]unused theme[/] {theme}", highlight=False)
    for line in report.orphan_steps:
        console.print(f"[yellow]step follows nothing[/] {line}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)
