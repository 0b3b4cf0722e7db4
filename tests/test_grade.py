"""The grader: strict, exact, one answer model; each rule both ways (a right form, a near miss)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mathcamps.answers import AnswerError, AnswerKind, format_answer
from mathcamps.evaluation.grade import extract_answer, grade
from mathcamps.evaluation.results import Verdict

V1 = Path(__file__).parent / "fixtures" / "mathcamps-v1"

# (response, gold, verdict): every rule with a form it accepts and a near miss it refuses.
CASES = [
    # where the answer is: the last marker, else the last box, else the last number
    ("### Answer: 12", "12", "correct"),
    ("### Answer: 5\n\nLet me check.\n### Answer: 6", "6", "correct"),
    ("### Answer: 5\n\nLet me check.\n### Answer: 6", "5", "wrong"),
    ("## answer 17", "17", "correct"),
    ("The total is \\boxed{42}.", "42", "correct"),
    ("First \\boxed{41}, no: \\boxed{42}.", "41", "wrong"),
    ("### Answer: \\boxed{9}", "9", "correct"),
    ("5 + 7 = 12, so she has 12 apples.", "12", "correct"),
    ("5 + 7 = 12, so she has 12 apples.", "5", "wrong"),
    ("I am not sure.", "12", "no-answer"),
    ("### Answer:", "12", "no-answer"),
    ("### Answer: 12 + 5 = 17 apples", "17", "correct"),
    ("### Answer: 12 + 5 = 17 apples", "12", "wrong"),
    # signs are kept; no prefix matching
    ("### Answer: -12", "12", "wrong"),
    ("### Answer: 12", "-12", "wrong"),
    ("### Answer: −12", "-12", "correct"),
    ("### Answer: negative 12", "-12", "correct"),
    ("So 10-3 gives 7", "7", "correct"),
    ("So 10-3 gives 7", "-3", "wrong"),
    ("### Answer: 26.4", "26.3", "wrong"),
    ("### Answer: 263", "26", "wrong"),
    ("### Answer: 26", "263", "wrong"),
    # decimals: exact golds in full; repeating golds rounded half up to two places or more
    ("### Answer: 0.33", "1/3", "correct"),
    ("### Answer: 0.333", "1/3", "correct"),
    ("### Answer: 0.3", "1/3", "wrong"),
    ("### Answer: 0.34", "1/3", "wrong"),
    ("### Answer: 0.67", "2/3", "correct"),
    ("### Answer: 0.66", "2/3", "wrong"),
    ("### Answer: 2.5", "2.5", "correct"),
    ("### Answer: 2.50", "2.5", "correct"),
    ("### Answer: 2.4999", "2.5", "wrong"),
    ("### Answer: 2.555", "2.555", "correct"),
    ("### Answer: 2.56", "2.555", "wrong"),
    ("### Answer: 12.0", "12", "correct"),
    ("### Answer: 0.5", "1/2", "correct"),
    ("### Answer: 1", "1/3", "wrong"),
    ("### Answer: 1.03", "1.03448275862069", "correct"),  # a float MathCAMPS v1 printed
    ("### Answer: 30/29", "1.03448275862069", "correct"),
    ("### Answer: 1.04", "1.03448275862069", "wrong"),
    ("### Answer: 31/29", "1.03448275862069", "wrong"),
    # fractions, mixed numbers, LaTeX, money, separators, percent, words
    ("### Answer: 3/4", "3/4", "correct"),
    ("### Answer: 6/8", "3/4", "correct"),
    ("### Answer: 4/3", "3/4", "wrong"),
    ("### Answer: \\frac{3}{4}", "3/4", "correct"),
    ("### Answer: $\\dfrac{-3}{4}$", "-3/4", "correct"),
    ("### Answer: $-\\frac{3}{4}$", "-3/4", "correct"),
    ("### Answer: $\\frac{3}{4}$", "-3/4", "wrong"),
    ("The answer is $\\boxed{\\tfrac{5}{6}}$.", "5/6", "correct"),
    ("### Answer: 2 1/2", "5/2", "correct"),
    ("### Answer: 2 1/2", "2 1/2", "correct"),
    ("### Answer: 2\\frac{1}{2}", "2 1/2", "correct"),
    ("### Answer: 2 1/3", "2 1/2", "wrong"),
    ("### Answer: -1 1/2", "-3/2", "correct"),
    ("### Answer: -1 1/2", "-1/2", "wrong"),
    ("### Answer: 3½ cups", "7/2", "correct"),
    ("### Answer: $2.50", "2.5", "correct"),
    ("### Answer: \\$2.05", "2.5", "wrong"),
    ("### Answer: 1,234 apples", "1234", "correct"),
    ("### Answer: 1\\,234", "1234", "correct"),
    ("### Answer: 1.234", "1234", "wrong"),
    ("### Answer: 50%", "1/2", "correct"),
    ("### Answer: 50 percent", "1/2", "correct"),
    ("### Answer: 5%", "1/2", "wrong"),
    ("### Answer: 50%", "50", "wrong"),
    ("### Answer: 33.33%", "1/3", "correct"),
    ("### Answer: \\text{12 apples}", "12", "correct"),
    ("### Answer: twelve", "12", "correct"),
    ("### Answer: one hundred and five", "105", "correct"),
    ("### Answer: one hundred twenty-three", "123", "correct"),
    ("### Answer: two thousand and twelve", "2012", "correct"),
    ("### Answer: twenty", "12", "wrong"),
    ("### Answer: x = -5", "-5", "correct"),
    ("### Answer: x = 5", "-5", "wrong"),
    # comparisons
    ("### Answer: >", ">", "correct"),
    ("### Answer: <", ">", "wrong"),
    ("### Answer: 10 > 7", ">", "correct"),
    ("### Answer: 7 < 10", ">", "wrong"),
    ("### Answer: 3/4 is greater than 2/3", ">", "correct"),
    ("### Answer: 3/4 is less than 2/3", ">", "wrong"),
    ("### Answer: 3/4 is not greater than 2/3", ">", "wrong"),
    ("### Answer: $\\frac{4}{8} = \\frac{1}{2}$", "=", "correct"),
    ("### Answer: they are equal", "=", "correct"),
    ("### Answer: \\gt", ">", "correct"),
    ("### Answer: ≥", ">", "wrong"),
    ("### Answer: 12", ">", "wrong"),
    ("Since 0.75 => bigger, 3/4 > 2/3.", ">", "correct"),
    ("No comparison here.", ">", "no-answer"),
    # unknowns
    ("### Answer: x = 3, y = 4", "x = 3, y = 4", "correct"),
    ("### Answer: y = 4 and x = 3", "x = 3, y = 4", "correct"),
    ("### Answer: x = 4, y = 3", "x = 3, y = 4", "wrong"),
    ("### Answer: x = 3", "x = 3, y = 4", "wrong"),
    ("### Answer: x = 3, y = 4, z = 0", "x = 3, y = 4", "wrong"),
    ("Let z = 0 first. Then x = 3 and y = 4.", "x = 3, y = 4", "correct"),
    ("### Answer: (x, y) = (3, 4)", "x = 3, y = 4", "correct"),
    ("### Answer: (y, x) = (3, 4)", "x = 3, y = 4", "wrong"),
    ("### Answer: (3, 4)", "x = 3, y = 4", "correct"),
    ("### Answer: (4, 3)", "x = 3, y = 4", "wrong"),
    ("### Answer: (3, 4)", "{q: 3, s: 4}", "wrong"),  # which is q? ambiguous: not read
    ("### Answer: q = 373/321, s = 2291/642", "{q: 373/321, s: 2291/642}", "correct"),
    ("### Answer: s = 373/321, q = 2291/642", "{q: 373/321, s: 2291/642}", "wrong"),
    ("### Answer: $x = \\frac{383}{17}, y = -\\frac{62}{17}$", "x = 383/17, y = -62/17", "correct"),
    ("### Answer: x = 22.53, y = -3.65", "x = 383/17, y = -62/17", "correct"),
    ("### Answer: x = 22.5, y = -3.6", "x = 383/17, y = -62/17", "wrong"),
    ("So x = 1 at first... finally x = 3 and y = 4.", "x = 3, y = 4", "correct"),
    ("### Answer: 3", "x = 3", "correct"),
    ("### Answer: x = 3", "x = 3", "correct"),
    ("### Answer: x = 4", "x = 3", "wrong"),
    # quotients with remainders
    ("### Answer: 7 R 3", "7 R 3", "correct"),
    ("### Answer: 7 r 3", "7 R 3", "correct"),
    ("### Answer: 7 remainder 3", "7 R 3", "correct"),
    ("### Answer: 7 with a remainder of 3", "7 R 3", "correct"),
    ("### Answer: quotient 7 and remainder 3", "7 R 3", "correct"),
    ("### Answer: the remainder is 3 and the quotient is 7", "7 R 3", "correct"),
    ("### Answer: 7 R 2", "7 R 3", "wrong"),
    ("### Answer: 3 R 7", "7 R 3", "wrong"),
    ("### Answer: 7", "7 R 3", "wrong"),
    ("### Answer: 7.75", "7 R 3", "wrong"),
    ("### Answer: 7", "7", "correct"),  # a question that asks for one of the two
    # factor pairs: a set of unordered pairs, never a bag of numbers
    ("### Answer: (1, 6), (2, 3)", "(1, 6), (2, 3)", "correct"),
    ("### Answer: {(2,3),(1,6)}", "(1, 6), (2, 3)", "correct"),
    ("### Answer: (3, 2), (6, 1)", "[(1, 6), (2, 3)]", "correct"),
    ("### Answer: 1 × 6, 2 × 3", "(1, 6), (2, 3)", "correct"),
    ("### Answer: (1, 6), (2, 3), (3, 2)", "(1, 6), (2, 3)", "correct"),
    ("### Answer: (1, 6)", "(1, 6), (2, 3)", "wrong"),
    ("### Answer: (1, 6), (2, 3), (1, 5)", "(1, 6), (2, 3)", "wrong"),
    ("### Answer: (1, 2), (3, 6)", "(1, 6), (2, 3)", "wrong"),
    ("### Answer: 1, 2, 3, 6", "(1, 6), (2, 3)", "wrong"),
    ("The pairs are:\n(1, 7)", "[(1, 7)]", "correct"),
    # an answer is one number, said once: a hedge, a negation or an expression is wrong, whatever its value
    ("### Answer: 8", "8", "correct"),
    ("### Answer: 8e5", "8", "wrong"),
    ("### Answer: 8e5", "800000", "wrong"),
    ("### Answer: 800000", "800000", "correct"),
    ("### Answer: 8^2", "8", "wrong"),
    ("### Answer: 8^2", "64", "wrong"),
    ("### Answer: 8 ^ 2", "2", "wrong"),
    ("### Answer: 2 × 4", "8", "wrong"),
    ("### Answer: 10 - 2", "8", "wrong"),
    ("### Answer: 10 - 2 = 8", "8", "correct"),
    ("### Answer: 8 or 9", "8", "wrong"),
    ("### Answer: 8 or 9", "9", "wrong"),
    ("### Answer: eight or nine", "8", "wrong"),
    ("### Answer: not 8", "8", "wrong"),
    ("### Answer: not 8", "-8", "wrong"),
    ("### Answer: 8 (or maybe 80)", "8", "wrong"),
    ("### Answer: 8 (or maybe 80)", "80", "wrong"),
    ("### Answer: maybe x = 8", "8", "wrong"),
    ("### Answer: 8 apples in 2 bags", "8", "wrong"),
    ("### Answer: 0.5 (1/2)", "1/2", "correct"),  # one value, said twice, is one number
    ("### Answer: +8", "8", "correct"),
    ("It is 8 or 9.", "9", "wrong"),
    ("It is 8 or 9.", "8", "wrong"),
    ("Maybe it is 8 (or maybe 80)", "80", "wrong"),
    ("So the answer is 2 × 4", "4", "wrong"),
    ("So the answer is 2 × 4 = 8", "8", "correct"),
    ("### Answer: 7 R 3 or 7 R 4", "7 R 3", "wrong"),
    ("### Answer: x = 3 or 4", "x = 3", "wrong"),
    ("### Answer: x = 3 + 1", "x = 4", "wrong"),
    ("### Answer: x = 3 + 1", "x = 3", "wrong"),
    ("### Answer: > or <", ">", "wrong"),
    ("### Answer: (1, 6), (2, 3) or (1, 6)", "(1, 6), (2, 3)", "wrong"),
    # any dash or minus sign before a number is a minus, with or without a space
    ("### Answer: – 8", "8", "wrong"),
    ("### Answer: – 8", "-8", "correct"),
    ("### Answer: ‐8", "8", "wrong"),
    ("### Answer: ‐8", "-8", "correct"),
    ("### Answer: − 8", "8", "wrong"),
    ("### Answer: − 8", "-8", "correct"),
    ("### Answer: —8", "8", "wrong"),
    ("### Answer: —8", "-8", "correct"),
    ("### Answer: - 8", "-8", "correct"),
    ("### Answer: x = – 8", "-8", "correct"),
    ("The answer is – 8.", "-8", "correct"),
    ("The answer is – 8.", "8", "wrong"),
    ("### Answer: x − 8", "-8", "wrong"),  # a minus between two operands subtracts
    ("### Answer: 10 – 3 = 7", "7", "correct"),
    ("### Answer: 8 — that is all", "8", "correct"),  # a dash after the number, before words, is a dash
]


@pytest.mark.parametrize("response, gold, verdict", CASES)
def test_each_grading_rule_accepts_its_forms_and_refuses_near_misses(response, gold, verdict):
    assert grade(response, gold).verdict.value == verdict


def test_a_refused_answer_says_why():
    assert grade("### Answer: 8 or 9", "8").reason == "a hedged answer ('or')"
    assert grade("### Answer: 8^2", "8").reason == "an expression, not a number on its own"
    assert grade("### Answer: 8 apples in 2 bags", "8").reason == "more than one number"
    assert grade("### Answer: 8", "8").reason is None and grade("### Answer: 9", "8").reason is None


@pytest.mark.parametrize("where", ["### Answer: {}", "\\boxed{{{}}}", "so it is {}"], ids=["marker", "boxed", "fallback"])
def test_a_number_of_thousands_of_digits_is_graded_wrong_with_its_reason(where):
    graded = grade(where.format("8" * 5000), "8")
    assert graded.verdict is Verdict.wrong
    assert graded.reason == "a number of more than 1,000 digits"
    assert graded.extracted.startswith("8888") and len(graded.extracted) < 100
    assert grade(where.format("9" * 5000) + "\n### Answer: 8", "8").verdict is Verdict.correct


def test_graded_says_what_was_read_and_where():
    assert grade("### Answer: 1,234 apples", "1234").extracted == "1234"
    assert grade("so it is 7 R 3 in the end", "7 R 3").method == "fallback"
    assert grade("\\boxed{5}", "5").method == "boxed"
    assert grade("### Answer: 5", "5").method == "marker"
    assert grade("### Answer: (3, 2), (6, 1)", "(1, 6), (2, 3)").extracted == "(1, 6), (2, 3)"
    nothing = grade("I give up", "5")
    assert nothing.verdict is Verdict.no_answer and nothing.extracted is None and nothing.method is None
    assert grade(None, "5").verdict is Verdict.no_answer


def test_extract_answer_gives_the_answer_text_or_none():
    assert extract_answer("Adding them gives 12.\n### Answer: 12 apples") == "12"
    assert extract_answer("first 5, then 7 apples") == "7"
    assert extract_answer("no numbers") is None
    assert extract_answer("### Answer: 7 R 3", "remainder") == "7 R 3"
    assert extract_answer("so y = 4 and x = 3", "assignment") == "y = 4, x = 3"
    assert extract_answer("### Answer: (2, 1)", "pairs") == "(1, 2)"
    assert extract_answer("so 3 < 5", "comparison") == "<"


def test_a_gold_answer_that_reads_as_nothing_is_an_answer_error():
    with pytest.raises(AnswerError):
        grade("### Answer: 5", "five apples")


def test_every_mathcamps_v1_answer_grades_its_own_text_correct():
    checked = 0
    for path in sorted(V1.glob("*.*.json")):
        for group in json.loads(path.read_text(encoding="utf-8")):
            for problem in group:
                answer = problem["answer"]
                shown = answer.strip("[]{}").replace(":", " =") if answer[:1] in "[{" else answer
                assert grade(f"Working...\n### Answer: {shown}", answer).verdict is Verdict.correct, (path, answer)
                checked += 1
    assert checked > 400


def test_a_compiled_gold_answer_of_every_kind_grades_correct_and_a_near_miss_wrong(registry):
    from mathcamps.compiler.pipeline import StandardCompiler
    from mathcamps.evaluation.grade import read_gold

    one_per_kind = {}
    for standard in registry:  # compiling is slow: the first standard of each answer kind
        one_per_kind.setdefault(standard.definition.answer.kind, standard)
    assert set(one_per_kind) == set(AnswerKind)
    for standard in one_per_kind.values():
        for problem in StandardCompiler(standard, 3).problems(3):
            kind = problem.answer_kind.value if hasattr(problem.answer_kind, "value") else problem.answer_kind
            response = f"Let me work it out step by step.\n\n### Answer: {problem.answer}"
            assert grade(response, problem.answer, kind).verdict is Verdict.correct, problem.id
            miss = _near_miss(read_gold(problem.answer, kind), kind)
            assert grade(f"### Answer: {miss}", problem.answer, kind).verdict is Verdict.wrong, (problem.id, miss)


def _near_miss(value, kind: str) -> str:
    if isinstance(value, str):
        return {"<": ">", ">": "=", "=": "<"}[value]
    if isinstance(value, dict):
        return format_answer(AnswerKind.assignment, {k: v + 1 for k, v in value.items()})
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return format_answer(AnswerKind.pairs, value[:-1] if len(value) > 1 else ((1, value[0][1] + 1),))
    if isinstance(value, tuple):
        return f"{value[0]} R {value[1] + 1}"
    bumped = value + Fraction(1, 100) if kind == "decimal" else value + 1
    return format_answer(AnswerKind(kind) if kind != "remainder" else AnswerKind.integer, bumped)


# ---------------------------------------------------------------- properties over every kind

fractions = st.fractions(min_value=-10000, max_value=10000, max_denominator=1000)
decimals = st.builds(lambda n, k: Fraction(n, 10**k), st.integers(-10**7, 10**7), st.integers(0, 4))
integers = st.integers(-10**6, 10**6).map(Fraction)
names = st.lists(st.sampled_from(["x", "y", "a", "b", "n", "total"]), min_size=1, max_size=3, unique=True)


@st.composite
def assignments(draw):
    return {name: draw(fractions) for name in draw(names)}


@st.composite
def factor_pairs(draw):
    n = draw(st.integers(1, 400))
    return tuple((a, n // a) for a in range(1, int(n**0.5) + 1) if n % a == 0)


remainders = st.tuples(st.integers(0, 9999).map(Fraction), st.integers(0, 9).map(Fraction))
VALUES = {
    AnswerKind.integer: integers,
    AnswerKind.fraction: fractions,
    AnswerKind.mixed: fractions,
    AnswerKind.decimal: decimals,
    AnswerKind.comparison: st.sampled_from(["<", ">", "="]),
    AnswerKind.assignment: assignments(),
    AnswerKind.remainder: remainders,
    AnswerKind.pairs: factor_pairs(),
}
PREAMBLES = st.sampled_from(["", "Let me think. 3 + 4 = 7, and 10 - 2 = 8.\n", "We compute: 12 / 4 = 3.\n\n"])


@pytest.mark.parametrize("kind", list(AnswerKind), ids=lambda k: k.value)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_canonical_answer_after_the_marker_grades_correct_and_any_other_wrong(kind, data):
    gold = data.draw(VALUES[kind])
    other = data.draw(VALUES[kind])
    preamble = data.draw(PREAMBLES)
    gold_text = format_answer(kind, gold)
    response = f"{preamble}### Answer: {gold_text}"
    assert grade(response, gold_text, kind.value).verdict is Verdict.correct
    other_text = format_answer(kind, other)
    if gold == other:
        return
    assert grade(f"{preamble}### Answer: {other_text}", gold_text, kind.value).verdict is Verdict.wrong


@settings(max_examples=200, deadline=None)
@given(value=fractions, places=st.integers(2, 6))
def test_a_decimal_is_right_only_when_exact_or_rounded_to_its_places(value, places):
    from mathcamps.language import decimal_places

    scaled = abs(value) * 10**places
    rounded = Fraction(int(scaled + Fraction(1, 2)), 10**places) * (1 if value >= 0 else -1)
    text = f"{float(rounded):.{places}f}" if abs(rounded) < 10**9 else None
    if text is None or Fraction(text) != rounded:
        return
    verdict = grade(f"### Answer: {text}", format_answer(AnswerKind.fraction, value)).verdict
    exact = rounded == value
    repeating = decimal_places(value) is None
    assert verdict is (Verdict.correct if exact or repeating else Verdict.wrong)
    off = rounded + Fraction(1, 10**places)
    off_text = f"{float(off):.{places}f}"
    if Fraction(off_text) == off and off != value:
        assert grade(f"### Answer: {off_text}", format_answer(AnswerKind.fraction, value)).verdict is Verdict.wrong


ALPHABET = st.sampled_from(list("0123456789 \t\n,./%-xbR=<>()") + ["negative ", "minus ", " percent", "rem ", "--",
                                                                    "    ", "remainder ", "greater than ", "not ", "½",
                                                                    "is ", "%%", "ab", "1 ", "-1", " / ", "12 ", "1/", "- ", "-.5",
                                                                    "\\boxed{", "{", "}"])


@settings(max_examples=1500, deadline=None)
@given(pieces=st.lists(ALPHABET, max_size=80), size=st.integers(1, 16))
def test_the_last_match_read_from_the_end_is_the_last_match_of_a_whole_scan(pieces, size):
    from mathcamps.evaluation import grade as grader

    text = grader.normalize("".join(pieces))
    for pattern, outside, gate in ((grader._NUMBER, grader._OUTSIDE_NUMBERS, grader._holds_digit),
                                   (grader._COMPARISONS, grader._OUTSIDE_COMPARISONS, grader._may_compare),
                                   (grader._WITH_REMAINDER, grader._OUTSIDE_REMAINDERS, None)):
        whole = list(pattern.finditer(text))
        found = grader._last_match(pattern, text, outside, gate, size=size)
        expected = whole[-1] if whole else None
        assert (found and found.span()) == (expected and expected.span()), (pattern.pattern[:40], text)
