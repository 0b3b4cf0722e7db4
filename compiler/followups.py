"""Follow-up questions, derived from a problem's program: here, the counterfactual kind.

A counterfactual changes exactly one given quantity of the original and asks the same question
again ('Suppose the problem said "Ava had 9 apples." instead. How many apples does she have
now?'; a number in the question itself: "Now change 5 to 9. What is 9 + 3?"). The new
program is the original with one literal changed: solved by sympy, held to the standard's
constraints, its answer different from the original's; z3 proves it with the batch. The text
reuses the original sentence that says the changed quantity, so it refers to the same people
and things, and the faithfulness check reads it against the changed program.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from fractions import Fraction

from mathcamps.answers import format_answer
from mathcamps.language import Hole, Program, format_program
from mathcamps.records import ProblemKind
from mathcamps.registry import Definition
from mathcamps.solvers.constraints import Violation, check_problem
from mathcamps.solvers.exact import Unsolvable, solve

from mathcamps.compiler.instantiate import Instantiator
from mathcamps.compiler.sampler import Skeleton
from mathcamps.compiler.render import Rendered, Renderer, SpanTuple, Unfaithful, _display, check_nothing_else, said_number

ATTEMPTS = 12  # number draws per round
ROUNDS = 32  # changes tried
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z$])")


@dataclass(frozen=True)
class Followup:
    kind: ProblemKind
    program: Program
    answer: object
    answer_text: str
    statement: str
    spans: list[SpanTuple]


def _with_hole(program: Program, index: int) -> Program:
    """The program with its `index`-th literal made a hole (hole 0), for the instantiator to fill."""
    return program.map_literals(lambda k, node: Hole(0) if k == index else node)


class Counterfactuals:
    """Makes counterfactual follow-ups for the problems of one standard.

    The changed literal is chosen again by the instantiation stage, as a skeleton with that one
    hole: so it is built the same sound way (a dividend from its quotient, an equation's bare
    number from its unknown) and meets the same declared constraints."""

    def __init__(self, definition: Definition, renderer: Renderer):
        self.definition = definition
        self.renderer = renderer
        self.instantiator = Instantiator(definition, budget=ATTEMPTS)

    def make(self, program: Program, changeable, answer, rendered: Rendered, rng: random.Random) -> Followup:
        """A counterfactual of the problem; Violation (with the last reason) if none is found.

        `changeable` lists (literal index, ranged rule) of the literals that may change."""
        d = self.definition
        domain = (d.values.min, d.values.max)
        literals = program.literals()
        reason = "counterfactual: no literal to change"
        for _ in range(ROUNDS if changeable else 0):
            index, rule = rng.choice(changeable)
            old = literals[index].value
            skeleton_program = _with_hole(program, index)
            skeleton = Skeleton(format_program(skeleton_program), skeleton_program, 1, (rule,))
            try:
                changed, _ = self.instantiator.instantiate(skeleton, rng)
                if changed.literals()[index].value == old:
                    raise Violation("the same number was drawn")
                solution = solve(changed, domain)
                unknowns = {u: solution.values[u] for u in changed.unknowns}
                check_problem(changed, d, unknowns)
                self._check_polygon(changed, changeable, unknowns)
                new_answer = solution.answer(changed.question)
                if new_answer == answer:
                    raise Violation("the answer does not change")
                answer_text = format_answer(d.answer.kind, new_answer)
                statement, spans = self.text(self.renderer.rerender(rendered, changed, new_answer), old, index)
                check_followup(statement, spans, changed, old, index)
            except (Violation, Unsolvable, Unfaithful, ValueError) as error:
                reason = f"counterfactual: {error}"
                continue
            return Followup(ProblemKind.counterfactual, changed, new_answer, answer_text, statement, spans)
        raise Violation(reason)

    def _check_polygon(self, changed: Program, changeable, unknowns: dict) -> None:
        """The polygon rule of the instantiation stage, for the whole changed program."""
        rule = self.definition.polygon
        if rule is None:
            return
        values = changed.literals()
        sides = [values[i].value for i, name in changeable if name == rule]
        if len(sides) >= 2:
            sides += list(unknowns.values())
        if len(sides) >= 3 and 2 * max(sides) >= sum(sides):
            raise Violation("polygon: a side is not shorter than the other sides together")

    def text(self, again: Rendered, old: Fraction, index: int) -> tuple[str, list[SpanTuple]]:
        """The follow-up's words, from `again` (the original frame rendered with the changed
        program): the sentence that says literal `index`, quoted, then the question."""
        statement = again.statement
        question = next(s for s in again.spans if s.source == "question")
        target = next(s for s in again.spans if s.source == f"literal {index}")
        literals = sorted(s for s in again.spans if s.source.startswith("literal "))
        out = _Writer(statement, literals)
        if target.start >= question.start:
            out.text("Now change ")
            out.number(_display(old), f"previous literal {index}")
            out.text(" to ")
            out.number(statement[target.start : target.end], f"literal {index}")
            out.text(". ")
        else:
            # The sentence that says the quantity, quoted as the changed problem says it: its own
            # words, so it refers to the same people and things, and any sentence form reads right.
            start, end = _sentence_around(statement, target.start, question.start)
            out.text('Suppose the problem said "')
            out.segment(start, end)
            out.text('" instead. ')
        asked = out.length
        out.segment(question.start, question.end)
        out.spans.append(SpanTuple(asked, out.length, "question"))
        return "".join(out.parts), sorted(out.spans, key=lambda s: s.start)


class _Writer:
    """Builds a follow-up's text from plain words, numbers and stretches of a statement, keeping
    the span of every number it writes."""

    def __init__(self, statement: str, literals: list[SpanTuple]):
        self.statement, self.literals = statement, literals
        self.parts: list[str] = []
        self.spans: list[SpanTuple] = []
        self.length = 0

    def text(self, words: str) -> None:
        self.parts.append(words)
        self.length += len(words)

    def number(self, said: str, source: str) -> None:
        self.spans.append(SpanTuple(self.length, self.length + len(said), source))
        self.text(said)

    def segment(self, start: int, end: int) -> None:
        """statement[start:end], with the spans of the literals it says."""
        position = start
        for span in (s for s in self.literals if start <= s.start < end):
            self.text(self.statement[position : span.start])
            self.number(self.statement[span.start : span.end], span.source)
            position = span.end
        self.text(self.statement[position:end])


def _sentence_around(statement: str, position: int, limit: int) -> tuple[int, int]:
    """The sentence of the story (the text before `limit`) that holds `position`."""
    story = statement[:limit].rstrip()
    start = 0
    for match in _SENTENCE_END.finditer(story):
        if match.start() > position:
            return start, match.start()
        start = match.end()
    return start, len(story)


def check_followup(text: str, spans: list[SpanTuple], program: Program, old: Fraction, index: int) -> None:
    """Unfaithful unless the follow-up says the changed literal's new value, says every other
    number only as the program's literals (or the old value it replaces), and ends in one question."""
    values = [n.value for n in program.literals()]
    said_new = False
    for span in spans:
        if span.source == "question":
            continue
        kind, _, number = span.source.rpartition(" ")
        value = said_number(text[span.start : span.end])
        expected = old if kind == "previous literal" else values[int(number)]
        if value != expected:
            raise Unfaithful(f"faithfulness: span {span.start}-{span.end} does not say {span.source}")
        said_new |= span.source == f"literal {index}"
    if not said_new:
        raise Unfaithful("faithfulness: the follow-up does not say the changed quantity")
    check_nothing_else(text, spans)
