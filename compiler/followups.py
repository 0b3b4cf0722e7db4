"""Follow-up questions, derived from a problem's program: counterfactual and incremental.

An incremental follow-up goes on with the story by one step that uses the answer ("Then she
gives 3 of them to her brother. How many does she have now?"). Its program is the original's,
every statement kept, with one statement added by the grammar's `then` rule (which refers to the
asked quantity) and a question for the new quantity; the whole must be a program of the grammar's
`followup` rule. The step's numbers are drawn by the instantiation stage under the declared
constraints, and its words come from the step frames of the original's frame family, with the
original's people and things.

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
from collections.abc import Container
from dataclasses import dataclass
from fractions import Fraction

from mathcamps.answers import format_answer
from mathcamps.language import (
    Ask,
    Grammar,
    Hole,
    Let,
    Program,
    ProgramError,
    format_program,
    free_names,
    parse_program,
)
from mathcamps.records import ProblemKind
from mathcamps.registry import FOLLOWUP_STEP, Definition
from mathcamps.solvers.constraints import Violation, check_problem
from mathcamps.solvers.exact import Unsolvable, solve

from mathcamps.compiler.instantiate import Instantiator
from mathcamps.compiler.sampler import LET_NAMES, Rejected, Sampler, Skeleton, assemble
from mathcamps.compiler.frames import load_rephrasings, phrasing_parts, step_shape
from mathcamps.compiler.render import (
    Rendered,
    Renderer,
    SpanTuple,
    Unfaithful,
    _display,
    check_nothing_else,
    check_spans,
    span_literal,
    check_step_faithful,
    said_number,
)

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
    frame: str | None = None  # the step frame that told an incremental follow-up


def _with_hole(program: Program, index: int) -> Program:
    """The program with its `index`-th literal made a hole (hole 0), for the instantiator to fill."""
    return program.map_literals(lambda k, node: Hole(0) if k == index else node)


class Counterfactuals:
    """Makes counterfactual follow-ups for the problems of one standard.

    The changed literal is chosen again by the instantiation stage, as a skeleton with that one
    hole: so it is built the same sound way (a dividend from its quotient, an equation's bare
    number from its unknown) and meets the same declared constraints."""

    kind = ProblemKind.counterfactual

    def __init__(self, definition: Definition, renderer: Renderer):
        self.definition = definition
        self.renderer = renderer
        self.instantiator = Instantiator(definition, budget=ATTEMPTS)

    def make(
        self, program: Program, changeable, answer, rendered: Rendered, rng: random.Random, said: Container[str] = frozenset()
    ) -> Followup:
        """A counterfactual of the problem; Violation (with the last reason) if none is found.

        `changeable` lists (literal index, ranged rule) of the literals that may change; `said`
        holds the statements of earlier follow-ups, which this one may not repeat."""
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
                statement, spans = self.text(self.renderer.rerender(rendered, changed, new_answer), old, index, rng)
                check_followup(statement, spans, changed, old, index, self.renderer.refused[rendered.frame.partition("/")[0]])
                if statement in said:
                    raise Violation("the same words as an earlier follow-up")
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

    def text(self, again: Rendered, old: Fraction, index: int, rng: random.Random) -> tuple[str, list[SpanTuple]]:
        """The follow-up's words, from `again` (the original frame rendered with the changed
        program): one of the phrasings of templates/followups.yaml, which says what changed (the
        sentence that says literal `index`, quoted, or the old and the new number), then the question."""
        statement = again.statement
        question = next(s for s in again.spans if s.source == "question")
        target = next(s for s in again.spans if s.source == f"literal {index}")
        literals = sorted(s for s in again.spans if s.source.startswith("literal "))
        out = _Writer(statement, literals)
        phrasings = load_rephrasings(self.renderer.folder)
        in_question = target.start >= question.start
        # The sentence that says the quantity, quoted as the changed problem says it: its own
        # words, so it refers to the same people and things, and any sentence form reads right.
        start, end = (0, 0) if in_question else _sentence_around(statement, target.start, question.start)
        choices = phrasings.question if in_question else phrasings.story
        # "Change 3 to 5" is ambiguous where the story says 3 twice or 3 is part of a fraction (3/7):
        # then the phrasing quotes the sentence instead.
        others = [statement[s.start : s.end] for s in literals if s != target]
        if not in_question and (
            _display(old) in others or "/" in (statement[target.start - 1 : target.start], statement[target.end : target.end + 1])
        ):
            choices = [c for c in choices if "{old}" not in c]
        for part in phrasing_parts(rng.choice(choices)):
            if part == "{sentence}":
                out.segment(start, end)
            elif part == "{old}":
                out.number(_display(old), f"previous literal {index}")
            elif part == "{new}":
                out.number(statement[target.start : target.end], f"literal {index}")
            else:
                out.text(part)
        out.text(" ")
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


def check_followup(
    text: str, spans: list[SpanTuple], program: Program, old: Fraction, index: int, refused: frozenset[str] | None = None
) -> None:
    """Unfaithful unless the follow-up says the changed literal's new value, says every other
    number only as the program's literals (or the old value it replaces), and ends in one question."""
    check_spans(text, spans)
    values = [n.value for n in program.literals()]
    said_new = False
    for span in spans:
        if span.source == "question":
            continue
        kind, number = span_literal(span, len(values), ("literal", "previous literal"))
        value = said_number(text[span.start : span.end])
        expected = old if kind == "previous literal" else values[number]
        if value != expected:
            raise Unfaithful(f"faithfulness: span {span.start}-{span.end} does not say {span.source}")
        said_new |= span.source == f"literal {index}"
    if not said_new:
        raise Unfaithful("faithfulness: the follow-up does not say the changed quantity")
    check_nothing_else(text, spans, refused)


class Incrementals:
    """Makes incremental follow-ups for the problems of one standard whose grammar has a
    `followup` rule (the follow-up programs) and a `then` rule (the added statement)."""

    kind = ProblemKind.incremental

    def __init__(self, definition: Definition, renderer: Renderer, grammar: Grammar):
        self.definition = definition
        self.renderer = renderer
        self.grammar = grammar
        self.steps = Sampler(
            grammar, {}, definition.max_depth, start=FOLLOWUP_STEP, ranges=frozenset(definition.ranges)
        )
        self.instantiator = Instantiator(definition, budget=ATTEMPTS)

    def make(
        self, program: Program, answer, rendered: Rendered, rng: random.Random, said: Container[str] = frozenset()
    ) -> Followup:
        """An incremental follow-up of the problem; Violation (with the last reason) if none is found;
        it never repeats the statement of an earlier follow-up (`said`)."""
        d = self.definition
        domain = (d.values.min, d.values.max)
        reason = "incremental: no step"
        for _ in range(ROUNDS):
            try:
                skeleton = self._skeleton(program, rng)
                shape = step_shape(skeleton.program.statements[-1].expr, program.question.names[0])
                if not self.renderer.has_steps(rendered.frame, shape):
                    raise Unfaithful(f"render: no step frame `{shape}` after {rendered.frame}")
                longer, _ = self.instantiator.instantiate(skeleton, rng)
                if self.grammar.parse(format_program(longer)) != longer:
                    raise Violation("the follow-up does not read back the same under the grammar")
                solution = solve(longer, domain)
                check_problem(longer, d, {u: solution.values[u] for u in longer.unknowns})
                new_answer = solution.answer(longer.question)
                answer_text = format_answer(d.answer.kind, new_answer)
                told = self.renderer.continue_story(rendered, longer, shape, new_answer, answer, rng)
                if told.statement in said:
                    raise Violation("the same words as an earlier follow-up")
            except (Violation, Unsolvable, Unfaithful, Rejected, ProgramError, ValueError) as error:
                reason = f"incremental: {error}"
                continue
            return Followup(
                ProblemKind.incremental, longer, new_answer, answer_text, told.statement, told.spans, told.frame
            )
        raise Violation(reason)

    def _skeleton(self, program: Program, rng: random.Random) -> Skeleton:
        """The program with one sampled step after its statements (its numbers holes), asking the
        step's quantity."""
        (asked,) = program.question.names
        taken = {s.name for s in program.statements if isinstance(s, Let)} | set(program.unknowns)
        new = next(name for name in LET_NAMES if name not in taken)
        derivation = self.steps.derive(rng)
        words, holes, ranges = [], 0, []
        for kind, value in derivation:
            if kind == "hole":
                words.append(holes)
                holes += 1
                ranges.append(value)
            elif kind == "name":
                if value == "unknown":
                    raise Rejected("a step may not bring in an unknown")
                words.append(new if value == "let" else asked)
            else:
                words.append(value)
        step = assemble(words, hole="0")
        if not step.startswith(f"let {new} ="):
            raise Rejected(f"the `{FOLLOWUP_STEP}` rule must define one new quantity with `let`")
        base = len(program.literals())
        text = format_program(Program(program.statements, Ask((new,)))).rsplit("\n", 1)[0]
        longer = parse_program(f"{text}\n{step}\nask {new}")
        longer = longer.map_literals(lambda k, node: Hole(k - base) if k >= base else node)
        return Skeleton(format_program(longer), longer, holes, tuple(ranges))


def check_incremental(
    text: str, spans: list[SpanTuple], program: Program, parent: Program, refused: frozenset[str] | None = None
) -> None:
    """Unfaithful unless `program` is `parent` with every statement kept and one `let` added that
    uses the parent's answer and is asked for, and the text says the new numbers (see
    check_step_faithful)."""
    *kept, added = program.statements
    if tuple(kept) != parent.statements or not isinstance(added, Let):
        raise Unfaithful("an incremental follow-up keeps every statement of its parent and adds one `let`")
    (asked,) = parent.question.names
    if asked not in free_names(added.expr) or program.question != Ask((added.name,)):
        raise Unfaithful("an incremental follow-up's step uses the parent's answer and is asked for")
    values = [n.value for n in program.literals()]
    check_step_faithful(text, spans, values, len(parent.literals()), refused=refused)
