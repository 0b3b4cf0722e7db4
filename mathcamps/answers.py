"""Canonical answers: one model that formats and parses the answers of every kind."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext
from enum import Enum
from fractions import Fraction
from typing import Union

from mathcamps.errors import MathcampsError
from mathcamps.language import MAX_VALUE_DIGITS, decimal_places, format_number


class AnswerKind(str, Enum):
    """How an answer is written; a standard's definition names one."""

    integer = "integer"  # a whole number, possibly negative: 17
    fraction = "fraction"  # a rational in lowest terms: 3/4, or an integer: 2
    mixed = "mixed"  # a rational as a mixed number in lowest terms: 2 3/4, -1 1/2, 3/4, 5
    decimal = "decimal"  # an exact, terminating decimal: 2.75
    comparison = "comparison"  # one of <, >, =
    assignment = "assignment"  # values of several unknowns: x = 3, y = 4
    remainder = "remainder"  # a whole quotient and its remainder: 7 R 3 (or one of the two: 7)
    pairs = "pairs"  # every factor pair of a whole number, smaller factor first: (1, 6), (2, 3)


Pairs = tuple[tuple[int, int], ...]
Value = Union[Fraction, str, dict[str, Fraction], tuple[Fraction, Fraction], Pairs]
COMPARISONS = ("<", ">", "=")


class AnswerError(MathcampsError):
    """A stored answer that cannot be read as its declared kind."""


def comparison_of(left: Fraction, right: Fraction) -> str:
    """The symbol that makes `left _ right` true."""
    return "<" if left < right else ">" if left > right else "="


def format_answer(kind: AnswerKind, value: Value) -> str:
    """The canonical text of an answer of this kind."""
    if kind is AnswerKind.comparison:
        if value not in COMPARISONS:
            raise ValueError(f"not a comparison: {value!r}")
        return str(value)
    if kind is AnswerKind.assignment:
        if not isinstance(value, dict):
            raise ValueError(f"not a value per name: {value!r}")
        return ", ".join(f"{name} = {format_answer(AnswerKind.fraction, v)}" for name, v in value.items())
    if kind is AnswerKind.remainder and isinstance(value, Fraction):
        return format_answer(AnswerKind.integer, value)  # a question that asks one of the two
    if kind is AnswerKind.remainder:
        if not isinstance(value, (dict, tuple)) or len(value) != 2:
            raise ValueError(f"not a quotient and a remainder: {value!r}")
        quotient, remainder = value.values() if isinstance(value, dict) else value
        if quotient.denominator != 1 or remainder.denominator != 1:
            raise ValueError(f"{quotient} R {remainder} is not a whole quotient and remainder")
        return f"{quotient} R {remainder}"
    if kind is AnswerKind.pairs:
        if not isinstance(value, tuple) or not all(isinstance(p, tuple) and len(p) == 2 for p in value):
            raise ValueError(f"not factor pairs: {value!r}")
        return ", ".join(f"({a}, {b})" for a, b in value)
    if not isinstance(value, Fraction):
        raise ValueError(f"{value!r} is not a number")
    if kind is AnswerKind.mixed:
        whole, part = divmod(abs(value.numerator), value.denominator)
        sign = "-" if value < 0 else ""
        if part == 0:
            return f"{sign}{whole}"
        return f"{sign}{whole} {part}/{value.denominator}" if whole else f"{sign}{part}/{value.denominator}"
    if kind is AnswerKind.integer:
        if value.denominator != 1:
            raise ValueError(f"{value} is not a whole number")
        return str(value.numerator)
    if kind is AnswerKind.decimal:
        return format_number(value)
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)(?:\s*/\s*(-?\d+))?\s*$")
_MIXED = re.compile(r"^\s*(-?)(\d+)\s+(\d+)\s*/\s*(\d+)\s*$")
_REMAINDER = re.compile(r"^\s*(\d+)\s*R\s*(\d+)\s*$")
_PAIR = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)")


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


_DIGIT_RUN = re.compile(r"\d+")


def _check_size(text: str) -> None:
    """AnswerError for an answer no exact value stands for: a number of more than MAX_VALUE_DIGITS digits."""
    if len(text) > MAX_VALUE_DIGITS and max(map(len, _DIGIT_RUN.findall(text)), default=0) > MAX_VALUE_DIGITS:
        raise AnswerError(f"a number of more than {MAX_VALUE_DIGITS:,} digits: {_shown(text)}")


def parse_number(text: str) -> Fraction:
    """An exact number from `17`, `-3`, `2.75` or `3/4`."""
    _check_size(text)
    match = _NUMBER.match(text)
    if not match:
        raise AnswerError(f"not a number: {_shown(text)}")
    value = Fraction(match.group(1))
    if match.group(2) is not None:
        denominator = int(match.group(2))
        if denominator == 0:
            raise AnswerError(f"division by zero in {text!r}")
        value /= denominator
    return value


def parse_answer(kind: AnswerKind, text: str) -> Value:
    """The value a canonical answer text stands for; AnswerError if it is not of this kind."""
    _check_size(text)
    if kind is AnswerKind.comparison:
        symbol = text.strip()
        if symbol not in COMPARISONS:
            raise AnswerError(f"not a comparison (<, >, =): {text!r}")
        return symbol
    if kind is AnswerKind.assignment:
        values: dict[str, Fraction] = {}
        for part in text.split(","):
            name, sep, number = part.partition("=")
            if not sep or not name.strip():
                raise AnswerError(f"not an assignment 'x = 3, y = 4': {text!r}")
            values[name.strip()] = parse_number(number)
        return values
    if kind is AnswerKind.remainder and text.strip().isdigit():
        return Fraction(int(text))
    if kind is AnswerKind.remainder:
        match = _REMAINDER.match(text)
        if not match:
            raise AnswerError(f"not a quotient and remainder '7 R 3': {text!r}")
        return Fraction(int(match.group(1))), Fraction(int(match.group(2)))
    if kind is AnswerKind.pairs:
        pairs = tuple((int(a), int(b)) for a, b in _PAIR.findall(text))
        if not pairs or _PAIR.sub("", text).replace(",", "").strip():
            raise AnswerError(f"not factor pairs '(1, 6), (2, 3)': {text!r}")
        return pairs
    mixed = _MIXED.match(text) if kind is AnswerKind.mixed else None
    if mixed:
        sign, whole, numerator, denominator = mixed.groups()
        if int(denominator) == 0:
            raise AnswerError(f"division by zero in {text!r}")
        value = int(whole) + Fraction(int(numerator), int(denominator))
        return -value if sign else value
    value = parse_number(text)
    if kind is AnswerKind.integer and value.denominator != 1:
        raise AnswerError(f"not a whole number: {text!r}")
    if kind is AnswerKind.decimal and decimal_places(value) is None:
        raise AnswerError(f"not an exact decimal: {text!r}")
    return value


# ---------------------------------------------------------------- stored answers of any dataset

FLOAT_DIGITS = 15  # a decimal with this many significant digits or more is a printed float


@dataclass(frozen=True)
class Rounded:
    """A decimal that stands for the rational it rounds: a float printed to 15 significant digits
    (MathCAMPS v1 writes 30/29 as 1.03448275862069)."""

    text: str

    def admits(self, value: Fraction) -> bool:
        """Whether `value` rounded to as many significant digits as the text has is the text: the
        exact value, or the double nearest to it (which is what a float computation printed)."""
        stored = Decimal(self.text)
        digits = len(stored.as_tuple().digits)
        for rounding in (ROUND_HALF_EVEN, ROUND_HALF_UP):
            with localcontext() as context:
                context.prec, context.rounding = digits, rounding
                exact = Decimal(value.numerator) / Decimal(value.denominator)
                if exact == stored or (abs(value) < 1e300 and +Decimal(float(value)) == stored):
                    return True
        return False


_LEGACY_PAIRS = re.compile(r"^\s*\[(.*)\]\s*$", re.S)
_LEGACY_MAP = re.compile(r"^\s*\{(.*)\}\s*$", re.S)


def _read_number(text: str):
    text = text.strip()
    mixed = _MIXED.match(text)
    if mixed:
        return parse_answer(AnswerKind.mixed, text)
    decimal = re.fullmatch(r"-?\d+\.\d+", text)
    if decimal and len(Decimal(text).as_tuple().digits) >= FLOAT_DIGITS:
        return Rounded(text)
    return parse_number(text)


def read_answer(text: str):
    """A stored answer of any kind, in our canonical texts or MathCAMPS v1's: a number (Fraction,
    or Rounded for a printed float), a comparison symbol, factor pairs, a quotient with remainder
    (a pair of Fractions), or a mapping of names to numbers. AnswerError if it is none of these."""
    _check_size(text)
    text = text.strip()
    if text in COMPARISONS:
        return text
    if _REMAINDER.match(text):
        return parse_answer(AnswerKind.remainder, text)
    legacy = _LEGACY_PAIRS.match(text)
    if legacy or text.startswith("("):
        return parse_answer(AnswerKind.pairs, legacy.group(1) if legacy else text)
    mapping = _LEGACY_MAP.match(text)
    if mapping or "=" in text:
        values = {}
        for part in (mapping.group(1) if mapping else text).split(","):
            name, sep, number = part.partition(":" if mapping else "=")
            if not sep or not re.fullmatch(r"[A-Za-z_]\w*", name.strip()):
                raise AnswerError(f"not a value per name ('x = 3, y = 4' or '{{x: 3, y: 4}}'): {text!r}")
            values[name.strip()] = _read_number(number)
        return values
    return _read_number(text)


def _same_number(expected, stored) -> bool:
    if isinstance(stored, Rounded):
        return isinstance(expected, Fraction) and stored.admits(expected)
    return isinstance(expected, Fraction) and expected == stored


def answer_agrees(expected, stored) -> bool:
    """Whether a stored answer (read by read_answer) says the exact answer `expected` (a Fraction,
    a comparison, factor pairs, or a value per asked name)."""
    if isinstance(expected, str) or isinstance(stored, str):
        return expected == stored
    if isinstance(expected, dict):
        if isinstance(stored, tuple) and len(expected) == 2 and len(stored) == 2:
            return all(_same_number(e, s) for e, s in zip(expected.values(), stored))
        return isinstance(stored, dict) and set(stored) == set(expected) and all(
            _same_number(expected[name], stored[name]) for name in expected
        )
    if isinstance(expected, tuple):  # factor pairs
        return isinstance(stored, tuple) and tuple(tuple(p) for p in stored) == tuple(tuple(p) for p in expected)
    return _same_number(expected, stored)
