"""Validation: re-derive every answer of a dataset from its program, and say whether the stored one holds.

Reads our JSONL records and the MathCAMPS v1 layout (per-standard files of problem groups
with `symbolic-struct`; the flat `mathcamps.json`, joined by id with the per-standard files
of its folder). Every problem is parsed (the core or the legacy grammar), solved by sympy,
proved by z3 and compared with the stored answer through the one answer model; our own
records are also checked against their standard's grammar and the faithfulness of their
statement. Input is streamed, and problems are checked in batches, in order, so the
verdicts are the same for any number of worker processes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections import Counter, OrderedDict
from dataclasses import asdict, dataclass, field
from itertools import islice
from multiprocessing import get_context
from pathlib import Path
from typing import Iterable, Iterator

import ijson
from pydantic import ValidationError

from mathcamps.answers import AnswerError, AnswerKind, answer_agrees, format_answer, read_answer
from mathcamps.errors import MathcampsError
from mathcamps.files import atomic_text, check_output, json_lines
from mathcamps.language import Program, ProgramError, parse_program
from mathcamps.legacy import parse_legacy
from mathcamps.records import Problem
from mathcamps.registry import DefinitionError, Registry, default_registry
from mathcamps.solvers.exact import Unsolvable, solve
from mathcamps.solvers.prover import PROVED, Claim, prove

from mathcamps.compiler.followups import check_followup, check_incremental
from mathcamps.compiler.render import SpanTuple, Unfaithful, check_faithful, refused_words

AGREES, DISAGREES, UNPARSEABLE, UNPROVED = "agrees", "disagrees", "unparseable", "unproved"
VERDICTS = (AGREES, DISAGREES, UNPARSEABLE, UNPROVED)
BATCH = 200
FLAT_FILE = "mathcamps.json"


class InputError(MathcampsError):
    """A path that is not a dataset this validator reads."""


@dataclass(frozen=True)
class Item:
    """One problem to validate, as read: where it came from and what it stores."""

    source: str  # file:line, or file and the problem's place
    id: str
    standard: str | None
    kind: str  # original, incremental or counterfactual (or the dataset's own word)
    answer: str | None
    program: str | None = None  # our language
    struct: str | None = None  # the MathCAMPS v1 language
    record: dict | None = None  # one of our records, for the checks only they allow
    error: str | None = None  # why the item could not be read
    parent_program: str | None = None  # a follow-up's parent program, read before it
    family: str | None = None  # the frames family that wrote the statement (a counterfactual's: its parent's)


@dataclass(frozen=True)
class Verdict:
    id: str
    standard: str | None
    kind: str
    source: str
    verdict: str
    reason: str
    expected: str | None = None


@dataclass
class Summary:
    """Counts per standard and verdict."""

    counts: dict[str, Counter] = field(default_factory=dict)
    kinds: Counter = field(default_factory=Counter)

    def add(self, verdict: Verdict) -> None:
        self.counts.setdefault(verdict.standard or "(unknown)", Counter())[verdict.verdict] += 1
        self.kinds[verdict.kind] += 1

    def total(self) -> Counter:
        total: Counter = Counter()
        for counter in self.counts.values():
            total.update(counter)
        return total

    @property
    def all_agree(self) -> bool:
        total = self.total()
        return sum(total.values()) > 0 and total[AGREES] == sum(total.values())


# ---------------------------------------------------------------- reading


def read_items(paths: Iterable[Path]) -> Iterator[Item]:
    """The problems of every path, streamed: JSONL records, MathCAMPS v1 files, or folders of either.
    A problem whose id an earlier one of the input already has is an item that could not be read."""
    first: dict[str, str] = {}  # each id, and where it was first read
    for item in _read_paths(paths):
        if item.error is None:
            where = first.setdefault(item.id, item.source)
            if where is not item.source:
                item = dataclasses.replace(
                    item, error=f"id {item.id} is already the id of {where} (ids are unique across the input)"
                )
        yield item


def _read_paths(paths: Iterable[Path]) -> Iterator[Item]:
    for path in paths:
        if path.is_dir():
            yield from _read_folder(path)
        elif not path.is_file():
            raise InputError(f"{path}: no such file or folder")
        elif path.suffix == ".jsonl":
            yield from _read_jsonl(path)
        elif path.suffix == ".json":
            yield from _read_v1_file(path, structs=None)
        else:
            raise InputError(f"{path}: not a dataset (expected .jsonl records, MathCAMPS v1 .json, or a folder)")


def _read_folder(folder: Path) -> Iterator[Item]:
    jsonl = sorted(folder.glob("*.jsonl"))
    flat = folder / FLAT_FILE
    per_standard = sorted(p for p in folder.glob("*.json") if p.name != FLAT_FILE)
    if jsonl:
        for path in jsonl:
            yield from _read_jsonl(path)
    elif flat.is_file():
        # The flat file lists the release; its problems' programs are in the per-standard files.
        structs: dict[str, str] = {}
        for path in per_standard:
            for item in _read_v1_file(path, structs=None):
                if item.struct is not None:
                    structs[item.id] = item.struct
        yield from _read_v1_file(flat, structs=structs)
    elif per_standard:
        for path in per_standard:
            yield from _read_v1_file(path, structs=None)
    else:
        raise InputError(f"{folder}: no .jsonl records and no MathCAMPS v1 .json files")


PARENTS_KEPT = 10_000  # a follow-up comes right after its parent: only recent parents are kept


def _text(value) -> str | None:
    """A field of a record that is not what its schema says, shown as text (or None when absent)."""
    return None if value is None else value if isinstance(value, str) else json.dumps(value)[:60]


def _read_jsonl(path: Path) -> Iterator[Item]:
    parents: OrderedDict[str, str] = OrderedDict()
    families: dict[str, str] = {}
    for number, raw, problem in json_lines(path, InputError, "records"):
        source = f"{path}:{number}"
        if problem is not None or not isinstance(raw, dict):
            yield Item(source, f"{path.name}:{number}", None, "?", None, error=problem or "not a JSON object")
            continue
        problem_id = _text(raw.get("id")) or f"{path.name}:{number}"
        try:
            record = Problem.model_validate(raw)
        except ValidationError as error:
            fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in error.errors())
            yield Item(source, problem_id, _text(raw.get("standard")), _text(raw.get("kind")) or "?", None, error=fields)
            continue
        parent_program = None
        family = record.render.frame.partition("/")[0]
        if record.parent is None:
            parents[record.id] = record.program
            families[record.id] = family
            if len(parents) > PARENTS_KEPT:
                families.pop(parents.popitem(last=False)[0], None)
        else:
            parent_program = parents.get(record.parent)
            if record.kind.value == "counterfactual":
                family = families.get(record.parent, family)
            if parent_program is None:
                error = f"follow-up of {record.parent}, which does not come before it in {path.name}"
                yield Item(source, record.id, record.standard, record.kind.value, None, error=error)
                continue
        yield Item(
            source,
            record.id,
            record.standard,
            record.kind.value,
            record.answer,
            program=record.program,
            record=raw,
            parent_program=parent_program,
            family=family,
        )


_V1_KINDS = {
    "original problem": "original",
    "original-problem": "original",
    "additional information follow up": "incremental",
    "incremental-followup": "incremental",
    "modified information follow up": "counterfactual",
    "counterfactual-followup": "counterfactual",
}


def _read_v1_file(path: Path, structs: dict[str, str] | None) -> Iterator[Item]:
    """A MathCAMPS v1 file: a list of problem groups (per standard) or a flat list of problems."""
    count = 0
    try:
        with path.open("rb") as stream:
            for position, entry in enumerate(ijson.items(stream, "item", use_float=False)):
                problems = entry if isinstance(entry, list) else [entry]
                for offset, raw in enumerate(problems):
                    count += 1
                    where = f"{path}: problem {position}" + (f".{offset}" if isinstance(entry, list) else "")
                    yield _v1_item(raw, where, path, structs)
    except ijson.common.IncompleteJSONError as error:
        yield Item(f"{path}", f"{path.name}#end", None, "?", None, error=f"truncated or broken JSON after {count} problems: {error}")
    except ijson.common.JSONError as error:
        yield Item(f"{path}", f"{path.name}#end", None, "?", None, error=f"not valid JSON after {count} problems: {error}")


def _v1_item(raw, where: str, path: Path, structs: dict[str, str] | None) -> Item:
    if not isinstance(raw, dict):
        return Item(where, where, None, "?", None, error="not a problem object")
    problem_id = str(raw.get("id", where))
    kind = _V1_KINDS.get(str(raw.get("tag", raw.get("type", ""))), str(raw.get("tag", raw.get("type", "?"))))
    missing = [name for name in ("id", "standard", "answer") if name not in raw]
    struct = raw.get("symbolic-struct")
    if struct is None and structs is not None:
        struct = structs.get(problem_id)
        if struct is None:
            missing.append("symbolic-struct (none in the per-standard files of this folder)")
    elif struct is None:
        missing.append(f"symbolic-struct (a flat {FLAT_FILE} needs its folder: give the folder to join by id)")
    if missing:
        return Item(where, problem_id, raw.get("standard"), kind, None, error=f"missing field(s): {', '.join(missing)}")
    return Item(where, problem_id, str(raw["standard"]), kind, str(raw["answer"]), struct=str(struct))


# ---------------------------------------------------------------- checking


_standards: list[Registry | None] = [None]  # the standards our records are checked against (None: the built-in ones)


def _registry() -> Registry:
    return _standards[0] or default_registry()


def _describe(value) -> str:
    """An exact answer in the canonical text of its kind (a foreign dataset declares no kind)."""
    kind = (
        AnswerKind.comparison
        if isinstance(value, str)
        else AnswerKind.assignment
        if isinstance(value, dict)
        else AnswerKind.pairs
        if isinstance(value, tuple)
        else AnswerKind.fraction
    )
    return format_answer(kind, value)


def _our_checks(item: Item, program: Program) -> str | None:
    """For our records: the program is in its standard's grammar, and the statement says it."""
    record = item.record
    try:
        standard = _registry().get(item.standard)
    except DefinitionError:
        return f"unknown standard {item.standard!r}"
    incremental = item.kind == "incremental"
    try:
        grammar = standard.followup_grammar if incremental else standard.grammar
        if grammar.parse(record["program"], item.id) != program:
            return f"the program does not parse to itself under {standard.grammar_path.name}"
    except ProgramError:
        rule = " (its `followup` rule)" if incremental else ""
        return f"the program is not in the grammar of {standard.id} ({standard.grammar_path.name}{rule})"
    except DefinitionError as error:
        return str(error)
    return None


def _faithful(item: Item, program: Program) -> str | None:
    """Our statement says its program; a follow-up's, its change in the context of its parent."""
    record = item.record
    spans = [SpanTuple(s["start"], s["end"], s["source"]) for s in record["render"]["spans"]]
    values = [n.value for n in program.literals()]
    refused = refused_words(item.family)
    try:
        if item.parent_program is None:
            check_faithful(record["statement"], spans, "", values, refused)
            return None
        parent = parse_program(item.parent_program)
        if item.kind == "incremental":
            check_incremental(record["statement"], spans, program, parent, refused)
            return None
        before = [n.value for n in parent.literals()]
        changed = [i for i, (a, b) in enumerate(zip(before, values)) if a != b]
        if len(before) != len(values) or len(changed) != 1:
            return f"a counterfactual must change exactly one quantity of {record['parent']}, not {len(changed)}"
        check_followup(record["statement"], spans, program, before[changed[0]], changed[0], refused)
    except (Unfaithful, ProgramError) as error:
        return f"statement: {error}"
    return None


def _domain(standard_id: str | None) -> tuple | None:
    """Where the unknowns of a registered standard live (its declared `values`); None for others."""
    try:
        values = _registry().get(standard_id).definition.values
    except DefinitionError:
        return None
    return (values.min, values.max)


def check_batch(items: list[Item]) -> list[Verdict]:
    """The verdict of each item; z3 proves the solvable ones of the batch together."""
    verdicts: list[Verdict | None] = [None] * len(items)
    pending: list[tuple[int, Program, object, tuple | None]] = []

    def verdict(i: int, kind: str, reason: str, expected: str | None = None) -> None:
        item = items[i]
        verdicts[i] = Verdict(item.id, item.standard, item.kind, item.source, kind, reason, expected)

    for i, item in enumerate(items):
        if item.error is not None:
            verdict(i, UNPARSEABLE, item.error)
            continue
        try:
            program = parse_legacy(item.struct, item.id) if item.struct is not None else parse_program(item.program, item.id)
        except ProgramError as error:
            verdict(i, UNPARSEABLE, str(error).splitlines()[0])
            continue
        if item.record is not None:
            problem = _our_checks(item, program)
            if problem is not None:
                verdict(i, UNPARSEABLE, problem)
                continue
        # Unknowns live where their standard declares (x ^ 2 = 64 has one whole solution). A foreign
        # dataset's language cannot say so: where its equations have several solutions, a standard
        # we know lends its range.
        lent = _domain(item.standard)
        domains = [lent] if item.record is not None else [None] + ([lent] if lent else [])
        for domain in domains:
            try:
                expected = solve(program, domain).answer(program.question)
                break
            except Unsolvable as error:
                reason = f"sympy: {error}"
        else:
            verdict(i, UNPROVED, reason)
            continue
        pending.append((i, program, expected, domain))
    proofs = prove([Claim(program, expected, domain) for _, program, expected, domain in pending])
    for (i, program, expected, _), proof in zip(pending, proofs):
        item = items[i]
        shown = _describe(expected)
        if proof != PROVED:
            verdict(i, UNPROVED, proof, shown)
            continue
        try:
            stored = read_answer(item.answer)
        except AnswerError as error:
            verdict(i, DISAGREES, f"the stored answer cannot be read: {error}", shown)
            continue
        if not answer_agrees(expected, stored):
            verdict(i, DISAGREES, f"stored {item.answer!r}, but the program gives {shown}", shown)
            continue
        if item.record is not None:
            unfaithful = _faithful(item, program)
            if unfaithful is not None:
                verdict(i, DISAGREES, unfaithful, shown)
                continue
            kind = AnswerKind(item.record["answer_kind"])
            try:
                canonical = format_answer(kind, expected)
            except ValueError as error:
                verdict(i, DISAGREES, f"the record's answer_kind, {kind.value}, cannot say its answer: {error}", shown)
                continue
            if canonical != item.answer:
                verdict(i, DISAGREES, f"the answer is not written canonically for its kind, {kind.value}: "
                        f"{item.answer!r} (canonically {canonical!r})", shown)
                continue
        verdict(i, AGREES, "sympy and z3 agree with the stored answer", shown)
    return verdicts  # type: ignore[return-value]


def _batches(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    while batch := list(islice(items, size)):
        yield batch


def validate(
    paths: Iterable[Path], workers: int = 1, batch: int = BATCH, registry: Registry | None = None
) -> Iterator[Verdict]:
    """Every problem's verdict, in input order, for any number of worker processes. Our records are
    checked against the standards of `registry` (default: the built-in ones)."""
    batches = _batches(read_items(paths), batch)
    previous, _standards[0] = _standards[0], registry
    try:
        if workers <= 1:
            for chunk in batches:
                yield from check_batch(chunk)
            return
        with get_context("fork").Pool(workers) as pool:  # forked workers see `registry`
            for verdicts in pool.imap(check_batch, batches):
                yield from verdicts
    finally:
        _standards[0] = previous


def verdict_json(verdict: Verdict) -> str:
    return json.dumps(asdict(verdict), ensure_ascii=False, sort_keys=False)



def run(
    paths: list[Path],
    workers: int = 1,
    report: Path | None = None,
    on_verdict=None,
    registry: Registry | None = None,
    force: bool = False,
) -> Summary:
    """Validates every problem of `paths`, counting verdicts per standard; with `report`, writes the
    per-problem verdicts there as one JSON array (to a temporary file, renamed when complete). An
    existing report is replaced only with `force`, and never when it is one of `paths`. InputError
    if the paths hold no problem at all."""
    if report is not None:
        check_output(report, force, paths, "--report")
    summary = Summary()
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(atomic_text(report)) if report is not None else None
        if out is not None:
            out.write("[")
        for number, verdict in enumerate(validate(paths, workers, registry=registry)):
            summary.add(verdict)
            if out is not None:
                out.write(("\n" if number == 0 else ",\n") + verdict_json(verdict))
            if on_verdict is not None:
                on_verdict(verdict)
        if not summary.kinds:
            raise InputError(f"{', '.join(map(str, paths))}: no problems to validate")
        if out is not None:
            out.write("\n]\n")
    return summary
