"""povsim: an agent-based model of poverty reduction under China's targeted poverty
alleviation campaign (精准扶贫, 2013–2020), built on Mesa."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("povsim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from povsim.model import PovertyModel
from povsim.scenario import Scenario, load_scenario

__all__ = ["PovertyModel", "Scenario", "__version__", "load_scenario"]
