"""The MathCAMPS v1 symbolic language (`[[var x = (90 - 81)]]`): read into the core AST, and written from it.

Its grammar is data (grammars/legacy/mathcamps_v1.lark) and uses the core's rule names, so the
same ProgramBuilder makes the expressions; only the question differs: a list of quoted entries
that name the asked quantities, hold a comparison, a number (its factor pairs are asked) or an
expression (its value is asked).
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

from lark import Tree

from mathcamps.language import (
    Ask,
    BinOp,
    Compare,
    Factors,
    Grammar,
    Let,
    Num,
    Program,
    ProgramBuilder,
    ProgramError,
    Solve,
    Var,
    format_number,
    grammar_dir,
    load_grammar,
)


class _LegacyBuilder(ProgramBuilder):
    def node_entry(self, expr):
        return expr

    def node_question(self, _name, *entries):
        return Tree("question", list(entries))


def _question(entries: list, statements: list) -> tuple[list, object]:
    if len(entries) == 1 and isinstance(entries[0], Compare):
        return statements, entries[0]
    if all(isinstance(e, Var) for e in entries):
        return statements, Ask(tuple(e.name for e in entries))
    if len(entries) == 1 and isinstance(entries[0], Num):
        return statements, Factors(entries[0])
    if len(entries) == 1:
        # The value of an expression: a quantity of its own, then asked.
        taken = {s.name for s in statements if isinstance(s, Let)}
        name = next(n for n in ("answer", *(f"answer{i}" for i in range(2, 100))) if n not in taken)
        return statements + [Let(name, entries[0])], Ask((name,))
    raise ProgramError("a question must name quantities, or hold one comparison, number or expression")


@lru_cache(maxsize=1)
def legacy_grammar() -> Grammar:
    return load_grammar(grammar_dir() / "legacy" / "mathcamps_v1.lark", builder=_LegacyBuilder())


def parse_legacy(text: str, source: str = "<symbolic-struct>") -> Program:
    """The Program a MathCAMPS v1 `symbolic-struct` denotes; ProgramError says where it fails."""
    tree = legacy_grammar().parse_tree(text, source)
    parts = tree.children if isinstance(tree, Tree) else [tree]
    statements = [p for p in parts if isinstance(p, (Let, Solve))]
    questions = [p for p in parts if isinstance(p, Tree) and p.data == "question"]
    if len(questions) != 1:
        raise ProgramError(f"{source}: a program needs exactly one [[question ...]], not {len(questions)}")
    try:
        statements, question = _question(questions[0].children, statements)
    except ProgramError as error:
        raise ProgramError(f"{source}: {error}") from None
    return Program(tuple(statements), question)


# ---------------------------------------------------------------- writing

# What the v1 language cannot say, and how a writer says the same thing: it has no whole quotient
# (a // b is written (a - a % b) / b, equal for the whole numbers and positive divisors `//` is
# defined on), and an equation's left side is a number (e = 5 is written 5 = e, and e1 = e2 with
# no number on either side 0 = e1 - e2). legacy_form applies exactly these rewrites, so that
# parse_legacy(format_legacy(p)) == legacy_form(p), and legacy_form(p) == p when none applies.


def _legacy_expr(expr):
    if isinstance(expr, BinOp):
        left, right = _legacy_expr(expr.left), _legacy_expr(expr.right)
        if expr.op == "//":
            return BinOp("/", BinOp("-", left, BinOp("%", left, right)), right)
        return BinOp(expr.op, left, right)
    return expr


def _legacy_statement(statement):
    if isinstance(statement, Let):
        return Let(statement.name, _legacy_expr(statement.expr))
    left, right = _legacy_expr(statement.left), _legacy_expr(statement.right)
    if isinstance(left, Num):
        return Solve(left, right)
    if isinstance(right, Num):
        return Solve(right, left)
    return Solve(Num(Fraction(0)), BinOp("-", left, right))


def legacy_form(program: Program) -> Program:
    """The program as the MathCAMPS v1 language can say it: the same values, the same unknowns."""
    question = program.question
    if isinstance(question, Compare):
        question = Compare(_legacy_expr(question.left), _legacy_expr(question.right))
    elif isinstance(question, Factors):
        question = Factors(_legacy_expr(question.number))
    return Program(tuple(_legacy_statement(s) for s in program.statements), question)


_LEGACY_OPERATORS = {"+": "+", "-": "-", "*": "*", "/": "/", "%": "%", "^": "**"}


def _write_expr(expr, top: bool = False) -> str:
    """Fully parenthesised, as v1 writes it: (11 + 7), ((74 / 63) + (91 / 78)); negatives as (-3)."""
    if isinstance(expr, Num):
        text = format_number(expr.value)
        return f"({text})" if expr.value < 0 and not top else text
    if isinstance(expr, Var):
        return expr.name
    if isinstance(expr, BinOp) and expr.op in _LEGACY_OPERATORS:
        return f"({_write_expr(expr.left)} {_LEGACY_OPERATORS[expr.op]} {_write_expr(expr.right)})"
    raise ProgramError(f"the MathCAMPS v1 language cannot write {expr!r}")


def format_legacy(program: Program) -> str:
    """The MathCAMPS v1 `symbolic-struct` of a program, e.g. `[[var c = (11 + 7)]]` /
    `[[question q = ['c']]]`; parse_legacy reads it back as legacy_form(program)."""
    program = legacy_form(program)
    lines = []
    names = set()
    for statement in program.statements:
        if isinstance(statement, Let):
            names.add(statement.name)
            lines.append(f"[[var {statement.name} = {_write_expr(statement.expr, top=True)}]]")
        else:
            # The left side is a number (legacy_form put it there): `signed` in the grammar.
            lines.append(f"[[var {_write_expr(statement.left, top=True)} = {_write_expr(statement.right, top=True)}]]")
    names.update(program.unknowns)
    question = program.question
    if isinstance(question, Ask):
        entries = ", ".join(f"'{name}'" for name in question.names)
        names.update(question.names)
    elif isinstance(question, Compare):
        entries = f"'{_write_expr(question.left, top=True)} _ {_write_expr(question.right, top=True)}'"
    elif isinstance(question.number, Num):
        entries = f"'{_write_expr(question.number, top=True)}'"
    else:
        raise ProgramError("the MathCAMPS v1 language asks for the factor pairs of a number only, not of an expression")
    label = next(n for n in ("question", *(f"question{i}" for i in range(2, 100))) if n not in names)
    lines.append(f"[[question {label} = [{entries}]]]")
    return "\n".join(lines)
