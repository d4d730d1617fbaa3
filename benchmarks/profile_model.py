"""Where the full model's time and memory go, phase by phase.

Wraps (without editing ``src/``) the functions ``PovertyModel`` calls for each phase of the
year — population build, demography, economy, shocks, migration, living conditions, each
programme channel, income realisation, measurement, registry, attribution, governance, data
collection — and reports per phase: calls, wall seconds (inclusive and exclusive of nested
phases), CPU user/system seconds, minor page faults (a fresh large temporary costs one per
2 MiB huge page or 4 KiB page), and with ``--memory`` the transient high-water of traced
allocations above the phase's starting point (tracemalloc; numpy reports its buffers to it).
It also sums the bytes per household agent held by the model's per-household arrays.

Usage (from the repository root)::

    python benchmarks/profile_model.py --scale 10            # timing, ~5.2M agents
    python benchmarks/profile_model.py --scale 10 --memory   # + transient memory per phase (slower)
    python benchmarks/profile_model.py --scale 10 --cprofile /tmp/steps.pstats

Wrapping is by name; a phase the model no longer calls simply shows no calls, and time not
inside any wrapped phase is reported as ``(unattributed)``.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import resource
import sys
import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np
from _common import MIB, command_line, current_rss_bytes, peak_rss_bytes, print_machine, table

import povsim.allocation
import povsim.dynamics.demography
import povsim.dynamics.migration
import povsim.dynamics.shocks
import povsim.model as model_module
import povsim.population
import povsim.programs.base
import povsim.registry
from povsim.attribution import ExitAttribution
from povsim.governance import Governance
from povsim.model import PovertyModel
from povsim.programs import PROGRAMMES, ChannelLedger
from povsim.registry import Registry
from povsim.streams import RandomStreams

# module-level functions PovertyModel calls, by the name it imports them under → phase label
MODULE_PHASES = {
    "resolve_scenario": "build: scenario and parameters",
    "build_population": "build: population",
    "fit_initial_incomes": "build: fit incomes",
    "age": "demography",
    "grow_incomes": "economy",
    "draw_shocks": "shocks",
    "migrate": "migration",
    "update_conditions": "living conditions",
    "medical_out_of_pocket": "measurement: medical costs",
    "county_budgets": "programmes: funds to counties",
    "market_income": "measurement: market income",
    "measure": "measurement: poverty status",
}
# helpers used inside many phases, by (module, name they are imported under) → label; their
# time is shown on their own row and taken out of the exclusive time of the phase calling them
HELPERS = {
    (povsim.population, "build_geography"): "build: geography",
    (povsim.population, "_place"): "build: place in counties/villages",
    (povsim.population, "binomial_from_uniform"): "helper: binomial_from_uniform",
    (povsim.dynamics.demography, "binomial_from_uniform"): "helper: binomial_from_uniform",
    (povsim.dynamics.migration, "binomial_from_uniform"): "helper: binomial_from_uniform",
    (povsim.dynamics.shocks, "binomial_from_uniform"): "helper: binomial_from_uniform",
    (povsim.dynamics.migration, "peer_share"): "migration: village peer shares",
    (povsim.programs.base, "fit_within"): "helper: fit_within (rationing)",
    (povsim.registry, "fit_within"): "helper: fit_within (rationing)",
}
METHOD_PHASES = [
    (PovertyModel, "run_programmes", "programmes (all)"),
    (PovertyModel, "_collect", "data collection"),
    (Registry, "update", "registry"),
    (ExitAttribution, "record", "attribution"),
    (Governance, "review", "governance: review"),
    (Governance, "record_state", "governance: county table"),
    (Governance, "__init__", "build: governance"),
    (ChannelLedger, "__init__", "build: programme ledger"),
]


@dataclass
class Stat:
    calls: int = 0
    wall: float = 0.0
    child_wall: float = 0.0
    user: float = 0.0
    sys: float = 0.0
    child_user: float = 0.0
    child_sys: float = 0.0
    faults: int = 0
    child_faults: int = 0
    transient: int = 0  # max over calls of traced peak above the entry level (bytes)


@dataclass
class Frame:
    label: str
    t0: float
    u0: float
    s0: float
    f0: int
    mem0: int = 0
    extra_peak: int = 0
    child_wall: float = 0.0
    child_user: float = 0.0
    child_sys: float = 0.0
    child_faults: int = 0


@dataclass
class PhaseTimer:
    stage: str = "build"
    memory: bool = False
    stats: dict[tuple[str, str], Stat] = field(default_factory=dict)
    stack: list[Frame] = field(default_factory=list)

    def wrap(self, fn, label: str):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            ru = resource.getrusage(resource.RUSAGE_SELF)
            frame = Frame(label, time.perf_counter(), ru.ru_utime, ru.ru_stime, ru.ru_minflt)
            if self.memory:
                cur, peak = tracemalloc.get_traced_memory()
                if self.stack:
                    parent = self.stack[-1]
                    parent.extra_peak = max(parent.extra_peak, peak)
                frame.mem0 = cur
                tracemalloc.reset_peak()
            self.stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                self._close(self.stack.pop())

        return wrapper

    def _close(self, frame: Frame) -> None:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter() - frame.t0
        user, sys_ = ru.ru_utime - frame.u0, ru.ru_stime - frame.s0
        faults = ru.ru_minflt - frame.f0
        st = self.stats.setdefault((self.stage, frame.label), Stat())
        st.calls += 1
        st.wall += wall
        st.user += user
        st.sys += sys_
        st.faults += faults
        st.child_wall += frame.child_wall
        st.child_user += frame.child_user
        st.child_sys += frame.child_sys
        st.child_faults += frame.child_faults
        if self.memory:
            _, peak = tracemalloc.get_traced_memory()
            peak = max(peak, frame.extra_peak)
            st.transient = max(st.transient, peak - frame.mem0)
        if self.stack:
            parent = self.stack[-1]
            parent.child_wall += wall
            parent.child_user += user
            parent.child_sys += sys_
            parent.child_faults += faults
            if self.memory:
                parent.extra_peak = max(parent.extra_peak, peak)


class TimedGenerator:
    """A numpy Generator whose draws are timed as one helper phase."""

    def __init__(self, gen: np.random.Generator, timer: PhaseTimer):
        self._gen = gen
        self._timer = timer

    def __getattr__(self, name: str):
        attr = getattr(self._gen, name)
        return self._timer.wrap(attr, "helper: random draws") if callable(attr) else attr


def install(timer: PhaseTimer) -> None:
    """Wrap the phases by name (module functions as imported by povsim.model, and methods)."""
    get = RandomStreams.get

    def timed_get(self, name: str, year: int = 0):
        return TimedGenerator(get(self, name, year), timer)

    RandomStreams.get = timed_get
    for name, label in MODULE_PHASES.items():
        if hasattr(model_module, name):
            setattr(model_module, name, timer.wrap(getattr(model_module, name), label))
    for (module, name), label in HELPERS.items():
        if hasattr(module, name):
            setattr(module, name, timer.wrap(getattr(module, name), label))
    for cls, name, label in METHOD_PHASES:
        if hasattr(cls, name):
            setattr(cls, name, timer.wrap(getattr(cls, name), label))
    for cls in PROGRAMMES:
        label = f"programme: {cls.channel}"
        cls.step = timer.wrap(cls.step, label)
        if "__init__" in cls.__dict__:
            cls.__init__ = timer.wrap(cls.__init__, "build: programme state")
        if "income_risk" in cls.__dict__:
            cls.income_risk = timer.wrap(cls.income_risk, "programmes: income risk")


def state_bytes(model: PovertyModel) -> list[dict]:
    """Bytes held per household agent, by owner: arrays whose last axis has one entry per agent."""
    n = model.households.n
    rows: list[dict] = []
    seen: set[int] = set()

    def add(owner: str, name: str, arr: np.ndarray) -> None:
        base = arr if arr.base is None else arr.base
        if id(base) in seen or arr.ndim == 0 or arr.shape[-1] != n:
            return
        seen.add(id(base))
        rows.append({"owner": owner, "name": name, "dtype": str(arr.dtype), "shape": arr.shape, "bytes": arr.nbytes})

    def scan(owner: str, obj, depth: int = 0) -> None:
        items = obj.__dict__.items() if hasattr(obj, "__dict__") else []
        for name, value in items:
            if isinstance(value, np.ndarray):
                add(owner, name, value)
            elif isinstance(value, dict) and depth < 2:
                for k, v in value.items():
                    if isinstance(v, np.ndarray):
                        add(owner, f"{name}[{k}]", v)
                    elif isinstance(v, tuple):
                        for i, x in enumerate(v):
                            if isinstance(x, np.ndarray):
                                add(owner, f"{name}[{k}][{i}]", x)

    scan("households", model.households)
    for prog in model.programmes:
        scan(f"programme {prog.channel}", prog)
    for owner in ("ledger", "registry", "attribution", "governance", "shocks", "flows"):
        if getattr(model, owner, None) is not None:
            scan(owner, getattr(model, owner))
    # cohorts of exits kept for the sustained-exit measure: a tuple of arrays per year
    att = getattr(model, "attribution", None)
    cohort_bytes = 0
    if att is not None:
        for cohort in getattr(att, "cohorts", {}).values():
            cohort_bytes += sum(a.nbytes for a in cohort)
    scan("model", model)
    if cohort_bytes:
        rows.append(
            {
                "owner": "attribution",
                "name": "cohorts (exits, codes, gains)",
                "dtype": "mixed",
                "shape": (),
                "bytes": cohort_bytes,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=10.0, help="real households per agent (10 → ~5.2M agents)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--end-year", type=int, default=2020)
    ap.add_argument("--memory", action="store_true", help="trace transient memory per phase (tracemalloc)")
    ap.add_argument("--cprofile", metavar="FILE", help="also cProfile the yearly steps into FILE (pstats)")
    ap.add_argument("--top", type=int, default=25, help="functions to print from cProfile")
    args = ap.parse_args()

    print_machine()
    timer = PhaseTimer(memory=args.memory)
    install(timer)
    base_rss = current_rss_bytes()
    if args.memory:
        tracemalloc.start()
    t0 = time.perf_counter()
    model = PovertyModel(seed=args.seed, scale=args.scale, end_year=args.end_year)
    t_build = time.perf_counter() - t0
    rss_after_build = current_rss_bytes()
    n = model.households.n
    timer.stage = "steps"
    prof = cProfile.Profile() if args.cprofile else None
    years = 0
    t1 = time.perf_counter()
    if prof:
        prof.enable()
    while model.running:
        model.step()
        years += 1
    if prof:
        prof.disable()
        prof.dump_stats(args.cprofile)
    t_steps = time.perf_counter() - t1
    gc.collect()
    peak = peak_rss_bytes()

    print(
        f"\nPovertyModel(seed={args.seed}, scale={args.scale:g}, end_year={args.end_year}): {n:,} household agents, "
        f"{years} years; build {t_build:.2f} s, steps {t_steps:.2f} s "
        f"({n * years / t_steps:,.0f} household-years/s); peak RSS {peak / MIB:,.0f} MiB "
        f"(interpreter + imports {base_rss / MIB:,.0f} MiB; after build {rss_after_build / MIB:,.0f} MiB)"
        + ("  [tracemalloc on: times inflated]" if args.memory else "")
    )

    for stage, total in (("build", t_build), ("steps", t_steps)):
        rows = []
        inner = 0.0
        for (st_stage, label), st in timer.stats.items():
            if st_stage != stage:
                continue
            excl = st.wall - st.child_wall
            inner += excl
            rows.append(
                {
                    "phase": label,
                    "calls": st.calls,
                    "wall": st.wall,
                    "excl": excl,
                    "share": 100 * excl / total,
                    "user": st.user - st.child_user,
                    "sys": st.sys - st.child_sys,
                    "faults": (st.faults - st.child_faults) / 1e3,
                    "transient": st.transient / MIB if args.memory else None,
                    "per_agent": st.transient / n if args.memory else None,
                }
            )
        rows.sort(key=lambda r: -r["excl"])
        rows.append({"phase": "(unattributed)", "excl": total - inner, "share": 100 * (total - inner) / total})
        print(f"\n{stage}: {total:.2f} s wall" + (f" over {years} years" if stage == "steps" else ""))
        print(
            table(
                rows,
                [
                    ("phase", "phase", "{}"),
                    ("calls", "calls", "{:d}"),
                    ("wall", "incl s", "{:.2f}"),
                    ("excl", "excl s", "{:.2f}"),
                    ("share", "% of stage", "{:.1f}"),
                    ("user", "user s", "{:.2f}"),
                    ("sys", "sys s", "{:.2f}"),
                    ("faults", "minor faults (k)", "{:.0f}"),
                    ("transient", "transient peak MiB", "{:,.0f}"),
                    ("per_agent", "B/agent", "{:.0f}"),
                ],
            )
        )

    rows = state_bytes(model)
    by_owner: dict[str, int] = {}
    for r in rows:
        by_owner[r["owner"]] = by_owner.get(r["owner"], 0) + r["bytes"]
    total_bytes = sum(by_owner.values())
    print(f"\nper-household state after the run: {total_bytes / MIB:,.0f} MiB = {total_bytes / n:.0f} bytes per agent")
    print(
        table(
            [{"owner": k, "bytes": v / MIB, "per": v / n} for k, v in sorted(by_owner.items(), key=lambda kv: -kv[1])],
            [("owner", "owner", "{}"), ("bytes", "MiB", "{:,.1f}"), ("per", "bytes/agent", "{:.1f}")],
        )
    )
    print("\narrays (largest first):")
    rows.sort(key=lambda r: -r["bytes"])
    print(
        table(
            [{**r, "shape": "×".join(map(str, r["shape"])), "per": r["bytes"] / n} for r in rows],
            [
                ("owner", "owner", "{}"),
                ("name", "array", "{}"),
                ("dtype", "dtype", "{}"),
                ("shape", "shape", "{}"),
                ("per", "bytes/agent", "{:.1f}"),
            ],
        )
    )
    if prof:
        import pstats

        print(f"\ncProfile of the steps (top {args.top} by own time):")
        pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(args.top)
    print(f"\nreproduce: {command_line()}")


if __name__ == "__main__":
    main()
