"""eval run and eval sweep: a tiny local model answers a small release through the whole pipeline, offline.

The model is built here (a random GPT-NeoX and a tokenizer trained on the release's statements)
and laid out as three revisions of a hub repository in a local cache, so `from_pretrained` with
`revision=` is exercised without a network. An OpenAI-compatible server started on 127.0.0.1
answers from the gold answers, so that originals are right and their follow-ups are asked.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mathcamps.cli.main import app
from mathcamps.evaluation.prompts import DELIMITER, OneShot, completion_text, response_ended, trim_response
from mathcamps.evaluation.results import Result, Verdict

STANDARDS = ("1.OA.A.1", "4.NBT.B.6", "8.EE.C.8")
REVISIONS = ("step0", "step1000", "step2000")
REPO = "org/tiny"

runner = CliRunner()


def problems_of(release: Path, split: str = "all") -> list[dict]:
    names = ("train", "test") if split == "all" else (split,)
    return [json.loads(line) for name in names for line in (release / "data" / f"{name}.jsonl").read_text().splitlines()]


def results_of(path: Path) -> list[Result]:
    return [Result.model_validate_json(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny model runs faster on one thread, and much faster on a machine whose cores are all busy."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """A small release built by `mathcamps release build`: follow-ups right after their original."""
    out = tmp_path_factory.mktemp("releases")
    standards = [arg for standard in STANDARDS for arg in ("--standard", standard)]
    built = runner.invoke(app, ["release", "build", "--name", "tiny-test", "--version", "0.0.1", "--per-standard", "4",
                                "--seed", "11", "--test-fraction", "0.5", "--out", str(out), *standards])
    assert built.exit_code == 0, built.output
    return out / "tiny-test-0.0.1"


@pytest.fixture(scope="module")
def models(tmp_path_factory, release) -> dict[str, Path]:
    """A hub cache holding org/tiny at three revisions, and a local model folder with a chat template."""
    from mathcamps.evaluation import tiny

    root = tmp_path_factory.mktemp("models")
    statements = [p["statement"] for p in problems_of(release)]
    tokenizer = tiny.build_tokenizer(tiny.corpus(statements), 1024)
    tiny.build_hub_cache(root / "cache", REPO, list(REVISIONS), tokenizer)
    chat = tiny.build_tokenizer(tiny.corpus(statements), 1024, chat=True)
    tiny.build_model(root / "chat", chat, seed=5)
    return {"cache": root / "cache", "chat": root / "chat"}


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def test_a_run_writes_one_result_per_problem_in_release_order_and_asks_no_followup_after_a_wrong_original(
    release, models, tmp_path
):
    out = tmp_path / "results.jsonl"
    result = invoke("eval", "run", "--release", release, "--model", REPO, "--revision", "step1000",
                    "--cache-dir", models["cache"], "--backend", "hf", "--max-new-tokens", 8, "--out", out)
    assert result.exit_code == 0, result.output
    results = results_of(out)
    problems = problems_of(release)
    assert [r.id for r in results] == [p["id"] for p in problems]
    identity = hashlib.sha256((release / "manifest.json").read_bytes()).hexdigest()
    assert {(r.model, r.revision, r.release) for r in results} == {(REPO, "step1000", identity)}
    assert len({r.settings for r in results}) == 1
    by_id = {r.id: r for r in results}
    followups = [r for r in results if r.parent is not None]
    assert followups, "the release has follow-ups"
    for followup in followups:
        asked = by_id[followup.parent].verdict is Verdict.correct
        assert (followup.verdict is not Verdict.not_asked) == asked
        assert (followup.response is None) == (not asked)
    assert any(r.verdict is Verdict.not_asked for r in followups)
    for original in (r for r in results if r.parent is None):
        assert original.response is not None and 0 < original.completion_tokens <= 8
        assert original.prompt_tokens > 0 and original.gold and original.answer_kind


def test_a_rerun_adds_nothing_and_a_run_killed_mid_line_is_completed(release, models, tmp_path):
    out = tmp_path / "results.jsonl"
    args = ("eval", "run", "--release", release, "--model", REPO, "--revision", "step0", "--cache-dir",
            models["cache"], "--backend", "hf", "--max-new-tokens", 6, "--batch-size", 4, "--out", out)
    assert invoke(*args).exit_code == 0
    whole = out.read_bytes()
    again = invoke(*args)
    assert again.exit_code == 0 and "appended 0 results" in again.output
    assert out.read_bytes() == whole
    lines = whole.decode().splitlines(keepends=True)
    out.write_text("".join(lines[:5]) + lines[5][: len(lines[5]) // 2])  # killed while writing line 6
    assert invoke(*args).exit_code == 0
    ids = [r.id for r in results_of(out)]
    assert sorted(ids) == sorted(p["id"] for p in problems_of(release))
    assert len(ids) == len(set(ids))


def test_other_settings_are_another_run_and_limits_and_splits_choose_the_problems(release, models, tmp_path):
    out = tmp_path / "results.jsonl"
    base = ("eval", "run", "--release", release, "--model", REPO, "--revision", "step0", "--cache-dir",
            models["cache"], "--backend", "hf", "--out", out, "--split", "test", "--limit-per-standard", 1)
    assert invoke(*base, "--max-new-tokens", 4).exit_code == 0
    assert invoke(*base, "--max-new-tokens", 5).exit_code == 0
    results = results_of(out)
    first = {p["standard"]: p["id"] for p in reversed(problems_of(release, "test")) if p["parent"] is None}
    originals = [r for r in results if r.parent is None]
    assert len(first) >= 2, "the test split has originals of several standards"
    assert sorted(r.id for r in originals) == sorted(list(first.values()) * 2)
    assert len({r.settings for r in results}) == 2


def test_a_chat_template_is_used_when_the_tokenizer_has_one(models):
    from mathcamps.evaluation.backends import ModelSource, open_backend

    backend = open_backend("hf", ModelSource(str(models["chat"])))
    assert backend.prompt_format.startswith("chat:")
    ids = backend.prompts.ids(OneShot().dialogue("How many?"))
    text = backend.tokenizer.decode(ids)
    assert text.startswith("<|system|>\n") and text.endswith("How many?\n<|assistant|>\n")
    [generation] = backend.generate([OneShot().dialogue("How many?")], 3)
    assert generation.completion_tokens <= 3
    plain = open_backend("hf", ModelSource(str(models["chat"])), prompt_mode="completion")
    assert plain.prompt_format == "completion"


def test_a_sweep_runs_each_revision_in_its_own_process_into_one_file_and_reports_a_failing_one(
    release, models, tmp_path, monkeypatch
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the missing revision must not be looked for online
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "sweep.jsonl"
    result = invoke("eval", "sweep", "--release", release, "--model", REPO, "--cache-dir", models["cache"],
                    "--revisions", "step0,step9,step1000,step2000", "--backend", "hf", "--max-new-tokens", 4,
                    "--limit-per-standard", 1, "--split", "train", "--out", out)
    assert result.exit_code == 1
    assert "step9" in result.output and "1 of 4 revisions failed" in " ".join(result.output.split())
    results = results_of(out)
    by_revision: dict[str, list[Result]] = {}
    for r in results:
        by_revision.setdefault(r.revision, []).append(r)
    assert sorted(by_revision) == sorted(REVISIONS)
    ids = {revision: [r.id for r in rs] for revision, rs in by_revision.items()}
    assert ids["step0"] == ids["step1000"] == ids["step2000"] and len(set(ids["step0"])) == len(ids["step0"])
    responses = {revision: tuple(r.response for r in rs if r.parent is None) for revision, rs in by_revision.items()}
    assert len(set(responses.values())) == 3, "each revision is its own set of weights"


# ---------------------------------------------------------------- an OpenAI-compatible server


class GoldServer:
    """A small OpenAI-compatible server on 127.0.0.1 that answers every problem with its gold answer and
    records each request body."""

    def __init__(self, problems: list[dict]):
        self.gold = {p["statement"]: p for p in problems}
        self.requests: list[tuple[str, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._reply(200, {"object": "list", "data": [{"id": "served", "object": "model"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, body))
                if self.path == "/v1/chat/completions":
                    asked = body["messages"][-1]["content"]
                    text = server.answer(asked)
                    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                elif self.path == "/v1/completions":
                    asked = body["prompt"].rsplit("|user| ", 1)[1].split(f"\n{DELIMITER}\n", 1)[0]
                    choice = {"index": 0, "text": " " + server.answer(asked) + f"\n{DELIMITER}", "finish_reason": "stop"}
                else:
                    self._reply(404, {"error": "no such path"})
                    return
                self._reply(200, {"choices": [choice], "usage": {"prompt_tokens": 100, "completion_tokens": 12}})

            def _reply(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, statement: str) -> str:
        problem = self.gold[statement]
        return f"Reasoning: worked out for {problem['id']}.\n### Answer: {problem['answer']}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(release):
    gold = GoldServer(problems_of(release))
    yield gold
    gold.close()


def test_openai_chat_asks_followups_after_a_correct_original_with_the_models_own_response(release, server, tmp_path):
    out = tmp_path / "results.jsonl"
    result = invoke("eval", "run", "--release", release, "--model", "served", "--backend", "openai",
                    "--base-url", server.url, "--max-new-tokens", 64, "--out", out)
    assert result.exit_code == 0, result.output
    results = results_of(out)
    assert [r.id for r in results] == [p["id"] for p in problems_of(release)]
    assert all(r.verdict is Verdict.correct for r in results), [(r.id, r.gold, r.extracted) for r in results]
    assert all(r.prompt_tokens == 100 and r.completion_tokens == 12 for r in results)
    bodies = [body for path, body in server.requests]
    assert {path for path, _ in server.requests} == {"/v1/chat/completions"}
    assert all(b["model"] == "served" and b["temperature"] == 0 and b["max_tokens"] == 64 for b in bodies)
    prefix = OneShot().messages()
    statements = {p["id"]: p["statement"] for p in problems_of(release)}
    for r in results:
        [body] = [b for b in bodies if b["messages"][-1]["content"] == statements[r.id]]
        if r.parent is None:
            assert body["messages"] == prefix + [{"role": "user", "content": statements[r.id]}]
        else:
            assert body["messages"] == prefix + [
                {"role": "user", "content": statements[r.parent]},
                {"role": "assistant", "content": server.answer(statements[r.parent])},
                {"role": "user", "content": statements[r.id]},
            ]


def test_openai_completions_send_the_plain_prompt_and_stop_at_the_delimiter(release, server, tmp_path):
    out = tmp_path / "results.jsonl"
    result = invoke("eval", "run", "--release", release, "--model", "served", "--backend", "openai",
                    "--base-url", server.url, "--prompt-format", "completion", "--max-new-tokens", 32,
                    "--split", "test", "--out", out)
    assert result.exit_code == 0, result.output
    results = results_of(out)
    assert all(r.verdict is Verdict.correct for r in results)
    assert all(DELIMITER not in r.response for r in results)
    statements = {p["id"]: p["statement"] for p in problems_of(release)}
    for path, body in server.requests:
        assert path == "/v1/completions" and body["stop"] == [DELIMITER] and body["temperature"] == 0
        assert body["prompt"].startswith("|system| ") and body["prompt"].endswith("\n@@@\n|assistant|")
    followup = next(r for r in results if r.parent is not None)
    [body] = [b for _, b in server.requests if f"|user| {statements[followup.id]}\n" in b["prompt"]]
    assert body["prompt"].endswith(completion_text(OneShot().dialogue(
        statements[followup.id], ((statements[followup.parent], server.answer(statements[followup.parent])),)
    )))


# ---------------------------------------------------------------- user mistakes, imports, prompts


def test_user_mistakes_are_one_paragraph_errors(release, tmp_path):
    out = tmp_path / "r.jsonl"
    cases = [
        (("--release", tmp_path / "missing", "--model", "x"), "does not exist"),
        (("--release", release, "--model", tmp_path / "no" / "model"), "no model folder"),
        (("--release", release, "--model", "x", "--backend", "tpu"), "unknown backend"),
        (("--release", release, "--model", "x", "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1"),
         "cannot reach"),
        (("--release", release, "--model", "x", "--split", "dev"), "unknown split"),
    ]
    for args, message in cases:
        result = invoke("eval", "run", *args, "--out", out)
        assert result.exit_code == 1 and message in " ".join(result.output.split()), (args, result.output)
    assert not out.exists()


def test_the_vllm_backend_says_what_is_missing():
    import importlib.util

    from mathcamps.evaluation.backends import BackendError, ModelSource, open_backend, resolve_backend

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    assert resolve_backend("auto") == "hf"
    with pytest.raises(BackendError, match="vllm package"):
        open_backend("vllm", ModelSource("x"))


def test_the_gpu_benchmark_says_clearly_that_it_needs_vllm_and_a_gpu(tmp_path):
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    script = Path(__file__).parent.parent / "benchmarks" / "eval_gpu.sh"
    done = subprocess.run(["bash", str(script), str(tmp_path / "out")], capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable})
    assert done.returncode != 0 and "vLLM is not installed" in done.stderr
    assert not (tmp_path / "out").exists()


def test_importing_the_command_imports_no_model_library():
    code = (
        "import sys, mathcamps.cli.main, mathcamps.cli.eval_run, mathcamps.evaluation.run;"
        "heavy = {'torch', 'transformers', 'vllm'} & set(sys.modules); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_response_ends_at_its_answer_line_or_at_the_delimiter():
    assert not response_ended("Reasoning: 3 + 4 = 7.\n### Answer: 7")  # the line may go on: 7/2
    assert response_ended("Reasoning: 3 + 4 = 7.\n### Answer: 7\n")
    assert not response_ended("### Answer:\n")
    assert response_ended("7 apples\n@@@")
    assert trim_response(" Reasoning: yes.\n### Answer: 7\n|user| more\n@@@\n") == "Reasoning: yes.\n### Answer: 7"
    assert trim_response("It is 7.\n@@@\n|user| next") == "It is 7."


def test_a_prompt_file_replaces_the_one_shot_prefix(tmp_path):
    path = tmp_path / "prompt.json"
    path.write_text(json.dumps([{"role": "system", "content": "Answer."}]))
    assert OneShot.from_file(path).dialogue("Q?") == [{"role": "system", "content": "Answer."},
                                                       {"role": "user", "content": "Q?"}]
    path.write_text(json.dumps({"role": "system"}))
    from mathcamps.evaluation.prompts import PromptError

    with pytest.raises(PromptError, match="JSON list of messages"):
        OneShot.from_file(path)


def test_the_tiny_model_entry_point_builds_a_loadable_model(release, tmp_path):
    from mathcamps.evaluation import tiny
    from mathcamps.evaluation.backends import ModelSource, open_backend

    assert tiny.main([str(tmp_path / "m"), "--release", str(release), "--chat"]) == 0
    backend = open_backend("hf", ModelSource(str(tmp_path / "m")))
    assert backend.prompt_format.startswith("chat:")
    assert len(backend.tokenizer) == backend._loaded().config.vocab_size
