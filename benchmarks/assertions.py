"""Which tests never reach an assertion: run the suite counting, per test, the checks it made.

Usage::

    python benchmarks/assertions.py                 # the whole suite (about as long as a plain pytest)
    python benchmarks/assertions.py tests/test_parameters.py -k bounds    # any pytest arguments

A check is an ``assert`` statement that passed (pytest's assertion-pass hook), a ``pytest.raises`` or
``pytest.warns`` block, or a numpy or pandas ``assert_*`` helper (the counting lives in
``tests/conftest.py`` and is off unless ``POVSIM_COUNT_ASSERTIONS`` names a file). The script clears
the tests' cached bytecode first, because pytest rewrites assertions when it compiles a test module and
a cached module compiled without the hook would count nothing. It prints the tests that made no check,
grouped by test function, and exits 1 if there are any, 0 if none.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    for cached in (ROOT / "tests").rglob("__pycache__"):
        for pyc in cached.glob("*.pyc"):
            pyc.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        counts = Path(tmp) / "counts.tsv"
        env = {**os.environ, "POVSIM_COUNT_ASSERTIONS": str(counts)}
        args = ["-q", "-p", "no:cacheprovider", "-o", "enable_assertion_pass_hook=true", *(argv or ["tests"])]
        code = subprocess.call([sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env)
        if not counts.exists():
            print(f"pytest exited {code} before any test ran", file=sys.stderr)
            return 2
        rows = [line.split("\t", 1) for line in counts.read_text().splitlines()]
    total = len(rows)
    zero = [node for n, node in rows if int(n) == 0]
    checks = sum(int(n) for n, _ in rows)
    print(f"\n{total:,} tests ran, {checks:,} checks; {len(zero)} made none (pytest exited {code})")
    for function, n in sorted(Counter(node.split("[", 1)[0] for node in zero).items()):
        print(f"  {n:4d}  {function}")
    return 1 if zero else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
