"""Official series the model is compared with, up to the forecast origin (end of 2017).

Nothing after 2017 is here: the model is judged on what it could not see (the
calibration protocol, docs/calibration.md). The 2020 target is a plan, not an outcome.
"""

from __future__ import annotations

import pandas as pd

FORECAST_ORIGIN = 2017

SURVEY_POOR_PEOPLE = {
    2012: 98_990_000,  # [progress-2017] §3; [cheng-2017] ch. 1 §1
    2013: 82_490_000,  # [cheng-2017] intro, ch. 1 §1
    2014: 70_170_000,  # [cheng-2017] intro, ch. 1 §1
    2015: 55_750_000,  # [cheng-2017] intro; [plan-13th-fyp] box 1 note 1
    2016: 43_350_000,  # [progress-2017] §3; [cheng-2017] intro
    2017: 30_460_000,  # NBS, end-2017 ([nbs-poverty-monitoring])
}
"""NBS survey headcount of the rural poor, people, at year end."""

SURVEY_INCIDENCE = {2012: 0.102, 2014: 0.072, 2015: 0.057, 2016: 0.045, 2017: 0.031}
"""NBS rural poverty incidence ([cheng-2017] intro, ch. 1 §1; [progress-2017] §3; [nbs-poverty-monitoring])."""

REGISTERED_POOR_PEOPLE = {
    2014: 89_620_000,  # [progress-2017] §2 开展建档立卡
    2015: 56_300_000,  # [plan-13th-fyp] ch. 1 §1, box 1 and its note 1
}
"""Registry (建档立卡) stock, people."""

COUNTIES_EXITED = {2016: 28, 2017: 153}
"""Poor counties (of 832) that had exited (摘帽) by the end of the year: the 28 of the 2016 batch
(Jinggangshan and Lankao first, all 28 announced in 2017 by the State Council poverty alleviation
office) and with the 125 of the 2017 batch (announced by the provinces in 2018 after the third-party
assessment of 2017) 153 by end-2017. Each batch is counted in the year it was assessed for."""

REGIONAL_POOR_PEOPLE = {
    2014: {"east": 9_560_000, "central": 24_610_000, "west": 36_000_000},
    2016: {"east": 4_900_000, "central": 15_940_000, "west": 22_510_000},
    2017: {"east": 3_000_000, "central": 11_120_000, "west": 16_340_000},
}
"""NBS survey headcount of the rural poor by region (east / central / west), people, at year end:
2014 from the NBS rural poverty monitoring (the figures the initial population is built to,
``population.poor_share_2014``); 2016 from the NBS release of February 2017 on the 2016 survey
(east 4.90M, 11.3%, incidence 1.4%; central 15.94M, 36.8%, 4.9%; west 22.51M, 51.9%, 7.8%), as
reprinted in the China Rural Poverty Monitoring Report 2017; 2017 from the NBS release of
1 February 2018 on the 2017 survey. The 2015 regional split was not found in a source this
project could cite and is not used."""

RELOCATED_PEOPLE = {2016: 2_490_000, 2017: 5_890_000}
"""People moved by the relocation programme (易地扶贫搬迁), cumulative at year end: 2.49M in 2016
reported and 3.4M planned for 2017 by the National Development and Reform Commission (Xinhua,
10 February 2017). The 2017 figure is the plan; it is a check of the documented schedule the model
follows (``programs.relocation.people_by_year``), not an independent outcome."""

REREGISTERED_PEOPLE = {2016: 600_000}
"""Exited registered people found poor again and brought back into the registry (返贫), in 2016:
"about 600,000", Liu Yongfu, head of the State Council poverty alleviation office, at the State
Council Information Office press conference of 27 September 2019 (China Daily). The figure
describes 2016; its 2017 value was not found in a source this project could cite. The model's
measure with the same definition is ``reregistered_people`` (registry re-entries of exited
households), not ``relapse_people`` (exited households whose income fell below the line, whether
or not the registry took them back)."""

TARGET_2020_POOR_PEOPLE = 0
"""All rural poor under the current standard out of poverty by 2020 ([plan-13th-fyp] ch. 1 §3, box 1)."""


def survey_series() -> pd.DataFrame:
    """The survey headcount and incidence as a DataFrame indexed by year."""
    df = pd.DataFrame({"poor_people": pd.Series(SURVEY_POOR_PEOPLE), "incidence": pd.Series(SURVEY_INCIDENCE)})
    df.index.name = "year"
    return df
