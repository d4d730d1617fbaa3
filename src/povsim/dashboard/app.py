"""The dashboard page, on Mesa's Solara visualisation.

Served by ``povsim dashboard``, which also switches off Solara's usage statistics. The left column has the
run controls (*Step* one year, *Play* to the end year, *Reset* to 2014) and the levers; the right
column a one-line readout and the three figures of :mod:`povsim.dashboard.figures`, redrawn after
every step through Mesa's ``update_counter``, as Mesa's ``SolaraViz`` redraws its plots.

Unlike ``SolaraViz``, where a changed parameter waits for *Reset*, moving a lever here rebuilds
the model at once with the new values (back to the end-2014 state), so what the plots show always
belongs to the levers on screen. The page uses no Markdown and no font or script from outside
the installed packages, so it works offline (Solara's front-end files come from
``solara-assets``).
"""

from __future__ import annotations

import asyncio
import functools
import warnings
from typing import Any

import pandas as pd
import solara
import solara.lab

from povsim.dashboard.figures import exits_png, national_series, poor_people_png, readout, relapse_png
from povsim.dashboard.levers import SHARE_PREFIX, Lever, Simulation, default_levers, levers, pool_shares
from povsim.errors import PovsimInputError

with warnings.catch_warnings():
    # Mesa's own SolaraViz module trips a Solara hook lint on import; it does not concern us.
    warnings.simplefilter("ignore", UserWarning)
    from mesa.visualization.utils import force_update, update_counter

PLAY_DELAY_SECONDS = 0.5
"""Pause between years while playing, so each year can be seen."""
TITLE = "povsim: targeted poverty alleviation in rural China, 2014–2020"


def calibration_line() -> str:
    """The subtitle: what the model is and whether the parameters every run reads are calibrated
    (from the calibration file's record, ``povsim calibrate``)."""
    from povsim.parameters import read_calibrated

    meta = read_calibrated().get("meta") or {}
    if meta:
        state = (
            f"calibrated to the 2014–2017 observations ({meta.get('mode', '')} fit of {meta.get('date', '?')}; "
            "nothing after 2017), 2018 on a forecast"
        )
    else:
        state = "not calibrated: documented parameter values (run povsim calibrate)"
    return f"An agent-based model of the 2014 poverty registry and the near-poor; {state}. People are national totals."


LEVERS = levers()


@functools.lru_cache(maxsize=8)
def baseline_poor_people(scale: float) -> pd.Series:
    """Poor people by year in the baseline run (every lever at its default) at ``scale``."""
    sim = Simulation({"scale": scale})
    while sim.step():
        pass
    return national_series(sim.results(), "poor_people")


@solara.component
def Figures(sim: Simulation, version: int) -> None:
    """The readout and the three figures of ``sim`` as it stands (``version`` changes after each step)."""

    def draw() -> tuple[str, bytes, bytes, bytes]:
        results = sim.results()
        baseline = baseline_poor_people(float(sim.levers["scale"]))
        return (
            readout(results, sim.end_year),
            poor_people_png(results, sim.end_year, baseline),
            exits_png(results, sim.end_year),
            relapse_png(results, sim.end_year),
        )

    line, poor, exits, relapse = solara.use_memo(draw, [sim, version])
    solara.Text(line, classes=["povsim-readout"], style={"font-size": "1.1rem", "font-weight": "500"})
    with solara.Column(classes=["povsim-figures"], gap="8px"):
        solara.Image(poor, width="100%", classes=["povsim-figure-poor"])
        with solara.Columns([1, 1]):
            solara.Image(exits, width="100%", classes=["povsim-figure-exits"])
            solara.Image(relapse, width="100%", classes=["povsim-figure-relapse"])


SMALL = {"font-size": "0.85rem", "color": "#555"}


def Line(text: str, style: dict[str, str] | None = None, classes: list[str] | None = None) -> None:
    """A line of text on its own (``solara.Text`` alone is inline)."""
    with solara.Div(style=style or {}, classes=classes or []):
        solara.Text(text)


@solara.component
def LeverInput(lever: Lever, value: Any, on_change: Any) -> None:
    """One lever: its label and value on one line, the slider or switch under it."""

    def changed(new: Any) -> None:
        on_change(lever.name, new)

    if lever.kind == "Checkbox":
        solara.Switch(
            label=lever.label,
            value=bool(value),
            on_value=changed,
            color="primary",
            classes=[f"povsim-lever-{lever.name}"],
            style={"margin-top": "4px"},
        )
        return
    slider = solara.SliderFloat if lever.kind == "SliderFloat" else solara.SliderInt
    with solara.Div(classes=[f"povsim-lever-{lever.name}"]):
        with solara.Row(justify="space-between", style={"margin-top": "6px"}):
            solara.Text(lever.label, style={"font-size": "0.9rem"})
            solara.Text(
                lever.show(value), style={"font-size": "0.9rem", "font-weight": "600"}, classes=["povsim-lever-value"]
            )
        with solara.Div(style={"margin-top": "-6px"}):
            slider(
                "",
                value=value,
                min=lever.min,
                max=lever.max,
                step=lever.step,
                on_value=changed,
                thumb_label=False,
            )


@solara.component
def Page() -> None:
    """The dashboard: controls and levers on the left, readout and figures on the right."""
    values = solara.use_reactive(default_levers())
    first = solara.use_memo(Simulation, [])
    sim = solara.use_reactive(first)
    playing = solara.use_reactive(False)
    error = solara.use_reactive(None)
    version = update_counter.value

    def rebuild(new_values: dict[str, Any]) -> None:
        playing.set(False)
        values.set(new_values)
        try:
            built = Simulation(new_values)
        except PovsimInputError as exc:
            error.set(str(exc))
            return
        error.set(None)
        sim.set(built)

    def on_lever(name: str, value: Any) -> None:
        if values.value.get(name) != value:
            rebuild({**values.value, name: value})

    def step() -> None:
        sim.value.step()
        force_update()

    async def play() -> None:
        current = sim.value
        while playing.value and current.running and sim.value is current:
            await asyncio.sleep(PLAY_DELAY_SECONDS)
            if not playing.value or sim.value is not current:
                return
            current.step()
            force_update()
        if sim.value is current:
            playing.set(False)

    solara.lab.use_task(play, dependencies=[playing.value, sim.value], prefer_threaded=False)

    current = sim.value
    with solara.Column(style={"padding": "8px 20px"}, gap="4px"):
        Line(TITLE, style={"font-size": "1.35rem", "font-weight": "600"})
        Line(calibration_line(), style=SMALL)
        with solara.Columns([1, 3], gutters_dense=True):
            with solara.Column(gap="12px"):
                with solara.Card("Run", margin=0):
                    with solara.Row(gap="8px"):
                        solara.Button(
                            "Step",
                            color="primary",
                            on_click=step,
                            disabled=playing.value or not current.running,
                            classes=["povsim-step"],
                        )
                        solara.Button(
                            "Pause" if playing.value else "Play",
                            color="primary",
                            outlined=True,
                            on_click=lambda: playing.set(not playing.value),
                            disabled=not current.running,
                            classes=["povsim-play"],
                        )
                        solara.Button(
                            "Reset",
                            outlined=True,
                            on_click=lambda: rebuild(dict(values.value)),
                            classes=["povsim-reset"],
                        )
                    status = "run complete" if not current.running else "Step simulates one year"
                    Line(f"Year {current.year} of {current.end_year} · {status}", classes=["povsim-year"])
                with solara.Card("Levers", margin=0):
                    Line("Moving a lever restarts the run from 2014.", style=SMALL)
                    for lever in LEVERS:
                        if not lever.name.startswith(SHARE_PREFIX):
                            LeverInput(lever, values.value[lever.name], on_lever)
                    Line("Weights of the household-programme pool", style={"margin-top": "14px", "font-weight": "600"})
                    try:
                        split = ", ".join(f"{c} {s:.0%}" for c, s in pool_shares(values.value).items())
                        Line(f"shares: {split}", style=SMALL)
                    except PovsimInputError:
                        pass
                    for lever in LEVERS:
                        if lever.name.startswith(SHARE_PREFIX):
                            LeverInput(lever, values.value[lever.name], on_lever)
                    if error.value:
                        solara.Error(error.value, classes=["povsim-error"])
                    solara.Button("Restore defaults", text=True, on_click=lambda: rebuild(default_levers()))
                m = current.model
                Line(
                    f"{m.households.n:,} household agents ({m.scenario.run.sampling}), {m.geography.n_counties:,} "
                    f"counties, seed {m.scenario.run.seed}. Grey line: the baseline, every lever at its default.",
                    style=SMALL,
                )
            with solara.Column(gap="8px"):
                Figures(current, version)
