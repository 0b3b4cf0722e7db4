"""The instantiation stage: numbers for a skeleton's holes that satisfy the declared constraints.

Cheapest sound method first. An equation `solve h = e(x)` whose one side is a
bare hole is built from its answer: x is drawn from the answer's range, the
other holes from theirs, and h is computed. Everything else is rejection
sampling with a bounded budget; each rejection's reason is counted. Equations
that cannot be built that way are solved exactly after the holes are drawn.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from mathcamps.answers import AnswerKind
from mathcamps.language import Ask, BinOp, Expr, Hole, Let, Num, Program, Solve, decimal_places, free_names
from mathcamps.registry import Definition
from mathcamps.solvers.constraints import (
    Violation,
    check_answer,
    check_fractions,
    check_literal,
    check_trivial,
    check_value,
    evaluate,
)
from mathcamps.solvers.exact import Unsolvable, solve

from mathcamps.compiler.sampler import Skeleton


@dataclass(frozen=True)
class _Built:
    """A Solve statement built from its answer: its unknown is drawn, its bare-hole side computed."""

    unknown: str
    hole: int
    other_side: Expr


@dataclass(frozen=True)
class Plan:
    """How to fill one skeleton: which holes are drawn, which equations are built from their answer,
    which are inverted (one unknown, once, outside any divisor: solved exactly in Fractions), and
    whether anything is left for the exact solver."""

    drawn: tuple[int, ...]
    built: dict[int, _Built]  # statement index -> construction
    inverted: dict[int, str]  # statement index -> its unknown
    needs_solving: bool
    dividends: dict[int, list[tuple[int, Expr, bool]]]  # statement -> (hole, divisor, is the answer)


def _mentions(expr: Expr, name: str) -> bool:
    return name in free_names(expr)


def _affine(expr: Expr, name: str) -> bool:
    """Whether `expr` is c * name + d for numbers c and d (so two evaluations invert it exactly)."""
    if not isinstance(expr, BinOp):
        return True
    left, right = _mentions(expr.left, name), _mentions(expr.right, name)
    if expr.op in "+-":
        return _affine(expr.left, name) and _affine(expr.right, name)
    if expr.op == "*":
        return not (left and right) and _affine(expr.left, name) and _affine(expr.right, name)
    if expr.op == "/":
        return not right and _affine(expr.left, name)
    return not (left or right)


def plan(program: Program, build_dividends: bool = True) -> Plan:
    """The construction plan of a skeleton; `build_dividends`: build bare dividends from their quotients
    (for quotients that must be whole or exact decimals; a fraction 3 / 4 is drawn as it is)."""
    bound = {s.name for s in program.statements if isinstance(s, Let)}
    introduced: set[str] = set()
    built: dict[int, _Built] = {}
    inverted: dict[int, str] = {}
    needs_solving = False
    for i, statement in enumerate(program.statements):
        if not isinstance(statement, Solve):
            continue
        new = {n for n in free_names(statement.left) + free_names(statement.right) if n not in bound} - introduced
        introduced |= new
        if not new:
            continue
        for hole_side, other in ((statement.left, statement.right), (statement.right, statement.left)):
            if isinstance(hole_side, Hole) and len(new) == 1 and set(free_names(other)) & new:
                built[i] = _Built(next(iter(new)), hole_side.index, other)
                break
        else:
            (name,) = new if len(new) == 1 else (None,)
            difference = BinOp("-", statement.left, statement.right)
            if name and _mentions(difference, name) and _affine(difference, name):
                inverted[i] = name
            else:
                needs_solving = True
    derived = {b.hole for b in built.values()}
    # A dividend that is a bare number is built from its quotient: draw the quotient, multiply.
    asked = set(program.question.names) if isinstance(program.question, Ask) else set()
    dividends: dict[int, list[tuple[int, Expr, bool]]] = {}
    for i, statement in enumerate(program.statements if build_dividends else ()):
        tops = [statement.expr] if isinstance(statement, Let) else [statement.left, statement.right]
        for top in tops:
            for node in _post_order(top):
                if (
                    isinstance(node, BinOp)
                    and node.op == "/"
                    and isinstance(node.left, Hole)
                    and node.left.index not in derived
                    and node.left not in set(_holes(node.right))
                ):
                    is_answer = node is top and isinstance(statement, Let) and statement.name in asked
                    dividends.setdefault(i, []).append((node.left.index, node.right, is_answer))
                    derived.add(node.left.index)
    holes = sorted({n.index for e in program.expressions() for n in _holes(e)})
    return Plan(tuple(h for h in holes if h not in derived), built, inverted, needs_solving, dividends)


def _post_order(expr: Expr):
    if isinstance(expr, BinOp):
        yield from _post_order(expr.left)
        yield from _post_order(expr.right)
    yield expr


def _holes(expr: Expr):
    if isinstance(expr, Hole):
        yield expr
    elif isinstance(expr, BinOp):
        yield from _holes(expr.left)
        yield from _holes(expr.right)


def fill(expr: Expr, holes: list[Fraction]) -> Expr:
    """The expression with its holes replaced by literals."""
    if isinstance(expr, Hole):
        return Num(holes[expr.index])
    if isinstance(expr, BinOp):
        return BinOp(expr.op, fill(expr.left, holes), fill(expr.right, holes))
    return expr


def fill_program(program: Program, holes: list[Fraction]) -> Program:
    return program.map_expressions(lambda expr: fill(expr, holes))


@dataclass
class Instantiator:
    """Draws numbers for skeletons of one standard, counting attempts and rejection reasons."""

    definition: Definition
    budget: int = 1000

    def __post_init__(self):
        self.attempts = 0
        self.rejections: Counter[str] = Counter()
        self._plans: dict[str, Plan] = {}

    def instantiate(self, skeleton: Skeleton, rng: random.Random) -> tuple[Program, dict]:
        """A filled program and its unknowns' values; Violation if the budget runs out."""
        key = (skeleton.text, skeleton.ranges)
        skeleton_plan = self._plans.get(key)
        if skeleton_plan is None:
            d = self.definition
            exact = d.whole or d.answer.kind is AnswerKind.decimal
            skeleton_plan = self._plans[key] = plan(skeleton.program, build_dividends=exact)
        program = skeleton.program
        bounds = self.definition.literal_bounds(skeleton.ranges)
        for _ in range(self.budget):
            self.attempts += 1
            try:
                return self._attempt(program, skeleton_plan, bounds, skeleton.ranges, rng)
            except Violation as violation:
                self.rejections[str(violation)] += 1
        raise Violation(f"numbers: no assignment in {self.budget} attempts")

    def _answer_bounds(self) -> tuple[int, int]:
        """Where an answer built first is drawn: the answer range within the values range."""
        d = self.definition
        low = max(d.values.min, d.answer.min if d.answer.min is not None else d.values.min)
        high = min(d.values.max, d.answer.max if d.answer.max is not None else d.values.max)
        if low > high:
            raise Violation("answer: the declared answer range is empty")
        return low, high

    def _draw(self, rng: random.Random, low, high, places: int = 0) -> Fraction:
        """A number with `places` decimal places in [low, high], uniformly."""
        scale = 10**places
        return Fraction(rng.randint(math.ceil(low * scale), math.floor(high * scale)), scale)

    def _dividend(self, divisor: Fraction, is_answer: bool, rng: random.Random) -> Fraction:
        """A dividend built from its quotient: the quotient is drawn whole (or with as many decimal
        places as the literals leave room for), only among those whose dividend is an allowed literal."""
        d = self.definition
        if divisor == 0:
            raise Violation("division by zero")
        low, high = self._answer_bounds() if is_answer else (d.values.min, d.values.max)
        ends = (Fraction(d.numbers.min) / divisor, Fraction(d.numbers.max) / divisor)
        low, high = max(low, min(ends)), min(high, max(ends))
        places = 0 if d.whole else max(0, d.numbers.places - (decimal_places(divisor) or 0))
        if is_answer and d.answer.places is not None:
            places = min(places, d.answer.places)
        scale = 10**places
        if math.ceil(low * scale) > math.floor(high * scale):
            raise Violation("numbers: no dividend in range for this divisor")
        return check_literal(self._draw(rng, low, high, places) * divisor, d)

    def _attempt(
        self, program: Program, skeleton_plan: Plan, bounds: list, ranges: tuple, rng: random.Random
    ) -> tuple[Program, dict]:
        d = self.definition
        holes: list[Fraction] = [Fraction(0)] * len(bounds)
        for index in skeleton_plan.drawn:
            holes[index] = self._draw(rng, bounds[index].min, bounds[index].max, bounds[index].places)
        asked = set(program.question.names) if isinstance(program.question, Ask) else set()
        env: dict[str, Fraction] = {}
        for i, statement in enumerate(program.statements):
            for hole, divisor, is_answer in skeleton_plan.dividends.get(i, ()):
                holes[hole] = self._dividend(evaluate(divisor, holes, env, d), is_answer, rng)
            if isinstance(statement, Let):
                env[statement.name] = evaluate(statement.expr, holes, env, d)
                continue
            if i in skeleton_plan.inverted:
                name = skeleton_plan.inverted[i]
                difference = BinOp("-", statement.left, statement.right)
                at_zero = evaluate(difference, holes, {**env, name: Fraction(0)}, None)
                slope = evaluate(difference, holes, {**env, name: Fraction(1)}, None) - at_zero
                if slope == 0:
                    raise Violation("numbers: the equation does not determine its unknown")
                env[name] = check_value(-at_zero / slope, d)
                evaluate(statement.left, holes, env, d)
                evaluate(statement.right, holes, env, d)
                continue
            built = skeleton_plan.built.get(i)
            if built is None:
                continue
            low, high = self._answer_bounds() if built.unknown in asked else (d.values.min, d.values.max)
            env[built.unknown] = self._draw(rng, low, high)
            holes[built.hole] = check_literal(evaluate(built.other_side, holes, env, d), d)
        filled = fill_program(program, holes)
        check_fractions(filled, d)
        check_trivial(filled, d)
        unknowns = {u: env[u] for u in filled.unknowns if u in env}
        if skeleton_plan.needs_solving:
            try:
                solution = solve(filled)
            except Unsolvable as error:
                raise Violation(f"numbers: {error}") from None
            for name in filled.unknowns:
                unknowns[name] = check_value(solution.values[name], d)
            env.update(unknowns)
            for statement in filled.statements:
                if isinstance(statement, Solve):
                    evaluate(statement.left, [], env, d)
                    evaluate(statement.right, [], env, d)
        if d.polygon is not None:
            sides = [holes[i] for i, name in enumerate(ranges) if name == d.polygon]
            if len(sides) >= 2:
                sides += list(unknowns.values())
            if len(sides) >= 3 and 2 * max(sides) >= sum(sides):
                raise Violation("polygon: a side is not shorter than the other sides together")
        if d.distinct:
            values = [n.value for n in filled.literals()]
            if len(set(values)) != len(values):
                raise Violation("distinct: a literal repeats")
        check_answer(filled, env, d)
        return filled, unknowns

