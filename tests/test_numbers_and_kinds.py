"""Signed and decimal literals, whole division with remainder, factor pairs, and every answer kind."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mathcamps.answers import AnswerError, AnswerKind, format_answer, parse_answer
from mathcamps.compiler.instantiate import Instantiator
from mathcamps.compiler.render import Renderer, Unfaithful, _resolve, refused_words
from mathcamps.compiler.sampler import Sampler
from mathcamps.language import BinOp, Factors, Num, format_program, load_grammar, parse_program
from mathcamps.registry import Definition, RenderSpec
from mathcamps.solvers.constraints import Violation, check_problem
from mathcamps.solvers.exact import Unsolvable, solve
from mathcamps.solvers.prover import PROVED, Claim, prove

from test_every_standard import wrong_answer

rationals = st.fractions(max_denominator=64).filter(lambda f: abs(f) < 10**6)


# ---------------------------------------------------------------- the language


def test_a_minus_after_a_number_subtracts_and_before_one_negates():
    assert parse_program("let a = 5 - 3\nask a").statements[0].expr == BinOp("-", Num(Fraction(5)), Num(Fraction(3)))
    assert parse_program("let a = 5 - -3\nask a").statements[0].expr == BinOp("-", Num(Fraction(5)), Num(Fraction(-3)))
    assert parse_program("let a = -2.5 * 4\nask a").statements[0].expr.left == Num(Fraction(-5, 2))


def test_whole_quotient_remainder_and_factors_print_and_parse():
    for text in ("let a = 17 // 5\nlet b = 17 % 5\nask a, b", "factors 24", "let a = 9 % 4 * 2 // 3\nask a"):
        program = parse_program(text)
        assert format_program(program) == text
    assert parse_program("factors 24").question == Factors(Num(Fraction(24)))


def test_a_grammar_lalr_cannot_parse_is_parsed_by_earley_to_the_same_tree(tmp_path):
    from mathcamps.language import grammar_dir

    grammar = load_grammar(grammar_dir() / "4_NBT_B_5.lark")
    assert not grammar.inline
    for text in ("let a = 4512 * 7\nask a", "let a = 7 * 4512\nask a", "let a = 46 * 22\nask a"):
        assert grammar.parse(text) == parse_program(text)


# ---------------------------------------------------------------- answers


@settings(max_examples=200, deadline=None)
@given(rationals)
def test_mixed_numbers_and_fractions_round_trip(value):
    for kind in (AnswerKind.mixed, AnswerKind.fraction):
        assert parse_answer(kind, format_answer(kind, value)) == value


def test_mixed_numbers_are_written_as_a_teacher_writes_them():
    assert [format_answer(AnswerKind.mixed, Fraction(n, d)) for n, d in ((11, 4), (-3, 2), (3, 4), (10, 2))] == [
        "2 3/4",
        "-1 1/2",
        "3/4",
        "5",
    ]


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_quotient_and_remainder_round_trip(quotient, remainder):
    value = (Fraction(quotient), Fraction(remainder))
    assert format_answer(AnswerKind.remainder, value) == f"{quotient} R {remainder}"
    assert parse_answer(AnswerKind.remainder, f"{quotient} R {remainder}") == value


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=5000))
def test_factor_pairs_are_found_proved_and_round_trip(n):
    program = parse_program(f"factors {n}")
    pairs = solve(program).answer(program.question)
    assert all(a * b == n and a <= b for a, b in pairs)
    assert {a for a, _ in pairs} | {b for _, b in pairs} == {d for d in range(1, n + 1) if n % d == 0}
    assert parse_answer(AnswerKind.pairs, format_answer(AnswerKind.pairs, pairs)) == pairs
    assert prove([Claim(program, pairs), Claim(program, wrong_answer(pairs))]) == [
        PROVED,
        "z3: the claimed answer does not satisfy the problem",
    ]


def test_z3_refuses_a_pair_list_with_a_pair_missing_extra_repeated_or_reversed():
    program = parse_program("factors 36")
    right = ((1, 36), (2, 18), (3, 12), (4, 9), (6, 6))
    wrongs = [right[:-1], right + ((7, 5),), right[:2] + right[1:], ((36, 1),) + right[1:], ()]
    assert prove([Claim(program, right)] + [Claim(program, w) for w in wrongs]) == [PROVED] + [
        "z3: the claimed answer does not satisfy the problem"
    ] * len(wrongs)


@pytest.mark.parametrize(
    "kind, text",
    [("remainder", "7 r 3"), ("remainder", "7 R -3"), ("pairs", "1, 6"), ("pairs", "(1, 6) and"), ("mixed", "2 3/0")],
)
def test_malformed_answers_are_refused(kind, text):
    with pytest.raises(AnswerError):
        parse_answer(AnswerKind(kind), text)


def test_both_solvers_agree_on_quotients_and_remainders():
    program = parse_program("let a = 4581\nlet b = 5\nlet c = a // b\nlet d = a % b\nask c, d")
    answer = solve(program).answer(program.question)
    assert format_answer(AnswerKind.remainder, answer) == "916 R 1"
    assert prove([Claim(program, answer), Claim(program, {"c": Fraction(916), "d": Fraction(2)})]) == [
        PROVED,
        "z3: the claimed answer does not satisfy the problem",
    ]
    with pytest.raises(Unsolvable):
        solve(parse_program("let a = 7.5 // 2\nask a"))


# ---------------------------------------------------------------- constraints


def _definition(**changes) -> Definition:
    base = dict(
        id="5.NBT.B.7",
        grade="5",
        domain="NBT",
        cluster="Decimals.",
        text="Divide decimals to hundredths.",
        grammar="g.lark",
        numbers={"min": 1, "max": 1000, "places": 2},
        values={"min": 0, "max": 10000},
        whole=False,
        answer={"kind": "decimal", "places": 2},
        render={"frames": "measures", "themes": ["fruit"]},
    )
    return Definition.model_validate(base | changes)


def test_a_repeating_decimal_or_one_with_too_many_places_is_never_an_answer():
    definition = _definition(answer={"kind": "decimal"})
    check_problem(parse_program("let a = 12.5 / 4\nask a"), definition, {})  # 3.125: 3 places
    with pytest.raises(Violation, match="answer.places"):
        check_problem(parse_program("let a = 12.5 / 4\nask a"), _definition(answer={"kind": "decimal", "places": 2}), {})
    with pytest.raises(Violation, match="does not terminate"):
        check_problem(parse_program("let a = 30 / 29\nask a"), definition, {})


def test_literals_keep_their_declared_decimal_places():
    with pytest.raises(Violation, match="numbers.places"):
        check_problem(parse_program("let a = 1.125 + 2\nask a"), _definition(answer={"kind": "decimal"}), {})


def test_decimal_literals_need_a_definition_that_is_not_whole():
    with pytest.raises(ValueError, match="places"):
        _definition(whole=True)


def test_quotients_are_built_exact_to_the_declared_places(tmp_path):
    """A dividend is built from its quotient, so tenths divisors give exact quotients in hundredths."""
    grammar_path = tmp_path / "g.lark"
    grammar_path.write_text(
        'start: quotient _NL ask\nquotient: "let" NAME "=" share -> let\nshare: num "/" tenths -> div\n'
        '?tenths: num\nask: "ask" NAME\n%import .core (num, NAME, NUMBER, _NL)\n%ignore " "\n'
    )
    definition = _definition(ranges={"tenths": {"min": 1, "max": 20, "places": 1}}, answer={"kind": "decimal", "places": 2})
    sampler = Sampler(load_grammar(grammar_path), {}, 8, ranges=frozenset(definition.ranges))
    instantiator = Instantiator(definition)
    rng = random.Random(3)
    for _ in range(200):
        program, _ = instantiator.instantiate(sampler.sample(rng), rng)
        dividend, divisor = (n.value for n in program.literals())
        assert (dividend * 100).denominator == 1 and (divisor * 10).denominator == 1
        quotient = solve(program).answer(program.question)
        assert (quotient * 100).denominator == 1 and quotient >= 0


# ---------------------------------------------------------------- rendering rules


def test_a_percent_in_the_text_is_unfaithful_unless_its_family_allows_it():
    literals = [Num(Fraction(239)), Num(Fraction(5))]
    with pytest.raises(Unfaithful, match="'%'"):
        _resolve("Prices rose by \x000\x00%. Ava had \x001\x00 dollars.", "How many dollars?", "dollars", literals, "f", "t")
    with pytest.raises(Unfaithful, match="percent"):
        _resolve("Prices rose by \x000\x00 percent. Ava had \x001\x00 dollars.", "How many dollars?", "dollars", literals, "f", "t")
    allowed = refused_words() - {"percent", "%"}
    said = _resolve("Prices rose by \x000\x00 percent. Ava had \x001\x00 dollars.", "How many dollars?", "dollars",
                    literals, "f", "t", allowed)
    assert said.statement.startswith("Prices rose by 239 percent.")


def test_fractions_and_negatives_are_written_as_in_school():
    renderer = Renderer(RenderSpec(frames="fraction_expressions", themes=["fruit"], fractions=True))
    program = parse_program("let a = -5 / 6 - -3 / 4 * (2 / 3) / (7 / 8)\nask a")
    statement = renderer.render_frame(program, "fraction_expressions/calculate", "fruit", random.Random(0)).statement
    assert "-5/6 - (-3/4) × 2/3 ÷ 7/8" in statement


def test_money_is_written_in_cents():
    from mathcamps.compiler.render import _display

    assert [_display(Fraction(v), 2) for v in ("2.5", "1234.5", "3")] == ["2.50", "1,234.50", "3"]


def test_a_frame_is_chosen_only_where_its_condition_holds(tmp_path):
    (tmp_path / "vocabulary.yaml").write_text(
        "people: [{name: Ava, pronoun: she}, {name: Ben, pronoun: he}]\nrefuse: [half, percent]\n"
        "themes: {rope: {kind: length, unit: meter, thing: rope}}\n"
    )
    (tmp_path / "parts.yaml").write_text(
        'unit: "{{ plural(unit) }}"\nneeds: length\nframes:\n'
        '  - id: of-the-rope\n    shape: "let a = N / N * N\\nask a"\n    when: "n1 <= n2"\n'
        '    story: "{{ name }} cut {{ n1 }}/{{ n2 }} of a {{ measure(n3) }} {{ thing }}."\n'
        '    question: "How many {{ plural(unit) }} did she cut?"\n'
        '  - id: pieces\n    shape: "let a = N / N * N\\nask a"\n    when: "n1 > n2"\n'
        '    story: "Each piece of {{ thing }} is {{ n1 }}/{{ n2 }} {{ plural(unit) }} long. She has {{ count(n3, \'piece\') }}."\n'
        '    question: "How many {{ plural(unit) }} of {{ thing }} does she have?"\n'
    )
    renderer = Renderer(RenderSpec(frames="parts", themes=["rope"], fractions=True), tmp_path)
    for text, frame in (("let a = 3 / 4 * 8\nask a", "parts/of-the-rope"), ("let a = 9 / 4 * 8\nask a", "parts/pieces")):
        program = parse_program(text)
        frames = {renderer.render(program, random.Random(seed), answer=None).frame for seed in range(20)}
        assert frames == {frame}


def test_an_operation_that_changes_nothing_is_refused_unless_the_definition_allows_it():
    from mathcamps.solvers.constraints import Violation, check_problem

    for text in ("let a = 5 * 1\nask a", "let a = 1 * 5\nask a", "let a = 5 / 1\nask a", "let a = 5 + 0\nask a",
                 "let a = 5 - 0\nask a", "let a = 2 + 3\nlet b = a * 1\nask b"):
        with pytest.raises(Violation, match="trivial"):
            check_problem(parse_program(text), _definition(), {})
        check_problem(parse_program(text), _definition(trivial=True, numbers={"min": 0, "max": 1000, "places": 2}), {})
    check_problem(parse_program("let a = 1 + 5\nask a"), _definition(), {})  # 1 + 5 changes 5
