"""The dashboard: levers reach the model, and in a real browser a lever and a step change the plot.

The browser test starts ``povsim dashboard`` on a free port and drives Debian's Chromium
(``apt-get install chromium``) through Playwright, headless. Without Chromium it is skipped with
the reason and the commands that install Chromium and run it, except where ``POVSIM_REQUIRE_BROWSER=1``
(``.ci/run`` sets it): there it fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from povsim import PovertyModel
from povsim.cli import main
from povsim.dashboard.figures import exits_png, poor_people_png, readout, relapse_png
from povsim.dashboard.levers import Simulation, default_levers, overrides, pool_shares
from povsim.errors import PovsimInputError

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("POVSIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_SECONDS = 60
UI_TIMEOUT_MS = 30_000
COARSE = 20_000  # households per agent: instant runs for the model-level tests
BROWSER_COMMAND = "POVSIM_REQUIRE_BROWSER=1 .venv/bin/pytest tests/test_dashboard.py -k browser"
"""How to run the browser test (from the repository; it fails, not skips, if it cannot run)."""


# -- levers and model, no browser ---------------------------------------------------------
def test_levers_at_defaults_run_exactly_the_baseline():
    sim = Simulation({"scale": COARSE})
    model = PovertyModel(scale=COARSE)
    for _ in range(2):
        sim.step()
        model.step()
    assert sim.results().equals(model.results())


def test_each_lever_sets_its_parameter():
    sim = Simulation(
        {
            "funds_scale": 0.5,
            "post_exit_support_years": 1,
            "floor": False,
            "scale": COARSE,
            "share_industry": 0.0,
            "share_employment": 1.0,
        }
    )
    p = sim.model.params
    assert p["budget.scale"] == 0.5
    assert p["governance.post_exit_support_years"] == 1
    assert p["programs.floor.enabled"] is False
    assert sim.model.scale == COARSE
    shares = p["budget.shares"]
    assert shares["industry"] == 0 and sum(shares.values()) == pytest.approx(1)
    assert shares["employment"] > default_levers()["share_employment"]


def test_pool_weights_are_normalised_and_all_zero_is_refused():
    assert pool_shares({"share_a": 1, "share_b": 3}) == {"a": 0.25, "b": 0.75}
    with pytest.raises(PovsimInputError, match="every pool weight is zero"):
        pool_shares({"share_a": 0, "share_b": 0})
    with pytest.raises(PovsimInputError, match="unknown dashboard lever"):
        overrides({"budget": 1})


def test_no_programme_money_leaves_more_people_poor():
    funded, unfunded = Simulation({"scale": COARSE}), Simulation({"scale": COARSE, "funds_scale": 0.0})
    funded.step()
    unfunded.step()
    poor = [
        s.results().query("year == 2015 and region == 'national' and measure == 'poor_people'")["value"].item()
        for s in (funded, unfunded)
    ]
    assert poor[1] > poor[0]


def test_figures_and_readout_follow_the_run():
    sim = Simulation({"scale": COARSE})
    before = poor_people_png(sim.results(), sim.end_year)
    assert readout(sim.results(), sim.end_year).startswith("2014 · income-poor")
    sim.step()
    results = sim.results()
    assert readout(results, sim.end_year).startswith("2015 · ")
    for png in (poor_people_png(results, sim.end_year), exits_png(results, sim.end_year), relapse_png(results, 2020)):
        assert png.startswith(b"\x89PNG")
    assert poor_people_png(results, sim.end_year) != before


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--port", "0"], "--port 0: a port is a number from 1 to 65535"),
        (["--port", "70000"], "--port 70000: a port is a number from 1 to 65535"),
        # .invalid never resolves (RFC 6761), with or without a network
        (["--host", "no.such.host.invalid"], "--host 'no.such.host.invalid': not an address of this machine"),
    ],
)
def test_bad_address_exits_2_with_one_line(capsys, args, fragment):
    """A bad port or an address that is not this machine's ends with exit code 2 and one line that
    names the option, the value given and what is wrong with it."""
    assert main(["dashboard", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("povsim: error:") and fragment in err and len(err.splitlines()) == 1


def test_port_in_use_exits_2(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["dashboard", "--port", str(port)]) == 2
    assert f"cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err


# -- the page in a browser ----------------------------------------------------------------
def _need_browser() -> None:
    """Skip (or, where POVSIM_REQUIRE_BROWSER=1, fail) without Chromium or Playwright."""
    problem = None
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        problem = (
            f"Chromium not found at {CHROMIUM}. Install it with `apt-get update && apt-get install -y chromium` "
            "(Debian; or point POVSIM_CHROMIUM at a Chromium binary)"
        )
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = 'Playwright is not installed. Install it with `.venv/bin/pip install -e ".[test]"`'
    if problem:
        if os.environ.get("POVSIM_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{problem} (POVSIM_REQUIRE_BROWSER=1: the browser test must run)")
        pytest.skip(f"browser test: {problem}, then run it with `{BROWSER_COMMAND}`")


def test_browser_skip_says_how_to_run_it(monkeypatch):
    """Without Chromium (and without ``POVSIM_REQUIRE_BROWSER=1``) the browser test skips with the
    commands that install Chromium and run it; with ``POVSIM_REQUIRE_BROWSER=1`` it fails instead."""
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("POVSIM_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        _need_browser()
    message = str(skipped.value)
    assert "apt-get install -y chromium" in message and BROWSER_COMMAND in message
    monkeypatch.setenv("POVSIM_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="the browser test must run"):
        _need_browser()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[str]:
    """``povsim dashboard`` on a free port; yields its URL; always stops it (whole process group)."""
    _need_browser()
    port = _free_port()
    script = Path(sys.executable).with_name("povsim")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "povsim.cli"]
    log = tmp_path / "dashboard.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*command, "dashboard", "--port", str(port)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail(f"povsim dashboard exited with {server.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"povsim dashboard did not answer within {SERVER_START_SECONDS} s:\n{log.read_text()}")
            time.sleep(0.3)
        assert f"serving at {url}" in log.read_text()
        yield url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=15)


def test_browser_lever_and_step_change_the_plot(dashboard: str, tmp_path: Path):
    from playwright.sync_api import expect, sync_playwright

    # what the page shows at load: the end-2014 state of the default levers (the baseline run)
    start = Simulation({})
    loaded = readout(start.results(), start.end_year).split(" (")[0]
    assert loaded.startswith("2014 · income-poor ")

    with sync_playwright() as pw, tempfile.TemporaryDirectory(dir=tmp_path) as profile:
        browser = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(dashboard)
            text = page.locator(".povsim-readout")
            plot = page.locator(".povsim-figure-poor")
            year = page.locator(".povsim-year")

            # The page loads with the end-2014 state.
            expect(text).to_contain_text(loaded)
            expect(year).to_contain_text("Year 2014 of 2020")
            plot_2014 = plot.screenshot()

            # Step with the levers at their defaults: 2015 appears, the plot changes.
            page.locator(".povsim-step").click()
            expect(text).to_contain_text("2015 · income-poor")
            page.wait_for_timeout(500)  # the image arrives just after the text
            baseline_2015, baseline_plot = text.inner_text(), plot.screenshot()
            assert baseline_plot != plot_2014

            # Move the funds slider to zero: the model is rebuilt at 2014 with no programme money.
            funds = page.locator(".povsim-lever-funds_scale")
            expect(funds.locator(".povsim-lever-value")).to_have_text("1.00")
            thumb = funds.locator("[role=slider]")
            thumb.focus()
            thumb.press("Home")
            expect(funds.locator(".povsim-lever-value")).to_have_text("0.00")
            expect(year).to_contain_text("Year 2014 of 2020")
            expect(text).to_contain_text(loaded)

            # Step again: a different 2015, and a different plot from the default run's.
            page.locator(".povsim-step").click()
            expect(text).to_contain_text("2015 · income-poor")
            page.wait_for_timeout(500)
            assert text.inner_text() != baseline_2015
            assert plot.screenshot() != baseline_plot
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        finally:
            browser.close()
