"""Figures and JSON documents of the reports: where they may be written, and writing them whole."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Iterable

from mathcamps.files import OutputError, atomic_bytes, check_output

FORMATS = ("png", "pdf", "svg")


def figure_path(path: Path, force: bool, inputs: Iterable[Path], option: str = "--plot") -> Path:
    """The file a figure goes to: `path`, or `path.png` when it has no suffix; OutputError for a
    suffix that is no figure format, an input, or an existing file without --force."""
    if not path.suffix:
        path = path.with_name(path.name + ".png")
    if path.suffix.lstrip(".").lower() not in FORMATS:
        raise OutputError(
            f"{option} {path}: a figure is written as {', '.join('.' + f for f in FORMATS)}, not {path.suffix}"
        )
    check_output(path, force, inputs, option)
    return path


def save_figure(figure, path: Path, dpi: int) -> None:
    """Writes a matplotlib figure to `path` (its format from the suffix), whole or not at all."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format=path.suffix.lstrip(".").lower(), dpi=dpi)
    atomic_bytes(path, buffer.getvalue())


def save_json(document, path: Path) -> None:
    """Writes a JSON document (indented, one newline at the end), whole or not at all."""
    atomic_bytes(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"))
