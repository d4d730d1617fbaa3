"""The end-2016 county review criterion by criterion: raw against noise-freed county rates.

A poor county exits at the end of a year when its registered incidence, its wrong-exit rate and
its missed-poor rate (each read off the household agents it holds) pass thresholds, and the
evaluation's satisfaction survey passes (``Governance.review``). This script runs the baseline
(replications 0 … R−1 of its seed) at each sampling setting to the end of ``--year`` and, at that
year's review, records each criterion's sampled rate (what the agents show) and the rate judged
(``Sampling.denoised_rate``). It reports, over the poor counties not exited before, per
criterion, the expected number passing (the evaluation's binomial sample of
``evaluation.sample_households`` and its satisfaction draw taken in expectation), for the raw
and the judged rates, and all criteria together; and quantiles of the rates of the counties
planning to exit in the year reviewed.

At scale 1 the judged rate is the sampled one; a fine setting (1:10) then shows how far the
noise model moves the rates that sampling noise alone cannot explain.

Usage (from the repository root)::

    python benchmarks/county_criteria.py --settings 10,1000,500/5000 --reps 4
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import stats

NAMES = ("incidence", "wrong", "missed")


def one_run(setting: str, seed: int, year: int) -> dict:
    from sampling_design import parse_setting

    from povsim import PovertyModel
    from povsim.sampling import Sampling

    calls: dict[str, tuple] = {}
    original = Sampling.denoised_rate

    def recording(self, sampled, people, counties, z, *args, **kwargs):
        out = original(self, sampled, people, counties, z, *args, **kwargs)
        if self.model.year == year:
            for name in NAMES:
                if z is getattr(self, f"{name}_z"):
                    calls[name] = (sampled.copy(), out.copy(), people.copy())
        return out

    Sampling.denoised_rate = recording
    model = PovertyModel(seed=seed, end_year=year, **parse_setting(setting))
    model.run_model()
    gov, geo, p = model.governance, model.geography, model.params
    if "incidence" not in calls:  # 1:1 — denoised_rate returns early, but is still called
        raise RuntimeError("no review recorded")
    open_ = geo.county_poor & ((gov.exit_year == 0) | (gov.exit_year == year))
    threshold = p.region("governance.county.incidence_threshold")[geo.county_region]
    limit = p["governance.county.error_threshold"]
    sample = int(p["governance.evaluation.sample_households"])
    below = int(np.ceil(limit * sample)) - 1  # found/sample < limit ⇔ found ≤ below
    mean, sd, sat = (p[f"governance.county.satisfaction_{k}"] for k in ("mean", "sd", "threshold"))
    out: dict = {"setting": setting, "seed": seed, "exited": int((gov.exit_year == year).sum())}
    for which, col in (("raw", 0), ("judged", 1)):
        inc, wrong, missed = (calls[k][col] for k in NAMES)
        p_inc = (inc < threshold).astype(float)
        p_wrong = stats.binom.cdf(below, sample, np.clip(wrong, 0, 1))
        p_missed = stats.binom.cdf(below, sample, np.clip(missed, 0, 1))
        p_sat = stats.norm.sf((sat - mean + wrong) / sd)
        for name, prob in (("incidence", p_inc), ("wrong", p_wrong), ("missed", p_missed), ("sat", p_sat)):
            out[f"{which}_{name}"] = float(prob[open_].sum())
        out[f"{which}_all"] = float((p_inc * p_wrong * p_missed * p_sat)[open_].sum())
        out[f"{which}_inc_wrong"] = float((p_inc * p_wrong)[open_].sum())
        first = open_ & (gov.plan_year == year)
        for name, rate in zip(NAMES, (inc, wrong, missed), strict=True):
            out[f"{which}_{name}_q"] = np.quantile(rate[first], [0.1, 0.25, 0.5, 0.75, 0.9]).tolist()
            out[f"{which}_{name}_mean"] = float(rate[first].mean())
    # the correlation between criteria across the first cohort (raw and judged)
    first = open_ & (gov.plan_year == year)
    for which, col in (("raw", 0), ("judged", 1)):
        inc, wrong, missed = (calls[k][col][first] for k in NAMES)
        out[f"{which}_corr_inc_wrong"] = float(np.corrcoef(inc, wrong)[0, 1])
        out[f"{which}_corr_inc_missed"] = float(np.corrcoef(inc, missed)[0, 1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", default="10,1000,500/5000")
    ap.add_argument("--reps", type=int, default=4)
    ap.add_argument("--year", type=int, default=2016)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()

    from povsim.experiments.spec import rep_seed
    from povsim.model import resolve_scenario

    base = resolve_scenario(None).run.seed
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    jobs = [(s, rep_seed(base, r)) for s in settings for r in range(args.reps)]
    context = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=context, max_tasks_per_child=1) as pool:
        runs = list(pool.map(one_run, [s for s, _ in jobs], [x for _, x in jobs], [args.year] * len(jobs)))
    keys = ["incidence", "wrong", "missed", "sat", "inc_wrong", "all"]
    print(f"expected poor counties passing each criterion at the end-{args.year} review (mean over reps)")
    print(f"{'setting':>10} {'rates':>7} " + " ".join(f"{k:>10}" for k in keys) + "   exited")
    for s in settings:
        rs = [r for r in runs if r["setting"] == s]
        for which in ("raw", "judged"):
            vals = [np.mean([r[f"{which}_{k}"] for r in rs]) for k in keys]
            ex = np.mean([r["exited"] for r in rs]) if which == "judged" else float("nan")
            print(f"{s:>10} {which:>7} " + " ".join(f"{v:10.1f}" for v in vals) + f"   {ex:6.1f}")
    print(f"\nrates of the counties planning to exit in {args.year}: mean, quantiles 10/25/50/75/90 % (mean over reps)")
    for s in settings:
        rs = [r for r in runs if r["setting"] == s]
        for name in NAMES:
            for which in ("raw", "judged"):
                q = np.mean([r[f"{which}_{name}_q"] for r in rs], axis=0)
                m = np.mean([r[f"{which}_{name}_mean"] for r in rs])
                print(f"{s:>10} {name:>9} {which:>6}  mean {m:.4f}  q " + " ".join(f"{x:.4f}" for x in q))
        for which in ("raw", "judged"):
            ciw = np.mean([r[f"{which}_corr_inc_wrong"] for r in rs])
            cim = np.mean([r[f"{which}_corr_inc_missed"] for r in rs])
            print(f"{s:>10} corr {which:>6}: incidence–wrong {ciw:+.2f}, incidence–missed {cim:+.2f}")


if __name__ == "__main__":
    main()
