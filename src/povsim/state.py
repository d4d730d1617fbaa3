"""Declared household state: which phase of the year owns, modifies and reads each column.

Every phase of :meth:`PovertyModel.step <povsim.model.PovertyModel.step>` — a household rule, a
programme, the registry, governance, the reporting — declares, in its own module, the household
columns it **owns** (it is their writer; the population builder sets them first), those it
**modifies** (owned by another phase, changed here as well: relocation moves a household's earnings,
which the economy grows) and those it **reads**. A programme's own per-household arrays are
*states* in the household table, namespaced by their module (``relocation.year_moved``), and appear
in :meth:`Households.table <povsim.households.Households.table>`.

With checking on (the test suite, ``povsim run --check-state`` or ``POVSIM_CHECK_STATE=1``), each
phase runs inside :meth:`StateGuard.phase`: every column it may not write is made read-only
(``ndarray.flags.writeable = False``), so an undeclared in-place write fails where it is made, and
rebinding a column or reading one the phase did not declare raises :class:`UndeclaredState`. Outside
the phases (between steps, in a notebook) nothing is locked. With checking off the guard costs
nothing and changes nothing. ``povsim params --states`` prints every declaration.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from povsim.households import Households

CHECK_ENV = "POVSIM_CHECK_STATE"
"""Environment variable that turns checking on (``1``) for every model made in the process (and in the
worker processes it starts)."""


class UndeclaredState(AssertionError):
    """A phase read or rebound a household column it did not declare."""


@dataclass(frozen=True)
class Declaration:
    """What one phase of the year does to the household table.

    Attributes:
        phase: the phase's name, as ``povsim params --states`` prints it (a programme's is its channel).
        owns: columns this phase writes and no other phase owns (the population builder sets them
            first; the means-tested floor's and the economy's columns are theirs, whoever else changes them).
        modifies: columns owned by another phase that this one also changes.
        reads: columns it reads and does not write.
        doc: one line on what the phase does with them.
    """

    phase: str
    owns: tuple[str, ...] = ()
    modifies: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    doc: str = ""

    @cached_property
    def writes(self) -> frozenset[str]:
        """The columns the phase may write: those it owns or modifies."""
        return frozenset(self.owns) | frozenset(self.modifies)

    @cached_property
    def uses(self) -> frozenset[str]:
        """Every column the phase may touch."""
        return self.writes | frozenset(self.reads)


def checking_by_default() -> bool:
    """Whether ``POVSIM_CHECK_STATE`` asks for checking."""
    return os.environ.get(CHECK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


class StateGuard:
    """Runs phases under their declarations (a no-op unless ``enabled``).

    Args:
        households: the household table to guard.
        enabled: lock and check (see the module's description).
    """

    def __init__(self, households: Households, enabled: bool = False):
        self.households = households
        self.enabled = bool(enabled)
        self._stack: list[Declaration] = []
        if self.enabled:
            households.guard(self)

    @property
    def current(self) -> Declaration | None:
        """The declaration of the phase running now, if any."""
        return self._stack[-1] if self._stack else None

    @contextmanager
    def phase(self, declaration: Declaration) -> Iterator[None]:
        """Run the body as ``declaration``'s phase. Phases nest: a request one module makes of
        another (the province's check asking the registry to re-register) runs as the owner's phase
        and returns to the caller's."""
        if not self.enabled:
            yield
            return
        self._stack.append(declaration)
        self._lock(declaration)
        try:
            yield
        finally:
            self._stack.pop()
            outer = self.current
            if outer is None:
                self._unlock()
            else:
                self._lock(outer)

    def _lock(self, declaration: Declaration) -> None:
        allowed = declaration.writes
        for name, array in self.households.columns().items():
            array.flags.writeable = name in allowed

    def _unlock(self) -> None:
        for array in self.households.columns().values():
            array.flags.writeable = True

    # called by Households while checking is on
    def check_read(self, name: str) -> None:
        declaration = self.current
        if declaration is not None and name not in declaration.uses:
            raise UndeclaredState(
                f"phase {declaration.phase!r} reads household column {name!r}, which it does not declare "
                "(add it to the phase's reads)"
            )

    def check_rebind(self, name: str) -> None:
        declaration = self.current
        if declaration is not None and name not in declaration.writes:
            raise UndeclaredState(
                f"phase {declaration.phase!r} replaces household column {name!r}, which it neither owns nor modifies"
            )


def owners(declarations: Sequence[Declaration]) -> dict[str, list[str]]:
    """Column → the phases that declare they own it."""
    out: dict[str, list[str]] = {}
    for d in declarations:
        for name in d.owns:
            out.setdefault(name, []).append(d.phase)
    return out


def states_table(declarations: Sequence[Declaration], pattern: str = "") -> str:
    """The declarations as readable text (``povsim params --states``); with ``pattern``, only the
    phases that use a column whose name contains it."""
    lines = []
    for d in declarations:
        if pattern and not any(pattern in name for name in d.uses):
            continue
        lines.append(f"{d.phase}: {d.doc}" if d.doc else d.phase)
        for label, names in (("owns", d.owns), ("modifies", d.modifies), ("reads", d.reads)):
            lines.append(f"  {label:<9}" + (", ".join(names) if names else "—"))
    return "\n".join(lines)


def markdown_table(declarations: Sequence[Declaration]) -> str:
    """The declarations as a Markdown table (docs/model.md holds it; a test keeps the two equal)."""

    def cell(names: tuple[str, ...]) -> str:
        return ", ".join(f"`{n}`" for n in names) if names else "—"

    rows = ["| phase | owns | modifies | reads |", "|---|---|---|---|"]
    rows += [f"| {d.phase} | {cell(d.owns)} | {cell(d.modifies)} | {cell(d.reads)} |" for d in declarations]
    return "\n".join(rows)
