"""`eval compare`: two runs on the same problems, per standard, with exactly the deltas the files hold."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from mathcamps.cli.main import app
from mathcamps.evaluation.compare import ComparisonError, compare, holm
from mathcamps.evaluation.results import Result, Verdict

runner = CliRunner()
RELEASE = "ab" * 32
GRADES = {"K.CC.C.7": "K", "1.OA.A.1": "1", "3.OA.A.3": "3"}


def _result(model: str, standard: str, i: int, verdict: Verdict, kind: str = "original", release: str = RELEASE) -> Result:
    return Result(
        id=f"{standard}-{i}" if kind == "original" else f"{standard}-{i}-{kind}", standard=standard,
        grade=GRADES[standard], kind=kind, parent=None if kind == "original" else f"{standard}-{i}", model=model,
        release=release, settings="s", answer_kind="integer", gold="1", verdict=verdict,
    )


def _run(model: str, right: dict[str, set[int]], sizes: dict[str, int], release: str = RELEASE) -> list[Result]:
    """`sizes[s]` originals of each standard, right where `right[s]` says, wrong elsewhere."""
    results = []
    for standard, size in sizes.items():
        for i in range(size):
            results.append(_result(model, standard, i, Verdict.correct if i in right[standard] else Verdict.wrong,
                                   release=release))
    return results


SIZES = {"K.CC.C.7": 10, "1.OA.A.1": 20, "3.OA.A.3": 12}
A_RIGHT = {"K.CC.C.7": set(range(6)), "1.OA.A.1": set(range(5)), "3.OA.A.3": set(range(10))}
B_RIGHT = {"K.CC.C.7": set(range(6)), "1.OA.A.1": set(range(15)), "3.OA.A.3": set(range(2))}


def _pair():
    a, b = _run("base", A_RIGHT, SIZES), _run("tuned", B_RIGHT, SIZES)
    # a follow-up B was asked but A was not (its original was wrong in A): in neither's pairs
    a.append(_result("base", "1.OA.A.1", 7, Verdict.not_asked, kind="incremental"))
    b.append(_result("tuned", "1.OA.A.1", 7, Verdict.correct, kind="incremental"))
    return a, b


def test_the_comparison_reports_exactly_the_deltas_and_exact_tests_of_the_files():
    comparison = compare(*_pair(), "base", "tuned")
    rows = {r.standard: r for r in comparison.standards}
    assert list(rows) == ["K.CC.C.7", "1.OA.A.1", "3.OA.A.3"]  # curriculum order
    one, three, kinder = rows["1.OA.A.1"], rows["3.OA.A.3"], rows["K.CC.C.7"]
    assert (one.paired.problems, one.paired.accuracy_a, one.paired.accuracy_b) == (20, 0.25, 0.75)
    assert (one.paired.gained, one.paired.lost, one.paired.delta) == (10, 0, 0.5)
    assert (three.paired.gained, three.paired.lost) == (0, 8) and three.paired.delta == pytest.approx(-8 / 12)
    assert (kinder.paired.delta, kinder.low, kinder.high, kinder.p) == (0, 0, 0, 1)
    # exact McNemar: all 10 (or 8) discordant pairs one way, two-sided
    assert one.p == pytest.approx(2 * 0.5**10) and three.p == pytest.approx(2 * 0.5**8)
    # Holm over 3 standards: the smallest p times 3, the next times 2, the last times 1
    assert one.p_holm == pytest.approx(3 * 2 * 0.5**10) and three.p_holm == pytest.approx(2 * 2 * 0.5**8)
    assert kinder.p_holm == 1
    assert 0 < one.low <= 0.5 <= one.high <= 1 and -1 <= three.low <= -8 / 12 <= three.high < 0
    assert [r.standard for r in comparison.gains] == ["1.OA.A.1"]
    assert [r.standard for r in comparison.losses] == ["3.OA.A.3"]
    assert comparison.overall.paired.problems == 42 and comparison.overall.paired.delta == pytest.approx(2 / 42)
    again = compare(*_pair(), "base", "tuned")
    assert (again.overall.low, again.overall.high) == (comparison.overall.low, comparison.overall.high)


def test_runs_over_another_release_or_other_problems_are_refused():
    a, b = _pair()
    other = _run("tuned", B_RIGHT, SIZES, release="cd" * 32)
    with pytest.raises(ComparisonError, match="same release"):
        compare(a, other, "base", "tuned")
    with pytest.raises(ComparisonError, match=r"1 only in tuned \(e.g. 1.OA.A.1-7-incremental\)"):
        compare(a[:-1], b, "base", "tuned")


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=30))
def test_holm_never_lowers_a_p_value_caps_it_at_1_and_keeps_the_order_of_the_p_values(pvalues):
    adjusted = holm(pvalues)
    assert all(p <= q <= 1 for p, q in zip(pvalues, adjusted))
    ranked = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    assert all(adjusted[i] <= adjusted[j] for i, j in zip(ranked, ranked[1:]))
    assert adjusted[ranked[0]] == min(1.0, len(pvalues) * pvalues[ranked[0]])


def _write(path, results) -> None:
    path.write_text("".join(r.to_json() + "\n" for r in results))


def test_eval_compare_prints_the_gains_and_losses_and_writes_json_and_a_figure(tmp_path):
    a, b = _pair()
    _write(tmp_path / "a.jsonl", a)
    _write(tmp_path / "b.jsonl", b)
    out = runner.invoke(app, ["eval", "compare", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"),
                              "--json", str(tmp_path / "c.json"), "--plot", str(tmp_path / "c.png")],
                        env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "gains (Holm-corrected p < 0.05): 1.OA.A.1 (+50.0)" in out.output
    assert "losses (Holm-corrected p < 0.05): 3.OA.A.3 (-66.7)" in out.output
    document = json.loads((tmp_path / "c.json").read_text())
    assert document["gains"] == ["1.OA.A.1"] and document["losses"] == ["3.OA.A.3"] and document["release"] == RELEASE
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")


def test_eval_compare_refuses_files_over_different_problems_in_one_paragraph(tmp_path):
    a, _ = _pair()
    _write(tmp_path / "a.jsonl", a)
    _write(tmp_path / "b.jsonl", _run("tuned", B_RIGHT, SIZES, release="cd" * 32))
    out = runner.invoke(app, ["eval", "compare", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")],
                        env={"COLUMNS": "200"})
    assert out.exit_code == 1
    assert "error:" in out.output and "same release" in out.output and "Traceback" not in out.output
    _write(tmp_path / "both.jsonl", a + _run("tuned", B_RIGHT, SIZES))
    out = runner.invoke(app, ["eval", "compare", str(tmp_path / "both.jsonl"), str(tmp_path / "both.jsonl")],
                        env={"COLUMNS": "200"})
    assert out.exit_code == 1 and "holds 2 runs (base, tuned)" in out.output
    out = runner.invoke(app, ["eval", "compare", str(tmp_path / "both.jsonl"), str(tmp_path / "both.jsonl"),
                              "--run-a", "base", "--run-b", "tuned"], env={"COLUMNS": "200"})
    assert out.exit_code == 1 and "different problems" in out.output  # the follow-up only A's run has
