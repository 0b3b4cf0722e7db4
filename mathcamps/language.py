"""The problem language: typed AST, Lark grammar loading, parsing and canonical printing."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterator, Union

from lark import Lark, Token, Transformer, Tree
from lark.exceptions import GrammarError, LarkError, UnexpectedInput, VisitError

from mathcamps.errors import MathcampsError
from mathcamps.files import read_text

# ---------------------------------------------------------------- the AST


@dataclass(frozen=True, slots=True)
class Num:
    """A literal quantity, exact."""

    value: Fraction


@dataclass(frozen=True, slots=True)
class Hole:
    """A number still to be chosen: the k-th NUMBER of a sampled skeleton."""

    index: int


@dataclass(frozen=True, slots=True)
class Var:
    """A reference to a named quantity or an unknown."""

    name: str


@dataclass(frozen=True, slots=True)
class BinOp:
    """An arithmetic operation; `op` is one of + - * / ^ // % (`//` and `%`: whole quotient and remainder)."""

    op: str
    left: Expr
    right: Expr


Expr = Union[Num, Hole, Var, BinOp]


@dataclass(frozen=True, slots=True)
class Let:
    """`let name = expr`: a named quantity."""

    name: str
    expr: Expr


@dataclass(frozen=True, slots=True)
class Solve:
    """`solve left = right`: an equation whose free names are unknowns."""

    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Ask:
    """`ask a, b`: the question asks for the values of these names."""

    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    """`compare l _ r`: the question asks which of <, >, = fills the blank."""

    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Factors:
    """`factors n`: the question asks for every factor pair of a whole number."""

    number: Expr


Statement = Union[Let, Solve]
Question = Union[Ask, Compare, Factors]


@dataclass(frozen=True, slots=True)
class Program:
    """A whole problem: statements in order, then one question."""

    statements: tuple[Statement, ...]
    question: Question

    @property
    def unknowns(self) -> tuple[str, ...]:
        """Names that no `let` binds, in order of first appearance in `solve` statements."""
        bound = {s.name for s in self.statements if isinstance(s, Let)}
        seen: list[str] = []
        for statement in self.statements:
            if isinstance(statement, Solve):
                for name in free_names(statement.left) + free_names(statement.right):
                    if name not in bound and name not in seen:
                        seen.append(name)
        return tuple(seen)

    def literals(self) -> list[Num]:
        """Every literal of the program, in reading order."""
        out: list[Num] = []
        for node in self.expressions():
            out.extend(n for n in walk(node) if isinstance(n, Num))
        return out

    def map_expressions(self, function) -> Program:
        """The program with `function` applied to each top-level expression, in reading order."""
        statements = tuple(
            Let(s.name, function(s.expr)) if isinstance(s, Let) else Solve(function(s.left), function(s.right))
            for s in self.statements
        )
        question = self.question
        if isinstance(question, Compare):
            left = function(question.left)
            question = Compare(left, function(question.right))
        elif isinstance(question, Factors):
            question = Factors(function(question.number))
        return Program(statements, question)

    def map_literals(self, function) -> Program:
        """The program with each literal (or hole) replaced by function(k, node), k counting them
        in reading order, as literals() does."""
        counter = iter(range(1 << 62))

        def swap(expr: Expr) -> Expr:
            if isinstance(expr, (Num, Hole)):
                return function(next(counter), expr)
            if isinstance(expr, BinOp):
                left = swap(expr.left)
                return BinOp(expr.op, left, swap(expr.right))
            return expr

        return self.map_expressions(swap)

    def expressions(self) -> Iterator[Expr]:
        """The top-level expressions, in reading order."""
        for statement in self.statements:
            if isinstance(statement, Let):
                yield statement.expr
            else:
                yield statement.left
                yield statement.right
        if isinstance(self.question, Compare):
            yield self.question.left
            yield self.question.right
        elif isinstance(self.question, Factors):
            yield self.question.number


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of an expression, pre-order, left to right."""
    yield expr
    if isinstance(expr, BinOp):
        yield from walk(expr.left)
        yield from walk(expr.right)


def free_names(expr: Expr) -> list[str]:
    """The names an expression refers to, in reading order, with repeats."""
    return [n.name for n in walk(expr) if isinstance(n, Var)]


# ---------------------------------------------------------------- printing

# "frac" is no operator of the language: writers use it for a quotient of two literals shown as one
# fraction (3/4), a single number that needs no parentheses.
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2, "%": 2, "^": 3, "frac": 4}
MAX_EXPONENT = 64  # a larger (or non-whole, or negative) exponent is not a school power
MAX_VALUE_DIGITS = 1000  # a value whose numerator or denominator has more digits is no school quantity


@dataclass(frozen=True)
class Limits:
    """The largest program the language reads, checked on its text before any parser sees it: a
    100,000-term sum or a 5,000-digit literal is refused with a reason, never a crash or a hang.
    MathCAMPS v1's largest program has 302 characters, 18-digit literals, 21 terms and 10
    nested parentheses."""

    characters: int = 20_000
    lines: int = 100
    digits: int = 40  # of one literal
    terms: int = 400  # numbers and operators, all statements together
    depth: int = 200  # nested parentheses (as many as a fully parenthesised program of that size needs)


LIMITS = Limits()
_DIGIT_RUN = re.compile(r"\d+")
_TERM = re.compile(r"\d+(?:\.\d+)?|\*\*|//|[-+*/^%]")
_PARENTHESIS = re.compile(r"[()]")


def check_size(text: str, source: str = "<program>", limits: Limits = LIMITS) -> None:
    """ProgramError if a program's text is larger than the language reads (see Limits)."""

    def refuse(what: str, size: int, limit: int) -> None:
        raise ProgramError(f"{source}: the program is too large to read: {what} {size:,} (at most {limit:,})")

    if len(text) > limits.characters:
        refuse("characters", len(text), limits.characters)
    lines = text.count("\n") + 1
    if lines > limits.lines:
        refuse("lines", lines, limits.lines)
    longest = max(map(len, _DIGIT_RUN.findall(text)), default=0)
    if longest > limits.digits:
        refuse("digits in one number", longest, limits.digits)
    terms = len(_TERM.findall(text))
    if terms > limits.terms:
        refuse("numbers and operators", terms, limits.terms)
    if "(" in text:
        depth = deepest = 0
        for match in _PARENTHESIS.finditer(text):
            depth += 1 if match.group() == "(" else -1
            deepest = max(deepest, depth)
        if deepest > limits.depth:
            refuse("nested parentheses", deepest, limits.depth)

# What each operator does to two exact numbers (Fractions and sympy Rationals alike). `//` and `%`
# are defined on whole numbers with a positive divisor only; evaluators check that first.
OPERATIONS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "^": operator.pow,
    "//": operator.floordiv,
    "%": operator.mod,
}


def format_number(value: Fraction) -> str:
    """A literal as the language writes it: an integer or an exact decimal."""
    if value.denominator == 1:
        return str(value.numerator)
    places = decimal_places(value)
    if places is None:
        raise ValueError(f"{value} has no exact decimal form")
    scaled = abs(value.numerator * 10**places // value.denominator)
    sign = "-" if value < 0 else ""
    whole, frac = divmod(scaled, 10**places)
    return f"{sign}{whole}.{frac:0{places}d}"


def decimal_places(value: Fraction) -> int | None:
    """How many decimal places write `value` exactly, or None if its decimal repeats."""
    den, twos, fives = value.denominator, 0, 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    return max(twos, fives) if den == 1 else None


def format_expr(expr: Expr, parent: int = 0, right_side: bool = False, number=format_number, symbols=None) -> str:
    """An expression with the fewest parentheses that keep its tree.

    `number` writes each literal (in reading order) and `symbols` may respell the operators."""
    if isinstance(expr, Num):
        return number(expr.value)
    if isinstance(expr, Var):
        return expr.name
    if isinstance(expr, Hole):
        return f"#{expr.index}"
    prec = _PRECEDENCE[expr.op]
    # A power is not associative in the grammar: an operation on either side needs parentheses.
    child = prec + 1 if expr.op == "^" else prec
    left = format_expr(expr.left, child, False, number, symbols)
    right = format_expr(expr.right, child, True, number, symbols)
    text = f"{left} {symbols[expr.op] if symbols else expr.op} {right}"
    # Left-associative: a right operand of equal precedence needs parentheses.
    if prec < parent or (prec == parent and right_side):
        return f"({text})"
    return text


def format_program(program: Program) -> str:
    """The canonical text of a program: one statement a line, no trailing newline."""
    lines = []
    for statement in program.statements:
        if isinstance(statement, Let):
            lines.append(f"let {statement.name} = {format_expr(statement.expr)}")
        else:
            lines.append(f"solve {format_expr(statement.left)} = {format_expr(statement.right)}")
    question = program.question
    if isinstance(question, Ask):
        lines.append("ask " + ", ".join(question.names))
    elif isinstance(question, Factors):
        lines.append(f"factors {format_expr(question.number)}")
    else:
        lines.append(f"compare {format_expr(question.left)} _ {format_expr(question.right)}")
    return "\n".join(lines)


# ---------------------------------------------------------------- parsing


_MISSING = object()
# The aliases of the language's operations, and the rules whose NAME refers to a quantity.
OPERATION_ALIASES = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^", "quo": "//", "rem": "%"}
REFERENCES = ("var", "unknown", "again")


class ProgramBuilder(Transformer):
    """Turns a parse tree of the core grammar, or of any grammar restricting it, into a Program.

    Lark prefixes the rules and aliases a grammar imports (`core__add`); the
    vocabulary is the part after the last double underscore. While `holes` maps
    character offsets to hole numbers, the literals at those offsets become Holes
    (the sampler parses skeletons that way).
    """

    holes: dict[int, int] | None = None

    def __init__(self):
        super().__init__()
        self._methods: dict = {}

    def __default__(self, data, children, meta):
        method = self._methods.get(data, _MISSING)
        if method is _MISSING:
            method = self._methods[data] = self._method(str(data).rsplit("__", 1)[-1])
        if method is None:
            # Structural rules of a standard's grammar (`start`, `two_step`, ...): kept as trees,
            # which Lark can inline and _flatten takes apart.
            return Tree(data, children, meta)
        return method(*children)

    def _method(self, name: str):
        if name in OPERATION_ALIASES:
            op = OPERATION_ALIASES[name]
            return lambda left, right: BinOp(op, left, right)
        if name in REFERENCES:
            return lambda token: Var(str(token))
        return getattr(self, "node_" + name, None)

    def __default_token__(self, token):
        return token

    def node_num(self, token: Token) -> Num | Hole:
        if self.holes is not None and token.start_pos in self.holes:
            return Hole(self.holes[token.start_pos])
        text = str(token)
        return Num(Fraction(int(text)) if text.lstrip("-").isdigit() else Fraction(text))

    def node_factors(self, number) -> Factors:
        return Factors(number)

    def node_let(self, name: Token, expr) -> Let:
        return Let(str(name), expr)

    def node_solve(self, left, right) -> Solve:
        return Solve(left, right)

    def node_ask(self, *names: Token) -> Ask:
        return Ask(tuple(str(n) for n in names))

    def node_compare(self, left, right) -> Compare:
        return Compare(left, right)


def _flatten(items) -> list:
    out = []
    for item in items:
        if isinstance(item, Tree):
            out.extend(_flatten(item.children))
        else:
            out.append(item)
    return out


def _program_from_tree(parts) -> Program:
    parts = _flatten([parts])
    if len(parts) == 1 and isinstance(parts[0], Program):
        return parts[0]
    statements = tuple(p for p in parts if isinstance(p, (Let, Solve)))
    questions = [p for p in parts if isinstance(p, (Ask, Compare, Factors))]
    if len(questions) != 1 or len(statements) + 1 != len(parts):
        raise ProgramError("the parse tree is not one program: its grammar must end in one question")
    return Program(statements, questions[0])


class ProgramError(MathcampsError):
    """A program that does not parse under a grammar, or is not well formed."""


class GrammarFileError(MathcampsError):
    """A grammar file that Lark cannot load."""


@dataclass(frozen=True)
class Grammar:
    """A loaded Lark grammar of the problem language; its parser builds the AST as it parses."""

    path: Path
    text: str
    lark: Lark
    builder: ProgramBuilder
    inline: bool = True  # LALR builds the AST while parsing; Earley parses first, then builds

    def parse(self, text: str, source: str = "<program>", holes: dict[int, int] | None = None) -> Program:
        """The Program that `text` denotes; ProgramError names line, column and what was expected.

        `holes` maps offsets of literals to hole numbers, for skeletons."""
        return _program_from_tree(self.parse_tree(text, source, holes))

    def parse_tree(self, text: str, source: str = "<program>", holes: dict[int, int] | None = None):
        """What the builder makes of `text`: AST nodes, in the trees of the grammar's own rules."""
        check_size(text, source)
        self.builder.holes = holes
        try:
            tree = self.lark.parse(text)
            return tree if self.inline else self.builder.transform(tree)
        except UnexpectedInput as error:
            expected = sorted(getattr(error, "expected", None) or getattr(error, "allowed", None) or [])
            hint = f"; expected one of: {', '.join(expected)}" if expected else ""
            context = error.get_context(text).rstrip()
            raise ProgramError(
                f"{source}:{error.line}:{error.column}: not in grammar {self.path.name}{hint}\n{context}"
            ) from None
        except VisitError as error:
            raise ProgramError(f"{source}: cannot build the program: {error.orig_exc}") from None
        finally:
            self.builder.holes = None


def grammar_dir() -> Path:
    """The folder of the built-in grammars."""
    return Path(str(resources.files("mathcamps.grammars")))


def load_grammar(path: Path, start: str = "start", builder: ProgramBuilder | None = None) -> Grammar:
    """A grammar file, compiled for LALR parsing; GrammarFileError gives file:line:col on mistakes.

    A grammar LALR cannot parse deterministically (two ranged rules that read the same
    literal, or a shift/reduce conflict) is parsed by Earley instead: slower, but any
    context-free grammar works."""
    text = read_text(path, GrammarFileError, "grammar")
    _check_grammar_size(path, text)
    folders = [path.parent, grammar_dir()]
    _check_imports(path, text, folders)
    builder = builder or ProgramBuilder()
    options = dict(
        start=start,
        source_path=str(path),
        import_paths=[str(folder) for folder in folders],
        maybe_placeholders=False,  # an absent optional part is left out of the tree, not given as None
    )
    inline = True
    try:
        try:
            # strict: a shift/reduce conflict is an error, not silently resolved as a shift (which
            # would refuse some programs of the grammar).
            lark = Lark(text, transformer=builder, parser="lalr", strict=True, **options)
        except GrammarError as error:
            if not any(word in str(error).lower() for word in ("collision", "conflict")):
                raise
            lark, inline = Lark(text, parser="earley", lexer="basic", ambiguity="resolve", **options), False
    except UnexpectedInput as error:
        raise GrammarFileError(
            f"{path}:{error.line}:{error.column}: grammar syntax error\n{error.get_context(text).rstrip()}"
        ) from None
    except (GrammarError, LarkError) as error:
        raise GrammarFileError(f"{path}:{_locate(error, text)}") from None
    except OSError as error:  # an %import Lark could not open
        raise GrammarFileError(f"{path}: cannot read a grammar it imports: {error.strerror}: {error.filename}") from None
    _check_aliases(path, text, lark, builder)
    return Grammar(path, text, lark, builder, inline)


MAX_GRAMMAR_CHARACTERS = 200_000  # the built-in grammars have under 2,000
MAX_GRAMMAR_RULES = 2_000  # and under 30 rules; Lark takes minutes over 300,000
_RULE = re.compile(r"^[ \t]*[?!]?([A-Za-z_]\w*)(?:\.-?\d+)?[ \t]*:", re.M)
_IMPORT = re.compile(r"^[ \t]*%import[ \t]+(\.?[\w.]+)(?:[ \t]*\(([^)]*)\))?", re.M)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _check_grammar_size(path: Path, text: str) -> None:
    rules = len(_RULE.findall(text))
    if len(text) > MAX_GRAMMAR_CHARACTERS or rules > MAX_GRAMMAR_RULES:
        raise GrammarFileError(
            f"{path}: a grammar of {len(text):,} characters and {rules:,} rules is larger than a standard's "
            f"grammar may be ({MAX_GRAMMAR_CHARACTERS:,} characters, {MAX_GRAMMAR_RULES:,} rules)"
        )


def _check_imports(path: Path, text: str, folders: list[Path]) -> None:
    """Every `%import .grammar (names)` names a grammar beside this one or built in, and rules or
    terminals it has (Lark would take an unknown name silently)."""
    for match in _IMPORT.finditer(text):
        module, names = match.group(1), match.group(2)
        if not module.startswith("."):
            continue  # Lark's own grammars (common)
        relative = module[1:].replace(".", "/") + ".lark"
        found = next((folder / relative for folder in folders if (folder / relative).is_file()), None)
        where = f"{path}:{_line(text, match.start())}: %import {module}"
        if found is None:
            raise GrammarFileError(f"{where}: there is no grammar {relative} beside {path.name} or among the built-in ones")
        if names is None:
            continue
        other = read_text(found, GrammarFileError, "grammar")
        known = set(_RULE.findall(other))
        for imported in _IMPORT.finditer(other):  # what it imports itself, by name or (common.NUMBER) last part
            known.update(n.strip() for n in (imported.group(2) or "").split(",") if n.strip())
            known.add(imported.group(1).rsplit(".", 1)[-1])
        unknown = [n.strip() for n in names.split(",") if n.strip() and n.strip() not in known]
        if unknown:
            raise GrammarFileError(f"{where}: {found.name} has no rule or terminal named {', '.join(unknown)}")


def _check_aliases(path: Path, text: str, lark: Lark, builder: ProgramBuilder) -> None:
    """Every alias (`-> add`) is a name of the language's AST: found when the grammar loads, not when
    a program of that shape is first drawn."""
    for rule in lark.rules:
        if rule.alias is None:
            continue
        name = str(rule.alias).rsplit("__", 1)[-1]
        if builder._method(name) is None:
            found = re.search(rf"->[ \t]*{re.escape(name)}\b", text)
            line = f":{_line(text, found.start())}" if found else ""
            vocabulary = ", ".join([*OPERATION_ALIASES, *REFERENCES, "num", "let", "solve", "ask", "compare", "factors"])
            raise GrammarFileError(
                f"{path}{line}: the alias `{name}` is not a name of the problem language; an alias names the "
                f"node a rule makes, one of: {vocabulary}"
            )


def _locate(error: Exception, text: str) -> str:
    """Lark's message for a grammar error, as `line:col: message` at the first place that uses
    the rule or terminal it names in quotes."""
    message = str(error).strip().splitlines()[0]
    for name in re.findall(r"'([A-Za-z_][A-Za-z0-9_]*)'", message):
        pattern = re.compile(rf"(?<![A-Za-z0-9_\"]){re.escape(name)}(?![A-Za-z0-9_\"])")
        for number, line in enumerate(text.splitlines(), 1):
            code = line.split("//", 1)[0]
            match = pattern.search(code)
            if match:
                return f"{number}:{match.start() + 1}: {message}"
    return f" {message}"


@lru_cache(maxsize=1)
def core_grammar() -> Grammar:
    """The core grammar, which accepts every program of every standard."""
    return load_grammar(grammar_dir() / "core.lark", start="program")


def parse_program(text: str, source: str = "<program>") -> Program:
    """A program in the core language."""
    return core_grammar().parse(text, source)
