"""The rendering stage: a program becomes an English word problem, and a checker proves the text says it.

Frames (templates/<family>.yaml, read by compiler.frames) are Jinja2 sentence frames matched to
a program by its structure; vocabulary (templates/vocabulary.yaml) gives people and themes. Each
literal of the program is written through a marker, so the renderer knows which span of the
statement came from which literal, and the faithfulness check can prove that every quantity is
said exactly once and nothing else is.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

import inflect
import jinja2
from jinja2 import meta

from mathcamps.language import BinOp, Let, Num, Program, Solve, format_expr, format_number, walk
from mathcamps.records import Provenance, Span
from mathcamps.registry import RenderSpec

from mathcamps.compiler.frames import (
    ANY_SHAPE,
    THEMELESS,
    Frame,
    FrameFile,
    Person,
    StepFrame,
    TemplateError,
    Vocabulary,
    follows,
    frame_shape,
    labels,
    line_of_id,
    load_frames,
    load_vocabulary,
    shape_of,
    step_frame_shape,
    templates_dir,
    where,
    words,
)

__all__ = ["ANY_SHAPE", "TemplateError", "shape_of", "templates_dir"]

_ENGINE = inflect.engine()
RETELLINGS = 6  # draws of frame and theme before a statement that repeats a told one is kept
_PRONOUN_WORDS = re.compile(r"\b(?:[Ss]he|[Hh]e|[Hh]er|[Hh]im|[Hh]is|[Hh]ers|[Hh]erself|[Hh]imself)\b")
_MARK = re.compile("\x00(\\d+)(?::(\\d+|s))?\x00")  # a literal, and the places to pad it to (s: a superscript)
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_FROM_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_SUPERSCRIPT_DIGITS = frozenset("⁰¹²³⁴⁵⁶⁷⁸⁹")
_POWER = "\x03"  # the writer's power sign, until it knows whether the exponent is a superscript
_SUPERSCRIPT_EXPONENT = re.compile(f" {_POWER} \x00(\\d+)\x00")
_COEFFICIENT = re.compile("(\x00\\d+\x00) × ([xyz])(?![a-z0-9_])")
_PART = "\x01"
FRACTION_BAR = "frac"  # an operator of the writer only: a fraction a/b binds tighter than anything
MATH_SYMBOLS = {"+": "+", "-": "-", "*": "×", "/": "÷", "^": "^", "//": "÷", "%": "mod", FRACTION_BAR: "\x02"}
_NEGATIVE_FRACTION = re.compile("\\((\x00\\d+\x00)\\)/(\x00\\d+\x00)")
_WORD = re.compile(r"[A-Za-z]+")
_DIGIT = re.compile(r"[\d⁰¹²³⁴⁵⁶⁷⁸⁹]")
_SAID_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})*(?:\.\d+)?|-?\d{1,40}(?:\.\d{1,40})?")


class Unfaithful(Exception):
    """A statement that does not say exactly its program; the message is the rejection reason."""


_PRONOUNS = {"she": ("she", "her", "her"), "he": ("he", "him", "his")}


def template_files(spec: RenderSpec, folder: Path | None = None) -> list[Path]:
    """The frames files, the vocabulary and the follow-up phrasings a standard's statements are
    written from (the built-in phrasings where the folder has none)."""
    folder = folder or templates_dir()
    phrasings = folder / "followups.yaml"
    phrasings = phrasings if phrasings.is_file() else templates_dir() / "followups.yaml"
    return [*(folder / f"{family}.yaml" for family in spec.families), folder / "vocabulary.yaml", phrasings]


_FAMILY = re.compile(r"[a-z][a-z0-9_]*")


@lru_cache(maxsize=256)
def refused_words(family: str | None = None, folder: Path | None = None) -> frozenset[str]:
    """The words (and signs) that say a number, which a statement of frames `family` may not say
    outside the program's numbers: the vocabulary's `refuse` list less the family's `allow` (a
    family that is not one of the templates allows nothing)."""
    folder = folder or templates_dir()
    refused = frozenset(word.lower() for word in load_vocabulary(folder / "vocabulary.yaml").refuse)
    path = folder / f"{family}.yaml"
    if not family or not _FAMILY.fullmatch(family) or family == "vocabulary" or not path.is_file():
        return refused
    return refused - {word.lower() for word in load_frames(path).allow}


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

    def superscript(self) -> str:
        """The marker of this literal written as a superscript (an exponent: 11³)."""
        return f"\x00{self.index}:s\x00"


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


class CompiledFrame(NamedTuple):
    """A frame (or step frame) ready to render: its one template of story, question and unit, its
    key `family/id` (the records' provenance), its `when` condition, the names its text uses, the
    key of the programs (or steps) it tells, what it needs of a theme, and what steps may follow
    it by (what it denotes, its tags)."""

    frame: Frame | StepFrame
    template: jinja2.Template
    key: str
    condition: object | None
    uses: frozenset[str]
    shape: str
    needs: frozenset[str]
    marks: frozenset[str]
    size: str | None  # the role of its quantities, a name in the vocabulary's sizes
    referent: jinja2.Template | None  # the words a step after it says for its answer


# One environment for every frame: a frames file is compiled once per process, whichever standards use it.
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
_PERSON = ("name", "subj", "Subj", "obj", "poss", "Poss")
HELPERS = frozenset(
    {*_PERSON, *(f"{word}2" for word in _PERSON), "count", "agree", "plural", "a", "money", "measure", "sup"}
)
_LITERAL = re.compile(r"n\d+")


@lru_cache(maxsize=None)
def _compiled(path: Path) -> tuple[tuple[CompiledFrame, ...], tuple[CompiledFrame, ...]]:
    """The frames and the step frames of a frames file, compiled; TemplateError names the frame and its line."""
    frames: FrameFile = load_frames(path)

    def compile_one(frame: Frame | StepFrame) -> CompiledFrame:
        unit = frame.unit if frame.unit is not None else frames.unit
        source = _PART.join((frame.story, frame.question, unit))
        try:
            template = _ENV.from_string(source)
            condition = _ENV.compile_expression(frame.when) if frame.when else None
            uses = meta.find_undeclared_variables(_ENV.parse(source))
            if frame.when:
                uses |= meta.find_undeclared_variables(_ENV.parse("{{ " + frame.when + " }}"))
        except jinja2.TemplateSyntaxError as error:
            line = line_of_id(path, frame.id)
            raise TemplateError(
                f"{path}{f':{line}' if line else ''}: frame {frame.id}: {error.message} (Jinja syntax, line "
                f"{error.lineno} of its story, question and unit)"
            ) from None
        referent = None
        if isinstance(frame, StepFrame):
            shape, needs, marks = step_frame_shape(frame.step, path, frame.id), frozenset(), frozenset()
        else:
            if frame.referent is not None:
                try:
                    referent = _ENV.from_string(frame.referent)
                except jinja2.TemplateSyntaxError as error:
                    raise TemplateError(f"{where(path, frame.id)}: frame {frame.id}: referent: {error.message}") from None
                uses |= meta.find_undeclared_variables(_ENV.parse(frame.referent))
            shape = frame_shape(frame.shape, path, frame.id)
            needs = frozenset(frames.needs if frame.needs is None else frame.needs)
            marks = frozenset([frame.denotes or frames.denotes, *frame.tags])
        key = f"{path.stem}/{frame.id}"
        size = frame.size or frames.size
        uses = frozenset(uses) - set(_ENV.globals)
        return CompiledFrame(frame, template, key, condition, uses, shape, needs, marks, size, referent)

    return tuple(map(compile_one, frames.frames)), tuple(map(compile_one, frames.steps))


class Renderer:
    """Renders programs of one standard with its frames families and themes."""

    def __init__(self, spec: RenderSpec, folder: Path | None = None):
        folder = self.folder = folder or templates_dir()
        self.spec = spec
        *self.sources, vocabulary, _ = template_files(spec, folder)
        self.vocabulary: Vocabulary = load_vocabulary(vocabulary)
        themes = self.vocabulary.themes
        self._labels = {name: labels(theme) for name, theme in themes.items()}
        self._names = re.compile(r"\b(?:" + "|".join(re.escape(p.name) for p in self.vocabulary.people) + r")\b")
        wanted = set(spec.themes)
        unknown = sorted(wanted - set(themes) - {mark for marks in self._labels.values() for mark in marks})
        if unknown:
            raise TemplateError(
                f"render.themes: no theme, kind or tag {', '.join(unknown)} in {folder / 'vocabulary.yaml'}"
            )
        # The standard's themes: all, or those it names (by name, kind or tag).
        self.themes = [n for n in themes if not wanted or n in wanted or self._labels[n] & wanted]
        self.refused = {source.stem: refused_words(source.stem, folder) for source in self.sources}
        self.forbidden = []
        for rule in self.vocabulary.forbid:
            try:
                condition = _ENV.compile_expression(rule.when)
            except jinja2.TemplateSyntaxError as error:
                raise TemplateError(f"{vocabulary}: forbid: {rule.when!r}: {error.message}") from None
            self.forbidden.append((re.compile(rule.says), condition, rule))
        # The roles quantities may have: the vocabulary's, and those a frames file adds.
        self.sizes = dict(self.vocabulary.sizes)
        for source in self.sources:
            self.sizes.update(load_frames(source).sizes)
        for name, theme in themes.items():
            if "size" in theme and theme["size"] not in self.sizes:
                raise TemplateError(
                    f"{vocabulary}: theme {name}: size {theme['size']!r} is not one of the sizes "
                    f"({', '.join(self.sizes) or 'none'})"
                )
        # One template per frame renders story, question and unit at once (one Jinja context, not three).
        # A frame is known by `family/id`, which the records keep as provenance.
        self.by_shape: dict[str, list[CompiledFrame]] = {}
        self.frame_themes: dict[str, tuple[str, ...]] = {}  # by frame key: the themes it may be told with
        self.steps: dict[str, list[CompiledFrame]] = {}  # by family
        self.followed: dict[str, tuple[CompiledFrame, ...]] = {}  # by step frame key: the frames it may follow
        for source in self.sources:
            frames, steps = _compiled(source)
            for compiled in (*frames, *steps):
                if compiled.size is not None and compiled.size not in self.sizes:
                    raise TemplateError(
                        f"{where(source, compiled.frame.id)}: frame {compiled.frame.id}: size {compiled.size!r} is "
                        f"not one of the sizes of the vocabulary or its file ({', '.join(self.sizes) or 'none'})"
                    )
            for compiled in frames:
                usable = self.themes_for(compiled.needs)
                self.frame_themes[compiled.key] = usable
                self._check_names(source, compiled, step=False, themes=usable)
                self.by_shape.setdefault(compiled.shape, []).append(compiled)
            for compiled in steps:
                # A step frame is told with the theme of the frame it follows.
                after = tuple(f for f in frames if follows(f.marks, compiled.frame.after))
                self.followed[compiled.key] = after
                silent = [f.frame.id for f in after if f.referent is None]
                if "referent" in compiled.uses and silent:
                    raise TemplateError(
                        f"{where(source, compiled.frame.id)}: step frame {compiled.frame.id} says {{{{ referent }}}}, "
                        f"but frame {silent[0]}, which it follows, has no `referent`"
                    )
                usable = sorted({theme for parent in after for theme in self.frame_themes[parent.key]})
                self._check_names(source, compiled, step=True, themes=usable)
                self.steps.setdefault(source.stem, []).append(compiled)

    def themes_for(self, needs: frozenset[str]) -> tuple[str, ...]:
        """The standard's themes a frame that needs these kinds or tags may be told with (THEMELESS
        for a frame that needs none)."""
        if not needs:
            return (THEMELESS,)
        return tuple(name for name in self.themes if self._labels[name] & needs)

    def _theme_words(self, theme: str) -> dict:
        return {} if theme == THEMELESS else words(self.vocabulary.themes[theme])

    def _check_names(self, source: Path, compiled: CompiledFrame, step: bool, themes) -> None:
        """TemplateError if a frame uses a name that one of the `themes` it may be drawn with does not
        give: found when the standard loads, not when that frame first meets that theme."""
        frame = compiled.frame
        shape = "" if step else compiled.shape
        lines = shape.split("\n")[:-1]  # its statements, without the question
        given = set(HELPERS) | {"answer", "before", "new", "n", "referent"} if step else set(HELPERS) | {"answer"}
        if shape == ANY_SHAPE or step:
            given |= {"expression", "equation", "equations"}
        elif len(lines) == 1 and lines[0].startswith("let "):
            given.add("expression")
        elif lines and all(line.startswith("solve ") for line in lines):
            given.add("equation" if len(lines) == 1 else "equations")
        count = None if shape == ANY_SHAPE or step else shape.count("N")
        literals = {name for name in compiled.uses if _LITERAL.fullmatch(name)}
        wrong = sorted(name for name in literals if count is not None and int(name[1:]) > count)
        for theme in themes:
            theme_words = set(self._theme_words(theme))
            theme_words |= {"nouns"} if "noun" in theme_words else set()
            unknown = sorted(compiled.uses - literals - given - theme_words) + wrong
            if unknown and theme == THEMELESS:
                raise TemplateError(
                    f"{where(source, frame.id)}: frame {frame.id} uses {', '.join(unknown)}, but needs no theme: "
                    "say which kinds of theme it needs (`needs:` on the frame or its file, e.g. `needs: things`)"
                )
            if unknown:
                line = line_of_id(source, frame.id)
                known = ", ".join(sorted(theme_words)) or "nothing"
                raise TemplateError(
                    f"{source}{f':{line}' if line else ''}: frame {frame.id} uses {', '.join(unknown)}, which "
                    f"nothing gives it with theme {theme} (that theme gives {known}; "
                    f"{'its numbers are n1 to n' + str(count) if count is not None else 'numbers are n1, n2, ...'})"
                )

    def shapes(self) -> set[str]:
        return set(self.by_shape)

    def render(self, program: Program, rng: random.Random, answer=None, told: AbstractSet[str] = frozenset()) -> Rendered:
        """A statement for the program, with the provenance of each span; Unfaithful if it fails the check.

        A frame is chosen among those of the program's shape whose condition holds, then a theme
        among those it may be told with. `answer` is what the frames' `when` conditions may test,
        with the numbers. A statement whose telling (see `telling`) is in `told` is drawn again, up
        to RETELLINGS times in all, so that a standard's problems read differently, not only in
        their numbers and names."""
        shape = shape_of(program)
        candidates = self.by_shape.get(shape) or self.by_shape.get(ANY_SHAPE)
        if not candidates:
            raise Unfaithful(f"render: no frame for shape {shape!r} in {', '.join(p.name for p in self.sources)}")
        usable = [c for c in candidates if self.frame_themes[c.key]]
        if not usable:
            raise Unfaithful(f"render: no frame for shape {shape!r} has a theme of this standard")
        if any(c.condition is not None for c in usable):
            values = condition_values(program, answer)
            usable = [c for c in usable if c.condition is None or c.condition(**values)]
        if not usable:
            raise Unfaithful(f"render: no frame for shape {shape!r} fits these numbers")
        numbers = [n.value for n in program.literals()]
        fitting = {}
        for compiled in usable:
            if self.fits(compiled.size, numbers, answer):
                themes = [t for t in self.frame_themes[compiled.key] if self.fits(self._theme_size(t), numbers, answer)]
                if themes:
                    fitting[compiled.key] = (compiled, themes)
        if not fitting:
            roles = sorted({c.size for c in usable if c.size})
            raise Unfaithful(
                f"render: no frame for shape {shape!r} has a size that fits these numbers ({', '.join(roles) or 'themes'})"
            )
        for _ in range(RETELLINGS):
            compiled, themes = fitting[rng.choice(list(fitting))]
            rendered = self._render(program, compiled, rng.choice(themes), rng, answer)
            if self.telling(rendered) not in told:
                break
        return rendered

    def telling(self, rendered: Rendered) -> str:
        """The statement as a reader tells problems apart: its numbers as #, the people's names as @
        and their pronouns as ~ (the same telling with other numbers or people is no new text)."""
        text = list(rendered.statement)
        for span in rendered.spans:
            if span.source != "question":
                text[span.start : span.end] = "#".ljust(span.end - span.start, "\0")
        masked = "".join(text).replace("\0", "")
        return _PRONOUN_WORDS.sub("~", self._names.sub("@", masked))

    def _theme_size(self, theme: str) -> str | None:
        return None if theme == THEMELESS else self.vocabulary.themes[theme].get("size")

    def forbids(self, statement: str, program: Program, answer, theme: str) -> str | None:
        """Why the vocabulary forbids this statement told with this theme (`forbid`), or None."""
        values = None
        for pattern, condition, rule in self.forbidden:
            if rule.stories and theme == THEMELESS:
                continue
            for match in pattern.finditer(statement):
                values = values or condition_values(program, answer)
                groups = {f"g{i}": _said_group(group) for i, group in enumerate(match.groups(), 1)}
                if condition(**values, **groups, gcd=math.gcd):
                    return rule.why
        return None

    def check_allowed(self, statement: str, program: Program, answer, theme: str) -> None:
        """Unfaithful if the statement is one the vocabulary forbids for these numbers."""
        why = self.forbids(statement, program, answer, theme)
        if why is not None:
            raise Unfaithful(f"render: {why}")

    def fits(self, role: str | None, numbers, answer) -> bool:
        """Whether every number and the answer fit the range of a size role (any, for no role)."""
        if role is None:
            return True
        size = self.sizes[role]
        return all(size.min <= abs(value) <= size.max for value in [*numbers, *_numbers_in(answer)])

    def frame(self, frame_id: str) -> CompiledFrame:
        """The compiled frame `family/id`."""
        for compiled in (c for frames in self.by_shape.values() for c in frames):
            if compiled.key == frame_id:
                return compiled
        raise KeyError(frame_id)

    def render_frame(self, program: Program, frame_id: str, theme: str, rng: random.Random) -> Rendered:
        """The statement one frame (`family/id`) gives with one theme (for checking frames against themes)."""
        return self._render(program, self.frame(frame_id), theme, rng)

    def rerender(self, rendered: Rendered, program: Program, answer) -> Rendered:
        """The same frame, people and words as `rendered`, saying `program` (a changed copy of its
        program); Unfaithful if the frame's condition does not hold for the new numbers."""
        compiled = self.frame(rendered.frame)
        if compiled.condition is not None and not compiled.condition(**condition_values(program, answer)):
            raise Unfaithful(f"render: frame {rendered.frame} does not fit the changed numbers")
        numbers = [n.value for n in program.literals()]
        for role in (compiled.size, self._theme_size(rendered.theme)):
            if not self.fits(role, numbers, answer):
                raise Unfaithful(f"render: the changed numbers do not fit the size {role} of frame {rendered.frame}")
        rng = random.Random()
        rng.setstate(rendered.state)
        return self._render(program, compiled, rendered.theme, rng, answer)

    def _steps_after(self, frame: str, step: str) -> list[CompiledFrame]:
        family = frame.partition("/")[0]
        return [
            c
            for c in self.steps.get(family, ())
            if c.shape == step and any(parent.key == frame for parent in self.followed[c.key])
        ]

    def has_steps(self, frame: str, step: str) -> bool:
        """Whether some step frame `step` may read right after frame `family/id` (numbers aside)."""
        return bool(self._steps_after(frame, step))

    def continue_story(
        self, rendered: Rendered, program: Program, step: str, answer, before, rng: random.Random
    ) -> Rendered:
        """The words of one more step of `rendered`'s story: `program` is its program with one
        statement added, `step` that statement's shape (`A + N`). The people and words are
        `rendered`'s; only the new numbers must be said; `rng` chooses among the step frames that
        fit. Unfaithful if none does."""
        values = condition_values(program, answer)
        values["before"] = before
        literals = program.literals()
        first_new = len(literals) - step.count("N")
        new_numbers = [n.value for n in literals[first_new:]]
        usable = [
            c
            for c in self._steps_after(rendered.frame, step)
            if (c.condition is None or c.condition(**values))
            and self.fits(c.size, new_numbers, answer)
            and self.fits(self._theme_size(rendered.theme), new_numbers, answer)
        ]
        if not usable:
            raise Unfaithful(f"render: no step frame `{step}` after {rendered.frame} fits these numbers")
        compiled = rng.choice(usable)
        step_frame, template, key = compiled.frame, compiled.template, compiled.key
        again = random.Random()
        again.setstate(rendered.state)
        context = self._context(rendered.theme, program, literals, again)
        parent = self.frame(rendered.frame)
        if parent.referent is not None:
            context["referent"] = parent.referent.render(context)
        context["new"] = [Quantity(i, literals[i].value) for i in range(first_new, len(literals))]
        context["n"] = context["new"][0]
        context.update(answer=answer, before=before)  # what its `when` sees, for its words too
        try:
            story, question, unit = _say(template, context, f"step frame {step_frame.id} with theme {rendered.theme}")
            statement, spans = _written(story, question, literals)
            check_step_faithful(
                statement, spans, [n.value for n in literals], first_new, unit, self.refused[key.partition("/")[0]]
            )
            self.check_allowed(statement, program, answer, rendered.theme)
        except Unfaithful as error:
            raise Unfaithful(f"{error} (step frame {key}, {self.location(key)})") from None
        return Rendered(statement, key, rendered.theme, spans)

    def _render(
        self, program: Program, compiled: CompiledFrame, theme_name: str, rng: random.Random, answer=None
    ) -> Rendered:
        frame, template, frame_key = compiled.frame, compiled.template, compiled.key
        state = rng.getstate()
        literals = program.literals()
        context = self._context(theme_name, program, literals, rng)
        context["answer"] = answer  # what its `when` sees, for its words too
        try:
            story, question, unit = _say(template, context, f"frame {frame.id} with theme {theme_name}")
            rendered = _resolve(story, question, unit, literals, frame_key, theme_name, self.refused[frame_key.partition("/")[0]])
            self.check_allowed(rendered.statement, program, answer, theme_name)
        except Unfaithful as error:
            raise Unfaithful(f"{error} (frame {frame_key}, {self.location(frame_key)})") from None
        rendered.state = state
        return rendered

    def location(self, key: str) -> str:
        """Where the frame or step frame `family/id` is written: `family.yaml:line` (no folder, so
        that a release's counted reasons do not depend on where the templates are installed)."""
        family, _, frame_id = key.partition("/")
        path = next((p for p in self.sources if p.stem == family), None)
        line = line_of_id(path, frame_id) if path is not None else None
        return f"{family}.yaml:{line}" if line else f"{family}.yaml"

    def _context(self, theme_name: str, program: Program, literals: list[Num], rng: random.Random) -> dict:
        theme = self._theme_words(theme_name)
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
                text = format_expr(_as_fractions(expr), number=numbered, symbols=SCHOOL_SYMBOLS)
                # A negative fraction after the first number: (-3/4), not (-3)/4.
                text = _NEGATIVE_FRACTION.sub(r"(\1/\2)", text.replace(" \x02 ", "/"))
            else:
                text = format_expr(expr, number=numbered, symbols=SCHOOL_SYMBOLS)
            return school_notation(text, expr)

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
            sup=Quantity.superscript,
            money=lambda q: f"${q.padded(2)}" if currency == "dollars" else f"{q}¢",
            measure=lambda q: _count(q, unit) if unit else str(q),
        )
        return context


SCHOOL_SYMBOLS = {**MATH_SYMBOLS, "^": _POWER}


def school_notation(text: str, expr) -> str:
    """An expression written by the writer as a textbook writes it: a whole-number exponent as a
    superscript (11³, x²) unless a base is a negative literal, and a number times an unknown as 3x."""
    if any(isinstance(node, BinOp) and node.op == "^" and isinstance(node.left, Num) and node.left.value < 0
           for node in walk(expr)):
        return _COEFFICIENT.sub(r"\1\2", text.replace(f" {_POWER} ", " ^ "))
    text = _SUPERSCRIPT_EXPONENT.sub(lambda m: f"\x00{m.group(1)}:s\x00", text).replace(f" {_POWER} ", " ^ ")
    return _COEFFICIENT.sub(r"\1\2", text)


def _numbers_in(answer) -> list:
    """The numbers an answer holds: itself, the parts of a tuple, none for a comparison."""
    if isinstance(answer, (int, Fraction)) and not isinstance(answer, bool):
        return [answer]
    if isinstance(answer, (tuple, list)):
        return [number for part in answer for number in _numbers_in(part)]
    return []


def _said_group(group: str | None):
    """A group a forbid rule's pattern matched: its number where it says one, else its text."""
    if group is not None and re.fullmatch(r"\d+", group):
        return int(group)
    return group


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


def _fill(text: str, literals: list[Num], offset: int, spans: list[SpanTuple]) -> str:
    """`text` with each marker replaced by its number; records a span per literal."""
    out: list[str] = []
    position = 0
    length = offset
    for match in _MARK.finditer(text):
        chunk = text[position : match.start()]
        out.append(chunk)
        length += len(chunk)
        index = int(match.group(1))
        places = match.group(2)
        value = literals[index].value
        if places == "s" and value.denominator == 1 and value >= 0:
            number = str(value.numerator).translate(_SUPERSCRIPT)
        else:
            number = _display(value, 0 if places in (None, "s") else int(places))
        spans.append(SpanTuple(length, length + len(number), f"literal {index}"))
        out.append(number)
        length += len(number)
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


def _written(story: str, question: str, literals: list[Num]) -> tuple[str, list[SpanTuple]]:
    """The statement with numbers for markers, and its spans in order (each literal's, and the question's)."""
    spans: list[SpanTuple] = []
    story_text = _fill(story, literals, 0, spans)
    question_start = len(story_text) + 1 if story_text else 0
    question_text = _fill(question, literals, question_start, spans)
    statement = f"{story_text} {question_text}" if story_text else question_text
    spans.append(SpanTuple(question_start, len(statement), "question"))
    spans.sort(key=lambda s: s.start)
    return statement, spans


def _resolve(
    story: str, question: str, unit: str, literals: list[Num], frame: str, theme: str, refused: frozenset[str] | None = None
) -> Rendered:
    """Replaces markers by numbers, records spans, and checks faithfulness."""
    statement, spans = _written(story, question, literals)
    check_faithful(statement, spans, unit, [n.value for n in literals], refused)
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
    """The value a number written in a statement stands for (9,212 or 2.50 or -3); Unfaithful if
    the text is no number (a span that does not mark one)."""
    if text and set(text) <= _SUPERSCRIPT_DIGITS:
        return Fraction(text.translate(_FROM_SUPERSCRIPT))
    if not _SAID_NUMBER.fullmatch(text):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise Unfaithful(f"faithfulness: a span marks {shown!r}, which is not a number")
    return Fraction(text.replace(",", ""))


def check_spans(statement: str, spans: list[SpanTuple]) -> None:
    """Unfaithful unless every span lies within the statement and exactly one marks the question."""
    for span in spans:
        if not 0 <= span.start <= span.end <= len(statement):
            raise Unfaithful(
                f"faithfulness: span {span.start}-{span.end} ({span.source}) lies outside the statement, "
                f"which has {len(statement)} characters"
            )
    questions = sum(span.source == "question" for span in spans)
    if questions != 1:
        raise Unfaithful(f"faithfulness: the spans mark {questions} questions, not one")


def span_literal(span: SpanTuple, count: int, kinds: tuple[str, ...] = ("literal",)) -> tuple[str, int]:
    """(kind, index) of a span that marks literal `index` of `count` (`literal 2`, or another of
    `kinds` such as `previous literal 2`); Unfaithful for any other mark."""
    kind, _, number = span.source.rpartition(" ")
    if kind not in kinds or not number.isdigit() or int(number) >= count:
        raise Unfaithful(f"faithfulness: span {span.start}-{span.end} says {span.source!r}, not a literal of the program")
    return kind, int(number)


def _said_literals(statement: str, spans: list[SpanTuple], values: list[Fraction]) -> list[int]:
    """The literal each span but the question's says, in order; Unfaithful if one says another number."""
    said = []
    for span in spans:
        if span.source == "question":
            continue
        _, index = span_literal(span, len(values))
        if said_number(statement[span.start : span.end]) != values[index]:
            raise Unfaithful(f"faithfulness: span {span.start}-{span.end} does not say literal {index}")
        said.append(index)
    return said


def check_faithful(
    statement: str, spans: list[SpanTuple], unit: str, values: list[Fraction], refused: frozenset[str] | None = None
) -> None:
    """Raises Unfaithful unless the statement says each literal once, nothing else numeric (none of
    the `refused` words, by default the built-in vocabulary's), and one question; every span but the
    question's marks a literal (`values` are the literals, in order)."""
    check_spans(statement, spans)
    seen = _said_literals(statement, spans, values)
    if sorted(seen) != list(range(len(values))):
        missing = sorted(set(range(len(values))) - set(seen))
        repeated = sorted({i for i in seen if seen.count(i) > 1})
        raise Unfaithful(f"faithfulness: literals missing {missing}, repeated {repeated}")
    question_text = check_nothing_else(statement, spans, refused)
    if unit and unit not in question_text:
        raise Unfaithful(f"faithfulness: the question does not mention {unit!r}")


def check_step_faithful(
    statement: str,
    spans: list[SpanTuple],
    values: list[Fraction],
    first_new: int,
    unit: str = "",
    refused: frozenset[str] | None = None,
) -> None:
    """Raises Unfaithful unless a step's text says each new literal (index `first_new` on) exactly
    once, any earlier one only as it is, nothing else numeric, and ends in one question (about `unit`)."""
    check_spans(statement, spans)
    new = [i for i in _said_literals(statement, spans, values) if i >= first_new]
    if sorted(new) != list(range(first_new, len(values))):
        raise Unfaithful(f"faithfulness: the step must say each new number once, not literals {sorted(new)}")
    question_text = check_nothing_else(statement, spans, refused)
    if unit and unit not in question_text:
        raise Unfaithful(f"faithfulness: the question does not mention {unit!r}")


def check_nothing_else(statement: str, spans: list[SpanTuple], refused: frozenset[str] | None = None) -> str:
    """Raises Unfaithful if, outside the spans of numbers, the statement says a number (a digit, or
    one of the `refused` words and signs: by default the built-in vocabulary's), or if it does not
    end in its one question; returns the question."""
    masked = list(statement)
    for span in spans:
        if span.source != "question":
            masked[span.start : span.end] = " " * (span.end - span.start)
    rest = "".join(masked)
    if _DIGIT.search(rest):
        raise Unfaithful("faithfulness: a number in the text that is not a quantity of the program")
    refused = refused_words() if refused is None else refused
    said = {w.lower() for w in _WORD.findall(rest)} & refused
    said |= {sign for sign in refused if not sign.isalpha() and sign in rest}
    if said:
        raise Unfaithful(f"faithfulness: number word(s) {sorted(said)} in the text (the vocabulary's `refuse` list)")
    (question,) = [s for s in spans if s.source == "question"]
    question_text = statement[question.start : question.end]
    if statement.count("?") != 1 or not question_text.endswith("?"):
        raise Unfaithful("faithfulness: the statement must end in exactly one question")
    if question.end != len(statement):
        raise Unfaithful(f"faithfulness: text after the question: {statement[question.end:][:40]!r}")
    return question_text
