"""The problem language: printing and parsing are inverse, and mistakes are located."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings

from mathcamps.language import ProgramError, format_number, format_program, parse_program

from strategies import let_programs, linear_equations


@settings(deadline=None)
@given(let_programs())
def test_printing_then_parsing_gives_back_the_same_program(program):
    assert parse_program(format_program(program)) == program


@settings(deadline=None)
@given(linear_equations())
def test_equations_round_trip_and_know_their_unknowns(program):
    assert parse_program(format_program(program)) == program
    assert program.unknowns == ("x",)


def test_parentheses_only_where_the_tree_needs_them():
    program = parse_program("let a = (1 + 2) * 3 - (4 - 5)\nlet b = a / (2 * 3)\nask b")
    assert format_program(program) == "let a = (1 + 2) * 3 - (4 - 5)\nlet b = a / (2 * 3)\nask b"
    assert format_program(parse_program("let a = 1 + (2 + 3)\nask a")) == "let a = 1 + (2 + 3)\nask a"
    assert format_program(parse_program("let a = (1 + 2) + 3\nask a")) == "let a = 1 + 2 + 3\nask a"


def test_decimals_are_exact():
    assert format_number(Fraction(1, 8)) == "0.125"
    assert format_number(Fraction(-5, 4)) == "-1.25"
    assert parse_program("let a = 0.1 + 0.2\nask a").statements[0].expr.left.value == Fraction(1, 10)
    with pytest.raises(ValueError):
        format_number(Fraction(1, 3))


def test_a_program_that_does_not_parse_names_line_column_and_expected_tokens():
    with pytest.raises(ProgramError) as error:
        parse_program("let a = 1 +\nask a", source="broken.prog")
    message = str(error.value)
    assert message.startswith("broken.prog:1:")
    assert "expected one of" in message


def test_powers_bind_tightest_and_are_not_associative():
    program = parse_program("let a = 5 * 2 ^ 3 + (2 ^ 3) ^ 2 - 2 ^ (1 + 1)\nask a")
    assert format_program(program) == "let a = 5 * 2 ^ 3 + (2 ^ 3) ^ 2 - 2 ^ (1 + 1)\nask a"
    with pytest.raises(ProgramError):
        parse_program("let a = 2 ^ 3 ^ 2\nask a")
