"""Errors that povsim reports to the user as a one-line message and exit code 2."""


class PovsimInputError(ValueError):
    """Bad input: a scenario file, a key path, a value or a command-line argument.

    The message names the file (or ``--set``), the key path and what is allowed.
    """
