"""The user's mistakes: one clear paragraph naming file, line, field; no traceback; nothing lost."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mathcamps.cli.main import app
from mathcamps.compiler.pipeline import StandardCompiler
from mathcamps.language import GrammarFileError, load_grammar
from mathcamps.registry import DefinitionError, Registry

from test_data_only import DEFINITION, DOUBLES, _write_skill

runner = CliRunner()


def test_a_broken_grammar_names_file_line_and_column(tmp_path):
    path = tmp_path / "broken.lark"
    path.write_text('start: total _NL ask\ntotal: "let" NAME "=" (num "+" \nask: "ask" NAME\n')
    with pytest.raises(GrammarFileError) as error:
        load_grammar(path)
    assert str(error.value).startswith(f"{path}:")
    assert ":2:" in str(error.value) or ":3:" in str(error.value)


def test_a_grammar_with_an_undefined_rule_names_the_file(tmp_path):
    path = tmp_path / "undefined.lark"
    path.write_text('start: nowhere\n')
    with pytest.raises(GrammarFileError, match="undefined.lark.*nowhere"):
        load_grammar(path)


def test_a_broken_definition_names_file_field_and_message(tmp_path):
    folder = _write_skill(tmp_path / "skills")
    (folder / "1.OA.C.6.yaml").write_text(DEFINITION.replace("max: 10}", "max: ten}").replace("grade: \"1\"", "grade: \"9\""))
    with pytest.raises(DefinitionError) as error:
        Registry.load(folder)
    message = str(error.value)
    assert f"{folder / '1.OA.C.6.yaml'}: numbers.max:" in message
    assert f"{folder / '1.OA.C.6.yaml'}: grade:" in message


@pytest.mark.parametrize(
    "appended, message",
    [
        ("colour: blue\n", "colour: Extra inputs are not permitted"),
        ("render: [unclosed\n", r"1\.OA\.C\.6\.yaml:\d+:\d+: not valid YAML"),
        ("ranges: {double: {min: 5, max: 50}}\n", r"ranges\.double must lie within numbers \(1\.\.10\)"),
    ],
    ids=["an unknown field", "invalid yaml names the line", "a range outside numbers"],
)
def test_a_bad_definition_is_refused_with_a_located_message(tmp_path, appended, message):
    folder = _write_skill(tmp_path / "skills")
    (folder / "1.OA.C.6.yaml").write_text(DEFINITION + appended)
    with pytest.raises(DefinitionError, match=message):
        Registry.load(folder)


def test_duplicate_ids_are_refused(tmp_path):
    folder = _write_skill(tmp_path / "skills")
    (folder / "copy.yaml").write_text(DEFINITION)
    with pytest.raises(DefinitionError, match="already defined"):
        Registry.load(folder)


def test_an_infeasible_definition_names_the_conflicting_constraints(tmp_path):
    folder = _write_skill(tmp_path / "skills")
    (folder / "1.OA.C.6.yaml").write_text(DEFINITION.replace("answer: {kind: integer, min: 2, max: 20}",
                                                             "answer: {kind: integer, min: 25, max: 30}"))
    (standard,) = list(Registry.load(folder))
    with pytest.raises(DefinitionError) as error:
        StandardCompiler(standard, 0)
    message = str(error.value)
    assert "no numbers satisfy the declared constraints" in message
    assert "answer.min" in message and "values.max" in message


def test_the_cli_prints_one_paragraph_and_exits_1(tmp_path):
    folder = _write_skill(tmp_path / "skills")
    (folder / "doubles.lark").write_text(DOUBLES.replace("ask: ", "ask "))
    result = runner.invoke(app, ["sample", "1.OA.C.6", "--standards", str(folder)])
    assert result.exit_code == 1
    assert "error:" in result.output and "doubles.lark" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_standard_lists_the_known_ones():
    result = runner.invoke(app, ["sample", "9.ZZ.Z.9"])
    assert result.exit_code == 1
    assert "unknown standard '9.ZZ.Z.9'; known:" in result.output


def test_compile_never_overwrites_without_force(tmp_path):
    out = tmp_path / "out"
    first = runner.invoke(app, ["compile", "--out", str(out), "--per-standard", "3", "--standard", "K.CC.C.7"])
    assert first.exit_code == 0, first.output
    before = (out / "problems.jsonl").read_bytes()
    again = runner.invoke(app, ["compile", "--out", str(out), "--per-standard", "4", "--standard", "K.CC.C.7"])
    assert again.exit_code == 1 and "--force" in again.output
    assert (out / "problems.jsonl").read_bytes() == before
    forced = runner.invoke(app, ["compile", "--out", str(out), "--per-standard", "4", "--standard", "K.CC.C.7",
                                 "--force"])
    assert forced.exit_code == 0
    lines = (out / "problems.jsonl").read_text().splitlines()
    assert sum('"parent":null' in line for line in lines) == 4
    assert [p.name for p in out.iterdir()] == ["problems.jsonl"]


def test_an_unknown_theme_names_the_definition(tmp_path):
    from mathcamps.compiler.render import TemplateError

    folder = _write_skill(tmp_path / "skills")
    (folder / "1.OA.C.6.yaml").write_text(DEFINITION.replace("themes: [fruit, toys]", "themes: [fruit, dragons]"))
    (standard,) = list(Registry.load(folder))
    with pytest.raises(TemplateError, match=r"1\.OA\.C\.6\.yaml: render\.themes: no theme, kind or tag dragons"):
        StandardCompiler(standard, 0)


def test_an_undefined_rule_is_located(tmp_path):
    path = tmp_path / "undefined.lark"
    path.write_text('// a comment naming nowhere\nstart: "ask" nowhere\n')
    with pytest.raises(GrammarFileError, match=r"undefined\.lark:2:14: Rule 'nowhere' used but not defined"):
        load_grammar(path)
