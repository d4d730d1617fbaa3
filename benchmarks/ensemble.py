"""Ensemble throughput: full model runs per minute at 1:1000 with 1 and 2 worker processes.

Runs ``--runs`` complete ``PovertyModel(seed=s, scale=1000)`` runs (2014 build, steps to 2020,
the results table) through a ``concurrent.futures.ProcessPoolExecutor`` with 1 and then 2
workers, and reports runs per minute over the whole batch (pool start-up included), the mean
time of one run inside a worker, and the speed-up of 2 workers over 1. Seeds differ per run,
as in an ensemble; the same seeds are used for both worker counts.

Usage (from the repository root)::

    python benchmarks/ensemble.py            # 16 runs per worker count
    python benchmarks/ensemble.py --quick    # 8 runs
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor

from _common import command_line, print_machine, table


def one_run(seed: int, scale: float, end_year: int) -> tuple[int, float, float, int]:
    """One full run; returns (seed, seconds, poor people in the last year, worker pid)."""
    from povsim import PovertyModel

    t = time.perf_counter()
    model = PovertyModel(seed=seed, scale=scale, end_year=end_year)
    model.run_model()
    df = model.results()
    poor = df.query("region == 'national' and measure == 'poor_people' and channel == 'all'")["value"].iloc[-1]
    return seed, time.perf_counter() - t, float(poor), os.getpid()


def batch(workers: int, seeds: list[int], scale: float, end_year: int, context: str) -> dict:
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(context)) as pool:
        results = list(pool.map(one_run, seeds, [scale] * len(seeds), [end_year] * len(seeds)))
    wall = time.perf_counter() - t0
    times = [r[1] for r in results]
    return {
        "workers": workers,
        "runs": len(seeds),
        "wall": wall,
        "rpm": 60.0 * len(seeds) / wall,
        "mean_run": sum(times) / len(times),
        "max_run": max(times),
        "pids": len({r[3] for r in results}),
        "poor": [r[2] for r in results],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="8 runs instead of 16")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--scale", type=float, default=1000.0)
    ap.add_argument("--end-year", type=int, default=2020)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument(
        "--context",
        choices=("fork", "spawn", "forkserver"),
        default="spawn",
        help="process start method (spawn: each worker imports povsim itself, as on a cluster)",
    )
    args = ap.parse_args()
    runs = args.runs or (8 if args.quick else 16)
    seeds = list(range(1, runs + 1))
    print_machine()
    rows = []
    for w in (int(x) for x in args.workers.split(",")):
        r = batch(w, seeds, args.scale, args.end_year, args.context)
        rows.append(r)
        print(f"  {w} worker(s): {runs} runs in {r['wall']:.1f} s", flush=True)
    base = rows[0]
    for r in rows:
        r["speedup"] = r["rpm"] / base["rpm"]
        r["efficiency"] = r["speedup"] / (r["workers"] / base["workers"])
    same = all(r["poor"] == base["poor"] for r in rows)
    print(
        f"\nensemble of full PovertyModel runs, scale {args.scale:g}, to {args.end_year}, "
        f"seeds 1..{runs}, start method '{args.context}'"
    )
    print(
        table(
            rows,
            [
                ("workers", "workers", "{:d}"),
                ("runs", "runs", "{:d}"),
                ("wall", "batch wall s", "{:.1f}"),
                ("rpm", "runs per minute", "{:.1f}"),
                ("mean_run", "mean s per run (in worker)", "{:.2f}"),
                ("max_run", "slowest run s", "{:.2f}"),
                ("speedup", "speed-up", "{:.2f}×"),
                ("efficiency", "parallel efficiency", "{:.0%}"),
            ],
        )
    )
    print(f"\nsame results with every worker count (seed by seed): {'yes' if same else 'NO'}")
    print(f"\nreproduce: {command_line()}")


if __name__ == "__main__":
    main()
