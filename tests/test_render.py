"""Rendering: plurals, articles, and a faithfulness check that catches every kind of unfaithful text."""

from __future__ import annotations

import random
import re
from fractions import Fraction

import pytest

from mathcamps.compiler.render import Quantity, Renderer, Unfaithful, _count, _resolve, plural, with_article
from mathcamps.language import Num, parse_program


def _literals(*values):
    return [Num(Fraction(v)) for v in values]


def test_counts_agree_in_number():
    assert _count(Quantity(0, Fraction(1)), "apple") == "\x000\x00 apple"
    assert _count(Quantity(0, Fraction(2)), "mouse") == "\x000\x00 mice"
    assert plural("strawberry") == "strawberries" and plural("foot") == "feet"
    assert with_article("apple") == "an apple" and with_article("pear") == "a pear"


def test_a_faithful_statement_records_a_span_per_literal_and_the_question():
    rendered = _resolve("Ava had \x000\x00 apples. She ate \x001\x00.", "How many apples are left?", "apples",
                        _literals(12, 5), "f", "t")
    assert rendered.statement == "Ava had 12 apples. She ate 5. How many apples are left?"
    spans = {s.source: rendered.statement[s.start : s.end] for s in rendered.provenance.spans}
    assert spans == {"literal 0": "12", "literal 1": "5", "question": "How many apples are left?"}


@pytest.mark.parametrize(
    "story, question, reason",
    [
        ("Ava had \x000\x00 apples.", "How many apples are left?", "literals missing \\[1\\]"),
        ("Ava had \x000\x00 and \x000\x00 apples, ate \x001\x00.", "How many apples?", "repeated \\[0\\]"),
        ("Ava had \x000\x00 apples and ate \x001\x00 of 3.", "How many apples?", "not a quantity"),
        ("Ava had \x000\x00 apples and ate \x001\x00, twice.", "How many apples?", "number word"),
        ("Ava had \x000\x00 apples? She ate \x001\x00.", "How many apples?", "exactly one question"),
        ("Ava had \x000\x00 apples. She ate \x001\x00.", "How many are left.", "exactly one question"),
        ("Ava had \x000\x00 apples. She ate \x001\x00.", "How many are left?", "does not mention"),
    ],
)
def test_the_checker_refuses_unfaithful_text(story, question, reason):
    with pytest.raises(Unfaithful, match=reason):
        _resolve(story, question, "apples", _literals(12, 5), "f", "t")


def test_every_theme_works_with_every_frame_of_its_family(registry):
    """Each standard's frames render with each of its themes (no missing vocabulary), with 1s and with 7, 11, 13, ..."""
    seen = set()
    for standard in registry:
        spec = standard.definition.render
        if (tuple(spec.families), tuple(spec.themes)) in seen:
            continue
        seen.add((tuple(spec.families), tuple(spec.themes)))
        renderer = Renderer(spec)
        for shape, frames in renderer.by_shape.items():
            for value in (1, 7):
                for compiled in frames:
                    frame, key = compiled.frame, compiled.key
                    text = shape
                    if shape == "*":
                        words = frame.story + frame.question
                        text = (
                            "solve N * x + N * y = N\nsolve N * x - N * y = N\nask x, y"
                            if "equations" in words
                            else "solve N * x + N = N\nask x"
                            if "equation" in words
                            else "let a = (N + N) * N - N\nask a"
                        )
                    # all 1s, or distinct primes from 7 (a story's fractions are in lowest terms)
                    numbers = iter([1] * 12 if value == 1 else [7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47])
                    program = parse_program(re.sub("N", lambda _: str(next(numbers)), text))
                    for theme in renderer.frame_themes[key]:
                        rendered = renderer.render_frame(program, key, theme, random.Random(0))
                        assert rendered.statement.endswith("?")


def test_school_notation_writes_exponents_as_superscripts_and_coefficients_beside_their_unknown(tmp_path):
    from mathcamps.compiler.render import SpanTuple, check_faithful, said_number
    from mathcamps.registry import RenderSpec

    (tmp_path / "vocabulary.yaml").write_text(
        "people: [{name: Ava, pronoun: she}, {name: Ben, pronoun: he}]\nrefuse: [two]\nthemes: {}\n"
    )
    (tmp_path / "school.yaml").write_text(
        'unit: ""\nframes:\n'
        '  - {id: eq, shape: "solve N * x + N = N\\nask x", story: "Solve {{ equation }}.", question: "What is x?"}\n'
        '  - {id: pow, shape: "*", story: "Work it out.", question: "What is {{ expression }}?"}\n'
        '  - {id: own, shape: "solve N = x ^ N\\nask x", story: "Here x{{ sup(n2) }} = {{ n1 }}.", question: "What is x?"}\n'
    )
    renderer = Renderer(RenderSpec(frames="school"), tmp_path)
    cases = {
        "solve 3 * x + 2 = 11\nask x": "Solve 3x + 2 = 11. What is x?",
        "let a = 11 ^ 3 - 2 ^ 10\nask a": "Work it out. What is 11³ - 2¹⁰?",
        "let a = (-3) ^ 2\nask a": "Work it out. What is -3 ^ 2?",  # a superscript would read -(3²)
        "solve 64 = x ^ 3\nask x": "Here x³ = 64. What is x?",
    }
    for text, statement in cases.items():
        program = parse_program(text)
        rendered = renderer.render(program, random.Random(0))
        assert rendered.statement == statement
        values = [n.value for n in program.literals()]
        check_faithful(rendered.statement, rendered.spans, "", values)
    assert said_number("¹⁰") == 10
    with pytest.raises(Unfaithful, match="not a quantity"):
        check_faithful("What is x²?", [SpanTuple(0, 11, "question")], "", [])
