"""The calibration commands of the ``povsim`` command line.

    povsim calibrate [SCENARIO] [--quick | --refine | --check] [--fit PATH,...] [--params-file FILE] [--workers K]
                     [--out DIR] [-q]
    povsim forecast [SCENARIO] [--reps N] [--workers K] [--out DIR] [-q]
    povsim backtest [SCENARIO] --origin 2015|2016 [--quick] [--workers K] [--out DIR] [-q]
    povsim sensitivity [SCENARIO] --method morris|sobol [--n N] [--reps R] [--vary SET] [--outcomes SET] [--end-year Y]
                       [--workers K] [--out DIR] [-q]

Bad input ends with a one-line error and exit code 2 before any run starts or any file is written.
Each command builds its ``--out`` folder beside it (a hidden ``.<name>.tmp-*`` folder) and swaps it in
whole when every file is written (:func:`povsim.io.replacing_folder`), so a failed or interrupted
command (a full disk, Ctrl-C) leaves the previous complete folder or none, never a mixture. ``--out`` is
checked before any run: a folder holding anything but the command's own files is refused (exit 2) rather
than replaced.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from povsim.errors import PovsimInputError

if TYPE_CHECKING:
    from povsim.calibration.fit import Calibration
    from povsim.scenario import RunSettings, Scenario

CALIBRATION_OUTPUTS = ("fit.csv", "fit.png", "posterior.csv", "evaluations.csv", "calibration.json")
"""The files of a ``povsim calibrate`` report folder (``--out``)."""
CHECK_FOLDER = "check"
"""The report of ``povsim calibrate --check`` by default, inside the calibration's own report folder: a
new calibration report keeps the previous folder's copy of it."""
FORECAST_OUTPUTS = (
    "forecast.csv",
    "runs.csv",
    "forecast.png",
    "decomposition.csv",
    "decomposition.png",
    "manifest.json",
)
"""The files of a ``povsim forecast`` folder."""
SENSITIVITY_OUTPUTS = ("indices.csv", "samples.csv", "sensitivity.png", "manifest.json", "identifiability.csv")
"""The files of a ``povsim sensitivity`` folder."""
BACKTEST_OUTPUTS = ("backtest.csv", "summary.csv", "backtest.png", "calibration", "calibrated.toml", "manifest.json")
"""The files (and the ``calibration/`` folder) of a ``povsim backtest`` folder."""


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``calibrate``, ``forecast``, ``backtest`` and ``sensitivity`` on the ``povsim`` parser."""
    from povsim.calibration.settings import QUICK, REFINE
    from povsim.costs import COSTS, check_cost

    cal = sub.add_parser(
        "calibrate",
        help="fit the uncertain parameters to the 2014–2017 targets and write them for the baseline",
        description="Fit parameters to the survey headcounts 2015–2017 and their regional split, the end-2015 "
        "registry stock, the people re-registered in 2016 and the counties exited by 2016 and by 2017 (nothing after "
        "2017), check relocation, print every target's error and whether it meets its acceptance, write the "
        "calibrated values "
        "(with provenance and posterior draws) to the parameter data every run uses, and a fit report (fit.csv, "
        "fit.png) into --out.",
    )
    _scenario_arg(cal)
    mode = cal.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        action="store_true",
        help=f"a small fit for a smoke test ({COSTS['calibrate --quick'].text()} measured; the full fit: "
        f"{COSTS['calibrate'].text()})",
    )
    mode.add_argument(
        "--check",
        action="store_true",
        help="fit nothing: re-run the calibration in --params-file (default: the package's) against every target "
        f"and write its report ({check_cost().text()} measured; default --out results/calibration/check/)",
    )
    mode.add_argument(
        "--refine",
        action="store_true",
        help=f"re-fit from the calibration in --params-file (default: the package's) with {REFINE.seeds} seeds per "
        f"point ({COSTS['calibrate --refine'].text()} measured)",
    )
    cal.add_argument(
        "--fit",
        metavar="PATH,...",
        help="comma-separated parameters to fit instead of the default set (each needs a calibration range)",
    )
    cal.add_argument(
        "--params-file",
        metavar="FILE",
        help="where to write the calibrated values (default: the package's calibration/calibrated.toml, "
        "which every run reads)",
    )
    _common(cal, "results/calibration")
    cal.set_defaults(func=_calibrate)

    fc = sub.add_parser(
        "forecast",
        help="forecast 2018–2020 with 90%% intervals beside naive linear and log-linear trends",
        description="Run --reps replications to 2020, each with a posterior parameter draw from the calibration and "
        "its own seed; print and write the forecast by year and region with 90% intervals, beside two naive "
        "trends fitted to the 2014–2017 survey headcounts.",
    )
    _scenario_arg(fc)
    fc.add_argument("--reps", type=int, default=100, help="replications (default 100)")
    _common(fc, "results/forecast")
    fc.set_defaults(func=_forecast)

    bt = sub.add_parser(
        "backtest",
        help="calibrate on data up to --origin (2015 or 2016), forecast to 2017 and score it out of sample",
        description="The out-of-sample test: calibrate exactly as povsim calibrate does but only on the targets "
        "describing --origin or earlier, run the posterior draws to 2017, and score every later target (national and "
        "regional survey headcounts, counties exited, re-registration, relocation) against the model and against "
        "naive linear and log-linear trends fitted to the survey of 2014 to the origin. Writes backtest.csv, "
        "summary.csv, backtest.png, the fit (calibration/) and the backtest's calibrated values (calibrated.toml; "
        "the package's calibration is not touched) into --out.",
    )
    _scenario_arg(bt)
    bt.add_argument("--origin", type=int, required=True, help="last year of data used: 2015 or 2016")
    bt.add_argument(
        "--quick",
        action="store_true",
        help=f"a small fit for a smoke test (the quick calibration, {QUICK.seeds} seeds per point: "
        f"{COSTS['backtest --quick'].text()} measured); the default, the "
        f"full calibration, took {COSTS['backtest --origin 2015'].text()} from 2015 and "
        f"{COSTS['backtest --origin 2016'].text()} from 2016 on two cores, each beside another job",
    )
    _common(bt, "results/backtest/origin_<YEAR>")
    bt.set_defaults(func=_backtest)

    sens = sub.add_parser(
        "sensitivity",
        help="Morris or Sobol sensitivity (SALib) of poor people 2020, relapse and cost per sustained exit",
        description="Vary the uncertain parameters (each over its calibration range) and the main levers, run the "
        "model for every sampled point with common random numbers, and write the indices (indices.csv), the runs "
        "(samples.csv) and a figure (sensitivity.png).",
    )
    _scenario_arg(sens)
    sens.add_argument("--method", required=True, choices=("morris", "sobol"), help="Morris screening or Sobol indices")
    sens.add_argument(
        "--n", type=int, help="Morris trajectories (default 10) or Sobol base samples, a power of two (default 64)"
    )
    sens.add_argument("--reps", type=int, default=1, help="seeds averaged per point (default 1)")
    sens.add_argument(
        "--vary",
        default="all",
        metavar="SET",
        help="parameters varied: 'all' (uncertain parameters and levers, default), 'uncertain', 'levers', "
        "'fitted' (those povsim calibrate fits), or comma-separated paths",
    )
    sens.add_argument(
        "--outcomes",
        choices=("policy", "targets"),
        default="policy",
        help="'policy': poor people in the end year, relapse and cost per sustained exit (default); 'targets': "
        "every calibration target after 2014, for an identifiability screening (also writes identifiability.csv: "
        "μ* in each target's tolerances; runs to 2017 unless --end-year says otherwise)",
    )
    sens.add_argument("--end-year", type=int, help="last simulated year (default 2020; 2017 with --outcomes targets)")
    _common(sens, "results/sensitivity")
    sens.set_defaults(func=_sensitivity)


def _scenario_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", nargs="?", default=None, help="scenario file (default: scenarios/baseline.toml)")


def _common(p: argparse.ArgumentParser, out: str) -> None:
    p.add_argument(
        "--scale",
        type=float,
        help="real households per agent outside the poor areas (default: the scenario's sampling design)",
    )
    p.add_argument("--workers", type=int, help="worker processes (default: all CPUs)")
    p.add_argument("--out", default=out, help=f"output folder (default {out}/)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def _sampling(scenario: Scenario, args: argparse.Namespace) -> RunSettings:
    """The run settings of the runs: the scenario's sampling design, with ``--scale`` for the rest."""
    return scenario.with_settings(scale=args.scale, origin="--scale").run


def _check_common(args: argparse.Namespace, replaceable: Collection[str]) -> None:
    """Check ``--scale``, ``--workers`` and ``--out`` before any run; ``replaceable``: the names the
    ``--out`` folder may already hold (a previous output of the same command), as it is replaced whole."""
    from povsim.io import check_out_folder

    if args.scale is not None and not 1 <= args.scale <= 1e8:  # also NaN
        raise PovsimInputError(f"--scale {args.scale:g}: must be a number from 1 to 1e8")
    if args.workers is not None and args.workers < 1:
        raise PovsimInputError(f"--workers {args.workers}: must be at least 1")
    check_out_folder(args.out, replaceable=replaceable)


def _inside(path: Path, folder: Path) -> Path | None:
    """``path`` relative to ``folder`` when it lies in it, else None."""
    try:
        return path.resolve().relative_to(folder.resolve())
    except ValueError:
        return None


def _carry_over(names: Collection[str], previous: Path, built: Path) -> None:
    """Copy the entries ``names`` of the folder ``previous`` (when they exist) into ``built`` before it
    replaces ``previous``: what lives in the folder but is not rewritten by the command.

    Raises:
        PovsimEnvironmentError, PovsimInputError: a copy failed (nothing is replaced then).
    """
    import shutil

    from povsim.errors import os_error

    for name in names:
        source = previous / name
        if not source.exists() or (built / name).exists():
            continue
        try:
            if source.is_dir():
                shutil.copytree(source, built / name, symlinks=True)
            else:
                shutil.copy2(source, built / name)
        except OSError as exc:
            raise os_error(exc, previous / name, "cannot keep") from None


def _writable_file(path: str | None, option: str) -> Path:
    """The calibrated-values file to write (default: the package's), checked before any run.

    Raises:
        PovsimInputError: the path is a folder, or no folder on its way can be written.
    """
    import os

    from povsim.parameters import calibrated_path

    target = Path(str(calibrated_path())) if path is None else Path(path)
    if target.is_dir():
        raise PovsimInputError(f"{option} {target}: is a folder; give a file path (e.g. {target}/calibrated.toml)")
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise PovsimInputError(f"{option} {target}: cannot write in {parent}")
    return target


def _say(args: argparse.Namespace):
    return (lambda *_: None) if args.quiet else (lambda msg: print(msg, flush=True))


def _calibrate(args: argparse.Namespace) -> int:
    from povsim.calibration.fit import FITTED_PARAMETERS, calibrate, check_paths, write_calibration
    from povsim.calibration.settings import FULL, QUICK, REFINE
    from povsim.io import final_paths, replacing_folder
    from povsim.model import resolve_scenario

    if args.check:
        return _check_calibration(args)
    params_file = _writable_file(args.params_file, "--params-file")
    out = Path(args.out)
    # what the report folder keeps from its previous version: the re-check's report, and the
    # calibrated values when --params-file lies in --out (written there, then copied into the new folder)
    kept = [CHECK_FOLDER]
    inside = _inside(params_file, out)
    if inside is not None:
        if not inside.parts or inside.parts[0] in (*CALIBRATION_OUTPUTS, CHECK_FOLDER):
            raise PovsimInputError(
                f"--params-file {params_file}: the report in --out {out} has this name; choose another file"
            )
        kept.append(inside.parts[0])
    _check_common(args, (*CALIBRATION_OUTPUTS, *kept))
    paths = [p.strip() for p in args.fit.split(",") if p.strip()] if args.fit else list(FITTED_PARAMETERS)
    check_paths(paths)
    if args.refine:  # the values a refinement starts from: every one checked before any run
        from povsim.parameters import check_calibration_file

        check_calibration_file(params_file)
    scenario = resolve_scenario(args.scenario)
    settings = QUICK if args.quick else REFINE if args.refine else FULL
    say = _say(args)
    say(
        f"povsim calibrate ({settings.mode}): {len(paths)} parameters, targets to 2017, "
        f"sampling {_sampling(scenario, args).sampling}"
    )
    with replacing_folder(out) as built:
        cal = calibrate(
            scenario,
            settings=settings,
            paths=paths,
            scale=args.scale,
            workers=args.workers,
            progress=not args.quiet,
            log=say,
            params_file=params_file,
        )
        command = shlex.join(["povsim", *sys.argv[1:]]) if sys.argv[0].endswith("povsim") else "povsim calibrate"
        # the calibrated values go to their file at once (atomically), the report to the new folder
        written = write_calibration(cal, built, params_file, command)
        _carry_over(kept, out, built)
    if not args.quiet:
        _print_fit(cal)
        for path in final_paths(written.values(), built, out):
            print(f"wrote {path}")
    return 0


def _check_calibration(args: argparse.Namespace) -> int:
    from povsim.calibration.fit import check_calibration, write_calibration
    from povsim.io import final_paths, replacing_folder
    from povsim.model import resolve_scenario

    if args.fit:
        raise PovsimInputError("--check re-runs a written calibration; --fit chooses what a new fit fits")
    if args.out == "results/calibration":  # the default: leave the fit's own report beside it
        args.out = f"results/calibration/{CHECK_FOLDER}"
    _check_common(args, CALIBRATION_OUTPUTS)
    params_file = Path(args.params_file) if args.params_file else None
    if params_file is not None and not params_file.is_file():
        raise PovsimInputError(f"--params-file {params_file}: no such file to check")
    from povsim.parameters import calibrated_path, check_calibration_file

    check_calibration_file(params_file if params_file is not None else calibrated_path())
    scenario = resolve_scenario(args.scenario)
    say = _say(args)
    say(f"povsim calibrate (check): the calibration in {params_file or 'the package'} against every target")
    out = Path(args.out)
    with replacing_folder(out) as built:
        cal = check_calibration(
            scenario, scale=args.scale, workers=args.workers, progress=not args.quiet, params_file=params_file
        )
        command = (
            shlex.join(["povsim", *sys.argv[1:]]) if sys.argv[0].endswith("povsim") else "povsim calibrate --check"
        )
        written = write_calibration(cal, built, None, command)
    if not args.quiet:
        _print_fit(cal)
        for path in final_paths(written.values(), built, out):
            print(f"wrote {path}")
    return 0


def _print_fit(cal: Calibration) -> None:
    from povsim.calibration.settings import CHECK_REPS

    r = cal.report
    print(
        f"\n{'target':<38}{'observed':>10}{'documented':>12}{'calibrated':>12}{'error':>8}  "
        f"{'acceptance':<26}{'':<8}90% band (draws)"
    )
    for _, row in r.iterrows():
        millions = row.observed > 1000

        def fmt(x: float, millions: bool = millions) -> str:
            return f"{x / 1e6:.2f}" if millions else f"{x:.3g}"

        verdict = "met" if row.met else "MISSED"
        kind = "" if row.fitted else " (checked, not fitted)"
        print(
            f"{row.label:<38}{fmt(row.observed):>10}{fmt(row.prior_mean):>12}{fmt(row.calibrated_mean):>12}"
            f"{row.calibrated_rel_error:>8.1%}  {row.acceptance:<26}{verdict:<8}"
            f"[{fmt(row.posterior_p05)}, {fmt(row.posterior_p95)}]{kind}"
        )
    fit = "" if cal.settings.mode == "check" else f"; the fit used {cal.settings.seeds} other seeds per point"
    print(f"(people in millions; means over the {CHECK_REPS} check seeds of `povsim batch --reps {CHECK_REPS}`{fit})")
    print(f"\n{'parameter':<46}{'documented':>12}{'calibrated':>12}{'posterior sd':>14}")
    for p in cal.space.paths:
        print(f"{p:<46}{cal.prior[p]:>12.4g}{cal.values[p]:>12.4g}{cal.posterior_sd[p]:>14.3g}")
    fitted = r[r["fitted"]]
    checked = r[~r["fitted"]]
    print(f"\nfitted targets: {int(fitted['met'].sum())} of {len(fitted)} met their acceptance", end="")
    missed = cal.missed(fitted=True)
    print(f"; MISSED: {', '.join(missed)}" if missed else "")
    print(f"checked targets: {int(checked['met'].sum())} of {len(checked)} met", end="")
    missed = cal.missed(fitted=False)
    print(f"; missed: {', '.join(missed)}" if missed else "")


def _backtest(args: argparse.Namespace) -> int:
    from povsim.calibration.backtest import backtest_figure, backtest_text, check_origin, run_backtest
    from povsim.calibration.fit import write_calibration
    from povsim.calibration.settings import FULL, QUICK
    from povsim.io import replacing_folder, write_bytes, write_csv, write_json
    from povsim.model import resolve_scenario

    check_origin(args.origin)
    if args.out == "results/backtest/origin_<YEAR>":
        args.out = f"results/backtest/origin_{args.origin}"
    _check_common(args, BACKTEST_OUTPUTS)
    scenario = resolve_scenario(args.scenario)
    settings = QUICK if args.quick else FULL
    say = _say(args)
    say(
        f"povsim backtest ({settings.mode}): calibrate on data to {args.origin}, forecast to 2017, "
        f"sampling {_sampling(scenario, args).sampling}"
    )
    started = time.perf_counter()
    bt = run_backtest(
        scenario,
        args.origin,
        settings=settings,
        scale=args.scale,
        workers=args.workers,
        progress=not args.quiet,
        log=say,
    )
    # the folder is complete or absent: built beside it, then swapped in whole
    out = Path(args.out)
    command = shlex.join(["povsim", *sys.argv[1:]]) if sys.argv[0].endswith("povsim") else "povsim backtest"
    with replacing_folder(out) as built:
        write_calibration(bt.calibration, built / "calibration", built / "calibrated.toml", command)
        write_csv(bt.table, built / "backtest.csv")
        write_csv(bt.summary, built / "summary.csv")
        write_bytes(backtest_figure(bt), built / "backtest.png")
        write_json(
            {
                "command": command,
                "origin": args.origin,
                "mode": settings.mode,
                "scenario": scenario.name,
                **_sampling(scenario, args).design(),
                "runs": bt.calibration.runs,
                "seconds": round(time.perf_counter() - started, 1),
            },
            built / "manifest.json",
        )
    if not args.quiet:
        print(backtest_text(bt))
        print(f"wrote {out}/ (backtest.csv, summary.csv, backtest.png, calibration/, calibrated.toml, manifest.json)")
    return 0


def _forecast(args: argparse.Namespace) -> int:
    from povsim.calibration.forecast import (
        HORIZON,
        decomposition_figure,
        decomposition_text,
        forecast_figure,
        forecast_text,
        run_forecast,
    )
    from povsim.io import final_paths, replacing_folder, write_bytes, write_csv, write_json
    from povsim.model import resolve_scenario

    _check_common(args, FORECAST_OUTPUTS)
    if args.reps < 2:
        raise PovsimInputError(f"--reps {args.reps}: at least 2 are needed for an interval")
    scenario = resolve_scenario(args.scenario)
    started = time.perf_counter()
    out = Path(args.out)
    with replacing_folder(out) as built:
        fc = run_forecast(scenario, args.reps, scale=args.scale, workers=args.workers, progress=not args.quiet)
        png = forecast_figure(fc)
        written = [
            write_csv(fc.table, built / "forecast.csv"),
            write_csv(fc.runs, built / "runs.csv"),
            write_bytes(png, built / "forecast.png"),
            write_csv(fc.decomposition, built / "decomposition.csv"),
            write_bytes(decomposition_figure(fc), built / "decomposition.png"),
            write_json(
                {
                    "scenario": scenario.name,
                    "reps": args.reps,
                    "parameter_draws": fc.parameter_draws,
                    **_sampling(scenario, args).design(),
                    "seconds": round(time.perf_counter() - started, 1),
                    "notes": fc.notes,
                },
                built / "manifest.json",
            ),
        ]
    written = final_paths(written, built, out)
    if not args.quiet:
        for note in fc.notes:
            print(f"note: {note}")
        from povsim.experiments.compare import MIN_BAND_RUNS

        few = (
            f" (fewer than {MIN_BAND_RUNS}: about their range, not a 90% interval)" if args.reps < MIN_BAND_RUNS else ""
        )
        print(f"Forecast of rural poor people (millions), {args.reps} runs, 90% intervals{few}:")
        print(forecast_text(fc))
        national = fc.table[(fc.table["region"] == "national") & (fc.table["year"] == HORIZON)]
        print(f"share of runs meeting the {HORIZON} target of zero: {float(national['target_met_share'].iloc[0]):.0%}")
        print("\nWhy each year moves (national, millions, means over the runs; decomposition.csv has intervals):")
        print(decomposition_text(fc))
        for path in written:
            print(f"wrote {path}")
    return 0


def _sensitivity(args: argparse.Namespace) -> int:
    from povsim.calibration.evaluate import Evaluator
    from povsim.calibration.sensitivity import (
        check_size,
        figure,
        identifiability,
        run_count,
        run_sensitivity,
        sensitivity_space,
        target_outcomes,
    )
    from povsim.io import final_paths, replacing_folder, write_bytes, write_csv, write_json
    from povsim.model import resolve_scenario
    from povsim.parameters import ParameterSet

    _check_common(args, SENSITIVITY_OUTPUTS)
    if args.reps < 1:
        raise PovsimInputError(f"--reps {args.reps}: must be at least 1")
    first = 2017 if args.outcomes == "targets" else 2020
    if args.end_year is None:
        args.end_year = first
    if not first <= args.end_year <= 2025:
        raise PovsimInputError(f"--end-year {args.end_year}: the {args.outcomes} outcomes need {first}–2025")
    n = args.n if args.n is not None else (10 if args.method == "morris" else 64)
    check_size(args.method, n)  # before the design is announced
    space = sensitivity_space(ParameterSet.defaults(), args.vary)
    scenario = resolve_scenario(args.scenario)
    say = _say(args)
    from povsim.experiments.spec import rep_seed

    seeds = [rep_seed(scenario.run.seed, r) for r in range(args.reps)]
    runs = run_count(space, args.method, n) * args.reps
    say(f"povsim sensitivity ({args.method}): {len(space)} parameters, {runs} runs")
    started = time.perf_counter()
    out = Path(args.out)
    table = None
    with replacing_folder(out) as built:
        with Evaluator(
            scenario, seeds, end_year=args.end_year, scale=args.scale, workers=args.workers, progress=not args.quiet
        ) as ev:
            res = run_sensitivity(
                ev,
                space,
                args.method,
                n,
                seed=scenario.run.seed % 2**32,
                outcomes=target_outcomes() if args.outcomes == "targets" else None,
            )
        png = figure(res)
        written = [
            write_csv(res.indices, built / "indices.csv"),
            write_csv(res.samples, built / "samples.csv"),
            write_bytes(png, built / "sensitivity.png"),
            write_json(
                {
                    "method": args.method,
                    "n": n,
                    "reps": args.reps,
                    "parameters": space.salib_problem(),
                    "runs": res.runs,
                    **_sampling(scenario, args).design(),
                    "end_year": args.end_year,
                    "outcomes": args.outcomes,
                    "seconds": round(time.perf_counter() - started, 1),
                },
                built / "manifest.json",
            ),
        ]
        if args.outcomes == "targets" and args.method == "morris":
            table = identifiability(res)
            written.append(write_csv(table.reset_index(), built / "identifiability.csv"))
    written = final_paths(written, built, out)
    if not args.quiet and table is not None:
        print("\nIdentifiability: Morris μ* in each target's tolerances, the 15 most influential parameters")
        print(f"{'parameter':<56}{'max':>8}{'targets moved > 1 tolerance':>30}")
        for path, row in table.head(15).iterrows():
            print(f"{path:<56}{row['max']:8.2f}{int(row['targets_moved']):>30}")
        for path in written:
            print(f"wrote {path}")
    elif not args.quiet:
        key = "mu_star" if args.method == "morris" else "ST"
        for outcome, label in res.outcomes.items():
            print(f"\n{label}: top parameters by {key}")
            print(res.ranking(outcome, 8).to_string(float_format=lambda x: f"{x:.3g}"))
        for path in written:
            print(f"wrote {path}")
    return 0
