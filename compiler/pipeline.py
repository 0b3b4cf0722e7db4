"""The pipeline: sample, instantiate, parse back, solve, check, render, prove; one standard at a time.

Problem i of a standard depends only on (seed, standard id, i) and the data
files: its random stream is seeded from a hash of the three, so problems can
be made in any order or process. Rejected candidates are counted by reason;
z3 proves a batch of problems at once.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from mathcamps.answers import format_answer
from mathcamps.errors import MathcampsError
from mathcamps.language import Hole, Num, Program, ProgramError, format_program, walk
from mathcamps.records import Problem, Provenance, Span, Verdicts
from mathcamps.registry import DefinitionError, Standard
from mathcamps.solvers.constraints import Violation, check_problem, infeasibility
from mathcamps.solvers.exact import Unsolvable, solve
from mathcamps.solvers.prover import PROVED, Claim, prove

from mathcamps.compiler.followups import Counterfactuals, Followup, Incrementals
from mathcamps.compiler.instantiate import Instantiator
from mathcamps.compiler.render import Rendered, Renderer, TemplateError, Unfaithful, template_files
from mathcamps.compiler.sampler import DefinitionMismatch, Rejected, Sampler, Skeleton

STAGES = ("sample", "instantiate", "parse", "solve", "constraints", "render", "followups", "prove")
BATCH = 200
CANDIDATES_PER_PROBLEM = 200
REASONS_SHOWN = 5  # rejection reasons a shortfall names, most frequent first


class ShortOfProblems(MathcampsError):
    """A standard that made fewer problems than asked: nearly every candidate was rejected."""


def _changeable(skeleton: Skeleton) -> tuple:
    """(literal index, ranged rule) of each literal of the skeleton that is a hole, in reading order."""
    literals = [node for expr in skeleton.program.expressions() for node in walk(expr) if isinstance(node, (Hole, Num))]
    return tuple((i, skeleton.ranges[node.index]) for i, node in enumerate(literals) if isinstance(node, Hole))


def inputs_of(standard: Standard, templates: Path | None = None) -> list[Path]:
    """The files a standard's problems are made from: its definition, its grammar, its frames and vocabulary."""
    return [standard.definition_path, standard.grammar_path, *template_files(standard.definition.render, templates)]


def problem_seed(seed: int, standard_id: str, index: int) -> int:
    """The seed of problem `index`: a hash of (release seed, standard, index), never global state."""
    digest = hashlib.sha256(f"{seed}\x1f{standard_id}\x1f{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass
class Stats:
    """What compiling one standard cost and rejected."""

    standard: str
    problems: int = 0
    candidates: int = 0
    number_attempts: int = 0
    rejections: Counter = field(default_factory=Counter)
    followups: Counter = field(default_factory=Counter)  # follow-ups made, by kind
    seconds: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in STAGES})

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    def merge(self, other: Stats) -> None:
        self.problems += other.problems
        self.candidates += other.candidates
        self.number_attempts += other.number_attempts
        self.rejections.update(other.rejections)
        self.followups.update(other.followups)
        for stage, seconds in other.seconds.items():
            self.seconds[stage] += seconds


@dataclass
class _Candidate:
    index: int
    program: Program
    text: str
    answer: object
    answer_text: str
    statement: str
    rendered: Rendered
    key: str
    changeable: tuple = ()  # (literal index, its ranged rule) of each literal not fixed by the grammar
    telling: str = ""  # its statement as a reader tells problems apart (Renderer.telling)



class Said:
    """The follow-ups a file (or release) has written so far: a later standard's follow-up that says
    the same words is not written again. Originals always are."""

    def __init__(self) -> None:
        self._statements: set[str] = set()

    def first(self, record) -> bool:
        """Whether `record` (anything with `parent` and `statement`) is to be written; notes it if so."""
        if record.parent is None:
            return True
        if record.statement in self._statements:
            return False
        self._statements.add(record.statement)
        return True


class StandardCompiler:
    """Makes verified problems of one standard."""

    def __init__(self, standard: Standard, seed: int, templates: Path | None = None):
        self.standard = standard
        self.seed = seed
        d = standard.definition
        try:
            self.sampler = Sampler(standard.grammar, d.weights, d.max_depth, ranges=frozenset(d.ranges))
        except DefinitionMismatch as error:
            raise DefinitionError(f"{standard.definition_path}: {error}") from None
        self.instantiator = Instantiator(d)
        try:
            self.renderer = Renderer(d.render, templates)
        except TemplateError as error:
            raise TemplateError(f"{standard.definition_path}: {error}") from None
        self.stats = Stats(standard.id)
        self.counterfactuals = Counterfactuals(d, self.renderer) if "counterfactual" in d.followups else None
        self.incrementals = (
            Incrementals(d, self.renderer, standard.followup_grammar) if "incremental" in d.followups else None
        )
        self._infeasible: dict[tuple, str | None] = {}
        self._said: set[str] = set()  # the statements of the follow-ups made so far: none is said twice
        self._check_feasible()

    def _check_feasible(self) -> None:
        """z3 proves that the declared constraints admit numbers for some shape of the grammar."""
        rng = random.Random(0)
        conflicts: dict[str, list[str]] = {}
        for _ in range(64):
            try:
                skeleton = self.sampler.sample(rng)
            except Rejected:
                continue
            if self._feasible(skeleton) is None:
                return
            conflicts[skeleton.text] = self._infeasible[(skeleton.text, skeleton.ranges)]
        if not conflicts:
            raise DefinitionError(f"{self.standard.definition_path}: the grammar yields no program")
        core = sorted({c for found in conflicts.values() for c in found.split(", ")})
        raise DefinitionError(
            f"{self.standard.definition_path}: no numbers satisfy the declared constraints for any shape "
            f"of {self.standard.grammar_path.name}; these conflict: {', '.join(core)}"
        )

    def _feasible(self, skeleton: Skeleton) -> str | None:
        key = (skeleton.text, skeleton.ranges)
        if key not in self._infeasible:
            d = self.standard.definition
            core = infeasibility(skeleton.program, d, d.literal_bounds(skeleton.ranges))
            self._infeasible[key] = None if core is None else ", ".join(core)
        return self._infeasible[key]

    def _reject(self, reason: str) -> None:
        self.stats.rejections[reason] += 1

    def _candidate(self, index: int, rng: random.Random, taken: set[str], told: Counter) -> _Candidate | None:
        """The next candidate of problem `index` that passes every stage but the proof."""
        d = self.standard.definition
        seconds = self.stats.seconds
        for _ in range(CANDIDATES_PER_PROBLEM):
            self.stats.candidates += 1
            t0 = time.perf_counter()
            try:
                skeleton = self.sampler.sample(rng)
            except Rejected as error:
                seconds["sample"] += time.perf_counter() - t0
                self._reject(str(error))
                continue
            conflict = self._feasible(skeleton)
            t1 = time.perf_counter()
            seconds["sample"] += t1 - t0
            if conflict is not None:
                self._reject(f"infeasible shape: {conflict}")
                continue
            try:
                program, unknowns = self.instantiator.instantiate(skeleton, rng)
            except Violation as error:
                seconds["instantiate"] += time.perf_counter() - t1
                self._reject(str(error))
                continue
            t2 = time.perf_counter()
            seconds["instantiate"] += t2 - t1
            text = format_program(program)
            if d.unique == "program" and text in taken:
                seconds["parse"] += time.perf_counter() - t2
                self._reject("duplicate")
                continue
            try:
                parsed = self.standard.grammar.parse(text)
            except ProgramError:
                parsed = None
            t3 = time.perf_counter()
            seconds["parse"] += t3 - t2
            if parsed != program:
                self._reject("parse-back: the program does not parse back to itself under its grammar")
                continue
            try:
                solution = solve(parsed, (d.values.min, d.values.max))
            except Unsolvable as error:
                seconds["solve"] += time.perf_counter() - t3
                self._reject(f"sympy: {error}")
                continue
            answer = solution.answer(parsed.question)
            t4 = time.perf_counter()
            seconds["solve"] += t4 - t3
            solved_unknowns = {u: solution.values[u] for u in parsed.unknowns}
            if unknowns and solved_unknowns != unknowns:
                self._reject("sympy: disagrees with the construction of the numbers")
                continue
            try:
                check_problem(parsed, d, solved_unknowns)
                answer_text = format_answer(d.answer.kind, answer)
            except (Violation, ValueError) as error:
                seconds["constraints"] += time.perf_counter() - t4
                self._reject(str(error) if isinstance(error, Violation) else f"answer: {error}")
                continue
            t5 = time.perf_counter()
            seconds["constraints"] += t5 - t4
            try:
                rendered = self.renderer.render(parsed, rng, answer, told.keys())
            except Unfaithful as error:
                seconds["render"] += time.perf_counter() - t5
                self._reject(str(error))
                continue
            seconds["render"] += time.perf_counter() - t5
            key = text if d.unique == "program" else f"{text}\n{rendered.statement}"
            if key in taken:
                self._reject("duplicate")
                continue
            return _Candidate(
                index, parsed, text, answer, answer_text, rendered.statement, rendered, key, _changeable(skeleton),
                self.renderer.telling(rendered),
            )
        self._reject(f"exhausted: no problem in {CANDIDATES_PER_PROBLEM} candidates")
        return None

    def problems(self, count: int, start: int = 0) -> Iterator[Problem]:
        """`count` verified problems, indices from `start`, in index order."""
        taken: set[str] = set()
        told: Counter = Counter()  # the tellings of the problems made so far, which a new one avoids
        made = 0
        index = start
        while made < count:
            indices = list(range(index, index + min(BATCH, count - made)))
            index += len(indices)
            rngs = {i: random.Random(problem_seed(self.seed, self.standard.id, i)) for i in indices}
            accepted: dict[int, _Candidate] = {}
            pending = indices
            while pending:
                candidates = []
                for i in pending:
                    candidate = self._candidate(i, rngs[i], taken, told)
                    if candidate is not None:
                        taken.add(candidate.key)
                        told[candidate.telling] += 1
                        candidates.append(candidate)
                    elif not made and not accepted and not candidates:
                        # The first problem found nothing in its whole budget: the standard cannot make
                        # problems; say so now, not after every other problem has spent its budget too.
                        raise self._shortfall(made, count)
                t0 = time.perf_counter()
                domain = (self.standard.definition.values.min, self.standard.definition.values.max)
                verdicts = prove([Claim(c.program, c.answer, domain) for c in candidates])
                self.stats.seconds["prove"] += time.perf_counter() - t0
                pending = []
                for candidate, verdict in zip(candidates, verdicts):
                    if verdict == PROVED:
                        accepted[candidate.index] = candidate
                    else:
                        self._reject(verdict)
                        taken.discard(candidate.key)
                        told[candidate.telling] -= 1
                        if not told[candidate.telling]:
                            del told[candidate.telling]
                        pending.append(candidate.index)
            followups = self._followups([accepted[i] for i in indices if i in accepted])
            for i in indices:
                if i in accepted:
                    made += 1
                    self.stats.problems += 1
                    parent = self._record(accepted[i])
                    yield parent
                    for followup in followups.get(i, ()):
                        self.stats.followups[followup.kind.value] += 1
                        yield self._followup_record(parent, followup)
            if len(accepted) < len(indices) and not accepted:
                break  # a standard that cannot make problems: stop rather than loop forever
        self._settle()
        if made < count:
            raise self._shortfall(made, count)

    def _settle(self) -> None:
        """Moves the instantiator's counts into the stats."""
        self.stats.number_attempts = self.instantiator.attempts
        self.stats.rejections.update(self.instantiator.rejections)
        self.instantiator.rejections.clear()

    def _shortfall(self, made: int, count: int) -> ShortOfProblems:
        self._settle()
        reasons = "; ".join(f"{reason} ({n:,} times)" for reason, n in self.stats.rejections.most_common(REASONS_SHOWN))
        return ShortOfProblems(
            f"{self.standard.id} ({self.standard.definition_path}) made {made:,} of the {count:,} problems asked: "
            f"no new problem was found within the budget of {CANDIDATES_PER_PROBLEM} candidates. Its most frequent "
            f"rejections: {reasons or 'none were counted'}. Ask for fewer, or let the definition, its grammar "
            f"({self.standard.grammar_path.name}) or its frames admit more problems."
        )

    def _followups(self, parents: list[_Candidate]) -> dict[int, list[Followup]]:
        """The declared follow-ups of each accepted problem, in a fixed order of kinds, proved by z3 as one batch."""
        makers = [m for m in (self.counterfactuals, self.incrementals) if m is not None]
        if not makers or not parents:
            return {}
        t0 = time.perf_counter()
        made: list[tuple[int, Followup]] = []
        d = self.standard.definition

        # A follow-up is judged in the dialogue of its parent: it need not differ from the other
        # problems (a small standard has fewer programs than originals and follow-ups together).
        for parent in sorted(parents, key=lambda c: c.index):
            seed = problem_seed(self.seed, self.standard.id, parent.index)
            for maker in makers:
                rng = random.Random(f"{seed}-{maker.kind.value}")
                try:
                    said = self._said
                    if maker is self.counterfactuals:
                        followup = maker.make(parent.program, parent.changeable, parent.answer, parent.rendered, rng, said)
                    else:
                        followup = maker.make(parent.program, parent.answer, parent.rendered, rng, said)
                except Violation as error:
                    self._reject(str(error))
                    continue
                self._said.add(followup.statement)
                made.append((parent.index, followup))
        t1 = time.perf_counter()
        self.stats.seconds["followups"] += t1 - t0
        domain = (d.values.min, d.values.max)
        verdicts = prove([Claim(f.program, f.answer, domain) for _, f in made])
        self.stats.seconds["prove"] += time.perf_counter() - t1
        proved: dict[int, list[Followup]] = {}
        for (index, followup), verdict in zip(made, verdicts):
            if verdict == PROVED:
                proved.setdefault(index, []).append(followup)
            else:
                self._reject(f"{followup.kind.value}: {verdict}")
        return proved

    def _followup_record(self, parent: Problem, followup: Followup) -> Problem:
        return parent.model_copy(
            update=dict(
                id=f"{parent.id}-{followup.kind.value}",
                kind=followup.kind,
                parent=parent.id,
                program=format_program(followup.program),
                statement=followup.statement,
                answer=followup.answer_text,
                verdicts=Verdicts(sympy=followup.answer_text, z3=PROVED),
                render=Provenance(
                    frame=followup.frame or f"followup/{followup.kind.value}",
                    theme=parent.render.theme,
                    spans=[Span(**s._asdict()) for s in followup.spans],
                ),
            )
        )

    def _record(self, c: _Candidate) -> Problem:
        d = self.standard.definition
        return Problem(
            id=f"{self.standard.id}-{c.index}",
            standard=self.standard.id,
            grade=d.grade,
            seed=self.seed,
            index=c.index,
            program=c.text,
            statement=c.statement,
            answer=c.answer_text,
            answer_kind=d.answer.kind,
            verdicts=Verdicts(sympy=c.answer_text, z3=PROVED),
            render=c.rendered.provenance,
        )

