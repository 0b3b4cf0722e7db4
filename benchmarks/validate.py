"""Benchmark: problems validated per second on one core (parse, sympy, z3, answer comparison).

    python benchmarks/validate.py PATH [PATH ...] [--workers 1] [--repeat 1]

PATH is anything `mathcamps validate` reads: our JSONL records, a MathCAMPS v1 folder or file.
Reports problems/s and the share of time in each stage, measured on the single-process path.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mathcamps.compiler.validate import validate

STAGES = {
    "read": ("validate.py:", "_read_", "ijson"),
    "parse": ("legacy.py", "language.py", "lark"),
    "solve": ("exact.py", "sympy"),
    "prove": ("prover.py", "z3"),
    "compare": ("answers.py",),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    best = float("inf")
    counts: Counter = Counter()
    for _ in range(args.repeat):
        started = time.perf_counter()
        counts = Counter(v.verdict for v in validate(args.paths, args.workers))
        best = min(best, time.perf_counter() - started)
    total = sum(counts.values())
    table = Table(title=f"validation, {args.workers} worker(s), best of {args.repeat}")
    for column in ("problems", "seconds", "problems/s", "verdicts"):
        table.add_column(column, justify="right")
    table.add_row(f"{total:,}", f"{best:.2f}", f"{total / best:,.0f}", ", ".join(f"{k} {n}" for k, n in counts.items()))
    console = Console(width=160)
    console.print(table)
    if args.workers == 1:
        # Where a single process spends its time: cumulative time of each stage's own code.
        profile = cProfile.Profile()
        profile.runcall(lambda: sum(1 for _ in validate(args.paths, 1)))
        stats = pstats.Stats(profile)
        spent = {stage: 0.0 for stage in STAGES}
        for (filename, _, name), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
            for stage, markers in STAGES.items():
                if any(m in filename or m in name for m in markers):
                    spent[stage] += own
                    break
        whole = sum(spent.values()) or 1.0
        console.print("own time by stage (profiled run): " + ", ".join(f"{s} {100 * t / whole:.0f}%" for s, t in spent.items()))


if __name__ == "__main__":
    main()
