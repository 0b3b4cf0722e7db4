"""The template layer: frames match by structure, themes are chosen by kind, sizes and forbidden
statements are data, and `frames check` knows every shape a grammar derives."""

from __future__ import annotations

import random
from fractions import Fraction
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mathcamps.cli.main import app
from mathcamps.compiler.frames import frame_shape, shape_of, step_frame_shape
from mathcamps.compiler.render import Renderer, Unfaithful
from mathcamps.language import grammar_dir, parse_program
from mathcamps.registry import RenderSpec, default_registry

from mathcamps.compiler.frames import templates_dir

runner = CliRunner()
HERE = Path("frames.yaml")


def test_a_frame_matches_a_program_by_structure_not_by_its_names_or_parentheses():
    program = parse_program("let total = 3 + 4\nlet more = total * 2\nask more")
    assert shape_of(program) == "let a = N + N\nlet b = a * N\nask b"
    assert frame_shape("let apples = (N + N)\nlet b = (apples) * N\nask b", HERE, "f") == shape_of(program)
    assert shape_of(parse_program("solve 3 * y + 2 = 11\nask y")) == "solve N * x + N = N\nask x"
    assert step_frame_shape("A*(N/N)", HERE, "s") == "A * (N / N)"


def test_frames_check_on_the_built_in_standards_finds_nothing_missing_or_dead():
    result = runner.invoke(app, ["frames", "check"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for line in ("shapes with no frame", "dead frames", "themes no frame can use", "step frames that follow nothing"):
        assert any(row.startswith("│ " + line) and row.rstrip(" │").endswith(" 0") for row in result.output.splitlines()), line


def test_frames_check_reports_a_shape_that_an_edited_grammar_derives(tmp_path):
    skills = tmp_path / "skills"
    skills.mkdir()
    standard = default_registry().get("K.OA.A.5")
    shutil.copy(standard.definition_path, skills)
    shutil.copy(grammar_dir() / "core.lark", skills)
    grammar = (grammar_dir() / standard.grammar_path.name).read_text()
    (skills / standard.grammar_path.name).write_text(grammar)
    before = runner.invoke(app, ["frames", "check", "--standards", str(skills)], env={"COLUMNS": "200"})
    assert before.exit_code == 0, before.output
    # One more way to take the first step: a product, which no counting frame tells.
    edited = grammar.replace('  | num "-" num -> sub\nthen', '  | num "-" num -> sub\n  | num "*" num -> mul\nthen')
    assert edited != grammar
    (skills / standard.grammar_path.name).write_text(edited)
    after = runner.invoke(app, ["frames", "check", "--standards", str(skills)], env={"COLUMNS": "200"})
    assert after.exit_code == 1
    assert "missing K.OA.A.5: no frame tells 'let a = N * N\\nask a'" in after.output
    assert "missing K.OA.A.5: no frame tells 'let a = N * N\\nlet b = a + N\\nask b'" in after.output


def test_a_theme_added_to_the_vocabulary_is_used_by_every_frame_of_its_kind(tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(templates_dir(), templates, ignore=shutil.ignore_patterns("__*"))
    vocabulary = templates / "vocabulary.yaml"
    text = vocabulary.read_text()
    assert "\nthemes:\n" in text
    theme = (
        "\nthemes:\n  gizmos:\n    kind: things\n    noun: [gizmo]\n    gain: [found, got]\n"
        "    loss: [lost, gave away]\n    place: [toolbox]\n    group: [crate]\n"
    )
    vocabulary.write_text(text.replace("\nthemes:\n", theme, 1))
    for standard_id in ("1.OA.A.1", "3.OA.A.3", "K.CC.C.7"):
        spec = default_registry().get(standard_id).definition.render
        renderer = Renderer(spec, templates)
        of_kind = [c for group in renderer.by_shape.values() for c in group if "things" in c.needs]
        assert of_kind
        for compiled in of_kind:
            assert "gizmos" in renderer.frame_themes[compiled.key], compiled.key
        before = Renderer(spec)
        assert all("gizmos" not in themes for themes in before.frame_themes.values())


def _vocabulary(folder: Path, extra: str = "") -> None:
    (folder / "vocabulary.yaml").write_text(
        "people: [{name: Ava, pronoun: she}, {name: Ben, pronoun: he}]\nrefuse: [two]\n"
        "sizes: {held: {max: 99}, lot: {max: 100000}}\n" + extra +
        "themes:\n  toys: {kind: things, noun: [top]}\n  farm: {kind: things, tags: [big], noun: [egg], size: lot}\n"
    )


def test_the_words_follow_the_numbers_a_frame_is_chosen_only_where_they_fit_its_size(tmp_path):
    _vocabulary(tmp_path)
    (tmp_path / "sizes.yaml").write_text(
        'unit: "{{ nouns }}"\nneeds: things\nframes:\n'
        '  - {id: child, size: held, shape: "let a = N + N\\nask a", story: "{{ name }} has {{ count(n1, noun) }} '
        'and finds {{ n2 }} more.", question: "How many {{ nouns }} does {{ name }} have?"}\n'
        '  - {id: farm, needs: big, shape: "let a = N + N\\nask a", story: "The farm had {{ count(n1, noun) }} '
        'and got {{ n2 }} more.", question: "How many {{ nouns }} does the farm have?"}\n'
    )
    renderer = Renderer(RenderSpec(frames="sizes"), tmp_path)
    small, big, huge = (parse_program(f"let a = {n} + 5\nask a") for n in (3, 4000, 200000))
    assert {renderer.render(small, random.Random(s), answer=8).frame for s in range(30)} == {"sizes/child", "sizes/farm"}
    assert {renderer.render(big, random.Random(s), answer=4005).frame for s in range(30)} == {"sizes/farm"}
    with pytest.raises(Unfaithful, match="size that fits"):
        renderer.render(huge, random.Random(0), answer=200005)


def test_a_statement_the_vocabulary_forbids_is_refused(tmp_path):
    _vocabulary(tmp_path, 'forbid: [{says: "\\\\bsome\\\\b", when: "answer == 0", why: "some that is zero"}]\n')
    (tmp_path / "some.yaml").write_text(
        'unit: "{{ nouns }}"\nneeds: things\nsize: held\nframes:\n'
        '  - {id: used, shape: "let a = N - N\\nask a", story: "{{ name }} had {{ count(n1, noun) }}. She used some. '
        'Now she has {{ n2 }}.", question: "How many {{ nouns }} did she use?"}\n'
    )
    renderer = Renderer(RenderSpec(frames="some"), tmp_path)
    assert "used some" in renderer.render(parse_program("let a = 8 - 3\nask a"), random.Random(0), answer=5).statement
    with pytest.raises(Unfaithful, match="some that is zero"):
        renderer.render(parse_program("let a = 8 - 8\nask a"), random.Random(0), answer=0)


def test_a_step_frame_follows_what_a_frame_denotes_and_its_tags_never_its_id(tmp_path):
    _vocabulary(tmp_path)
    (tmp_path / "steps.yaml").write_text(
        'unit: "{{ nouns }}"\nneeds: things\nsize: held\ndenotes: have\nframes:\n'
        '  - {id: child, tags: [past], shape: "let a = N + N\\nask a", story: "{{ name }} had {{ count(n1, noun) }} '
        'and found {{ n2 }} more.", question: "How many {{ nouns }} did {{ name }} have?"}\n'
        'steps:\n'
        '  - {id: by-denotation, step: "A + N", after: [have*], story: "Then {{ name }} found {{ n }} more.", question: "How many now?"}\n'
        '  - {id: by-tag, step: "A + N", after: [past], story: "Later {{ name }} found {{ n }} more.", question: "How many now?"}\n'
        '  - {id: not-past, step: "A + N", after: [have, "!past"], story: "Now {{ name }} finds {{ n }} more.", question: "How many now?"}\n'
        '  - {id: by-id, step: "A + N", after: [child], story: "{{ name }} got {{ n }} more.", question: "How many now?"}\n'
    )
    renderer = Renderer(RenderSpec(frames="steps"), tmp_path)
    followed = {key.split("/")[1]: [f.frame.id for f in after] for key, after in renderer.followed.items()}
    assert followed == {"by-denotation": ["child"], "by-tag": ["child"], "not-past": [], "by-id": []}


def test_a_fraction_in_a_story_is_in_lowest_terms_and_a_bare_exercise_may_say_any(tmp_path):
    _vocabulary(tmp_path, "forbid:\n" + (templates_dir() / "vocabulary.yaml").read_text().split("\nforbid:\n")[1].split("\n\n")[0] + "\n")
    (tmp_path / "story.yaml").write_text(
        'unit: "of the cake"\nneeds: things\nframes:\n'
        '  - {id: cake, shape: "let a = N / N\\nask a", story: "{{ name }} ate {{ n1 }}/{{ n2 }} of a cake.", '
        'question: "How much of the cake did {{ name }} eat?"}\n'
    )
    (tmp_path / "bare.yaml").write_text(
        'unit: ""\nneeds: []\nframes:\n'
        '  - {id: plain, shape: "let a = N / N\\nask a", story: "Write {{ n1 }}/{{ n2 }} in lowest terms.", '
        'question: "What is the fraction?"}\n'
    )
    story, bare = Renderer(RenderSpec(frames="story"), tmp_path), Renderer(RenderSpec(frames="bare"), tmp_path)
    halves, quarters = parse_program("let a = 1 / 2\nask a"), parse_program("let a = 2 / 4\nask a")
    assert "ate 1/2 of a cake" in story.render(halves, random.Random(0), answer=Fraction(1, 2)).statement
    with pytest.raises(Unfaithful, match="not in lowest terms"):
        story.render(quarters, random.Random(0), answer=Fraction(1, 2))
    assert "Write 2/4 in lowest terms" in bare.render(quarters, random.Random(0), answer=Fraction(1, 2)).statement


def test_a_statement_that_repeats_a_told_one_is_drawn_again(tmp_path):
    _vocabulary(tmp_path)
    (tmp_path / "told.yaml").write_text(
        'unit: "{{ nouns }}"\nneeds: big\nframes:\n'
        '  - {id: found, shape: "let a = N + N\\nask a", story: "{{ name }} had {{ count(n1, noun) }} and found '
        '{{ n2 }} more.", question: "How many {{ nouns }} does {{ name }} have?"}\n'
        '  - {id: given, shape: "let a = N + N\\nask a", story: "{{ name }} had {{ count(n1, noun) }}. {{ name2 }} gave '
        '{{ obj }} {{ n2 }} more.", question: "How many {{ nouns }} does {{ name }} have now?"}\n'
    )
    renderer = Renderer(RenderSpec(frames="told"), tmp_path)
    first = renderer.render(parse_program("let a = 3 + 4\nask a"), random.Random(0), answer=7)
    told = {renderer.telling(first)}
    again = [renderer.render(parse_program("let a = 5 + 2\nask a"), random.Random(s), answer=7, told=told) for s in range(20)]
    assert {r.frame for r in again} == {"told/given", "told/found"} - {first.frame}
