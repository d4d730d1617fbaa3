"""The experiment commands of the ``povsim`` command line.

    povsim batch SCENARIO... [--reps N] [--seed N] [--scale S] [--end-year Y] [--set K=V ...]
                 [--executor serial|process|dask] [--workers K] [--address tcp://HOST:PORT] [--out DIR] [-q]
    povsim sweep SCENARIO... --param K=V1,V2,... [--param ...] (same options)
    povsim compare DIR [-q]

Bad input ends with a one-line error and exit code 2 before any run starts or any file is
written; a batch in which some runs failed ends with exit code 1 (rerun it to retry them);
the environment failing — a full disk, a Dask cluster left without a live worker for
``NO_WORKER_TIMEOUT`` seconds — ends with exit code 3; Ctrl-C ends with exit code 130. Every
finished run is kept, so rerunning the same command resumes.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from povsim.errors import PovsimInputError
from povsim.experiments.executors import NO_WORKER_TIMEOUT, NO_WORKER_TIMEOUT_VARIABLE
from povsim.experiments.spec import DEFAULT_REPS

if TYPE_CHECKING:
    from povsim.experiments.compare import Comparison
    from povsim.experiments.runner import BatchReport
    from povsim.experiments.spec import Experiment

DEFAULT_EXECUTOR = "process"


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``batch``, ``sweep`` and ``compare`` on the ``povsim`` sub-command parser."""
    batch = sub.add_parser(
        "batch",
        help="run scenarios with replications (common random numbers) and compare them",
        description="Run every SCENARIO --reps times; replication r uses the same seed in every scenario. "
        "Writes runs.parquet, runs.csv, summary.csv, figures and manifest.json into --out; "
        "rerunning the same command resumes.",
    )
    batch.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario files (scenarios/*.toml)")
    _add_common(batch)
    batch.set_defaults(func=_batch)

    sweep = sub.add_parser(
        "sweep",
        help="run a grid of parameter values (every combination) with replications",
        description="Run SCENARIO at every combination of the --param values, --reps times each, with common "
        "random numbers across grid points. Outputs as for batch, with one column per swept parameter.",
    )
    sweep.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario file(s) (scenarios/*.toml)")
    sweep.add_argument(
        "--param",
        action="append",
        metavar="KEY.PATH=V1,V2,...",
        help="a parameter and its values, e.g. budget.scale=0.5,0.75,1,1.25 (repeatable; the grid is every "
        "combination)",
    )
    _add_common(sweep)
    sweep.set_defaults(func=_batch)

    compare = sub.add_parser(
        "compare",
        help="summarise a batch or sweep folder: summary.csv and figures",
        description="Read DIR/runs.parquet (assembled from DIR/runs/ if missing) and write summary.csv "
        "(mean and 5–95% interval per scenario, year, region, measure and channel) and the figures "
        "trajectories.png, exits_by_channel.png, relapse.png and frontier.png.",
    )
    compare.add_argument("dir", metavar="DIR", help="the --out folder of povsim batch or povsim sweep")
    compare.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    compare.set_defaults(func=_compare)

    _add_discover(sub)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reps",
        type=int,
        default=DEFAULT_REPS,
        help=f"replications per scenario and grid point (default {DEFAULT_REPS})",
    )
    p.add_argument(
        "--seed",
        type=int,
        help="base seed: rep 0 uses it, rep r derives from it (default: the first scenario's run.seed)",
    )
    p.add_argument(
        "--scale", type=float, help="real households per household agent for every run (default: each scenario's, 1000)"
    )
    p.add_argument("--end-year", type=int, help="last simulated year, 2015–2025 (default: each scenario's, 2020)")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY.PATH=VALUE",
        help="override a parameter in every scenario, e.g. economy.growth.farm=0.04 (repeatable)",
    )
    p.add_argument(
        "--executor",
        default=DEFAULT_EXECUTOR,
        metavar="{serial,process,dask}",
        help=f"where runs execute (default {DEFAULT_EXECUTOR}: a local process pool); a dask batch whose cluster has "
        f"had no live worker for {NO_WORKER_TIMEOUT:g} s ({NO_WORKER_TIMEOUT_VARIABLE}=SECONDS to change) stops with "
        "exit code 3, keeping the finished runs",
    )
    p.add_argument("--workers", type=int, help="worker processes (default: the number of CPUs)")
    p.add_argument(
        "--address",
        help="a running Dask scheduler, e.g. tcp://HOST:8786 (with --executor dask; default: start a local cluster)",
    )
    p.add_argument("--out", help="results folder (default: results/<command>_<scenarios>[_<parameters>])")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors, show no progress")


def default_out(kind: str, scenario_names: list[str], params: list[str]) -> Path:
    """``results/batch_baseline+weak_growth`` or ``results/sweep_baseline_budget.scale``."""
    parts = [kind, "+".join(scenario_names)]
    if params:
        parts.append("+".join(params))
    name = re.sub(r"[^A-Za-z0-9._+=-]+", "-", "_".join(parts))[:120]
    return Path("results") / name


def _batch(args: argparse.Namespace) -> int:
    from povsim.experiments.spec import build_experiment

    if args.command == "sweep" and not args.param:
        raise PovsimInputError("povsim sweep needs at least one --param key.path=value1,value2,...")
    experiment = build_experiment(
        args.scenarios,
        params=getattr(args, "param", None) or (),
        sets=args.set or (),
        reps=args.reps,
        seed=args.seed,
        scale=args.scale,
        end_year=args.end_year,
        kind=args.command,
    )
    from povsim.experiments.compare import write_comparison
    from povsim.experiments.executors import ExecutorOptions
    from povsim.experiments.store import RunStore
    from povsim.io import check_out_folder
    from povsim.scenario import sampling_text

    ExecutorOptions.validate(args.executor, args.workers, args.address)
    out = (
        Path(args.out)
        if args.out
        else default_out(args.command, [s.name for s in experiment.scenarios], experiment.param_columns)
    )
    check_out_folder(out)
    RunStore(out).check_compatible(experiment)
    points = len(experiment.runs) // (len(experiment.scenarios) * experiment.reps)
    designs = sorted({(s.scale, s.poor_area_scale) for s in experiment.scenarios})
    if not args.quiet:
        print(
            f"povsim {args.command}: {len(experiment.scenarios)} scenario(s) × {points} grid point(s) × "
            f"{experiment.reps} reps = {len(experiment.runs)} runs; sampling "
            f"{'; '.join(sampling_text(*d) for d in designs)}; base seed {experiment.base_seed}; "
            f"executor {args.executor} → {out}"
        )
    report = _run_stored(experiment, out, args)
    if report is None:
        return 130
    comparison = write_comparison(out, report.runs) if not report.runs.empty else None
    if not args.quiet:
        rate = report.finished / report.wall_seconds * 60 if report.finished else 0.0
        print(
            f"{report.total} runs: {report.finished} run now, {report.skipped} already done, {len(report.failed)} "
            f"failed; {report.wall_seconds:.1f} s ({rate:.0f} runs/min)"
        )
        if comparison is not None:
            _print_comparison(comparison)
        for path in report.paths + (comparison.paths if comparison else []):
            print(f"wrote {path}")
    if report.failed:
        _print_failures(out, experiment, report.failed)
        return 1
    return 0


def _run_stored(experiment: Experiment, out: Path, args: argparse.Namespace) -> BatchReport | None:
    """Run ``experiment`` into the store at ``out`` with the command's executor options, warning of
    run files set aside; None after Ctrl-C (said on stderr: the finished runs are kept)."""
    from povsim.experiments.runner import run_experiment
    from povsim.experiments.store import RunStore

    try:
        report = run_experiment(
            experiment,
            out,
            executor=args.executor,
            workers=args.workers,
            address=args.address,
            progress=False if args.quiet else None,
            command=["povsim", *sys.argv[1:]],
        )
    except KeyboardInterrupt:
        done = len(RunStore(out).finished_keys() & {r.key for r in experiment.runs})
        print(
            f"povsim: interrupted; {done} of {len(experiment.runs)} runs are stored in {out / 'runs'}; "
            "run the same command again to finish the rest",
            file=sys.stderr,
        )
        return None
    for message in report.set_aside.values():
        print(f"povsim: warning: {message}", file=sys.stderr)
    return report


def _print_comparison(comparison: Comparison) -> None:
    from povsim.observed import FORECAST_ORIGIN, SURVEY_POOR_PEOPLE

    print(
        "People are national totals in millions, mean [5%, 95%] over replications; "
        f"NBS survey {FORECAST_ORIGIN}: {SURVEY_POOR_PEOPLE[FORECAST_ORIGIN] / 1e6:.2f} M."
    )
    print(comparison.text())
    for note in comparison.notes:
        print(f"note: {note}")


def _print_failures(out: Path, experiment: Experiment, failed: dict[str, str]) -> None:
    labels = {r.key: r.label() for r in experiment.runs}
    print(
        f"povsim: {len(failed)} run(s) failed; the others are stored. Rerun the same command to retry:", file=sys.stderr
    )
    for key, message in list(failed.items())[:5]:
        first = message.strip().splitlines()[0] if message.strip() else "?"
        print(f"  {labels.get(key, key)}: {first} ({out / 'runs' / (key + '.error.json')})", file=sys.stderr)
    if len(failed) > 5:
        print(f"  ... and {len(failed) - 5} more ({out / 'runs'}/*.error.json)", file=sys.stderr)


def _compare(args: argparse.Namespace) -> int:
    from povsim.experiments.compare import write_comparison

    root = Path(args.dir)
    if not root.is_dir():
        raise PovsimInputError(f"{root}: {'is not a folder' if root.exists() else 'no such folder'}")
    comparison = write_comparison(root)
    if not args.quiet:
        _print_comparison(comparison)
        for path in comparison.paths:
            print(f"wrote {path}")
    return 0


def _add_discover(sub: argparse._SubParsersAction) -> None:
    """Register ``povsim discover`` (scenario discovery with PRIM, :mod:`povsim.experiments.discover`)."""
    from povsim.experiments import discover as d

    p = sub.add_parser(
        "discover",
        help="scenario discovery: the boxes of conditions under which the 2020 target is missed (PRIM)",
        description="Run SCENARIO at a Latin hypercube of --n points over the --param ranges (or read the runs of a "
        "povsim sweep folder with --from DIR), mark each case whose outcome crosses the threshold (default: national "
        "poor people at the end of the last year above the 2020 target of none, i.e. the target missed), and find "
        "with PRIM (the EMA Workbench's) the boxes of inputs that hold those cases. Writes boxes.csv, discover.json, "
        "points.csv and discover.png into --out, beside the run store; rerunning the same command resumes the runs.",
    )
    p.add_argument("scenario", nargs="?", metavar="SCENARIO", help="scenario file (scenarios/*.toml), with --param")
    p.add_argument(
        "--param",
        action="append",
        metavar="KEY.PATH=LO:HI",
        help="a parameter and the range to sample, e.g. budget.scale=0.5:1.5 (repeatable)",
    )
    p.add_argument("--n", type=int, default=d.DEFAULT_N, help=f"points of the Latin hypercube (default {d.DEFAULT_N})")
    p.add_argument(
        "--from",
        dest="from_dir",
        metavar="DIR",
        help="instead of sampling, read the runs of a povsim sweep (or discover) folder; its swept parameters are the "
        "inputs",
    )
    p.add_argument("--scenario-name", help="with --from: the scenario to use when DIR holds several")
    p.add_argument(
        "--outcome",
        metavar="MEASURE[:YEAR]",
        help="the national measure and year judged (default poor_people in the last simulated year)",
    )
    p.add_argument(
        "--threshold", type=float, help="the value it is compared with (default for poor_people: 0, the target)"
    )
    side = p.add_mutually_exclusive_group()
    side.add_argument("--above", action="store_false", dest="below", help="cases of interest are above (default)")
    side.add_argument("--below", action="store_true", dest="below", help="cases of interest are below the threshold")
    p.add_argument(
        "--cases",
        default="run",
        metavar="{run,point}",
        help="run: every run is a case (default); point: the outcome is averaged over a point's replications",
    )
    p.add_argument(
        "--min-density",
        type=float,
        default=d.DEFAULT_MIN_DENSITY,
        help=f"PRIM's density threshold: the least share of a box's cases that are of interest "
        f"(default {d.DEFAULT_MIN_DENSITY:g})",
    )
    p.add_argument(
        "--max-boxes",
        type=int,
        default=d.DEFAULT_MAX_BOXES,
        help=f"at most this many boxes (default {d.DEFAULT_MAX_BOXES})",
    )
    p.add_argument(
        "--peel-alpha", type=float, default=d.PEEL_ALPHA, help=f"share peeled per step (default {d.PEEL_ALPHA:g})"
    )
    p.add_argument(
        "--mass-min", type=float, default=d.MASS_MIN, help=f"smallest box, share of all cases (default {d.MASS_MIN:g})"
    )
    _add_common(p)
    for action in p._actions:
        if action.dest == "reps":
            action.default = None
            action.help = f"replications per point (default {d.DEFAULT_REPS}: spend runs on points)"
        if action.dest == "out":
            action.help = (
                "results folder (default: results/discover_<scenario>_<parameters>; with --from: DIR/discover)"
            )
    p.set_defaults(func=_discover, below=False)


def _discover(args: argparse.Namespace) -> int:
    """``povsim discover``: sample (or read) the runs, then PRIM; see :mod:`povsim.experiments.discover`."""
    from povsim.experiments import discover as d
    from povsim.experiments.executors import ExecutorOptions
    from povsim.experiments.spec import build_experiment
    from povsim.experiments.store import RunStore
    from povsim.io import check_out_folder, final_paths, replacing_folder
    from povsim.scenario import sampling_text

    d.check_prim_settings(args.min_density, args.max_boxes, args.peel_alpha, args.mass_min)
    if args.cases not in ("run", "point"):
        raise PovsimInputError(f"--cases {args.cases}: allowed: run (every run a case), point (mean over replications)")
    settings = {
        "per": args.cases,
        "min_density": args.min_density,
        "max_boxes": args.max_boxes,
        "peel_alpha": args.peel_alpha,
        "mass_min": args.mass_min,
    }
    if args.from_dir:
        given = [
            opt
            for opt, value in (
                ("SCENARIO", args.scenario),
                ("--param", args.param),
                ("--reps", args.reps),
                ("--seed", args.seed),
                ("--scale", args.scale),
                ("--end-year", args.end_year),
                ("--set", args.set),
            )
            if value is not None
        ]
        if given:
            raise PovsimInputError(
                f"--from DIR reads finished runs; {', '.join(given)} describe a new design: give one"
            )
        source = Path(args.from_dir)
        if not source.is_dir():
            raise PovsimInputError(f"--from {source}: {'is not a folder' if source.exists() else 'no such folder'}")
        runs = RunStore(source).load_runs()
        names = list(dict.fromkeys(runs["scenario"]))
        if args.scenario_name is not None and args.scenario_name not in names:
            raise PovsimInputError(
                f"--scenario-name {args.scenario_name}: not in {source} (it holds {', '.join(names)})"
            )
        if args.scenario_name is None and len(names) > 1:
            raise PovsimInputError(
                f"--from {source}: holds {len(names)} scenarios ({', '.join(names)}); choose one with --scenario-name"
            )
        name = args.scenario_name or names[0]
        runs = runs[runs["scenario"] == name]
        inputs = d.inputs_of(runs)
        if not inputs:
            raise PovsimInputError(f"--from {source}: no swept parameters (a batch folder?); discover needs a sweep")
        years = sorted(int(y) for y in runs["year"].unique() if y > min(runs["year"]))
        outcome = d.parse_outcome(args.outcome, args.threshold, args.below, max(years), years)
        out = Path(args.out) if args.out else source / "discover"
        check_out_folder(out, replaceable=d.OUTPUTS)
        result = d.discover(runs, inputs, outcome, **settings)
        n_runs = len(runs.drop_duplicates(["scenario", *inputs, "rep"]))
        design = d.design_record(None, {}, source=str(source), scenario=name, runs=n_runs)
        with replacing_folder(out) as built:
            paths = d.write_discovery(result, built, design)
        paths = final_paths(paths, built, out)
    else:
        if not args.param:
            raise PovsimInputError("povsim discover needs --param KEY.PATH=LO:HI ... (and a SCENARIO), or --from DIR")
        if args.scenario is None:
            raise PovsimInputError(
                "povsim discover --param: give the SCENARIO file to sample, e.g. scenarios/baseline.toml"
            )
        if args.scenario_name is not None:
            raise PovsimInputError("--scenario-name: only with --from DIR")
        ranges: dict[str, tuple[float, float]] = {}
        for item in args.param:
            key, lo, hi = d.parse_range(item)
            if key in ranges:
                raise PovsimInputError(f"--param {key} is given twice")
            ranges[key] = (lo, hi)
        reps = args.reps if args.reps is not None else d.DEFAULT_REPS
        base = build_experiment([args.scenario], sets=args.set or (), reps=reps, seed=args.seed)
        points = d.latin_hypercube(ranges, args.n, base.base_seed)
        experiment = d.build_design_experiment(
            args.scenario,
            points,
            sets=args.set or (),
            reps=reps,
            seed=args.seed,
            scale=args.scale,
            end_year=args.end_year,
        )
        ref = experiment.scenarios[0]
        outcome = d.parse_outcome(args.outcome, args.threshold, args.below, ref.end_year)
        ExecutorOptions.validate(args.executor, args.workers, args.address)
        out = Path(args.out) if args.out else default_out("discover", [ref.name], list(ranges))
        check_out_folder(out)
        RunStore(out).check_compatible(experiment)
        if not args.quiet:
            print(
                f"povsim discover: {args.n} points (Latin hypercube, seed {experiment.base_seed}) × {reps} reps = "
                f"{len(experiment.runs)} runs of {ref.name}; sampling {sampling_text(ref.scale, ref.poor_area_scale)}; "
                f"executor {args.executor} → {out}"
            )
        d.remove_outputs(out)
        report = _run_stored(experiment, out, args)
        if report is None:
            return 130
        if report.failed:
            _print_failures(out, experiment, report.failed)
            return 1
        if not args.quiet:
            rate = report.finished / report.wall_seconds * 60 if report.finished else 0.0
            print(
                f"{report.total} runs: {report.finished} run now, {report.skipped} already done; "
                f"{report.wall_seconds:.1f} s ({rate:.0f} runs/min)"
            )
        result = d.discover(report.runs, list(ranges), outcome, **settings)
        design = d.design_record(experiment, ranges, sampler="scipy.stats.qmc.LatinHypercube", n=args.n)
        paths = report.paths + d.write_discovery(result, out, design)
    if not args.quiet:
        print(result.summary())
        for path in paths:
            print(f"wrote {path}")
    return 0
