"""Calibration targets: what the model is fitted to, all observed up to the end of 2017.

Each target names an outcome of :func:`povsim.calibration.evaluate.outcomes`, the observed
value with its source, and a tolerance ``sd``: the discrepancy between model and observation
that counts as one standard deviation in the fit (measurement error plus model error). Targets
with ``fitted = False`` are reported but not fitted: the 2014 survey headcount and registry are
reproduced by construction (the initial population is built to them), and incidence is the
headcount over the rural population, which is an input, so it carries no separate information.
"""

from __future__ import annotations

from dataclasses import dataclass

from povsim.observed import (
    COUNTIES_EXITED,
    FORECAST_ORIGIN,
    REGISTERED_POOR_PEOPLE,
    SURVEY_INCIDENCE,
    SURVEY_POOR_PEOPLE,
)

SURVEY_SD = 0.02
"""Tolerance of the survey headcounts and the registry stock: 2% of the observed value
(assumption: the NBS sample's sampling error on ~70M poor is ~1%; model error is the rest)."""

COUNTIES_SD = 4.0
"""Tolerance of the 2016 county exits, counties (assumption: a county's exit is a threshold on
a sampled incidence, so at 1:1000 the count varies by a few counties between seeds)."""


@dataclass(frozen=True)
class Target:
    """One observed number the model is compared with."""

    outcome: str
    label: str
    year: int
    observed: float
    sd: float
    source: str
    fitted: bool = True

    def residual(self, simulated: float) -> float:
        """(simulated − observed) in tolerances."""
        return (simulated - self.observed) / self.sd


def default_targets() -> list[Target]:
    """The calibration targets of MODEL.md's protocol, none after the forecast origin (2017)."""
    out: list[Target] = []
    for year, value in sorted(SURVEY_POOR_PEOPLE.items()):
        if 2014 <= year <= FORECAST_ORIGIN:
            out.append(
                Target(
                    f"poor_people_{year}",
                    f"survey poor people {year}",
                    year,
                    value,
                    SURVEY_SD * value,
                    "NBS rural poverty survey (povsim.observed.SURVEY_POOR_PEOPLE)",
                    fitted=year > 2014,
                )
            )
    for year, value in sorted(SURVEY_INCIDENCE.items()):
        if 2014 <= year <= FORECAST_ORIGIN:
            out.append(
                Target(
                    f"incidence_{year}",
                    f"survey incidence {year}",
                    year,
                    value,
                    SURVEY_SD * value,
                    "NBS rural poverty incidence (povsim.observed.SURVEY_INCIDENCE)",
                    fitted=False,
                )
            )
    for year, value in sorted(REGISTERED_POOR_PEOPLE.items()):
        if year > FORECAST_ORIGIN:
            continue
        out.append(
            Target(
                f"registered_poor_people_{year}",
                f"registry stock {year}",
                year,
                value,
                SURVEY_SD * value,
                "建档立卡 registry (povsim.observed.REGISTERED_POOR_PEOPLE)",
                fitted=year > 2014,
            )
        )
    for year, value in sorted(COUNTIES_EXITED.items()):
        if year > FORECAST_ORIGIN:
            continue
        out.append(
            Target(
                f"counties_exited_{year}",
                f"poor counties exited by end-{year}",
                year,
                value,
                COUNTIES_SD,
                "State Council poverty office, announced 2017 (povsim.observed.COUNTIES_EXITED)",
            )
        )
    assert all(t.year <= FORECAST_ORIGIN for t in out)
    return out
