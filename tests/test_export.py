"""Exports: MathCAMPS v1 JSON that v1 tooling and our validator read, Hugging Face datasets with the right
features and splits, and lm-evaluation-harness tasks that lm-eval accepts and that grade with our grader."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from strategies import let_programs, linear_equations
from test_release import release_of_every_standard
from typer.testing import CliRunner

from mathcamps.cli.main import app
from mathcamps.compiler.export import export_release, v1_answer, v1_problem
from mathcamps.compiler.release import ReleaseError, read_manifest
from mathcamps.files import OutputExists
from mathcamps.compiler.validate import AGREES, validate
from mathcamps.language import BinOp, Num, Program, Solve, parse_program
from mathcamps.legacy import format_legacy, legacy_form, parse_legacy
from mathcamps.records import Problem

runner = CliRunner()
V1_FIELDS = ["id", "standard", "symbolic-struct", "statement", "answer", "type", "followup_to"]


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return release_of_every_standard(tmp_path_factory)


def _records(folder: Path) -> list[Problem]:
    return [
        Problem.model_validate_json(line)
        for split in ("train", "test")
        for line in (folder / "data" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    ]


# ---------------------------------------------------------------- the v1 language


def _uses_what_v1_lacks(program: Program) -> bool:
    whole_quotient = any(isinstance(n, BinOp) and n.op == "//" for e in program.expressions() for n in _nodes(e))
    equation_backwards = any(isinstance(s, Solve) and not isinstance(s.left, Num) for s in program.statements)
    return whole_quotient or equation_backwards


def _nodes(expr):
    yield expr
    if isinstance(expr, BinOp):
        yield from _nodes(expr.left)
        yield from _nodes(expr.right)


def test_every_standards_programs_are_read_back_from_the_v1_language(release):
    standards = set()
    for record in _records(release):
        program = parse_program(record.program)
        back = parse_legacy(format_legacy(program), record.id)
        assert back == legacy_form(program), record.id
        if not _uses_what_v1_lacks(program):
            assert back == program, record.id  # the same program, not only an equivalent one
        standards.add(record.standard)
    assert standards == {s.id for s in read_manifest(release).standards}


@settings(max_examples=60, deadline=None)
@given(let_programs())
def test_any_program_of_lets_is_read_back_from_the_v1_language(program):
    assert parse_legacy(format_legacy(program)) == legacy_form(program)


@settings(max_examples=50, deadline=None)
@given(linear_equations())
def test_an_equation_is_written_with_its_number_first_as_v1_does(program):
    text = format_legacy(program)
    assert text.startswith("[[var ") and text.split(" = ", 1)[0][6:].isdigit()
    assert parse_legacy(text) == legacy_form(program)


def test_v1_writes_the_v1_shapes():
    assert format_legacy(parse_program("let c = 11 + 7\nlet n = c - 6\nask n")) == (
        "[[var c = (11 + 7)]]\n[[var n = (c - 6)]]\n[[question question = ['n']]]"
    )
    assert format_legacy(parse_program("compare 3 / 4 _ 1\n")) == "[[question question = ['(3 / 4) _ 1']]]"
    assert format_legacy(parse_program("factors 64")) == "[[question question = ['64']]]"
    assert format_legacy(parse_program("solve 2 * x + 1 = 7\nask x")) == "[[var 7 = ((2 * x) + 1)]]\n[[question question = ['x']]]"
    assert format_legacy(parse_program("let a = -3 ^ 2\nask a")) == "[[var a = ((-3) ** 2)]]\n[[question question = ['a']]]"


@pytest.mark.parametrize(
    "program, kind, answer, v1",
    [
        ("factors 6", "pairs", "(1, 6), (2, 3)", "[(1, 6), (2, 3)]"),
        ("solve 2 * x + 3 * y = 7\nsolve x - y = 1\nask x, y", "assignment", "x = 2, y = 1", "{x: 2, y: 1}"),
        ("let a = 17\nlet b = 5\nlet q = a // b\nlet r = a % b\nask q, r", "remainder", "3 R 2", "{q: 3, r: 2}"),
        ("let a = 11 / 4\nask a", "mixed", "2 3/4", "11/4"),
        ("let a = 2.5 + 0.25\nask a", "decimal", "2.75", "2.75"),
        ("compare 3 _ 7", "comparison", "<", "<"),
    ],
)
def test_answers_are_written_as_v1_writes_their_kind(program, kind, answer, v1):
    record = Problem(id="x-0", standard="x", grade="3", seed=0, index=0, program=program, statement="?",
                     answer=answer, answer_kind=kind, verdicts={"sympy": answer, "z3": "proved"},
                     render={"frame": "f", "theme": "t", "spans": []})
    assert v1_answer(record, parse_program(program)) == v1
    assert list(v1_problem(record)) == V1_FIELDS


# ---------------------------------------------------------------- exports


@pytest.fixture(scope="module")
def v1(release, tmp_path_factory) -> Path:
    return export_release(release, "mathcamps-v1", tmp_path_factory.mktemp("v1") / "v1").path


def _load_problems_as_v1_tooling_does(folder: Path) -> list[list[dict]]:
    """What MathCAMPS' evaluate.py does: every .json file of the folder is a list of problem groups."""
    groups = []
    for path in sorted(folder.iterdir()):
        if path.name.endswith(".json"):
            for group in json.loads(path.read_text(encoding="utf-8")):
                assert group[0]["standard"] == path.stem
                groups.append(group)
    return groups


def test_the_v1_export_has_the_v1_layout_and_every_answer_agrees_with_our_validator(release, v1):
    records = {r.id: r for r in _records(release)}
    seen = 0
    for split in ("train", "test"):
        for group in _load_problems_as_v1_tooling_does(v1 / split):
            original = group[0]
            assert original["type"] == "original-problem" and original["followup_to"] is None
            for problem in group:
                assert list(problem) == V1_FIELDS
                assert problem["statement"] == records[problem["id"]].statement
                seen += 1
            for followup in group[1:]:
                assert followup["followup_to"] == original["id"]
                assert followup["type"] in ("counterfactual-followup", "incremental-followup")
        verdicts = list(validate([v1 / split]))
        assert len(verdicts) == sum(read_manifest(release).counts[split].values())
        # Square roots (x ^ 2 = 64) have two rational solutions in v1's language, which cannot declare
        # x >= 0: the validator lends them their standard's declared range.
        assert [v for v in verdicts if v.verdict != AGREES] == []
    assert seen == len(records)


def test_the_v1_export_is_a_folder_our_validate_command_accepts(v1):
    result = runner.invoke(app, ["validate", str(v1 / "test")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "disagrees" in result.output and "problems read" in result.output


def test_the_hf_export_loads_with_datasets_with_the_right_features_and_splits(release, tmp_path):
    from datasets import Features, List, Value, load_dataset

    string, int64 = Value("string"), Value("int64")
    expected = Features({
        "schema_version": int64, "id": string, "standard": string, "grade": string, "kind": string,
        "parent": string, "seed": int64, "index": int64, "program": string, "statement": string,
        "answer": string, "answer_kind": string, "verdicts": {"sympy": string, "z3": string},
        "render": {"frame": string, "theme": string,
                   "spans": List({"start": int64, "end": int64, "source": string})},
    })
    manifest = read_manifest(release)
    jsonl = export_release(release, "hf", tmp_path / "hf").path
    parquet = export_release(release, "hf", tmp_path / "hf-parquet", parquet=True).path
    cache = str(tmp_path / "cache")
    loads = [
        load_dataset("json", data_files={s: str(jsonl / "data" / f"{s}.jsonl") for s in ("train", "test")}, cache_dir=cache),
        load_dataset("parquet", data_files={s: str(parquet / "data" / f"{s}.parquet") for s in ("train", "test")},
                     cache_dir=cache),
        load_dataset(str(jsonl), cache_dir=cache),  # the card's header names the splits and features
        load_dataset(str(parquet), cache_dir=cache),
    ]
    first = _records(release)[0]
    for loaded in loads:
        assert set(loaded) == {"train", "test"}
        for split in ("train", "test"):
            assert loaded[split].features == expected
            assert loaded[split].num_rows == sum(manifest.counts[split].values())
        assert loaded["train"][0] == json.loads(first.to_json())


def test_the_lm_eval_export_is_accepted_by_lm_eval_and_grades_with_our_grader(release, tmp_path, monkeypatch, capsys):
    from lm_eval.__main__ import cli_evaluate
    from lm_eval.tasks import TaskManager

    folder = export_release(release, "lm-eval", tmp_path / "tasks").path
    manifest = read_manifest(release)
    grades = sorted({s.grade for s in manifest.standards if any(s.counts["test"].values())},
                    key=lambda g: 0 if g == "K" else int(g))
    names = [f"mathcamps_grade_{g.lower()}" for g in grades]
    monkeypatch.setattr(sys, "argv", ["lm-eval", "validate", "--tasks", "mathcamps," + ",".join(names),
                                      "--include_path", str(folder)])
    cli_evaluate()  # exits 1 if a task is not found
    assert "All tasks found and valid" in capsys.readouterr().out
    manager = TaskManager(include_path=str(folder), include_defaults=False)
    loaded = manager.load(["mathcamps"])  # the group: one task per grade
    assert loaded["group_map"]["mathcamps"] == names
    tasks = loaded["tasks"]
    assert sorted(tasks, key=names.index) == names
    originals = sum(s.counts["test"]["original"] for s in manifest.standards)
    assert sum(len(list(t.test_docs())) for t in tasks.values()) == originals
    for name, task in tasks.items():
        doc = next(iter(task.test_docs()))
        assert doc["statement"] in task.doc_to_text(doc) and doc["parent"] is None
        assert task.process_results(doc, [f"Let me think.\n### Answer: {doc['answer']}"]) == {"acc": 1.0}
        assert task.process_results(doc, ["### Answer: 987654321"]) == {"acc": 0.0}


def test_an_export_refuses_a_release_that_does_not_match_its_manifest(release, tmp_path):
    broken = tmp_path / release.name
    shutil.copytree(release, broken)
    with (broken / "data" / "train.jsonl").open("ab") as data:
        data.write(b" ")
    with pytest.raises(ReleaseError, match="data/train.jsonl"):
        export_release(broken, "hf")
    assert not (tmp_path / f"{release.name}-hf").exists()
    result = runner.invoke(app, ["export", str(broken), "--format", "nonsense"])
    assert result.exit_code == 1 and "--format" in result.output and "Traceback" not in result.output


def test_an_export_is_not_overwritten_without_force(release, tmp_path):
    out = tmp_path / "hf"
    result = runner.invoke(app, ["export", str(release), "--format", "hf", "--out", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    with pytest.raises(OutputExists):
        export_release(release, "hf", out)
    assert export_release(release, "hf", out, force=True).path == out
