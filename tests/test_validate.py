"""`mathcamps validate`: published MathCAMPS v1 answers, our own releases, corrupted and broken input.

The MathCAMPS v1 sample in fixtures/ (MIT, see its README) is the first five problem groups of
each of the 49 per-standard files and the matching entries of the flat file.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mathcamps.answers import Rounded, answer_agrees, read_answer
from mathcamps.cli.main import app
from mathcamps.compiler.validate import AGREES, DISAGREES, UNPARSEABLE, UNPROVED, run, validate
from mathcamps.legacy import parse_legacy
from mathcamps.language import Num, format_program, parse_program
from mathcamps.solvers.exact import solve

SAMPLE = Path(__file__).parent / "fixtures" / "mathcamps-v1"


def _verdicts(*paths, workers=1):
    return list(validate([Path(p) for p in paths], workers))


def test_every_published_problem_of_the_sample_is_read_and_agrees():
    verdicts = _verdicts(SAMPLE)
    flat = json.loads((SAMPLE / "mathcamps.json").read_text())
    assert [v.id for v in verdicts] == [p["id"] for p in flat]
    assert Counter(v.verdict for v in verdicts) == {AGREES: len(flat)}
    kinds = Counter(v.kind for v in verdicts)
    assert kinds["original"] == 49 * 5 and kinds["incremental"] + kinds["counterfactual"] == len(flat) - 245


def test_the_legacy_language_reads_into_the_core_ast():
    cases = {
        "[[var 14 = (13 + t)]]\n[[question h = ['t']]]\ntheme: Chair": "solve 14 = 13 + t\nask t",
        "[[question w = ['(1 / 8) _ (4 / 1)']]]\nmath concept: Compare two fractions.": "compare 1 / 8 _ 4 / 1",
        "[[question r = ['64']]]": "factors 64",
        "[[var g = 3]]\n[[question f = ['(g + 4)']]]": "let g = 3\nlet answer = g + 4\nask answer",
        "[[var a = (2 ** 3)]]\n[[var b = (996 % 319)]]\n[[question c = ['a', 'b']]]": "let a = 2 ^ 3\nlet b = 996 % 319\nask a, b",
    }
    for struct, program in cases.items():
        assert format_program(parse_legacy(struct)) == program


def _corrupt(answer: str, rng: random.Random) -> str:
    """A wrong answer of the same kind as the stored one."""
    value = read_answer(answer)
    if isinstance(value, str):
        return {"<": ">", ">": "=", "=": "<"}[value]
    if isinstance(value, tuple):
        return str(list(value[:-1]) if len(value) > 1 else [(1, value[0][1] + 1)])
    if isinstance(value, dict):
        name = sorted(value)[0]
        return "{" + ", ".join(f"{k}: {v + 1 if k == name else v}" for k, v in value.items()) + "}"
    if isinstance(value, Rounded):
        return str(float(answer) + rng.choice((-1, 1)) * rng.randint(1, 9))
    return str(value + rng.choice((-1, 1)) * rng.randint(1, 9))


def test_corrupted_published_answers_are_flagged_exactly(tmp_path):
    """Change a few hundred stored answers at random (seeded): exactly those disagree."""
    rng = random.Random(2024)
    folder = tmp_path / "v1"
    folder.mkdir()
    corrupted: set[str] = set()
    flat = json.loads((SAMPLE / "mathcamps.json").read_text())
    for problem in flat:
        if rng.random() < 0.5:
            problem["answer"] = _corrupt(problem["answer"], rng)
            corrupted.add(problem["id"])
    (folder / "mathcamps.json").write_text(json.dumps(flat))
    for path in SAMPLE.glob("*.json"):
        if path.name != "mathcamps.json":
            (folder / path.name).write_text(path.read_text())
    assert len(corrupted) >= 200
    verdicts = _verdicts(folder)
    assert {v.id for v in verdicts if v.verdict != AGREES} == corrupted
    assert all(v.verdict == DISAGREES and "stored" in v.reason for v in verdicts if v.id in corrupted)


def test_the_per_standard_files_validate_alone_and_the_flat_file_needs_its_folder(tmp_path):
    verdicts = _verdicts(SAMPLE / "4.OA.B.4.json", SAMPLE / "8.EE.C.8.json")
    assert len(verdicts) == 10 and {v.verdict for v in verdicts} == {AGREES}
    flat_only = tmp_path / "mathcamps.json"
    flat_only.write_text((SAMPLE / "mathcamps.json").read_text())
    alone = _verdicts(flat_only)
    assert {v.verdict for v in alone} == {UNPARSEABLE} and "give the folder" in alone[0].reason


def test_the_same_verdicts_for_any_number_of_workers():
    one = _verdicts(SAMPLE, workers=1)
    three = list(validate([SAMPLE], workers=3, batch=37))
    assert one == three


def test_every_problem_the_compiler_makes_validates(compiled, tmp_path):
    path = tmp_path / "problems.jsonl"
    with path.open("w") as out:
        for problems, _ in compiled.values():
            for problem in problems:
                out.write(problem.to_json() + "\n")
    summary = run([path], workers=2)
    assert summary.all_agree and sum(summary.total().values()) == sum(len(p) for p, _ in compiled.values())


def _our_lines(compiled, count=6) -> list[dict]:
    problems, _ = compiled["3.OA.A.4"]
    return [json.loads(p.to_json()) for p in problems if p.parent is None][:count]


def test_broken_input_is_reported_by_place_and_the_rest_still_validated(compiled, tmp_path):
    records = _our_lines(compiled)
    records[1]["answer"] = str(int(records[1]["answer"]) + 1)  # a wrong answer
    records[2]["standard"] = "9.XX.A.1"  # an unknown standard
    del records[3]["statement"]  # a missing field
    records[4]["program"] = "let a = 3 +\nask a"  # an unparseable program
    lines = [json.dumps(r) for r in records]
    lines.insert(5, '{"id": "broken", "program": ')  # a broken line
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    truncated = tmp_path / "truncated.json"
    truncated.write_text((SAMPLE / "2.OA.A.1.json").read_text()[:-40])
    verdicts = _verdicts(path, truncated)
    by_id = {v.id: v for v in verdicts}
    assert by_id[records[0]["id"]].verdict == AGREES and by_id[records[5]["id"]].verdict == AGREES
    assert by_id[records[1]["id"]].verdict == DISAGREES
    assert by_id[records[2]["id"]].verdict == UNPARSEABLE and "unknown standard" in by_id[records[2]["id"]].reason
    assert by_id[records[3]["id"]].verdict == UNPARSEABLE and "statement" in by_id[records[3]["id"]].reason
    assert by_id[records[4]["id"]].verdict == UNPARSEABLE and ":1:" in by_id[records[4]["id"]].reason
    assert by_id["mixed.jsonl:6"].verdict == UNPARSEABLE and by_id["mixed.jsonl:6"].source.endswith("mixed.jsonl:6")
    truncation = [v for v in verdicts if v.source == str(truncated)]
    assert len(truncation) == 1 and "truncated" in truncation[0].reason
    assert sum(1 for v in verdicts if v.source.startswith(str(truncated)) and v.verdict == AGREES) == 4  # of 5


def test_a_statement_that_misstates_its_program_disagrees(compiled, tmp_path):
    record = _our_lines(compiled, 1)[0]
    span = next(s for s in record["render"]["spans"] if s["source"] == "literal 0")
    statement = record["statement"]
    record["statement"] = statement[: span["start"]] + "7" * (span["end"] - span["start"]) + statement[span["end"] :]
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(record) + "\n")
    (verdict,) = _verdicts(path)
    assert verdict.verdict == DISAGREES and verdict.reason.startswith("statement")


def test_a_followup_is_checked_in_the_context_of_its_parent(compiled, tmp_path):
    problems, _ = compiled["2.OA.A.1"]
    parent = next(p for p in problems if p.parent is None and any(q.parent == p.id for q in problems))
    followup = json.loads(next(q for q in problems if q.parent == parent.id).to_json())
    path = tmp_path / "pair.jsonl"
    path.write_text(parent.to_json() + "\n" + json.dumps(followup) + "\n")
    assert [v.verdict for v in _verdicts(path)] == [AGREES, AGREES]
    path.write_text(json.dumps(followup) + "\n")  # without its parent
    (alone,) = _verdicts(path)
    assert alone.verdict == UNPARSEABLE and "does not come before it" in alone.reason
    # A follow-up that changes two quantities of its parent is no counterfactual.
    before = [n.value for n in parse_program(parent.program).literals()]
    after = parse_program(followup["program"])
    changed = next(i for i, n in enumerate(after.literals()) if n.value != before[i])
    other = next(i for i in range(len(before)) if i != changed)
    twice = after.map_literals(lambda k, node: Num(node.value + 1) if k == other else node)
    path.write_text(parent.to_json() + "\n" + json.dumps(followup | {"program": format_program(twice)}) + "\n")
    verdicts = _verdicts(path)
    assert verdicts[0].verdict == AGREES and verdicts[1].verdict != AGREES


def test_an_incremental_followup_must_keep_its_parent_and_say_its_step(compiled, tmp_path):
    problems, _ = compiled["2.NBT.B.7"]
    followup = next(q for q in problems if q.kind.value == "incremental")
    parent = next(p for p in problems if p.id == followup.parent)
    record = json.loads(followup.to_json())
    path = tmp_path / "pair.jsonl"

    def verdict_of(changed: dict):
        path.write_text(parent.to_json() + "\n" + json.dumps(record | changed) + "\n")
        first, second = _verdicts(path)
        assert first.verdict == AGREES
        return second

    assert verdict_of({}).verdict == AGREES
    # The step's number misstated in the text.
    span = next(s for s in record["render"]["spans"] if s["source"] == f"literal {len(parse_program(parent.program).literals())}")
    statement = record["statement"]
    said = statement[span["start"] : span["end"]]
    digit = "8" if said.startswith("7") else "7"
    wrong = statement[: span["start"]] + digit * len(said) + statement[span["end"] :]
    told = verdict_of({"statement": wrong})
    assert told.verdict == DISAGREES and told.reason.startswith("statement")
    # A parent quantity changed on the way: not the same story going on.
    program = parse_program(record["program"])
    moved = program.map_literals(lambda k, node: Num(node.value + 1) if k == 0 else node)
    answer = str(solve(moved).answer(moved.question))  # so that only the context is wrong
    kept = verdict_of({"program": format_program(moved), "answer": answer})
    assert kept.verdict != AGREES and "keeps every statement" in kept.reason


def test_an_equation_with_several_solutions_is_unproved_unless_its_standard_declares_where_they_live(tmp_path):
    path = tmp_path / "v1.json"

    def verdict_for(standard: str):
        struct = "[[var 49 = (x ** 2)]]\n[[question q = ['x']]]"
        path.write_text(json.dumps([[{"id": "x-0", "standard": standard, "symbolic-struct": struct, "answer": "7"}]]))
        (verdict,) = _verdicts(path)
        return verdict

    assert verdict_for("8.XX.A.9").verdict == UNPROVED  # 7 and -7
    assert verdict_for("8.EE.A.2").verdict == AGREES  # ours: its values are whole, so 7 alone


@pytest.mark.parametrize(
    "stored, value, agrees",
    [
        ("1.03448275862069", (30, 29), True),
        ("1.03448275862068", (30, 29), False),
        ("26.3000000000000", (263, 10), True),
        ("27.9965957446808", (32896, 1175), True),  # the nearest double, printed
        ("27.9965957446810", (32896, 1175), False),
        ("2 3/4", (11, 4), True),
        ("11/4", (11, 4), True),
    ],
)
def test_a_printed_float_stands_for_the_rational_it_rounds(stored, value, agrees):
    from fractions import Fraction

    assert answer_agrees(Fraction(*value), read_answer(stored)) is agrees


def test_the_command_writes_a_report_and_exits_by_verdict(tmp_path):
    runner = CliRunner()
    report = tmp_path / "report.json"
    result = runner.invoke(app, ["validate", str(SAMPLE / "4.NF.A.2.json"), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert {v["verdict"] for v in json.loads(report.read_text())} == {AGREES}
    broken = tmp_path / "broken.jsonl"
    broken.write_text("not json\n")
    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 1 and "unparseable" in result.output
    result = runner.invoke(app, ["validate", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 1 and "no such file" in result.output
