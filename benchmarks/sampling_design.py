"""The scale ladder: county and village exits by year at each sampling setting, against 1:10.

County rules — a poor county exits when its registered incidence, wrong-exit and missed-poor
rates pass thresholds; a village when its incidence does; budgets are rationed county by county —
are read off the household agents a county holds. At a coarse scale a county holds a handful of
agents and its rates are sampling artefacts. This script runs the baseline (replications 0 … R−1
of its seed, the seeds of ``povsim batch``) at each setting and reports, per setting: household
agents, seconds per run, counties and villages exited by end-2016 … end-2020, the 2017 exits, the
survey headcounts 2016–2017, the 2015 registry and the 2020 poor, each a mean over the
replications (with its standard error where it matters).

A setting is ``S`` (every household sampled 1:S) or ``F/S`` (the sampling design: poor counties
and the poor villages of other counties 1:F, the rest 1:S; see ``docs/calibration.md``, Sampling
design).

``--corrections off`` measures what the rules give read straight off the agents: the county
rates are the sampled ones (``Sampling.denoised_rate`` returns its input) and each county
rations its own budget (no pooling of alike counties in ``Programme.select``); ``rates`` switches
off the first only, ``rationing`` the second only. It patches the classes in the worker processes
only; the package is not changed.

Usage (from the repository root)::

    python benchmarks/sampling_design.py --settings 4000,1000,100,10 --reps 10
    python benchmarks/sampling_design.py --settings 1000,100 --reps 4 --corrections off
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from _common import command_line, print_machine, table

YEARS = (2016, 2017, 2018, 2019, 2020)


def _switch_off_corrections(which: str) -> None:
    """Switch off the sampling layer's corrections (:mod:`povsim.sampling`) in this process: ``off``
    both (as ``run.sampling_correction = false``), ``rates`` the denoised county rates only,
    ``rationing`` the rationing of alike counties together only."""
    from povsim import sampling

    init = sampling.Sampling.__init__

    def switched(self, model):
        init(self, model)
        if which in ("off", "rates"):
            self.denoise_rates = False
        if which in ("off", "rationing"):
            self.ration_alike = False

    sampling.Sampling.__init__ = switched


def parse_setting(text: str) -> dict:
    """``"S"`` or ``"F/S"`` → the run's sampling keywords."""
    if "/" in text:
        fine, coarse = (float(x) for x in text.split("/"))
        return {"scale": coarse, "poor_area_scale": fine}
    return {"scale": float(text), "poor_area_scale": float(text)}  # uniform: every household 1:S


def one_run(setting: str, seed: int, end_year: int, corrections: str) -> dict:
    """One baseline run at ``setting``; the national figures of the ladder."""
    if corrections != "on":
        _switch_off_corrections(corrections)
    from povsim import PovertyModel

    t = time.perf_counter()
    model = PovertyModel(seed=seed, end_year=end_year, **parse_setting(setting))
    agents = model.households.n
    model.run_model()
    seconds = time.perf_counter() - t
    df = model.results()
    nat = df[(df.region == "national") & (df.channel == "all")].set_index(["measure", "year"])["value"]
    out = {"setting": setting, "seed": seed, "agents": agents, "seconds": seconds}
    for y in YEARS:
        if y <= end_year:
            out[f"counties_{y}"] = float(nat[("counties_exited", y)])
            out[f"villages_{y}"] = float(nat[("villages_exited", y)]) / 1e3
    out["poor_2016"] = float(nat[("poor_people", 2016)]) / 1e6
    if end_year >= 2017:  # a run to 2016 has no 2017 rows
        out["exits_2017"] = float(nat[("exits_people", 2017)]) / 1e6
        out["poor_2017"] = float(nat[("poor_people", 2017)]) / 1e6
    out["registry_2015"] = float(nat[("registered_poor_people", 2015)]) / 1e6
    if end_year >= 2020:
        out["poor_2020"] = float(nat[("poor_people", 2020)]) / 1e6
    return out


def summarise(runs: list[dict]) -> dict:
    """Means over the replications; standard errors of the mean and ranges where they matter."""
    row: dict = {"setting": runs[0]["setting"], "reps": len(runs)}
    for key in runs[0]:
        if key in ("setting", "seed"):
            continue
        v = np.array([r[key] for r in runs], float)
        row[key] = float(v.mean())
        row[key + "_se"] = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("nan")
        row[key + "_min"], row[key + "_max"] = float(v.min()), float(v.max())
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", default="4000,2000,1000,300,100,30,10", help="comma-separated S or F/S")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--end-year", type=int, default=2020)
    ap.add_argument("--corrections", choices=("on", "off", "rates", "rationing"), default="on")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write every run's figures to this file")
    args = ap.parse_args()

    from povsim.experiments.spec import rep_seed
    from povsim.model import resolve_scenario

    base = resolve_scenario(None).run.seed
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    jobs = [(s, rep_seed(base, r)) for s in settings for r in range(args.reps)]
    print_machine()
    t0 = time.perf_counter()
    # a fresh process per run: a 1:1 run's freed heap would otherwise stay with its worker
    context = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=context, max_tasks_per_child=1) as pool:
        runs = list(
            pool.map(
                one_run,
                [s for s, _ in jobs],
                [seed for _, seed in jobs],
                [args.end_year] * len(jobs),
                [args.corrections] * len(jobs),
            )
        )
    wall = time.perf_counter() - t0
    rows = [summarise([r for r in runs if r["setting"] == s]) for s in settings]
    for row in rows:
        row["counties_2016_range"] = (
            f"{row['counties_2016']:.1f} ({row['counties_2016_min']:.0f}–{row['counties_2016_max']:.0f})"
        )
        if "poor_2020" in row:
            row["poor_2020_pm"] = f"{row['poor_2020']:.2f} ± {row['poor_2020_se']:.2f}"
        if "exits_2017" in row:
            row["exits_2017_pm"] = f"{row['exits_2017']:.2f} ± {row['exits_2017_se']:.2f}"
    cols = [
        ("setting", "setting", "{}"),
        ("agents", "agents", "{:,.0f}"),
        ("seconds", "s/run", "{:.1f}"),
        ("counties_2016_range", "counties 2016 (range)", "{}"),
        *[(f"counties_{y}", f"c{y}", "{:.1f}") for y in YEARS[1:] if y <= args.end_year],
        *[(f"villages_{y}", f"v{y}k", "{:.1f}") for y in YEARS if y <= args.end_year],
        ("exits_2017_pm", "exits 2017", "{}"),
        ("poor_2016", "poor 2016", "{:.2f}"),
        ("poor_2017", "poor 2017", "{:.2f}"),
        ("registry_2015", "registry 2015", "{:.2f}"),
        ("poor_2020_pm", "poor 2020", "{}"),
    ]
    print(f"corrections {args.corrections}; {len(jobs)} runs in {wall:.0f} s on {args.workers} workers")
    print(table(rows, cols))
    print(f"command: {command_line()}")
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
