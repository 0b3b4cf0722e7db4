"""The derivation sampler: seeded random programs from any Lark grammar, under a depth budget.

Lark can parse but not generate, so this module walks the compiled grammar
itself. Each nonterminal's minimal derivation depth is computed once; an
expansion is only chosen when it fits the remaining budget, so every walk ends.
NUMBER terminals become holes for the instantiation stage; NAME terminals are
bound by the rule they stand in (their role):

    let      defines a new quantity            a, b, c, ...
    unknown  introduces an unknown             x, y, z, ...
    var      refers to a quantity: the oldest one not yet used, else the newest;
             where there are unknowns and no quantities, the unknowns in turn (x, y, x, ...)
    again    refers again to what the previous statement referred to, in the same order
             (after `let c = a // b`, `again % again` is `a % b`)
    ask      names the answer: unknowns first, else the newest unused quantity; a question
             that names k quantities names the k newest unused ones, oldest first
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from lark.grammar import NonTerminal
from lark.lexer import PatternStr

from mathcamps.errors import MathcampsError
from mathcamps.language import Grammar, Program

ROLES = ("let", "unknown", "var", "again", "ask")
LET_NAMES = "abcdefghijklmnopqrstuvw"
UNKNOWN_NAMES = "xyz"
_NUMBER, _NAME = "NUMBER", "NAME"


class SamplerError(MathcampsError):
    """A grammar the sampler cannot generate from."""


class DefinitionMismatch(SamplerError):
    """A definition's field that does not fit its grammar: a weight or range for a rule or alias it
    does not have, a max_depth no program fits (the definition's mistake: its loader names its file)."""


def _bare(name: str) -> str:
    """A rule, alias or terminal name without the namespace Lark gives imported ones.

    Lark names the helper rules of `x*` and `x+` `__<rule>_star_<n>` and `__<rule>_plus_<n>`:
    they stand for their rule.
    """
    name = str(name)
    if name.startswith("__"):
        for marker in ("_star_", "_plus_"):
            if marker in name:
                return _bare(name[2:].split(marker)[0])
        return name
    return name.rsplit("__", 1)[-1]


@dataclass(frozen=True)
class _Expansion:
    symbols: tuple  # ("nt", name) | ("lit", text) | ("hole", NUMBER) | ("name", role)
    label: str
    weight: float
    depth: int


class Rejected(Exception):
    """A candidate that failed a stage; the message is the counted reason."""


@dataclass(frozen=True)
class Skeleton:
    """A sampled program whose numbers are holes: text with `#k` for hole k, and its AST."""

    text: str
    program: Program
    holes: int
    ranges: tuple[str | None, ...] = ()  # per hole: the innermost enclosing rule with a declared range


class Sampler:
    """Samples skeletons from one grammar with the weights and depth budget of a definition."""

    def __init__(
        self,
        grammar: Grammar,
        weights: dict[str, float],
        max_depth: int,
        start: str = "start",
        ranges: frozenset[str] = frozenset(),
    ):
        self.grammar = grammar
        source = self.source = grammar.path.name
        lark = grammar.lark
        self.max_depth = max_depth
        self.start = start
        literals = {t.name: t.pattern for t in lark.terminals}
        rules: dict[str, list[tuple[tuple, str]]] = {}
        used_weights: set[str] = set()
        for rule in lark.rules:
            label = _bare(rule.alias or rule.origin.name)
            symbols = []
            for symbol in rule.expansion:
                if isinstance(symbol, NonTerminal):
                    symbols.append(("nt", symbol.name))
                    continue
                bare = _bare(symbol.name)
                if bare == _NUMBER:
                    symbols.append(("hole", _NUMBER))
                elif bare == _NAME:
                    if label not in ROLES:
                        raise SamplerError(
                            f"{source}: rule {_bare(rule.origin.name)}: a NAME must stand in a rule named "
                            f"(or aliased) {', '.join(ROLES)}, not {label!r}"
                        )
                    symbols.append(("name", label))
                elif isinstance(literals.get(symbol.name), PatternStr):
                    symbols.append(("lit", literals[symbol.name].value))
                else:
                    raise SamplerError(
                        f"{source}: terminal {bare} is a pattern the sampler cannot fill; "
                        "write it as a string, or use NUMBER or NAME from core"
                    )
            rules.setdefault(rule.origin.name, []).append((tuple(symbols), label))
        self._weights = weights
        depth = self._min_depths(rules)
        self.expansions: dict[str, list[_Expansion]] = {}
        for origin, alternatives in rules.items():
            chosen = []
            for symbols, label in alternatives:
                # An alternative weighs its alias's weight times the weights of the rules it names,
                # so `start: (a | b) _NL ask` is weighted by a and b.
                keys = [label] + [_bare(s[1]) for s in symbols if s[0] == "nt"]
                weight = 1.0
                for key in keys:
                    if key in weights:
                        weight *= weights[key]
                        used_weights.add(key)
                chosen.append(_Expansion(symbols, label, weight, self._expansion_depth(symbols, depth)))
            self.expansions[origin] = chosen
        labels = {e.label for alternatives in self.expansions.values() for e in alternatives}
        labels |= {_bare(name) for name in self.expansions}
        for field, names in (("weights", set(weights) - used_weights), ("ranges", set(ranges) - labels)):
            if names:
                raise DefinitionMismatch(
                    f"{field}: no rule or alias named {', '.join(sorted(names))} in the grammar {source} "
                    f"(it has {', '.join(sorted(labels - {'start'}))})"
                )
        self.ranges = frozenset(ranges)
        if depth.get(start, float("inf")) > max_depth:
            raise DefinitionMismatch(
                f"max_depth: no program of the grammar {source} fits max_depth {max_depth} (the shortest needs "
                f"{depth.get(start, float('inf')):g})"
            )
        self._cache: dict[tuple, Skeleton] = {}

    @staticmethod
    def _expansion_depth(symbols: tuple, depth: dict[str, float]) -> float:
        return 1 + max((depth[s[1]] for s in symbols if s[0] == "nt"), default=0)

    def _min_depths(self, rules: dict) -> dict[str, float]:
        depth = {name: float("inf") for name in rules}
        changed = True
        while changed:
            changed = False
            for name, alternatives in rules.items():
                best = min(self._expansion_depth(symbols, depth) for symbols, _ in alternatives)
                if best < depth[name]:
                    depth[name], changed = best, True
        endless = {name for name, value in depth.items() if value == float("inf")}
        if endless:
            raise SamplerError(self._endless(rules, endless))
        return depth

    def _endless(self, rules: dict, endless: set[str]) -> str:
        """Which rules never derive a finite program, the cause first: a rule each of whose
        alternatives leads back to itself (no base case); the others only need it."""

        def reaches(start: str) -> set[str]:
            seen, frontier = set(), [start]
            while frontier:
                for symbols, _ in rules[frontier.pop()]:
                    for kind, name in symbols:
                        if kind == "nt" and name in endless and name not in seen:
                            seen.add(name)
                            frontier.append(name)
            return seen

        causes = sorted(name for name in endless if name in reaches(name))
        others = sorted(endless - set(causes))
        text = self.grammar.text

        def where(name: str) -> str:
            found = re.search(rf"^[ \t]*[?!]?{re.escape(_bare(name))}[ \t]*:", text, re.M)
            return f"{self.grammar.path}:{text.count(chr(10), 0, found.start()) + 1}" if found else str(self.grammar.path)

        named = "; ".join(f"{_bare(name)} ({where(name)})" for name in causes)
        message = (
            f"{self.grammar.path}: rule {named} never derives a finite program: each of its alternatives "
            "uses it again (or a rule that does); give it one without (a base case)"
        )
        if others:
            message += f". Rules that need it: {', '.join(_bare(name) for name in others)}"
        return message

    def derive(self, rng: random.Random) -> list[tuple]:
        """A random derivation's terminals, left to right: literals, name roles, and number holes
        with the innermost enclosing rule that has a declared range (or None)."""
        out: list[tuple] = []
        self._expand(self.start, self.max_depth, rng, out, None)
        return out

    def _expand(self, name: str, budget: int, rng: random.Random, out: list, ranged: str | None) -> None:
        options = [e for e in self.expansions[name] if e.depth <= budget and e.weight > 0]
        if not options:
            raise Rejected(f"sampler: no expansion of {_bare(name)} fits the depth budget")
        expansion = options[0] if len(options) == 1 else rng.choices(options, [e.weight for e in options])[0]
        for label in (_bare(name), expansion.label):
            if label in self.ranges:
                ranged = label
        for symbol in expansion.symbols:
            if symbol[0] == "nt":
                self._expand(symbol[1], budget - 1, rng, out, ranged)
            elif symbol[0] == "hole":
                out.append(("hole", ranged))
            else:
                out.append(symbol)

    def derivations(self, limit: int = 100_000) -> set[tuple]:
        """Every derivation of the start rule within the depth budget (terminals as `derive` gives
        them, holes without their range), enumerated, not sampled; SamplerError past `limit`."""
        memo: dict[tuple[str, int], frozenset[tuple]] = {}

        def expand(name: str, budget: int) -> frozenset[tuple]:
            key = (name, budget)
            if key in memo:
                return memo[key]
            found: set[tuple] = set()
            for expansion in self.expansions[name]:
                if expansion.depth > budget or expansion.weight <= 0:
                    continue
                partial: set[tuple] = {()}
                for symbol in expansion.symbols:
                    if symbol[0] == "nt":
                        tails = expand(symbol[1], budget - 1)
                        partial = {head + tail for head in partial for tail in tails}
                    else:
                        partial = {head + ((symbol[0], None if symbol[0] == "hole" else symbol[1]),) for head in partial}
                    if len(partial) > limit:
                        raise SamplerError(
                            f"{self.source}: more than {limit:,} programs within max_depth {self.max_depth}; "
                            "too many to enumerate"
                        )
                found |= partial
            memo[key] = frozenset(found)
            return memo[key]

        return set(expand(self.start, self.max_depth))

    def sample(self, rng: random.Random) -> Skeleton:
        """A skeleton: a derivation with its names bound, parsed by the grammar."""
        derivation = self.derive(rng)
        words = bind_names(derivation)
        text = assemble(words, hole="#{}")
        ranges = tuple(value for kind, value in derivation if kind == "hole")
        skeleton = self._cache.get((text, ranges))
        if skeleton is None:
            skeleton = self._cache[(text, ranges)] = self._parse_skeleton(words, text, ranges)
        return skeleton

    def _parse_skeleton(self, words: list, text: str, ranges: tuple) -> Skeleton:
        # The grammar reads each hole as the digit 0; its offset says which hole it is.
        concrete = assemble(words, hole="0")
        offsets, position, holes = {}, 0, 0
        for word, newline_before in _spaced(words):
            position += 0 if newline_before else 1
            if isinstance(word, int):
                offsets[position] = word
                holes += 1
            position += 1 if isinstance(word, int) else len(word)
        program = self.grammar.parse(concrete, self.source, holes=offsets)
        return Skeleton(text, program, holes, ranges)


def bind_names(derivation: list[tuple]) -> list:
    """The words of a derivation with names bound by role; number holes are their index (int)."""
    defined: list[str] = []
    unknowns: list[str] = []
    used: set[str] = set()
    asked: set[str] = set()
    words: list = []
    holes = 0
    unknown_refs = 0
    previous_refs: list[str] = []
    refs: list[str] = []
    repeated = 0
    asks_left = sum(1 for kind, value in derivation if kind == "name" and value == "ask")
    for kind, value in derivation:
        if kind == "lit":
            if value == "\n":
                previous_refs, refs, repeated = refs, [], 0
            words.append(value)
        elif kind == "hole":
            words.append(holes)
            holes += 1
        elif value == "let":
            if len(defined) == len(LET_NAMES):
                raise Rejected("sampler: too many quantities")
            defined.append(LET_NAMES[len(defined)])
            words.append(defined[-1])
        elif value == "unknown":
            if len(unknowns) == len(UNKNOWN_NAMES):
                raise Rejected("sampler: too many unknowns")
            unknowns.append(UNKNOWN_NAMES[len(unknowns)])
            words.append(unknowns[-1])
        elif value == "var":
            unused = [n for n in defined if n not in used]
            if unused:
                name = unused[0]
            elif defined:
                name = defined[-1]
            elif unknowns:
                name = unknowns[unknown_refs % len(unknowns)]
                unknown_refs += 1
            else:
                raise Rejected("sampler: a reference before any quantity is defined")
            used.add(name)
            refs.append(name)
            words.append(name)
        elif value == "again":
            if not previous_refs:
                raise Rejected("sampler: `again` where the previous statement refers to nothing")
            name = previous_refs[repeated % len(previous_refs)]
            repeated += 1
            refs.append(name)
            words.append(name)
        else:  # ask
            pending = [u for u in unknowns if u not in asked]
            unused = [n for n in defined if n not in used and n not in asked]
            if pending:
                name = pending[0]
            elif unused:
                name = unused[-min(asks_left, len(unused))]
            elif defined:
                name = defined[-1]
            else:
                raise Rejected("sampler: a question before any quantity is defined")
            asked.add(name)
            asks_left -= 1
            words.append(name)
    while words and words[-1] == "\n":
        words.pop()
    return words


def _spaced(words: list):
    """Each word but newlines, with whether a newline (or the start) stands right before it."""
    newline_before = True
    for word in words:
        if word == "\n":
            yield word, True
            newline_before = True
            continue
        yield word, newline_before
        newline_before = False


def assemble(words: list, hole: str) -> str:
    """Program text from words: one space between words, none around newlines."""
    out = []
    for word, newline_before in _spaced(words):
        if word != "\n" and not newline_before:
            out.append(" ")
        out.append(hole.format(word) if isinstance(word, int) else word)
    return "".join(out)
