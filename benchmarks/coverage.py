"""Coverage: the problem shapes a MathCAMPS v1 release has, per standard, next to the shapes we make.

    python benchmarks/coverage.py PATH/TO/mathcamps-v1 [--per-standard 200] [--seed 7] [--markdown]

A shape is summarised as a signature: what the question asks (a value, an unknown, a comparison,
factor pairs, a quotient with remainder), how many steps the program takes, and which operations
it uses. For each of our variants the report lists the signatures of the release's original
problems and of ours, with their shares, and the release's signatures that we never produce (their share of all the
release's originals of that standard).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mathcamps.compiler.pipeline import StandardCompiler
from mathcamps.language import Ask, BinOp, Compare, Factors, Let, Solve, parse_program, walk
from mathcamps.registry import default_registry

_OPERATORS = {"+": "+", "-": "-", "*": "*", "/": "/", "**": "^", "%": "%"}


def legacy_signature(struct: str) -> str:
    """The signature of a MathCAMPS v1 `symbolic-struct` (read by pattern, for this report only)."""
    lines = [line for line in struct.splitlines() if line.startswith("[[")]
    statements = [line for line in lines if line.startswith("[[var")]
    question = next((line for line in lines if line.startswith("[[question")), "")
    body = " ".join(statements)
    operators = {_OPERATORS[op] for op in re.findall(r"\*\*|[-+*/%]", body)}
    if " _ " in question:
        operators |= {_OPERATORS[op] for op in re.findall(r"\*\*|[-+*/%]", question)}
        kind = "compare"
    elif re.search(r"\['\d+'\]", question):
        kind = "factor pairs"
    elif re.search(r"\[\[var \d", body):
        kind = "system" if question.count("'") > 2 else "unknown"
    else:
        kind = "value"
    steps = sum(1 for line in statements if re.search(r"\*\*|[-+*/%]", line))
    return _signature(kind, steps, operators)


def our_signature(program_text: str) -> str:
    program = parse_program(program_text)
    question = program.question
    operators: set[str] = set()
    for expr in program.expressions():
        operators |= {node.op for node in walk(expr) if isinstance(node, BinOp)}
    steps = sum(
        1 for s in program.statements if isinstance(s, Solve) or (isinstance(s, Let) and isinstance(s.expr, BinOp))
    )
    if isinstance(question, Compare):
        kind = "compare"
    elif isinstance(question, Factors):
        kind = "factor pairs"
    elif program.unknowns:
        kind = "system" if len(program.unknowns) > 1 else "unknown"
    elif isinstance(question, Ask) and len(question.names) == 2 and "%" in operators:
        kind = "quotient and remainder"
    else:
        kind = "value"
    if "//" in operators:
        operators = operators - {"//"} | {"% (quotient)"}
    return _signature(kind, steps, operators)


def _signature(kind: str, steps: int, operators: set[str]) -> str:
    order = ["+", "-", "*", "/", "^", "%", "% (quotient)"]
    ops = " ".join(op for op in order if op in operators) or "none"
    return f"{kind}, {steps} step{'s' if steps != 1 else ''}: {ops}"


def _share(counter: Counter, top: int = 6, total: int | None = None) -> str:
    total = total or sum(counter.values())
    return "; ".join(f"{sig} ({100 * n / total:.0f}%)" for sig, n in counter.most_common(top))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="a folder with the MathCAMPS v1 per-standard JSON files")
    parser.add_argument("--per-standard", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    rows = []
    for standard in default_registry():
        path = args.reference / f"{standard.id}.json"
        theirs: Counter = Counter()
        if path.is_file():
            groups = json.loads(path.read_text(encoding="utf-8"))
            for problem in (p for group in groups for p in group if not p.get("followup_to")):
                theirs[legacy_signature(problem["symbolic-struct"])] += 1
        compiler = StandardCompiler(standard, args.seed)
        ours = Counter(our_signature(p.program) for p in compiler.problems(args.per_standard) if p.parent is None)
        ops = lambda sig: sig.split(": ", 1)[1]  # noqa: E731
        kind = lambda sig: sig.split(",", 1)[0]  # noqa: E731
        covered = {(kind(s), ops(s)) for s in ours}
        missing = Counter({s: n for s, n in theirs.items() if (kind(s), ops(s)) not in covered})
        rows.append((standard.id, _share(theirs), _share(ours), _share(missing, 4, sum(theirs.values())) if missing else "-"))
    if args.markdown:
        print("| variant | MathCAMPS v1 | mathcamps | v1 operation sets we do not make |")
        print("|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    table = Table(title="Problem shapes: MathCAMPS v1 and ours")
    for column in ("variant", "MathCAMPS v1", "mathcamps", "v1 operation sets we do not make"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
