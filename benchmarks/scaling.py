"""Scaling of the full model: time and peak memory against the number of household agents.

For each target number of households N it runs ``PovertyModel(seed, scale, end_year=2020)``
with ``scale`` = (real households at scale 1) / N — povsim simulates about 29.48M registered and
~22.4M non-registered households, ~51.9M in all, so N = 1e7 is ``scale`` ≈ 5.2 — in a fresh
process, and reports the actual agent count, wall time of the population build and of the
yearly steps (2015–2020), household-years per second, microseconds per household-year, CPU
user/system time and peak RSS. "1:1" is ``scale`` = 1, the national run of issue 7.

Before a configuration larger than those already run, its peak memory is projected by a
straight line through the two largest measured runs; a run projected (plus 10%) above ``--max-gib``
(default 20 GiB on a 24 GiB machine), or above the memory available now, is not started and
is reported as "not run: projected X GiB".

Usage (from the repository root)::

    python benchmarks/scaling.py            # 1e4, 1e5, 1e6, 1e7, 3e7 and 1:1 (where memory allows)
    python benchmarks/scaling.py --quick    # 1e4, 1e5, 1e6
    python benchmarks/scaling.py --malloc heap   # with glibc keeping freed buffers (see docs/performance.md)
"""

from __future__ import annotations

import argparse
import math
import time

from _common import (
    GIB,
    HEAP_MALLOC_ENV,
    MIB,
    command_line,
    cpu_seconds,
    current_rss_bytes,
    emit,
    mem_available_bytes,
    peak_rss_bytes,
    print_machine,
    run_child,
    src_hash,
    table,
)

FULL = [1e4, 1e5, 1e6, 1e7, 3e7, "1:1"]
QUICK = [1e4, 1e5, 1e6]
SAFETY = 1.1  # margin on the projected peak before deciding a run is safe


def child(scale: float, seed: int, end_year: int) -> None:
    import resource

    from povsim import PovertyModel

    base = current_rss_bytes()
    u0, s0 = cpu_seconds()
    t0 = time.perf_counter()
    model = PovertyModel(seed=seed, scale=scale, end_year=end_year)
    t_build = time.perf_counter() - t0
    rss_build = current_rss_bytes()
    years = []
    while model.running:
        t = time.perf_counter()
        model.step()
        years.append(time.perf_counter() - t)
    u1, s1 = cpu_seconds()
    emit(
        {
            "src": src_hash(),
            "n": model.households.n,
            "households": int(model.households.weight.sum()),
            "build_s": t_build,
            "steps_s": sum(years),
            "years": len(years),
            "year_s": years,
            "user_s": u1 - u0,
            "sys_s": s1 - s0,
            "minflt": resource.getrusage(resource.RUSAGE_SELF).ru_minflt,
            "rss_base": base,
            "rss_build": rss_build,
            "peak_rss": peak_rss_bytes(),
        }
    )


def total_households() -> int:
    from povsim import PovertyModel

    return int(PovertyModel(seed=1, scale=1000, end_year=2015).households.weight.sum())


def project(measured: list[dict], n: float) -> float | None:
    """Peak RSS (bytes) at ``n`` agents on the line through the two largest measured runs."""
    if len(measured) < 2:
        return None
    a, b = sorted(measured, key=lambda r: r["n"])[-2:]
    slope = (b["peak_rss"] - a["peak_rss"]) / (b["n"] - a["n"])
    return b["peak_rss"] + slope * (n - b["n"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1e4, 1e5, 1e6 households only")
    ap.add_argument("--sizes", default=None, help="comma-separated targets, e.g. 1e4,1e6,1:1")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--end-year", type=int, default=2020)
    ap.add_argument("--max-gib", type=float, default=20.0, help="do not start a run projected above this peak")
    ap.add_argument(
        "--malloc",
        choices=("default", "heap"),
        default="default",
        help="heap: run children with MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=64GiB",
    )
    ap.add_argument("--child-scale", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_scale is not None:
        child(args.child_scale, args.seed, args.end_year)
        return

    if args.sizes:
        targets = [s if s == "1:1" else float(s) for s in args.sizes.split(",")]
    else:
        targets = QUICK if args.quick else FULL
    env = HEAP_MALLOC_ENV if args.malloc == "heap" else None
    print_machine()
    total = total_households()
    print(
        f"real households at scale 1: {total:,}; children's malloc: "
        + (" ".join(f"{k}={v}" for k, v in env.items()) if env else "glibc default")
    )
    measured: list[dict] = []
    rows: list[dict] = []
    for target in targets:
        scale = 1.0 if target == "1:1" else total / target
        n_expected = total / scale
        label = "1:1" if target == "1:1" else f"{target:.0e}".replace("e+0", "e")
        proj = project(measured, n_expected)
        avail = mem_available_bytes()
        if proj is not None and (proj * SAFETY > args.max_gib * GIB or proj * SAFETY > avail - GIB):
            why = f"not run: projected {proj / GIB:.1f} GiB (limit {min(args.max_gib, (avail - GIB) / GIB):.1f} GiB)"
            print(f"  {label:>6}: scale {scale:g}, ~{n_expected:,.0f} agents: {why}", flush=True)
            rows.append({"target": label, "scale": scale, "n": round(n_expected), "note": why})
            continue
        if proj is not None:
            print(f"  {label:>6}: projected peak {proj / GIB:.1f} GiB", flush=True)
        r = run_child(
            "scaling.py",
            ["--child-scale", repr(scale), "--seed", str(args.seed), "--end-year", str(args.end_year)],
            env=env,
        )
        measured.append(r)
        hy = r["n"] * r["years"]
        row = {
            "target": label,
            "scale": scale,
            "n": r["n"],
            "build": r["build_s"],
            "steps": r["steps_s"],
            "total": r["build_s"] + r["steps_s"],
            "hys": hy / r["steps_s"],
            "us": 1e6 * r["steps_s"] / hy,
            "user": r["user_s"],
            "sys": r["sys_s"],
            "peak": r["peak_rss"] / GIB,
            "bpa": (r["peak_rss"] - r["rss_base"]) / r["n"],
            "proj": None if proj is None else proj / GIB,
            "note": "",
            "src": r.get("src", ""),
        }
        rows.append(row)
        print(
            f"  {label:>6}: {r['n']:,} agents, build {r['build_s']:.1f} s, steps {r['steps_s']:.1f} s, "
            f"peak {r['peak_rss'] / GIB:.2f} GiB",
            flush=True,
        )

    print(
        f"\nPovertyModel, seed {args.seed}, 2014 build + {measured[0]['years'] if measured else '?'} yearly steps "
        f"to {args.end_year}, each configuration in a fresh process"
    )
    print(
        table(
            rows,
            [
                ("target", "N", "{}"),
                ("scale", "scale", "{:.4g}"),
                ("n", "agents", "{:,}"),
                ("build", "build s", "{:.1f}"),
                ("steps", "steps s", "{:.1f}"),
                ("total", "total s", "{:.1f}"),
                ("hys", "household-years/s", "{:,.0f}"),
                ("us", "µs per hh-year", "{:.2f}"),
                ("user", "CPU user s", "{:.1f}"),
                ("sys", "CPU sys s", "{:.1f}"),
                ("peak", "peak RSS GiB", "{:.2f}"),
                ("bpa", "peak B/agent", "{:,.0f}"),
                ("proj", "projected GiB", "{:.1f}"),
                ("src", "src hash", "{}"),
                ("note", "", "{}"),
            ],
        )
    )
    ran = [r for r in rows if r.get("steps")]
    if len(ran) >= 3:
        big = [r for r in ran if r["n"] >= 1e5]
        if len(big) >= 2:
            lo, hi = big[0], big[-1]
            k = math.log(hi["steps"] / lo["steps"]) / math.log(hi["n"] / lo["n"])
            kb = math.log(hi["build"] / lo["build"]) / math.log(hi["n"] / lo["n"])
            print(
                f"\ncost exponent between {lo['n']:,} and {hi['n']:,} agents (1 = linear): "
                f"steps {k:.2f}, build {kb:.2f}"
            )
    print(f"\nreproduce: {command_line()}")
    print(f"peak RSS is per process (getrusage RUSAGE_SELF in the child); 1 GiB = {GIB // MIB} MiB")


if __name__ == "__main__":
    main()
