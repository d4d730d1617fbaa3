"""Helpers shared by the benchmarks: machine facts, fresh-subprocess runs, tables.

Not part of the package and never run by the test suite. Every benchmark measures each
configuration in a fresh Python process, so that one configuration's memory (numpy arrays,
the allocator's retained heap) does not inflate the next one's peak.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GIB = 1024**3
MIB = 1024**2


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss_bytes() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_seconds() -> tuple[float, float]:
    """(user, system) CPU seconds of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


def machine() -> dict[str, str]:
    """The facts a reader needs to compare figures: cores, memory, CPU, versions, BLAS setting."""
    import mesa
    import numpy as np

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "cores (os.cpu_count)": str(os.cpu_count()),
        "memory": mem,
        "cpu": cpu,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mesa": mesa.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "unset"),
        "malloc env": " ".join(f"{k}={v}" for k, v in os.environ.items() if k.startswith("MALLOC_")) or "default",
        "transparent hugepages": _thp(),
        "povsim commit": git_state(),
        "src hash": src_hash(),
    }


def _thp() -> str:
    try:
        text = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
        return text[text.index("[") + 1 : text.index("]")]
    except (OSError, ValueError):
        return "unknown"


def mem_available_bytes() -> int:
    """MemAvailable from /proc/meminfo (what can be allocated without swapping or OOM)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable"):
            return int(line.split()[1]) * 1024
    return 0


HEAP_MALLOC_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(64 * GIB)}
"""glibc settings that keep freed large numpy buffers in the heap for reuse instead of returning
them to the kernel (mmap/munmap), so a fresh temporary does not page-fault and re-zero memory."""


def src_hash() -> str:
    """A short hash of the package source, to tell apart runs of a working tree that changed."""
    import hashlib

    h = hashlib.sha1()
    for path in sorted((REPO / "src" / "povsim").rglob("*")):
        if path.suffix in (".py", ".toml"):
            h.update(path.read_bytes())
    return h.hexdigest()[:10]


def git_state() -> str:
    """The checked-out commit, marked ``+dirty`` when src/ has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def print_machine() -> None:
    print("machine: " + "; ".join(f"{k} {v}" for k, v in machine().items()))


def command_line() -> str:
    """The command that reproduces this run, as typed from the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script_text = str(script.relative_to(REPO))
    except ValueError:
        script_text = str(script)
    return shlex.join(["python", script_text, *sys.argv[1:]])


def run_child(script: str, args: list[str], timeout: float | None = None, env: dict | None = None) -> dict:
    """Run ``python SCRIPT ARGS`` in a fresh process and return the JSON object it prints last.

    The child measures itself (wall time, peak RSS via ``getrusage(RUSAGE_SELF)``), so each
    configuration's peak memory is its own.
    """
    cmd = [sys.executable, str(REPO / "benchmarks" / script), *args]
    t0 = time.perf_counter()
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=full_env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    last = [line for line in proc.stdout.splitlines() if line.startswith("{")][-1]
    out = json.loads(last)
    out["process_wall_s"] = wall
    return out


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A plain-text table. ``columns`` are (key, header, format) with format like ``{:,.0f}``."""
    cells = [[h for _, h, _ in columns]]
    for row in rows:
        line = []
        for key, _, fmt in columns:
            v = row.get(key)
            line.append("" if v is None else (fmt.format(v) if not isinstance(v, str) else v))
        cells.append(line)
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    out = []
    for i, r in enumerate(cells):
        out.append("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def emit(obj: dict) -> None:
    """Print a child's result as one JSON line (the parent reads the last such line)."""
    print(json.dumps(obj), flush=True)
