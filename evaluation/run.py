"""Evaluation runs: put a release's problems to a model, grade each response, and append one result a line.

A run reads a release as records, asks each original problem (batched), then, in the same
dialogue, the follow-ups of the originals the model got right; a follow-up of a wrong original
gets the verdict not-asked. Results are appended to a JSONL file as each chunk of problems
finishes (flushed and synced), in release order within a run. A run is resumable: the ids already
in the file for the same model, revision, release and settings are skipped; a torn last line
(a run killed while writing) is dropped before appending.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from pydantic import ValidationError

from mathcamps.errors import MathcampsError
from mathcamps.files import check_output, json_lines
from mathcamps.evaluation.backends import Backend, Generation
from mathcamps.evaluation.prompts import STOP_RULE, OneShot
from mathcamps.evaluation.results import Result, Verdict
from mathcamps.records import Problem, ProblemKind

SPLITS = ("all", "train", "test")


class RunError(MathcampsError):
    """A release or results file that a run cannot use."""


# ---------------------------------------------------------------- releases


@dataclass(frozen=True)
class Release:
    """A release as an evaluation reads it: its identity and its problems in release order."""

    path: Path
    identity: str  # sha256 of manifest.json (of the JSONL file itself for a bare file)
    problems: list[Problem]


def read_release(path: Path, split: str = "all") -> Release:
    """The problems of a release folder's split (all: train, then test), or of a bare JSONL file of problems."""
    path = Path(path)
    if split not in SPLITS:
        raise RunError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}.")
    if path.is_file() and path.suffix == ".jsonl":
        if split != "all":
            raise RunError(f"{path} is a file of problems, which has no {split} split: leave --split out.")
        return Release(path, hashlib.sha256(path.read_bytes()).hexdigest(), list(_problems(path)))
    manifest = path / "manifest.json"
    if not manifest.is_file():
        what = "does not exist" if not path.exists() else "has no manifest.json"
        raise RunError(
            f"{path} {what}: give a release folder (NAME-X.Y.Z/ with manifest.json and data/train.jsonl, "
            "data/test.jsonl, as `mathcamps release build` writes it) or a JSONL file of problems."
        )
    names = ("train", "test") if split == "all" else (split,)
    files = [path / "data" / f"{name}.jsonl" for name in names]
    present = [f for f in files if f.is_file()]
    if not present or (split != "all" and len(present) != len(files)):
        raise RunError(f"the release {path} has no {' or '.join(str(f.relative_to(path)) for f in files)}.")
    problems = [problem for f in present for problem in _problems(f)]
    return Release(path, hashlib.sha256(manifest.read_bytes()).hexdigest(), problems)


def _problems(path: Path) -> Iterable[Problem]:
    for number, data, problem in json_lines(path, RunError, "problems"):
        if problem is not None:
            raise RunError(f"{path}:{number}: {problem}.")
        try:
            yield Problem.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "line"
            raise RunError(f"{path}:{number}: not a problem record: {where}: {first['msg']}.") from None


@dataclass
class Group:
    """An original problem and its follow-ups, which are asked in its dialogue."""

    original: Problem
    followups: list[Problem] = field(default_factory=list)

    def problems(self) -> list[Problem]:
        return [self.original, *self.followups]


def group_problems(problems: list[Problem], limit_per_standard: int | None = None) -> list[Group]:
    """The originals with their follow-ups, in release order; with a limit, the first originals of each standard."""
    groups: dict[str, Group] = {}
    per_standard: Counter[str] = Counter()
    for problem in problems:
        if problem.kind is ProblemKind.original:
            if limit_per_standard is not None and per_standard[problem.standard] >= limit_per_standard:
                continue
            per_standard[problem.standard] += 1
            groups[problem.id] = Group(problem)
        elif problem.parent in groups:
            groups[problem.parent].followups.append(problem)
        # A follow-up whose original is left out (by the limit) is left out with it.
    return list(groups.values())


# ---------------------------------------------------------------- settings and results files


@dataclass(frozen=True)
class Settings:
    """What decides a response besides the model: the prompt, its format, the decoding."""

    prompt: OneShot
    prompt_format: str  # the backend's: completion, chat, chat:<template hash>
    max_new_tokens: int

    def digest(self) -> str:
        """The settings hash a results line carries: equal settings, equal hash."""
        described = {
            "prompt": self.prompt.messages(),
            "format": self.prompt_format,
            "max_new_tokens": self.max_new_tokens,
            "decoding": "greedy",
            "stop": STOP_RULE,
        }
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunKey:
    """Which run a results line belongs to."""

    model: str
    revision: str | None
    release: str
    settings: str

    def owns(self, result: Result) -> bool:
        return (result.model, result.revision, result.release, result.settings) == (
            self.model,
            self.revision,
            self.release,
            self.settings,
        )


def repair(path: Path) -> int:
    """Drops a torn last line (one without its newline) from a results file; gives the bytes dropped."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb+") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return 0
        # Find the last newline: everything after it is a partial line.
        keep, block = 0, 1 << 16
        position = size
        while position > 0:
            start = max(0, position - block)
            f.seek(start)
            chunk = f.read(position - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            position = start
        f.truncate(keep)
        return size - keep


def read_results(path: Path, key: RunKey) -> dict[str, Result]:
    """The results of this run already in the file, by problem id (a torn last line repaired first)."""
    repair(path)
    done: dict[str, Result] = {}
    if not path.exists():
        return done
    for number, data, problem in json_lines(path, RunError, "results"):
        try:
            result = Result.model_validate(data) if problem is None else None
        except ValidationError as error:
            first = error.errors()[0]
            problem = f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
        if problem is not None:
            raise RunError(
                f"{path}:{number}: not a results line ({problem}); write the results of this run to another file, "
                "or remove that line."
            )
        if key.owns(result):
            done[result.id] = result
    return done


# ---------------------------------------------------------------- the run


@dataclass
class Summary:
    """What a run did: counts by verdict, problems skipped as done, tokens and generation time."""

    verdicts: Counter = field(default_factory=Counter)
    skipped: int = 0
    generated: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0  # generation time
    load_seconds: float = 0.0  # loading the model (only when there was something to ask)

    @property
    def written(self) -> int:
        return sum(self.verdicts.values())

    def problems_per_second(self) -> float:
        return self.generated / self.seconds if self.seconds else 0.0

    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds else 0.0


def _result(problem: Problem, key: RunKey, verdict: Verdict, generation: Generation | None = None,
            extracted: str | None = None, reason: str | None = None) -> Result:
    return Result(
        id=problem.id,
        standard=problem.standard,
        grade=problem.grade,
        kind=problem.kind.value,
        parent=problem.parent,
        model=key.model,
        revision=key.revision,
        release=key.release,
        settings=key.settings,
        answer_kind=problem.answer_kind.value,
        gold=problem.answer,
        response=generation.text if generation else None,
        extracted=extracted,
        reason=reason,
        verdict=verdict,
        prompt_tokens=generation.prompt_tokens if generation else None,
        completion_tokens=generation.completion_tokens if generation else None,
    )


class _Asker:
    """Generates and grades a list of (problem, dialogue), counting tokens and time."""

    def __init__(self, backend: Backend, settings: Settings, key: RunKey, summary: Summary):
        self.backend, self.settings, self.key, self.summary = backend, settings, key, summary

    def __call__(self, asked: list[tuple[Problem, list]]) -> dict[str, Result]:
        from mathcamps.evaluation.grade import grade

        if not asked:
            return {}
        started = time.perf_counter()
        generations = self.backend.generate([dialogue for _, dialogue in asked], self.settings.max_new_tokens)
        self.summary.seconds += time.perf_counter() - started
        results = {}
        for (problem, _), generation in zip(asked, generations):
            graded = grade(generation.text, problem.answer, problem.answer_kind.value)
            results[problem.id] = _result(
                problem, self.key, graded.verdict, generation, graded.extracted, graded.reason
            )
            self.summary.generated += 1
            self.summary.prompt_tokens += generation.prompt_tokens or 0
            self.summary.completion_tokens += generation.completion_tokens or 0
        return results


def _chunks(groups: list[Group], done: dict[str, Result], size: int) -> Iterable[list[Group]]:
    """The groups with work left, in chunks of about `size` problems to ask."""
    chunk: list[Group] = []
    pending = 0
    for group in groups:
        left = sum(p.id not in done for p in group.problems())
        if not left:
            continue
        chunk.append(group)
        pending += left
        if pending >= size:
            yield chunk
            chunk, pending = [], 0
    if chunk:
        yield chunk


def run(
    release: Release,
    backend: Backend,
    out: Path,
    *,
    model: str,
    revision: str | None = None,
    prompt: OneShot | None = None,
    max_new_tokens: int = 512,
    limit_per_standard: int | None = None,
    on_start: Callable[[int], None] | None = None,
    on_result: Callable[[Result], None] | None = None,
) -> Summary:
    """Asks the model every problem of the release not yet in `out` for this run, appending the results; gives a summary."""
    out = Path(out)
    check_output(out, True, [release.path])  # appended to, so it may exist; but never the release itself
    settings = Settings(prompt or OneShot(), backend.prompt_format, max_new_tokens)
    key = RunKey(model, revision, release.identity, settings.digest())
    done = read_results(out, key)
    groups = group_problems(release.problems, limit_per_standard)
    summary = Summary(skipped=sum(p.id in done for g in groups for p in g.problems()))
    ask = _Asker(backend, settings, key, summary)
    if on_start is not None:
        on_start(sum(len(g.problems()) for g in groups) - summary.skipped)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as results_file:
        for number, chunk in enumerate(_chunks(groups, done, backend.batch_size)):
            if number == 0:
                started = time.perf_counter()
                backend.load()
                summary.load_seconds = time.perf_counter() - started
            new = ask([(g.original, settings.prompt.dialogue(g.original.statement))
                       for g in chunk if g.original.id not in done])
            known = {**done, **new}
            followups = []
            for group in chunk:
                first = known[group.original.id]
                for followup in group.followups:
                    if followup.id in done:
                        continue
                    if first.verdict is Verdict.correct:
                        # Asked in the original's dialogue, after the model's own response to it.
                        history = ((group.original.statement, first.response or ""),)
                        followups.append((followup, settings.prompt.dialogue(followup.statement, history)))
                    else:
                        new[followup.id] = _result(followup, key, Verdict.not_asked)
            new.update(ask(followups))
            lines = [new[p.id] for g in chunk for p in g.problems() if p.id in new]
            results_file.write("".join(result.to_json() + "\n" for result in lines))
            results_file.flush()
            os.fsync(results_file.fileno())
            for result in lines:
                summary.verdicts[result.verdict] += 1
                if on_result is not None:
                    on_result(result)
    return summary

