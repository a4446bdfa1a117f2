"""The configuration file, as one validated model.

Each section's model lives in the package it configures; this module only puts them together,
so the README's configuration reference and the validation always agree with the code.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from sensorkit.alerts.audio.settings import AudioSettings
from sensorkit.alerts.settings import AlertsSettings
from sensorkit.analysis.history.settings import HistorySettings
from sensorkit.ble.settings import BleSettings, PodSettings
from sensorkit.dashboard.settings import DashboardSettings
from sensorkit.metrics.settings import MetricsSettings
from sensorkit.model.settings import SETTINGS
from sensorkit.mqtt.settings import MqttSettings
from sensorkit.sources.phone.source_base import AnyPhoneSettings
from sensorkit.sources.simulator.settings import SimulatorSettings
from sensorkit.store.influx.settings import InfluxSettings
from sensorkit.store.recording.settings import RecordingSettings

RUNNER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"


class _Section(BaseModel):
    model_config = SETTINGS


class SessionSettings(_Section):
    name: str = Field("session", pattern=r"^[A-Za-z0-9_.-]{1,60}$",
                      description="Prefix of the session id; the start time is appended.")
    wake_quantum_ms: float = Field(
        0.0, ge=0, le=25,
        description="If > 0, the live event loop polls for new packets at most once per this many ms and "
                    "handles what arrived meanwhile in one wake-up: less CPU on a machine busy with other "
                    "programs (docs/performance.md), up to this much more delay per sample. 0: asyncio's "
                    "default loop, woken by every packet.")


class TerminalSettings(_Section):
    enabled: bool = Field(True, description="Live per-runner table in the terminal (plain lines when not a TTY).")
    refresh_hz: float = Field(2.0, gt=0, le=20, description="Terminal refresh rate, Hz.")


class RunnerSettings(_Section):
    name: str = Field(pattern=RUNNER_NAME, description="Runner name; used in topics, tags and file names.")
    body_mass_kg: float | None = Field(None, gt=20, lt=250, description="Body mass, kg (optional).")
    shoe: str | None = Field(None, max_length=60, description="Shoe name, for mileage per shoe.")
    pods: list[PodSettings] = Field(default_factory=list, description="BLE pods this runner wears.")
    phones: list[AnyPhoneSettings] = Field(default_factory=list,
                                           description="Phones this runner carries (`app` picks the protocol).")

    @model_validator(mode="before")
    @classmethod
    def _phones_belong_to_the_runner(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("phones"), list):
            phones = [{"runner": data.get("name"), **p} if isinstance(p, dict) else p for p in data["phones"]]
            data = {**data, "phones": phones}
        return data


class Config(_Section):
    session: SessionSettings = SessionSettings()
    runners: list[RunnerSettings] = Field(default_factory=list, description="The runners in this session.")
    simulator: SimulatorSettings | None = Field(
        None, description="Simulated runners (the demo's source); they join any configured runners.")
    recording: RecordingSettings = RecordingSettings()
    terminal: TerminalSettings = TerminalSettings()
    ble: BleSettings = BleSettings()
    metrics: MetricsSettings = MetricsSettings()
    alerts: AlertsSettings = AlertsSettings()
    audio: AudioSettings = AudioSettings()
    mqtt: MqttSettings = MqttSettings()
    influx: InfluxSettings = InfluxSettings()
    history: HistorySettings = HistorySettings()
    dashboard: DashboardSettings = DashboardSettings()

    @field_validator("runners")
    @classmethod
    def _unique_names(cls, runners: list[RunnerSettings]) -> list[RunnerSettings]:
        names = [r.name for r in runners]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"runner names must be unique; repeated: {', '.join(dupes)}")
        return runners
