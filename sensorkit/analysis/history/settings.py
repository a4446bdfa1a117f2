"""``[history]``: training load and shoe mileage across sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from sensorkit.model.settings import SETTINGS


class HistorySettings(BaseModel):
    """Where the sessions are, and when to warn about load increases and worn shoes."""

    model_config = SETTINGS

    directories: list[Path] = Field(default_factory=lambda: [Path("recordings")], description=(
        "Folders searched (with subfolders) for recordings (*.skrec) to include in the history."))
    load: Literal["distance", "time"] = Field("distance", description=(
        "Weekly load compared for the increase warning: distance (km), or running time when a week "
        "has sessions without any distance."))
    max_weekly_increase_pct: float = Field(10.0, gt=0, le=200, description=(
        "Warn when a week's load exceeds the reference by more than this, %."))
    reference: Literal["previous_week", "four_week_average"] = Field("previous_week", description=(
        "Reference for the increase warning: the previous calendar week, or the mean of the four before."))
    week_starts_on: Literal["monday", "sunday"] = Field("monday", description="First day of a training week.")
    shoe_replace_km: float = Field(650.0, ge=200, le=1500, description=(
        "Mileage at which a shoe should be replaced, km (typically 500-800 for running shoes)."))
    shoe_remind_fraction: float = Field(0.9, gt=0, le=1, description=(
        "Remind that a shoe is nearly worn out from this fraction of shoe_replace_km."))
    shoe_start_km: dict[str, float] = Field(default_factory=dict, description=(
        "Kilometres a shoe had already run before sensorkit tracked it, by shoe name."))
    shoe_pods: dict[str, str] = Field(default_factory=dict, description=(
        "Shoe pod address or device name -> shoe name: a session with that pod on a foot counts for that shoe."))
    default_shoe: str | None = Field(None, max_length=60, description=(
        "Shoe for sessions that name none (no runner shoe, no known shoe pod)."))
    step_length_m: float = Field(1.0, gt=0.3, lt=3.0, description=(
        "Step length used to estimate distance from the step count when a session has no speed "
        "or GPS readings, m (about 1.0 at 3 m/s)."))


__all__ = ["HistorySettings"]
