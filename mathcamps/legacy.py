"""The MathCAMPS v1 symbolic language (`[[var x = (90 - 81)]]`), read into the core AST.

Its grammar is data (grammars/legacy/mathcamps_v1.lark) and uses the core's rule names, so the
same ProgramBuilder makes the expressions; only the question differs: a list of quoted entries
that name the asked quantities, hold a comparison, a number (its factor pairs are asked) or an
expression (its value is asked).
"""

from __future__ import annotations

from functools import lru_cache

from lark import Tree

from mathcamps.language import (
    Ask,
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
