"""The common suite: every registered standard, every problem, every invariant."""

from __future__ import annotations

import re

from mathcamps.answers import format_answer, parse_answer
from mathcamps.compiler.render import refused_words, said_number, shape_of
from mathcamps.language import Ask, Let, free_names, parse_program
from mathcamps.solvers.constraints import check_problem
from mathcamps.solvers.exact import solve
from mathcamps.solvers.prover import PROVED, Claim, prove

from conftest import PER_STANDARD


def wrong_answer(right):
    """A near miss of every kind: one more, the next symbol, a factor pair dropped or one too many."""
    if isinstance(right, str):
        return {"<": ">", ">": "=", "=": "<"}[right]
    if isinstance(right, dict):
        return {k: v + 1 for k, v in right.items()}
    if isinstance(right, tuple):  # factor pairs
        return right[:-1] if len(right) > 1 else right + ((right[0][0] + 1, right[0][1]),)
    return right + 1


def _originals(problems):
    return [p for p in problems if p.kind.value == "original"]


def test_every_standard_makes_the_requested_number_of_problems(compiled, standard_id):
    problems, _ = compiled[standard_id]
    originals = _originals(problems)
    assert len(originals) == PER_STANDARD
    assert [p.index for p in originals] == sorted(p.index for p in originals)
    # Each follow-up comes right after its parent.
    for before, problem in zip(problems, problems[1:]):
        if problem.parent is not None:
            assert problem.parent in (before.id, before.parent) and problem.index == before.index


def test_every_declared_followup_kind_reaches_95_percent_of_originals(compiled, registry, standard_id):
    problems, _ = compiled[standard_id]
    for kind in registry.get(standard_id).definition.followups:
        made = {p.parent for p in problems if p.kind.value == kind}
        assert len(made) >= 0.95 * PER_STANDARD, (kind, len(made))


def test_a_counterfactual_changes_one_given_quantity_and_the_answer(compiled, standard_id):
    problems, _ = compiled[standard_id]
    by_id = {p.id: p for p in problems}
    for problem in problems:
        if problem.kind.value != "counterfactual":
            continue
        parent = by_id[problem.parent]
        before, after = parse_program(parent.program), parse_program(problem.program)
        old, new = [n.value for n in before.literals()], [n.value for n in after.literals()]
        assert len(old) == len(new) and sum(a != b for a, b in zip(old, new)) == 1, problem.id
        assert shape_of(before) == shape_of(after) and problem.answer != parent.answer, problem.id


def test_an_incremental_keeps_every_quantity_and_adds_exactly_one_step(compiled, standard_id):
    problems, _ = compiled[standard_id]
    by_id = {p.id: p for p in problems}
    for problem in problems:
        if problem.kind.value != "incremental":
            continue
        parent = parse_program(by_id[problem.parent].program)
        program = parse_program(problem.program)
        *kept, added = program.statements
        assert tuple(kept) == parent.statements and isinstance(added, Let), problem.id
        assert parent.question.names[0] in free_names(added.expr), problem.id
        assert program.question == Ask((added.name,)), problem.id
        old, new = [n.value for n in parent.literals()], [n.value for n in program.literals()]
        assert new[: len(old)] == old and len(new) > len(old), problem.id


def test_every_problem_parses_back_under_its_own_grammar_and_the_core(compiled, registry, standard_id):
    problems, _ = compiled[standard_id]
    standard = registry.get(standard_id)
    for problem in problems:
        # An incremental follow-up is a program of the grammar's `followup` rule.
        grammar = standard.followup_grammar if problem.kind.value == "incremental" else standard.grammar
        own = grammar.parse(problem.program, problem.id)
        assert parse_program(problem.program, problem.id) == own


def test_sympy_and_z3_agree_on_every_answer(compiled, registry, standard_id):
    problems, _ = compiled[standard_id]
    definition = registry.get(standard_id).definition
    kind, domain = definition.answer.kind, (definition.values.min, definition.values.max)
    claims = []
    for problem in problems:
        program = parse_program(problem.program)
        value = solve(program, domain).answer(program.question)
        assert format_answer(kind, value) == problem.answer, problem.id
        assert format_answer(kind, parse_answer(kind, problem.answer)) == problem.answer, problem.id
        assert problem.verdicts.sympy == problem.answer and problem.verdicts.z3 == PROVED
        claims.append(Claim(program, value, domain))
    assert prove(claims) == [PROVED] * len(claims)


def test_z3_refuses_every_wrong_answer(compiled, registry, standard_id):
    problems, _ = compiled[standard_id]
    definition = registry.get(standard_id).definition
    domain = (definition.values.min, definition.values.max)
    claims = []
    for problem in problems[:50]:
        program = parse_program(problem.program)
        right = solve(program, domain).answer(program.question)
        claims.append(Claim(program, wrong_answer(right), domain))
    assert PROVED not in prove(claims)


def test_every_declared_constraint_holds(compiled, registry, standard_id):
    problems, _ = compiled[standard_id]
    definition = registry.get(standard_id).definition
    for problem in problems:
        program = parse_program(problem.program)
        solution = solve(program, (definition.values.min, definition.values.max))
        check_problem(program, definition, {u: solution.values[u] for u in program.unknowns})
        for literal in program.literals():
            assert definition.numbers.min <= literal.value <= definition.numbers.max


def test_every_followup_says_its_change_in_the_context_of_its_parent(compiled, standard_id):
    problems, _ = compiled[standard_id]
    by_id = {p.id: p for p in problems}
    for problem in problems:
        if problem.parent is None:
            continue
        program = parse_program(problem.program)
        literals = [n.value for n in program.literals()]
        parent_literals = [n.value for n in parse_program(by_id[problem.parent].program).literals()]
        masked = list(problem.statement)
        for span in problem.render.spans:
            said = problem.statement[span.start : span.end]
            if span.source.startswith("literal "):
                assert said_number(said) == literals[int(span.source.split()[1])], problem.id
            elif span.source.startswith("previous literal "):
                assert said_number(said) == parent_literals[int(span.source.split()[2])], problem.id
            if span.source != "question":
                masked[span.start : span.end] = " " * (span.end - span.start)
        assert not re.search(r"\d", "".join(masked)), problem.id
        assert problem.statement.count("?") == 1 and problem.statement.endswith("?")
        if problem.kind.value == "incremental":  # it says each number of its step, once
            said = sorted(int(s.source.split()[1]) for s in problem.render.spans if s.source.startswith("literal "))
            assert [i for i in said if i >= len(parent_literals)] == list(range(len(parent_literals), len(literals)))


def test_a_counterfactual_names_an_old_number_only_where_the_story_says_it_once_and_not_in_a_fraction(compiled, standard_id):
    problems, _ = compiled[standard_id]
    by_id = {p.id: p for p in problems}
    for problem in problems:
        for span in problem.render.spans:
            if span.source.startswith("previous literal ") and span.start < problem.statement.index("?"):
                parent = by_id[problem.parent]
                (said,) = [s for s in parent.render.spans if s.source == span.source.removeprefix("previous ")]
                text = parent.statement[said.start : said.end]
                others = [parent.statement[s.start : s.end] for s in parent.render.spans if s.source.startswith("literal ") and s != said]
                question = next(s for s in parent.render.spans if s.source == "question")
                if said.start < question.start:  # the changed number is in the story
                    assert text not in others, (problem.id, problem.statement)
                    assert "/" not in parent.statement[said.start - 1 : said.start] + parent.statement[said.end : said.end + 1], problem.id


def test_every_statement_says_exactly_its_program(compiled, standard_id):
    problems, _ = compiled[standard_id]
    for problem in _originals(problems):
        program = parse_program(problem.program)
        literals = [n.value for n in program.literals()]
        spans = problem.render.spans
        said = sorted(int(s.source.split()[1]) for s in spans if s.source.startswith("literal "))
        assert said == list(range(len(literals))), problem.id
        masked = list(problem.statement)
        for span in spans:
            if span.source.startswith("literal "):
                assert said_number(problem.statement[span.start : span.end]) == literals[int(span.source.split()[1])]
                masked[span.start : span.end] = " " * (span.end - span.start)
        rest = "".join(masked)
        assert not re.search(r"\d", rest), problem.id
        refused = refused_words(problem.render.frame.partition("/")[0])
        assert not {w.lower() for w in re.findall(r"[A-Za-z]+", rest)} & refused, problem.id
        (question,) = [s for s in spans if s.source == "question"]
        assert problem.statement.count("?") == 1 and problem.statement.endswith("?")
        assert problem.statement[question.start : question.end].endswith("?")


def _plural_nouns() -> set[str]:
    from mathcamps.compiler.frames import load_vocabulary, templates_dir
    from mathcamps.compiler.render import plural

    vocabulary = load_vocabulary(templates_dir() / "vocabulary.yaml")
    words = set()
    for theme in vocabulary.themes.values():
        for key in ("noun", "unit", "thing", "item"):
            values = theme.get(key, [])
            for word in [values] if isinstance(values, str) else values:
                if plural(word) != word:
                    words.add(plural(word))
    # and the plurals frames write right after a number: "{{ n2 }} points"
    verbs = {"is", "as", "gives", "compares", "equals"}
    for path in templates_dir().glob("*.yaml"):
        words |= set(re.findall(r"\{\{ n\d? \}\} ([a-z]+s)\b", path.read_text())) - verbs
    return words


def test_no_count_of_one_is_followed_by_a_plural(compiled, standard_id):
    problems, _ = compiled[standard_id]
    plurals = _plural_nouns()
    for problem in problems:
        for match in re.finditer(r"(?<![\d.,])\b1 ([a-z]+(?: [a-z]+)?)", problem.statement):
            words = match.group(1).split()
            assert words[0] not in plurals and " ".join(words) not in plurals, (problem.id, problem.statement)


def test_no_duplicates_among_200(compiled, registry, standard_id):
    """No two originals share a program (or statement). (A follow-up belongs to its parent's dialogue.)"""
    problems, _ = compiled[standard_id]
    unique = registry.get(standard_id).definition.unique
    key = (lambda p: p.program) if unique == "program" else (lambda p: (p.program, p.statement))
    originals = _originals(problems)
    assert len({key(p) for p in originals}) == len(originals)
    assert len({p.statement for p in originals}) == len(originals)


def test_every_story_fits_its_numbers(compiled, registry, standard_id):
    """A frame with a `when` condition (3/4 OF the rope, a whole number of bottles) is only used
    where its condition holds for the problem's numbers and answer."""
    from mathcamps.compiler.render import condition_values

    problems, compiler = compiled[standard_id]
    definition = registry.get(standard_id).definition
    for problem in _originals(problems):
        condition = compiler.renderer.frame(problem.render.frame).condition
        if condition is not None:
            program = parse_program(problem.program)
            answer = solve(program, (definition.values.min, definition.values.max)).answer(program.question)
            assert condition(**condition_values(program, answer)), (problem.id, problem.statement)


def test_statements_vary_in_frames_and_themes(compiled, registry, standard_id):
    problems = _originals(compiled[standard_id][0])
    assert len({p.render.frame for p in problems}) >= 3
    themes = {t for frame_themes in compiled[standard_id][1].renderer.frame_themes.values() for t in frame_themes}
    assert len({p.render.theme for p in problems}) >= min(3, len(themes))


def test_at_least_40_of_every_100_originals_read_differently_beyond_their_numbers_and_names(compiled, standard_id):
    from mathcamps.compiler.frames import load_vocabulary, templates_dir

    people = load_vocabulary(templates_dir() / "vocabulary.yaml").people
    names = re.compile(r"\b(?:" + "|".join(p.name for p in people) + r")\b")
    pronouns = re.compile(r"\b(?:she|he|her|him|his|hers)\b", re.IGNORECASE)
    number = re.compile(r"(?<![\w.,/])-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")  # 3x and 11³ too: "#x", "#³"
    problems = _originals(compiled[standard_id][0])
    for start in range(0, len(problems), 100):
        told = {pronouns.sub("~", names.sub("@", number.sub("#", p.statement))) for p in problems[start : start + 100]}
        assert len(told) >= 40, (standard_id, start, len(told))


def test_every_grammar_shape_has_frames(registry, standard_id):
    """Every shape the grammar derives within its depth budget (enumerated, not sampled) has a frame."""
    from mathcamps.compiler.coverage import check_frames

    report = check_frames([registry.get(standard_id)])
    assert report.shapes and not report.missing, report.missing


def test_every_quantity_fits_the_size_of_its_role(compiled, registry, standard_id):
    """Each record's numbers and answer fit the size role of the frame (or step frame) that told it
    and of its theme: no child with thousands of stickers, no tabletop with sides of 80 feet."""
    from mathcamps.compiler.render import _numbers_in

    problems, compiler = compiled[standard_id]
    renderer = compiler.renderer
    definition = registry.get(standard_id).definition
    frames = {c.key: c for group in renderer.by_shape.values() for c in group}
    frames |= {c.key: c for group in renderer.steps.values() for c in group}
    parents = {}
    for problem in problems:
        program = parse_program(problem.program)
        answer = solve(program, (definition.values.min, definition.values.max)).answer(program.question)
        numbers = [n.value for n in program.literals()]
        if problem.kind.value == "original":
            parents[problem.id] = problem
            told = frames[problem.render.frame]
        elif problem.kind.value == "incremental":
            told = frames[problem.render.frame]
            numbers = numbers[len(parse_program(parents[problem.parent].program).literals()):]
        else:
            told = frames[parents[problem.parent].render.frame]
        theme = renderer._theme_size(problem.render.theme)
        for role in (told.size, theme):
            if role is not None:
                size = renderer.sizes[role]
                values = [*numbers, *_numbers_in(answer)]
                assert all(size.min <= abs(v) <= size.max for v in values), (problem.id, role, problem.statement)


def test_every_standard_is_feasible_and_mostly_accepted(compiled, standard_id):
    _, compiler = compiled[standard_id]
    stats = compiler.stats
    assert stats.problems == PER_STANDARD and sum(stats.followups.values()) == len(compiled[standard_id][0]) - PER_STANDARD
    assert not [r for r in stats.rejections if r.startswith(("parse-back", "sympy", "z3", "exhausted"))], stats.rejections


def _addends(expr):
    from mathcamps.language import BinOp

    if isinstance(expr, BinOp) and expr.op == "+":
        return _addends(expr.left) + _addends(expr.right)
    return [expr]


def test_polygons_have_sides_shorter_than_the_rest_together(compiled, registry, standard_id):
    """Where a definition declares `polygon`, a perimeter made of three or more sides is a real polygon."""
    from mathcamps.language import Let, Num, Var

    if registry.get(standard_id).definition.polygon is None:
        return
    problems, _ = compiled[standard_id]
    checked = 0
    for problem in problems:
        program = parse_program(problem.program)
        statement = program.statements[0]
        terms = _addends(statement.expr if isinstance(statement, Let) else statement.right)
        if len(terms) < 3:
            continue
        unknowns = solve(program).values
        sides = [t.value if isinstance(t, Num) else unknowns[t.name] for t in terms if isinstance(t, (Num, Var))]
        assert 2 * max(sides) < sum(sides), problem.id
        checked += 1
    assert checked > 20


def test_no_followup_repeats_another_word_for_word(compiled, standard_id):
    followups = [p.statement for p in compiled[standard_id][0] if p.kind.value != "original"]
    assert len(set(followups)) == len(followups)


def test_counterfactuals_are_phrased_in_many_ways_none_for_more_than_a_quarter(compiled):
    """Over every standard, at least 30 phrasings of templates/followups.yaml say what changed."""
    from collections import Counter

    from mathcamps.compiler.frames import load_rephrasings, phrasing_parts

    phrasings = load_rephrasings()
    patterns = [
        re.compile("".join("(.+?)" if part.startswith("{") else re.escape(part) for part in phrasing_parts(text)) + " ")
        for text in [*phrasings.story, *phrasings.question]
    ]
    used = Counter()
    for problems, _ in compiled.values():
        for problem in (p for p in problems if p.kind.value == "counterfactual"):
            matched = [i for i, pattern in enumerate(patterns) if pattern.match(problem.statement)]
            assert matched, problem.statement
            used[matched[0]] += 1
    assert len(used) >= 30 and max(used.values()) <= sum(used.values()) / 4, used


def test_no_record_says_what_the_vocabulary_forbids(compiled, registry, standard_id):
    """'some' that is zero, 'how many more' between equal amounts, a story's fraction not in lowest
    terms: the vocabulary's `forbid` rules hold for every record, originals and follow-ups."""
    problems, compiler = compiled[standard_id]
    definition = registry.get(standard_id).definition
    for problem in problems:
        program = parse_program(problem.program)
        answer = solve(program, (definition.values.min, definition.values.max)).answer(program.question)
        why = compiler.renderer.forbids(problem.statement, program, answer, problem.render.theme)
        assert why is None, (problem.id, why, problem.statement)
