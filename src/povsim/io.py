"""Atomic output: a file is either absent or complete, never half-written, and a folder built with
:func:`build_folder` and :func:`swap_in` is either the previous one or the new one, never a mixture.

Every write goes through :func:`_write_all` (tests replace it to simulate a full disk), and every
``OSError`` of reading or writing is reported as a one-line povsim error naming the path
(:func:`povsim.errors.os_error`): exit code 3 for a full disk or a refused permission, 2 for a
path that cannot be what it should (a file where a folder is needed)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from povsim.errors import PovsimEnvironmentError, PovsimError, PovsimInputError, os_error


def _write_all(path: Path, fh: BinaryIO, data: bytes) -> int:
    """The one low-level write of every povsim output file: ``data`` appended to the temporary file
    ``fh`` that becomes ``path`` (a seam for tests, which replace it to simulate a full disk)."""
    return fh.write(data)


class _File:
    """What a writer callable of :func:`atomic_write` writes to: ``write(bytes)`` only."""

    def __init__(self, path: Path, fh: BinaryIO):
        self._path = path
        self._fh = fh

    def write(self, data: bytes) -> int:
        return _write_all(self._path, self._fh, bytes(data))


def atomic_write(path: str | Path, write: Callable[[BinaryIO], Any]) -> Path:
    """Write ``path`` through a temporary file in the same folder, then rename it into place.

    ``write`` is called with an object whose ``write(bytes)`` appends to the temporary file.

    Raises:
        PovsimEnvironmentError: the disk is full, or the folder may not be written (nothing is
            left behind: the temporary file is removed).
        PovsimInputError: the path cannot be a file (a folder is in its place, or a file in
            place of one of its folders).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise os_error(exc, path, "cannot write") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(_File(path, fh))
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise os_error(exc, path, "cannot write") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def build_folder(final: Path) -> Path:
    """A new hidden folder beside ``final`` to build its contents in (with ordinary permissions);
    put it in place with :func:`swap_in`, and remove it if building fails.

    Raises:
        PovsimEnvironmentError, PovsimInputError: the folder beside ``final`` cannot be created.
    """
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        built = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.tmp-"))
    except OSError as exc:
        raise os_error(exc, final, "cannot create the output folder") from None
    umask = os.umask(0)
    os.umask(umask)
    built.chmod(0o777 & ~umask)
    return built


def swap_in(built: Path, final: Path) -> None:
    """Put the complete folder ``built`` at ``final``, replacing what was there.

    If the swap fails, the previous folder is put back where it was.
    """
    old = None
    try:
        if final.exists():
            old = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.old-"))
            os.replace(final, old / final.name)
        os.replace(built, final)
    except OSError as exc:
        if old is not None and (old / final.name).exists() and not final.exists():
            os.replace(old / final.name, final)
        raise os_error(exc, final, "cannot replace the folder") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def final_paths(paths: Iterable[Path], built: Path, final: Path) -> list[Path]:
    """Where files written into the folder ``built`` are once it is swapped in at ``final``
    (:func:`replacing_folder`); paths outside ``built`` are returned as they are."""
    return [final / p.relative_to(built) if p.is_relative_to(built) else p for p in paths]


@contextlib.contextmanager
def replacing_folder(final: Path) -> Iterator[Path]:
    """Build the folder ``final`` in a new folder beside it (:func:`build_folder`) and, when the block
    ends without error, swap it in whole (:func:`swap_in`); on any error the built folder is removed
    and ``final`` is left as it was. Errors name the files at ``final``, not in the hidden folder."""
    built = build_folder(final)
    try:
        try:
            yield built
        except PovsimError as exc:
            raise type(exc)(str(exc).replace(str(built), str(final))) from None
        swap_in(built, final)
    finally:
        shutil.rmtree(built, ignore_errors=True)


def check_out_folder(path: str | Path, option: str = "--out", replaceable: Collection[str] | None = None) -> Path:
    """Check, before any model runs, that ``path`` can become an output folder.

    Args:
        path: the output folder.
        option: how the user gave it (``--out``, or ``name`` of a scenario file), for messages.
        replaceable: when the folder is replaced whole (:func:`swap_in`), the names of the files
            it may already hold (a previous output of the same command); an existing folder holding
            anything else is refused, so nobody's folder is ever swapped away. None: not replaced.

    Raises:
        PovsimInputError: ``path`` or one of its folders is a file, or the folder holds other files.
        PovsimEnvironmentError: the nearest existing folder may not be written (permission,
            read-only file system).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise PovsimInputError(f"{option} {path}: exists and is not a folder")
    if replaceable is not None and path.is_dir():
        try:
            others = sorted(p.name for p in path.iterdir() if not p.name.startswith(".") and p.name not in replaceable)
        except OSError as exc:
            raise os_error(exc, path, f"{option}: cannot list") from None
        if others:
            raise PovsimInputError(
                f"{option} {path}: the folder holds files of something else ({', '.join(others[:3])}"
                f"{', ...' if len(others) > 3 else ''}) and would be replaced whole; choose another {option}"
            )
    parent = path
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise PovsimInputError(f"{option} {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        read_only = hasattr(os, "statvfs") and bool(os.statvfs(parent).f_flag & getattr(os, "ST_RDONLY", 1))
        problem = "read-only file system" if read_only else "permission denied"
        raise PovsimEnvironmentError(f"{option} {path}: cannot write in {parent}: {problem}")
    return path


def read_text(path: str | Path, what: str = "file") -> str:
    """A UTF-8 text file's contents, with one-line errors naming the file.

    Raises:
        PovsimInputError: no such file, a folder in its place, or not UTF-8 text.
        PovsimEnvironmentError: the file may not be read.
    """
    path = Path(path)
    if path.is_dir():
        raise PovsimInputError(f"{path}: is a folder, not a {what}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PovsimInputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise os_error(exc, path, f"cannot read the {what}") from None


def write_bytes(data: bytes, path: str | Path) -> Path:
    """Write bytes (a PNG figure, an encoded text), atomically."""
    return atomic_write(path, lambda fh: fh.write(data))


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame as CSV, atomically."""
    return atomic_write(path, lambda fh: fh.write(df.to_csv(index=False, lineterminator="\n").encode("utf-8")))


def write_json(data: Any, path: str | Path) -> Path:
    """Write JSON (UTF-8, indented), atomically."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
