"""Reports and learning dynamics over synthetic results whose answers we know; the grade command; prerequisites."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mathcamps.cli.main import app
from mathcamps.evaluation.dynamics import (
    PYTHIA_TOKENS_PER_STEP,
    Checkpoint,
    Curve,
    DynamicsError,
    analyse,
    emergence,
    prerequisite_order,
    rank_correlation,
    relative_emergence,
    tokens_of,
)
from mathcamps.evaluation.report import ResultsError, read_results, report
from mathcamps.evaluation.results import Result, Verdict
from mathcamps.registry import DefinitionError, Registry

runner = CliRunner()
STEPS = [0, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 143000]
# Nine synthetic standards, one per grade, with a chain of prerequisites.
STANDARDS = [("K.OA.A.5", "K"), *((f"{g}.OA.A.1", str(g)) for g in range(1, 9))]
CHAIN = {f"{g}.OA.A.1": [STANDARDS[g - 1][0]] for g in range(1, 9)}


def result(standard, grade, verdict, model="pythia-70m", revision="step0", kind="original", index=0, parent=None):
    return Result(
        id=f"{standard}-{index}" + (f"-{kind}" if kind != "original" else ""), standard=standard, grade=grade,
        kind=kind, parent=parent, model=model, revision=revision, release="r", settings="s", answer_kind="integer",
        gold="1", verdict=verdict,
    )


def sweep(model, emerges_at, steps=STEPS, per_point=10):
    """Results of every checkpoint: standard s answers 90% right from checkpoint emerges_at[s] on, 10% before
    (never, when emerges_at[s] is None)."""
    results = []
    for standard, grade in STANDARDS:
        for i, step in enumerate(steps):
            start = emerges_at[standard]
            right = 9 if start is not None and i >= start else 1
            for k in range(per_point):
                verdict = Verdict.correct if k < right else Verdict.wrong
                results.append(result(standard, grade, verdict, model, f"step{step}", index=k))
    return results


IN_GRADE_ORDER = {s: i for i, (s, _) in enumerate(STANDARDS)}
REVERSED = {s: 8 - i for i, (s, _) in enumerate(STANDARDS)}


# ---------------------------------------------------------------- tokens of a revision

@pytest.mark.parametrize(
    "model, revision, per_step, tokens",
    [
        ("EleutherAI/pythia-160m", "step1000", None, 1000 * PYTHIA_TOKENS_PER_STEP),
        ("EleutherAI/pythia-160m", "step0", None, 0),
        ("allenai/OLMo-1B", "step1000-tokens4B", None, 4 * 10**9),
        ("allenai/OLMo-2-1124-7B", "stage1-step5000-tokens21M", None, 21 * 10**6),
        ("allenai/OLMo-7B", "step557000-tokens2.5T", None, 2_500_000_000_000),
        ("my/model", "step10", 1000, 10_000),
        ("EleutherAI/pythia-160m", "step10", 7, 70),  # an explicit per-step count wins
    ],
)
def test_training_tokens_are_read_from_the_revision(model, revision, per_step, tokens):
    assert tokens_of(model, revision, per_step) == tokens


@pytest.mark.parametrize("model, revision, hint", [
    ("my/model", "step10", "--tokens-per-step"),
    ("EleutherAI/pythia-160m", "main", "'main'"),
    ("EleutherAI/pythia-160m", None, "None"),
])
def test_a_revision_without_tokens_is_refused_by_name(model, revision, hint):
    with pytest.raises(DynamicsError, match=hint):
        tokens_of(model, revision)


# ---------------------------------------------------------------- emergence

def curve(*accuracies):
    return Curve("s", "1", [Checkpoint(f"step{i}", i, a, 10) for i, a in enumerate(accuracies)])


def test_emergence_is_the_first_checkpoint_after_which_accuracy_stays_above():
    assert emergence(curve(0.1, 0.6, 0.4, 0.7, 0.8), 0.5).tokens == 3
    assert emergence(curve(0.6, 0.7), 0.5).tokens == 0
    assert emergence(curve(0.5, 0.5), 0.5).tokens == 0  # at the threshold counts
    assert emergence(curve(0.1, 0.9, 0.4), 0.5) is None  # fell back at the end: never
    assert relative_emergence(curve(0.1, 0.2, 0.3, 0.4), 0.8).tokens == 3  # 0.8 x 0.4 = 0.32
    assert relative_emergence(curve(0.1, 0.35, 0.3, 0.4), 0.8).tokens == 3
    assert relative_emergence(curve(0.1, 0.35, 0.33, 0.4), 0.8).tokens == 1
    assert relative_emergence(curve(0.3, 0.0), 0.8) is None  # final accuracy 0: never


def test_grade_ordered_emergence_correlates_positively_with_small_p():
    dynamics = analyse(sweep("pythia-70m", IN_GRADE_ORDER), permutations=2000)
    (model,) = dynamics.models
    for measure in ("absolute", "relative"):
        c = model.correlations[measure]
        assert c.n == 9 and c.rho > 0.9 and c.tau > 0.9
        assert c.rho_p < 0.01 and c.tau_p < 0.01
    tokens = model.emerged("absolute")
    assert tokens["K.OA.A.5"] == 0 and tokens["8.OA.A.1"] == 143000 * PYTHIA_TOKENS_PER_STEP


def test_reversed_emergence_correlates_negatively():
    (model,) = analyse(sweep("pythia-70m", REVERSED), permutations=2000).models
    assert model.correlations["absolute"].rho < -0.9 and model.correlations["absolute"].rho_p < 0.01


def test_a_skill_that_never_reaches_the_threshold_is_listed_apart():
    order = dict(IN_GRADE_ORDER, **{"3.OA.A.1": None})
    (model,) = analyse(sweep("pythia-70m", order), permutations=100).models
    assert model.never("absolute") == ["3.OA.A.1"]
    assert model.emergences["3.OA.A.1"].absolute is None
    assert model.correlations["absolute"].n == 8
    # 10% all along: the relative measure finds it "emerged" at the start (it keeps 80% of its final)
    assert model.emergences["3.OA.A.1"].relative.tokens == 0


def test_a_higher_absolute_threshold_can_leave_every_skill_unemerged():
    (model,) = analyse(sweep("pythia-70m", IN_GRADE_ORDER), threshold=0.95, permutations=10).models
    assert len(model.never("absolute")) == 9 and model.correlations["absolute"].rho is None


def test_permutation_p_values_are_seeded():
    grades, tokens = [0, 1, 1, 2, 3, 3, 4, 5], [5, 1, 7, 3, 8, 2, 9, 6]
    first, again = rank_correlation(grades, tokens, 500, seed=3), rank_correlation(grades, tokens, 500, seed=3)
    assert first == again and 0 < first.rho_p <= 1 and 0 < first.tau_p <= 1
    assert rank_correlation(grades, tokens, 500, seed=4).rho == first.rho
    assert rank_correlation([1, 2], [3, 4]).rho is None


def test_models_agree_on_emergence_order_and_prerequisites_come_first():
    results = sweep("pythia-70m", IN_GRADE_ORDER) + sweep("pythia-160m", IN_GRADE_ORDER) + sweep(
        "pythia-410m", REVERSED
    )
    dynamics = analyse(results, prerequisites=CHAIN, permutations=10)
    agreement = {(a.first, a.second): a for a in dynamics.agreements if a.measure == "absolute"}
    assert agreement[("pythia-70m", "pythia-160m")].rho == pytest.approx(1.0)
    assert agreement[("pythia-70m", "pythia-410m")].rho == pytest.approx(-1.0)
    assert agreement[("pythia-70m", "pythia-160m")].n == 9
    forward, backward = dynamics.models[0].prerequisites["absolute"], dynamics.models[2].prerequisites["absolute"]
    assert (forward.before, forward.tie, forward.after) == (8, 0, 0)
    assert (backward.before, backward.tie, backward.after) == (0, 0, 8)


def test_prerequisite_order_counts_ties_and_never_apart():
    emerged = {"a": 1, "b": 1, "c": 5, "d": None, "e": None, "f": 2}
    prerequisites = {"b": ["a"], "c": ["a"], "d": ["a"], "e": ["d"], "f": ["d"], "a": ["missing"]}
    order = prerequisite_order(emerged, prerequisites)
    assert (order.before, order.tie, order.after, order.neither) == (2, 1, 1, 1)
    assert ("a", "b", "tie") in order.pairs and ("d", "f", "after") in order.pairs


def test_two_revisions_at_the_same_tokens_are_refused():
    results = [result("K.OA.A.5", "K", Verdict.correct, revision="step1000"),
               result("K.OA.A.5", "K", Verdict.correct, revision="step1000-tokens2097152000")]
    with pytest.raises(DynamicsError, match="both at"):
        analyse(results)


# ---------------------------------------------------------------- reports

def test_report_counts_per_standard_grade_and_kind_and_followups_given_a_right_original():
    results = [
        result("1.OA.A.1", "1", Verdict.correct, index=0),
        result("1.OA.A.1", "1", Verdict.correct, kind="counterfactual", index=0, parent="1.OA.A.1-0"),
        result("1.OA.A.1", "1", Verdict.wrong, index=1),
        result("1.OA.A.1", "1", Verdict.not_asked, kind="counterfactual", index=1, parent="1.OA.A.1-1"),
        result("2.OA.A.1", "2", Verdict.correct, index=2),
        result("2.OA.A.1", "2", Verdict.wrong, kind="counterfactual", index=2, parent="2.OA.A.1-2"),
        result("2.OA.A.1", "2", Verdict.no_answer, index=3),
        result("2.OA.A.1", "2", Verdict.correct, model="other", index=3),
    ]
    first, other = report(results)
    assert (first.model, other.model) == ("pythia-70m", "other")
    assert (first.overall.correct, first.overall.asked, first.not_asked) == (3, 6, 1)
    assert first.by_standard["1.OA.A.1"].rate == pytest.approx(2 / 3)
    assert first.by_grade["2"].correct == 1 and first.by_grade["2"].asked == 3
    assert first.by_kind["original"].rate == pytest.approx(2 / 4)
    assert first.by_kind["counterfactual"].asked == 2
    given = first.followups_given_correct["counterfactual"]
    assert (given.correct, given.asked) == (1, 2)
    assert other.overall.rate == 1.0


def test_a_bad_results_line_names_file_line_and_field(tmp_path):
    path = tmp_path / "results.jsonl"
    good = result("1.OA.A.1", "1", Verdict.correct).to_json()
    bad = json.loads(good)
    del bad["gold"]
    path.write_text(good + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(ResultsError, match=r"results\.jsonl:2: .*gold: Field required"):
        read_results([path])


def test_report_command_writes_tables_json_and_a_heat_map(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text("".join(r.to_json() + "\n" for r in sweep("pythia-70m", IN_GRADE_ORDER, steps=[0, 1000])))
    out, plot = tmp_path / "report.json", tmp_path / "heat.png"
    done = runner.invoke(app, ["eval", "report", str(path), "--json", str(out), "--plot", str(plot)])
    assert done.exit_code == 0, done.output
    assert "accuracy per standard" in done.output and "pythia-70m@step1000" in done.output
    runs = json.loads(out.read_text())
    assert [r["revision"] for r in runs] == ["step0", "step1000"]
    assert runs[1]["by_standard"]["1.OA.A.1"]["accuracy"] == 0.9
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dynamics_command_writes_json_and_plots(tmp_path):
    path = tmp_path / "sweep.jsonl"
    path.write_text("".join(r.to_json() + "\n" for r in sweep("pythia-70m", IN_GRADE_ORDER)))
    out, plot = tmp_path / "dynamics.json", tmp_path / "dynamics.png"
    done = runner.invoke(app, ["dynamics", str(path), "--json", str(out), "--plot", str(plot), "--permutations", "200",
                               "--threshold", "0.6", "--relative", "0.9"])
    assert done.exit_code == 0, done.output
    figures = json.loads(out.read_text())
    (model,) = figures["models"]
    assert figures["threshold"] == 0.6 and model["correlation"]["absolute"]["rho"] > 0.9
    assert model["emergence"]["2.OA.A.1"]["absolute"]["revision"] == "step2000"
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_dynamics_command_names_a_revision_without_tokens(tmp_path):
    path = tmp_path / "sweep.jsonl"
    path.write_text(result("1.OA.A.1", "1", Verdict.correct, model="my/model", revision="main").to_json() + "\n")
    done = runner.invoke(app, ["dynamics", str(path)])
    assert done.exit_code == 1 and "'main'" in done.output and "Traceback" not in done.output


# ---------------------------------------------------------------- the grade command

def test_grade_command_adds_extracted_answers_and_verdicts(tmp_path):
    path = tmp_path / "responses.jsonl"
    lines = [
        {"id": "a", "gold": "12", "response": "So 5 + 7 = 12.\n### Answer: 12", "standard": "1.OA.A.1"},
        {"id": "b", "gold": "[(1, 6), (2, 3)]", "response": "### Answer: (1, 6), (2, 3), (3, 2)"},
        {"id": "c", "gold": "x = 3, y = 4", "answer_kind": "assignment", "response": "### Answer: x = 4, y = 3"},
        {"id": "d", "gold": "7 R 3", "response": None},
        {"id": "e", "gold": "5", "response": None, "verdict": "not-asked"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    done = runner.invoke(app, ["eval", "grade", str(path)])
    assert done.exit_code == 0, done.output
    graded = [json.loads(line) for line in (tmp_path / "responses.graded.jsonl").read_text().splitlines()]
    assert [g["verdict"] for g in graded] == ["correct", "correct", "wrong", "no-answer", "not-asked"]
    assert graded[0]["extracted"] == "12" and graded[0]["standard"] == "1.OA.A.1"
    assert "wrote 5 graded lines" in done.output
    again = runner.invoke(app, ["eval", "grade", str(path)])
    assert again.exit_code == 1 and "--force" in again.output


def test_a_graded_results_file_is_still_a_results_file(tmp_path):
    path = tmp_path / "results.jsonl"
    original = result("1.OA.A.1", "1", Verdict.wrong).model_copy(update={"response": "### Answer: 1"})
    path.write_text(original.to_json() + "\n")
    out = tmp_path / "regraded.jsonl"
    assert runner.invoke(app, ["eval", "grade", str(path), "--out", str(out)]).exit_code == 0
    (regraded,) = read_results([out])
    assert regraded.verdict is Verdict.correct and regraded.extracted == "1"


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"gold": "12"}', r"responses\.jsonl:2: field `response` is missing"),
        ('{"response": "12"}', r"responses\.jsonl:2: field `gold` is missing"),
        ('{"gold": 12, "response": "12"}', r"responses\.jsonl:2: field `gold` must be a string"),
        ('{"gold": "twelve apples", "response": "12"}', r"responses\.jsonl:2: field `gold`: "),
        ('{"gold": "12", "response": ', r"responses\.jsonl:2: not valid JSON"),
        ("[1, 2]", r"responses\.jsonl:2: expected a JSON object"),
    ],
)
def test_a_bad_responses_line_names_file_line_and_field_and_writes_nothing(tmp_path, line, message):
    import re

    path = tmp_path / "responses.jsonl"
    path.write_text('{"gold": "1", "response": "1"}\n' + line + "\n")
    done = runner.invoke(app, ["eval", "grade", str(path)])
    assert done.exit_code == 1 and re.search(message, " ".join(done.output.split())), done.output
    assert "Traceback" not in done.output
    assert [p.name for p in tmp_path.iterdir()] == ["responses.jsonl"]


# ---------------------------------------------------------------- prerequisites

def test_prerequisites_form_no_cycle_and_never_come_from_a_later_grade(registry):
    grade = {s.id: (0 if s.grade == "K" else int(s.grade)) for s in registry}
    needs = {s.id: list(s.definition.prerequisites) for s in registry}
    for standard, prerequisites in needs.items():
        for prerequisite in prerequisites:
            assert grade[prerequisite] <= grade[standard], (prerequisite, standard)
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(standard: str) -> None:
        assert standard not in visiting, f"a cycle of prerequisites through {standard}"
        if standard in done:
            return
        visiting.add(standard)
        for prerequisite in needs[standard]:
            visit(prerequisite)
        visiting.discard(standard)
        done.add(standard)

    for standard in needs:
        visit(standard)
    assert sum(map(len, needs.values())) >= 40  # every standard past kindergarten builds on something


def test_an_unknown_prerequisite_names_the_file_and_the_id(registry):
    from mathcamps.registry import Standard

    standard = registry.get("1.OA.A.1")
    definition = standard.definition.model_copy(update={"prerequisites": ["K.OA.A.9"]})
    with pytest.raises(DefinitionError, match=r"1\.OA\.A\.1\.yaml: prerequisites: K\.OA\.A\.9 is not a registered"):
        Registry([Standard(definition, standard.definition_path, standard.grammar_path)])
