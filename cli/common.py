"""What every command group of the `mathcamps` command shares: its consoles and its way of reporting a user's mistake."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mathcamps.errors import MathcampsError
from mathcamps.language import grammar_dir
from mathcamps.registry import Registry, default_registry, standards_dir

console = Console()
errors = Console(stderr=True)
_state = {"debug": False}

StandardsDir = Annotated[
    Optional[Path], typer.Option("--standards", help="Folder of standard definitions (default: the built-in ones).")
]
GrammarsDir = Annotated[
    Optional[Path], typer.Option("--grammars", help="Folder of grammars (default: beside --standards, else built-in).")
]
StandardIds = Annotated[Optional[list[str]], typer.Option("--standard", help="Only this standard (repeatable).")]
Seed = Annotated[int, typer.Option("--seed", help="Seed: the same inputs and seed give the same bytes.")]
TemplatesDir = Annotated[
    Optional[Path], typer.Option("--templates", help="Folder of frames and vocabulary (default: built-in).")
]


def user_errors(command):
    """Prints a user's mistake as one paragraph and exits 1; --debug shows the traceback instead."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except MathcampsError as error:
            if _state["debug"]:
                raise
            errors.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except OSError as error:
            # The file system refused something no stage above expected (a folder gone, a device
            # full): still one paragraph that names the file.
            if _state["debug"]:
                raise
            where = f"{error.filename}: " if error.filename else ""
            errors.print(f"[bold red]error:[/] {where}{error.strerror or error}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def load_registry(standards: Path | None, grammars: Path | None) -> Registry:
    """The registry of a folder of definitions, or the built-in one. A definition of the folder that
    takes a built-in standard's id with other contents is loaded, with a warning: its problems would
    pass for the built-in standard's."""
    if standards is None and grammars is None:
        return default_registry()
    standards = standards or standards_dir()
    registry = Registry.load(standards, grammars or (standards if standards != standards_dir() else grammar_dir()))
    built_in = {s.id: s for s in default_registry()}
    for standard in registry:
        same = built_in.get(standard.id)
        if same is not None and standard.definition_sha256 != same.definition_sha256:
            errors.print(
                f"[yellow]warning:[/] {standard.definition_path} defines {standard.id}, the id of a built-in standard, "
                "with another definition: its problems will carry that id as if they were the built-in standard's. "
                "Give it a variant of its own (variant: mine) to tell them apart.",
                highlight=False, soft_wrap=True,
            )
    return registry


def progress_bar(bar: bool = True, auto_refresh: bool = False) -> Progress:
    """The progress display of a long command, on stderr and gone when it ends. No refresh thread
    unless asked for: the work may fork worker processes, which must not copy a running thread."""
    columns = [TextColumn("[bold]{task.description}")] + ([BarColumn()] if bar else [])
    columns += [MofNCompleteColumn(), TimeElapsedColumn()]
    return Progress(*columns, console=errors, transient=True, auto_refresh=auto_refresh)
