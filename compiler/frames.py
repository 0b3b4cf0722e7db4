"""The template layer as data: frames, step frames and vocabulary, how a frame matches a program, and which themes it may use.

A frame matches a program by its structure: the program with every literal written N and its
quantities renamed in order (a, b, c, ...; unknowns x, y, z), so a frame written
`let total = (N + N)` serves `let a = N + N`. A frame names the kinds of theme it needs
(`needs: [distance]`); every theme of the vocabulary whose kind or tags are among them serves it,
so a theme is written once. A frame says what its answer denotes (`denotes: have`), and a step
frame says which denotations or tags it follows, never which frames.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from mathcamps.errors import MathcampsError
from mathcamps.files import read_yaml
from mathcamps.language import ProgramError, format_expr, format_program, parse_program
from mathcamps.registry import format_validation_error
from mathcamps.strict import Strict

ANY_SHAPE = "*"  # a frame for any shape that has no frame of its own (e.g. one that shows the expression)
THEMELESS = "none"  # the theme of a frame that needs none (its words are all its own)
_KEYWORDS = frozenset({"let", "ask", "solve", "compare", "factors"})
_LET_NAMES = "abcdefghijklmnopqrstuvw"
_UNKNOWN_NAMES = "xyz"
_LITERAL = re.compile(r"(?<![A-Za-z_\d])-?\d+(\.\d+)?")
_HOLE_OR_LITERAL = re.compile(r"#\d+|(?<![A-Za-z_\d])-?\d+(\.\d+)?")
_NAME = re.compile(r"(?<![A-Za-z0-9_])[a-z][a-z0-9_]*")
_N = re.compile(r"(?<![A-Za-z_\d])N(?![A-Za-z_\d])")


class TemplateError(MathcampsError):
    """A frames or vocabulary file that is malformed."""



def _listed(value):
    return [value] if isinstance(value, str) else value


class Size(Strict):
    """The plausible size of a quantity in one role: how many a child has, a tabletop's side."""

    min: float = 0
    max: float


class _Told(Strict):
    """What every frame and step frame has: an id, its words, and the unit its question asks in."""

    id: str
    story: str
    question: str
    unit: str | None = None


class Frame(_Told):
    shape: str = Field(description="the program it tells, numbers written N: `let a = N + N\\nask a`, or `*`")
    needs: list[str] | None = Field(
        default=None, description="kinds or tags of theme it can be told with (any of them); default: the file's"
    )
    denotes: str | None = Field(
        default=None,
        description="what its answer is, for the steps that follow it: `have` (what someone has now), "
        "`total`, `difference`, `rate`, `share`, `length`, `price`, ...; default: the file's",
    )
    tags: list[str] = Field(default_factory=list, description="more words step frames may follow it by")
    referent: str | None = Field(
        default=None,
        description="words for what its answer is, which a step frame after it says as {{ referent }}: "
        "`the stickers {{ name }} has now`",
    )
    size: str | None = Field(
        default=None,
        description="the role its quantities have (a name in the vocabulary's `sizes`): each number and "
        "the answer must fit that role's range; default: the file's",
    )
    when: str | None = Field(
        default=None,
        description="a Jinja condition on the numbers n1, n2, ... and the answer (exact values) "
        "that the story needs, e.g. `n1 <= n2` for '3/4 of the 8 apples'",
    )

    _needs = field_validator("needs", mode="before")(_listed)


class StepFrame(_Told):
    """How the story of a problem goes on by one step: an incremental follow-up's words."""

    step: str = Field(description="the added step as an expression of the asked quantity A and numbers N: `A + N`")
    after: list[str] = Field(
        default=["*"],
        description="what the frames it reads right after denote, or their tags (patterns like `have*`; "
        "`!total` for none of those)",
    )
    size: str | None = Field(
        default=None, description="the role of its new numbers and new answer (see Frame.size); default: the file's"
    )
    when: str | None = Field(
        default=None,
        description="a Jinja condition on the numbers n1, n2, ... (the new one last), the new answer "
        "and the original answer `before`",
    )

    _after = field_validator("after", mode="before")(_listed)


class FrameFile(Strict):
    unit: str
    needs: list[str] = Field(default_factory=list, description="the kinds of theme its frames need unless they say")
    denotes: str = Field(default="value", description="what its frames' answers denote unless they say")
    size: str | None = Field(default=None, description="the role of its frames' quantities unless they say")
    sizes: dict[str, Size] = Field(default_factory=dict, description="roles of its own, beside the vocabulary's")
    allow: list[str] = Field(
        default_factory=list,
        description="words the vocabulary's `refuse` list holds that this family's text may say "
        "(`second` in 'meters per second')",
    )
    frames: list[Frame] = Field(min_length=1)
    steps: list[StepFrame] = Field(default_factory=list, description="how each frame's story goes on by one step")

    _needs = field_validator("needs", mode="before")(_listed)


class Forbidden(Strict):
    """A statement no frame may write: one that says `says` (a regular expression) where `when` (a
    condition on the numbers n1, n2, ... and the answer, and on the groups g1, g2, ... of what
    `says` matched, with gcd) holds."""

    says: str
    when: str
    why: str = Field(description="the counted reason a statement is refused for")
    stories: bool = Field(
        default=False, description="whether it holds only for stories (frames told with a theme), not bare exercises"
    )

    @field_validator("says")
    @classmethod
    def _pattern(cls, says: str) -> str:
        try:
            re.compile(says)
        except re.error as error:
            raise ValueError(f"{says!r} is no regular expression: {error}") from None
        return says


class Person(Strict):
    name: str
    pronoun: str = Field(pattern="^(she|he)$")


class Vocabulary(Strict):
    people: list[Person] = Field(min_length=2)
    refuse: list[str] = Field(
        min_length=1,
        description="words (and signs) that say a number: the text may say them only where a family allows",
    )
    sizes: dict[str, Size] = Field(
        default_factory=dict, description="roles a frame's quantities may have, and the plausible size of each"
    )
    forbid: list[Forbidden] = Field(
        default_factory=list, description="statements no frame may write ('some' that is zero, 'how many more' of equals)"
    )
    themes: dict[str, dict[str, str | list[str]]]

    @field_validator("themes")
    @classmethod
    def _kinds(cls, themes: dict) -> dict:
        for name, theme in themes.items():
            if name == THEMELESS:
                raise ValueError(f"{THEMELESS!r} names the theme of frames that need none; call this theme otherwise")
            if not isinstance(theme.get("kind"), str):
                raise ValueError(f"theme {name} needs a `kind` (one word, e.g. distance), the kind of frames it serves")
            if "tags" in theme and not isinstance(theme["tags"], list):
                raise ValueError(f"theme {name}: `tags` is a list of words")
            if "size" in theme and not isinstance(theme["size"], str):
                raise ValueError(f"theme {name}: `size` is one role of the vocabulary's `sizes`")
        return themes


_PLACES = re.compile(r"\{(sentence|old|new)\}")


class Rephrasings(Strict):
    """How a counterfactual says what changed (templates/followups.yaml)."""

    story: list[str] = Field(min_length=1, description="when the changed number is in the story: {sentence}, {old}, {new}")
    question: list[str] = Field(min_length=1, description="when it is in the question: {old} and {new}")

    @field_validator("story", "question")
    @classmethod
    def _places(cls, phrasings: list[str], info) -> list[str]:
        allowed = {"sentence", "old", "new"} if info.field_name == "story" else {"old", "new"}
        for text in phrasings:
            said = set(_PLACES.findall(text))
            if "?" in text or re.search(r"\{(?!sentence\}|old\}|new\})", text) or not said <= allowed:
                raise ValueError(f"{text!r}: a phrasing says {', '.join('{' + p + '}' for p in sorted(allowed))} only, and asks nothing")
            if info.field_name == "story" and "sentence" not in said:
                raise ValueError(f"{text!r}: a story phrasing quotes the changed {{sentence}}")
            if info.field_name == "question" and said != {"old", "new"}:
                raise ValueError(f"{text!r}: a question phrasing says {{old}} and {{new}}")
        return phrasings


def phrasing_parts(text: str) -> list[str]:
    """A phrasing split into words and its places (`{sentence}`, `{old}`, `{new}`), in order."""
    return [part for part in re.split(r"(\{(?:sentence|old|new)\})", text) if part]


@lru_cache(maxsize=None)
def load_rephrasings(folder: Path | None = None) -> Rephrasings:
    """The counterfactual phrasings of a templates folder (the built-in ones if it has none)."""
    path = (folder or templates_dir()) / "followups.yaml"
    return _load_yaml(path if path.is_file() else templates_dir() / "followups.yaml", Rephrasings, "follow-up phrasings")


def labels(theme: dict) -> frozenset[str]:
    """The words a frame's `needs` may name a theme by: its kind and its tags."""
    return frozenset([theme["kind"], *theme.get("tags", ())])


def words(theme: dict) -> dict:
    """What a theme gives a frame's text: every key but its tags and size (its kind is a word too)."""
    return {key: value for key, value in theme.items() if key not in ("tags", "size")}


def templates_dir() -> Path:
    return Path(str(resources.files("mathcamps.templates")))


def _load_yaml(path: Path, model: type[BaseModel], what: str):
    raw = read_yaml(path, TemplateError, what)
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise TemplateError(format_validation_error(path, error)) from None


@lru_cache(maxsize=None)
def load_frames(path: Path) -> FrameFile:
    return _load_yaml(path, FrameFile, "frames file")


@lru_cache(maxsize=None)
def load_vocabulary(path: Path) -> Vocabulary:
    return _load_yaml(path, Vocabulary, "vocabulary")


@lru_cache(maxsize=None)
def line_of_id(path: Path, frame_id: str) -> int | None:
    """The line of a frames file on which the frame (or step frame) with this id begins."""
    pattern = re.compile(rf"^\s*(?:-\s*)?id:\s*['\"]?{re.escape(frame_id)}['\"]?\s*(?:#.*)?$")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return next((number for number, line in enumerate(lines, 1) if pattern.match(line)), None)


def where(path: Path, frame_id: str) -> str:
    line = line_of_id(path, frame_id)
    return f"{path}:{line}" if line else str(path)


# ---------------------------------------------------------------- matching by structure


def structure(text: str) -> str:
    """The structure of a program's canonical text: literals written N, quantities renamed in the
    order they are defined (a, b, ...), unknowns in the order they appear (x, y, z)."""
    lets = re.findall(r"^let ([a-z][a-z0-9_]*) =", text, re.M)
    renamed = dict(zip(lets, _LET_NAMES))
    unknowns = iter(_UNKNOWN_NAMES)

    def rename(match: re.Match) -> str:
        name = match.group()
        if name in _KEYWORDS:
            return name
        if name not in renamed:
            renamed[name] = next(unknowns, name)
        return renamed[name]

    return _NAME.sub(rename, _LITERAL.sub("#", text)).replace("#", "N")


def shape_of(program) -> str:
    """The key of a program's frames: its structure."""
    return structure(format_program(program))


def frame_shape(shape: str, path: Path, frame_id: str) -> str:
    """The key a frame's written shape stands for (read by the language, so names and redundant
    parentheses do not matter); TemplateError naming the frame if it is no program."""
    if shape == ANY_SHAPE:
        return shape
    try:
        return shape_of(parse_program(_N.sub("1", shape), f"{path.name} frame {frame_id}"))
    except ProgramError as error:
        raise TemplateError(f"{where(path, frame_id)}: frame {frame_id}: its shape is no program: {error}") from None


def step_shape(expr, asked: str) -> str:
    """A step's expression (with numbers or holes) with the asked quantity written A and each
    number N: `A * (N / N)`, the key of its step frames."""
    text = _HOLE_OR_LITERAL.sub("N", format_expr(expr))
    return re.sub(rf"(?<![A-Za-z_\d]){asked}(?![A-Za-z_\d])", "A", text)


def step_frame_shape(step: str, path: Path, frame_id: str) -> str:
    """The key a step frame's written step stands for (`A+N` is `A + N`)."""
    text = _N.sub("1", re.sub(r"(?<![A-Za-z_\d])A(?![A-Za-z_\d])", "a", step))
    try:
        program = parse_program(f"let a = 1\nlet b = {text}\nask b", f"{path.name} step frame {frame_id}")
    except ProgramError as error:
        raise TemplateError(f"{where(path, frame_id)}: step frame {frame_id}: its step is no expression: {error}") from None
    return step_shape(program.statements[-1].expr, "a")


def follows(marks: frozenset[str], patterns: list[str]) -> bool:
    """Whether a step frame with these `after` patterns reads right after a frame with these marks
    (what it denotes, its tags)."""
    from fnmatch import fnmatchcase

    wanted = [p for p in patterns if not p.startswith("!")] or ["*"]
    refused = [p[1:] for p in patterns if p.startswith("!")]

    def matches(pattern: str) -> bool:
        return any(fnmatchcase(mark, pattern) for mark in marks)

    return any(map(matches, wanted)) and not any(map(matches, refused))
