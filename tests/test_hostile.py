"""Careless and hostile input to every command: the exact exit code, one paragraph that names the file,
line, field or problem id, no traceback, no hang, and nothing already written lost.

One test (or one table) per class of failure, in the order of the issue that listed them: runs that
make nothing, writers that overwrite, solvers that hang, programs too large to read, grading that
crashes or is fooled, tracebacks, silent servers, validation gaps, authoring diagnostics, and the
rest. The fuzz tests at the end feed random bytes, JSON and programs to `validate` and `eval grade`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mathcamps.cli.main import app
from mathcamps.compiler.render import templates_dir
from mathcamps.language import grammar_dir, parse_program
from mathcamps.registry import standards_dir
from mathcamps.solvers.exact import Unsolvable, solve

from test_data_only import DEFINITION, DOUBLES, _write_skill

runner = CliRunner()
ENTRY = "from mathcamps.cli.main import app; app(prog_name='mathcamps')"


def cli(*args, env: dict | None = None):
    """The command's result, asserting that it raised nothing but its exit."""
    result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "240", **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError("".join(traceback.format_exception(result.exception)))
    assert "Traceback" not in result.output
    return result


def error_of(result) -> str:
    """The one paragraph of an error, its lines joined."""
    assert result.exit_code == 1, result.output
    text = result.output[result.output.index("error:"):]
    return " ".join(text.split())


def digest(path: Path) -> str:
    """A file's sha256, or a folder's (its files' paths and contents)."""
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    hashed = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        hashed.update(f"{item.relative_to(path)}\0".encode() + item.read_bytes())
    return hashed.hexdigest()


def compiled(out: Path, *args) -> Path:
    """A good problems.jsonl in `out`: 3 problems of K.CC.C.7."""
    done = cli("compile", "--out", out, "--per-standard", 3, "--standard", "K.CC.C.7", "--seed", 1, *args)
    assert done.exit_code == 0, done.output
    return out / "problems.jsonl"


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("releases")
    built = cli("release", "build", "--name", "hostile", "--version", "1.0.0", "--per-standard", 4, "--seed", 3,
                "--standard", "K.CC.C.7", "--standard", "1.OA.A.1", "--test-fraction", "0.5", "--out", out)
    assert built.exit_code == 0, built.output
    return out / "hostile-1.0.0"


def skill(folder: Path, definition: str = DEFINITION, grammar: str = DOUBLES) -> Path:
    """A folder with the doubles skill of test_data_only, its definition or grammar replaced."""
    _write_skill(folder)
    (folder / "1.OA.C.6.yaml").write_text(definition)
    (folder / "doubles.lark").write_text(grammar)
    return folder


def templates_with(folder: Path, name: str, text: str) -> Path:
    """A copy of the built-in templates with one file added or replaced."""
    shutil.copytree(templates_dir(), folder, ignore=shutil.ignore_patterns("__*"))
    (folder / name).write_text(text)
    return folder


ONE_FRAME = """\
unit: apples
needs: things
frames:
- id: only
  shape: "let a = N + N\\nask a"
  story: "{{ name }} has {{ count(n1, noun) }} and gets some more."
  question: "How many {{ nouns }} does {{ subj }} have?"
"""


# ---------------------------------------------------------------- 1. runs that make nothing


def _eight_ee_a_2_with(folder: Path, exponent: str) -> Path:
    folder.mkdir()
    shutil.copy(grammar_dir() / "8_EE_A_2.lark", folder)
    text = (standards_dir() / "8.EE.A.2.yaml").read_text()
    text = re.sub(r"exponent:\n    min: 2\n    max: 3", exponent, text).replace("prerequisites: [6.EE.A.1]\n", "")
    (folder / "8.EE.A.2.yaml").write_text(text)
    return folder


@pytest.mark.parametrize("case", ["a wrong frame family", "a frame that omits a number", "an exponent range no problem fits"])
def test_a_standard_that_makes_fewer_problems_than_asked_is_an_error_and_the_earlier_output_stays(tmp_path, case):
    out = tmp_path / "out"
    before = digest(compiled(out))
    if case == "a wrong frame family":
        folder, extra, expected = skill(tmp_path / "s", DEFINITION.replace("frames: counting", "frames: roots")), [], (
            "1.OA.C.6", "render: no frame for shape 'let a = N + N\\nask a' in roots.yaml")
    elif case == "a frame that omits a number":
        templates = templates_with(tmp_path / "t", "tiny.yaml", ONE_FRAME)
        folder = skill(tmp_path / "s", DEFINITION.replace("frames: counting", "frames: tiny"))
        extra, expected = ["--templates", templates], ("1.OA.C.6", "faithfulness: literals missing [1]",
                                                        "(frame tiny/only, tiny.yaml:4)")
    else:
        folder = _eight_ee_a_2_with(tmp_path / "s", "exponent:\n    min: 65\n    max: 70")
        extra, expected = [], (f"{folder / '8.EE.A.2.yaml'}: no numbers satisfy the declared constraints",
                               "power: no exponent of its declared range is a whole number up to 64")
    done = cli("compile", "--out", out, "--per-standard", 5, "--standards", folder, "--force", *extra)
    message = error_of(done)
    for part in expected:
        assert part in message, message
    if not case.startswith("an exponent"):  # refused when it loads, before any candidate is drawn
        assert "most frequent rejections" in message and f"the earlier {out / 'problems.jsonl'} is as it was" in message
    assert digest(out / "problems.jsonl") == before


@pytest.mark.parametrize("folder", ["empty", "grammars"])
def test_a_folder_with_no_definitions_is_an_error_and_the_earlier_output_stays(tmp_path, folder):
    out = tmp_path / "out"
    before = digest(compiled(out))
    standards = tmp_path / "empty" if folder == "empty" else grammar_dir()
    standards.mkdir(exist_ok=True)
    message = error_of(cli("compile", "--out", out, "--standards", standards, "--force"))
    assert f"{standards}: no standard definitions (*.yaml) in this folder" in message
    if folder == "grammars":
        assert "it holds grammars" in message
    assert digest(out / "problems.jsonl") == before


def test_sample_says_so_when_no_problem_passes(tmp_path):
    folder = skill(tmp_path / "s", DEFINITION.replace("frames: counting", "frames: roots"))
    message = error_of(cli("sample", "1.OA.C.6", "--standards", folder))
    assert "1.OA.C.6" in message and "made 0 of the 3 problems asked" in message


def test_a_release_that_falls_short_is_not_built_and_the_earlier_release_stays(tmp_path):
    folder = skill(tmp_path / "s", DEFINITION.replace("numbers: {min: 1, max: 10}", "numbers: {min: 1, max: 3}"))
    args = ["release", "build", "--name", "r", "--version", "1.0.0", "--standards", folder, "--out", tmp_path / "out"]
    assert cli(*args, "--per-standard", 4).exit_code == 0
    before = digest(tmp_path / "out" / "r-1.0.0")
    message = error_of(cli(*args, "--per-standard", 12, "--force"))
    assert "made 9 of the 12 problems asked" in message and "No release was written" in message
    assert digest(tmp_path / "out" / "r-1.0.0") == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["r-1.0.0"]


def test_an_empty_release_never_verifies(release, tmp_path):
    empty = tmp_path / "empty-1.0.0"
    shutil.copytree(release, empty)
    manifest = json.loads((empty / "manifest.json").read_text())
    for split in ("train", "test"):
        (empty / "data" / f"{split}.jsonl").write_bytes(b"")
        manifest["files"][f"data/{split}.jsonl"] = {"sha256": hashlib.sha256(b"").hexdigest(), "bytes": 0, "records": 0}
        manifest["counts"][split] = {kind: 0 for kind in manifest["counts"][split]}
    manifest.update(standards=[], records=0)
    (empty / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    done = cli("release", "verify", empty)
    assert done.exit_code == 1 and "the release holds no records" in done.output


def test_a_release_whose_standard_made_fewer_than_asked_does_not_verify(release, tmp_path):
    short = tmp_path / "short-1.0.0"
    shutil.copytree(release, short)
    manifest = json.loads((short / "manifest.json").read_text())
    manifest["standards"][0]["requested"] += 1
    (short / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    done = cli("release", "verify", short)
    assert done.exit_code == 1 and "K.CC.C.7 made 4 of the 5 originals asked" in " ".join(done.output.split())


# ---------------------------------------------------------------- 2. writers that overwrite


def test_every_writer_refuses_to_replace_a_file_without_force(release, tmp_path):
    problems = compiled(tmp_path / "c")
    results = tmp_path / "results.jsonl"
    results.write_text(json.dumps({"id": "a", "gold": "12", "response": "### Answer: 12"}) + "\n")
    existing = tmp_path / "existing.json"
    existing.write_text("keep me\n")
    commands = {
        "compile": ("compile", "--out", tmp_path / "c", "--per-standard", 3, "--standard", "K.CC.C.7"),
        "validate --report": ("validate", problems, "--report", existing),
        "eval grade --out": ("eval", "grade", results, "--out", existing),
        "release build": ("release", "build", "--name", "hostile", "--version", "1.0.0", "--out", release.parent,
                          "--standard", "K.CC.C.7", "--per-standard", 2),
        "export": ("export", release, "--format", "hf", "--out", tmp_path),
    }
    for name, command in commands.items():
        before = {path: digest(path) for path in (problems, existing, release)}
        message = error_of(cli(*command))
        assert "already exists" in message and "--force" in message, (name, message)
        assert {path: digest(path) for path in before} == before, name


def test_no_writer_writes_over_its_own_input_even_with_force(release, tmp_path):
    problems = compiled(tmp_path / "c")
    responses = tmp_path / "responses.jsonl"
    responses.write_text(json.dumps({"id": "a", "gold": "12", "response": "### Answer: 12"}) + "\n")
    graded = tmp_path / "graded.jsonl"
    assert cli("eval", "grade", responses, "--out", graded).exit_code == 0
    commands = [
        ("validate", problems, "--report", problems, "--force"),
        ("validate", tmp_path / "c", "--report", tmp_path / "c" / "report.json", "--force"),
        ("eval", "grade", responses, "--out", responses, "--force"),
        ("eval", "report", graded, "--json", graded, "--force"),
        ("eval", "report", graded, "--plot", graded, "--force"),
        ("dynamics", graded, "--json", graded, "--force", "--tokens-per-step", 1),
        ("eval", "run", "--release", problems, "--model", "x", "--out", problems),
        ("export", release, "--format", "hf", "--out", release, "--force"),
        ("export", release, "--format", "hf", "--out", release.parent, "--force"),
    ]
    for command in commands:
        before = {path: digest(path) for path in (problems, responses, graded, release)}
        message = error_of(cli(*command))
        assert "never writes over what it reads" in message or "a figure is written as" in message, message
        assert {path: digest(path) for path in before} == before, command


# ---------------------------------------------------------------- 3. and 4. validation that hangs or aborts


def _record(problems: Path, **changes) -> str:
    record = json.loads(problems.read_text().splitlines()[0])
    record.update(changes)
    return json.dumps(record)


def _v1_file(path: Path, structs: list[tuple[str, str]]) -> Path:
    groups = [[{"id": f"8.EE.A.2-{i}-0", "standard": "8.EE.A.2", "symbolic-struct": struct, "answer": answer,
                "tag": "original problem"}] for i, (struct, answer) in enumerate(structs)]
    path.write_text(json.dumps(groups))
    return path


def _verdicts(report: Path) -> dict[str, tuple[str, str]]:
    return {v["id"]: (v["verdict"], v["reason"]) for v in json.loads(report.read_text())}


def test_validate_never_hangs_on_a_power_of_an_unknown(tmp_path):
    problems = tmp_path / "problems.jsonl"
    cli("compile", "--out", tmp_path, "--per-standard", 2, "--standard", "8.EE.A.2", "--seed", 5)
    good = problems.read_text().splitlines()
    hostile = _record(problems, id="8.EE.A.2-hostile", program="solve 99999999999 = x ^ 99999999\nask x")
    (tmp_path / "mixed.jsonl").write_text("\n".join([good[0], hostile, *good[1:]]) + "\n")
    v1 = _v1_file(tmp_path / "8.EE.A.2.json", [("[[var 5 = (x ** 1000)]]\n[[question q = ['x']]]", "1"),
                                               ("[[var 512 = (g ** 3)]]\n[[question y = ['g']]]", "8")])
    for path in (tmp_path / "mixed.jsonl", v1):
        report = tmp_path / f"{path.stem}.report.json"
        done = cli("validate", path, "--report", report)
        assert done.exit_code == 1
        verdicts = _verdicts(report)
        bad = [v for v in verdicts.values() if v[0] != "agrees"]
        assert bad == [("unproved", "sympy: an exponent that is not a whole number up to 64")], verdicts
        assert sum(v[0] == "agrees" for v in verdicts.values()) == len(verdicts) - 1


def test_a_solution_that_runs_past_its_budget_is_unproved_with_a_reason(tmp_path, monkeypatch):
    import mathcamps.solvers.exact as exact

    slow = "solve 7 = x ^ 64 + y ^ 64\nsolve 3 = x ^ 63 - y ^ 60\nask x, y"  # sympy takes seconds over it
    with pytest.raises(Unsolvable, match=r"no solution within the time budget \(0\.2 s\)"):
        solve(parse_program(slow), budget=0.2)
    monkeypatch.setattr(exact, "SOLVE_SECONDS", 0.2)
    from mathcamps.compiler.validate import Item, check_batch

    (verdict,) = check_batch([Item("f:1", "slow", None, "original", "x = 1, y = 1", program=slow)])
    assert (verdict.verdict, verdict.reason) == ("unproved", "sympy: no solution within the time budget (0.2 s)")


@pytest.mark.parametrize("size", ["a 100,000-term sum", "a 5,000-digit literal"])
def test_one_huge_program_gets_its_own_verdict_and_the_rest_are_validated(tmp_path, size):
    problems = compiled(tmp_path / "c")
    program = "let a = " + (" + ".join(["1"] * 100_000) if size.startswith("a 100") else "9" * 5000) + "\nask a"
    lines = problems.read_text().splitlines()
    (tmp_path / "mixed.jsonl").write_text("\n".join([lines[0], _record(problems, id="huge", program=program),
                                                     *lines[1:]]) + "\n")
    struct = "[[var a = (" + (" + ".join(["1"] * 100_000) if size.startswith("a 100") else "9" * 5000) + ")]]\n" \
             "[[question q = ['a']]]"
    v1 = _v1_file(tmp_path / "8.EE.A.2.json", [(struct, "1"), ("[[var 512 = (g ** 3)]]\n[[question y = ['g']]]", "8")])
    for path in (tmp_path / "mixed.jsonl", v1):
        report = tmp_path / f"{path.stem}.report.json"
        assert cli("validate", path, "--report", report).exit_code == 1
        verdicts = _verdicts(report)
        (huge,) = [v for v in verdicts.values() if v[0] != "agrees"]
        assert huge[0] == "unparseable" and "the program is too large to read" in huge[1], huge
        assert len(verdicts) == (len(lines) + 1 if path.suffix == ".jsonl" else 2)


# ---------------------------------------------------------------- 5. grading that crashes; 9. servers that do not answer


class Server:
    """An OpenAI-compatible server on 127.0.0.1 whose replies a test scripts: `reply(body)` gives the
    JSON to send (any JSON at all) or None to send nothing at all for a long while."""

    def __init__(self, reply):
        self.stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._send({"object": "list", "data": []})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                payload = reply(body)
                if payload is None:
                    server.stop.wait(30)  # silent
                    return
                self._send(payload)

            def _send(self, payload):
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(reply) -> Server:
        servers.append(Server(reply))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _chat(text: str) -> dict:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}], "usage": {}}


def test_a_response_with_a_number_of_thousands_of_digits_is_graded_wrong_and_the_run_finishes(release, tmp_path, serve):
    server = serve(lambda body: _chat("### Answer: " + "9" * 5000))
    out = tmp_path / "results.jsonl"
    done = cli("eval", "run", "--release", release, "--model", "m", "--backend", "openai", "--base-url", server.url,
               "--out", out)
    assert done.exit_code == 0, done.output
    results = [json.loads(line) for line in out.read_text().splitlines()]
    originals = [r for r in results if r["parent"] is None]
    assert originals and all(r["verdict"] == "wrong" for r in originals)
    reasons = {r["answer_kind"]: r["reason"] for r in originals}
    assert reasons == {"integer": "a number of more than 1,000 digits",
                       "comparison": "no answer of the gold's kind (comparison) in the answer's text"}
    assert all(r["verdict"] == "not-asked" for r in results if r["parent"] is not None)
    responses = tmp_path / "responses.jsonl"
    responses.write_text(json.dumps({"id": "a", "gold": "8", "response": "### Answer: " + "8" * 5000}) + "\n")
    assert cli("eval", "grade", responses).exit_code == 0
    graded = json.loads((tmp_path / "responses.graded.jsonl").read_text())
    assert graded["verdict"] == "wrong" and graded["reason"] == "a number of more than 1,000 digits"


@pytest.mark.parametrize("reply", [{}, [], {"choices": []}, {"choices": [{"message": {"content": 7}}]}],
                         ids=["{}", "a list", "no choices", "content not text"])
def test_a_server_that_answers_no_completion_is_one_paragraph(release, tmp_path, serve, reply):
    server = serve(lambda body: reply)
    message = error_of(cli("eval", "run", "--release", release, "--model", "m", "--backend", "openai",
                           "--base-url", server.url, "--out", tmp_path / "r.jsonl"))
    assert f"the server at {server.url} answered /chat/completions with JSON that is no OpenAI-compatible" in message
    assert "choices[0].message.content" in message


def test_a_silent_server_is_given_up_on_after_its_timeout_and_retries(release, tmp_path, serve):
    server = serve(lambda body: None)
    started = time.monotonic()
    message = error_of(cli("eval", "run", "--release", release, "--model", "m", "--backend", "openai",
                           "--base-url", server.url, "--out", tmp_path / "r.jsonl", "--timeout", 1, "--retries", 1))
    assert time.monotonic() - started < 25  # 1 s, a 1 s pause, 1 s more: never the 40 minutes of 600 s x 4
    assert "no answer from the server" in message and "after 2 attempts of at most 1 s each" in message
    assert "--timeout and --retries" in message
    assert not (tmp_path / "r.jsonl").exists() or not (tmp_path / "r.jsonl").read_text()


def test_a_wait_for_a_server_is_told_as_it_happens(serve):
    from mathcamps.evaluation.backends import BackendError, ModelSource, OpenAIBackend

    server = serve(lambda body: None)
    backend = OpenAIBackend(ModelSource("m"), server.url, timeout=0.5, retries=2)
    heard: list[str] = []
    backend.on_wait = heard.append
    with pytest.raises(BackendError, match="after 3 attempts"):
        backend.generate([[{"role": "user", "content": "2 + 2?"}]], 8)
    assert [re.sub(r"\(.*\)", "()", w) for w in heard] == [
        "no answer from the server (); retry 1 of 2 in 1 s", "no answer from the server (); retry 2 of 2 in 2 s"]


def test_eval_run_and_sweep_take_a_timeout_and_retries():
    for command in (("eval", "run", "--help"), ("eval", "sweep", "--help")):
        text = " ".join(cli(*command).output.split())
        assert "--timeout" in text and "--retries" in text and "120" in text and "3" in text


# ---------------------------------------------------------------- 8. tracebacks where one paragraph belongs


def _with_bad_byte(path: Path, line: int = 3) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = lines[line - 1][:4] + b"\xff" + lines[line - 1][4:]
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize("which", ["definition", "grammar", "frames file", "vocabulary"])
def test_bytes_that_are_not_utf8_are_named_by_file_line_and_column(tmp_path, which):
    folder = skill(tmp_path / "s")
    templates = templates_with(tmp_path / "t", "unused.yaml", "")
    path = {"definition": folder / "1.OA.C.6.yaml", "grammar": folder / "doubles.lark",
            "frames file": templates / "counting.yaml", "vocabulary": templates / "vocabulary.yaml"}[which]
    _with_bad_byte(path)
    message = error_of(cli("sample", "1.OA.C.6", "--standards", folder, "--templates", templates))
    assert f"{path}:3:5: the {which} is not UTF-8 text (byte 0xff); save it as UTF-8" in message


@pytest.mark.parametrize("grammar, expected", [
    (DOUBLES.replace("%import .core", "%import .nosuch"), "doubles.lark:6: %import .nosuch: there is no grammar nosuch.lark"),
    (DOUBLES.replace("_NL)", "_NL, frobnicate)"), "doubles.lark:6: %import .core: core.lark has no rule or terminal named frobnicate"),
    (DOUBLES.replace("-> add", "-> plus"), "doubles.lark:4: the alias `plus` is not a name of the problem language"),
    (DOUBLES.replace("total: ", "// a comment\ntotal: ").replace("double: num", "double: double \"+\" num -> add\nnever: num"),
     "rule double ("),
], ids=["an import of nothing", "an unknown imported name", "a non-core alias", "no base case"])
def test_a_grammar_mistake_is_found_when_it_loads_and_located(tmp_path, grammar, expected):
    folder = skill(tmp_path / "s", grammar=grammar)
    message = error_of(cli("sample", "1.OA.C.6", "--standards", folder))
    assert expected in message, message
    if expected.startswith("rule double"):
        assert f"{folder / 'doubles.lark'}:5) never derives a finite program" in message
        assert "Rules that need it: start, total" in message


def _run_limited(args: list, limit: int) -> subprocess.CompletedProcess:
    """The command in a process that may write no file past `limit` bytes: a full disk, for real."""

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-c", ENTRY, *map(str, args)], capture_output=True, text=True,
                          preexec_fn=limited, timeout=300, env={**os.environ, "COLUMNS": "240"})


def test_a_full_output_folder_is_one_paragraph_and_the_earlier_output_stays(release, tmp_path):
    problems = compiled(tmp_path / "c", "--force")
    responses = tmp_path / "responses.jsonl"
    responses.write_text("".join(json.dumps({"id": f"r{i}", "gold": "12", "response": "### Answer: 12"}) + "\n"
                                 for i in range(200)))
    outputs = {
        "compile": (tmp_path / "c" / "problems.jsonl",
                    ["compile", "--out", tmp_path / "c", "--per-standard", 40, "--standard", "K.CC.C.7", "--force"]),
        "release build": (release.parent / "full-1.0.0",
                          ["release", "build", "--name", "full", "--version", "1.0.0", "--out", release.parent,
                           "--standard", "K.CC.C.7", "--per-standard", 40, "--force"]),
        "export": (tmp_path / "hf", ["export", release, "--format", "hf", "--out", tmp_path / "hf", "--force"]),
        "validate --report": (tmp_path / "report.json", ["validate", problems, "--report", tmp_path / "report.json",
                                                        "--force"]),
        "eval grade": (tmp_path / "graded.jsonl", ["eval", "grade", responses, "--out", tmp_path / "graded.jsonl",
                                                   "--force"]),
    }
    for name, (target, command) in outputs.items():
        first = _run_limited(command, 1 << 30)
        assert first.returncode in (0, 1) and target.exists(), (name, first.stderr)  # validate exits 1 on disagreement
        before = digest(target)
        done = _run_limited(command, 2048)
        message = " ".join(done.stderr.split())
        assert done.returncode == 1, (name, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and "cannot write" in message and "nothing was written" in message, name
        assert digest(target) == before, name
        assert not [p for p in target.parent.iterdir() if p.name.startswith(".")], name  # no temporary left


def test_a_read_only_output_folder_is_one_paragraph_and_the_earlier_output_stays(tmp_path):
    out = tmp_path / "out"
    before = digest(compiled(out))
    out.chmod(0o555)
    immutable = False
    try:
        if _writable(out) and shutil.which("chattr"):  # root ignores the mode: make the folder immutable instead
            immutable = subprocess.run(["chattr", "+i", str(out)], capture_output=True).returncode == 0
        target = out if not _writable(out) else Path("/sys/mathcamps-read-only")  # where even root cannot write
        message = error_of(cli("compile", "--out", target, "--per-standard", 3, "--standard", "K.CC.C.7", "--force"))
        assert "cannot write" in message and "nothing was written" in message
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(out)], check=True)
        out.chmod(0o755)
    assert digest(out / "problems.jsonl") == before


def _writable(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.touch()
    except OSError:
        return False
    probe.unlink()
    return True


def test_a_plot_must_be_a_figure_and_a_bare_name_gets_png(tmp_path):
    from mathcamps.evaluation.results import Result

    graded = tmp_path / "graded.jsonl"
    graded.write_text(Result(id="1.OA.A.1-0", standard="1.OA.A.1", grade="1", kind="original", model="m", release="r",
                             settings="s", answer_kind="integer", gold="12", response="### Answer: 12",
                             extracted="12", verdict="correct").to_json() + "\n")
    message = error_of(cli("eval", "report", graded, "--plot", tmp_path / "x.jsonl"))
    assert "--plot" in message and "a figure is written as .png, .pdf, .svg, not .jsonl" in message
    done = cli("eval", "report", graded, "--plot", tmp_path / "heatmap")
    assert done.exit_code == 0 and f"wrote the heat map to {tmp_path / 'heatmap.png'}" in " ".join(done.output.split())
    assert (tmp_path / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- 10. validation gaps


def _changed(record: dict, case: str) -> dict:
    record = json.loads(json.dumps(record))
    spans = record["render"]["spans"]
    if case == "text after the question":
        record["statement"] += " h"
    elif case == "a shifted span":
        literal = next(s for s in spans if s["source"].startswith("literal"))
        literal["start"] += 1
        literal["end"] += 1
    elif case == "an inserted number word":
        record["statement"] = "Seven days ago. " + record["statement"]
        for span in spans:
            span["start"] += 16
            span["end"] += 16
    elif case == "a span that marks no literal":
        next(s for s in spans if s["source"].startswith("literal"))["source"] = "junk"
    elif case == "a span outside the statement":
        spans[0]["end"] = len(record["statement"]) + 50
    return record


@pytest.mark.parametrize("case, reason", [
    ("text after the question", "statement: faithfulness: text after the question: ' h'"),
    ("a shifted span", "statement: faithfulness: "),
    ("an inserted number word", "statement: faithfulness: number word(s) ['seven'] in the text"),
    ("a span that marks no literal", "statement: faithfulness: span "),
    ("a span outside the statement", "lies outside the statement"),
])
def test_validate_refuses_a_statement_that_does_not_say_its_program(tmp_path, case, reason):
    problems = compiled(tmp_path / "c")
    record = json.loads(problems.read_text().splitlines()[0])
    (tmp_path / "one.jsonl").write_text(json.dumps(_changed(record, case)) + "\n")
    report = tmp_path / "report.json"
    assert cli("validate", tmp_path / "one.jsonl", "--report", report).exit_code == 1
    ((verdict, why),) = _verdicts(report).values()
    assert verdict == "disagrees" and reason in why, why
    assert "Invalid literal" not in why and "Fraction" not in why


def test_repeated_ids_are_refused_by_validate_and_eval_grade(tmp_path):
    problems = compiled(tmp_path / "c")
    first = problems.read_text().splitlines()[0]
    (tmp_path / "twice.jsonl").write_text(f"{first}\n{first}\n")
    report = tmp_path / "report.json"
    assert cli("validate", tmp_path / "twice.jsonl", "--report", report).exit_code == 1
    verdicts = json.loads(report.read_text())
    assert [v["verdict"] for v in verdicts] == ["agrees", "unparseable"]
    assert verdicts[1]["reason"] == f"id {verdicts[0]['id']} is already the id of {tmp_path / 'twice.jsonl'}:1 " \
                                    "(ids are unique across the input)"
    line = json.dumps({"id": "a", "gold": "12", "response": "### Answer: 12"})
    (tmp_path / "responses.jsonl").write_text(f"{line}\n{line}\n")
    message = error_of(cli("eval", "grade", tmp_path / "responses.jsonl"))
    assert f"{tmp_path / 'responses.jsonl'}:2: field `id`: 'a' is already the id of line 1" in message
    assert not (tmp_path / "responses.graded.jsonl").exists()


# ---------------------------------------------------------------- 11. authoring diagnostics


def test_a_jinja_mistake_names_the_frame_and_its_line(tmp_path):
    folder = skill(tmp_path / "s", DEFINITION.replace("frames: counting", "frames: tiny"))
    templates = templates_with(tmp_path / "t", "tiny.yaml", ONE_FRAME.replace("{{ nouns }}", "{{ nouns }"))
    message = error_of(cli("sample", "1.OA.C.6", "--standards", folder, "--templates", templates))
    assert f"{templates / 'tiny.yaml'}:4: frame only:" in message and "Jinja syntax" in message


def test_an_undefined_name_in_a_frame_is_found_when_the_standard_loads(tmp_path):
    folder = skill(tmp_path / "s", DEFINITION.replace("frames: counting", "frames: tiny"))
    frame = ONE_FRAME.replace("gets some more", "gets {{ n2 }} {{ colour }} more").replace("{{ name }}", "{{ n3 }}")
    templates = templates_with(tmp_path / "t", "tiny.yaml", frame)
    message = error_of(cli("sample", "1.OA.C.6", "--standards", folder, "--templates", templates))
    assert f"{templates / 'tiny.yaml'}:4: frame only uses colour, n3, which nothing gives it with theme fruit" in message
    assert "its numbers are n1 to n2" in message


def test_a_weights_mistake_is_the_definitions(tmp_path):
    folder = skill(tmp_path / "s", DEFINITION + "weights: {plus: 2}\n")
    message = error_of(cli("sample", "1.OA.C.6", "--standards", folder))
    assert message.startswith(f"error: {folder / '1.OA.C.6.yaml'}: weights: no rule or alias named plus in the grammar "
                              "doubles.lark")


# ---------------------------------------------------------------- 12. and the rest


def test_written_files_get_the_umasks_mode(tmp_path):
    previous = os.umask(0o022)
    try:
        problems = compiled(tmp_path / "c")
        assert cli("validate", problems, "--report", tmp_path / "report.json").exit_code == 0
        (tmp_path / "responses.jsonl").write_text(json.dumps({"gold": "1", "response": "1"}) + "\n")
        assert cli("eval", "grade", tmp_path / "responses.jsonl").exit_code == 0
    finally:
        os.umask(previous)
    for path in (problems, tmp_path / "report.json", tmp_path / "responses.graded.jsonl"):
        assert path.stat().st_mode & 0o777 == 0o644, path


@pytest.mark.parametrize("which", ["definition", "frames file", "vocabulary"])
def test_a_key_given_twice_in_yaml_is_refused_with_its_line(tmp_path, which):
    folder = skill(tmp_path / "s")
    templates = templates_with(tmp_path / "t", "unused.yaml", "")
    if which == "definition":
        path = folder / "1.OA.C.6.yaml"
        path.write_text(DEFINITION + "grade: \"2\"\n")
        line = DEFINITION.count("\n") + 1
    elif which == "frames file":
        path = templates / "counting.yaml"
        path.write_text(path.read_text().replace("\nframes:", "\nunit: pears\nframes:", 1))
        line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if text == "unit: pears")
    else:
        path = templates / "vocabulary.yaml"
        path.write_text(path.read_text() + "people: []\n")
        line = path.read_text().count("\n")
    message = error_of(cli("sample", "1.OA.C.6", "--standards", folder, "--templates", templates))
    assert re.search(rf"{re.escape(str(path))}:{line}:1: not valid YAML: the key '\w+' is given twice \(first on line \d+\)",
                     message), message


def test_a_definition_that_takes_a_built_in_id_is_loaded_with_a_warning(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    shutil.copy(grammar_dir() / "K_CC_C_7.lark", folder)
    (folder / "K.CC.C.7.yaml").write_text((standards_dir() / "K.CC.C.7.yaml").read_text().replace("max: 10", "max: 9", 1))
    done = cli("standards", "--standards", folder)
    assert done.exit_code == 0
    assert f"warning: {folder / 'K.CC.C.7.yaml'} defines K.CC.C.7, the id of a built-in standard, with another " \
           "definition" in " ".join(done.output.split())
    shutil.copy(standards_dir() / "K.CC.C.7.yaml", folder)  # the same definition: no warning
    assert "warning" not in cli("standards", "--standards", folder).output


def test_a_grammar_of_300000_rules_is_refused_before_lark_sees_it(tmp_path):
    rules = "".join(f"r{i}: num\n" for i in range(300_000))
    folder = skill(tmp_path / "s", grammar=DOUBLES + rules)
    message = error_of(cli("sample", "1.OA.C.6", "--standards", folder))
    assert "is larger than a standard's grammar may be (200,000 characters, 2,000 rules)" in message


def test_a_validation_message_names_an_answer_kind_by_its_name(tmp_path):
    problems = compiled(tmp_path / "c")
    record = json.loads(problems.read_text().splitlines()[0])
    record.update(answer_kind="integer")  # K.CC.C.7 answers <, > or =: an integer cannot say it
    (tmp_path / "one.jsonl").write_text(json.dumps(record) + "\n")
    report = tmp_path / "report.json"
    assert cli("validate", tmp_path / "one.jsonl", "--report", report).exit_code == 1
    ((verdict, why),) = _verdicts(report).values()
    assert verdict == "disagrees" and "the record's answer_kind, integer, cannot say its answer" in why
    assert "AnswerKind" not in why


def test_a_release_with_an_empty_split_is_built_with_a_warning(tmp_path):
    done = cli("release", "build", "--name", "one", "--version", "1.0.0", "--per-standard", 1, "--standard", "K.CC.C.7",
               "--out", tmp_path, "--test-fraction", 0)
    assert done.exit_code == 0
    assert "warning: the test split of one-1.0.0 is empty: each of its 1 originals hashed to train" in \
           " ".join(done.output.split())


# ---------------------------------------------------------------- fuzz: validate and eval grade, whatever they are fed

from strategies import let_programs, linear_equations  # noqa: E402

from mathcamps.language import format_program  # noqa: E402

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
PROGRAM_TEXT = st.one_of(
    let_programs().map(format_program),
    linear_equations().map(format_program),
    st.text(alphabet="letsolvaskcompare factors xy0123456789+-*/^%()=_ \n.", max_size=80),
    st.sampled_from(["solve 99999999999 = x ^ 99999999\nask x", "let a = " + "9" * 5000 + "\nask a",
                     "let a = " + " + ".join(["1"] * 3000) + "\nask a", "solve 5 = x ^ 1000\nask x"]),
)
FIELDS = ("id", "standard", "kind", "parent", "program", "statement", "answer", "answer_kind", "render", "grade")
DEADLINE = timedelta(seconds=40)  # a hang, not a slow machine: every solver call has a budget far below it


@st.composite
def record_lines(draw, good: dict) -> bytes:
    """One line for a records file: random bytes, random JSON, or one of our records with fields changed."""
    kind = draw(st.sampled_from(["bytes", "json", "record"]))
    if kind == "bytes":
        return draw(st.binary(max_size=60)).replace(b"\n", b" ")
    if kind == "json":
        return json.dumps(draw(JSON)).encode()
    record = json.loads(json.dumps(good))
    record["id"] = draw(st.text(alphabet="abc0123-", min_size=1, max_size=8))
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        record[field] = draw(PROGRAM_TEXT) if field in ("program", "answer") else draw(JSON)
    if draw(st.booleans()):
        record["program"] = draw(PROGRAM_TEXT)
    return json.dumps(record).encode()


@pytest.fixture(scope="module")
def good_record(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("good")
    return json.loads(compiled(folder).read_text().splitlines()[0])


@settings(max_examples=120, deadline=DEADLINE, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_validate_gives_a_verdict_for_every_line_whatever_it_is_fed(good_record, tmp_path, data):
    from mathcamps.compiler.validate import VERDICTS, InputError, run

    lines = data.draw(st.lists(record_lines(good_record), min_size=1, max_size=6))
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    verdicts = []
    try:
        run([path], on_verdict=verdicts.append)
    except InputError as error:  # the one error of a whole input: it holds no problem
        assert not any(not _blank_text(line) for line in lines) and "no problems to validate" in str(error)
        return
    except Exception as error:  # a verdict for every line, and nothing raised
        raise AssertionError(f"{type(error).__name__}: {error}") from error
    assert all(v.verdict in VERDICTS and v.reason for v in verdicts)
    assert len(verdicts) == sum(1 for line in lines if not _blank_text(line))


def _blank_text(line: bytes) -> bool:
    try:
        return not line.decode("utf-8").strip()
    except UnicodeDecodeError:
        return False


RESPONSES = st.one_of(
    st.text(max_size=200),
    st.builds(lambda pre, answer: f"{pre}\n### Answer: {answer}", st.text(max_size=40), st.text(max_size=40)),
    st.builds(lambda unit, n: unit * n, st.sampled_from(["$", "-", " ", "#", "1", "1,", "( ", "x=", "\\boxed{", "½"]),
              st.integers(0, 20_000)),
    st.sampled_from(["8e5", "8^2", "8 or 9", "not 8", "8 (or maybe 80)", "– 8", "‐8", "− 8", "9" * 5000]),
)
GOLDS = st.one_of(st.sampled_from(["8", "-3/4", "2 1/2", "2.75", "<", "x = 3, y = 4", "7 R 3", "(1, 6), (2, 3)",
                                   "1.03448275862069", "{q: 3, s: 4}"]), st.text(max_size=12))


@settings(max_examples=150, deadline=DEADLINE, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lines=st.lists(st.one_of(
    st.builds(lambda g, r, k: json.dumps({"gold": g, "response": r, "answer_kind": k}), GOLDS, RESPONSES,
              st.sampled_from([None, "integer", "fraction", "comparison", "assignment", "remainder", "pairs", "x"])),
    JSON.map(json.dumps),
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" ").decode("latin-1")),
), min_size=1, max_size=5))
@example(lines=[json.dumps({"gold": "8", "response": "$" * 100_000 + "8"}),
                json.dumps({"gold": "8", "response": "-" * 100_000}),
                json.dumps({"gold": "8", "response": "8" * 5000})])
def test_eval_grade_grades_every_line_or_names_the_one_it_cannot(tmp_path, lines):
    from mathcamps.evaluation.grade_file import ResponsesError, grade_file

    path = tmp_path / "responses.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "graded.jsonl"
    try:
        summary = grade_file(path, out, force=True)
    except ResponsesError as error:
        assert re.match(rf"{re.escape(str(path))}:\d+: ", str(error)), error  # a user's mistake, located
        return
    except Exception as error:
        raise AssertionError(f"{type(error).__name__}: {error}") from error
    written = out.read_text(encoding="utf-8").split("\n")[:-1]  # lines end in \n only (a U+0085 is text)
    assert summary.lines == len(written) == sum(1 for line in lines if line.strip())
