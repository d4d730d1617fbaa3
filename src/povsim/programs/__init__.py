"""Programmes: the five batches (五个一批) and the channels beside them, one module each.

Every programme follows one interface (:class:`~povsim.programs.base.Programme`):
eligibility → enrolment within budget and capacity, by a targeting rule → effect on the
household → duration → unit cost → per-year results in the :class:`ChannelLedger`.
``PovertyModel`` runs them each year between the household choices and measurement, in the
order below (relocation before employment so relocated households are placed first; the
means-tested floor last).
"""

from povsim.programs.base import CHANNELS, OWN, ChannelLedger, Programme
from povsim.programs.credit import Credit
from povsim.programs.ecology import Ecology
from povsim.programs.education import Education
from povsim.programs.employment import Employment
from povsim.programs.floor import Floor
from povsim.programs.health import Health
from povsim.programs.housing import Housing
from povsim.programs.industry import Industry
from povsim.programs.relocation import Relocation

PROGRAMMES: tuple[type[Programme], ...] = (
    Relocation,
    Housing,
    Health,
    Education,
    Employment,
    Industry,
    Ecology,
    Credit,
    Floor,
)

__all__ = ["CHANNELS", "OWN", "PROGRAMMES", "ChannelLedger", "Programme"]
