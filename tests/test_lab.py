"""The lab: a model trained here from scratch on a release's stream, its checkpoints loaded back as
hub revisions and swept, resumed runs equal to unbroken ones, and a skill learnt above chance."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from mathcamps.cli.main import app
from mathcamps.compiler.export import export_release
from mathcamps.compiler.release import build_release

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from mathcamps.evaluation.train import Settings, TrainingError, train  # noqa: E402

runner = CliRunner()
# A model small enough to train for a few steps in a second: two layers of width 32.
MICRO = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


@pytest.fixture(scope="module")
def release(tmp_path_factory, registry):
    out = tmp_path_factory.mktemp("lab")
    return build_release(registry.select(["K.CC.C.7", "K.NBT.A.1"]), out, "lab", "0.1.0", 12, 3).path


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "micro.json"
    path.write_text(json.dumps(MICRO))
    return path


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_a_model_trained_for_a_few_steps_loads_back_by_revision_and_is_swept(release, config, tmp_path):
    out = tmp_path / "run"
    done = runner.invoke(app, ["lab", "train", "--release", str(release), "--order", "random", "--out", str(out),
                               "--model", str(config), "--tokens", str(6 * 32 * 4), "--checkpoints", "2",
                               "--context", "32", "--batch", "4", "--name", "test/micro"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    lab = json.loads((out / "lab.json").read_text())
    assert lab["revisions"] == ["step0", "step6"] and lab["tokens_per_step"] == 128
    stream = json.loads((out / "stream" / "stream.json").read_text())
    assert stream["order"] == "random" and stream["release"]["name"] == "lab"
    from transformers import AutoModelForCausalLM, AutoTokenizer

    first, last = (AutoModelForCausalLM.from_pretrained("test/micro", revision=r, cache_dir=out / "hub",
                                                        local_files_only=True) for r in lab["revisions"])
    assert not torch.equal(_weights(first), _weights(last))
    tokenizer = AutoTokenizer.from_pretrained("test/micro", revision="step6", cache_dir=out / "hub",
                                              local_files_only=True)
    assert tokenizer.tokenize("1234") == ["1", "2", "3", "4"]  # a digit is a token
    results = tmp_path / "results.jsonl"
    swept = runner.invoke(app, ["eval", "sweep", "--release", str(release), "--model", "test/micro", "--cache-dir",
                                str(out / "hub"), "--revisions", "step0,step6", "--backend", "hf", "--split", "test",
                                "--max-new-tokens", "6", "--out", str(results)],
                          env={"COLUMNS": "200", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert swept.exit_code == 0, swept.output
    revisions = {json.loads(line)["revision"] for line in results.read_text().splitlines()}
    assert revisions == {"step0", "step6"}


def test_a_run_stopped_after_a_checkpoint_resumes_to_the_same_weights(release, config, tmp_path):
    stream = tmp_path / "stream"
    export_release(release, "train", stream, order="curriculum")
    settings = Settings(model="config", tokens=8 * 32 * 4, checkpoints=3, context=32, batch=4, seed=1)
    whole = train(stream / "stream.jsonl", tmp_path / "whole", "test/whole", settings, config_file=config)

    def stop(progress) -> None:
        if progress.step == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(stream / "stream.jsonl", tmp_path / "broken", "test/whole", settings, config_file=config,
              on_progress=stop)
    with pytest.raises(TrainingError, match="holds a run already"):
        train(stream / "stream.jsonl", tmp_path / "broken", "test/whole", settings, config_file=config)
    resumed = train(stream / "stream.jsonl", tmp_path / "broken", "test/whole", settings, config_file=config,
                    resume=True)
    assert resumed.losses == whole.losses
    from transformers import AutoModelForCausalLM

    a, b = (AutoModelForCausalLM.from_pretrained("test/whole", revision="step8", cache_dir=folder / "hub",
                                                 local_files_only=True) for folder in (tmp_path / "whole",
                                                                                       tmp_path / "broken"))
    assert torch.equal(_weights(a), _weights(b))
    other = Settings(model="config", tokens=8 * 32 * 4, checkpoints=3, context=32, batch=4, seed=2)
    with pytest.raises(TrainingError, match="other settings"):
        train(stream / "stream.jsonl", tmp_path / "broken", "test/whole", other, config_file=config, resume=True)


def test_a_stream_that_is_missing_or_not_a_stream_is_said_in_one_paragraph(tmp_path):
    with pytest.raises(TrainingError, match="no train stream"):
        train(tmp_path / "none.jsonl", tmp_path / "out", "x/y", Settings())
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\nnot json\n')
    with pytest.raises(TrainingError, match=r"bad.jsonl:2: not a stream line"):
        train(bad, tmp_path / "out", "x/y", Settings())
    assert os.path.exists(tmp_path / "out") is False


def test_lab_run_trains_each_order_sweeps_its_checkpoints_and_compares_when_skills_emerged(release, config, tmp_path):
    out = tmp_path / "lab"
    done = runner.invoke(app, ["lab", "run", "--release", str(release), "--out", str(out), "--orders",
                               "curriculum,reverse", "--model", str(config), "--tokens", str(2 * 256 * 16),
                               "--checkpoints", "2", "--max-new-tokens", "4", "--permutations", "100"],
                         env={"COLUMNS": "200", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert done.exit_code == 0, done.output
    assert "emergence per order" in done.output and "lab/curriculum" in done.output and "lab/reverse" in done.output
    runs = {(json.loads(line)["model"], json.loads(line)["revision"]) for line in (out / "results.jsonl").open()}
    assert runs == {(f"lab/{o}", r) for o in ("curriculum", "reverse") for r in ("step0", "step2")}
    dynamics = json.loads((out / "dynamics.json").read_text())
    assert [m["model"] for m in dynamics["models"]] == ["lab/curriculum", "lab/reverse"]
    assert (out / "orders.png").read_bytes().startswith(b"\x89PNG")
    assert json.loads((out / "curriculum" / "stream" / "stream.json").read_text())["order"] == "curriculum"


def test_a_short_seeded_run_learns_a_kindergarten_skill_far_above_chance(registry, tmp_path):
    """K.NBT.A.1 (ten ones and some more ones: 11 to 19, so chance is 1 in 9): a tiny model trained
    here for 400K tokens answers most of the held-out problems."""
    release = build_release(registry.select(["K.NBT.A.1"]), tmp_path / "r", "teen", "0.1.0", 300, 2).path
    stream = tmp_path / "stream"
    export_release(release, "train", stream, order="random", seed=1)
    settings = Settings(model="tiny", tokens=390 * 128 * 8, checkpoints=2, context=128, batch=8, seed=0)
    trained = train(stream / "stream.jsonl", tmp_path / "run", "test/teen", settings)
    (tmp_path / "prompt.json").write_text("[]")
    results = tmp_path / "results.jsonl"
    for revision in trained.revisions:
        done = runner.invoke(app, ["eval", "run", "--release", str(release), "--model", "test/teen", "--revision",
                                   revision, "--cache-dir", str(trained.cache_dir), "--backend", "hf", "--split",
                                   "test", "--max-new-tokens", "8", "--prompt", str(tmp_path / "prompt.json"),
                                   "--out", str(results)], env={"COLUMNS": "200", "HF_HUB_OFFLINE": "1"})
        assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    accuracy = {}
    for revision in trained.revisions:
        asked = [r for r in lines if r["revision"] == revision and r["kind"] == "original"]
        accuracy[revision] = sum(r["verdict"] == "correct" for r in asked) / len(asked)
    assert accuracy["step0"] < 1 / 9 and accuracy["step390"] > 0.5, accuracy
