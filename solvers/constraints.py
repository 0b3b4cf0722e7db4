"""Declared constraints: checked on every problem, and proved satisfiable (or not) by z3 at load time."""

from __future__ import annotations

from fractions import Fraction

import z3

from mathcamps.answers import AnswerKind
from mathcamps.language import (
    MAX_EXPONENT,
    OPERATIONS,
    Ask,
    BinOp,
    Expr,
    Factors,
    Hole,
    Let,
    Num,
    Program,
    Var,
    decimal_places,
    walk,
)
from mathcamps.registry import Definition, Range


class Violation(Exception):
    """A declared constraint that a candidate breaks; the message is the counted reason."""


def check_value(value: Fraction, definition: Definition) -> Fraction:
    """`value` if it is an allowed intermediate value, else Violation naming the constraint."""
    if definition.whole and value.denominator != 1:
        raise Violation("whole: a value that is not a whole number")
    if value < definition.values.min:
        raise Violation("values.min: a value below the declared range")
    if value > definition.values.max:
        raise Violation("values.max: a value above the declared range")
    return value


def check_literal(value: Fraction, definition: Definition) -> Fraction:
    """`value` if it is an allowed literal, else Violation naming the constraint."""
    if definition.whole and value.denominator != 1:
        raise Violation("whole: a literal that is not a whole number")
    if (value * 10**definition.numbers.places).denominator != 1:
        raise Violation("numbers.places: a literal with more decimal places than declared")
    if value < definition.numbers.min:
        raise Violation("numbers.min: a literal below the declared range")
    if value > definition.numbers.max:
        raise Violation("numbers.max: a literal above the declared range")
    return value


def evaluate(
    expr: Expr, holes: list[Fraction], env: dict[str, Fraction], definition: Definition | None
) -> Fraction:
    """The exact value of an expression, checking every intermediate value against the definition
    (unless it is None: then only division by zero is refused)."""
    if isinstance(expr, Num):
        return expr.value
    if isinstance(expr, Hole):
        return holes[expr.index]
    if isinstance(expr, Var):
        return env[expr.name]
    left = evaluate(expr.left, holes, env, definition)
    right = evaluate(expr.right, holes, env, definition)
    if expr.op == "/" and right == 0:
        raise Violation("division by zero")
    if expr.op == "^" and (right.denominator != 1 or not 0 <= right <= MAX_EXPONENT):
        raise Violation(f"power: an exponent that is not a whole number up to {MAX_EXPONENT}")
    if expr.op in ("//", "%") and (left.denominator != 1 or right.denominator != 1 or left < 0 or right <= 0):
        raise Violation("remainder: a division with remainder needs whole numbers and a positive divisor")
    value = OPERATIONS[expr.op](left, right)
    return value if definition is None else check_value(value, definition)


def check_fractions(program: Program, definition: Definition) -> None:
    """The declared rules for fractions (quotients of two literals): Violation names the one broken."""
    rules = definition.fractions
    if rules.whole and rules.improper:
        return
    for top in program.expressions():
        for node in walk(top):
            if isinstance(node, BinOp) and node.op == "/" and isinstance(node.left, Num) and isinstance(node.right, Num):
                if node.right.value == 0:
                    raise Violation("division by zero")
                value = node.left.value / node.right.value
                if not rules.whole and value.denominator == 1:
                    raise Violation("fractions.whole: a fraction that is a whole number")
                if not rules.improper and abs(value) > 1:
                    raise Violation("fractions.improper: a fraction greater than 1")


def check_trivial(program: Program, definition: Definition) -> None:
    """Violation for an operation by a literal that changes nothing (× 1, ÷ 1, + 0, - 0), unless
    the definition allows them (`trivial: true`)."""
    if definition.trivial:
        return
    for top in program.expressions():
        for node in walk(top):
            if not isinstance(node, BinOp):
                continue
            right = node.right.value if isinstance(node.right, Num) else None
            left = node.left.value if isinstance(node.left, Num) else None
            if (node.op in ("*", "/", "//") and right == 1) or (node.op == "*" and left == 1):
                raise Violation("trivial: an operation by 1 changes nothing (× 1 or ÷ 1)")
            if (node.op in ("+", "-") and right == 0) or (node.op == "+" and left == 0):
                raise Violation("trivial: adding or taking away 0 changes nothing")


def check_problem(program: Program, definition: Definition, unknowns: dict[str, Fraction]) -> None:
    """Every declared constraint on a finished problem; Violation names the first one broken."""
    check_fractions(program, definition)
    check_trivial(program, definition)
    literals = [n.value for n in program.literals()]
    for value in literals:
        check_literal(value, definition)
    if definition.distinct and len(set(literals)) != len(literals):
        raise Violation("distinct: a literal repeats")
    env = {name: check_value(value, definition) for name, value in unknowns.items()}
    for statement in program.statements:
        if isinstance(statement, Let):
            env[statement.name] = evaluate(statement.expr, [], env, definition)
        else:
            evaluate(statement.left, [], env, definition)
            evaluate(statement.right, [], env, definition)
    check_answer(program, env, definition)


def check_answer(program: Program, env: dict[str, Fraction], definition: Definition) -> None:
    question = program.question
    if isinstance(question, Ask):
        for name in question.names:
            value = env[name]
            if not definition.answer.admits(value):
                raise Violation("answer: the answer is outside the declared range")
            if definition.answer.kind is AnswerKind.decimal:
                places = decimal_places(value)
                if places is None:
                    raise Violation("answer: a decimal answer that does not terminate")
                if definition.answer.places is not None and places > definition.answer.places:
                    raise Violation("answer.places: a decimal answer with more places than declared")
    elif isinstance(question, Factors):
        number = evaluate(question.number, [], env, definition)
        if number.denominator != 1 or number < 1:
            raise Violation("factors: factor pairs of a number that is not a positive whole number")


# ------------------------------------------------------------------ feasibility


def infeasibility(
    program: Program, definition: Definition, bounds: list[Range] | None = None, timeout_ms: int = 5000
) -> list[str] | None:
    """None if some choice of numbers satisfies every declared constraint for this skeleton;
    else the names of the constraints that conflict (z3's unsat core). `bounds` gives each
    hole's declared range (default: `numbers`)."""
    ctx = z3.Context()  # its own context: see solvers/prover.py
    solver = z3.Solver(ctx=ctx)
    solver.set("timeout", timeout_ms)
    solver.set("unsat_core", True)
    tracked: dict[str, list] = {}

    def track(label: str, condition) -> None:
        tracked.setdefault(label, []).append(condition)

    holes: dict[int, z3.ArithRef] = {}
    names: dict[str, z3.ArithRef] = {}
    fixed: list = []

    def term(expr: Expr):
        if isinstance(expr, Num):
            value = z3.RealVal(f"{expr.value.numerator}/{expr.value.denominator}", ctx)
            fixed.append(value)
            return value
        if isinstance(expr, Hole):
            if expr.index not in holes:
                holes[expr.index] = z3.Real(f"hole{expr.index}", ctx)
            return holes[expr.index]
        if isinstance(expr, Var):
            if expr.name not in names:
                names[expr.name] = z3.Real(expr.name, ctx)
            return names[expr.name]
        left, right = term(expr.left), term(expr.right)
        if expr.op == "/":
            track("nonzero divisor", right != 0)
        if expr.op == "^":
            value = power(expr, left)
        elif expr.op in ("//", "%"):
            track("remainder", z3.And(z3.IsInt(left), z3.IsInt(right), left >= 0, right > 0))
            quotient = z3.ToReal(z3.ToInt(left / right))
            value = quotient if expr.op == "//" else left - right * quotient
        else:
            value = OPERATIONS[expr.op](left, right)
        intermediate.append(value)
        return value

    def power(expr, base):
        # z3 gets powers as products: a literal exponent directly, a hole exponent case by case
        # over its declared range.
        if isinstance(expr.right, Num):
            exponents = [expr.right.value]
        elif isinstance(expr.right, Hole) and bounds is not None:
            low, high = bounds[expr.right.index].min, bounds[expr.right.index].max
            if high - low > MAX_EXPONENT:
                return z3.FreshReal("power", ctx)
            exponents = [Fraction(e) for e in range(max(low, 0), high + 1)]
        else:
            return z3.FreshReal("power", ctx)
        result = z3.FreshReal("power", ctx)
        cases = []
        for e in exponents:
            if e.denominator != 1 or not 0 <= e <= MAX_EXPONENT:
                continue
            product = z3.RealVal(1, ctx)
            for _ in range(int(e)):
                product = product * base
            holds = result == product
            cases.append(holds if isinstance(expr.right, Num) else z3.And(term(expr.right) == int(e), holds))
        if cases:
            solver.add(z3.Or(*cases))
        else:
            track(f"power: no exponent of its declared range is a whole number up to {MAX_EXPONENT}", z3.BoolVal(False, ctx))
        return result

    intermediate: list = []
    facts = []
    for statement in program.statements:
        if isinstance(statement, Let):
            facts.append(term(Var(statement.name)) == term(statement.expr))
        else:
            facts.append(term(statement.left) == term(statement.right))
    question = program.question
    if isinstance(question, Factors):
        number = term(question.number)
        track("factors", z3.And(z3.IsInt(number), number >= 1))
    elif not isinstance(question, Ask):
        term(question.left)
        term(question.right)
    for fact in facts:
        solver.add(fact)
    for index, hole in holes.items():
        bound, label = (definition.numbers, "numbers")
        if bounds is not None and bounds[index] is not definition.numbers:
            label = "ranges"
            bound = bounds[index]
        track(f"{label}.min", hole >= bound.min)
        track(f"{label}.max", hole <= bound.max)
        track(f"{label}.places", z3.IsInt(hole * 10**bound.places))
        if definition.whole:
            track("whole", z3.IsInt(hole))
    for value in intermediate + list(names.values()):
        track("values.min", value >= definition.values.min)
        track("values.max", value <= definition.values.max)
        if definition.whole:
            track("whole", z3.IsInt(value))
    if isinstance(program.question, Ask):
        for name in program.question.names:
            if definition.answer.min is not None:
                track("answer.min", names[name] >= definition.answer.min)
            if definition.answer.max is not None:
                track("answer.max", names[name] <= definition.answer.max)
    if definition.distinct:
        track("distinct", z3.Distinct(*holes.values(), *fixed) if len(holes) + len(fixed) > 1 else z3.BoolVal(True, ctx))
    for label, conditions in tracked.items():
        solver.assert_and_track(z3.And(*conditions), z3.Bool(label, ctx))
    result = solver.check()
    if result == z3.sat:
        return None
    if result == z3.unknown:
        return ["unknown (timeout)"]
    return sorted(str(c) for c in solver.unsat_core())
