"""The configuration file, as one validated model. Sections come from the packages they configure."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

RUNNER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionSettings(_Section):
    name: str = Field("session", pattern=r"^[A-Za-z0-9_.-]{1,60}$",
                      description="Prefix of the session id; the start time is appended.")
    recording_dir: Path | None = Field(Path("recordings"),
                                       description="Folder for crash-safe recordings; empty to disable.")
    record_raw: bool = Field(True, description="Store raw IMU samples in the recording (not only metrics).")

    @field_validator("recording_dir", mode="before")
    @classmethod
    def _empty_disables(cls, v: object) -> object:
        return None if v in ("", None) else v


class TerminalSettings(_Section):
    enabled: bool = Field(True, description="Live per-runner table in the terminal (off when not a TTY).")
    refresh_hz: float = Field(2.0, gt=0, le=20, description="Terminal refresh rate, Hz.")


class RunnerSettings(_Section):
    name: str = Field(pattern=RUNNER_NAME, description="Runner name; used in topics, tags and file names.")
    body_mass_kg: float | None = Field(None, gt=20, lt=250, description="Body mass, kg (optional).")
    shoe: str | None = Field(None, max_length=60, description="Shoe name, for mileage per shoe.")


class Config(_Section):
    session: SessionSettings = SessionSettings()
    terminal: TerminalSettings = TerminalSettings()
    runners: list[RunnerSettings] = Field(default_factory=list, description="The runners in this session.")

    @field_validator("runners")
    @classmethod
    def _unique_names(cls, runners: list[RunnerSettings]) -> list[RunnerSettings]:
        names = [r.name for r in runners]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"runner names must be unique; repeated: {', '.join(dupes)}")
        return runners
