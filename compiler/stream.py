"""The train stream of a release: its train split as documents for a language model, in a declared order.

A document is a dialogue: an original and its follow-ups, each a user turn that says the statement
and an assistant turn that gives the answer line, in the completion layout the evaluation prompts
use (mathcamps.dialogue), so a model trained on the stream answers the way the grader reads.

The orders (the question they serve: does the order of the data change when skills emerge?):
- `curriculum`: grade by grade, a standard after its prerequisites (declared in its definition),
  otherwise by grade and then in the release's order; each standard's documents in the release's order;
- `reverse`: that sequence backwards, grade 8 first;
- `interleaved`: the standards, in curriculum order, take turns, a document each;
- `random`: every document shuffled with the seed.

The export holds `stream.jsonl` (a document a line: `text`, `standard`, `grade`, `ids`) and
`stream.json`, which says the order, its seed, the release it came from and the standards in order
with their document counts. The same release, order and seed give the same bytes.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

from mathcamps.dialogue import answer_line, block
from mathcamps.records import Problem
from mathcamps.registry import default_registry, grade_number

from mathcamps.compiler.release import DATA_DIR, FileEntry, Manifest, ReleaseError, write_file

ORDERS = ("curriculum", "reverse", "interleaved", "random")
STREAM_FILE = "stream.jsonl"
STREAM_MANIFEST = "stream.json"
STREAM_SCHEMA_VERSION = 1


def document(group: list[Problem]) -> str:
    """The dialogue of an original and its follow-ups, as one training text."""
    return "".join(block("user", p.statement) + block("assistant", answer_line(p.answer)) for p in group)


def _groups(path: Path) -> list[list[Problem]]:
    """The problem groups (an original, then its follow-ups) of a split file, in its order."""
    groups: list[list[Problem]] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            problem = Problem.model_validate_json(line)
            if problem.parent is None:
                groups.append([problem])
            else:
                groups[-1].append(problem)
    return groups


def curriculum(manifest: Manifest) -> list[str]:
    """The release's standards in curriculum order: none before its prerequisites (of those in the
    release), and otherwise by grade, then in the release's order."""
    registry = default_registry()
    place = {entry.id: (grade_number(entry.grade), i) for i, entry in enumerate(manifest.standards)}
    needs = {
        s: {p for p in (registry.get(s).definition.prerequisites if s in registry.ids() else ()) if p in place}
        for s in place
    }
    ordered: list[str] = []
    while needs:
        ready = [s for s, waiting in needs.items() if not waiting - set(ordered)]
        if not ready:  # a cycle of prerequisites: the rest by grade
            ready = list(needs)
        chosen = min(ready, key=place.__getitem__)
        ordered.append(chosen)
        del needs[chosen]
    return ordered


def ordered_groups(groups: list[list[Problem]], standards: list[str], order: str, seed: int) -> list[list[Problem]]:
    """The groups in `order`, given the standards in curriculum order."""
    by_standard: dict[str, list[list[Problem]]] = defaultdict(list)
    for group in groups:
        by_standard[group[0].standard].append(group)
    sequence = [by_standard[s] for s in standards if by_standard[s]]
    if order == "curriculum":
        return [g for groups_of in sequence for g in groups_of]
    if order == "reverse":
        return [g for groups_of in reversed(sequence) for g in groups_of]
    if order == "interleaved":
        longest = max((len(groups_of) for groups_of in sequence), default=0)
        return [groups_of[i] for i in range(longest) for groups_of in sequence if i < len(groups_of)]
    if order == "random":
        shuffled = [g for groups_of in sequence for g in groups_of]
        random.Random(seed).shuffle(shuffled)
        return shuffled
    raise ReleaseError(f"--order {order!r}: one of {', '.join(ORDERS)}")


def write_stream(folder: Path, manifest: Manifest, release_sha256: str, target: Path, order: str,
                 seed: int) -> dict[str, FileEntry]:
    """Writes the train split of the release at `folder` as a stream in `order` into `target`."""
    if order not in ORDERS:
        raise ReleaseError(f"--order {order!r}: one of {', '.join(ORDERS)}")
    standards = curriculum(manifest)
    groups = ordered_groups(_groups(folder / DATA_DIR / "train.jsonl"), standards, order, seed)
    lines = []
    counts: dict[str, int] = defaultdict(int)
    for group in groups:
        original = group[0]
        counts[original.standard] += 1
        lines.append(json.dumps({
            "text": document(group), "standard": original.standard, "grade": original.grade,
            "ids": [p.id for p in group],
        }, ensure_ascii=False))
    files = {STREAM_FILE: write_file(target / STREAM_FILE, "".join(line + "\n" for line in lines))}
    described = {
        "schema_version": STREAM_SCHEMA_VERSION,
        "order": order,
        "seed": seed if order == "random" else None,
        "release": {"name": manifest.name, "version": manifest.version, "sha256": release_sha256},
        "split": "train",
        "documents": len(lines),
        "standards": [{"id": s, "documents": counts[s]} for s in dict.fromkeys(g[0].standard for g in groups)],
        "layout": "a dialogue per document: |user| statement, |assistant| ### Answer: answer, each block ended by @@@",
    }
    files[STREAM_MANIFEST] = write_file(target / STREAM_MANIFEST, json.dumps(described, indent=2) + "\n")
    return files
