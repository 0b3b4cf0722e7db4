"""Standard definitions (data files) and the registry that loads, checks and orders them."""

from __future__ import annotations

import hashlib
import re
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterator, Literal

from pydantic import Field, ValidationError, model_validator

from mathcamps.answers import AnswerKind
from mathcamps.errors import MathcampsError
from mathcamps.files import read_yaml
from mathcamps.language import Grammar, load_grammar
from mathcamps.strict import Strict

DOMAINS = {
    "CC": "Counting and Cardinality",
    "OA": "Operations and Algebraic Thinking",
    "NBT": "Number and Operations in Base Ten",
    "NF": "Number and Operations—Fractions",
    "MD": "Measurement and Data",
    "G": "Geometry",
    "RP": "Ratios and Proportional Relationships",
    "NS": "The Number System",
    "EE": "Expressions and Equations",
    "F": "Functions",
    "SP": "Statistics and Probability",
}


class DefinitionError(MathcampsError):
    """A standard definition that is missing, malformed or inconsistent."""



class Range(Strict):
    """Inclusive bounds on a set of values; literals drawn from it have `places` decimal places."""

    min: int
    max: int
    places: int = Field(default=0, ge=0, le=6, description="decimal places of the literals drawn (0: whole)")

    def __contains__(self, value) -> bool:
        return self.min <= value <= self.max


class AnswerSpec(Strict):
    """The kind of the answer and the range it must lie in (not used for comparisons)."""

    kind: AnswerKind
    min: int | None = None
    max: int | None = None
    places: int | None = Field(
        default=None, ge=0, description="a decimal answer has at most this many places (it always terminates)"
    )

    def admits(self, value) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class FractionSpec(Strict):
    """What a fraction may be: a quotient of two literals, such as 3 / 4."""

    whole: bool = Field(default=True, description="a fraction may equal a whole number (6/2, 4/4)")
    improper: bool = Field(default=True, description="a fraction may be greater than 1 (7/4)")


class RenderSpec(Strict):
    """Which frames and vocabulary turn this standard's programs into text."""

    frames: str | list[str] = Field(description="frames file(s) in templates/, without .yaml")
    fractions: bool = Field(
        default=False, description="write a quotient of two literals as a fraction (3/4), not a division (3 ÷ 4)"
    )

    themes: list[str] = Field(
        default_factory=list,
        description="only these themes of templates/vocabulary.yaml, named or by kind or tag "
        "(default: every theme that its frames can be told with)",
    )

    @property
    def families(self) -> list[str]:
        return [self.frames] if isinstance(self.frames, str) else list(self.frames)


class Definition(Strict):
    """What a standard's YAML file declares."""

    id: str = Field(pattern=r"^(K|[1-8])\.[A-Z]+\.[A-Z]\.\d+$")
    variant: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9]*$")
    grade: Literal["K", "1", "2", "3", "4", "5", "6", "7", "8"]
    domain: str
    cluster: str = Field(description="the cluster's heading in the Common Core")
    text: str = Field(min_length=10, description="the standard's official sentence")
    grammar: str = Field(pattern=r"^[A-Za-z0-9_]+\.lark$")
    max_depth: int = Field(default=12, ge=1, le=64)
    weights: dict[str, float] = Field(default_factory=dict)
    numbers: Range = Field(description="every literal of a program")
    ranges: dict[str, Range] = Field(
        default_factory=dict,
        description="narrower ranges for the literals under a rule or alias of the grammar, e.g. factor",
    )
    values: Range = Field(description="every intermediate value: each operation, named quantity and unknown")
    whole: bool = Field(default=True, description="every value is a whole number")
    distinct: bool = Field(default=False, description="the literals of a problem are pairwise different")
    trivial: bool = Field(
        default=False, description="allow operations by a literal that change nothing: × 1, ÷ 1, + 0, - 0"
    )
    polygon: str | None = Field(
        default=None,
        description="a rule whose literals (with the unknown, if any) are the sides of one polygon: "
        "each side must be shorter than all the others together",
    )
    fractions: FractionSpec = Field(default_factory=FractionSpec)
    followups: list[Literal["counterfactual", "incremental"]] = Field(
        default_factory=list,
        description="kinds of follow-up question each problem gets: counterfactual (one given quantity "
        "changes) and incremental (the story goes on by one step; the grammar's `followup` and `then` "
        "rules say which programs those are)",
    )
    prerequisites: list[str] = Field(
        default_factory=list,
        description="ids of the registered standards this one builds on, after the Common Core progressions",
    )
    unique: Literal["program", "statement"] = Field(
        default="program",
        description="what no two problems share: the program, or (for standards with few programs) the statement",
    )
    answer: AnswerSpec
    render: RenderSpec

    @model_validator(mode="after")
    def _consistent(self) -> Definition:
        prefix = f"{self.grade}.{self.domain}."
        if not self.id.startswith(prefix):
            raise ValueError(f"id {self.id} does not match grade {self.grade} and domain {self.domain}")
        if self.domain not in DOMAINS:
            raise ValueError(f"unknown domain {self.domain!r}; known: {', '.join(DOMAINS)}")
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("weights must not be negative")
        if self.polygon is not None and self.polygon not in self.ranges:
            raise ValueError(f"polygon: {self.polygon} must also be named in ranges")
        for name, bounds in self.ranges.items():
            if bounds.min < self.numbers.min or bounds.max > self.numbers.max:
                raise ValueError(f"ranges.{name} must lie within numbers ({self.numbers.min}..{self.numbers.max})")
            if bounds.min > bounds.max:
                raise ValueError(f"ranges.{name} is empty")
            if bounds.places > self.numbers.places:
                raise ValueError(f"ranges.{name}.places must not exceed numbers.places ({self.numbers.places})")
        if self.whole and self.numbers.places:
            raise ValueError("numbers.places: decimal literals need `whole: false`")
        if self.answer.places is not None and self.answer.kind is not AnswerKind.decimal:
            raise ValueError("answer.places: only a decimal answer has places")
        return self


    def literal_bounds(self, ranged: tuple[str | None, ...]) -> list[Range]:
        """The range of each literal, given the ranged rule each stands in (None: `numbers`)."""
        return [self.ranges[name] if name else self.numbers for name in ranged]


FOLLOWUP_START = "followup"  # the rule of a grammar whose programs are its incremental follow-ups
FOLLOWUP_STEP = "then"  # the rule of the statement an incremental follow-up adds


class Standard:
    """A loaded standard: its definition, its grammar, and the hashes that version them."""

    def __init__(self, definition: Definition, definition_path: Path, grammar_path: Path):
        self.definition = definition
        self.definition_path = definition_path
        self.grammar_path = grammar_path

    @property
    def id(self) -> str:
        """The variant's id: the CCSS id, with `-variant` when the standard has several."""
        d = self.definition
        return f"{d.id}-{d.variant}" if d.variant else d.id

    @property
    def grade(self) -> str:
        return self.definition.grade

    @cached_property
    def grammar(self) -> Grammar:
        return load_grammar(self.grammar_path)

    @cached_property
    def followup_grammar(self) -> Grammar:
        """The grammar read from its `followup` rule: the programs of incremental follow-ups."""
        if not re.search(rf"^\??{FOLLOWUP_START}\s*:", self.grammar.text, re.M):
            raise DefinitionError(
                f"{self.definition_path}: followups: incremental needs a `{FOLLOWUP_START}` rule in "
                f"{self.grammar_path.name} (the original forms, then one `{FOLLOWUP_STEP}` statement, then the question)"
            )
        return load_grammar(self.grammar_path, start=FOLLOWUP_START)

    @cached_property
    def definition_sha256(self) -> str:
        return hashlib.sha256(self.definition_path.read_bytes()).hexdigest()

    @cached_property
    def grammar_sha256(self) -> str:
        return hashlib.sha256(self.grammar_path.read_bytes()).hexdigest()

    def __repr__(self) -> str:
        return f"Standard({self.id})"


def grade_number(grade: str) -> int:
    """A grade as a number: K is 0."""
    return 0 if grade == "K" else int(grade)


def _grade_order(standard: Standard) -> tuple:
    return (grade_number(standard.grade), standard.id)


def format_validation_error(path: Path, error: ValidationError) -> str:
    """A pydantic error as `file: field.path: message` lines."""
    lines = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"{path}: {field}: {item['msg']}")
    return "\n".join(lines)


def load_definition(path: Path) -> Definition:
    """One definition file, validated."""
    raw = read_yaml(path, DefinitionError, "definition")
    if not isinstance(raw, dict):
        raise DefinitionError(f"{path}: (top level): expected a mapping of fields")
    try:
        return Definition.model_validate(raw)
    except ValidationError as error:
        raise DefinitionError(format_validation_error(path, error)) from None


class Registry:
    """The standards of a folder of definitions, by id, in curriculum order."""

    def __init__(self, standards: list[Standard]):
        self._by_id: dict[str, Standard] = {}
        for standard in sorted(standards, key=_grade_order):
            if standard.id in self._by_id:
                first = self._by_id[standard.id].definition_path
                raise DefinitionError(
                    f"{standard.definition_path}: id: {standard.id} is already defined by {first}"
                )
            self._by_id[standard.id] = standard
        for standard in self._by_id.values():
            for prerequisite in standard.definition.prerequisites:
                if prerequisite not in self._by_id:
                    raise DefinitionError(
                        f"{standard.definition_path}: prerequisites: {prerequisite} is not a registered standard "
                        f"(a prerequisite names a standard of the same folder by its id, with its variant "
                        f"when it has one); known: {', '.join(self._by_id)}"
                    )

    @classmethod
    def load(cls, standards_dir: Path, grammars_dir: Path | None = None) -> Registry:
        """Every `*.yaml` definition of a folder; grammars are looked up in `grammars_dir`."""
        grammars_dir = grammars_dir or standards_dir
        if not standards_dir.is_dir():
            raise DefinitionError(f"{standards_dir}: not a folder of standard definitions")
        paths = sorted(standards_dir.glob("*.yaml"))
        if not paths:
            hint = (
                " (it holds grammars: give --standards the folder of the definitions, and --grammars this one)"
                if any(standards_dir.glob("*.lark"))
                else ""
            )
            raise DefinitionError(f"{standards_dir}: no standard definitions (*.yaml) in this folder{hint}")
        standards = []
        for path in paths:
            definition = load_definition(path)
            grammar_path = grammars_dir / definition.grammar
            if not grammar_path.is_file():
                raise DefinitionError(f"{path}: grammar: no file {definition.grammar} in {grammars_dir}")
            standards.append(Standard(definition, path, grammar_path))
        return cls(standards)

    def __iter__(self) -> Iterator[Standard]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def ids(self) -> list[str]:
        return list(self._by_id)

    def get(self, standard_id: str) -> Standard:
        """The standard with this id; DefinitionError lists the known ids otherwise."""
        try:
            return self._by_id[standard_id]
        except KeyError:
            known = ", ".join(self._by_id)
            raise DefinitionError(f"unknown standard {standard_id!r}; known: {known}") from None

    def select(self, ids: list[str] | None) -> list[Standard]:
        """The standards named (all when none are), in curriculum order."""
        if not ids:
            return list(self)
        wanted = {self.get(i).id for i in ids}
        return [s for s in self if s.id in wanted]


def standards_dir() -> Path:
    return Path(str(resources.files("mathcamps.standards")))


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The built-in standards."""
    from mathcamps.language import grammar_dir

    return Registry.load(standards_dir(), grammar_dir())
