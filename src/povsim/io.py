"""Atomic output: a file is either absent or complete, never half-written, and a folder built with
:func:`build_folder` and :func:`swap_in` is either the previous one or the new one, never a mixture."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd


def atomic_write(path: str | Path, write: Callable[[BinaryIO], Any]) -> Path:
    """Write ``path`` through a temporary file in the same folder, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def build_folder(final: Path) -> Path:
    """A new hidden folder beside ``final`` to build its contents in (with ordinary permissions);
    put it in place with :func:`swap_in`, and remove it if building fails."""
    final.parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.tmp-"))
    umask = os.umask(0)
    os.umask(umask)
    built.chmod(0o777 & ~umask)
    return built


def swap_in(built: Path, final: Path) -> None:
    """Put the complete folder ``built`` at ``final``, replacing what was there."""
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.old-"))
        os.replace(final, old / final.name)
    os.replace(built, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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
