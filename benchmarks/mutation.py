"""Mutation score of the core modules, on demand (never in CI): mutmut 3 over one module at a time.

Usage (from the repository root, after ``.venv/bin/pip install -e ".[test,mutation]"``)::

    .venv/bin/python benchmarks/mutation.py                      # every core module, small to large
    .venv/bin/python benchmarks/mutation.py --module money       # one module (repeatable)
    .venv/bin/python benchmarks/mutation.py --budget 120         # stop starting modules after 120 min
    .venv/bin/python benchmarks/mutation.py --before             # without tests/test_mutants_*.py
    .venv/bin/python benchmarks/mutation.py --worktree           # plus uncommitted tests/test_mutants_*.py
    .venv/bin/python benchmarks/mutation.py --commit 4232e50     # another commit than HEAD
    .venv/bin/python benchmarks/mutation.py --list               # the modules, their mutants and tests

Each module is measured in a scratch copy (``--workdir``, default ``/tmp/povsim-mutation``) of the
commit (``git archive HEAD``, or ``--commit``; ``--worktree`` adds the working tree's ``tests/test_mutants_*.py``, for
trying new tests before they are committed), so nothing in the repository is touched and a model run elsewhere keeps
importing the unmutated code. mutmut copies ``src/`` into ``mutants/``, turns every function of the
module into a trampoline that calls one mutant at a time, and for each mutant forks a pytest run of the
module's tests (:data:`MODULES`): a fast selection of existing tests plus ``tests/test_mutants_<module>.py``
(left out with ``--before``), run in that order (own tests first) with ``-x``: a mutant is killed at its
first failing test.

mutmut associates a function with the tests that called it, but a call made while a module- or
session-scoped fixture is built is credited to the first test using the fixture only, so the tests that
read the fixture's model later would never run against that mutant. The driver therefore gives every
function the module's tests reached all of the module's tests (:data:`DRIVER`). Functions no test
reached are "no tests" (not killed). Decorated functions other than static and class methods
(``@property`` above all) are not mutated by mutmut 3, nor is module-level code.

The table counts, per module: mutants, killed, survived (incl. "no tests"), timeouts (mutmut's CPU-time
limit: a mutant that hangs is detected, counted as killed in the score), equivalent (survivors listed in
:data:`EQUIVALENT`, with the reason: no observable change), not checked (the budget ran out) and the
score = (killed + timeout) / (mutants − equivalent − not checked). Survivors and their diffs are written
to ``<workdir>/<module>/survivors.md``, the numbers to ``<workdir>/<module>/summary.json``; results are in
``docs/testing.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

INV = "tests/test_invariants.py::"
RUN = "[baseline-seed7-2018]"
INVARIANTS_ONE_RUN = [
    f"{INV}test_exits_and_relapse_are_recomputed_from_the_household_table{RUN}",
    f"{INV}test_sustained_exits_are_a_cohorts_exits_less_its_relapses_within_three_years{RUN}",
    f"{INV}test_relapse_is_not_vacuous{RUN}",
    f"{INV}test_funds_are_the_documented_money_times_the_shares{RUN}",
    f"{INV}test_spending_is_what_beneficiaries_received_plus_documented_unit_costs{RUN}",
]
"""The invariants recomputed from the household table over one run (1 : 500 / 1 : 5000, seed 7, to 2018)."""
FUNDS = [
    f"{INV}test_funds_are_the_documented_money_times_the_shares{RUN}",
    f"{INV}test_funds_are_the_documented_money_times_the_shares[relocation2-carry0.5-seed4-2018]",
    f"{INV}test_budget_scale_scales_every_channels_first_year_funds_exactly",
    f"{INV}test_channel_scale_moves_its_channel_alone",
    f"{INV}test_documented_funds_read_the_parameters_as_documented",
]
GOV = "tests/test_governance.py::"
GOVERNANCE_FAST = [
    GOV + name
    for name in (
        "test_county_and_village_exits_are_cumulative_and_bounded",
        "test_exited_counties_met_the_incidence_threshold",
        "test_recheck_removes_and_adds_in_its_year_only",
        "test_false_exits_are_recorded_and_the_evaluation_detects_some",
        "test_exit_pressure_rises_toward_the_plan_year",
        "test_deep_poverty_counties_are_the_deepest_and_get_more_funds_from_2018",
        "test_registry_statuses_stay_consistent",
        "test_no_county_or_village_exits_before_the_exit_mechanism",
        "test_expected_registry_gives_every_county_a_quota",
        "test_exit_incidence_removes_sampling_noise_only_at_coarse_scales",
        "test_county_rates_without_agents_are_the_regions_not_zero",
        "test_split_rates_are_two_halves_of_the_sampled_rate",
        "test_denoised_rates_of_checked_counties_keep_their_lower_tail",
    )
]
"""test_governance.py without its many-seed and 1 : 10 comparisons (those take minutes)."""
ATTRIBUTION = "tests/test_attribution.py"
PROGRAMME_TESTS = [*INVARIANTS_ONE_RUN, ATTRIBUTION, "tests/test_bounds.py"]

MODULES: dict[str, tuple[str, list[str]]] = {
    # name: (source file, existing tests selected); ordered small to large by mutmut's mutant count
    "programs.health": ("src/povsim/programs/health.py", PROGRAMME_TESTS),
    "households": ("src/povsim/households.py", ["tests/test_accounting.py", *INVARIANTS_ONE_RUN[:1]]),
    "programs.housing": ("src/povsim/programs/housing.py", PROGRAMME_TESTS),
    "measurement": ("src/povsim/measurement.py", ["tests/test_accounting.py", *INVARIANTS_ONE_RUN[:3]]),
    "attribution": ("src/povsim/attribution.py", ["tests/test_accounting.py", *INVARIANTS_ONE_RUN[:3], ATTRIBUTION]),
    "programs.employment": ("src/povsim/programs/employment.py", PROGRAMME_TESTS),
    "programs.relocation": ("src/povsim/programs/relocation.py", PROGRAMME_TESTS),
    "programs.education": ("src/povsim/programs/education.py", PROGRAMME_TESTS),
    "programs.ecology": ("src/povsim/programs/ecology.py", PROGRAMME_TESTS),
    "programs.credit": ("src/povsim/programs/credit.py", PROGRAMME_TESTS),
    "programs.floor": ("src/povsim/programs/floor.py", PROGRAMME_TESTS),
    "money": ("src/povsim/money.py", FUNDS),
    "programs.industry": ("src/povsim/programs/industry.py", PROGRAMME_TESTS),
    "registry": ("src/povsim/registry.py", ["tests/test_accounting.py", *INVARIANTS_ONE_RUN[:3]]),
    "programs.base": ("src/povsim/programs/base.py", PROGRAMME_TESTS),
    "governance": ("src/povsim/governance.py", ["tests/test_accounting.py", *GOVERNANCE_FAST]),
    # the estimators that were governance's until the sampling layer (issue 20) moved them: its tests are
    # governance's and the layer's own (from that commit on)
    "sampling": (
        "src/povsim/sampling.py",
        ["tests/test_mutants_governance.py", "tests/test_sampling.py", "tests/test_accounting.py", *GOVERNANCE_FAST],
    ),
}
"""The core modules of issue 22 and the existing tests run against each one's mutants, fast ones only
(seconds per mutant): the invariants of one observed run, the spending bounds, the registry accounting,
the funds and levers, attribution's known answers; ``tests/test_mutants_<module>.py`` is added when it exists."""

FLOAT64 = "astype(None) is astype(float64): the same values"
FALSY = "by_county=None is falsy like False: the same branch"
DTYPE = "a float64 array of years for an int16 one: the same values and comparisons"
STREAM = "renames a marginal lottery's random stream: another independent stream of the same uniforms"
TIE = "<= for < against a continuous draw or income: a tie has probability zero"
SCALED = "a constant in the exponent scales every county alike; the normalisation to the national average undoes it"
NONNEGATIVE = "eligible >= 0 for > 0 in a case that needs capacity or enrolled below it: counts are never negative"
MINLENGTH = "bincount without its minlength: every region has counties, every rationing cell a county"
SORT = "another sort kind: the counties' intensities have no ties, so every sort gives the same ranks"
CELL = "another code for the rationing cells that still tells every (region, deep, plan year) apart: the same cells"
GD = "povsim.governance.xǁGovernanceǁdenoised_rate__mutmut_"
GR = "povsim.governance.xǁGovernanceǁreview__mutmut_"
GI = "povsim.governance.xǁGovernanceǁ__init____mutmut_"
ASARRAY = "np.asarray without float64: the values (floats or whole numbers) compute the same"
COPY = "the int32 index copied or not: the same indices (they are not written to)"
ONE_GROUP = "a float group code in the one-group case: fit_within does not read the groups of a single limit"
NEW_ARRAY = "the product into a new array instead of in place: the same values"
NONE_FALSE = "None assigned into a bool array is False: the same value"
BONUS = "a priority bonus one yuan larger: the same order (candidates' incomes per person are far below 1e5)"
EQUIVALENT: dict[str, str] = {
    **{
        f"povsim.attribution.xǁExitAttributionǁ__init____mutmut_{i}": "the exit channel as float64 for int8: the same "
        "values"
        for i in (6, 9)
    },
    "povsim.attribution.xǁExitAttributionǁ_by_region__mutmut_7": "whole people as float64 for int64: the same numbers",
    "povsim.attribution.xǁExitAttributionǁ_by_region__mutmut_9": "whole people as float64 for int64: the same numbers",
    "povsim.attribution.xǁExitAttributionǁ_code__mutmut_6": FLOAT64,
    "povsim.attribution.xǁExitAttributionǁ_code__mutmut_25": "codes as int64 for int8: the same codes",
    "povsim.attribution.xǁExitAttributionǁ_code__mutmut_28": "codes as int64 for int8: the same codes",
    "povsim.attribution.xǁExitAttributionǁ_shares__mutmut_10": FLOAT64,
    # at 43c003f, where _code also sums the raised gains (a loss counted as none)
    "povsim.attribution.xǁExitAttributionǁ_code__mutmut_10": FLOAT64,
    "povsim.attribution.xǁExitAttributionǁ_code__mutmut_34": "codes as int64 for int8: the same codes",
    "povsim.attribution.xǁExitAttributionǁ_code__mutmut_37": "codes as int64 for int8: the same codes",
    "povsim.attribution.xǁExitAttributionǁ_shares__mutmut_14": FLOAT64,
    "povsim.attribution.xǁExitAttributionǁrecord__mutmut_19": "argmax of no exits is an empty array: the same no-op",
    "povsim.attribution.xǁExitAttributionǁrecord__mutmut_25": "assigns to no households when there are no exits",
    **{f"{GI}{i}": STREAM.replace("a marginal lottery's", "a fixed draw's") for i in (12, 13, 17, 18, 22, 23, 27, 28)},
    **{f"{GI}{i}": DTYPE for i in (33, 35, 68, 163, 165)},
    **{f"{GI}{i}": SORT for i in (42, 44, 46, 48, 56, 58, 102, 104, 106, 108, 117, 119)},
    f"{GI}78": "/ for // before astype(int16): truncation floors the non-negative quotient alike",
    f"{GI}85": "max(poor counties, 2) for max(…, 1): there are 832 poor counties",
    **{f"{GI}{i}": CELL for i in (141, 142, 143, 145, 146, 149)},
    f"{GI}144": CELL + " (region / 2 + deep would merge deep eastern with western non-deep counties of a plan year; "
    "the east's deep counties plan 2019–20, the west's others 2016–18)",
    f"{GI}183": "the draw also at a mean of 0: 1 + floor(u × (−1)) is 0 for every u > 0",
    f"{GI}193": "the draw also at a mean of 0: 1 + floor(u × (−1)) is 0 for every u > 0",
    **{f"{GI}{i}": DTYPE for i in (184, 196, 198)},
    f"{GI}199": "false_exit_people is never read",
    "povsim.governance.xǁGovernanceǁ_expected_registered__mutmut_11": MINLENGTH,
    "povsim.governance.xǁGovernanceǁ_expected_registered__mutmut_14": "bincount to 4 regions: the fourth is never read",
    **{
        f"povsim.governance.xǁGovernanceǁ_expected_registered__mutmut_{i}": "the fallback for a region without poor "
        "(or other) counties: every region has both"
        for i in (33, 34)
    },
    "povsim.governance.xǁGovernanceǁ_expected_registered__mutmut_35": "= for +=: each county is in one (region, kind) "
    "only, added to once",
    "povsim.governance.xǁGovernanceǁsplit_rates__mutmut_22": "dividing where a half has no people too: 0 / 0 is "
    "nan as the default (a half with no one has no one counted)",
    "povsim.governance.xǁGovernanceǁsplit_rates__mutmut_27": "d >= 0: 0 / 0 is nan as the default",
    "povsim.governance.xǁGovernanceǁsplit_rates__mutmut_31": "zip(strict=None) for strict=True: the halves have equal "
    "lengths",
    f"{GD}28": "range(7) for range(6): there are six kinds of county (3 regions × poor or not)",
    f"{GD}50": "cell × 2 − checked for + checked: still a code of its own per (cell, checked)",
    f"{GD}52": "cell × 3 + checked: still a code of its own per (cell, checked)",
    f"{GD}62": "no floor on the first clip: the second clip (after the cell factor) floors the smooth at 1e-6 again",
    f"{GD}69": "1 for 0 outside the selection: those entries are never read",
    **{
        f"{GD}{i}": "bincount's minlength dropped or too small: the cells indexed are those counted"
        for i in (76, 78, 86, 88)
    },
    f"{GD}147": "2 for 1 where a county is unseen: unseen counties are not among those summed (ok needs seen)",
    f"{GD}177": "bincount without minlength 2: a length-1 result broadcasts into both kinds; only its own is read",
    f"{GD}192": "bincount without minlength 2: a length-1 result broadcasts into both kinds; only its own is read",
    f"{GD}229": "no lower clip: the posterior quantile and the sampled rates are never negative",
    "povsim.governance.xǁGovernanceǁ_kappa__mutmut_2": FLOAT64,
    "povsim.governance.xǁGovernanceǁ_kappa__mutmut_10": "max(people, 2) for max(…, 1): there are thousands of members",
    "povsim.governance.xǁGovernanceǁ_rural_people__mutmut_32": "floor 1 for 0 on what the poor counties leave: they "
    "never hold more than their region's rural people",
    "povsim.governance.xǁGovernanceǁ_rural_people__mutmut_40": "floor 2 for 1: every county has thousands of people",
    **{f"{GR}{i}": TIE for i in (23, 152, 155, 213)},
    **{f"{GR}{i}": "a second clip of a rate already within [0, 1]" for i in (112, 113, 118, 126, 127, 132)},
    f"{GR}178": "floor 2 for 1 on a county's poor-village people: only counties without poor villages reach it, and "
    "they are not selected",
    f"{GR}193": "every county has poor villages (6 at least) in this geography: >= 0 and > 1 select the same counties",
    f"{GR}194": "every county has poor villages (6 at least) in this geography: >= 0 and > 1 select the same counties",
    **{
        f"{GR}{i}": "record_state recomputes the registered people and judged incidence itself: the same numbers"
        for i in (215, 216, 217, 218)
    },
    "povsim.governance.xǁGovernanceǁprovincial_check__mutmut_29": TIE,
    "povsim.governance.xǁGovernanceǁprovincial_check__mutmut_37": NONE_FALSE,
    "povsim.governance.xǁGovernanceǁprovincial_check__mutmut_38": "a re-registered household's false-exit flag left "
    "set: it is only read for exited households and overwritten at its next exit",
    "povsim.governance.xǁGovernanceǁrecord_state__mutmut_2": "and for or: the callers pass both or neither",
    **{
        f"povsim.governance.xǁGovernanceǁrecord_state__mutmut_{i}": "recomputes the registered people and judged "
        "incidence it was given: the same numbers"
        for i in (3, 4)
    },
    "povsim.governance.xǁGovernanceǁrecord_state__mutmut_29": "exit_year > 1 for > 0: it is 0 or a year",
    "povsim.governance.xǁGovernanceǁcounties_exited__mutmut_3": "exit_year > 1 for > 0: it is 0 or a year",
    "povsim.governance.xǁGovernanceǁvillages_exited__mutmut_3": "exit_year > 1 for > 0: it is 0 or a year",
    "povsim.governance.xǁGovernanceǁtable__mutmut_2": "the table always has the initial year's rows",
    **{
        f"povsim.governance.xǁGovernanceǁtable__mutmut_{i}": "the rows' index kept: counties.csv is written without it"
        for i in (4, 6, 7)
    },
    "povsim.governance.x__weighted_fit__mutmut_35": "rcond=None is lstsq's default",
    "povsim.governance.xǁGovernanceǁsplit_rates__mutmut_34": "zip without strict: the halves have equal lengths",
    "povsim.governance.xǁGovernanceǁsplit_rates__mutmut_35": "zip without strict: the halves have equal lengths",
    "povsim.households.xǁHouseholdsǁcheck__mutmut_4": "members summed as float64 instead of int: the same comparisons",
    "povsim.households.xǁHouseholdsǁpeople_weight_of__mutmut_2": FLOAT64,
    "povsim.measurement.x_market_income__mutmut_15": "always the scalar branch: its expressions give the same "
    "sigma and factor for an array of added risk (the other branch is the in-place version of the same)",
    "povsim.programs.education.xǁEducationǁ__init____mutmut_4": DTYPE,
    "povsim.programs.education.xǁEducationǁ__init____mutmut_6": DTYPE,
    "povsim.programs.education.xǁEducationǁstep__mutmut_18": FLOAT64,
    **{f"povsim.programs.education.xǁEducationǁstep__mutmut_{i}": STREAM for i in (29, 35, 36, 108, 114, 115)},
    "povsim.programs.education.xǁEducationǁstep__mutmut_69": TIE,
    "povsim.programs.education.xǁEducationǁstep__mutmut_137": "trained_year >= 0: for a household never trained "
    "(0) y − 0 is never the delay",
    "povsim.programs.education.xǁEducationǁstep__mutmut_138": "trained_year > 1 for > 0: it is 0 or a year",
    # the same two at 43c003f, where step is longer (the training gain goes through the effects register)
    "povsim.programs.education.xǁEducationǁstep__mutmut_159": "trained_year >= 0: for a household never trained "
    "(0) y − 0 is never the delay",
    "povsim.programs.education.xǁEducationǁstep__mutmut_160": "trained_year > 1 for > 0: it is 0 or a year",
    "povsim.programs.employment.xǁEmploymentǁ__init____mutmut_5": DTYPE,
    "povsim.programs.employment.xǁEmploymentǁ__init____mutmut_7": DTYPE,
    "povsim.programs.employment.xǁEmploymentǁstep__mutmut_51": BONUS,
    "povsim.programs.employment.xǁEmploymentǁstep__mutmut_53": BONUS,
    "povsim.programs.employment.xǁEmploymentǁstep__mutmut_58": FLOAT64,
    "povsim.money.x_county_budgets__mutmut_1": "default weights 2 for 1: the weights only enter as shares",
    **{
        f"povsim.money.x_yearly_series__mutmut_{i}": "a documented year (the first, the last, or the year itself) "
        "is returned before this comparison: it sees only the other years"
        for i in (9, 11, 14, 22)
    },
    **{f"povsim.programs.credit.xǁCreditǁ__init____mutmut_{i}": DTYPE for i in (5, 7, 10, 12)},
    "povsim.programs.credit.xǁCreditǁstep__mutmut_18": "loan_until == y − 1 is a year, never 0",
    "povsim.programs.credit.xǁCreditǁstep__mutmut_19": "loan_until == y − 1 is a year, never 0 or 1",
    "povsim.programs.credit.xǁCreditǁstep__mutmut_25": TIE,
    "povsim.programs.credit.xǁCreditǁstep__mutmut_47": TIE,
    "povsim.programs.credit.xǁCreditǁstep__mutmut_92": BONUS,
    "povsim.programs.credit.xǁCreditǁstep__mutmut_164": "loan_until > 1 for > 0: it is 0 or a year",
    "povsim.programs.base.x_binding_limit__mutmut_3": ASARRAY,
    "povsim.programs.base.x_binding_limit__mutmut_5": ASARRAY,
    "povsim.programs.base.x_binding_limit__mutmut_26": NONNEGATIVE,
    "povsim.programs.base.x_binding_limit__mutmut_37": NONNEGATIVE,
    "povsim.programs.base.x_depreciated__mutmut_6": ASARRAY,
    "povsim.programs.base.x_depreciated__mutmut_8": ASARRAY,
    "povsim.programs.base.xǁChannelLedgerǁ__init____mutmut_6": FLOAT64,
    "povsim.programs.base.xǁChannelLedgerǁ__init____mutmut_8": FLOAT64,
    "povsim.programs.base.xǁChannelLedgerǁadd_gain__mutmut_8": COPY,
    "povsim.programs.base.xǁChannelLedgerǁadd_gain__mutmut_10": COPY,
    "povsim.programs.base.xǁChannelLedgerǁadd_gain__mutmut_11": COPY,
    "povsim.programs.base.xǁChannelLedgerǁadd_gain__mutmut_4": "zero gains kept instead of dropped: adding zero "
    "changes no gain",
    "povsim.programs.base.xǁChannelLedgerǁadd_reached__mutmut_3": COPY,
    "povsim.programs.base.xǁChannelLedgerǁadd_reached__mutmut_5": COPY,
    "povsim.programs.base.xǁChannelLedgerǁadd_reached__mutmut_6": COPY,
    "povsim.programs.base.xǁChannelLedgerǁbeneficiaries__mutmut_8": "a float mask for a bool one: the same marks",
    "povsim.programs.base.xǁChannelLedgerǁbeneficiaries__mutmut_10": "a float mask for a bool one: the same marks",
    "povsim.programs.base.xǁChannelLedgerǁbeneficiaries__mutmut_18": NONE_FALSE,
    "povsim.programs.base.xǁChannelLedgerǁbeneficiaries__mutmut_27": FLOAT64,
    "povsim.programs.base.xǁChannelLedgerǁincome__mutmut_14": "float32 × int32 is float64 either way",
    "povsim.programs.base.xǁProgrammeǁcap__mutmut_1": STREAM,
    "povsim.programs.base.xǁProgrammeǁcap__mutmut_2": STREAM,
    "povsim.programs.base.xǁProgrammeǁcap__mutmut_34": STREAM,
    "povsim.programs.base.xǁProgrammeǁcap__mutmut_8": ONE_GROUP,
    "povsim.programs.base.xǁProgrammeǁcap__mutmut_10": ONE_GROUP,
    "povsim.programs.base.xǁProgrammeǁcap__mutmut_24": FLOAT64,
    "povsim.programs.base.xǁProgrammeǁcap__mutmut_30": ASARRAY,
    "povsim.programs.base.xǁProgrammeǁcap__mutmut_32": ASARRAY,
    "povsim.programs.base.xǁProgrammeǁmembers__mutmut_1": FLOAT64,
    "povsim.programs.base.xǁProgrammeǁrecord__mutmut_13": ASARRAY,
    "povsim.programs.base.xǁProgrammeǁrecord__mutmut_15": ASARRAY,
    "povsim.programs.base.xǁProgrammeǁrecord__mutmut_22": ASARRAY,
    "povsim.programs.base.xǁProgrammeǁrecord__mutmut_24": ASARRAY,
    "povsim.programs.base.xǁProgrammeǁrecord__mutmut_31": ASARRAY,
    "povsim.programs.base.xǁProgrammeǁrecord__mutmut_33": ASARRAY,
    "povsim.programs.base.xǁProgrammeǁrecord__mutmut_44": FLOAT64,
    "povsim.programs.base.xǁProgrammeǁrecord_funds__mutmut_9": MINLENGTH,
    "povsim.programs.base.xǁProgrammeǁrecord_places__mutmut_10": FLOAT64,
    "povsim.programs.base.xǁProgrammeǁselect__mutmut_12": ASARRAY,
    "povsim.programs.base.xǁProgrammeǁselect__mutmut_14": ASARRAY,
    "povsim.programs.base.xǁProgrammeǁselect__mutmut_18": ONE_GROUP,
    "povsim.programs.base.xǁProgrammeǁselect__mutmut_20": ONE_GROUP,
    "povsim.programs.base.xǁProgrammeǁselect__mutmut_2": STREAM,
    "povsim.programs.base.xǁProgrammeǁselect__mutmut_3": STREAM,
    "povsim.programs.base.xǁProgrammeǁselect__mutmut_35": STREAM,
    "povsim.programs.base.xǁProgrammeǁselect__mutmut_40": STREAM,
    "povsim.programs.base.xǁProgrammeǁselect__mutmut_41": STREAM,
    "povsim.programs.base.xǁProgrammeǁselect__mutmut_58": STREAM,
    "povsim.programs.base.xǁProgrammeǁselect__mutmut_31": MINLENGTH,
    "povsim.programs.ecology.xǁEcologyǁstep__mutmut_15": FLOAT64,
    **{f"povsim.registry.xǁRegistryǁ_within_quota__mutmut_{i}": STREAM for i in (33, 34, 42, 43)},
    "povsim.registry.xǁRegistryǁassessed_income__mutmut_18": NEW_ARRAY,
    "povsim.registry.xǁRegistryǁassessed_income__mutmut_21": NEW_ARRAY,
    **{f"povsim.registry.xǁRegistryǁupdate__mutmut_{i}": TIE for i in (25, 46, 75, 82, 92, 117, 132, 146)},
    "povsim.registry.xǁRegistryǁupdate__mutmut_165": NONE_FALSE,
    "povsim.programs.ecology.xǁEcologyǁstep__mutmut_90": STREAM + " (the default, still not the other's)",
    "povsim.programs.ecology.xǁEcologyǁstep__mutmut_132": STREAM + " (the default, still not the other's)",
    "povsim.programs.ecology.xǁEcologyǁstep__mutmut_96": STREAM,
    "povsim.programs.ecology.xǁEcologyǁstep__mutmut_97": STREAM,
    "povsim.programs.ecology.xǁEcologyǁstep__mutmut_138": STREAM,
    "povsim.programs.ecology.xǁEcologyǁstep__mutmut_139": STREAM,
    **{f"povsim.programs.floor.xǁFloorǁ__init____mutmut_{i}": SCALED for i in (16, 18, 19, 20, 21)},
    "povsim.programs.floor.xǁFloorǁ__init____mutmut_64": TIE,
    "povsim.programs.floor.xǁFloorǁstep__mutmut_10": TIE,
    "povsim.programs.floor.xǁFloorǁstep__mutmut_27": TIE,
    "povsim.programs.floor.xǁFloorǁstep__mutmut_36": TIE,
    "povsim.programs.floor.xǁFloorǁstep__mutmut_54": FALSY,
    "povsim.programs.health.xǁHealthǁstep__mutmut_52": FALSY,
    "povsim.programs.relocation.xǁRelocationǁ__init____mutmut_5": DTYPE,
    "povsim.programs.relocation.xǁRelocationǁ__init____mutmut_7": DTYPE,
    "povsim.programs.relocation.xǁRelocationǁ__init____mutmut_18": TIE,
    "povsim.programs.relocation.xǁRelocationǁmove__mutmut_2": NONE_FALSE,
    "povsim.programs.relocation.xǁRelocationǁrecently_moved__mutmut_6": "year_moved >= 0: a household never moved "
    "(0) is 2015 or more years from any simulated year, never within the critical years",
    "povsim.programs.relocation.xǁRelocationǁrecently_moved__mutmut_7": "year_moved > 1 for > 0: it is 0 or a year",
    "povsim.programs.relocation.xǁRelocationǁstep__mutmut_6": "capacity > 1 for > 0: the plan's people per year are "
    "0 or millions",
    "povsim.programs.industry.xǁIndustryǁ__init____mutmut_5": DTYPE,
    "povsim.programs.industry.xǁIndustryǁ__init____mutmut_7": DTYPE,
    "povsim.programs.industry.xǁIndustryǁstep__mutmut_12": TIE,
    "povsim.programs.industry.xǁIndustryǁstep__mutmut_75": FLOAT64,
    "povsim.programs.industry.xǁIndustryǁstep__mutmut_142": "project_until > 1 for > 0: it is 0 or a year",
    "povsim.programs.housing.xǁHousingǁdeadline__mutmut_7": FLOAT64 + " (deadlines are read as int(d) and compared)",
    "povsim.programs.housing.xǁHousingǁdeadline__mutmut_23": "plan > 1 for plan > 0: plan years are 0 or 2016 on",
    "povsim.programs.housing.xǁHousingǁstep__mutmut_9": FLOAT64,
    "povsim.programs.housing.xǁHousingǁstep__mutmut_22": "bincount without minlength: np.unique's groups fill 0 … k−1",
    "povsim.programs.housing.xǁHousingǁstep__mutmut_31": "no infinite capacity at the deadline: the capacity is then "
    "the whole need (pace 1), which admits every household (up to rounding in the last one's lottery)",
    "povsim.programs.housing.xǁHousingǁstep__mutmut_37": "pace > 1 for pace >= 1: the pace is at most 1, and at 1 the "
    "capacity is the whole need (see step__mutmut_31)",
    "povsim.programs.housing.xǁHousingǁstep__mutmut_38": "pace >= 2: as step__mutmut_37",
    "povsim.programs.housing.xǁHousingǁstep__mutmut_76": FALSY,
}
"""Surviving mutants with no observable change, by mutmut name, and why (valid for the commit recorded
in docs/testing.md; a change to the function renumbers its mutants)."""

DRIVER = r"""
import json
import sys
import mutmut.__main__ as mm
from mutmut.runners.harness import PytestRunner
from mutmut.state import state
from mutmut.stats import save_stats
from mutmut.utils.format_utils import strip_prefix

collect = mm.run_stats_collection

def run_stats_collection(runner, tests=None):
    collect(runner, tests)
    s = state()
    every = {strip_prefix(t, prefix="mutants/") for t in s.duration_by_test}
    for name in list(s.tests_by_mangled_function_name):
        s.tests_by_mangled_function_name[name] = set(every)
    save_stats()

mm.run_stats_collection = run_stats_collection

# run a mutant's tests in the order of the selection (the module's own tests first), not a set's order
order = json.loads(sys.argv[2])
regular_run = PytestRunner._pytest_args_regular_run

def rank(test):
    return next((i for i, sel in enumerate(order) if test == sel or test.startswith(sel + "::")
                 or test.startswith(sel + "[")), len(order)), test

def in_order(self, tests):
    return regular_run(self, sorted(tests, key=rank))

PytestRunner._pytest_args_regular_run = in_order
sys.argv = ["mutmut", "run", "--max-children", sys.argv[1], *sys.argv[3:]]
mm.cli()
"""
"""``mutmut run``, with every function the tests reached given all the module's tests (see above)."""

SHOW = r"""
import json, sys
from pathlib import Path
from mutmut.mutation.diff_apply import get_diff_for_mutant
path, names = sys.argv[1], json.loads(sys.argv[2])
print(json.dumps({n: get_diff_for_mutant(n, path=Path(path)) for n in names}))
"""


TIMEOUT_CONSTANT = 60.0
"""Seconds added to a mutant's tests' time before mutmut's limits (wall: (time + this) × 15; CPU: twice that).
mutmut's time is the tests' call phase only, not the fixtures that build the models, so on a loaded machine
its default (1 s) stops surviving mutants as "timeouts"; with 60 s a mutant has at least 15 minutes."""


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


def export(dest: Path, worktree: bool, commit: str = "HEAD") -> None:
    """The commit's files a test run needs (src, tests, scenarios, pyproject.toml) into ``dest``; with
    ``worktree``, the working tree's ``tests/test_mutants_*.py`` over them (the rest of the working tree,
    other people's work in progress, is left out)."""
    paths = ["src", "tests", "scenarios", "pyproject.toml"]
    with tempfile.TemporaryFile() as fh:
        subprocess.run(["git", "archive", commit, *paths], cwd=REPO, check=True, stdout=fh)
        fh.seek(0)
        with tarfile.open(fileobj=fh) as tar:
            tar.extractall(dest, filter="data")
    if worktree:
        for src in (REPO / "tests").glob("test_mutants_*.py"):
            shutil.copy2(src, dest / "tests" / src.name)


def commit_label(worktree: bool, commit: str = "HEAD") -> str:
    return git("rev-parse", "--short", commit) + (" + test_mutants_*.py of the working tree" if worktree else "")


def tests_for(module: str, root: Path, before: bool) -> list[str]:
    tests = list(MODULES[module][1])
    own = f"tests/test_mutants_{module.split('.')[-1]}.py"
    if not before and (root / own).exists():
        tests.append(own)
    return tests


def run_order(tests: list[str]) -> list[str]:
    """The order a mutant's tests run in: the module's own file first (fast and aimed at it), then the rest
    as listed."""
    return sorted(tests, key=lambda t: not t.startswith("tests/test_mutants_"))


def configure(root: Path, module: str, tests: list[str]) -> None:
    """Append the module's ``[tool.mutmut]`` table to the copy's pyproject.toml."""
    source = MODULES[module][0]
    table = [
        "",
        "[tool.mutmut]",
        'source_paths = ["src"]',
        f"only_mutate = [{json.dumps(source)}]",
        'also_copy = ["scenarios"]',
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest"]',
        f"timeout_constant = {TIMEOUT_CONSTANT}",
        "",
    ]
    with open(root / "pyproject.toml", "a") as fh:
        fh.write("\n".join(table))


def statuses(root: Path, module: str) -> dict[str, str]:
    """Each mutant's status as mutmut records it (``mutants/<source>.meta``)."""
    from mutmut.stats import status_by_exit_code

    meta = root / "mutants" / (MODULES[module][0] + ".meta")
    if not meta.exists():
        return {}
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    return {name: status_by_exit_code[code] for name, code in codes.items()}


def summarise(module: str, status: dict[str, str], wall: float, tests: list[str]) -> dict:
    count = {s: sum(1 for v in status.values() if v == s) for s in set(status.values())}
    killed = count.get("killed", 0)
    timeout = count.get("timeout", 0)
    not_checked = count.get("not checked", 0)
    survivors = sorted(n for n, s in status.items() if s in ("survived", "no tests", "suspicious", "segfault"))
    equivalent = [n for n in survivors if n in EQUIVALENT]
    judged = len(status) - len(equivalent) - not_checked
    return {
        "module": module,
        "mutants": len(status),
        "killed": killed,
        "timeout": timeout,
        "survived": len(survivors),
        "no_tests": count.get("no tests", 0),
        "equivalent": len(equivalent),
        "not_checked": not_checked,
        "score": (killed + timeout) / judged if judged > 0 else None,
        "wall_seconds": round(wall, 1),
        "tests": tests,
        "survivors": [n for n in survivors if n not in EQUIVALENT],
        "equivalent_mutants": equivalent,
    }


def write_survivors(root: Path, module: str, summary: dict) -> None:
    names = summary["survivors"] + summary["equivalent_mutants"]
    diffs: dict[str, str] = {}
    if names:
        out = subprocess.run(
            [PYTHON, "-c", SHOW, MODULES[module][0], json.dumps(names)],
            cwd=root,
            capture_output=True,
            text=True,
        )
        diffs = json.loads(out.stdout) if out.returncode == 0 else {}
    lines = [f"# Surviving mutants of {module}", ""]
    for name in names:
        why = EQUIVALENT.get(name)
        title = f"## {name}" + (f" — equivalent: {why}" if why else "")
        lines += [title, "", "```diff", diffs.get(name, "?"), "```", ""]
    (root / "survivors.md").write_text("\n".join(lines))


def rerun_timeouts(root: Path, module: str, workers: int) -> None:
    """Run the module's timed-out mutants again with :data:`TIMEOUT_CONSTANT` (a workdir measured with a
    smaller one)."""
    names = [n for n, s in statuses(root, module).items() if s == "timeout"]
    if not names:
        return
    config = (root / "pyproject.toml").read_text()
    config = re.sub(r"timeout_constant = [0-9.]+", f"timeout_constant = {TIMEOUT_CONSTANT}", config)
    (root / "pyproject.toml").write_text(config)
    tests = json.loads(re.search(r"pytest_add_cli_args_test_selection = (.*)", config).group(1))
    print(f"  {module}: {len(names)} timeouts run again", flush=True)
    with open(root / "mutmut-timeouts.log", "w") as log:
        subprocess.run(
            [PYTHON, "-c", DRIVER, str(workers), json.dumps(run_order(tests)), *names],
            cwd=root,
            env=environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def environment() -> dict[str, str]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    env.pop("PYTHONPATH", None)
    return env


def reopen_survivors(root: Path, module: str) -> int:
    """For ``--recheck``: the working tree's tests/test_mutants_*.py into a measured workdir, and its surviving
    mutants (those not listed as equivalent) marked unchecked, so that a resumed run tries them again with the
    new tests; killed mutants stay killed (the tests that killed them are still there). Returns how many."""
    for src in (REPO / "tests").glob("test_mutants_*.py"):
        shutil.copy2(src, root / "tests" / src.name)
    meta = root / "mutants" / (MODULES[module][0] + ".meta")
    data = json.loads(meta.read_text())
    status = statuses(root, module)
    reopened = [n for n, st in status.items() if st in ("survived", "no tests", "suspicious") and n not in EQUIVALENT]
    for name in reopened:
        data["exit_code_by_key"][name] = None
    meta.write_text(json.dumps(data, indent=4))
    (root / "COMMIT").write_text(
        (root / "COMMIT").read_text().split(" + ")[0] + " + test_mutants_*.py of the working tree"
    )
    return len(reopened)


def measure(module: str, args: argparse.Namespace, deadline: float) -> dict:
    root = Path(args.workdir) / module
    if args.recheck:
        print(f"  {module}: {reopen_survivors(root, module)} survivors tried again", flush=True)
    if root.exists() and not (args.resume or args.recheck):
        shutil.rmtree(root)
    if not root.exists():
        root.mkdir(parents=True)
        export(root, args.worktree, args.commit)
        (root / "COMMIT").write_text(commit_label(args.worktree, args.commit))
        configure(root, module, tests_for(module, root, args.before))
    tests = tests_for(module, root, args.before)
    env = environment()
    start = time.monotonic()
    with open(root / "mutmut.log", "w") as log:
        proc = subprocess.Popen(
            [PYTHON, "-c", DRIVER, str(args.workers), json.dumps(run_order(tests))],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 1.0))
        except subprocess.TimeoutExpired:
            print(f"  {module}: time budget reached, stopping mutmut", flush=True)
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    if proc.returncode == 0 and time.monotonic() < deadline:
        rerun_timeouts(root, module, args.workers)
    wall = time.monotonic() - start
    summary = summarise(module, statuses(root, module), wall, tests)
    summary["mutmut_exit_code"] = proc.returncode
    summary["commit"] = (root / "COMMIT").read_text().strip()
    write_survivors(root, module, summary)
    (root / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def latest(dirs: list[str], module: str) -> Path | None:
    """The newest measurement of ``module`` among the workdirs ``dirs``."""
    found = [Path(d) / module for d in dirs if (Path(d) / module / "summary.json").exists()]
    return max(found, key=lambda p: (p / "summary.json").stat().st_mtime, default=None)


def compare(before: list[str], after: list[str]) -> str:
    """The before/after table of docs/testing.md, re-read from mutmut's records in the workdirs (the newest
    measurement of each module) with the current :data:`EQUIVALENT`; a total row over the modules measured
    both before and after."""
    head = (
        "| module | mutants | equivalent | before: killed | survived | score | after: killed | timeout | "
        "survived | score | commit |"
    )
    out = [head, "|---|---|---|---|---|---|---|---|---|---|---|"]
    keys = ("mutants", "equivalent", "b_killed", "b_survived", "a_killed", "a_timeout", "a_survived")
    total = dict.fromkeys(keys, 0)

    def measured(module: str, root: Path | None) -> dict | None:
        if root is None:
            return None
        old = json.loads((root / "summary.json").read_text())
        r = summarise(module, statuses(root, module), old["wall_seconds"], old["tests"])
        r["commit"] = old.get("commit", "?")
        return None if r["not_checked"] == r["mutants"] else r

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{100 * x:.1f}%"

    for module in MODULES:
        b = measured(module, latest(before, module))
        a = measured(module, latest(after, module))
        if b is None and a is None:
            continue
        r = a or b
        dash = "—"
        cells = [
            module,
            r["mutants"],
            r["equivalent"],
            b["killed"] + b["timeout"] if b else dash,
            b["survived"] - b["equivalent"] if b else dash,
            pct(b["score"]) if b else dash,
            a["killed"] if a else dash,
            a["timeout"] if a else dash,
            a["survived"] - a["equivalent"] if a else dash,
            pct(a["score"]) if a else dash,
            r["commit"],
        ]
        out.append("| " + " | ".join(str(c) for c in cells) + " |")
        if a and b and not a["not_checked"] and not b["not_checked"]:
            for k, v in zip(
                keys,
                (
                    r["mutants"],
                    a["equivalent"],
                    b["killed"] + b["timeout"],
                    b["survived"] - b["equivalent"],
                    a["killed"],
                    a["timeout"],
                    a["survived"] - a["equivalent"],
                ),
                strict=True,
            ):
                total[k] += v
    judged = total["mutants"] - total["equivalent"]
    if judged:
        out.append(
            f"| **all measured** | {total['mutants']} | {total['equivalent']} | {total['b_killed']} | "
            f"{total['b_survived']} | {pct(total['b_killed'] / judged)} | {total['a_killed']} | "
            f"{total['a_timeout']} | {total['a_survived']} | "
            f"{pct((total['a_killed'] + total['a_timeout']) / judged)} | |"
        )
    return "\n".join(out)


def table(rows: list[dict]) -> str:
    head = "| module | mutants | killed | timeout | survived | equivalent | not checked | score | wall |"
    out = [head, "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        score = "—" if r["score"] is None else f"{100 * r['score']:.1f}%"
        out.append(
            f"| {r['module']} | {r['mutants']} | {r['killed']} | {r['timeout']} | {r['survived']} | "
            f"{r['equivalent']} | {r['not_checked']} | {score} | {r['wall_seconds'] / 60:.1f} min |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", choices=list(MODULES), help="module to mutate (repeatable)")
    parser.add_argument("--budget", type=float, default=None, help="minutes; no module is started after it")
    parser.add_argument("--workers", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "povsim-mutation"))
    parser.add_argument("--before", action="store_true", help="leave out tests/test_mutants_*.py")
    parser.add_argument("--commit", default="HEAD", help="the commit to measure (default HEAD)")
    parser.add_argument("--worktree", action="store_true", help="add the working tree's tests/test_mutants_*.py")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in --workdir")
    parser.add_argument("--list", action="store_true", help="print the modules and their tests, and stop")
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("BEFORE", "AFTER"),
        help="comma-separated workdirs: print the before/after table of their newest measurements, and stop",
    )
    parser.add_argument(
        "--recheck",
        action="store_true",
        help="try a measured workdir's survivors again with the working tree's tests/test_mutants_*.py",
    )
    parser.add_argument(
        "--rerun-timeouts",
        action="store_true",
        help="run the timed-out mutants of the modules in --workdir again with the current limits, and stop",
    )
    args = parser.parse_args(argv)
    if args.rerun_timeouts:
        for module in args.module or list(MODULES):
            root = Path(args.workdir) / module
            if (root / "summary.json").exists():
                rerun_timeouts(root, module, args.workers)
                old = json.loads((root / "summary.json").read_text())
                new = summarise(module, statuses(root, module), old["wall_seconds"], old["tests"])
                (root / "summary.json").write_text(json.dumps(old | new, indent=2))
                print(table([new]).splitlines()[-1], flush=True)
        return 0
    if args.compare:
        print(compare(args.compare[0].split(","), args.compare[1].split(",")))
        return 0
    modules = args.module or list(MODULES)
    if args.list:
        for m in modules:
            print(m, MODULES[m][0], *tests_for(m, REPO, args.before), sep="\n  ")
        return 0
    commit = commit_label(args.worktree, args.commit)
    command = " ".join(["python", "benchmarks/mutation.py", *(argv if argv is not None else sys.argv[1:])])
    print(f"commit {commit}; {command}", flush=True)
    deadline = time.monotonic() + (args.budget * 60 if args.budget else float("inf"))
    rows, skipped = [], []
    for module in modules:
        if time.monotonic() >= deadline:
            skipped.append(module)
            continue
        print(f"{module} ...", flush=True)
        rows.append(measure(module, args, deadline))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(rows))
    if skipped:
        print("not measured (budget):", ", ".join(skipped))
    (Path(args.workdir) / "summary.json").write_text(
        json.dumps({"commit": commit, "command": command, "modules": rows, "not_measured": skipped}, indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
