"""The ``povsim`` command line.

    povsim run [SCENARIO] [--seed N] [--scale S] [--end-year Y] [--set key.path=value ...] [--out DIR]
    povsim params [PATTERN]

Bad input ends with a one-line error naming the problem and exit code 2; nothing is written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from povsim.errors import PovsimInputError
from povsim.scenario import DEFAULT_SCENARIO, parse_set


def _run(args: argparse.Namespace) -> int:
    from povsim.memory import keep_freed_memory
    from povsim.model import PovertyModel, resolve_scenario
    from povsim.reporting import exit_mix_table, limits_table, summary_table, write_outputs

    keep_freed_memory()  # large runs: reuse freed buffers instead of fresh mmaps (no effect on results)

    scenario = resolve_scenario(args.scenario)
    scenario = scenario.with_settings(seed=args.seed, scale=args.scale, end_year=args.end_year, origin="command line")
    if args.set:
        scenario = scenario.with_overrides(parse_set(args.set), origin="--set")
    out_dir = Path(args.out) if args.out else Path("results") / scenario.name

    started = time.perf_counter()
    years = scenario.run.end_year - 2014
    with tqdm(
        total=years + 1,
        desc=f"povsim {scenario.name}",
        unit="yr",
        disable=args.quiet or None,
        file=sys.stderr,
        leave=False,
    ) as bar:
        bar.set_postfix_str("building population")
        model = PovertyModel(scenario)
        bar.update(1)
        while model.running:
            bar.set_postfix_str(str(model.year + 1))
            model.step()
            bar.update(1)
    wall = time.perf_counter() - started
    paths = write_outputs(model, out_dir, wall, command=["povsim", *sys.argv[1:]])
    if not args.quiet:
        print(
            f"povsim {scenario.name}: {model.households.n:,} household agents (1 : {scenario.run.scale:g}), "
            f"{len(model.counties):,} county agents, seed {scenario.run.seed}, {wall:.1f} s"
        )
        print("People are national totals; 'survey' is the NBS headcount (observed to 2017).")
        results = model.results()
        print(summary_table(results))
        print()
        print(exit_mix_table(results))
        print()
        print(limits_table(results))
        for path in paths.values():
            print(f"wrote {path}")
    return 0


def _params(args: argparse.Namespace) -> int:
    from povsim.parameters import ParameterSet

    params = ParameterSet.defaults()
    shown = 0
    for p in params:
        if args.pattern and args.pattern not in p.path:
            continue
        shown += 1
        rng = f"  calibration range {list(p.range)}" if p.range else ""
        print(f"{p.path} = {p.value!r}  [{p.unit}]{rng}\n    source: {p.source}")
    if not shown:
        raise PovsimInputError(f"no parameter path contains {args.pattern!r}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="povsim",
        description="Agent-based model of poverty reduction "
        "under China's targeted poverty alleviation campaign (精准扶贫).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one scenario and write results.csv, manifest.json and a figure")
    run.add_argument("scenario", nargs="?", default=None, help=f"scenario file (default: {DEFAULT_SCENARIO})")
    run.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    run.add_argument("--scale", type=float, help="real households per household agent, at least 1 (default 1000)")
    run.add_argument("--end-year", type=int, help="last simulated year, 2015–2025 (default 2020)")
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY.PATH=VALUE",
        help="override a parameter or run setting, e.g. economy.growth.farm=0.04 (repeatable)",
    )
    run.add_argument("--out", help="output folder (default: results/<scenario name>/)")
    run.add_argument("-q", "--quiet", action="store_true", help="print nothing, show no progress")
    run.set_defaults(func=_run)

    params = sub.add_parser("params", help="list parameters with value, unit and source")
    params.add_argument("pattern", nargs="?", default="", help="show only paths containing this text")
    params.set_defaults(func=_params)

    from povsim.calibration.cli import add_commands as add_calibration_commands
    from povsim.dashboard.cli import add_commands as add_dashboard_commands
    from povsim.experiments.cli import add_commands as add_experiment_commands
    from povsim.reference import add_command as add_reference_command

    add_experiment_commands(sub)
    add_calibration_commands(sub)
    add_reference_command(sub)
    add_dashboard_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``povsim`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except PovsimInputError as exc:
        print(f"povsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("povsim: interrupted; finished files are complete, nothing half-written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
