"""Exports: a release rewritten for the tools that read other layouts: MathCAMPS v1's JSON, the Hugging Face
`datasets` library, and lm-evaluation-harness.

- `mathcamps-v1`: one folder per split of per-standard files `<standard>.json`, each a list of problem
  groups (the original, then its follow-ups), each problem with `id`, `standard`, `symbolic-struct`,
  `statement`, `answer`, `type` and `followup_to`, as the published MathCAMPS v1 release has them, so
  its tooling (and `mathcamps validate`) reads them. Programs are written in v1's language
  (mathcamps.legacy.format_legacy) and answers in v1's texts (factor pairs in brackets, values of
  several names as `{x: 3, y: 4}`, fractions rather than mixed numbers).
- `hf`: the split files (JSON lines, or Parquet with `--parquet`) with a dataset card whose header names
  the splits and features, for `datasets.load_dataset("json" | "parquet", ...)` or `load_dataset(folder)`.
- `lm-eval`: a task folder for lm-evaluation-harness: one task per grade over the originals of a split
  of the release (few-shot examples from the other), in a group, graded by mathcamps' grader.

Every export is written atomically, like a release, and starts by checking the release's files against
its manifest. Input is streamed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import yaml

from mathcamps.answers import AnswerKind, format_answer, parse_answer
from mathcamps.files import AtomicFolder
from mathcamps.language import Ask, parse_program
from mathcamps.legacy import format_legacy
from mathcamps.records import Problem

from mathcamps.compiler.card import FEATURES, hub_header
from mathcamps.compiler.stream import ORDERS, write_stream
from mathcamps.compiler.release import (
    CARD_FILE,
    DATA_DIR,
    MANIFEST_FILE,
    SPLITS,
    FileEntry,
    Manifest,
    ReleaseError,
    read_manifest,
    write_file,
)

FORMATS = ("mathcamps-v1", "hf", "lm-eval", "train")


@dataclass
class Export:
    """A written export: its folder and its files (path relative to it -> entry)."""

    path: Path
    format: str
    files: dict[str, FileEntry]


def default_out(release: Path, format: str) -> Path:
    return release.parent / f"{release.name}-{format}"


def check_release(folder: Path) -> Manifest:
    """The manifest of a release whose files all match it (sha256 and size); ReleaseError names any that do not."""
    manifest = read_manifest(folder)
    wrong = []
    for relative, entry in manifest.files.items():
        path = folder / relative
        if not path.is_file():
            wrong.append(f"{relative}: missing")
            continue
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
        if digest.hexdigest() != entry.sha256:
            wrong.append(f"{relative}: sha256 differs from the manifest")
    if wrong:
        raise ReleaseError(
            f"{folder}: the release does not match its {MANIFEST_FILE} ({'; '.join(wrong)}); "
            "`mathcamps release verify` says more"
        )
    return manifest


def export_release(
    folder: Path,
    format: str,
    out: Path | None = None,
    force: bool = False,
    parquet: bool = False,
    split: str = "test",
    task_prefix: str | None = None,
    order: str | None = None,
    seed: int = 0,
) -> Export:
    """Writes the release at `folder` in `format` to `out` (default: beside it, `NAME-X.Y.Z-FORMAT`)."""
    if format not in FORMATS:
        raise ReleaseError(f"--format {format!r}: one of {', '.join(FORMATS)}")
    if parquet and format != "hf":
        raise ReleaseError("--parquet: only the hf format writes Parquet")
    if split not in SPLITS:
        raise ReleaseError(f"--split {split!r}: one of {', '.join(SPLITS)}")
    if (order is not None) != (format == "train"):
        raise ReleaseError("--order: the train format needs one (curriculum, reverse, interleaved or random), "
                           "and only it takes one")
    if format == "train" and order not in ORDERS:
        raise ReleaseError(f"--order {order!r}: one of {', '.join(ORDERS)}")
    manifest = check_release(folder)
    out = out or default_out(folder, format if order is None else f"{format}-{order}")
    with AtomicFolder(out, force, [folder]) as target:
        if format == "mathcamps-v1":
            files = _write_v1(folder, manifest, target)
        elif format == "hf":
            files = _write_hf(folder, manifest, target, parquet)
        elif format == "train":
            release_sha256 = hashlib.sha256((folder / MANIFEST_FILE).read_bytes()).hexdigest()
            files = write_stream(folder, manifest, release_sha256, target, order, seed)
        else:
            files = _write_lm_eval(folder, manifest, target, split, task_prefix)
        files[MANIFEST_FILE] = _copy(folder / MANIFEST_FILE, target / MANIFEST_FILE)
    return Export(out, format, dict(sorted(files.items())))


def _copy(source: Path, target: Path) -> FileEntry:
    shutil.copyfile(source, target)
    data = target.read_bytes()
    return FileEntry(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))


def _problems(path: Path) -> Iterator[Problem]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            yield Problem.model_validate_json(line)


# ---------------------------------------------------------------- MathCAMPS v1

V1_TYPES = {"original": "original-problem", "incremental": "incremental-followup",
            "counterfactual": "counterfactual-followup"}


def v1_answer(problem: Problem, program) -> str:
    """The answer as MathCAMPS v1 writes its kind: `[(1, 6), (2, 3)]`, `{x: 3, y: 4}`, `11/4`."""
    kind = problem.answer_kind
    value = parse_answer(kind, problem.answer)
    if kind is AnswerKind.pairs:
        return "[" + format_answer(kind, value) + "]"
    if kind is AnswerKind.remainder and isinstance(value, tuple) and isinstance(program.question, Ask):
        value = dict(zip(program.question.names, value))  # ask q, r: the values of two names
    if isinstance(value, dict):
        return "{" + ", ".join(f"{n}: {format_answer(AnswerKind.fraction, v)}" for n, v in value.items()) + "}"
    if kind is AnswerKind.mixed:
        return format_answer(AnswerKind.fraction, value)
    return problem.answer


def v1_problem(problem: Problem) -> dict:
    """One of our records as a MathCAMPS v1 problem."""
    program = parse_program(problem.program, problem.id)
    return {
        "id": problem.id,
        "standard": problem.standard,
        "symbolic-struct": f"{format_legacy(program)}\ntheme: {problem.render.theme}",
        "statement": problem.statement,
        "answer": v1_answer(problem, program),
        "type": V1_TYPES[problem.kind.value],
        "followup_to": problem.parent,
    }


class _V1File:
    """A per-standard file: a JSON list of problem groups, written group by group."""

    def __init__(self, path: Path):
        self.path = path
        self.stream = path.open("w", encoding="utf-8", newline="\n")
        self.stream.write("[")
        self.groups = 0

    def write(self, group: list[dict]) -> None:
        self.stream.write(("\n" if self.groups == 0 else ",\n") + json.dumps(group, ensure_ascii=False))
        self.groups += 1

    def close(self) -> None:
        self.stream.write("\n]\n")
        self.stream.close()


def _write_v1(folder: Path, manifest: Manifest, target: Path) -> dict[str, FileEntry]:
    written: list[Path] = []
    for split in SPLITS:
        (target / split).mkdir()
        current: _V1File | None = None
        done: set[str] = set()
        group: list[dict] = []
        for problem in _problems(folder / DATA_DIR / f"{split}.jsonl"):
            if problem.parent is None and group:
                current.write(group)
                group = []
            if current is None or problem.standard != current.path.stem:
                if problem.parent is not None:
                    raise ReleaseError(f"{folder / DATA_DIR / split}.jsonl: {problem.id} is a follow-up with no original before it")
                if current is not None:
                    current.close()
                if problem.standard in done:
                    raise ReleaseError(f"{folder / DATA_DIR / split}.jsonl: the problems of {problem.standard} are not together")
                done.add(problem.standard)
                current = _V1File(target / split / f"{problem.standard}.json")
                written.append(current.path)
            group.append(v1_problem(problem))
        if group:
            current.write(group)
        if current is not None:
            current.close()
    readme = _V1_README.format(release=manifest.release, manifest=MANIFEST_FILE)
    files = {CARD_FILE: write_file(target / CARD_FILE, readme)}
    for path in written:
        data = path.read_bytes()
        files[path.relative_to(target).as_posix()] = FileEntry(
            sha256=hashlib.sha256(data).hexdigest(), bytes=len(data), records=None
        )
    return files


_V1_README = """# {release} in the MathCAMPS v1 layout

`train/` and `test/` hold one file per standard, `<standard>.json`: a list of problem groups, each the
original problem followed by its follow-ups, as the published MathCAMPS v1 release has them. Each problem
has `id`, `standard`, `symbolic-struct` (the program in MathCAMPS v1's language), `statement`, `answer`,
`type` (`original-problem`, `counterfactual-followup` or `incremental-followup`) and `followup_to` (the
original's id, or null).

`{manifest}` is the release's manifest. `mathcamps validate test/` re-derives every answer.
"""


# ---------------------------------------------------------------- Hugging Face datasets


def _arrow_type(spec):
    import pyarrow as pa

    if isinstance(spec, str):
        return {"int64": pa.int64(), "string": pa.string()}[spec]
    if isinstance(spec, tuple):
        return pa.list_(pa.struct([(n, _arrow_type(s)) for n, s in spec[1]]))
    return pa.struct([(n, _arrow_type(s)) for n, s in spec])


PARQUET_ROWS = 10_000  # rows per row group: what is held in memory at once


def _write_parquet(source: Path, target: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ReleaseError("--parquet needs pyarrow: pip install pyarrow (or the test extra)") from None
    schema = pa.schema([(name, _arrow_type(spec)) for name, spec in FEATURES])
    with pq.ParquetWriter(target, schema, compression="zstd") as writer, source.open(encoding="utf-8") as lines:
        batch: list[dict] = []
        for line in lines:
            batch.append(json.loads(line))
            if len(batch) == PARQUET_ROWS:
                writer.write_table(pa.Table.from_pylist(batch, schema))
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema))


def _write_hf(folder: Path, manifest: Manifest, target: Path, parquet: bool) -> dict[str, FileEntry]:
    (target / DATA_DIR).mkdir()
    files: dict[str, FileEntry] = {}
    data_files = {}
    for split in SPLITS:
        source = folder / DATA_DIR / f"{split}.jsonl"
        relative = f"{DATA_DIR}/{split}.{'parquet' if parquet else 'jsonl'}"
        if parquet:
            _write_parquet(source, target / relative)
        else:
            shutil.copyfile(source, target / relative)
        data = (target / relative).read_bytes()
        files[relative] = FileEntry(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data),
                                    records=manifest.files[f"{DATA_DIR}/{split}.jsonl"].records)
        data_files[split] = relative
    # The release's card with a header that names these files.
    card = (folder / CARD_FILE).read_text(encoding="utf-8")
    body = card.split("---\n", 2)[2] if card.startswith("---\n") else card
    if parquet:
        body = body.replace('load_dataset("json", data_files={"train": "data/train.jsonl", "test": "data/test.jsonl"})',
                            'load_dataset("parquet", data_files={"train": "data/train.parquet", "test": "data/test.parquet"})')
    sizes = {split: files[path].bytes for split, path in data_files.items()}
    files[CARD_FILE] = write_file(target / CARD_FILE, hub_header(manifest, data_files, sizes) + body)
    return files


# ---------------------------------------------------------------- lm-evaluation-harness


class _TaskDumper(yaml.SafeDumper):
    """YAML as a person writes it: a string with a line break in double quotes, `\\n` for the break."""


_TaskDumper.add_representer(
    str, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"' if "\n" in text else None)
)


def _yaml(data) -> str:
    return yaml.dump(data, Dumper=_TaskDumper, sort_keys=False, allow_unicode=True, width=1000)


def task_name(text: str) -> str:
    """A name lm-evaluation-harness accepts for a task: lowercase letters, digits and underscores."""
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return name if name and name[0].isalpha() else f"mathcamps_{name}"


_UTILS = '''"""lm-evaluation-harness tasks over a mathcamps release ({release}): a grade's problems, graded by mathcamps.

Written by `mathcamps export --format lm-eval`; needs the mathcamps package (its evaluation module).
"""

import json
from pathlib import Path

import datasets

from mathcamps.evaluation.grade import grade as grade_response

DATA = Path(__file__).resolve().parent / "data"


def _records(path):
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def load_grade(grade=None, **_metadata):
    """The originals of one grade: `test` (what is evaluated) and `train` (few-shot examples)."""
    splits = {{}}
    for split in ("test", "train"):
        path = DATA / f"grade_{{grade}}.{{split}}.jsonl"
        if path.is_file():
            splits[split] = datasets.Dataset.from_list(_records(path))
    return datasets.DatasetDict(splits)


def process_results(doc, results):
    """1.0 when mathcamps' grader finds the gold answer in the response, else 0.0."""
    graded = grade_response(results[0], doc["answer"], doc["answer_kind"])
    return {{"acc": 1.0 if graded.verdict.value == "correct" else 0.0}}
'''


def _write_lm_eval(folder: Path, manifest: Manifest, target: Path, split: str, prefix: str | None) -> dict[str, FileEntry]:
    prefix = task_name(prefix or manifest.name)
    other = next(s for s in SPLITS if s != split)
    (target / DATA_DIR).mkdir()
    streams: dict[tuple[str, str], object] = {}
    counts: dict[tuple[str, str], int] = {}
    try:
        for role, source in (("test", split), ("train", other)):
            for problem in _problems(folder / DATA_DIR / f"{source}.jsonl"):
                if problem.parent is not None:
                    continue  # a follow-up needs its dialogue: mathcamps' own evaluation asks those
                grade = problem.grade.lower()
                key = (grade, role)
                if key not in streams:
                    streams[key] = (target / DATA_DIR / f"grade_{grade}.{role}.jsonl").open("w", encoding="utf-8", newline="\n")
                streams[key].write(problem.to_json() + "\n")
                counts[key] = counts.get(key, 0) + 1
    finally:
        for stream in streams.values():
            stream.close()
    grades = [g for g in _grade_order({g for g, _ in counts}) if (g, "test") in counts]
    for grade in {g for g, _ in counts} - set(grades):  # only few-shot examples: no task
        (target / DATA_DIR / f"grade_{grade}.train.jsonl").unlink()
    if not grades:
        raise ReleaseError(f"{folder}: the {split} split has no originals to evaluate")
    manifest_sha256 = hashlib.sha256((folder / MANIFEST_FILE).read_bytes()).hexdigest()
    metadata = {"version": 1.0, "release": manifest.release, "manifest_sha256": manifest_sha256}
    files: dict[str, FileEntry] = {}
    tasks = []
    for grade in grades:
        name = f"{prefix}_grade_{grade}"
        tasks.append(name)
        config = {
            "task": name,
            "dataset_kwargs": {"grade": grade},
            "test_split": "test",
            **({"fewshot_split": "train"} if (grade, "train") in counts else {}),
            "output_type": "generate_until",
            "doc_to_text": "Question: {{statement}}\nAnswer:",
            "doc_to_target": "{{answer}}",
            "target_delimiter": " ",
            "generation_kwargs": {"until": ["\n\n", "Question:"], "do_sample": False, "max_gen_toks": 256},
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
            "metadata": metadata,
        }
        text = (
            f"# Grade {grade.upper()} of {manifest.release}: {counts[(grade, 'test')]} originals of its {split} split.\n"
            + _yaml(config)
            + "custom_dataset: !function utils.load_grade\n"
            + "process_results: !function utils.process_results\n"
        )
        files[f"{name}.yaml"] = write_file(target / f"{name}.yaml", text)
    group = {
        "group": prefix,
        "task": tasks,
        "aggregate_metric_list": [{"metric": "acc", "aggregation": "mean", "weight_by_size": True}],
        "metadata": metadata,
    }
    files[f"_{prefix}.yaml"] = write_file(
        target / f"_{prefix}.yaml",
        f"# {manifest.release}: one task per grade.\n" + _yaml(group),
    )
    files["utils.py"] = write_file(target / "utils.py", _UTILS.format(release=manifest.release))
    files[CARD_FILE] = write_file(target / CARD_FILE, _LM_EVAL_README.format(
        release=manifest.release, prefix=prefix, split=split, other=other,
        tasks="\n".join(f"- `{t}`: {counts[(t.rsplit('_', 1)[1], 'test')]} problems" for t in tasks),
    ))
    for path in sorted((target / DATA_DIR).iterdir()):
        data = path.read_bytes()
        files[f"{DATA_DIR}/{path.name}"] = FileEntry(
            sha256=hashlib.sha256(data).hexdigest(), bytes=len(data), records=data.count(b"\n")
        )
    return files


def _grade_order(grades: set[str]) -> list[str]:
    return sorted(grades, key=lambda g: 0 if g == "k" else int(g))


_LM_EVAL_README = """# {release} for lm-evaluation-harness

The group `{prefix}` runs one task per grade over the originals of the release's `{split}` split (few-shot
examples come from its `{other}` split). A response is graded by mathcamps' grader
(`mathcamps.evaluation.grade`), so the mathcamps package must be installed where lm-eval runs.

{tasks}

```bash
lm-eval validate --tasks {prefix} --include_path THIS_FOLDER
lm-eval run --model hf --model_args pretrained=EleutherAI/pythia-160m --tasks {prefix} --include_path THIS_FOLDER
```

Follow-up questions are not here: they are asked in the dialogue of their original, which
`mathcamps eval` does.
"""
