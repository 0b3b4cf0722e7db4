"""Releases: problems of many standards, split and deduplicated, with a manifest and a dataset card, written
atomically; verified against their manifest, and compared.

Layout of `NAME-X.Y.Z/`: `data/train.jsonl` and `data/test.jsonl` (one `Problem.to_json()` a line, a
follow-up right after its original and the original's earlier follow-ups), `manifest.json` (what made the
release and what it holds, with the sha256 of every file) and `README.md` (the dataset card).

A problem goes to the test split when the sha256 of its original's program, read as a 64-bit fraction, is
below the test fraction; follow-ups go with their original. An original whose program an earlier original
of the release already has (of any standard) is dropped with its follow-ups and counted. Standards are
compiled one per task (in this process, or one per worker process, into shard files) and their problems
are streamed into the splits in curriculum order, so the bytes are the same for any number of workers.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

from pydantic import Field, ValidationError

from mathcamps import __version__
from mathcamps.errors import MathcampsError
from mathcamps.files import AtomicFolder, as_it_was
from mathcamps.language import grammar_dir
from mathcamps.records import SCHEMA_VERSION, Problem, ProblemKind
from mathcamps.registry import Registry, Standard, format_validation_error, grade_number, load_definition
from mathcamps.strict import Strict

from mathcamps.compiler.pipeline import Said, ShortOfProblems, StandardCompiler, Stats, inputs_of

MANIFEST_FILE = "manifest.json"
CARD_FILE = "README.md"
DATA_DIR = "data"
SPLITS = ("train", "test")
KINDS = tuple(kind.value for kind in ProblemKind)
MANIFEST_SCHEMA_VERSION = 1
DEFAULT_TEST_FRACTION = 0.2
SPLIT_RULE = (
    "test if the first 8 bytes of sha256(program of the original), as a fraction of 2^64, are below "
    "test_fraction, else train; follow-ups go with their original"
)
LIBRARIES = ("lark", "sympy", "z3-solver", "pydantic", "jinja2", "inflect", "PyYAML")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


class ReleaseError(MathcampsError):
    """A release that cannot be built, read or exported as asked."""


# ---------------------------------------------------------------- the manifest


class FileEntry(Strict):
    """One file of a release: its sha256, its size, and its number of records (lines) if it holds records."""

    sha256: str
    bytes: int
    records: int | None = None


class StandardEntry(Strict):
    """One standard of a release: what versions it and what it gave."""

    id: str
    grade: str
    domain: str
    text: str
    grammar: str = Field(description="the grammar's file name")
    grammar_sha256: str
    definition: str = Field(description="the definition's file name")
    definition_sha256: str
    templates_sha256: str = Field(description="sha256 of the names and sha256 of the frames and vocabulary it reads")
    requested: int = Field(description="originals asked for")
    compiled: dict[str, int] = Field(description="records the compiler made, by kind")
    duplicates: dict[str, int] = Field(
        description="records dropped because an earlier original has the same program and statement, or an "
        "earlier follow-up (of another standard) the same statement"
    )
    candidates: int
    rejections: dict[str, int] = Field(description="rejected candidates and number draws, by reason")
    counts: dict[str, dict[str, int]] = Field(description="records in the release, by split and kind")

    def total(self) -> int:
        return sum(sum(kinds.values()) for kinds in self.counts.values())


class Manifest(Strict):
    """What made a release and what it holds. Nothing here depends on the clock or the machine."""

    schema_version: int = MANIFEST_SCHEMA_VERSION
    record_schema_version: int = SCHEMA_VERSION
    name: str
    version: str
    mathcamps_version: str
    python: str
    libraries: dict[str, str]
    seed: int
    per_standard: int
    test_fraction: float
    split_rule: str = SPLIT_RULE
    core_grammar_sha256: str
    standards: list[StandardEntry]
    counts: dict[str, dict[str, int]] = Field(description="records by split and kind")
    records: int
    rejections: dict[str, int] = Field(description="all standards' rejections, by reason, most frequent first")
    files: dict[str, FileEntry] = Field(description="every file of the release but this manifest, by path")

    @property
    def release(self) -> str:
        return f"{self.name}-{self.version}"

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def read_manifest(folder: Path) -> Manifest:
    """The manifest of a release folder; ReleaseError names the file and field that are wrong."""
    path = folder / MANIFEST_FILE
    if not folder.is_dir():
        raise ReleaseError(f"{folder}: no such release folder")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ReleaseError(f"{path}: cannot read the manifest ({error.strerror}); is {folder} a release?") from None
    try:
        return Manifest.model_validate_json(raw)
    except ValidationError as error:
        raise ReleaseError(format_validation_error(path, error)) from None


# ---------------------------------------------------------------- splits and inputs


def duplicate_key(original: Problem | _Line) -> bytes:
    """What no two originals of a release share: the same program said in the same words is the same
    problem (one program told twice, as the standards that declare `unique: statement` do, is not;
    nor can it straddle the splits, which go by the program)."""
    return hashlib.sha256(f"{original.program}\x00{original.statement}".encode("utf-8")).digest()[:16]


def split_of(program: str, test_fraction: float) -> str:
    """The split of an original with this canonical program: a hash, never chance."""
    bucket = int.from_bytes(hashlib.sha256(program.encode("utf-8")).digest()[:8], "big")
    return "test" if bucket < int(test_fraction * 2**64) else "train"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def templates_sha256(standard: Standard, templates: Path | None) -> str:
    """A hash of the frames, vocabulary and phrasings files a standard's statements are rendered from."""
    from mathcamps.compiler.render import template_files

    digest = hashlib.sha256()
    for path in sorted(set(template_files(standard.definition.render, templates)), key=lambda p: p.name):
        digest.update(f"{path.name}\0{_sha256_file(path) if path.is_file() else 'missing'}\n".encode())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def check_name(name: str, version: str) -> str:
    """The folder name of a release, `NAME-X.Y.Z`; ReleaseError if either part is malformed."""
    if not _NAME.match(name):
        raise ReleaseError(f"--name {name!r}: use letters, digits, '.', '_' and '-', starting with a letter or digit")
    if not _VERSION.match(version):
        raise ReleaseError(f"--version {version!r}: a release version is X.Y.Z, three whole numbers (e.g. 1.0.0)")
    return f"{name}-{version}"


# ---------------------------------------------------------------- files of a release


def write_file(path: Path, text: str) -> FileEntry:
    """Writes a text file (UTF-8, \\n line ends) and fsyncs it; its entry for a manifest."""
    data = text.encode("utf-8")
    with path.open("wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    return FileEntry(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))


class RecordFile:
    """A JSONL file written line by line, hashed and counted as it is written."""

    def __init__(self, path: Path):
        self.path = path
        self.stream = path.open("wb")
        self.digest = hashlib.sha256()
        self.records = 0
        self.bytes = 0

    def write(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        self.stream.write(data)
        self.digest.update(data)
        self.records += 1
        self.bytes += len(data)

    def close(self) -> FileEntry:
        self.stream.flush()
        os.fsync(self.stream.fileno())
        self.stream.close()
        return FileEntry(sha256=self.digest.hexdigest(), bytes=self.bytes, records=self.records)

    def abandon(self) -> None:
        self.stream.close()


# ---------------------------------------------------------------- building


class _Line(NamedTuple):
    """One record as the release writer needs it: its JSON line and the fields that place it."""

    text: str
    id: str
    standard: str
    kind: str
    parent: str | None
    program: str
    statement: str


def _line_of(problem: Problem) -> _Line:
    return _Line(
        problem.to_json(), problem.id, problem.standard, problem.kind.value, problem.parent, problem.program,
        problem.statement,
    )


def _read_shard(path: Path) -> Iterator[_Line]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            text = line.rstrip("\n")
            raw = json.loads(text)
            yield _Line(text, raw["id"], raw["standard"], raw["kind"], raw["parent"], raw["program"], raw["statement"])


def _groups(lines: Iterable[_Line]) -> Iterator[list[_Line]]:
    """An original with its follow-ups, in the order the compiler made them."""
    group: list[_Line] = []
    for line in lines:
        if line.parent is None:
            if group:
                yield group
            group = [line]
        elif group and line.parent == group[0].id:
            group.append(line)
        else:
            raise RuntimeError(f"{line.id}: a follow-up of {line.parent} that does not come right after it")
    if group:
        yield group


@dataclass(frozen=True)
class _Task:
    definition_path: Path
    grammar_path: Path
    seed: int
    count: int
    templates: Path | None
    shard: Path


def _compiler(definition_path: Path, grammar_path: Path, seed: int, templates: Path | None) -> StandardCompiler:
    standard = Standard(load_definition(definition_path), definition_path, grammar_path)
    return StandardCompiler(standard, seed, templates)


def _compile_shard(task: _Task) -> Stats:
    """A worker's task: one standard, compiled wholly, written to its shard file."""
    compiler = _compiler(task.definition_path, task.grammar_path, task.seed, task.templates)
    with task.shard.open("w", encoding="utf-8", newline="\n") as out:
        for problem in compiler.problems(task.count):
            out.write(problem.to_json())
            out.write("\n")
    return compiler.stats


def _compiled(standards: list[Standard], per_standard: int, seed: int, templates: Path | None, workers: int,
              shards: Path) -> Iterator[tuple[Standard, Iterator[_Line], Callable[[], Stats]]]:
    """Each standard, in order, with its records as they are made and (once they are read) its stats."""
    if workers <= 1:
        for standard in standards:
            compiler = StandardCompiler(standard, seed, templates)
            yield standard, (_line_of(p) for p in compiler.problems(per_standard)), lambda c=compiler: c.stats
        return
    shards.mkdir()
    tasks = [
        _Task(s.definition_path, s.grammar_path, seed, per_standard, templates, shards / f"{i:04d}.jsonl")
        for i, s in enumerate(standards)
    ]
    method = "fork" if "fork" in get_all_start_methods() else "spawn"
    with get_context(method).Pool(min(workers, len(tasks))) as pool:
        for standard, task, stats in zip(standards, tasks, pool.imap(_compile_shard, tasks)):
            yield standard, _read_shard(task.shard), lambda s=stats: s
            task.shard.unlink()
    shards.rmdir()


@dataclass
class BuildResult:
    """A built release: where it is, its manifest, and what the builder should hear about it."""

    path: Path
    manifest: Manifest
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Tally:
    counts: dict[str, Counter] = field(default_factory=lambda: {split: Counter() for split in SPLITS})
    duplicates: Counter = field(default_factory=Counter)


def _nested(counters: dict[str, Counter]) -> dict[str, dict[str, int]]:
    return {split: {kind: counters[split][kind] for kind in KINDS} for split in SPLITS}


def build_release(
    standards: list[Standard],
    out_dir: Path,
    name: str,
    version: str,
    per_standard: int,
    seed: int,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    workers: int = 1,
    templates: Path | None = None,
    force: bool = False,
    on_standard: Callable[[StandardEntry], None] | None = None,
) -> BuildResult:
    """Compiles `per_standard` originals (with their follow-ups) of each standard into `out_dir/NAME-X.Y.Z/`.

    The bytes depend only on the inputs (standards, templates, seed, sizes, tool versions), not on
    `workers`; memory holds one problem group and the hashes of the programs emitted so far. A
    standard that makes fewer originals than asked stops the build (ShortOfProblems), and nothing
    is written."""
    folder_name = check_name(name, version)
    if not 0 <= test_fraction <= 1:
        raise ReleaseError(f"--test-fraction {test_fraction}: must lie between 0 and 1")
    if not standards:
        raise ReleaseError("no standards to build a release of")
    target = out_dir / folder_name
    inputs = [path for standard in standards for path in inputs_of(standard, templates)]
    try:
        manifest = _build(standards, target, force, inputs, name, version, per_standard, seed, test_fraction,
                          workers, templates, on_standard)
    except ShortOfProblems as error:
        raise ShortOfProblems(f"{error} No release was written: {as_it_was(target)}.") from None
    return BuildResult(target, manifest, _warnings(manifest))


def _warnings(manifest: Manifest) -> list[str]:
    """What a built release lacks that its user may not expect: an empty split, a standard with no records."""
    warnings = []
    originals = sum(manifest.counts[split].get("original", 0) for split in SPLITS)
    for split in SPLITS:
        if not sum(manifest.counts[split].values()):
            other = next(s for s in SPLITS if s != split)
            warnings.append(
                f"the {split} split of {manifest.release} is empty: each of its {originals:,} originals hashed to "
                f"{other} (test fraction {manifest.test_fraction:g}); build more problems, or change --test-fraction"
            )
    for entry in manifest.standards:
        if not entry.total():
            warnings.append(f"{entry.id} has no record in {manifest.release}: each of its problems was a duplicate "
                            "of an earlier standard's")
    return warnings


def _build(standards, target, force, inputs, name, version, per_standard, seed, test_fraction, workers, templates,
           on_standard) -> Manifest:
    from mathcamps.compiler.card import render_card

    entries: list[StandardEntry] = []
    examples: dict[str, list[Problem]] = {}  # the first group of each grade, for the card
    seen: set[bytes] = set()
    said = Said()  # no two follow-ups of a release say the same words
    with AtomicFolder(target, force, inputs) as folder:
        (folder / DATA_DIR).mkdir()
        files = {split: RecordFile(folder / DATA_DIR / f"{split}.jsonl") for split in SPLITS}
        try:
            for standard, lines, stats_of in _compiled(
                standards, per_standard, seed, templates, workers, folder / ".shards"
            ):
                tally = _Tally()
                for group in _groups(lines):
                    original = group[0]
                    key = duplicate_key(original)
                    if key in seen:
                        tally.duplicates.update(line.kind for line in group)
                        continue
                    seen.add(key)
                    split = split_of(original.program, test_fraction)
                    for line in group:
                        if not said.first(line):  # an earlier standard asked it, word for word
                            tally.duplicates[line.kind] += 1
                            continue
                        files[split].write(line.text)
                        tally.counts[split][line.kind] += 1
                    if standard.grade not in examples:
                        examples[standard.grade] = [Problem.model_validate_json(line.text) for line in group]
                entry = _entry(standard, stats_of(), tally, per_standard, templates)
                entries.append(entry)
                if on_standard is not None:
                    on_standard(entry)
            file_entries = {f"{DATA_DIR}/{split}.jsonl": files[split].close() for split in SPLITS}
        except BaseException:
            for record_file in files.values():
                record_file.abandon()
            raise
        manifest = _manifest(name, version, seed, per_standard, test_fraction, entries, file_entries)
        card = render_card(manifest, [examples[g] for g in sorted(examples, key=grade_number)])
        file_entries[CARD_FILE] = write_file(folder / CARD_FILE, card)
        manifest = manifest.model_copy(update={"files": dict(sorted(file_entries.items()))})
        write_file(folder / MANIFEST_FILE, manifest.to_json())
    return manifest


def _entry(standard: Standard, stats: Stats, tally: _Tally, per_standard: int, templates: Path | None) -> StandardEntry:
    d = standard.definition
    compiled = Counter({ProblemKind.original.value: stats.problems})
    compiled.update(stats.followups)
    return StandardEntry(
        id=standard.id,
        grade=d.grade,
        domain=d.domain,
        text=d.text,
        grammar=standard.grammar_path.name,
        grammar_sha256=standard.grammar_sha256,
        definition=standard.definition_path.name,
        definition_sha256=standard.definition_sha256,
        templates_sha256=templates_sha256(standard, templates),
        requested=per_standard,
        compiled={kind: compiled[kind] for kind in KINDS},
        duplicates={kind: tally.duplicates[kind] for kind in KINDS},
        candidates=stats.candidates,
        rejections=dict(sorted(stats.rejections.items())),
        counts=_nested(tally.counts),
    )


def _manifest(name, version, seed, per_standard, test_fraction, entries, files) -> Manifest:
    counts = {split: Counter() for split in SPLITS}
    rejections: Counter = Counter()
    for entry in entries:
        for split in SPLITS:
            counts[split].update(entry.counts[split])
        rejections.update(entry.rejections)
    core = grammar_dir() / "core.lark"
    return Manifest(
        name=name,
        version=version,
        mathcamps_version=__version__,
        python=platform.python_version(),
        libraries=library_versions(),
        seed=seed,
        per_standard=per_standard,
        test_fraction=test_fraction,
        core_grammar_sha256=_sha256_file(core) if core.is_file() else "missing",
        standards=entries,
        counts=_nested(counts),
        records=sum(sum(c.values()) for c in counts.values()),
        rejections=dict(sorted(rejections.items(), key=lambda item: (-item[1], item[0]))),
        files=files,
    )


# ---------------------------------------------------------------- verifying


@dataclass
class Verification:
    """What `verify` found: one line per thing that is wrong (each names its file), and the validation."""

    manifest: Manifest
    problems: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # records read, by file
    validation: object | None = None  # compiler.validate.Summary

    @property
    def ok(self) -> bool:
        return not self.problems


MAX_PROBLEMS_SHOWN = 20


def verify_release(
    folder: Path, workers: int = 1, validate: bool = True, on_verdict=None, registry: Registry | None = None
) -> Verification:
    """Checks a release against its manifest: every file's sha256, size and record count, the counts per
    standard, kind and split, the split and order of every record, no repeated original; then every
    answer with the validator (parse, sympy, z3), against the standards of `registry` (default: the
    built-in ones)."""
    manifest = read_manifest(folder)
    report = Verification(manifest)
    problems = report.problems
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative != MANIFEST_FILE and relative not in manifest.files:
            problems.append(f"{relative}: not listed in {MANIFEST_FILE}")
    for relative, entry in manifest.files.items():
        path = folder / relative
        if not path.is_file():
            problems.append(f"{relative}: listed in {MANIFEST_FILE} but missing")
            continue
        size = path.stat().st_size
        digest = _sha256_file(path)
        if digest != entry.sha256:
            problems.append(f"{relative}: sha256 {digest} differs from the manifest's {entry.sha256}")
        if size != entry.bytes:
            problems.append(f"{relative}: {size} bytes, the manifest says {entry.bytes}")
    data_files = [f"{DATA_DIR}/{split}.jsonl" for split in SPLITS]
    for relative in data_files:
        if relative not in manifest.files:
            problems.append(f"{relative}: a release needs it, and {MANIFEST_FILE} does not list it")
    counted = _check_records(folder, manifest, problems, report.checked)
    _check_counts(manifest, counted, problems)
    if not manifest.records or not manifest.standards:
        problems.append(f"{MANIFEST_FILE}: the release holds no records; an empty release is never a good one")
    for entry in manifest.standards:
        made = entry.compiled.get(ProblemKind.original.value, 0)
        if made < entry.requested:
            problems.append(f"{MANIFEST_FILE}: {entry.id} made {made:,} of the {entry.requested:,} originals asked; "
                            "a release is built whole")
    present = [folder / r for r in data_files if (folder / r).is_file()]
    if validate and present and manifest.records:
        from mathcamps.compiler.validate import AGREES, run

        failures: list[str] = []

        def note(verdict) -> None:
            if verdict.verdict != AGREES and len(failures) < MAX_PROBLEMS_SHOWN:
                failures.append(f"{verdict.source}: {verdict.id}: {verdict.verdict}: {verdict.reason}")
            if on_verdict is not None:
                on_verdict(verdict)

        summary = run(present, workers, None, note, registry)
        report.validation = summary
        total = summary.total()
        bad = sum(total.values()) - total[AGREES]
        if bad:
            problems.append(f"validate: {bad} of {sum(total.values())} problems do not agree with their answers")
            problems.extend(failures)
    return report


def _check_records(folder: Path, manifest: Manifest, problems: list[str], checked: dict[str, int]) -> dict:
    """Reads every record once: its schema, split, order and program; the counts by standard, split, kind."""
    counted: dict[str, dict[str, Counter]] = {}
    known = {entry.id for entry in manifest.standards}
    seen: set[bytes] = set()
    shown = Counter()

    def wrong(relative: str, message: str) -> None:
        shown[relative] += 1
        if shown[relative] <= MAX_PROBLEMS_SHOWN:
            problems.append(f"{relative}: {message}")
        elif shown[relative] == MAX_PROBLEMS_SHOWN + 1:
            problems.append(f"{relative}: more records are wrong; only the first {MAX_PROBLEMS_SHOWN} are shown")

    for split in SPLITS:
        relative = f"{DATA_DIR}/{split}.jsonl"
        path = folder / relative
        if not path.is_file():
            continue
        original: Problem | None = None
        records = 0
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                records += 1
                try:
                    problem = Problem.model_validate_json(line)
                except ValidationError as error:
                    first = error.errors()[0]
                    where = ".".join(map(str, first["loc"])) or "record"
                    wrong(f"{relative}:{number}", f"not a problem record ({where}: {first['msg']})")
                    original = None
                    continue
                place = f"{relative}:{number}"
                if problem.standard not in known:
                    wrong(place, f"{problem.id}: standard {problem.standard} is not in the manifest")
                if problem.parent is None:
                    original = problem
                    key = duplicate_key(problem)
                    if key in seen:
                        wrong(place, f"{problem.id}: an earlier original has the same program and statement")
                    seen.add(key)
                    if split_of(problem.program, manifest.test_fraction) != split:
                        wrong(place, f"{problem.id}: its program hashes to the other split")
                elif original is None or problem.parent != original.id:
                    wrong(place, f"{problem.id}: a follow-up of {problem.parent}, which is not the original above it")
                counted.setdefault(problem.standard, {s: Counter() for s in SPLITS})[split][problem.kind.value] += 1
        checked[relative] = records
        entry = manifest.files.get(relative)
        if entry is not None and entry.records != records:
            problems.append(f"{relative}: {records} records, the manifest says {entry.records}")
    return counted


def _check_counts(manifest: Manifest, counted: dict, problems: list[str]) -> None:
    totals = {split: Counter() for split in SPLITS}
    for entry in manifest.standards:
        found = counted.get(entry.id, {s: Counter() for s in SPLITS})
        for split in SPLITS:
            totals[split].update(found[split])
            for kind in KINDS:
                expected = entry.counts.get(split, {}).get(kind, 0)
                if found[split][kind] != expected:
                    problems.append(
                        f"{DATA_DIR}/{split}.jsonl: {entry.id} has {found[split][kind]} {kind} records, "
                        f"the manifest says {expected}"
                    )
    for split in SPLITS:
        for kind in KINDS:
            expected = manifest.counts.get(split, {}).get(kind, 0)
            if totals[split][kind] != expected:
                problems.append(
                    f"{MANIFEST_FILE}: counts.{split}.{kind} is {expected}, the standards' counts add up to "
                    f"{totals[split][kind]}"
                )
    if manifest.records != sum(sum(c.values()) for c in totals.values()):
        problems.append(f"{MANIFEST_FILE}: records is {manifest.records}, the files hold "
                        f"{sum(sum(c.values()) for c in totals.values())}")


# ---------------------------------------------------------------- comparing


@dataclass(frozen=True)
class StandardChange:
    """How one standard differs between two releases."""

    id: str
    status: str  # added, removed, changed, same
    changed: tuple[str, ...]  # which of grammar, definition, templates changed
    before: int | None  # records in the first release
    after: int | None


@dataclass(frozen=True)
class ReleaseDiff:
    """Two releases compared: their settings and their standards."""

    before: str
    after: str
    settings: list[tuple[str, str, str]]  # (field, before, after), only where they differ
    standards: list[StandardChange]

    def of(self, status: str) -> list[StandardChange]:
        return [s for s in self.standards if s.status == status]


def diff_releases(a: Path, b: Path) -> ReleaseDiff:
    """What changed from release `a` to release `b`, from their manifests."""
    before, after = read_manifest(a), read_manifest(b)
    settings = []
    for name in ("name", "version", "mathcamps_version", "python", "seed", "per_standard", "test_fraction",
                 "core_grammar_sha256", "record_schema_version", "records"):
        x, y = getattr(before, name), getattr(after, name)
        if x != y:
            settings.append((name, str(x), str(y)))
    for library in sorted(set(before.libraries) | set(after.libraries)):
        x, y = before.libraries.get(library, "-"), after.libraries.get(library, "-")
        if x != y:
            settings.append((library, x, y))
    old = {entry.id: entry for entry in before.standards}
    new = {entry.id: entry for entry in after.standards}
    order = [entry.id for entry in before.standards] + [i for i in new if i not in old]
    changes = []
    for standard in order:
        x, y = old.get(standard), new.get(standard)
        if x is None:
            changes.append(StandardChange(standard, "added", (), None, y.total()))
        elif y is None:
            changes.append(StandardChange(standard, "removed", (), x.total(), None))
        else:
            changed = tuple(
                part
                for part in ("grammar", "definition", "templates")
                if getattr(x, f"{part}_sha256") != getattr(y, f"{part}_sha256")
            )
            status = "changed" if changed else "same"
            changes.append(StandardChange(standard, status, changed, x.total(), y.total()))
    return ReleaseDiff(before.release, after.release, settings, changes)


def data_files(folder: Path) -> dict[str, Path]:
    """The data file of each split of a release."""
    return {split: folder / DATA_DIR / f"{split}.jsonl" for split in SPLITS}
