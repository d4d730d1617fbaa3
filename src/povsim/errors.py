"""Errors that povsim reports to the user as one line and an exit code, without a traceback.

Every command ends its errors at one edge (:func:`povsim.cli.main`), which maps them to exit codes:

* :class:`PovsimInputError` — bad input: a scenario file, a key path, a value, a command-line
  argument, an output path that cannot be a folder. Exit code 2.
* :class:`PovsimEnvironmentError` — the machine refused: the disk is full, a file or folder may
  not be read or written, the file system is read-only. Exit code 3.

:func:`os_error` turns an ``OSError`` into the one of the two it stands for, naming the path.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

EXIT_INPUT = 2
"""Exit code of bad input."""
EXIT_ENVIRONMENT = 3
"""Exit code of an environment problem (disk full, permission, read-only file system)."""


class PovsimError(Exception):
    """An error povsim reports as one line (the message) and :attr:`exit_code`."""

    exit_code = 1


class PovsimInputError(PovsimError, ValueError):
    """Bad input: a scenario file, a key path, a value or a command-line argument.

    The message names the file (or ``--set``), the key path and what is allowed.
    """

    exit_code = EXIT_INPUT


class PovsimEnvironmentError(PovsimError):
    """The environment refused an operation: no space left, no permission, a read-only file system.

    The message names the path and the problem. Rerunning after fixing the machine is enough.
    """

    exit_code = EXIT_ENVIRONMENT


INPUT_ERRNOS = frozenset(
    {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.EEXIST, errno.ELOOP, errno.EINVAL}
)
"""``OSError`` numbers that mean the path given was wrong (bad input) rather than the machine refusing."""

_PLAIN = {
    errno.ENOSPC: "no space left on the device (disk full)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "is a folder",
}


def os_error(exc: OSError, path: str | os.PathLike[str] | None = None, action: str = "") -> PovsimError:
    """The povsim error an ``OSError`` stands for: one line naming the path and the problem.

    Args:
        exc: the operating system's error.
        path: the file or folder concerned (default: the one the error names).
        action: what was being done, e.g. ``"cannot write"`` (put before the problem).

    Returns:
        A :class:`PovsimInputError` when the path itself was wrong (missing, not a folder, a
        folder where a file was expected), else a :class:`PovsimEnvironmentError`.
    """
    if isinstance(exc, PovsimError):
        return exc
    where = path if path is not None else exc.filename
    problem = _PLAIN.get(exc.errno or -1) or exc.strerror or str(exc) or type(exc).__name__
    text = f"{action}: {problem}" if action else problem
    message = f"{Path(where)}: {text}" if where is not None else text
    kind = PovsimInputError if exc.errno in INPUT_ERRNOS else PovsimEnvironmentError
    return kind(message)
