"""The `release` command group (build, verify, diff) and the `export` command: options in, library call, tables out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from mathcamps.cli.common import (
    GrammarsDir,
    Seed,
    StandardIds,
    StandardsDir,
    TemplatesDir,
    console,
    errors,
    load_registry,
    progress_bar,
    user_errors,
)

release_app = typer.Typer(
    help="Build versioned, immutable dataset releases; verify them; compare two.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:,} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1024
    return str(count)


def _files_table(title: str, files) -> Table:
    table = Table(title=title, expand=False)
    for column in ("file", "records", "size", "sha256"):
        table.add_column(column, justify="right" if column in ("records", "size") else "left", no_wrap=True)
    for path, entry in files.items():
        records = "" if entry.records is None else f"{entry.records:,}"
        table.add_row(path, records, _size(entry.bytes), entry.sha256[:16] + "…")
    return table


@release_app.command("build")
@user_errors
def build_command(
    name: Annotated[str, typer.Option("--name", help="Release name, e.g. mathcamps.")],
    version: Annotated[str, typer.Option("--version", help="Release version X.Y.Z.")],
    per_standard: Annotated[int, typer.Option("--per-standard", min=1, help="Originals per standard.")] = 1000,
    seed: Seed = 0,
    standard: StandardIds = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Worker processes, one standard each (same bytes for any number).")
    ] = 1,
    test_fraction: Annotated[
        float, typer.Option("--test-fraction", min=0.0, max=1.0, help="Share of originals (by program hash) in test.")
    ] = 0.2,
    out: Annotated[Path, typer.Option("--out", help="Folder that holds releases.")] = Path("releases"),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing release of this version.")] = False,
    standards: StandardsDir = None,
    grammars: GrammarsDir = None,
    templates: TemplatesDir = None,
) -> None:
    """Compile a release into OUT/NAME-X.Y.Z: data/train.jsonl, data/test.jsonl, manifest.json, README.md."""
    from mathcamps.compiler.release import build_release

    registry = load_registry(standards, grammars)
    chosen = registry.select(standard)
    with progress_bar() as progress:
        task = progress.add_task("building", total=len(chosen))

        def advance(entry) -> None:
            progress.update(task, advance=1, description=entry.id)
            progress.refresh()

        result = build_release(chosen, out, name, version, per_standard, seed, test_fraction, workers, templates,
                               force, advance)
    manifest = result.manifest
    table = Table(title=f"{manifest.release}", expand=False)
    for column in ("standard", "grade", "originals", "follow-ups", "train", "test", "duplicates", "rejected"):
        table.add_column(column, justify="left" if column == "standard" else "right", no_wrap=True)
    for entry in manifest.standards:
        originals = entry.counts["train"]["original"] + entry.counts["test"]["original"]
        table.add_row(entry.id, entry.grade, str(originals), str(entry.total() - originals),
                      str(sum(entry.counts["train"].values())), str(sum(entry.counts["test"].values())),
                      str(sum(entry.duplicates.values())), str(sum(entry.rejections.values())))
    console.print(table)
    console.print(_files_table("files", manifest.files))
    for warning in result.warnings:
        errors.print(f"[yellow]warning:[/] {warning}", highlight=False)
    console.print(f"wrote {manifest.records:,} records to {result.path}", highlight=False)


@release_app.command("verify")
@user_errors
def verify_command(
    folder: Annotated[Path, typer.Argument(help="A release folder, NAME-X.Y.Z.")],
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes for validation.")] = 1,
    standards: StandardsDir = None,
    grammars: GrammarsDir = None,
) -> None:
    """Check a release: every file's sha256, size and record count against its manifest, the counts per
    standard, kind and split, and every answer (parse, sympy, z3). Exits 0 only if all pass."""
    from mathcamps.compiler.release import verify_release

    with progress_bar(bar=False) as progress:
        task = progress.add_task("validating", total=None)

        def advance(_verdict) -> None:
            progress.update(task, advance=1)
            if progress.tasks[task].completed % 500 == 0:
                progress.refresh()

        report = verify_release(folder, workers, on_verdict=advance, registry=load_registry(standards, grammars))
    console.print(_files_table(f"{report.manifest.release}", report.manifest.files))
    if report.validation is not None:
        total = report.validation.total()
        console.print(
            "validate: " + ", ".join(f"{count:,} {verdict}" for verdict, count in total.most_common()), highlight=False
        )
    for problem in report.problems:
        console.print(f"[red]✗[/] {problem}", highlight=False)
    if not report.ok:
        console.print(f"[bold red]{folder} does not verify[/]", highlight=False)
        raise typer.Exit(1)
    console.print(f"[bold green]{folder} verifies[/]: files, counts and every answer", highlight=False)


@release_app.command("diff")
@user_errors
def diff_command(
    before: Annotated[Path, typer.Argument(help="The earlier release folder.")],
    after: Annotated[Path, typer.Argument(help="The later release folder.")],
) -> None:
    """Compare two releases: settings and tool versions, standards added, removed or changed (grammar,
    definition or templates hash), and records per standard before and after."""
    from mathcamps.compiler.release import diff_releases

    diff = diff_releases(before, after)
    if diff.settings:
        settings = Table(title="settings", expand=False)
        for column in ("field", diff.before, diff.after):
            settings.add_column(column, no_wrap=True)
        for row in diff.settings:
            settings.add_row(*row)
        console.print(settings)
    table = Table(title=f"{diff.before} → {diff.after}", expand=False)
    for column in ("standard", "status", "changed", "before", "after"):
        table.add_column(column, justify="right" if column in ("before", "after") else "left", no_wrap=True)
    style = {"added": "green", "removed": "red", "changed": "yellow", "same": "dim"}
    for change in diff.standards:
        table.add_row(change.id, f"[{style[change.status]}]{change.status}[/]", ", ".join(change.changed),
                      "-" if change.before is None else str(change.before),
                      "-" if change.after is None else str(change.after))
    console.print(table)
    console.print(
        ", ".join(f"{len(diff.of(status))} {status}" for status in ("added", "removed", "changed", "same")),
        highlight=False,
    )


@user_errors
def export_command(
    folder: Annotated[Path, typer.Argument(help="A release folder, NAME-X.Y.Z.")],
    format_: Annotated[str, typer.Option("--format", help="mathcamps-v1, hf, lm-eval or train.")],
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Folder to write (default: beside the release, NAME-X.Y.Z-FORMAT).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing export.")] = False,
    parquet: Annotated[bool, typer.Option("--parquet", help="hf: write Parquet instead of JSON lines.")] = False,
    split: Annotated[str, typer.Option("--split", help="lm-eval: the split to evaluate (few-shot from the other).")] = "test",
    task_prefix: Annotated[
        Optional[str], typer.Option("--task-prefix", help="lm-eval: group and task name prefix (default: the release name).")
    ] = None,
    order: Annotated[
        Optional[str], typer.Option("--order", help="train: curriculum, reverse, interleaved or random.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="train: the seed of the random order.")] = 0,
) -> None:
    """Write a release for other tools: MathCAMPS v1 JSON, Hugging Face datasets, lm-evaluation-harness tasks,
    or a training stream of its train split in a declared order."""
    from mathcamps.compiler.export import export_release

    result = export_release(folder, format_, out, force, parquet, split, task_prefix, order, seed)
    console.print(_files_table(f"{format_} export", result.files))
    console.print(f"wrote {result.path}", highlight=False)
