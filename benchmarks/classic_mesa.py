"""Classic Mesa (one ``mesa.Agent`` per household) against the same rules over numpy arrays.

One simplified rule set, written twice in this file:

* ``ClassicModel``: the classic Mesa way — one :class:`mesa.Agent` subclass per household with
  Python attributes, ``model.agents.shuffle_do("step")`` each year, a ``DataCollector`` whose
  model reporters loop over the agents, draws from ``model.random`` as each agent needs them;
* ``VectorModel``: the same rules over struct-of-arrays (one numpy array per attribute, one row
  per household), as povsim writes them, with one draw per household per mechanism;
* ``LeanVectorModel``: the same again, drawing only where a rule needs a draw (as the classic
  agents do) and computing in place.

The rules, per household and year (benchmark values, not povsim's calibrated parameters):

1. income growth: the persistent market income grows 6% with a permanent log-normal shock;
2. illness: probability 8% (+6 points without labour), log-normal medical cost (mean 6,000),
   half reimbursed, and 30% of market income lost in the year;
3. one programme, the 兜底 floor: registered or exited households without labour whose income
   per person is below the floor standard (80% of the line) are topped up to it;
4. measurement: income per person against the line (2,800 in 2014, +3.5% a year);
5. registry: registered households above the line by 10% exit (verified with probability 0.9);
   exited households that fall below the line relapse and are re-registered with probability
   0.5; non-registered poor households are identified with probability 0.3.

Both are seeded; they use different generators, so they agree in distribution, not draw for
draw. The benchmark checks that the yearly aggregates (poor share, registered share, exits,
relapses, floor spending) agree within sampling error, and reports the speed ratio and the
memory per agent, each size and implementation measured in a fresh process. For reference it
also times povsim's full model (every mechanism and programme) at the same number of agents.

Usage (from the repository root)::

    python benchmarks/classic_mesa.py            # 1e4, 1e5, 1e6 households
    python benchmarks/classic_mesa.py --quick    # 1e4, 1e5

When the classic model's projected time for all years exceeds ``--max-classic-seconds`` (300),
only its first ``--sample-years`` years are run and the rest is extrapolated from the mean
year; the table says so.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import mesa
import numpy as np
from _common import (
    MIB,
    command_line,
    current_rss_bytes,
    emit,
    peak_rss_bytes,
    print_machine,
    run_child,
    src_hash,
    table,
)

START_YEAR = 2014
P = {
    "line": 2800.0,  # yuan per person per year in 2014
    "line_growth": 0.035,
    "growth": 0.06,
    "sigma": 0.15,  # log-sd of the permanent income shock
    "p_ill": 0.08,
    "p_ill_no_labour": 0.06,
    "cost_mean": 6000.0,
    "cost_sigma": 1.0,
    "reimbursement": 0.5,
    "lost_work": 0.3,
    "transfer_per_non_worker": 600.0,
    "floor_ratio": 0.8,
    "exit_margin": 0.1,
    "verification": 0.9,
    "reregistration": 0.5,
    "identification": 0.3,
    "registered_if_poor": 0.8,
    "worker_share": 0.5,
    "income_median_ratio": 1.15,  # initial income per person over the line, median
    "income_sigma": 0.6,
    "no_labour_factor": 0.4,
}
SIZE_P = (0.12, 0.22, 0.24, 0.20, 0.14, 0.08)  # household size 1..6
NOT_REGISTERED, REGISTERED, EXITED = 0, 1, 2
MEASURES = ("poor_share", "registered_share", "exits", "relapses", "entries", "floor_per_household")


def line(year: int) -> float:
    return P["line"] * (1.0 + P["line_growth"]) ** (year - START_YEAR)


# -- classic Mesa: one Python object per household --------------------------------------------
class Household(mesa.Agent):
    """A household as a classic Mesa agent: attributes are Python numbers."""

    def __init__(self, model: ClassicModel):
        super().__init__(model)
        rnd = model.random
        u = rnd.random()
        size, acc = 1, SIZE_P[0]
        while u > acc and size < len(SIZE_P):
            acc += SIZE_P[size]
            size += 1
        self.size = size
        self.workers = sum(rnd.random() < P["worker_share"] for _ in range(size))
        factor = 1.0 if self.workers > 0 else P["no_labour_factor"]
        self.transfers = P["transfer_per_non_worker"] * (size - self.workers)
        pc = line(START_YEAR) * P["income_median_ratio"] * math.exp(rnd.gauss(0.0, P["income_sigma"]))
        self.level = max(pc * size * factor - self.transfers, 0.0)
        self.income_pc = (self.level + self.transfers) / size
        self.poor = self.income_pc < line(START_YEAR)
        self.poor_prev = self.poor
        self.status = REGISTERED if self.poor and rnd.random() < P["registered_if_poor"] else NOT_REGISTERED
        self.exit_year = 0
        self.top_up = 0.0
        self.moved = ""  # this year's registry move: "exit", "relapse", "entry" or ""

    def step(self) -> None:
        m = self.model
        rnd = m.random
        # 1. income growth with a permanent shock
        s = P["sigma"]
        self.level *= (1.0 + P["growth"]) * math.exp(s * rnd.gauss(0.0, 1.0) - 0.5 * s * s)
        # 2. illness
        p_ill = P["p_ill"] + (P["p_ill_no_labour"] if self.workers == 0 else 0.0)
        out_of_pocket, lost = 0.0, 0.0
        if rnd.random() < p_ill:
            cs = P["cost_sigma"]
            cost = math.exp(math.log(P["cost_mean"]) - 0.5 * cs * cs + cs * rnd.gauss(0.0, 1.0))
            out_of_pocket = cost * (1.0 - P["reimbursement"])
            lost = P["lost_work"]
        income = self.level * (1.0 - lost) + self.transfers - out_of_pocket
        # 3. the floor (兜底)
        self.top_up = 0.0
        standard = P["floor_ratio"] * m.line
        if self.status != NOT_REGISTERED and self.workers == 0 and income / self.size < standard:
            self.top_up = (standard - income / self.size) * self.size
            income += self.top_up
        # 4. measurement
        self.income_pc = income / self.size
        self.poor_prev = self.poor
        self.poor = self.income_pc < m.line
        # 5. registry
        self.moved = ""
        if self.status == REGISTERED:
            if self.income_pc >= m.line * (1.0 + P["exit_margin"]) and rnd.random() < P["verification"]:
                self.status, self.exit_year, self.moved = EXITED, m.year, "exit"
        elif self.status == EXITED:
            if self.poor:
                if not self.poor_prev:
                    self.moved = "relapse"
                if rnd.random() < P["reregistration"]:
                    self.status = REGISTERED
                    self.moved += "+entry"
        elif self.poor and rnd.random() < P["identification"]:
            self.status, self.moved = REGISTERED, "entry"


class ClassicModel(mesa.Model):
    """The rules with one agent object per household."""

    def __init__(self, n: int, seed: int):
        super().__init__(seed=seed)
        self.year = START_YEAR
        self.line = line(START_YEAR)
        for _ in range(n):
            Household(self)
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "year": "year",
                "poor_share": lambda m: sum(a.poor for a in m.agents) / len(m.agents),
                "registered_share": lambda m: sum(a.status == REGISTERED for a in m.agents) / len(m.agents),
                "exits": lambda m: sum(a.moved == "exit" for a in m.agents),
                "relapses": lambda m: sum(a.moved.startswith("relapse") for a in m.agents),
                "entries": lambda m: sum(a.moved.endswith("entry") for a in m.agents),
                "floor_per_household": lambda m: sum(a.top_up for a in m.agents) / len(m.agents),
            }
        )

    def step(self) -> None:
        self.year += 1
        self.line = line(self.year)
        self.agents.shuffle_do("step")
        self.datacollector.collect(self)


# -- the same rules over arrays (struct-of-arrays, povsim's way) -------------------------------
class VectorModel(mesa.Model):
    """The rules over one numpy array per attribute."""

    def __init__(self, n: int, seed: int):
        super().__init__(seed=seed)
        self.year = START_YEAR
        self.line = line(START_YEAR)
        rng = self.rng
        self.n = n
        cdf = np.cumsum(SIZE_P)
        self.size = (np.searchsorted(cdf / cdf[-1], rng.random(n), side="right") + 1).astype(np.int8)
        self.workers = rng.binomial(self.size, P["worker_share"]).astype(np.int8)
        factor = np.where(self.workers > 0, 1.0, P["no_labour_factor"])
        self.transfers = (P["transfer_per_non_worker"] * (self.size - self.workers)).astype(np.float32)
        pc = line(START_YEAR) * P["income_median_ratio"] * np.exp(P["income_sigma"] * rng.standard_normal(n))
        self.level = np.maximum(pc * self.size * factor - self.transfers, 0.0)
        self.income_pc = (self.level + self.transfers) / self.size
        self.poor = self.income_pc < line(START_YEAR)
        self.poor_prev = self.poor.copy()
        self.status = np.where(self.poor & (rng.random(n) < P["registered_if_poor"]), REGISTERED, NOT_REGISTERED)
        self.status = self.status.astype(np.int8)
        self.exit_year = np.zeros(n, np.int16)
        self.top_up = np.zeros(n)
        self.flows: dict[str, np.ndarray] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "year": "year",
                "poor_share": lambda m: float(m.poor.mean()),
                "registered_share": lambda m: float((m.status == REGISTERED).mean()),
                "exits": lambda m: int(m.flows["exit"].sum()),
                "relapses": lambda m: int(m.flows["relapse"].sum()),
                "entries": lambda m: int(m.flows["entry"].sum()),
                "floor_per_household": lambda m: float(m.top_up.mean()),
            }
        )

    def step(self) -> None:
        self.year += 1
        self.line = line(self.year)
        rng, n = self.rng, self.n
        # 1. income growth with a permanent shock
        s = P["sigma"]
        self.level *= (1.0 + P["growth"]) * np.exp(s * rng.standard_normal(n) - 0.5 * s * s)
        # 2. illness
        no_labour = self.workers == 0
        ill = rng.random(n) < P["p_ill"] + P["p_ill_no_labour"] * no_labour
        cs = P["cost_sigma"]
        cost = np.exp(np.log(P["cost_mean"]) - 0.5 * cs * cs + cs * rng.standard_normal(n))
        income = self.level * (1.0 - P["lost_work"] * ill) + self.transfers - ill * cost * (1.0 - P["reimbursement"])
        # 3. the floor (兜底)
        standard = P["floor_ratio"] * self.line
        pc = income / self.size
        eligible = (self.status != NOT_REGISTERED) & no_labour & (pc < standard)
        self.top_up = np.where(eligible, (standard - pc) * self.size, 0.0)
        income += self.top_up
        # 4. measurement
        self.income_pc = income / self.size
        self.poor_prev = self.poor
        self.poor = self.income_pc < self.line
        # 5. registry (moves decided on the status at the start of the update)
        status = self.status
        exit_ = (
            (status == REGISTERED)
            & (self.income_pc >= self.line * (1.0 + P["exit_margin"]))
            & (rng.random(n) < P["verification"])
        )
        exited_poor = (status == EXITED) & self.poor
        relapse = exited_poor & ~self.poor_prev
        rereg = exited_poor & (rng.random(n) < P["reregistration"])
        new = (status == NOT_REGISTERED) & self.poor & (rng.random(n) < P["identification"])
        self.status = np.where(exit_, EXITED, np.where(rereg | new, REGISTERED, status)).astype(np.int8)
        self.exit_year[exit_] = self.year
        self.flows = {"exit": exit_, "relapse": relapse, "entry": rereg | new}
        self.datacollector.collect(self)

    def nbytes(self) -> int:
        arrays = (
            self.size,
            self.workers,
            self.transfers,
            self.level,
            self.income_pc,
            self.poor,
            self.poor_prev,
            self.status,
            self.exit_year,
            self.top_up,
        )
        return sum(a.nbytes for a in arrays)


class LeanVectorModel(VectorModel):
    """The same rules over arrays, written for speed: draws only where a rule needs one (as the
    classic agents do), arithmetic in place, the floor's top-ups only for eligible rows."""

    def __init__(self, n: int, seed: int):
        super().__init__(n, seed)
        self.size_f = self.size.astype(np.float64)
        self.top_up = None
        self.floor_total = 0.0
        self.counts = {"exit": 0, "relapse": 0, "entry": 0}
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "year": "year",
                "poor_share": lambda m: float(np.count_nonzero(m.poor)) / m.n,
                "registered_share": lambda m: float(np.count_nonzero(m.status == REGISTERED)) / m.n,
                "exits": lambda m: m.counts["exit"],
                "relapses": lambda m: m.counts["relapse"],
                "entries": lambda m: m.counts["entry"],
                "floor_per_household": lambda m: m.floor_total / m.n,
            }
        )

    def nbytes(self) -> int:
        arrays = (
            self.size,
            self.size_f,
            self.workers,
            self.transfers,
            self.level,
            self.income_pc,
            self.poor,
            self.poor_prev,
            self.status,
            self.exit_year,
        )
        return sum(a.nbytes for a in arrays)

    def step(self) -> None:
        self.year += 1
        self.line = line(self.year)
        rng, n = self.rng, self.n
        # 1. income growth with a permanent shock
        s = P["sigma"]
        z = rng.standard_normal(n)
        z *= s
        z += np.log1p(P["growth"]) - 0.5 * s * s
        np.exp(z, out=z)
        self.level *= z
        # 2. illness: costs drawn for the ill only
        no_labour = self.workers == 0
        p_ill = np.where(no_labour, P["p_ill"] + P["p_ill_no_labour"], P["p_ill"])
        ill = np.flatnonzero(rng.random(n) < p_ill)
        cs = P["cost_sigma"]
        cost = np.exp(np.log(P["cost_mean"]) - 0.5 * cs * cs + cs * rng.standard_normal(ill.size))
        income = z  # reuse the buffer
        np.add(self.level, self.transfers, out=income)
        income[ill] -= P["lost_work"] * self.level[ill] + cost * (1.0 - P["reimbursement"])
        # 3. the floor (兜底), for eligible rows only
        standard = P["floor_ratio"] * self.line
        pc = self.income_pc
        np.divide(income, self.size_f, out=pc)
        eligible = np.flatnonzero((pc < standard) & no_labour & (self.status != NOT_REGISTERED))
        top_up = (standard - pc[eligible]) * self.size_f[eligible]
        income[eligible] += top_up
        self.floor_total = float(top_up.sum())
        # 4. measurement
        np.divide(income, self.size_f, out=pc)
        self.poor_prev, self.poor = self.poor, self.poor_prev
        np.less(pc, self.line, out=self.poor)
        # 5. registry: each draw only for the households the rule concerns
        status = self.status
        cand = np.flatnonzero((status == REGISTERED) & (pc >= self.line * (1.0 + P["exit_margin"])))
        exit_ = cand[rng.random(cand.size) < P["verification"]]
        exited_poor = np.flatnonzero((status == EXITED) & self.poor)
        relapse = exited_poor[~self.poor_prev[exited_poor]]
        rereg = exited_poor[rng.random(exited_poor.size) < P["reregistration"]]
        unreg_poor = np.flatnonzero((status == NOT_REGISTERED) & self.poor)
        new = unreg_poor[rng.random(unreg_poor.size) < P["identification"]]
        status[exit_] = EXITED
        status[rereg] = REGISTERED
        status[new] = REGISTERED
        self.exit_year[exit_] = self.year
        self.counts = {"exit": exit_.size, "relapse": relapse.size, "entry": rereg.size + new.size}
        self.datacollector.collect(self)


# -- one configuration in a fresh process ------------------------------------------------------
def child(kind: str, n: int, years: int, seed: int, max_seconds: float, sample_years: int) -> None:
    base = current_rss_bytes()
    t0 = time.perf_counter()
    if kind == "povsim":
        from povsim import PovertyModel

        scale = float(sys.argv[sys.argv.index("--scale") + 1])
        model = PovertyModel(seed=seed, scale=scale, end_year=START_YEAR + years)
        agents = model.households.n
    else:
        model = {"classic": ClassicModel, "vector": VectorModel, "lean": LeanVectorModel}[kind](n, seed)
        agents = n
    t_build = time.perf_counter() - t0
    after_build = current_rss_bytes()
    step_times = []
    for _ in range(years):
        t = time.perf_counter()
        model.step()
        step_times.append(time.perf_counter() - t)
        projected = sum(step_times) / len(step_times) * years
        if kind == "classic" and len(step_times) >= sample_years and projected > max_seconds:
            break
    run = years if kind == "povsim" else len(step_times)
    per_year = sum(step_times) / len(step_times)
    out = {
        "src": src_hash() if kind == "povsim" else "",
        "kind": kind,
        "n": agents,
        "build_s": t_build,
        "years_run": run,
        "steps_s": per_year * years,
        "extrapolated": run < years,
        "rss_base": base,
        "rss_after_build": after_build,
        "peak_rss": peak_rss_bytes(),
        "state_bytes": model.nbytes() if kind in ("vector", "lean") else None,
    }
    if kind != "povsim":
        df = model.datacollector.get_model_vars_dataframe()
        out["series"] = {m: [float(v) for v in df[m]] for m in MEASURES}
    emit(out)


def total_households() -> int:
    """Real households povsim simulates at scale 1 (registered + non-registered), from a coarse build."""
    from povsim import PovertyModel

    return int(PovertyModel(seed=1, scale=1000, end_year=2015).households.weight.sum())


def compare(a: dict, b: dict, n: int) -> tuple[float, str]:
    """Largest |z| over years and measures between two runs' series; shares use binomial errors,
    counts Poisson-like errors, floor spending the pooled spread is unknown so a 10% relative band."""
    worst, where = 0.0, ""
    for measure in MEASURES:
        for year, (x, y) in enumerate(zip(a["series"][measure], b["series"][measure], strict=False), START_YEAR + 1):
            if measure.endswith("share"):
                p = max(min((x + y) / 2, 1 - 1e-9), 1e-9)
                se = math.sqrt(2 * p * (1 - p) / n)
            elif measure == "floor_per_household":
                se = max(0.05 * (x + y) / 2, 1e-9)  # ±10% (2 se) relative band: heavy-tailed amounts
            else:
                se = math.sqrt(max(x + y, 1.0))
            z = abs(x - y) / se
            if z > worst:
                worst, where = z, f"{measure} {year}"
    return worst, where


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="only 1e4 and 1e5 households")
    ap.add_argument(
        "--sizes",
        type=lambda s: [int(float(x)) for x in s.split(",")],
        default=None,
        help="comma-separated household counts (default 1e4,1e5,1e6)",
    )
    ap.add_argument("--years", type=int, default=6, help="years to simulate (2015–2020: 6)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-classic-seconds", type=float, default=300.0)
    ap.add_argument("--sample-years", type=int, default=2)
    ap.add_argument("--no-povsim", action="store_true", help="skip the full-model reference runs")
    ap.add_argument("--child", choices=("classic", "vector", "lean", "povsim"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--scale", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.n or 0, args.years, args.seed, args.max_classic_seconds, args.sample_years)
        return

    sizes = args.sizes or ([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])
    print_machine()
    total = None if args.no_povsim else total_households()
    rows, checks = [], []
    for n in sizes:
        common = [
            "--n",
            str(n),
            "--years",
            str(args.years),
            "--seed",
            str(args.seed),
            "--max-classic-seconds",
            str(args.max_classic_seconds),
            "--sample-years",
            str(args.sample_years),
        ]
        res = {}
        for kind in ("vector", "lean", "classic"):
            res[kind] = run_child("classic_mesa.py", ["--child", kind, *common])
            print(
                f"  {kind:8s} n={n:>9,}: build {res[kind]['build_s']:.2f} s, steps {res[kind]['steps_s']:.2f} s"
                + (" (extrapolated)" if res[kind]["extrapolated"] else ""),
                flush=True,
            )
        if total is not None:
            scale = total / n
            res["povsim"] = run_child("classic_mesa.py", ["--child", "povsim", *common, "--scale", repr(scale)])
            print(
                f"  povsim   n={res['povsim']['n']:>9,}: build {res['povsim']['build_s']:.2f} s, "
                f"steps {res['povsim']['steps_s']:.2f} s",
                flush=True,
            )
        for kind in ("vector", "lean"):
            z, where = compare(res[kind], res["classic"], n)
            checks.append(
                {"n": n, "pair": f"{kind} vs classic", "z": z, "where": where, "ok": "yes" if z < 4.0 else "NO"}
            )
        for kind, r in res.items():
            hy = r["n"] * args.years / r["steps_s"]
            rows.append(
                {
                    "n": r["n"],
                    "kind": {
                        "classic": "classic Mesa (Agent objects)",
                        "vector": "same rules, numpy (povsim style: a draw per household)",
                        "lean": "same rules, numpy, lean (draws where needed, in place)",
                        "povsim": "povsim full model",
                    }[kind],
                    "build": r["build_s"],
                    "steps": r["steps_s"],
                    "note": "extrapolated" if r["extrapolated"] else "",
                    "hy": hy,
                    "ratio": res["classic"]["steps_s"] / r["steps_s"] if kind != "classic" else None,
                    "bytes": (r["rss_after_build"] - r["rss_base"]) / r["n"],
                    "peak": r["peak_rss"] / MIB,
                    "state": None if r.get("state_bytes") is None else r["state_bytes"] / r["n"],
                    "src": r.get("src", ""),
                }
            )

    print(f"\nclassic Mesa vs vectorised, {args.years} simulated years, seed {args.seed}")
    print(
        table(
            rows,
            [
                ("n", "agents", "{:,}"),
                ("kind", "implementation", "{}"),
                ("build", "build s", "{:.2f}"),
                ("steps", "steps s", "{:.2f}"),
                ("note", "", "{}"),
                ("hy", "household-years/s", "{:,.0f}"),
                ("ratio", "speed-up vs classic (steps)", "{:,.0f}×"),
                ("bytes", "RSS bytes/agent after build", "{:,.0f}"),
                ("state", "array bytes/agent", "{:.0f}"),
                ("peak", "peak RSS MiB", "{:,.0f}"),
                ("src", "src hash", "{}"),
            ],
        )
    )
    print("\nagreement of classic and vectorised aggregates (largest |z| over years and measures; |z| < 4 passes):")
    print(
        table(
            checks,
            [
                ("n", "agents", "{:,}"),
                ("pair", "pair", "{}"),
                ("z", "max |z|", "{:.2f}"),
                ("where", "at", "{}"),
                ("ok", "match", "{}"),
            ],
        )
    )
    print(
        "\n(povsim's row is its full model — nine programmes, governance, registry errors — at the scale "
        "giving the same number of agents; its speed-up compares different amounts of work.)"
    )
    print(f"\nreproduce: {command_line()}")


if __name__ == "__main__":
    main()
