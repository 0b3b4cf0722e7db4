"""The derivation sampler: seeded, terminating, grammar-faithful, for any grammar."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mathcamps.compiler.sampler import Sampler, SamplerError
from mathcamps.language import load_grammar

RECURSIVE = """
start: first _NL then _NL ask
first: "let" NAME "=" expr -> let
then: "let" NAME "=" step -> let
?expr: expr "+" atom -> add
     | expr "*" atom -> mul
     | atom
?atom: num
     | "(" expr ")"
step: var "-" num -> sub
ask: "ask" NAME
%import .core (num, var, NAME, NUMBER, _NL)
%ignore " "
"""


def _grammar(tmp_path: Path, text: str, name: str = "g.lark"):
    path = tmp_path / name
    path.write_text(text)
    return load_grammar(path)


@pytest.fixture
def recursive(tmp_path):
    return _grammar(tmp_path, RECURSIVE)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), depth=st.integers(min_value=6, max_value=14))
def test_every_sample_terminates_within_its_budget_and_parses(tmp_path_factory, seed, depth):
    grammar = _grammar(tmp_path_factory.mktemp("g"), RECURSIVE)
    sampler = Sampler(grammar, {}, depth)
    skeleton = sampler.sample(random.Random(seed))
    filled = skeleton.text
    for i in range(skeleton.holes):
        filled = filled.replace(f"#{i}", str(i + 1), 1)
    assert grammar.parse(filled) is not None
    nesting = deepest = 0
    for char in skeleton.text:
        nesting += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(deepest, nesting)
    assert deepest <= depth


def test_the_same_seed_gives_the_same_program(recursive):
    a = Sampler(recursive, {}, 10)
    b = Sampler(recursive, {}, 10)
    assert [a.sample(random.Random(s)).text for s in range(50)] == [b.sample(random.Random(s)).text for s in range(50)]


def test_names_are_bound_by_role(recursive):
    skeleton = Sampler(recursive, {}, 8).sample(random.Random(3))
    lines = skeleton.text.splitlines()
    assert lines[0].startswith("let a = ")
    assert lines[1].startswith("let b = a - ")
    assert lines[2] == "ask b"


def test_weights_steer_and_zero_weight_excludes(recursive):
    sampler = Sampler(recursive, {"mul": 0, "add": 5}, 10)
    texts = [sampler.sample(random.Random(s)).text for s in range(200)]
    assert not any("*" in t for t in texts)
    assert sum("+" in t for t in texts) > 100


def test_a_weight_for_a_missing_rule_is_an_error(recursive):
    with pytest.raises(SamplerError, match="no rule or alias named nothing"):
        Sampler(recursive, {"nothing": 2}, 10)


def test_a_name_outside_a_binding_rule_is_an_error(tmp_path):
    grammar = _grammar(tmp_path, 'start: "let" label "=" num _NL ask\nlabel: NAME\nask: "ask" NAME\n'
                       '%import .core (num, NAME, NUMBER, _NL)\n%ignore " "\n')
    with pytest.raises(SamplerError, match="rule label"):
        Sampler(grammar, {}, 10)


def test_a_budget_too_small_for_any_program_is_an_error(recursive):
    with pytest.raises(SamplerError, match="max_depth"):
        Sampler(recursive, {}, 2)


RANGED = """
start: product _NL ask
product: "let" NAME "=" times -> let
times: num "*" factor -> mul
?factor: num
ask: "ask" NAME
%import .core (num, NAME, NUMBER, _NL)
%ignore " "
"""


def test_holes_know_the_ranged_rule_they_stand_in(tmp_path):
    sampler = Sampler(_grammar(tmp_path, RANGED), {}, 10, ranges=frozenset({"factor"}))
    skeleton = sampler.sample(random.Random(0))
    assert skeleton.text == "let a = #0 * #1\nask a"
    assert skeleton.ranges == (None, "factor")


def test_a_range_for_a_missing_rule_is_an_error(tmp_path):
    with pytest.raises(SamplerError, match="ranges: no rule or alias named divisor"):
        Sampler(_grammar(tmp_path, RANGED), {}, 10, ranges=frozenset({"divisor"}))
