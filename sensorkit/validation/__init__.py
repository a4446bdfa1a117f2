"""Validation data and ground truth: real data sets turned into sensorkit sessions.

* :mod:`sensorkit.validation.fukuchi` - RBDS treadmill trials (Fukuchi et al. 2017) as virtual
  lower-back and shoe pods with force-plate and marker truth.
* :mod:`sensorkit.validation.adeptdata` - a 25-min outdoor run (Karas et al., adeptdata).
* :mod:`sensorkit.validation.scoring` - matching detected events to truth and the metrics.

Data are read from ``../shared/datasets`` (or wherever the caller points), never copied.
"""
