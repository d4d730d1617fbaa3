"""Official series the model is compared with, up to the forecast origin (end of 2017).

Nothing after 2017 is here: the model is judged on what it could not see (MODEL.md,
calibration protocol). The 2020 target is a plan, not an outcome.
"""

from __future__ import annotations

import pandas as pd

FORECAST_ORIGIN = 2017

SURVEY_POOR_PEOPLE = {
    2012: 98_990_000,  # 004 line 40; 000 line 187
    2013: 82_490_000,  # 000 lines 66, 187
    2014: 70_170_000,  # 000 lines 66, 187
    2015: 55_750_000,  # 000 line 66; 002 line 741
    2016: 43_350_000,  # 004 line 40; 000 line 66
    2017: 30_460_000,  # NBS, end-2017 (MODEL.md calibration targets)
}
"""NBS survey headcount of the rural poor, people, at year end."""

SURVEY_INCIDENCE = {2012: 0.102, 2014: 0.072, 2015: 0.057, 2016: 0.045, 2017: 0.031}
"""NBS rural poverty incidence (000 lines 66, 187; 004 line 40; MODEL.md)."""

REGISTERED_POOR_PEOPLE = {
    2014: 89_620_000,  # 004 line 28
    2015: 56_300_000,  # 002 lines 29, 59, 741
}
"""Registry (建档立卡) stock, people."""

COUNTIES_EXITED = {2016: 28}
"""Poor counties (of 832) that had exited (摘帽) by the end of 2016: 28, announced in 2017 by the
State Council poverty alleviation office (MODEL.md, calibration protocol)."""

TARGET_2020_POOR_PEOPLE = 0
"""All rural poor under the current standard out of poverty by 2020 (002 lines 55, 59)."""


def survey_series() -> pd.DataFrame:
    """The survey headcount and incidence as a DataFrame indexed by year."""
    df = pd.DataFrame({"poor_people": pd.Series(SURVEY_POOR_PEOPLE), "incidence": pd.Series(SURVEY_INCIDENCE)})
    df.index.name = "year"
    return df
