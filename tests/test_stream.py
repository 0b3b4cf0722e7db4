"""The train stream: a release's train split as dialogues, in a declared order, the same bytes every time."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from mathcamps.cli.main import app
from mathcamps.compiler.export import export_release
from mathcamps.compiler.release import ReleaseError, build_release
from mathcamps.compiler.stream import ORDERS

runner = CliRunner()
STANDARDS = ["2.NBT.B.5", "K.CC.C.7", "1.OA.A.1", "K.OA.A.4", "1.OA.A.2"]


@pytest.fixture(scope="module")
def release(tmp_path_factory, registry):
    out = tmp_path_factory.mktemp("stream")
    return build_release(registry.select(STANDARDS), out, "lab", "0.1.0", 8, 5, test_fraction=0.25).path


def _stream(release, order, tmp_path, seed=0, name=None):
    out = tmp_path / (name or f"{order}-{seed}")
    export_release(release, "train", out, order=order, seed=seed)
    lines = (out / "stream.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines], json.loads((out / "stream.json").read_text()), out


def _train(release):
    lines = (release / "data" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _blocks(order_of):
    return [s for i, s in enumerate(order_of) if i == 0 or order_of[i - 1] != s]


def test_every_order_holds_every_dialogue_of_the_train_split_once_with_its_answers(release, tmp_path):
    train = _train(release)
    by_id = {r["id"]: r for r in train}
    for order in ORDERS:
        documents, described, _ = _stream(release, order, tmp_path)
        assert sorted(i for d in documents for i in d["ids"]) == sorted(by_id)
        assert described["order"] == order and described["documents"] == len(documents)
        assert described["release"]["name"] == "lab" and len(described["release"]["sha256"]) == 64
        for d in documents:
            turns = re.findall(r"\|user\| (.*?)\n@@@\n\|assistant\| ### Answer: (.*?)\n@@@\n", d["text"], re.S)
            assert "".join(f"|user| {q}\n@@@\n|assistant| ### Answer: {a}\n@@@\n" for q, a in turns) == d["text"]
            assert [(by_id[i]["statement"], by_id[i]["answer"]) for i in d["ids"]] == turns
            assert by_id[d["ids"][0]]["parent"] is None and all(by_id[i]["parent"] == d["ids"][0] for i in d["ids"][1:])


def test_curriculum_goes_grade_by_grade_after_prerequisites_and_reverse_goes_back(release, tmp_path, registry):
    curriculum, _, _ = _stream(release, "curriculum", tmp_path)
    standards = [d["standard"] for d in curriculum]
    blocks = _blocks(standards)
    assert len(blocks) == len(set(blocks)) == len(STANDARDS)  # each standard's documents together
    grades = [0 if registry.get(s).grade == "K" else int(registry.get(s).grade) for s in blocks]
    assert grades == sorted(grades)
    for i, standard in enumerate(blocks):
        assert set(registry.get(standard).definition.prerequisites) & set(STANDARDS) <= set(blocks[:i])
    reverse, described, _ = _stream(release, "reverse", tmp_path)
    assert _blocks([d["standard"] for d in reverse]) == blocks[::-1]
    assert [s["id"] for s in described["standards"]] == blocks[::-1]
    for standard in blocks:  # within a standard, the release's order in both
        assert [d["ids"] for d in curriculum if d["standard"] == standard] == [
            d["ids"] for d in reverse if d["standard"] == standard
        ]


def test_interleaved_takes_the_standards_in_turn(release, tmp_path):
    curriculum, _, _ = _stream(release, "curriculum", tmp_path)
    interleaved, _, _ = _stream(release, "interleaved", tmp_path)
    blocks = _blocks([d["standard"] for d in curriculum])
    assert [d["standard"] for d in interleaved[: len(blocks)]] == blocks
    assert [d["standard"] for d in interleaved[len(blocks) : 2 * len(blocks)]] == blocks


def test_random_is_a_seeded_shuffle_and_every_order_gives_the_same_bytes_again(release, tmp_path):
    curriculum, _, _ = _stream(release, "curriculum", tmp_path)
    first, described, out = _stream(release, "random", tmp_path, seed=3)
    again, _, out_again = _stream(release, "random", tmp_path, seed=3, name="again")
    other, _, _ = _stream(release, "random", tmp_path, seed=4)
    assert described["seed"] == 3
    assert first == again and (out / "stream.jsonl").read_bytes() == (out_again / "stream.jsonl").read_bytes()
    assert sorted(d["ids"] for d in first) == sorted(d["ids"] for d in curriculum)
    assert [d["ids"] for d in first] != [d["ids"] for d in curriculum] and first != other


def test_the_train_format_needs_an_order_and_no_other_format_takes_one(release, tmp_path):
    with pytest.raises(ReleaseError, match="needs one"):
        export_release(release, "train", tmp_path / "a")
    with pytest.raises(ReleaseError, match="only it takes one"):
        export_release(release, "hf", tmp_path / "b", order="random")
    done = runner.invoke(app, ["export", str(release), "--format", "train", "--order", "sideways"])
    assert done.exit_code == 1 and "one of curriculum, reverse, interleaved, random" in done.output
    done = runner.invoke(app, ["export", str(release), "--format", "train", "--order", "interleaved",
                               "--out", str(tmp_path / "cli")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "cli" / "stream.jsonl").is_file() and (tmp_path / "cli" / "manifest.json").is_file()
