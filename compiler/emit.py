"""The emit stage: problems of many standards, streamed to one JSONL file that appears whole or not at all."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from mathcamps.files import OutputError, as_it_was, atomic_text, check_output
from mathcamps.records import Problem
from mathcamps.registry import Standard

from mathcamps.compiler.pipeline import Said, ShortOfProblems, StandardCompiler, Stats, inputs_of

PROBLEMS_FILE = "problems.jsonl"
REPEATED = "duplicate follow-up: an earlier standard asks it word for word (not written)"


def compile_standards(
    standards: list[Standard],
    out_dir: Path,
    per_standard: int,
    seed: int,
    templates: Path | None = None,
    force: bool = False,
    on_problem: Callable[[Problem], None] | None = None,
) -> list[Stats]:
    """Writes `out_dir/problems.jsonl`: `per_standard` problems of each standard, in curriculum order.

    The file is written to a temporary name and renamed when complete, so an
    interrupted run leaves any earlier file as it was.
    """
    target = out_dir / PROBLEMS_FILE
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir}: exists and is not a folder")
    check_output(target, force, [path for standard in standards for path in inputs_of(standard, templates)])
    compilers = [StandardCompiler(standard, seed, templates) for standard in standards]
    stats: list[Stats] = []
    said = Said()  # no two follow-ups of the file say the same words
    try:
        with atomic_text(target) as stream:
            for compiler in compilers:
                for problem in compiler.problems(per_standard):
                    if not said.first(problem):  # an earlier standard asked it, word for word
                        compiler.stats.followups[problem.kind.value] -= 1
                        compiler.stats.rejections[REPEATED] += 1
                        continue
                    stream.write(problem.to_json())
                    stream.write("\n")
                    if on_problem:
                        on_problem(problem)
                stats.append(compiler.stats)
    except ShortOfProblems as error:
        raise ShortOfProblems(f"{error} Nothing was written: {as_it_was(target)}.") from None
    return stats
