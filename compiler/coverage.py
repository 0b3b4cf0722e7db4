"""Coverage of the template layer, known rather than sampled: every shape each grammar derives, and the frames, themes and step frames that tell them.

`frames check` enumerates every program a standard's grammar derives within its depth budget
(and every step its `then` rule derives), keyed as the renderer keys them, and reports shapes
that no frame tells (an error: those problems could never be written), frames that no shape
reaches (dead), themes that no frame can be told with, and step frames that follow nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mathcamps.language import ProgramError, parse_program
from mathcamps.registry import FOLLOWUP_STEP, Standard

from mathcamps.compiler.frames import ANY_SHAPE, load_vocabulary, shape_of, step_shape, templates_dir
from mathcamps.compiler.render import Renderer
from mathcamps.compiler.sampler import Rejected, Sampler, assemble, bind_names


def grammar_shapes(sampler: Sampler) -> set[str]:
    """The shape (the renderer's key) of every program the sampler's grammar derives."""
    shapes = set()
    for derivation in sampler.derivations():
        try:
            words = bind_names(list(derivation))
        except Rejected:
            continue  # names the roles cannot bind: the sampler never makes it
        try:
            program = sampler.grammar.parse(assemble(words, hole="1"), sampler.source)
        except ProgramError:
            continue
        shapes.add(shape_of(program))
    return shapes


def step_shapes(sampler: Sampler) -> set[str]:
    """The shape (`A + N`) of every step a grammar's `then` rule derives."""
    shapes = set()
    for derivation in sampler.derivations():
        if any(kind == "name" and role == "unknown" for kind, role in derivation):
            continue  # a step may not bring in an unknown
        # The new quantity is b; every other name refers to the asked quantity a; numbers are 1.
        words = [0 if kind == "hole" else ("b" if value == "let" else "a") if kind == "name" else value
                 for kind, value in derivation]
        try:
            program = parse_program(f"let a = 1\n{assemble(words, hole='1')}\nask b")
        except ProgramError:
            continue
        shapes.add(step_shape(program.statements[-1].expr, "a"))
    return shapes


@dataclass
class FramesReport:
    """What `frames check` found, over the standards it was given."""

    shapes: dict[str, int] = field(default_factory=dict)  # standard -> how many shapes its grammar derives
    missing: dict[str, list[str]] = field(default_factory=dict)  # standard -> shapes that no frame tells
    dead: list[str] = field(default_factory=list)  # `family/id (file:line)` of frames no shape reaches
    unused_themes: list[str] = field(default_factory=list)
    orphan_steps: list[str] = field(default_factory=list)  # step frames that follow nothing
    frames: int = 0
    steps: int = 0

    @property
    def ok(self) -> bool:
        return not self.missing


def check_frames(standards: list[Standard], templates: Path | None = None) -> FramesReport:
    """Every shape of every standard against the frames of its families (see the module's text)."""
    report = FramesReport()
    reached: dict[str, set[str]] = {}  # frame key -> shapes that reach it
    frames: dict[str, tuple[Renderer, object]] = {}
    steps_derived: dict[str, set[str]] = {}  # family -> step shapes some standard with incrementals derives
    steps: dict[str, tuple[Renderer, object]] = {}
    usable_themes: set[str] = set()
    for standard in standards:
        d = standard.definition
        renderer = Renderer(d.render, templates)
        sampler = Sampler(standard.grammar, d.weights, d.max_depth, ranges=frozenset(d.ranges))
        shapes = grammar_shapes(sampler)
        report.shapes[standard.id if d.variant is None else f"{standard.id}-{d.variant}"] = len(shapes)
        told = renderer.shapes()
        for compiled in (c for group in renderer.by_shape.values() for c in group):
            frames.setdefault(compiled.key, (renderer, compiled))
            reached.setdefault(compiled.key, set())
            usable_themes |= set(renderer.frame_themes[compiled.key])
        missing = []
        for shape in sorted(shapes):
            if shape in told:
                keys = [c.key for c in renderer.by_shape[shape]]
            elif ANY_SHAPE in told:
                keys = [c.key for c in renderer.by_shape[ANY_SHAPE]]
            else:
                missing.append(shape)
                continue
            for key in keys:
                reached[key].add(shape)
        if missing:
            report.missing[standard.id if d.variant is None else f"{standard.id}-{d.variant}"] = missing
        if "incremental" in d.followups:
            derived = step_shapes(Sampler(standard.followup_grammar, {}, d.max_depth, start=FOLLOWUP_STEP))
            for family in d.render.families:
                steps_derived.setdefault(family, set()).update(derived)
        for family, compiled_steps in renderer.steps.items():
            for compiled in compiled_steps:
                steps.setdefault(compiled.key, (renderer, compiled))
    for key, (renderer, _) in sorted(frames.items()):
        if not reached[key]:
            report.dead.append(f"{key} ({renderer.location(key)})")
    for key, (renderer, compiled) in sorted(steps.items()):
        family = key.partition("/")[0]
        followed = [f for f in renderer.followed[key] if reached.get(f.key)]
        if not followed:
            report.orphan_steps.append(f"{key} ({renderer.location(key)}): no frame that a shape reaches")
        elif compiled.shape not in steps_derived.get(family, set()):
            report.orphan_steps.append(
                f"{key} ({renderer.location(key)}): no grammar using {family} derives the step {compiled.shape}"
            )
    vocabulary = load_vocabulary((templates or templates_dir()) / "vocabulary.yaml")
    report.unused_themes = sorted(set(vocabulary.themes) - usable_themes)
    report.frames, report.steps = len(frames), len(steps)
    return report
