"""Releases: byte-identical for any number of workers, split by hash, deduplicated, self-describing,
immutable and atomic; verified against their manifest; compared."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mathcamps.cli.main import app
from mathcamps.compiler.release import (
    MANIFEST_FILE,
    ReleaseError,
    build_release,
    diff_releases,
    read_manifest,
    split_of,
    verify_release,
)
from mathcamps.files import OutputExists
from mathcamps.records import Problem
from mathcamps.registry import Registry, default_registry, standards_dir
from mathcamps.language import grammar_dir

runner = CliRunner()
SEED = 11
FEW = ["K.CC.C.7", "1.OA.A.1", "4.NBT.B.6", "8.EE.C.8"]


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _records(folder: Path, split: str) -> list[Problem]:
    lines = (folder / "data" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [Problem.model_validate_json(line) for line in lines]


_BUILT: dict[str, Path] = {}


def release_of_every_standard(tmp_path_factory) -> Path:
    """A release of every built-in standard, 3 originals each, built once a session in this process
    (the export tests read it too: compiling every standard costs seconds even for few problems)."""
    if "every" not in _BUILT:
        out = tmp_path_factory.mktemp("every-standard")
        _BUILT["every"] = build_release(list(default_registry()), out, "mathcamps", "1.0.0", 3, SEED).path
    return _BUILT["every"]


@pytest.fixture(scope="module")
def every_standard(tmp_path_factory):
    return release_of_every_standard(tmp_path_factory)


@pytest.fixture(scope="module")
def few(tmp_path_factory, registry):
    out = tmp_path_factory.mktemp("few")
    return build_release(registry.select(FEW), out, "few", "0.1.0", 25, SEED).path


def test_builds_of_every_standard_with_1_and_4_workers_have_the_same_sha256_for_every_file(
    every_standard, registry, tmp_path
):
    four = build_release(list(registry), tmp_path, "mathcamps", "1.0.0", 3, SEED, workers=4).path
    one = _hashes(every_standard)
    assert set(one) == {"manifest.json", "README.md", "data/train.jsonl", "data/test.jsonl"}
    assert _hashes(four) == one
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no shard or temporary folder left


def test_a_build_in_another_process_gives_the_same_bytes(few, tmp_path):
    """Nothing depends on the process (hash randomization, memory addresses)."""
    code = "from mathcamps.cli.main import app; app()"
    args = ["release", "build", "--name", "few", "--version", "0.1.0", "--per-standard", "25", "--seed", str(SEED),
            "--out", str(tmp_path)] + [a for s in FEW for a in ("--standard", s)]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONHASHSEED": "random", "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert _hashes(tmp_path / "few-0.1.0") == _hashes(few)


def test_the_manifest_says_what_made_the_release_and_what_it_holds(every_standard, registry):
    manifest = read_manifest(every_standard)
    assert manifest.seed == SEED and manifest.per_standard == 3 and manifest.name == "mathcamps"
    assert {"lark", "sympy", "z3-solver", "pydantic"} <= set(manifest.libraries)
    assert [s.id for s in manifest.standards] == registry.ids()
    for entry in manifest.standards:
        standard = registry.get(entry.id)
        assert entry.grammar_sha256 == standard.grammar_sha256
        assert entry.definition_sha256 == standard.definition_sha256
        assert entry.grade == standard.grade and entry.text == standard.definition.text
    for split in ("train", "test"):
        records = _records(every_standard, split)
        entry = manifest.files[f"data/{split}.jsonl"]
        data = (every_standard / "data" / f"{split}.jsonl").read_bytes()
        assert entry.records == len(records) and entry.bytes == len(data)
        assert entry.sha256 == hashlib.sha256(data).hexdigest()
        for standard in manifest.standards:
            for kind, count in standard.counts[split].items():
                assert count == sum(1 for r in records if r.standard == standard.id and r.kind.value == kind)
    assert manifest.records == sum(f.records for f in manifest.files.values() if f.records is not None)
    # Nothing from the clock or the machine: no paths, no time stamps.
    text = (every_standard / MANIFEST_FILE).read_text()
    assert str(every_standard.parent) not in text and os.sep + "tmp" not in text
    assert not any(word in json.loads(text) for word in ("created", "date", "time", "host", "build"))


def test_splits_are_by_the_hash_of_the_original_program_and_follow_ups_sit_after_their_original(few):
    manifest = read_manifest(few)
    programs = []
    for split in ("train", "test"):
        records = _records(few, split)
        assert records, f"the {split} split is empty"
        original = None
        for record in records:
            if record.parent is None:
                original = record
                programs.append((record.program, record.statement))
                assert split_of(record.program, manifest.test_fraction) == split
            else:
                assert original is not None and record.parent == original.id  # right after its original
    assert len(programs) == len(set(programs))  # no problem twice, within or across splits


def test_split_of_is_a_stable_sha256_bucket():
    program = "let a = 6 * 8\nask a"
    bucket = int.from_bytes(hashlib.sha256(program.encode()).digest()[:8], "big") / 2**64
    assert split_of(program, bucket + 1e-9) == "test" and split_of(program, bucket - 1e-9) == "train"
    assert split_of(program, 0.0) == "train" and split_of(program, 1.0) == "test"


TWICE_TOLD = """\
// One sum, told in many words: the two standards below share it.
start: total _NL ask
total: "let" NAME "=" sum -> let
sum: num "+" num -> add
ask: "ask" NAME
followup: total _NL then _NL ask
then: "let" NAME "=" more -> let
more: var "+" num -> add
%import .core (num, var, NAME, NUMBER, _NL)
%ignore " "
"""


def _twice_told(folder: Path, variant: str) -> None:
    (folder / f"1.OA.C.6-{variant}.yaml").write_text(
        f"id: 1.OA.C.6\nvariant: {variant}\ngrade: '1'\ndomain: OA\ncluster: Add within 20.\n"
        "text: Add within 20.\ngrammar: sum.lark\nnumbers: {min: 2, max: 2}\nvalues: {min: 0, max: 20}\n"
        "unique: statement\nfollowups: [incremental]\nanswer: {kind: integer}\n"
        "render: {frames: counting, themes: [fruit]}\n"
    )


def test_an_original_already_in_the_release_is_dropped_with_its_follow_ups_and_counted(tmp_path):
    # Two standards whose only program is 2 + 2, told in a few words: the second repeats some of
    # the first's problems (same program, same statement), which the release keeps once.
    folder = tmp_path / "skills"
    folder.mkdir()
    (folder / "sum.lark").write_text(TWICE_TOLD)
    _twice_told(folder, "a")
    _twice_told(folder, "b")
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "counting.yaml").write_text(
        'unit: "{{ nouns }}"\nneeds: things\nframes:\n  - id: two-bags\n    shape: "let a = N + N\\nask a"\n'
        '    story: "{{ name }} has {{ n1 }} {{ nouns }} in a red bag and {{ n2 }} in a blue bag."\n'
        '    question: "How many {{ nouns }} does {{ name }} have?"\n'
        'steps:\n  - id: finds-more\n    step: "A + N"\n    story: "Then {{ name }} finds {{ n }} more."\n'
        '    question: "How many {{ nouns }} does {{ name }} have now?"\n'
    )
    (templates / "vocabulary.yaml").write_text(
        "people:\n  - {name: Ava, pronoun: she}\n  - {name: Liam, pronoun: he}\n"
        "refuse: [two]\nthemes:\n  fruit: {kind: things, noun: plum}\n"
    )
    registry = Registry.load(folder)
    release = build_release(list(registry), tmp_path, "twice", "0.1.0", 2, SEED, templates=templates).path
    first, second = read_manifest(release).standards
    # Each standard tells 2 + 2 in the only two ways it can (Ava's, Liam's): the second, the same two.
    assert first.duplicates["original"] == 0 and second.duplicates["original"] == 2
    assert second.duplicates["incremental"] == second.compiled["incremental"] == 2  # gone with them
    for entry in (first, second):
        kept = sum(entry.counts[split]["original"] for split in ("train", "test"))
        assert kept + entry.duplicates["original"] == entry.compiled["original"] == 2
    told = [(r.program, r.statement) for split in ("train", "test") for r in _records(release, split) if r.parent is None]
    assert len(told) == len(set(told)) == 2
    verification = verify_release(release, registry=registry)  # against the standards it was built of
    assert verification.ok, verification.problems


def test_verify_passes_on_a_fresh_release_and_names_the_file_when_one_byte_changes(few, tmp_path):
    report = verify_release(few)
    assert report.ok, report.problems
    assert sum(report.validation.total().values()) == read_manifest(few).records
    broken = tmp_path / few.name
    shutil.copytree(few, broken)
    data = bytearray((broken / "data" / "test.jsonl").read_bytes())
    position = data.index(b'"answer":"') + len(b'"answer":"')
    data[position] = ord("9") if data[position] != ord("9") else ord("8")  # one digit of an answer
    (broken / "data" / "test.jsonl").write_bytes(bytes(data))
    report = verify_release(broken)
    assert not report.ok
    assert any(p.startswith("data/test.jsonl: sha256") for p in report.problems)
    assert not any(p.startswith("data/train.jsonl") for p in report.problems)
    assert any("do not agree" in p for p in report.problems)  # the validator finds the wrong answer too
    result = runner.invoke(app, ["release", "verify", str(broken)], env={"COLUMNS": "250"})
    assert result.exit_code == 1 and "data/test.jsonl: sha256" in result.output
    result = runner.invoke(app, ["release", "verify", str(few)], env={"COLUMNS": "250"})
    assert result.exit_code == 0 and "verifies" in result.output


def test_verify_finds_missing_unlisted_and_miscounted_files(few, tmp_path):
    broken = tmp_path / few.name
    shutil.copytree(few, broken)
    (broken / "notes.txt").write_text("hello")
    manifest = json.loads((broken / MANIFEST_FILE).read_text())
    manifest["standards"][0]["counts"]["train"]["original"] += 1
    (broken / MANIFEST_FILE).write_text(json.dumps(manifest))
    report = verify_release(broken, validate=False)
    assert "notes.txt: not listed in manifest.json" in report.problems
    assert any(p.startswith("data/train.jsonl: K.CC.C.7 has") for p in report.problems)
    (broken / MANIFEST_FILE).unlink()
    with pytest.raises(ReleaseError, match="manifest"):
        verify_release(broken)


def test_a_release_is_never_overwritten_without_force_and_force_replaces_it_whole(few, registry, tmp_path):
    out = tmp_path / "releases"
    chosen = registry.select(["2.OA.A.1"])
    first = build_release(chosen, out, "r", "1.0.0", 4, 1).path
    before = _hashes(first)
    with pytest.raises(OutputExists, match="already exists"):
        build_release(chosen, out, "r", "1.0.0", 4, 2)
    assert _hashes(first) == before
    result = runner.invoke(app, ["release", "build", "--name", "r", "--version", "1.0.0", "--per-standard", "4",
                                 "--standard", "2.OA.A.1", "--out", str(out)])
    assert result.exit_code == 1 and "already exists" in result.output and "Traceback" not in result.output
    build_release(chosen, out, "r", "1.0.0", 4, 2, force=True)
    assert _hashes(first) != before and read_manifest(first).seed == 2
    assert sorted(p.name for p in out.iterdir()) == ["r-1.0.0"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--name", "x", "--version", "1.0"], "X.Y.Z"),
        (["--name", "../x", "--version", "1.0.0"], "--name"),
        (["--name", "x", "--version", "1.0.0", "--standard", "9.ZZ.Z.9"], "unknown standard"),
    ],
)
def test_build_mistakes_are_one_paragraph_errors(tmp_path, args, message):
    result = runner.invoke(app, ["release", "build", *args, "--per-standard", "1", "--out", str(tmp_path)])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert not list(tmp_path.iterdir())


def test_a_killed_build_leaves_no_release_and_the_next_build_cleans_up(registry, tmp_path):
    out = tmp_path / "releases"
    code = "from mathcamps.cli.main import app; app()"
    args = ["release", "build", "--name", "k", "--version", "1.0.0", "--per-standard", "2000",
            "--standard", "1.OA.A.1", "--out", str(out)]
    build = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = None
    try:
        deadline = time.monotonic() + 60
        while partial is None and time.monotonic() < deadline and build.poll() is None:
            found = list(out.glob(".k-1.0.0.partial-*/data/train.jsonl")) if out.is_dir() else []
            if found and found[0].stat().st_size > 0:  # mid-way: problems are being written
                partial = found[0].parent.parent
            time.sleep(0.02)
    finally:
        build.send_signal(signal.SIGKILL)
        build.wait()
    assert partial is not None, "the build never got under way"
    assert not (out / "k-1.0.0").exists()
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == []  # nothing looks like a release
    build_release(registry.select(["1.OA.A.1"]), out, "k", "1.0.0", 3, 0)
    assert sorted(p.name for p in out.iterdir()) == ["k-1.0.0"]  # the stale folder is gone
    assert verify_release(out / "k-1.0.0").ok


def test_diff_names_standards_added_removed_and_changed_with_counts(registry, tmp_path):
    folder = tmp_path / "standards"
    shutil.copytree(standards_dir(), folder)
    mine = Registry.load(folder, grammar_dir())
    a = build_release(mine.select(["1.OA.A.1", "2.OA.A.1"]), tmp_path, "d", "1.0.0", 4, 3).path
    with (folder / "2.OA.A.1.yaml").open("a") as definition:
        definition.write("# a comment changes the definition's bytes\n")
    mine = Registry.load(folder, grammar_dir())
    b = build_release(mine.select(["2.OA.A.1", "K.CC.C.7"]), tmp_path, "d", "1.1.0", 6, 3).path
    diff = diff_releases(a, b)
    status = {c.id: c for c in diff.standards}
    assert status["1.OA.A.1"].status == "removed" and status["1.OA.A.1"].after is None
    assert status["K.CC.C.7"].status == "added" and status["K.CC.C.7"].before is None
    assert status["2.OA.A.1"].status == "changed" and status["2.OA.A.1"].changed == ("definition",)
    assert status["2.OA.A.1"].before < status["2.OA.A.1"].after
    assert ("per_standard", "4", "6") in diff.settings
    result = runner.invoke(app, ["release", "diff", str(a), str(b)], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "removed" in result.output and "added" in result.output and "definition" in result.output


def test_no_two_follow_ups_of_a_release_or_a_compile_say_the_same_words(registry, tmp_path):
    """Standards that share a frames family can ask the same short step after different parents
    ("That amount is paid in 6 equal monthly payments."): the release and the compiled file keep the
    first and count the rest as duplicates."""
    from collections import Counter

    from mathcamps.compiler.emit import compile_standards
    from mathcamps.compiler.pipeline import StandardCompiler

    standards = registry.select(["4.MD.A.2-decimal", "5.NBT.B.7", "6.NS.B.3", "7.NS.A.3-decimal"])
    made = Counter(p.statement for s in standards for p in StandardCompiler(s, 7).problems(25) if p.parent)
    repeated = sum(n - 1 for n in made.values() if n > 1)
    assert repeated >= 1  # the compilers alone, each on its own, do repeat one another

    release = build_release(standards, tmp_path / "r", "shared", "0.1.0", 25, 7, test_fraction=0.2).path
    records = _records(release, "train") + _records(release, "test")
    followups = Counter(p.statement for p in records if p.parent)
    assert max(followups.values()) == 1
    manifest = read_manifest(release)
    assert sum(e.duplicates["counterfactual"] + e.duplicates["incremental"] for e in manifest.standards) >= repeated

    stats = compile_standards(standards, tmp_path / "c", 25, 7)
    lines = [json.loads(line) for line in (tmp_path / "c" / "problems.jsonl").read_text().splitlines()]
    compiled = Counter(r["statement"] for r in lines if r["parent"])
    assert max(compiled.values()) == 1
    assert sum(sum(s.followups.values()) for s in stats) == sum(compiled.values())
