"""Benchmark: model responses graded per second on one core (answer extraction and comparison).

    python benchmarks/grade.py [PATH] [--per-standard 20] [--repeat 3]

Responses are made from problems: compiled in-process from every built-in standard (the default),
or read from PATH, a JSONL of problems (`answer`, `answer_kind`, `statement`) or of responses
(`gold`, `response`). Each problem gets four responses: a short right answer after the marker, a
wrong one (a near miss), a wordy one that reasons over the statement's numbers and boxes the
answer in LaTeX, and one with no marker nor box (the fallback). Prints responses/s and the verdicts.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

from mathcamps.answers import AnswerKind, format_answer
from mathcamps.evaluation.grade import grade, read_gold


def near_miss(answer: str, kind: str) -> str:
    """A wrong answer of the same kind: one more, the next symbol, a pair dropped, a remainder off by one."""
    value = read_gold(answer, kind)
    if isinstance(value, str):
        return {"<": ">", ">": "=", "=": "<"}[value]
    if isinstance(value, dict):
        return ", ".join(f"{name} = {format_answer(AnswerKind.fraction, v + 1)}" for name, v in value.items()
                         if isinstance(v, Fraction))
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return format_answer(AnswerKind.pairs, value[:-1] or ((1, value[0][1] + 1),))
    if isinstance(value, tuple):
        return f"{value[0]} R {value[1] + 1}"
    return format_answer(AnswerKind.fraction, value + 1) if isinstance(value, Fraction) else "0"


def latex(answer: str) -> str:
    return re.sub(r"(-?\d+)/(\d+)", r"\\frac{\1}{\2}", answer)


def responses_for(statement: str, answer: str, kind: str) -> list[tuple[str, str, str]]:
    """(response, gold, kind) for one problem: right, wrong, wordy, fallback."""
    numbers = re.findall(r"\d+(?:\.\d+)?", statement)[:4] or ["1", "2"]
    steps = "\n".join(f"Step {i + 1}: we use {n}, so the running total is {n} + {i} = {i}." for i, n in enumerate(numbers))
    wordy = (f"Let's read the problem carefully. {statement}\n\n{steps}\n\nPutting it together, the answer is "
             f"$\\boxed{{{latex(answer)}}}$. I hope this helps!")
    return [
        (f"### Answer: {answer}", answer, kind),
        (f"Working it out: {numbers[0]} and {numbers[-1]}.\n### Answer: {near_miss(answer, kind)}", answer, kind),
        (wordy, answer, kind),
        (f"{steps}\nSo the result is {answer}.", answer, kind),
    ]


def from_compiler(per_standard: int) -> list[tuple[str, str, str]]:
    from mathcamps.compiler.pipeline import StandardCompiler
    from mathcamps.registry import default_registry

    made = []
    for standard in default_registry():
        for problem in StandardCompiler(standard, 0).problems(per_standard):
            made += responses_for(problem.statement, problem.answer, problem.answer_kind.value)
    return made


def from_file(path: Path) -> list[tuple[str, str, str]]:
    made = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if "response" in record:
                made.append((record["response"] or "", record["gold"], record.get("answer_kind")))
            else:
                made += responses_for(record["statement"], record["answer"], record["answer_kind"])
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path)
    parser.add_argument("--per-standard", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    responses = from_file(args.path) if args.path else from_compiler(args.per_standard)
    best = float("inf")
    verdicts: Counter = Counter()
    methods: Counter = Counter()
    for _ in range(args.repeat):
        verdicts.clear()
        methods.clear()
        start = time.perf_counter()
        for response, gold, kind in responses:
            graded = grade(response, gold, kind)
            verdicts[graded.verdict.value] += 1
            methods[graded.method or "none"] += 1
        best = min(best, time.perf_counter() - start)
    print(f"{len(responses)} responses graded in {best:.3f} s (best of {args.repeat}): "
          f"{len(responses) / best:,.0f} responses/s, {1e6 * best / len(responses):.0f} µs each")
    print("verdicts: " + ", ".join(f"{n} {v}" for v, n in verdicts.most_common()))
    print("answers read from: " + ", ".join(f"{n} {m}" for m, n in methods.most_common()))


if __name__ == "__main__":
    main()
