"""The ``povsim`` command line.

    povsim run [SCENARIO] [--seed N] [--scale S] [--poor-area-scale F] [--end-year Y] [--set key.path=value ...]
               [--against [BASELINE]] [--out DIR]
    povsim params [PATTERN] [--states]

Every command ends an error with one line naming the path or key and the problem, and an exit code:
2 for bad input (nothing is written), 3 for the environment (a full disk, a refused permission, a
read-only file system), 1 for an error in povsim itself, 130 for Ctrl-C. ``--debug`` shows the
traceback instead. ``povsim run`` builds its folder beside the target and swaps it in whole, so the
folder is always one complete run or the previous one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from tqdm import tqdm

from povsim.errors import EXIT_INPUT, PovsimError, PovsimInputError, os_error
from povsim.scenario import DEFAULT_SCENARIO, parse_set

if TYPE_CHECKING:
    from povsim.model import PovertyModel
    from povsim.scenario import Scenario

RUN_OUTPUTS = ("results.csv", "counties.csv", "limits.csv", "manifest.json", "poverty_trajectory.png")
"""The files of a ``povsim run`` folder: an existing folder holding only these may be replaced."""
AGAINST_OUTPUTS = ("difference.csv", "baseline_results.csv", "difference.png")
"""The files ``povsim run --against`` adds to the folder."""


def _run(args: argparse.Namespace) -> int:
    from povsim.io import check_out_folder, final_paths, replacing_folder
    from povsim.memory import keep_freed_memory
    from povsim.model import resolve_scenario
    from povsim.reporting import exit_mix_table, limits_table, summary_table, write_outputs
    from povsim.scenario import output_folder

    keep_freed_memory()  # large runs: reuse freed buffers instead of fresh mmaps (no effect on results)
    if args.check_state:
        from povsim.state import CHECK_ENV

        os.environ[CHECK_ENV] = "1"

    scenario = resolve_scenario(args.scenario)
    scenario = scenario.with_settings(
        seed=args.seed,
        scale=args.scale,
        end_year=args.end_year,
        poor_area_scale=args.poor_area_scale,
        origin="command line",
    )
    if args.set:
        scenario = scenario.with_overrides(parse_set(args.set), origin="--set")
    baseline = _against(scenario, args.against) if args.against else None
    out_dir, option = (Path(args.out), "--out") if args.out else (output_folder(scenario), "output folder")
    check_out_folder(out_dir, option, replaceable=RUN_OUTPUTS + AGAINST_OUTPUTS)
    # the folder is built before the run (one that cannot be made fails now, not after it) and swapped in whole
    with replacing_folder(out_dir) as built:
        model, wall = _simulate(scenario, args.quiet)
        base_model = _simulate(baseline, args.quiet)[0] if baseline is not None else None
        paths = write_outputs(model, built, wall, command=["povsim", *sys.argv[1:]], against=base_model)
    paths = dict(zip(paths, final_paths(paths.values(), built, out_dir), strict=True))
    if not args.quiet:
        print(
            f"povsim {scenario.name}: {model.households.n:,} household agents ({scenario.run.sampling}), "
            f"{model.geography.n_counties:,} counties, seed {scenario.run.seed}, {wall:.1f} s"
        )
        print("People are national totals; 'survey' is the NBS headcount (observed to 2017).")
        results = model.results()
        if base_model is None:
            print(summary_table(results))
            print()
            print(exit_mix_table(results))
            print()
            print(limits_table(results))
            if scenario.overrides:
                print("(a what-if: `--against` also runs the baseline and prints the paired difference)")
        else:
            _print_against(model, base_model)
        for path in paths.values():
            print(f"wrote {path}")
    return 0


def _against(whatif: Scenario, against: str) -> Scenario:
    """The baseline of ``--against``: its scenario file with the what-if's run settings (seed,
    sampling, end year), so that the pair shares its random numbers and differs in policy only."""
    from povsim.model import resolve_scenario

    return resolve_scenario(against).model_copy(update={"run": whatif.run})


def _print_against(model: PovertyModel, base: PovertyModel) -> None:
    import pandas as pd

    from povsim.whatif import (
        channel_table,
        channel_text,
        difference_table,
        limits,
        limits_text,
        pair_names,
        paired_difference,
    )

    names = pair_names(model, base)
    results, base_results = model.results(), base.results()
    diff = paired_difference(results, base_results)
    years = sorted(results["year"].unique())
    print(
        f"Against {base.scenario.name} ({base.scenario.path}): same seed {model.scenario.run.seed} and sampling, "
        "common random numbers; every difference below is the policy's."
    )
    print(difference_table(diff, names))
    print()
    print(channel_text(channel_table(diff, names), years[1], years[-1]))
    print()
    table = pd.concat([limits(results, names[0]), limits(base_results, names[1])], ignore_index=True)
    print(limits_text(table, names))


def _simulate(scenario: Scenario, quiet: bool) -> tuple[PovertyModel, float]:
    """Run ``scenario`` to its end year with a progress bar on stderr; the model and its wall time."""
    from povsim.model import PovertyModel

    started = time.perf_counter()
    years = scenario.run.end_year - 2014
    with tqdm(
        total=years + 1,
        desc=f"povsim {scenario.name}",
        unit="yr",
        disable=quiet or None,
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
    return model, time.perf_counter() - started


def _params(args: argparse.Namespace) -> int:
    from povsim.parameters import ParameterSet
    from povsim.sources import references

    if args.states:
        from povsim.phases import state_declarations
        from povsim.state import states_table

        table = states_table(state_declarations(), args.pattern)
        if not table:
            raise PovsimInputError(f"no household column contains {args.pattern!r}")
        print(table)
        return 0
    params = ParameterSet.defaults()
    shown = 0
    for p in params:
        if args.pattern and args.pattern not in p.path:
            continue
        shown += 1
        rng = f"  calibration range {list(p.range)}" if p.range else ""
        role = p.role + (f", varied over {list(p.lever)}" if p.lever else "")
        if p.extend:
            after = {"hold": "held", "zero": "0"}.get(p.extend, f"grown at {p.extend}")
            role += f"; after its last year: {after}"
        print(f"{p.path} = {p.value!r}  [{p.unit}]{rng}\n    role: {role}\n    source: {p.source}")
        for reference in references(p.source):  # the full reference of every document the source cites
            print(f"      {reference}")
    if not shown:
        raise PovsimInputError(f"no parameter path contains {args.pattern!r}")
    return 0


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit code 2) like every other povsim error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = Parser(
        prog="povsim",
        description="Agent-based model of poverty reduction "
        "under China's targeted poverty alleviation campaign (精准扶贫).",
    )
    parser.add_argument("--debug", action="store_true", help="on an error, show the traceback")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one scenario and write results.csv, manifest.json and a figure")
    run.add_argument("scenario", nargs="?", default=None, help=f"scenario file (default: {DEFAULT_SCENARIO})")
    run.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    run.add_argument(
        "--scale", type=float, help="real households per household agent, at least 1 (default: the scenario's)"
    )
    run.add_argument(
        "--poor-area-scale",
        type=float,
        metavar="F",
        help="real households per agent in the poor counties and the poor villages of other counties, "
        "where finer than --scale (default: the scenario's)",
    )
    run.add_argument("--end-year", type=int, help="last simulated year, 2015–2025 (default 2020)")
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY.PATH=VALUE",
        help="override a parameter or run setting, e.g. economy.growth.farm=0.04 (repeatable)",
    )
    run.add_argument(
        "--against",
        nargs="?",
        const=str(DEFAULT_SCENARIO),
        metavar="BASELINE",
        help=f"also run BASELINE (default {DEFAULT_SCENARIO}) with this run's seed, sampling and end year (common "
        "random numbers; --set applies to SCENARIO only) and print and write the paired difference by year and "
        "channel and what limited each channel: difference.csv, limits.csv, baseline_results.csv, difference.png",
    )
    run.add_argument("--out", help="output folder (default: results/<scenario name>/)")
    run.add_argument(
        "--check-state",
        action="store_true",
        help="run each phase of the year under its declaration of the household columns it owns, modifies and "
        "reads (povsim params --states): an undeclared write or read stops the run; the results are the same",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="print nothing, show no progress")
    run.set_defaults(func=_run)

    params = sub.add_parser(
        "params", help="list parameters with value, unit, source and the full reference of every document cited"
    )
    params.add_argument("pattern", nargs="?", default="", help="show only paths containing this text")
    params.add_argument(
        "--states",
        action="store_true",
        help="instead, print each phase of the year with the household columns it owns, modifies and reads",
    )
    params.set_defaults(func=_params)

    from povsim.calibration.cli import add_commands as add_calibration_commands
    from povsim.dashboard.cli import add_commands as add_dashboard_commands
    from povsim.experiments.cli import add_commands as add_experiment_commands
    from povsim.reference import add_command as add_reference_command

    add_experiment_commands(sub)
    add_calibration_commands(sub)
    add_reference_command(sub)
    add_dashboard_commands(sub)
    for command in sub.choices.values():  # --debug also after the command: povsim run --debug ...
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def error_line(exc: BaseException) -> tuple[str, int]:
    """The one line and the exit code an error ends a command with (the CLI's single edge).

    Povsim's own errors carry their code (2 bad input, 3 environment); an ``OSError`` that escaped
    is named by its path (2 when the path was wrong, 3 when the machine refused); corrupt data
    files (Parquet, JSON, CSV, TOML) are bad input; anything else is an error in povsim (1).
    """
    import json
    import tomllib

    if isinstance(exc, PovsimError):
        return " ".join(str(exc).splitlines()), exc.exit_code
    if isinstance(exc, OSError):
        err = os_error(exc)
        return " ".join(str(err).splitlines()), err.exit_code
    data_errors: tuple[type[BaseException], ...] = (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError)
    try:
        import pyarrow as pa
        from pandas.errors import EmptyDataError, ParserError

        data_errors += (pa.ArrowException, EmptyDataError, ParserError)
    except ImportError:  # pragma: no cover - both are dependencies
        pass
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, data_errors):
        return f"unreadable data: {type(exc).__name__}: {text}", EXIT_INPUT
    return f"internal error, please report it (rerun with --debug for the traceback): {type(exc).__name__}: {text}", 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``povsim`` command; returns the exit code.

    Every error ends here with one line on stderr (``povsim: error: ...``) and its exit code
    (:func:`error_line`); with ``--debug`` the error is raised with its traceback instead.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # the output was piped into a reader that stopped (povsim run | head)
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("povsim: interrupted; finished files are complete, nothing half-written", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        line, code = error_line(exc)
        print(f"povsim: error: {line}", file=sys.stderr)
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
