"""sympy and z3, on random programs: exact answers, proofs, and refusals."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mathcamps.language import Let, Num, Var, parse_program
from mathcamps.solvers.exact import Unsolvable, solve
from mathcamps.solvers.prover import PROVED, Claim, prove

from strategies import let_programs, linear_equations


def _fraction_value(expr, env):
    if isinstance(expr, Num):
        return expr.value
    if isinstance(expr, Var):
        return env[expr.name]
    left, right = _fraction_value(expr.left, env), _fraction_value(expr.right, env)
    if expr.op == "/" and right == 0:
        raise ZeroDivisionError
    if expr.op in ("//", "%"):
        # A whole quotient and remainder are defined for whole dividends and positive divisors only.
        if left.denominator != 1 or right.denominator != 1 or left < 0 or right <= 0:
            raise ZeroDivisionError
        quotient = left.numerator // right.numerator
        return Fraction(quotient if expr.op == "//" else left.numerator - quotient * right.numerator)
    return {"+": lambda: left + right, "-": lambda: left - right, "*": lambda: left * right,
            "/": lambda: left / right}[expr.op]()


def _reference(program):
    env = {}
    for statement in program.statements:
        assert isinstance(statement, Let)
        env[statement.name] = _fraction_value(statement.expr, env)
    return env[program.question.names[0]]


@settings(max_examples=150, deadline=None)
@given(let_programs())
def test_sympy_computes_exact_values_and_z3_proves_them(program):
    try:
        expected = _reference(program)
    except ZeroDivisionError:
        with pytest.raises(Unsolvable):
            solve(program)
        return
    answer = solve(program).answer(program.question)
    assert answer == expected and isinstance(answer, Fraction)
    assert prove([Claim(program, answer), Claim(program, answer + Fraction(1, 7))]) == [
        PROVED,
        "z3: the claimed answer does not satisfy the problem",
    ]


@settings(max_examples=150, deadline=None)
@given(linear_equations())
def test_linear_equations_have_one_proved_solution(program):
    x = solve(program).values["x"]
    statement = program.statements[0]
    assert _fraction_value(statement.left, {"x": x}) == _fraction_value(statement.right, {"x": x})
    assert prove([Claim(program, x)]) == [PROVED]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=50), min_size=2, max_size=30))
def test_a_batch_with_wrong_answers_names_exactly_those(values):
    claims = []
    wrong = set()
    for i, value in enumerate(values):
        program = parse_program(f"solve {value + 3} = 3 + x\nask x")
        if i % 3 == 1:
            claims.append(Claim(program, Fraction(value + 1)))
            wrong.add(i)
        else:
            claims.append(Claim(program, Fraction(value)))
    verdicts = prove(claims)
    assert {i for i, v in enumerate(verdicts) if v != PROVED} == wrong


def test_an_equation_with_many_solutions_is_rejected_by_both_solvers():
    program = parse_program("solve 0 * x + 4 = 4\nask x")
    with pytest.raises(Unsolvable, match="more than one"):
        solve(program)
    assert prove([Claim(program, Fraction(0))]) == ["z3: another value also satisfies the problem"]


def test_an_equation_without_solution_is_rejected():
    with pytest.raises(Unsolvable, match="no solution"):
        solve(parse_program("solve 0 * x + 4 = 5\nask x"))


def test_systems_and_comparisons():
    system = parse_program("solve 2 * x + y = 7\nsolve x - y = 2\nask x, y")
    assert solve(system).answer(system.question) == {"x": Fraction(3), "y": Fraction(1)}
    compare = parse_program("compare 3 / 4 _ 0.75")
    assert solve(compare).comparison == "="
    assert prove([Claim(system, {"x": Fraction(3), "y": Fraction(1)}), Claim(compare, "="), Claim(compare, "<")]) == [
        PROVED,
        PROVED,
        "z3: the claimed answer does not satisfy the problem",
    ]


def test_a_nonlinear_equation_falls_back_to_sympy_solve():
    program = parse_program("solve x * x = 49\nask x")
    with pytest.raises(Unsolvable, match="2 rational solutions"):
        solve(program)
    single = parse_program("solve x * x * x = 8\nask x")
    assert solve(single).values["x"] == 2
    assert prove([Claim(single, Fraction(2))]) == [PROVED]


def test_powers_are_exact_proved_and_bounded():
    program = parse_program("let a = 12 ^ 4 - 7\nask a")
    assert solve(program).values["a"] == 12**4 - 7
    assert prove([Claim(program, Fraction(12**4 - 7)), Claim(program, Fraction(12**4))]) == [
        PROVED,
        "z3: the claimed answer does not satisfy the problem",
    ]
    with pytest.raises(Unsolvable, match="exponent"):
        solve(parse_program("let a = 2 ^ (1 / 2)\nask a"))


def test_a_hole_exponent_is_feasible_only_within_its_range():
    from mathcamps.language import BinOp, Hole, Let
    from mathcamps.registry import Range
    from mathcamps.solvers.constraints import infeasibility

    from test_data_only import DEFINITION
    import yaml
    from mathcamps.registry import Definition

    definition = Definition.model_validate(yaml.safe_load(DEFINITION))  # values 1..20
    program = parse_program("let a = 1 + 1\nask a")
    program = type(program)((Let("a", BinOp("^", Hole(0), Hole(1))),), program.question)
    assert infeasibility(program, definition, [Range(min=2, max=4), Range(min=2, max=3)]) is None
    core = infeasibility(program, definition, [Range(min=5, max=9), Range(min=2, max=3)])
    assert core is not None and "values.max" in core


class _Outer(BaseException):
    """What a guard timer raises if a budget fails to stop its block (no `except Exception` catches it)."""


def _guard(seconds: float):
    import signal

    def fire(signum, frame):
        raise _Outer

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return previous


def test_a_budget_stops_its_block_inside_a_longer_timer_and_the_longer_timer_goes_on():
    import signal

    from mathcamps.solvers.budget import OutOfBudget, time_budget

    previous = _guard(30.0)
    try:
        with pytest.raises(OutOfBudget):
            with time_budget(0.05):
                while True:
                    pass
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < remaining <= 30.0  # the longer timer runs on, with its own handler
        with pytest.raises(_Outer):
            signal.setitimer(signal.ITIMER_REAL, 0.01)
            while True:
                pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_code_that_catches_every_exception_does_not_swallow_an_out_of_budget():
    import signal

    from mathcamps.solvers.budget import OutOfBudget, time_budget

    previous = _guard(30.0)
    caught = 0
    try:
        with pytest.raises(OutOfBudget):
            with time_budget(0.05):
                while True:
                    try:
                        sum(range(1000))
                    except Exception:  # a library's fallback after a failed method
                        caught += 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert caught == 0
