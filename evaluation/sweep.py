"""Checkpoint sweeps: one evaluation run per revision of a model, each in its own process, into one results file."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from typing import Callable

from mathcamps.errors import MathcampsError


class SweepError(MathcampsError):
    """A list of revisions that names none."""


@dataclass(frozen=True)
class Outcome:
    """How one revision's run ended."""

    revision: str
    returncode: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def parse_revisions(text: str) -> list[str]:
    """The revisions of a comma-separated list, in its order, each once."""
    revisions = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not revisions:
        raise SweepError(f"--revisions {text!r} names no revision: give them comma-separated, e.g. step1000,step2000.")
    return revisions


def sweep(
    revisions: list[str],
    command: Callable[[str], list[str]],
    on_start: Callable[[str, int], None] | None = None,
) -> list[Outcome]:
    """Runs `command(revision)` for each revision in turn, a process each (its output passes through), and
    gives how each ended; a failing revision does not stop the others."""
    outcomes = []
    for index, revision in enumerate(revisions):
        if on_start is not None:
            on_start(revision, index)
        started = time.perf_counter()
        try:
            returncode = subprocess.run(command(revision), check=False).returncode
        except OSError as error:  # the interpreter itself could not start
            raise SweepError(f"cannot start the run of {revision}: {error}.") from None
        outcomes.append(Outcome(revision, returncode, time.perf_counter() - started))
    return outcomes
