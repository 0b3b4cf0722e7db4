"""Benchmark: verified problems per second on one core, per standard, with the time of each stage.

    python benchmarks/compile.py [--per-standard 1000] [--standard ID ...] [--seed 7]

Every problem counted here (originals; their follow-ups are counted apart, and their time is
in the `followups` and `prove` columns) is parsed back, solved by sympy, proved by z3,
checked against its constraints and rendered with a faithfulness check.
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from mathcamps.compiler.pipeline import STAGES, StandardCompiler, Stats
from mathcamps.registry import default_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-standard", type=int, default=1000)
    parser.add_argument("--standard", action="append")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    registry = default_registry()
    table = Table(title=f"verified problems per second, one core, {args.per_standard} per standard")
    for column in ("standard", "problems", "follow-ups", "accepted", "problems/s", *[f"{s} µs" for s in STAGES]):
        table.add_column(column, justify="left" if column == "standard" else "right", no_wrap=True)
    total = Stats("all")
    wall_total = 0.0
    for standard in registry.select(args.standard):
        started = time.perf_counter()
        compiler = StandardCompiler(standard, args.seed)
        setup = time.perf_counter() - started
        started = time.perf_counter()
        sum(1 for _ in compiler.problems(args.per_standard))
        wall = time.perf_counter() - started
        count = compiler.stats.problems
        wall_total += wall
        stats = compiler.stats
        total.merge(stats)
        table.add_row(
            f"{standard.id} (+{setup * 1000:.0f} ms load)",
            str(count),
            str(sum(stats.followups.values())),
            f"{100 * stats.problems / max(stats.candidates, 1):.0f}%",
            f"{count / wall:,.0f}",
            *[f"{1e6 * stats.seconds[s] / max(count, 1):,.0f}" for s in STAGES],
        )
    table.add_row(
        "all",
        str(total.problems),
        str(sum(total.followups.values())),
        f"{100 * total.problems / max(total.candidates, 1):.0f}%",
        f"{total.problems / wall_total:,.0f}",
        *[f"{1e6 * total.seconds[s] / max(total.problems, 1):,.0f}" for s in STAGES],
        style="bold",
    )
    Console(width=200).print(table)
    shares = {s: total.seconds[s] / total.total_seconds for s in STAGES}
    print("share of time by stage: " + ", ".join(f"{s} {100 * v:.0f}%" for s, v in shares.items()))


if __name__ == "__main__":
    main()
