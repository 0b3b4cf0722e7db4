"""z3's stage: prove sympy's answers from an independent translation of each program.

A batch of problems goes to z3 as one SMT-LIB text. Two checks prove the batch:
every problem's facts with its claimed answer are satisfiable (the answer is a
solution), and the facts with "some problem's answer differs from its claim" are
not (no other answer exists: this is uniqueness for unknowns too). A model of
the second check names the problems whose claim fails; `unknown` is never a pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Union

import z3

from mathcamps.language import MAX_EXPONENT, Ask, BinOp, Compare, Expr, Factors, Let, Num, Program, Solve, Var, walk

_SMT_OPS = {"+": "+", "-": "-", "*": "*", "/": "/"}
_RELATIONS = {"<": "<", ">": ">", "=": "="}

PROVED = "proved"
BATCH_TIMEOUT_MS = 10_000  # one check of a whole batch
CLAIM_TIMEOUT_MS = 2_000  # one claim checked alone, after its batch ran out of time: a batch of 200
# hostile problems costs at most 10 s + 200 x 2 s, never hours


class Untranslatable(ValueError):
    """A program z3 is not given: the message is the rejection reason."""


@dataclass(frozen=True)
class Claim:
    """A program and the answer to prove: a value per asked name, or a comparison symbol."""

    program: Program
    answer: Union[Fraction, dict, str]
    domain: tuple | None = None  # (low, high) of the unknowns, as the definition declares it


def smt_number(value: Fraction) -> str:
    magnitude = abs(value)
    text = (
        f"{magnitude.numerator}.0"
        if magnitude.denominator == 1
        else f"(/ {magnitude.numerator}.0 {magnitude.denominator}.0)"
    )
    return f"(- {text})" if value < 0 else text


def _smt_expr(expr: Expr, prefix: str) -> str:
    if isinstance(expr, Num):
        return smt_number(expr.value)
    if isinstance(expr, Var):
        return prefix + expr.name
    if isinstance(expr, BinOp) and expr.op == "^":
        # A power with a literal whole exponent is a product: z3 reasons about it as a polynomial.
        exponent = expr.right.value if isinstance(expr.right, Num) else None
        if exponent is None or exponent.denominator != 1 or not 0 <= exponent <= MAX_EXPONENT:
            raise Untranslatable("a power whose exponent is not a literal whole number")
        if exponent == 0:
            return "1.0"
        base = _smt_expr(expr.left, prefix)
        return base if exponent == 1 else f"(* {' '.join([base] * int(exponent))})"
    if isinstance(expr, BinOp) and expr.op in ("//", "%"):
        # Real floor division: to_int is the floor. Whole operands are a constraint, checked apart.
        left, right = _smt_expr(expr.left, prefix), _smt_expr(expr.right, prefix)
        quotient = f"(to_real (to_int (/ {left} {right})))"
        return quotient if expr.op == "//" else f"(- {left} (* {right} {quotient}))"
    if isinstance(expr, BinOp):
        return f"({_SMT_OPS[expr.op]} {_smt_expr(expr.left, prefix)} {_smt_expr(expr.right, prefix)})"
    raise TypeError(f"cannot translate {expr!r}")


def translate(claim: Claim, tag: str) -> tuple[str, str]:
    """SMT-LIB for one problem: its declarations and facts, and the Bool `tag` that holds its claim."""
    program, prefix = claim.program, f"{tag}_"
    names = [s.name for s in program.statements if isinstance(s, Let)] + list(program.unknowns)
    lines = [f"(declare-const {prefix}{name} Real)" for name in names]
    if claim.domain is not None:
        low, high = (smt_number(Fraction(bound)) for bound in claim.domain)
        lines += [f"(assert (and (>= {prefix}{u} {low}) (<= {prefix}{u} {high})))" for u in program.unknowns]
    for statement in program.statements:
        if isinstance(statement, Let):
            lines.append(f"(assert (= {prefix}{statement.name} {_smt_expr(statement.expr, prefix)}))")
        else:
            lines.append(f"(assert (= {_smt_expr(statement.left, prefix)} {_smt_expr(statement.right, prefix)}))")
    # A division by zero is undefined, never a value: z3 (where x / 0 is some unspecified number)
    # must not find models that divide by zero, e.g. w = 0 for 8 = 32 / w.
    for expr in program.expressions():
        for node in walk(expr):
            if isinstance(node, BinOp) and node.op in ("/", "//", "%") and not isinstance(node.right, Num):
                lines.append(f"(assert (not (= {_smt_expr(node.right, prefix)} 0.0)))")
    question = program.question
    if isinstance(question, Compare):
        if claim.answer not in _RELATIONS:
            raise ValueError(f"not a comparison: {claim.answer!r}")
        holds = f"({_RELATIONS[claim.answer]} {_smt_expr(question.left, prefix)} {_smt_expr(question.right, prefix)})"
    elif isinstance(question, Factors):
        number = question.number.value if isinstance(question.number, Num) else None
        holds = _factor_pairs_hold(claim.answer, _smt_expr(question.number, prefix), prefix, lines, number)
    else:
        assert isinstance(question, Ask)
        values = claim.answer if isinstance(claim.answer, dict) else {question.names[0]: claim.answer}
        parts = [f"(= {prefix}{name} {smt_number(Fraction(values[name]))})" for name in question.names]
        holds = parts[0] if len(parts) == 1 else f"(and {' '.join(parts)})"
    lines.append(f"(declare-const {tag} Bool)")
    lines.append(f"(assert (= {tag} {holds}))")
    return "\n".join(lines), tag


def _factor_pairs_hold(pairs, number: str, prefix: str, lines: list[str], literal: Fraction | None) -> str:
    """The claim that `pairs` are exactly the factor pairs (a <= b) of `number`: each multiplies to
    it, and every a <= b that multiplies to it is one of them.

    For a literal n, a <= b means a <= isqrt(n): z3 checks each such a with its own integer
    arithmetic (if a divides n, then (a, n div a) is listed), a finite ground fact it decides at once.
    Otherwise a and b are free integers, and a model is a missing pair."""
    pairs = tuple(pairs)
    ordered = all(0 < a <= b for a, b in pairs) and all(x[0] < y[0] for x, y in zip(pairs, pairs[1:]))
    if not pairs or not ordered:
        return "false"
    products = " ".join(f"(= {smt_number(Fraction(x * y))} {number})" for x, y in pairs)

    def listed(a: str, b: str) -> str:
        return "(or " + " ".join(f"(and (= {a} {x}) (= {b} {y}))" for x, y in pairs) + ")"

    if literal is not None and literal.denominator == 1 and 0 < literal <= 10**8:
        n = literal.numerator
        complete = " ".join(
            f"(=> (= (mod {n} {a}) 0) {listed(str(a), f'(div {n} {a})')})" for a in range(1, math.isqrt(n) + 1)
        )
        return f"(and {products} {complete})"
    a, b = f"{prefix}factor_a", f"{prefix}factor_b"
    lines += [f"(declare-const {a} Int)", f"(declare-const {b} Int)"]
    divides = f"(and (>= {a} 1) (<= {a} {b}) (= (to_real (* {a} {b})) {number}))"
    return f"(and {products} (=> {divides} {listed(a, b)}))"


def _check(text: str, timeout_ms: int) -> tuple[z3.CheckSatResult, z3.Solver]:
    # A context of its own per check: z3 contexts are not thread-safe, and a garbage collection
    # in another thread must never release terms of the context a check is using.
    solver = z3.Solver(ctx=z3.Context())
    solver.set("timeout", timeout_ms)
    solver.from_string(text)
    return solver.check(), solver


def prove(claims: list[Claim], timeout_ms: int = BATCH_TIMEOUT_MS) -> list[str]:
    """For each claim, `proved` or the reason z3 could not prove it."""
    verdicts: list[str | None] = [None] * len(claims)
    facts: dict[int, tuple[str, str]] = {}
    for i, claim in enumerate(claims):
        try:
            facts[i] = translate(claim, f"c{i}")
        except Untranslatable as error:
            verdicts[i] = f"z3: {error}"
    # A program of `let`s alone always has a model (each name is defined once), so only
    # programs with equations need the existence check.
    with_equations = {i for i in facts if any(isinstance(s, Solve) for s in claims[i].program.statements)}
    _prove_batch(facts, verdicts, timeout_ms, with_equations)
    return [v if v is not None else PROVED for v in verdicts]


def _prove_batch(
    facts: dict[int, tuple[str, str]], verdicts: list, timeout_ms: int, with_equations: set, checked: bool = False
) -> None:
    if not checked and with_equations & set(facts):
        _check_existence({i: facts[i] for i in with_equations if i in facts}, verdicts, timeout_ms)
    pending = {i: item for i, item in facts.items() if verdicts[i] is None}
    # Uniqueness: no model of the facts breaks a claim; a model names the claims it breaks.
    while pending:
        body = "\n".join(text for text, _ in pending.values())
        some_fails = "(assert (or " + " ".join(f"(not {tag})" for _, tag in pending.values()) + "))"
        result, solver = _check(body + "\n" + some_fails, timeout_ms)
        if result == z3.unsat:
            return
        if result == z3.unknown:
            if len(pending) == 1:
                (i,) = pending
                verdicts[i] = "z3: unknown (timeout) proving the answer is the only one"
                return
            for i, item in pending.items():
                _prove_batch({i: item}, verdicts, min(timeout_ms, CLAIM_TIMEOUT_MS), with_equations, checked=True)
            return
        model = solver.model()
        ctx = solver.ctx
        failed = [
            i for i, (_, tag) in pending.items() if z3.is_false(model.eval(z3.Bool(tag, ctx), model_completion=True))
        ]
        if not failed:  # cannot happen for a sound model; never loop on it
            for i in pending:
                verdicts[i] = "z3: a model that breaks some claim names none of them"
            return
        for i in failed:
            verdicts[i] = (
                "z3: another value also satisfies the problem"
                if i in with_equations
                else "z3: the claimed answer does not satisfy the problem"
            )
            del pending[i]


def _check_existence(pending: dict[int, tuple[str, str]], verdicts: list, timeout_ms: int) -> None:
    """Every claim is a solution of its own problem (the problems share no names)."""
    body = "\n".join(text for text, _ in pending.values())
    result, _ = _check(body + "\n" + "\n".join(f"(assert {tag})" for _, tag in pending.values()), timeout_ms)
    if result == z3.sat:
        return
    if len(pending) == 1:
        (i,) = pending
        verdicts[i] = (
            "z3: the claimed answer does not satisfy the problem"
            if result == z3.unsat
            else "z3: unknown (timeout) proving the answer is a solution"
        )
        return
    for i, item in pending.items():
        _check_existence({i: item}, verdicts, min(timeout_ms, CLAIM_TIMEOUT_MS))
