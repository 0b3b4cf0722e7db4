"""A standard is data: adding a skill takes a definition and a grammar, and no Python."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from typer.testing import CliRunner

from mathcamps.cli.main import app
from mathcamps.compiler.pipeline import StandardCompiler
from mathcamps.registry import Registry

ROOT = Path(__file__).resolve().parent.parent

DOUBLES = """\
// Doubles: add a number to itself.
start: total _NL ask
total: "let" NAME "=" double -> let
double: num "+" num -> add
ask: "ask" NAME
%import .core (num, NAME, NUMBER, _NL)
%ignore " "
"""

DEFINITION = """\
id: 1.OA.C.6
grade: "1"
domain: OA
cluster: Add and subtract within 20.
text: Add and subtract within 20, demonstrating fluency for addition and subtraction within 10.
grammar: doubles.lark
numbers: {min: 1, max: 10}
values: {min: 1, max: 20}
answer: {kind: integer, min: 2, max: 20}
render: {frames: counting, themes: [fruit, toys]}
"""


def _write_skill(folder: Path) -> Path:
    folder.mkdir()
    (folder / "doubles.lark").write_text(DOUBLES)
    (folder / "1.OA.C.6.yaml").write_text(DEFINITION)
    return folder


def test_a_standard_from_a_temporary_folder_compiles_with_no_new_code(tmp_path):
    folder = _write_skill(tmp_path / "skills")
    registry = Registry.load(folder)
    (standard,) = list(registry)
    problems = list(StandardCompiler(standard, 3).problems(40))
    assert len(problems) == 40
    assert all(p.standard == "1.OA.C.6" and p.verdicts.z3 == "proved" for p in problems)
    assert all(re.fullmatch(r"let a = \d+ \+ \d+\nask a", p.program) for p in problems)


def test_the_cli_compiles_a_folder_of_new_skills(tmp_path):
    folder = _write_skill(tmp_path / "skills")
    result = CliRunner().invoke(app, ["compile", "--standards", str(folder), "--out", str(tmp_path / "out"),
                                      "--per-standard", "5"])
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "out" / "problems.jsonl").read_text().splitlines()) == 5


def test_no_standard_id_appears_in_the_python_code():
    pattern = re.compile(r"(K|[1-8])\.(CC|OA|NBT|MD|NF|NS|EE|G|RP|SP|F)\.[A-D]\.\d")
    offenders = []
    for folder in ("mathcamps", "compiler", "solvers", "cli"):
        for path in (ROOT / folder).rglob("*.py"):
            if pattern.search(path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


FLOORS = {"mathcamps": 1, "solvers": 2, "compiler": 3, "evaluation": 3, "cli": 4}


def _imports(path: Path) -> list[str]:
    """The modules a Python file imports (real imports, not text that looks like one)."""
    modules = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.append(node.module)
    return modules


def test_the_layers_import_only_downwards():
    for folder, floor in FLOORS.items():
        for path in (ROOT / folder).rglob("*.py"):
            for module in (m for m in _imports(path) if m.split(".")[0] == "mathcamps"):
                parts = module.split(".")
                layer = parts[1] if len(parts) > 1 and parts[1] in FLOORS else "mathcamps"
                assert layer == folder or FLOORS[layer] < floor, f"{path.relative_to(ROOT)} imports {module}"


def test_a_standard_with_too_few_programs_is_an_error_that_writes_nothing(tmp_path):
    folder = _write_skill(tmp_path / "skills")
    (folder / "1.OA.C.6.yaml").write_text(DEFINITION.replace("numbers: {min: 1, max: 10}", "numbers: {min: 1, max: 3}"))
    command = ["compile", "--standards", str(folder), "--out", str(tmp_path / "out"), "--per-standard"]
    result = CliRunner().invoke(app, [*command, "12"], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "1.OA.C.6 (" in result.output and "made 9 of the 12 problems asked" in result.output
    assert "duplicate" in result.output  # its most frequent rejection: 3 x 3 programs, all taken
    assert "Nothing was written: there is no" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out" / "problems.jsonl").exists()
    assert CliRunner().invoke(app, [*command, "9"]).exit_code == 0
    assert len((tmp_path / "out" / "problems.jsonl").read_text().splitlines()) == 9
