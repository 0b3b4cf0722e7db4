"""The rendering stage: a program becomes an English word problem, and a checker proves the text says it.

Frames (templates/<family>.yaml) are Jinja2 sentence frames keyed by a program's
shape; vocabulary (templates/vocabulary.yaml) gives people and themes. Each
literal of the program is written through a marker, so the renderer knows
which span of the statement came from which literal, and the faithfulness
check can prove that every quantity is said exactly once and nothing else is.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import NamedTuple
from fractions import Fraction
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

import inflect
import jinja2
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mathcamps.errors import MathcampsError
from mathcamps.files import read_yaml
from mathcamps.language import BinOp, Let, Num, Program, Solve, format_expr, format_number, format_program
from mathcamps.records import Provenance, Span
from mathcamps.registry import RenderSpec, format_validation_error

_ENGINE = inflect.engine()
_MARK = re.compile("\x00(\\d+)(?::(\\d+))?\x00")  # a literal, and the decimal places to pad it to
_PART = "\x01"
ANY_SHAPE = "*"  # a frame for any shape that has no frame of its own (e.g. one that shows the expression)
FRACTION_BAR = "frac"  # an operator of the writer only: a fraction a/b binds tighter than anything
MATH_SYMBOLS = {"+": "+", "-": "-", "*": "×", "/": "÷", "^": "^", "//": "÷", "%": "mod", FRACTION_BAR: "\x02"}
NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred "
    "thousand million twice double triple dozen half pair first second third".split()
)
_NEGATIVE_FRACTION = re.compile("\\((\x00\\d+\x00)\\)/(\x00\\d+\x00)")
_WORD = re.compile(r"[A-Za-z]+")
_DIGIT = re.compile(r"\d")


class TemplateError(MathcampsError):
    """A frames or vocabulary file that is malformed."""


class Unfaithful(Exception):
    """A statement that does not say exactly its program; the message is the rejection reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Frame(_Strict):
    id: str
    shape: str
    story: str
    question: str
    unit: str | None = None
    themes: list[str] | None = None
    when: str | None = Field(
        default=None,
        description="a Jinja condition on the numbers n1, n2, ... and the answer (exact values) "
        "that the story needs, e.g. `n1 <= n2` for '3/4 of the 8 apples'",
    )


class StepFrame(_Strict):
    """How the story of a problem goes on by one step: an incremental follow-up's words."""

    id: str
    step: str = Field(description="the added step as an expression of the asked quantity A and numbers N: `A + N`")
    after: list[str] = Field(
        default=["*"],
        description="the frames of this file it reads right after: ids or patterns like `add-*`, and `!eq-*` for none of those",
    )
    story: str
    question: str
    unit: str | None = None
    when: str | None = Field(
        default=None,
        description="a Jinja condition on the numbers n1, n2, ... (the new one last), the new answer "
        "and the original answer `before`",
    )


class FrameFile(_Strict):
    unit: str
    frames: list[Frame] = Field(min_length=1)
    steps: list[StepFrame] = Field(default_factory=list, description="how each frame's story goes on by one step")


class Person(_Strict):
    name: str
    pronoun: str = Field(pattern="^(she|he)$")


class Vocabulary(_Strict):
    people: list[Person] = Field(min_length=2)
    themes: dict[str, dict[str, str | list[str]]]


_PRONOUNS = {"she": ("she", "her", "her"), "he": ("he", "him", "his")}


def templates_dir() -> Path:
    return Path(str(resources.files("mathcamps.templates")))


def template_files(spec: RenderSpec, folder: Path | None = None) -> list[Path]:
    """The frames files and the vocabulary a standard's statements are written from."""
    folder = folder or templates_dir()
    return [*(folder / f"{family}.yaml" for family in spec.families), folder / "vocabulary.yaml"]


def _load_yaml(path: Path, model: type[BaseModel], what: str):
    raw = read_yaml(path, TemplateError, what)
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise TemplateError(format_validation_error(path, error)) from None


def shape_of(program: Program) -> str:
    """The program's text with every literal written N: the key of its frames."""
    text = format_program(program)
    return re.sub(r"(?<![A-Za-z_\d])-?\d+(\.\d+)?", "N", text)


@dataclass(frozen=True)
class Quantity:
    """A literal as a template sees it: prints as its marker, `.value` for conditions."""

    index: int
    number: Fraction

    @property
    def value(self):
        return self.number.numerator if self.number.denominator == 1 else float(self.number)

    def __str__(self) -> str:
        return f"\x00{self.index}\x00"

    def padded(self, places: int) -> str:
        """The marker of this literal written with at least `places` decimal places if not whole ($2.50)."""
        return f"\x00{self.index}:{places}\x00"


@cache
def plural(word: str) -> str:
    return _ENGINE.plural_noun(word) or word


@cache
def with_article(word: str) -> str:
    return _ENGINE.a(word)


def _agree(quantity: Quantity, noun: str) -> str:
    """The noun as the number before it needs it: 1 more block, 3 more blocks."""
    return noun if quantity.number == 1 else plural(noun)


def _count(quantity: Quantity, noun: str) -> str:
    return f"{quantity} {_agree(quantity, noun)}"


class SpanTuple(NamedTuple):
    """A stretch of the statement and what it says: `literal 2` or `question` (a Span, without validation)."""

    start: int
    end: int
    source: str


@dataclass
class Rendered:
    statement: str
    frame: str
    theme: str
    spans: list[SpanTuple]
    state: tuple | None = None  # the random state its people and words were drawn from (to render again)

    @property
    def provenance(self) -> Provenance:
        return Provenance(frame=self.frame, theme=self.theme, spans=[Span(**s._asdict()) for s in self.spans])


class Renderer:
    """Renders programs of one standard with its frames families and themes."""

    def __init__(self, spec: RenderSpec, folder: Path | None = None):
        folder = folder or templates_dir()
        self.spec = spec
        *self.sources, vocabulary = template_files(spec, folder)
        self.vocabulary: Vocabulary = _load_vocabulary(vocabulary)
        missing = [t for t in spec.themes if t not in self.vocabulary.themes]
        if missing:
            raise TemplateError(f"render.themes: no theme {', '.join(missing)} in {folder / 'vocabulary.yaml'}")
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
        # One template per frame renders story, question and unit at once (one Jinja context, not three).
        # A frame is known by `family/id`, which the records keep as provenance.
        self.by_shape: dict[str, list[tuple[Frame, jinja2.Template, str, object]]] = {}
        self.steps: dict[str, list[tuple[StepFrame, jinja2.Template, str, object]]] = {}  # by family
        for source in self.sources:
            frames: FrameFile = _load_frames(source)

            def compiled(frame: Frame | StepFrame) -> tuple:
                """(frame, its one template of story, question and unit, `family/id`, its condition)."""
                unit = frame.unit if frame.unit is not None else frames.unit
                template = env.from_string(_PART.join((frame.story, frame.question, unit)))
                condition = env.compile_expression(frame.when) if frame.when else None
                return (frame, template, f"{source.stem}/{frame.id}", condition)

            try:
                for frame in frames.frames:
                    self.by_shape.setdefault(frame.shape, []).append(compiled(frame))
                for step in frames.steps:
                    self.steps.setdefault(source.stem, []).append(compiled(step))
            except jinja2.TemplateSyntaxError as error:
                raise TemplateError(f"{source}: line {error.lineno} of a frame: {error.message}") from None

    def shapes(self) -> set[str]:
        return set(self.by_shape)

    def render(self, program: Program, rng: random.Random, answer=None) -> Rendered:
        """A statement for the program, with the provenance of each span; Unfaithful if it fails the check.

        `answer` is what the frames' `when` conditions may test, with the numbers."""
        shape = shape_of(program)
        candidates = self.by_shape.get(shape) or self.by_shape.get(ANY_SHAPE)
        if not candidates:
            raise Unfaithful(f"render: no frame for shape {shape!r} in {', '.join(p.name for p in self.sources)}")
        theme_name = rng.choice(self.spec.themes)
        usable = [c for c in candidates if c[0].themes is None or theme_name in c[0].themes]
        if any(c[3] is not None for c in usable):
            values = condition_values(program, answer)
            usable = [c for c in usable if c[3] is None or c[3](**values)]
        if not usable:
            raise Unfaithful(f"render: no frame for shape {shape!r} with theme {theme_name} fits these numbers")
        return self._render(program, rng.choice(usable), theme_name, rng)

    def frame(self, frame_id: str) -> tuple:
        """The compiled frame `family/id`: (frame, template, id, condition)."""
        for compiled in (c for frames in self.by_shape.values() for c in frames):
            if compiled[2] == frame_id:
                return compiled
        raise KeyError(frame_id)

    def render_frame(self, program: Program, frame_id: str, theme: str, rng: random.Random) -> Rendered:
        """The statement one frame (`family/id`) gives with one theme (for checking frames against themes)."""
        return self._render(program, self.frame(frame_id), theme, rng)

    def rerender(self, rendered: Rendered, program: Program, answer) -> Rendered:
        """The same frame, people and words as `rendered`, saying `program` (a changed copy of its
        program); Unfaithful if the frame's condition does not hold for the new numbers."""
        compiled = self.frame(rendered.frame)
        if compiled[3] is not None and not compiled[3](**condition_values(program, answer)):
            raise Unfaithful(f"render: frame {rendered.frame} does not fit the changed numbers")
        rng = random.Random()
        rng.setstate(rendered.state)
        return self._render(program, compiled, rendered.theme, rng)

    def has_steps(self, frame: str, step: str) -> bool:
        """Whether some step frame `step` may read right after frame `family/id` (numbers aside)."""
        family, _, frame_id = frame.partition("/")
        return any(c[0].step == step and _follows(frame_id, c[0].after) for c in self.steps.get(family, ()))

    def continue_story(
        self, rendered: Rendered, program: Program, step: str, answer, before, rng: random.Random
    ) -> Rendered:
        """The words of one more step of `rendered`'s story: `program` is its program with one
        statement added, `step` that statement's shape (`A + N`). The people and words are
        `rendered`'s; only the new numbers must be said; `rng` chooses among the step frames that
        fit. Unfaithful if none does."""
        family, _, frame_id = rendered.frame.partition("/")
        values = condition_values(program, answer)
        values["before"] = before
        usable = [
            c
            for c in self.steps.get(family, ())
            if c[0].step == step
            and _follows(frame_id, c[0].after)
            and (c[3] is None or c[3](**values))
        ]
        if not usable:
            raise Unfaithful(f"render: no step frame `{step}` after {rendered.frame} fits these numbers")
        step_frame, template, key, _ = rng.choice(usable)
        again = random.Random()
        again.setstate(rendered.state)
        literals = program.literals()
        context = self._context(rendered.theme, program, literals, again)
        first_new = len(literals) - step.count("N")
        context["new"] = [Quantity(i, literals[i].value) for i in range(first_new, len(literals))]
        context["n"] = context["new"][0]
        try:
            story, question, unit = _say(template, context, f"step frame {step_frame.id} with theme {rendered.theme}")
            statement, spans, _ = _written(story, question, literals)
            check_step_faithful(statement, spans, [n.value for n in literals], first_new, unit)
        except Unfaithful as error:
            raise Unfaithful(f"{error} (step frame {key}, {self.location(key)})") from None
        return Rendered(statement, key, rendered.theme, spans)

    def _render(self, program: Program, compiled: tuple, theme_name: str, rng: random.Random) -> Rendered:
        frame, template, frame_key, _ = compiled
        state = rng.getstate()
        literals = program.literals()
        context = self._context(theme_name, program, literals, rng)
        try:
            story, question, unit = _say(template, context, f"frame {frame.id} with theme {theme_name}")
            rendered = _resolve(story, question, unit, literals, frame_key, theme_name)
        except Unfaithful as error:
            raise Unfaithful(f"{error} (frame {frame_key}, {self.location(frame_key)})") from None
        rendered.state = state
        return rendered

    def location(self, key: str) -> str:
        """Where the frame or step frame `family/id` is written: `family.yaml:line` (no folder, so
        that a release's counted reasons do not depend on where the templates are installed)."""
        family, _, frame_id = key.partition("/")
        path = next((p for p in self.sources if p.stem == family), None)
        line = _line_of_id(path, frame_id) if path is not None else None
        return f"{family}.yaml:{line}" if line else f"{family}.yaml"

    def _context(self, theme_name: str, program: Program, literals: list[Num], rng: random.Random) -> dict:
        theme = self.vocabulary.themes[theme_name]
        chosen = {key: rng.choice(value) if isinstance(value, list) else value for key, value in theme.items()}
        first, second = rng.sample(self.vocabulary.people, 2)
        quantities = [Quantity(i, n.value) for i, n in enumerate(literals)]
        context: dict = {f"n{i + 1}": q for i, q in enumerate(quantities)}
        # The program itself in school notation, each literal written through its marker (in
        # reading order, so the markers are consumed in the order the literals were numbered).
        markers = iter(quantities)
        fractions = self.spec.fractions

        def write(expr) -> str:
            written = []

            def numbered(value: Fraction) -> str:
                # A negative number after the first gets parentheses: 5 - (-3), 4 × (-2).
                marker = str(next(markers))
                written.append(marker)
                return f"({marker})" if value < 0 and len(written) > 1 else marker

            if fractions:
                text = format_expr(_as_fractions(expr), number=numbered, symbols=MATH_SYMBOLS)
                # A negative fraction after the first number: (-3/4), not (-3)/4.
                return _NEGATIVE_FRACTION.sub(r"(\1/\2)", text.replace(" \x02 ", "/"))
            return format_expr(expr, number=numbered, symbols=MATH_SYMBOLS)

        statements = program.statements
        if len(statements) == 1 and isinstance(statements[0], Let):
            context["expression"] = write(statements[0].expr)
        elif statements and all(isinstance(s, Solve) for s in statements):
            equations = [f"{write(s.left)} = {write(s.right)}" for s in statements]
            if len(equations) == 1:
                context["equation"] = equations[0]
            else:
                context["equations"] = equations
        context.update(_person(first, ""))
        context.update(_person(second, "2"))
        context.update(chosen)
        if "noun" in chosen:
            context["nouns"] = plural(chosen["noun"])
        currency = chosen.get("currency")
        unit = chosen.get("unit")
        context.update(
            count=_count,
            agree=_agree,
            plural=plural,
            a=with_article,
            money=lambda q: f"${q.padded(2)}" if currency == "dollars" else f"{q}¢",
            measure=lambda q: _count(q, unit) if unit else str(q),
        )
        return context


def condition_values(program: Program, answer) -> dict:
    """What a frame's `when` condition sees: n1, n2, ... and the answer, as exact values."""
    values = {f"n{i + 1}": n.value for i, n in enumerate(program.literals())}
    values["answer"] = answer
    return values


def _as_fractions(expr):
    """The expression with each quotient of two literals as one fraction node (written a/b)."""
    if isinstance(expr, BinOp):
        if expr.op == "/" and isinstance(expr.left, Num) and isinstance(expr.right, Num):
            return BinOp(FRACTION_BAR, expr.left, expr.right)
        return BinOp(expr.op, _as_fractions(expr.left), _as_fractions(expr.right))
    return expr


def _person(person: Person, suffix: str) -> dict:
    subj, obj, poss = _PRONOUNS[person.pronoun]
    return {
        f"name{suffix}": person.name,
        f"subj{suffix}": subj,
        f"Subj{suffix}": subj.capitalize(),
        f"obj{suffix}": obj,
        f"poss{suffix}": poss,
        f"Poss{suffix}": poss.capitalize(),
    }


def _fill(text: str, literals: list[Num], offset: int, spans: list[SpanTuple], seen: list[int]) -> str:
    """`text` with each marker replaced by its number; records a span per literal."""
    out: list[str] = []
    position = 0
    length = offset
    for match in _MARK.finditer(text):
        chunk = text[position : match.start()]
        out.append(chunk)
        length += len(chunk)
        index = int(match.group(1))
        number = _display(literals[index].value, int(match.group(2) or 0))
        spans.append(SpanTuple(length, length + len(number), f"literal {index}"))
        out.append(number)
        length += len(number)
        seen.append(index)
        position = match.end()
    out.append(text[position:])
    return "".join(out)


def _say(template: jinja2.Template, context: dict, what: str) -> tuple[str, str, str]:
    """A frame's story, question and unit (markers for numbers), rendered in `context`."""
    try:
        story, question, unit = (part.strip() for part in template.render(context).split(_PART))
    except jinja2.UndefinedError as error:
        raise Unfaithful(f"render: {what}: {error.message}") from None
    return story, question, _MARK.sub("", unit)


def _written(story: str, question: str, literals: list[Num]) -> tuple[str, list[SpanTuple], list[int]]:
    """The statement with numbers for markers, its spans in order (each literal's, and the
    question's), and the literals it says, in the order it says them."""
    spans: list[SpanTuple] = []
    seen: list[int] = []
    story_text = _fill(story, literals, 0, spans, seen)
    question_start = len(story_text) + 1 if story_text else 0
    question_text = _fill(question, literals, question_start, spans, seen)
    statement = f"{story_text} {question_text}" if story_text else question_text
    spans.append(SpanTuple(question_start, len(statement), "question"))
    spans.sort(key=lambda s: s.start)
    return statement, spans, seen


def _resolve(story: str, question: str, unit: str, literals: list[Num], frame: str, theme: str) -> Rendered:
    """Replaces markers by numbers, records spans, and checks faithfulness."""
    statement, spans, seen = _written(story, question, literals)
    check_faithful(statement, spans, len(literals), seen, unit, [n.value for n in literals])
    return Rendered(statement, frame, theme, spans)


def _display(value: Fraction, places: int = 0) -> str:
    """A literal as the statement writes it: thousands separated by commas (9,212), decimals exact,
    and a number that is not whole padded to `places` decimal places ($2.50)."""
    if value.denominator == 1:
        return f"{value.numerator:,}" if abs(value) >= 1000 else str(value.numerator)
    text = format_number(value)
    whole, _, decimals = text.partition(".")
    whole = f"{int(whole):,}" if abs(value) >= 1000 else whole
    return f"{whole}.{decimals.ljust(places, '0')}"


def said_number(text: str) -> Fraction:
    """The value a number written in a statement stands for (9,212 or 2.50 or -3)."""
    return Fraction(text.replace(",", ""))


def check_faithful(
    statement: str, spans: list[SpanTuple], n_literals: int, seen: list[int], unit: str, values: list[Fraction]
) -> None:
    """Raises Unfaithful unless the statement says each literal once, nothing else numeric, and one question."""
    if sorted(seen) != list(range(n_literals)):
        missing = sorted(set(range(n_literals)) - set(seen))
        repeated = sorted({i for i in seen if seen.count(i) > 1})
        raise Unfaithful(f"faithfulness: literals missing {missing}, repeated {repeated}")
    literal_spans = [s for s in spans if s.source.startswith("literal ")]
    for span in literal_spans:
        index = int(span.source.split()[1])
        if said_number(statement[span.start : span.end]) != values[index]:
            raise Unfaithful(f"faithfulness: span {span.start}-{span.end} does not say literal {index}")
    question_text = check_nothing_else(statement, spans)
    if unit and unit not in question_text:
        raise Unfaithful(f"faithfulness: the question does not mention {unit!r}")


def _follows(frame_id: str, patterns: list[str]) -> bool:
    """Whether a step frame with these `after` patterns reads right after frame `frame_id`."""
    wanted = [p for p in patterns if not p.startswith("!")] or ["*"]
    refused = [p[1:] for p in patterns if p.startswith("!")]
    return any(fnmatchcase(frame_id, p) for p in wanted) and not any(fnmatchcase(frame_id, p) for p in refused)


def check_step_faithful(statement: str, spans: list[SpanTuple], values: list[Fraction], first_new: int, unit: str = "") -> None:
    """Raises Unfaithful unless a step's text says each new literal (index `first_new` on) exactly
    once, any earlier one only as it is, nothing else numeric, and ends in one question (about `unit`)."""
    said = []
    for span in spans:
        if span.source == "question":
            continue
        kind, _, number = span.source.rpartition(" ")
        if kind != "literal" or not number.isdigit() or int(number) >= len(values):
            raise Unfaithful(f"faithfulness: span {span.start}-{span.end} says {span.source!r}, not a literal")
        if said_number(statement[span.start : span.end]) != values[int(number)]:
            raise Unfaithful(f"faithfulness: span {span.start}-{span.end} does not say {span.source}")
        said.append(int(number))
    new = [i for i in said if i >= first_new]
    if sorted(new) != list(range(first_new, len(values))):
        raise Unfaithful(f"faithfulness: the step must say each new number once, not literals {sorted(new)}")
    question_text = check_nothing_else(statement, spans)
    if unit and unit not in question_text:
        raise Unfaithful(f"faithfulness: the question does not mention {unit!r}")


def check_nothing_else(statement: str, spans: list[SpanTuple]) -> str:
    """Raises Unfaithful if, outside the spans of numbers, the statement says a number (a digit, a
    number word or a percent), or if it does not end in its one question; returns the question."""
    masked = list(statement)
    for span in spans:
        if span.source != "question":
            masked[span.start : span.end] = " " * (span.end - span.start)
    rest = "".join(masked)
    if _DIGIT.search(rest):
        raise Unfaithful("faithfulness: a number in the text that is not a quantity of the program")
    words = {w.lower() for w in _WORD.findall(rest)}
    if "%" in rest or "percent" in words:
        # The language has no percent: a percent in the text could only misstate the program.
        raise Unfaithful("faithfulness: a percent in the text that is not in the program")
    if words & NUMBER_WORDS:
        raise Unfaithful(f"faithfulness: number word(s) {sorted(words & NUMBER_WORDS)} in the text")
    (question,) = [s for s in spans if s.source == "question"]
    question_text = statement[question.start : question.end]
    if statement.count("?") != 1 or not question_text.endswith("?"):
        raise Unfaithful("faithfulness: the statement must end in exactly one question")
    return question_text


@lru_cache(maxsize=None)
def _line_of_id(path: Path, frame_id: str) -> int | None:
    """The line of a frames file on which the frame (or step frame) with this id begins."""
    pattern = re.compile(rf"^\s*(?:-\s*)?id:\s*['\"]?{re.escape(frame_id)}['\"]?\s*(?:#.*)?$")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return next((number for number, line in enumerate(lines, 1) if pattern.match(line)), None)


@lru_cache(maxsize=None)
def _load_frames(path: Path) -> FrameFile:
    return _load_yaml(path, FrameFile, "frames file")


@lru_cache(maxsize=None)
def _load_vocabulary(path: Path) -> Vocabulary:
    return _load_yaml(path, Vocabulary, "vocabulary")

