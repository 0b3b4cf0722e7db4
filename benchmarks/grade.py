"""Benchmark: model responses graded per second on one core (answer extraction and comparison).

    python benchmarks/grade.py [PATH] [--per-standard 20] [--repeat 3] [--pathological-size 1000000]

Responses are made from problems: compiled in-process from every built-in standard (the default),
or read from PATH, a JSONL of problems (`answer`, `answer_kind`, `statement`) or of responses
(`gold`, `response`). Each problem gets four responses: a short right answer after the marker, a
wrong one (a near miss), a wordy one that reasons over the statement's numbers and boxes the
answer in LaTeX, and one with no marker nor box (the fallback). Prints responses/s and the verdicts.

Then the pathological responses: a run of one character (each printable ASCII character, and the
unicode dashes, minus, fractions and symbols the grader reads), or of a short unit such as "1,",
"( " or "### Answer: ", filled up to the given size (1 MB by default), with and without a final
"8", each graded against a gold of every kind. A grader whose time grows faster than the length
shows here; it prints the slowest inputs and the worst time per response.
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


UNICODE = "−–—‐‑‒―﹣－½¼×÷·≤≥≠≈→⇒  "
UNITS = ["1,", "0.", "1/", "1 ", "-1", "x=", "x = ", "a ", "( ", "(1", "(1, ", "[1", "{", "\\{", "R ", "1 R ",
         "or ", "not ", "is ", "- ", "= ", "==", "=>", "->", "<-", "\\boxed{", "\\frac{", "\\frac{1}{", "\\text{",
         "### Answer: ", "## answer", "$1", "1%", "1 1/", "one ", "one and ", "negative ", "quotient 1 ",
         "remainder 1 ", "greater than ", "1e", "1^", "1 ×", "x 1", "(x, y) = (", "1 2/"]
GOLDS = [("8", "integer"), ("1/3", "fraction"), (">", "comparison"), ("x = 8", "assignment"),
         ("x = 8, y = 2", "assignment"), ("8 R 1", "remainder"), ("(1, 8), (2, 4)", "pairs")]


def pathological(size: int) -> list[tuple[str, str, str]]:
    """(name, response) pairs: runs of one character or unit, filled to `size` characters."""
    units = [chr(c) for c in range(32, 127)] + ["\n", "\t"] + list(UNICODE) + UNITS
    made = []
    for unit in units:
        run = unit * max(1, size // len(unit))
        made += [(repr(unit), run), (repr(unit) + " + '8'", run + "8")]
    return made


def worst_cases(size: int, shown: int = 12) -> None:
    timings = []
    for name, response in pathological(size):
        for gold, kind in GOLDS:
            start = time.perf_counter()
            grade(response, gold, kind)
            timings.append((time.perf_counter() - start, name, gold))
    timings.sort(reverse=True)
    total = sum(t for t, _, _ in timings)
    print(f"\npathological responses of {size:,} characters: {len(timings):,} gradings, "
          f"{1e6 * total / len(timings):,.0f} µs each on average")
    for seconds, name, gold in timings[:shown]:
        print(f"  {1e6 * seconds:>12,.0f} µs  {name} against {gold!r}")
    print(f"worst case: {1e6 * timings[0][0]:,.0f} µs per response ({1e6 * timings[0][0] / size * 1000:,.1f} µs per KB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path)
    parser.add_argument("--per-standard", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pathological-size", type=int, default=1_000_000,
                        help="characters of each pathological response (0: none)")
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
    if args.pathological_size:
        worst_cases(args.pathological_size)


if __name__ == "__main__":
    main()
