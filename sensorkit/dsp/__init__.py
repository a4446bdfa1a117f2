"""Per-sensor signal processing: pure, synchronous, numpy blocks, causal, block-size independent.

Stages (each a frozen settings dataclass + ``update``/``gap``/``reset`` + ``health``):

* :mod:`~sensorkit.dsp.calibration` - mounting calibration (gravity, forward, re-clip);
* :mod:`~sensorkit.dsp.back` - IC/TC/side/impact/vertical oscillation from the lower back;
* :mod:`~sensorkit.dsp.foot` - IC/TC/strike angle/impact from a shoe pod;
* :mod:`~sensorkit.dsp.phone` - steps from a phone;
* :mod:`~sensorkit.dsp.posture` - trunk lean through the Fusion AHRS;
* :mod:`~sensorkit.dsp.strike` - foot-strike class cut-offs (Mo 2021);
* :mod:`~sensorkit.dsp.chain` - one sensor's chain, chosen by placement.
"""

from sensorkit.dsp.chain import ChainOutput, DspSettings, SensorChain
from sensorkit.dsp.contacts import Contact
from sensorkit.dsp.strike import FOREFOOT_BELOW_DEG, REARFOOT_ABOVE_DEG, classify_strike

__all__ = [
    "FOREFOOT_BELOW_DEG",
    "REARFOOT_ABOVE_DEG",
    "ChainOutput",
    "Contact",
    "DspSettings",
    "SensorChain",
    "classify_strike",
]
