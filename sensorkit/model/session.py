"""Session metadata: which runners and sensors took part and when it started."""

from __future__ import annotations

from dataclasses import dataclass, field

from sensorkit.model.sensors import RunnerInfo, SensorInfo


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """``start_unix_s`` is the wall-clock time of host-timeline zero."""

    session_id: str
    start_unix_s: float
    runners: tuple[RunnerInfo, ...]
    sensors: tuple[SensorInfo, ...]
    software_version: str
    notes: dict[str, str] = field(default_factory=dict)

    def sensor(self, sensor_id: str) -> SensorInfo:
        for s in self.sensors:
            if s.sensor_id == sensor_id:
                return s
        raise KeyError(sensor_id)

    def sensors_of(self, runner: str) -> tuple[SensorInfo, ...]:
        return tuple(s for s in self.sensors if s.runner == runner)
