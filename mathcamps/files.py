"""Files in and out: data files read as UTF-8 (YAML strictly), and outputs that appear whole or not at all.

Every writer of the project goes through this module, and so keeps three promises: it never
replaces an existing output without `--force`, it never writes over one of its own inputs (not
even with `--force`), and when the file system refuses (a read-only or full folder) the user gets
one paragraph naming the file, while any earlier output is left exactly as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

import yaml

from mathcamps.errors import MathcampsError


class OutputError(MathcampsError):
    """An output that cannot be written as asked: the file system refuses, or it would replace an input."""


class OutputExists(OutputError):
    """An output that is already there and would be replaced without --force."""


# ---------------------------------------------------------------- reading data files


def read_text(path: Path, error: type[MathcampsError], what: str) -> str:
    """The text of a UTF-8 file; `error` (one paragraph, naming the file, and the line and column
    of a byte that is not UTF-8) if it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as problem:
        raise error(f"{path}: cannot read the {what}: {problem.strerror or problem}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as problem:
        line = data.count(b"\n", 0, problem.start) + 1
        column = problem.start - (data.rfind(b"\n", 0, problem.start) + 1) + 1
        raise error(
            f"{path}:{line}:{column}: the {what} is not UTF-8 text (byte 0x{data[problem.start]:02x}); "
            "save it as UTF-8"
        ) from None


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # the C parser where PyYAML has it
    """YAML's safe loader, refusing a key that a mapping gives twice (YAML would keep the last silently)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    seen = first.get(key)
                except TypeError:  # an unhashable key: the constructor says so itself
                    break
                if seen is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {key!r} is given twice (first on line {seen + 1})", key_node.start_mark
                    )
                first[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def yaml_error(path: Path, error: yaml.YAMLError) -> str:
    """A YAML mistake as `file:line:col: not valid YAML: what`."""
    mark = getattr(error, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
    return f"{where}: not valid YAML: {getattr(error, 'problem', None) or error}"


def read_yaml(path: Path, error: type[MathcampsError], what: str):
    """The data of a YAML file (UTF-8, no key given twice); `error` names file, line and column."""
    text = read_text(path, error, what)
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as problem:
        raise error(yaml_error(path, problem)) from None


class JsonLine(NamedTuple):
    """One line of a JSON-lines file: its number, its data (None when it could not be read), and why not."""

    number: int
    data: object
    problem: str | None = None


def json_lines(path: Path, error: type[MathcampsError], what: str = "file") -> Iterator[JsonLine]:
    """Every non-blank line of a JSON-lines file, read as UTF-8 and parsed; a line that is not
    UTF-8 or not JSON comes with its problem, so a reader can say which line it is and go on.
    `error` if the file cannot be opened."""
    try:
        stream = path.open("rb")
    except OSError as problem:
        raise error(f"{path}: cannot read the {what}: {problem.strerror or problem}") from None
    with stream:
        for number, raw in enumerate(stream, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as problem:
                yield JsonLine(number, None, f"not UTF-8 text (byte 0x{raw[problem.start]:02x} at column {problem.start + 1})")
                continue
            if not text.strip():
                continue
            try:
                yield JsonLine(number, json.loads(text))
            except json.JSONDecodeError as problem:
                yield JsonLine(number, None, f"not valid JSON: {problem.msg} (column {problem.colno})")
            except RecursionError:
                yield JsonLine(number, None, "not valid JSON: nested too deeply")


# ---------------------------------------------------------------- checking an output before writing it


def _overlap(target: Path, source: Path) -> str | None:
    """How an output path overlaps an input path, in words, or None."""
    if target == source:
        return "is the input"
    if source in target.parents:
        return "lies in the input folder"
    if target in source.parents:
        return "holds the input"
    return None


def check_output(target: Path, force: bool, inputs: Iterable[Path | None] = (), option: str = "--out") -> None:
    """OutputError if `target` is, holds or lies in one of `inputs` (never, even with --force), or
    OutputExists if it exists and `force` is not given."""
    resolved = Path(target).resolve()
    for source in inputs:
        how = _overlap(resolved, Path(source).resolve()) if source is not None else None
        if how is not None:
            raise OutputError(
                f"{option} {target}: it {how} {source}, and a command never writes over what it reads "
                f"(not even with --force): choose another {option}"
            )
    if Path(target).exists() and not force:
        raise OutputExists(f"{target}: already exists; pass --force to replace it, or choose another {option}")


def as_it_was(target: Path) -> str:
    """What a failed writer left of `target`, in words: the earlier file or folder, or none."""
    return f"the earlier {target} is as it was" if target.exists() else f"there is no {target}"


def _refused(target: Path, error: OSError, what: str = "") -> OutputError:
    name = f" {what}" if what else ""
    return OutputError(
        f"{target}: cannot write{name} ({error.strerror or error}); nothing was written, and any earlier "
        f"{target.name} is as it was"
    )


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------- a file written whole


class _Sink:
    """The text stream of an atomic file: a write the file system refuses is an OutputError naming the target."""

    def __init__(self, stream, target: Path):
        self._stream, self._target = stream, target

    def write(self, text: str | bytes) -> int:
        try:
            return self._stream.write(text)
        except OSError as error:
            raise _refused(self._target, error) from None


@contextlib.contextmanager
def _replacing(target: Path, binary: bool) -> Iterator:
    """A stream to a temporary file beside `target` that replaces it in one rename when the block
    ends; if the block raises, the temporary file is removed and `target` is as it was. The file
    gets the mode the umask gives a new file (0644 under umask 022)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{target.name}-", suffix=".tmp", dir=target.parent)
    except OSError as error:
        raise _refused(target, error) from None
    temporary = Path(name)
    try:
        os.fchmod(handle, 0o666 & ~_umask())
        text = {} if binary else {"encoding": "utf-8", "newline": "\n"}
        with os.fdopen(handle, "wb" if binary else "w", **text) as stream:
            yield stream
            try:
                stream.flush()
                os.fsync(stream.fileno())
            except OSError as error:
                raise _refused(target, error) from None
        try:
            os.replace(temporary, target)
        except OSError as error:
            raise _refused(target, error) from None
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_text(target: Path) -> Iterator[_Sink]:
    """A text stream whose contents replace `target` in one rename when the block ends; if the block
    raises, the temporary file is removed and `target` (or its absence) is as it was. The file gets
    the mode the umask gives a new file (0644 under umask 022)."""
    with _replacing(target, binary=False) as stream:
        yield _Sink(stream, target)


def atomic_bytes(target: Path, data: bytes) -> None:
    """Writes `data` to `target` whole or not at all (as atomic_text does for a text)."""
    with _replacing(target, binary=True) as stream:
        _Sink(stream, target).write(data)


# ---------------------------------------------------------------- a folder written whole

PARTIAL = ".partial-"  # a folder being written: `.NAME.partial-PID-TOKEN`
REPLACED = ".replaced-"  # a folder being replaced by --force, removed once the new one is in place


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(parent: Path) -> list[Path]:
    """Removes the hidden folders that killed writers left in `parent` (their process is gone)."""
    removed = []
    if not parent.is_dir():
        return removed
    for path in parent.iterdir():
        if not path.name.startswith(".") or not path.is_dir():
            continue
        for marker in (PARTIAL, REPLACED):
            _, found, rest = path.name.partition(marker)
            pid = rest.split("-", 1)[0]
            if found and pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def fsync_dir(path: Path) -> None:
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return  # some systems cannot open a folder; the rename is still atomic
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


class AtomicFolder:
    """A folder written under a hidden temporary name beside its target and renamed into place in one step.

    An error removes it; a killed process leaves only the hidden folder, which never looks like a
    release and which clean_stale removes. An existing target is replaced only with `force`, and only
    once the new folder is complete; a target that is or holds one of `inputs` is refused.
    """

    def __init__(self, target: Path, force: bool = False, inputs: Iterable[Path | None] = (), option: str = "--out"):
        self.target = target
        self.force = force
        check_output(target, force, inputs, option)
        if target.parent.exists() and not target.parent.is_dir():
            raise OutputError(f"{target.parent}: exists and is not a folder")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise _refused(target, error) from None
        clean_stale(target.parent)
        self.path = target.parent / f".{target.name}{PARTIAL}{os.getpid()}-{secrets.token_hex(4)}"

    def __enter__(self) -> Path:
        try:
            self.path.mkdir()
        except OSError as error:
            raise _refused(self.target, error) from None
        return self.path

    def __exit__(self, kind, error, traceback) -> None:
        if kind is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            if isinstance(error, OSError) and not isinstance(error, MathcampsError):
                raise self._refusal(error) from None
            return
        try:
            self._commit()
        except OSError as problem:
            shutil.rmtree(self.path, ignore_errors=True)
            raise self._refusal(problem) from None
        except BaseException:
            shutil.rmtree(self.path, ignore_errors=True)
            raise

    def _refusal(self, error: OSError) -> OutputError:
        name = Path(error.filename) if error.filename else None
        within = name is not None and self.path in name.parents
        return _refused(self.target, error, str(name.relative_to(self.path)) if within else "")

    def _commit(self) -> None:
        for folder in sorted({p for p in self.path.rglob("*") if p.is_dir()} | {self.path}, reverse=True):
            fsync_dir(folder)
        old = None
        if self.target.exists():
            if not self.force:
                raise OutputExists(f"{self.target}: appeared while this one was written; not replaced")
            old = self.target.parent / f".{self.target.name}{REPLACED}{os.getpid()}-{secrets.token_hex(4)}"
            os.rename(self.target, old)
        os.rename(self.path, self.target)
        fsync_dir(self.target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
