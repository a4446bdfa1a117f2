"""Per-runner gait metrics: fuses the DSP chains of a runner's pods into records."""

from sensorkit.metrics.offline import analyze_items
from sensorkit.metrics.runner import RunnerMetrics
from sensorkit.metrics.settings import MetricsSettings

__all__ = ["MetricsSettings", "RunnerMetrics", "analyze_items"]
