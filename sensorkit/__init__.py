"""sensorkit: live running-form metrics and fatigue cues from IMU pods, shoes and phones.

Data flows sources -> dsp -> metrics -> alerts -> sinks; see README.md for the map.
"""

__version__ = "0.1.0"
