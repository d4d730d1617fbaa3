"""Calibration targets: what the model is fitted to and checked against, all describing 2017 or earlier.

Each target names an outcome of :func:`povsim.calibration.evaluate.outcomes`, the observed
value with its source, a tolerance ``sd`` — the discrepancy between model and observation that
counts as one standard deviation in the fit (measurement error plus model error) — and an
acceptance: how close the calibrated baseline's ten-seed mean must come for the target to count
as met (within a relative error, within a factor, or within two tolerances).

Targets with ``fitted = False`` are reported and checked but not fitted: the 2014 survey headcount,
its regional split and the registry are reproduced by construction (the initial population is
built to them); incidence is the headcount over the rural population, an input, so it carries no
separate information; relocation follows the documented schedule, so its check is of the
mechanism, not a fit; and the flow and regional targets added after the end-game mechanisms are
checked until a calibration on them is committed (``docs/calibration.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

from povsim.observed import (
    COUNTIES_EXITED,
    FORECAST_ORIGIN,
    REGIONAL_POOR_PEOPLE,
    REGISTERED_POOR_PEOPLE,
    RELOCATED_PEOPLE,
    REREGISTERED_PEOPLE,
    SURVEY_INCIDENCE,
    SURVEY_POOR_PEOPLE,
)

SURVEY_SD = 0.02
"""Tolerance of the survey headcounts and the registry stock: 2% of the observed value
(assumption: the NBS sample's sampling error on ~70M poor is ~1%; model error is the rest)."""

REGIONAL_SD = 0.04
"""Tolerance of a regional survey headcount: 4% of the observed value (assumption: each region
holds a third of the sample or less, so its sampling error is about twice the national one)."""

COUNTIES_SD = 4.0
"""Tolerance of the 2016 county exits, counties (assumption: a county's exit is a threshold on
a sampled incidence; one run's count varies with a standard deviation of ~14 counties between
seeds at the baseline's sampling design and ~30 at a uniform 1:1000, and the fit averages its
seeds)."""

COUNTIES_2017_SD = 15.0
"""Tolerance of the counties exited by end-2017, counties (assumption: ~10% of 153; the 2017
batch's count depends on which year a county's assessment is assigned to)."""

RELOCATION_SD = 0.05
"""Tolerance of the relocated people, 5% of the value (assumption: the 2017 figure is a plan)."""

REREGISTERED_SD = 0.5
"""Tolerance of the re-registered (返贫) people, half the reported value (assumption: the figure
is "about" a round number, and the registry's re-entries and the poverty office's count of
relapse may differ in timing and definition)."""

EPS = 1e-12
"""Slack in the acceptance comparisons, so that a value exactly on a bound (e.g. 5.0% in floating
point) counts as within it."""

SURVEY_ACCEPT = 0.05
"""Acceptance of the national survey headcounts and the registry stock: within 5% (docs/calibration.md)."""

REGIONAL_ACCEPT = 0.10
"""Acceptance of a regional headcount: within 10%."""

COUNTIES_2017_ACCEPT = 0.25
"""Acceptance of the counties exited by end-2017: within 25% of 153."""

RELOCATION_ACCEPT = 0.10
"""Acceptance of the relocated people: within 10%."""

REREGISTERED_ACCEPT_FACTOR = 2.0
"""Acceptance of the re-registered people: within a factor of two of the reported figure."""


@dataclass(frozen=True)
class Target:
    """One observed number the model is compared with.

    Attributes:
        outcome: the outcome's name in :func:`povsim.calibration.evaluate.outcomes`.
        label: a reader's name for it.
        year: the year it describes (≤ 2017).
        observed: the observed value.
        sd: the tolerance, in the outcome's unit (one standard deviation in the fit).
        source: where the observation comes from.
        fitted: whether the calibration fits it (otherwise it is only checked).
        accept_rel: acceptance as a relative error (e.g. 0.05: within 5%), or None.
        accept_factor: acceptance as a factor (e.g. 2: between half and twice), or None.
            With neither, a target is met within two tolerances.
    """

    outcome: str
    label: str
    year: int
    observed: float
    sd: float
    source: str
    fitted: bool = True
    accept_rel: float | None = None
    accept_factor: float | None = None

    def residual(self, simulated: float) -> float:
        """(simulated − observed) in tolerances."""
        return (simulated - self.observed) / self.sd

    def accepts(self, simulated: float) -> bool:
        """Whether ``simulated`` meets this target's acceptance."""
        if simulated != simulated:  # NaN: the outcome was not produced
            return False
        if self.accept_factor is not None:
            if simulated <= 0:
                return False
            ratio = simulated / self.observed
            return 1 / self.accept_factor - EPS <= ratio <= self.accept_factor + EPS
        if self.accept_rel is not None:
            return abs(simulated / self.observed - 1) <= self.accept_rel + EPS
        return abs(simulated - self.observed) <= 2 * self.sd * (1 + EPS)

    @property
    def acceptance(self) -> str:
        """The acceptance in words, e.g. "within 5%"."""
        if self.accept_factor is not None:
            return f"within a factor of {self.accept_factor:g}"
        if self.accept_rel is not None:
            return f"within {self.accept_rel:.0%}"
        return f"within ±{2 * self.sd:g} (2 tolerances)"


def _yearly(
    series: dict[int, float],
    outcome: str,
    label: str,
    sd_share: float,
    source: str,
    fitted_from: int | None,
    first_year: int = 2014,
    **acceptance: float,
) -> list[Target]:
    """One target per year of ``series`` from ``first_year`` to the forecast origin; ``outcome`` and
    ``label`` are formatted with the year, the tolerance is ``sd_share`` of the value, and the years
    from ``fitted_from`` on are fitted (None: none is)."""
    return [
        Target(
            outcome.format(year=year),
            label.format(year=year),
            year,
            value,
            sd_share * value,
            source,
            fitted=fitted_from is not None and year >= fitted_from,
            **acceptance,
        )
        for year, value in sorted(series.items())
        if first_year <= year <= FORECAST_ORIGIN
    ]


def default_targets() -> list[Target]:
    """The calibration targets of the protocol (docs/calibration.md), none describing a year after the
    forecast origin (2017): the fitted ones and those only checked (``fitted = False``)."""
    after_2014 = 2015  # 2014 is reproduced by construction
    never = None
    out = _yearly(
        SURVEY_POOR_PEOPLE,
        "poor_people_{year}",
        "survey poor people {year}",
        SURVEY_SD,
        "NBS rural poverty survey (povsim.observed.SURVEY_POOR_PEOPLE)",
        after_2014,
        accept_rel=SURVEY_ACCEPT,
    )
    out += _yearly(
        SURVEY_INCIDENCE,
        "incidence_{year}",
        "survey incidence {year}",
        SURVEY_SD,
        "NBS rural poverty incidence (povsim.observed.SURVEY_INCIDENCE)",
        never,
        accept_rel=SURVEY_ACCEPT,
    )
    for region in ("east", "central", "west"):
        out += _yearly(
            {year: regions[region] for year, regions in REGIONAL_POOR_PEOPLE.items()},
            f"poor_people_{region}_{{year}}",
            f"survey poor people {region} {{year}}",
            REGIONAL_SD,
            "NBS rural poverty survey by region (povsim.observed.REGIONAL_POOR_PEOPLE)",
            after_2014,
            accept_rel=REGIONAL_ACCEPT,
        )
    out += _yearly(
        REGISTERED_POOR_PEOPLE,
        "registered_poor_people_{year}",
        "registry stock {year}",
        SURVEY_SD,
        "建档立卡 registry (povsim.observed.REGISTERED_POOR_PEOPLE)",
        after_2014,
        accept_rel=SURVEY_ACCEPT,
    )
    out += _yearly(
        REREGISTERED_PEOPLE,
        "reregistered_people_{year}",
        "re-registered (relapse) people {year}",
        REREGISTERED_SD,
        "State Council poverty alleviation office, press conference of 2019-09-27 "
        "(povsim.observed.REREGISTERED_PEOPLE)",
        after_2014,
        accept_factor=REREGISTERED_ACCEPT_FACTOR,
    )
    first_county_year = min(COUNTIES_EXITED)
    for year, value in sorted(COUNTIES_EXITED.items()):
        if year > FORECAST_ORIGIN:
            continue
        first = year == first_county_year
        out.append(
            Target(
                f"counties_exited_{year}",
                f"poor counties exited by end-{year}",
                year,
                value,
                COUNTIES_SD if first else COUNTIES_2017_SD,
                "State Council poverty office: the 2016 batch announced in 2017, the 2017 batch in 2018 "
                "(povsim.observed.COUNTIES_EXITED)",
                accept_rel=None if first else COUNTIES_2017_ACCEPT,
            )
        )
    out += _yearly(
        RELOCATED_PEOPLE,
        "relocated_people_{year}",
        "relocated people by end-{year}",
        RELOCATION_SD,
        "National Development and Reform Commission, Xinhua 2017-02-10 (povsim.observed.RELOCATED_PEOPLE)",
        never,
        accept_rel=RELOCATION_ACCEPT,
    )
    assert all(t.year <= FORECAST_ORIGIN for t in out)
    return out
