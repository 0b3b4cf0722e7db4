"""sympy's stage: the exact answer of a program, in Rational arithmetic, never float."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import sympy

from mathcamps.answers import comparison_of
from mathcamps.language import MAX_EXPONENT, MAX_VALUE_DIGITS, OPERATIONS, Ask, BinOp, Compare, Expr, Factors, Let, Num, Program, Solve, Var, free_names

from mathcamps.solvers.budget import OutOfBudget, time_budget

Rational = sympy.Rational
SOLVE_SECONDS = 2.0  # the time budget of one program's solution
_MAX_BITS = MAX_VALUE_DIGITS * 3322 // 1000  # log2(10) = 3.3219...


class Unsolvable(Exception):
    """A program with no single exact answer; the message is the rejection reason."""


@dataclass(frozen=True)
class Solution:
    """sympy's answer: one value per asked name, or a comparison symbol."""

    values: dict[str, Fraction]
    comparison: str | None = None
    pairs: tuple[tuple[int, int], ...] | None = None  # the factor pairs a `factors` question asks for

    def answer(self, question) -> Fraction | dict[str, Fraction] | str | tuple:
        """What the question asks: a value, several names' values, a comparison or factor pairs."""
        if isinstance(question, Compare):
            return self.comparison
        if isinstance(question, Factors):
            return self.pairs
        names = question.names
        return self.values[names[0]] if len(names) == 1 else {n: self.values[n] for n in names}


def to_fraction(value: sympy.Rational) -> Fraction:
    return Fraction(int(value.p), int(value.q))


class _Affine:
    """c0 + sum(c_i * unknown_i), with sympy Rational coefficients."""

    __slots__ = ("terms",)

    def __init__(self, terms: dict[str | None, sympy.Rational]):
        self.terms = {k: v for k, v in terms.items() if v != 0 or k is None}

    @property
    def constant(self) -> sympy.Rational:
        return self.terms.get(None, sympy.Integer(0))

    def is_constant(self) -> bool:
        return all(k is None for k in self.terms)

    def combine(self, other: _Affine, sign: int) -> _Affine:
        terms = dict(self.terms)
        for k, v in other.terms.items():
            terms[k] = terms.get(k, sympy.Integer(0)) + sign * v
        return _Affine(terms)

    def scale(self, factor: sympy.Rational) -> _Affine:
        return _Affine({k: v * factor for k, v in self.terms.items()})


class _NonLinear(Exception):
    pass


def _bits(value: sympy.Rational) -> int:
    return max(abs(int(value.p)).bit_length(), int(value.q).bit_length())


def _bounded(affine: _Affine) -> _Affine:
    """The affine form, if none of its numbers has more than MAX_VALUE_DIGITS digits; else Unsolvable."""
    if any(_bits(v) > _MAX_BITS for v in affine.terms.values()):
        raise Unsolvable(f"a value of more than {MAX_VALUE_DIGITS:,} digits")
    return affine


def _exponent(value: sympy.Rational) -> int:
    if not value.is_integer or value < 0 or value > MAX_EXPONENT:
        raise Unsolvable(f"an exponent that is not a whole number up to {MAX_EXPONENT}")
    return int(value)


def _affine(expr: Expr, env: dict[str, sympy.Rational]) -> _Affine:
    if isinstance(expr, Num):
        return _Affine({None: Rational(expr.value.numerator, expr.value.denominator)})
    if isinstance(expr, Var):
        if expr.name in env:
            return _Affine({None: env[expr.name]})
        return _Affine({expr.name: sympy.Integer(1)})
    if isinstance(expr, BinOp):
        left, right = _affine(expr.left, env), _affine(expr.right, env)
        if expr.op == "+":
            return left.combine(right, 1)
        if expr.op == "-":
            return left.combine(right, -1)
        if expr.op == "*":
            if left.is_constant():
                return _bounded(right.scale(left.constant))
            if right.is_constant():
                return _bounded(left.scale(right.constant))
            raise _NonLinear
        if expr.op == "/":
            if not right.is_constant():
                raise _NonLinear
            if right.constant == 0:
                raise Unsolvable("division by zero")
            return _bounded(left.scale(1 / right.constant))
        if expr.op == "^":
            if not (left.is_constant() and right.is_constant()):
                raise _NonLinear
            exponent = _exponent(right.constant)
            if _bits(left.constant) * exponent > _MAX_BITS + exponent:  # checked before it is computed
                raise Unsolvable(f"a value of more than {MAX_VALUE_DIGITS:,} digits")
            return _bounded(_Affine({None: left.constant**exponent}))
        if expr.op in ("//", "%"):
            if not (left.is_constant() and right.is_constant()):
                raise _NonLinear
            dividend, divisor = left.constant, right.constant
            if not (dividend.is_integer and divisor.is_integer and dividend >= 0 and divisor > 0):
                raise Unsolvable("a division with remainder of numbers that are not whole, or by zero")
            return _Affine({None: OPERATIONS[expr.op](dividend, divisor)})
    raise TypeError(f"not an expression: {expr!r}")


def evaluate(expr: Expr, env: dict[str, sympy.Rational]) -> sympy.Rational:
    """The exact value of an expression whose names are all bound."""
    affine = _affine(expr, env)
    if not affine.is_constant():
        raise Unsolvable(f"unbound name(s): {', '.join(k for k in affine.terms if k)}")
    return affine.constant


def _solve_equations(equations: list[_Affine], unknowns: tuple[str, ...]) -> dict[str, sympy.Rational]:
    if len(unknowns) == 1 and len(equations) == 1:
        # One linear equation c*x + k = 0: the common case needs no matrix.
        (name,), (equation,) = unknowns, equations
        coefficient = equation.terms.get(name, 0)
        if coefficient == 0:
            raise Unsolvable(
                "the equations have no solution" if equation.constant != 0 else "the equations have more than one solution"
            )
        return {name: -equation.constant / coefficient}
    matrix = sympy.Matrix([[eq.terms.get(u, 0) for u in unknowns] for eq in equations])
    rhs = sympy.Matrix([-eq.constant for eq in equations])
    try:
        solution, params = matrix.gauss_jordan_solve(rhs)
    except ValueError:
        raise Unsolvable("the equations have no solution") from None
    if params.shape[0]:
        raise Unsolvable("the equations have more than one solution")
    return dict(zip(unknowns, solution))


def _solve_nonlinear(
    program: Program, env: dict[str, sympy.Rational], domain: tuple | None
) -> dict[str, sympy.Rational]:
    symbols = {u: sympy.Symbol(u) for u in program.unknowns}

    def to_sympy(expr: Expr):
        if isinstance(expr, Num):
            return Rational(expr.value.numerator, expr.value.denominator)
        if isinstance(expr, Var):
            return env[expr.name] if expr.name in env else symbols[expr.name]
        left, right = to_sympy(expr.left), to_sympy(expr.right)
        if expr.op == "^":
            # An unknown's power is bounded like any other: sympy would try x ^ 99999999 for hours.
            if not isinstance(right, sympy.Rational):
                raise Unsolvable(f"an exponent that is not a whole number up to {MAX_EXPONENT}")
            right = _exponent(right)
        elif expr.op in ("//", "%"):
            raise Unsolvable("a division with remainder of an unknown")
        return OPERATIONS[expr.op](left, right)

    equations = [sympy.Eq(to_sympy(s.left), to_sympy(s.right)) for s in program.statements if isinstance(s, Solve)]
    real = None
    if len(equations) == 1 and len(symbols) == 1:
        # One polynomial equation in one unknown: its rational roots, without the general solver (~15x faster).
        (symbol,) = symbols.values()
        try:
            roots = sympy.Poly(equations[0].lhs - equations[0].rhs, symbol).ground_roots()
            real = [{symbol: root} for root in roots]
        except sympy.PolynomialError:
            real = None
    if real is None:
        solutions = sympy.solve(equations, list(symbols.values()), dict=True)
        real = [s for s in solutions if all(v.is_rational for v in s.values())]
    if domain is not None:
        low, high = domain
        real = [s for s in real if all(low <= v <= high for v in s.values())]
    if len(real) != 1:
        raise Unsolvable(f"the equations have {len(real)} rational solutions, not one")
    return {name: real[0][symbol] for name, symbol in symbols.items()}


def solve(program: Program, domain: tuple | None = None, budget: float | None = None) -> Solution:
    """The exact answer of a program; Unsolvable says why there is none (one reason is a solution
    that takes more than `budget` seconds, SOLVE_SECONDS unless given).

    `domain` (low, high) is where the unknowns live, as a definition declares it: an equation
    such as x ^ 2 = 49 has one solution among the whole numbers and two among the rationals."""
    budget = SOLVE_SECONDS if budget is None else budget
    try:
        with time_budget(budget):
            return _solve(program, domain)
    except OutOfBudget:
        raise Unsolvable(f"no solution within the time budget ({budget:g} s)") from None


def _solve(program: Program, domain: tuple | None) -> Solution:
    env: dict[str, sympy.Rational] = {}
    equations: list[_Affine] = []
    nonlinear = False
    unknowns = program.unknowns
    after: list[Let] = []  # quantities that use an unknown: known once the equations are solved
    for statement in program.statements:
        if isinstance(statement, Let):
            if after or set(free_names(statement.expr)) & set(unknowns):
                after.append(statement)
            else:
                env[statement.name] = evaluate(statement.expr, env)
        else:
            if after:
                raise Unsolvable("an equation after a quantity that uses an unknown")
            try:
                equations.append(_affine(statement.left, env).combine(_affine(statement.right, env), -1))
            except _NonLinear:
                nonlinear = True
    if unknowns:
        solved = _solve_nonlinear(program, env, domain) if nonlinear else _solve_equations(equations, unknowns)
        env.update(solved)
    elif equations and any(eq.constant != 0 for eq in equations):
        raise Unsolvable("an equation without unknowns is false")
    for statement in after:
        env[statement.name] = evaluate(statement.expr, env)
    values = {name: to_fraction(value) for name, value in env.items()}
    question = program.question
    if isinstance(question, Ask):
        missing = [n for n in question.names if n not in values]
        if missing:
            raise Unsolvable(f"asks for unbound name(s): {', '.join(missing)}")
        return Solution(values)
    if isinstance(question, Factors):
        number = evaluate(question.number, env)
        if not (number.is_integer and number >= 1):
            raise Unsolvable("factor pairs of a number that is not a positive whole number")
        n = int(number)
        pairs = tuple((int(d), n // int(d)) for d in sympy.divisors(n) if d * d <= n)
        return Solution(values, pairs=pairs)
    left = to_fraction(evaluate(question.left, env))
    right = to_fraction(evaluate(question.right, env))
    return Solution(values, comparison_of(left, right))
