"""Hypothesis strategies for random programs of the core language."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

from mathcamps.language import Ask, BinOp, Let, Num, Program, Solve, Var

numbers = st.integers(min_value=-99, max_value=999).map(lambda n: Num(Fraction(n)))
decimals = st.integers(min_value=-9999, max_value=9999).map(lambda n: Num(Fraction(n, 100)))
OPERATORS = ("+", "-", "*", "/", "//", "%")


def expressions(names: list[str], max_leaves: int = 6):
    leaves = st.one_of(numbers, decimals, *([st.sampled_from(names).map(Var)] if names else []))
    return st.recursive(
        leaves,
        lambda inner: st.builds(BinOp, st.sampled_from(OPERATORS), inner, inner),
        max_leaves=max_leaves,
    )


@st.composite
def let_programs(draw, max_statements: int = 4):
    """Programs of `let` statements over earlier names, asking for the last one."""
    count = draw(st.integers(min_value=1, max_value=max_statements))
    names: list[str] = []
    statements = []
    for i in range(count):
        name = "abcdefgh"[i]
        statements.append(Let(name, draw(expressions(list(names)))))
        names.append(name)
    return Program(tuple(statements), Ask((names[-1],)))


@st.composite
def linear_equations(draw):
    """`solve a*x + b = c` style programs with a nonzero coefficient, asking for x."""
    coefficient = draw(st.integers(min_value=1, max_value=12))
    offset = draw(st.integers(min_value=0, max_value=99))
    total = draw(st.integers(min_value=0, max_value=999))
    left = BinOp("+", BinOp("*", Num(Fraction(coefficient)), Var("x")), Num(Fraction(offset)))
    sides = (left, Num(Fraction(total)))
    if draw(st.booleans()):
        sides = sides[::-1]
    return Program((Solve(*sides),), Ask(("x",)))
