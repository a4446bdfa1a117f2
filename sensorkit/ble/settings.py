"""User-facing BLE configuration: one entry per pod, and the section of shared BLE options.

TOML, as the coordinator composes it (section names are the coordinator's choice)::

    [ble]
    scan_timeout_s = 10

    [[runners]]
    name = "alice"
      [[runners.pods]]
      name = "Polar Sense B5A1"        # or address = "A0:9E:1A:..."
      placement = "lower_back"
      [[runners.pods]]
      address = "C0:5E:00:00:00:02"
      placement = "left_foot"
      profile = "diy"
      rate_hz = 208
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, model_validator

from sensorkit.ble.profiles import PROFILES
from sensorkit.ble.profiles.base import StreamRequest
from sensorkit.model import Placement
from sensorkit.model.settings import SETTINGS


class PodSettings(BaseModel):
    """One BLE pod of a runner: how to find it, where it is worn, what to stream."""

    model_config = SETTINGS

    address: str | None = Field(
        None, description="Bluetooth address of the pod (a UUID on macOS). Either this or `name`."
    )
    name: str | None = Field(
        None,
        description='Advertised name of the pod, or its beginning (e.g. "Polar Sense B5A1"). Polar '
        "devices do not advertise their data service, so name is how they are found.",
    )
    placement: Placement = Field(description="Where the pod is worn: lower_back, left_foot or right_foot.")
    profile: str | None = Field(
        None,
        description=f"Device protocol, one of: {', '.join(sorted(PROFILES))}. Detected from the "
        "device's services when omitted.",
    )
    rate_hz: float | None = Field(
        None, gt=0, description="Wanted sampling rate; the nearest rate the device supports is used."
    )
    acc_range_g: float | None = Field(
        None,
        gt=0,
        description="Wanted accelerometer full scale; the smallest supported range that covers "
        "it is used (running impacts reach 8-16 g at the shoe).",
    )
    gyr_range_dps: float | None = Field(
        None, gt=0, description="Wanted gyroscope full scale in deg/s (devices with a gyroscope)."
    )
    cadence_per_stride: bool = Field(
        False,
        description="RSC footpods only: the device reports strides (one foot) per minute; sensorkit "
        "doubles it to steps per minute.",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.address and not self.name:
            raise ValueError("a pod needs an address or a name")
        if self.placement is Placement.PHONE:
            raise ValueError("a BLE pod is worn on the body: lower_back, left_foot or right_foot")
        if self.profile is not None and self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; known: {', '.join(sorted(PROFILES))}")
        return self

    @property
    def label(self) -> str:
        return self.name or self.address or "?"

    def stream_request(self) -> StreamRequest:
        return StreamRequest(self.rate_hz, self.acc_range_g, self.gyr_range_dps)


class BleSettings(BaseModel):
    """Options shared by every pod: timeouts, reconnect backoff, queues."""

    model_config = SETTINGS

    scan_timeout_s: float = Field(
        10.0, gt=0, description="How long one search for a pod lasts before backing off and searching again."
    )
    connect_timeout_s: float = Field(10.0, gt=0, description="Timeout of one connection attempt.")
    setup_timeout_s: float = Field(
        15.0, gt=0, description="Timeout of service discovery plus the device's start protocol."
    )
    reconnect_min_s: float = Field(
        0.2, ge=0, description="First retry delay after a pod drops; grows exponentially with jitter."
    )
    reconnect_max_s: float = Field(15.0, gt=0, description="Longest delay between retries.")
    queue_size: int = Field(
        512,
        ge=8,
        description="Notifications buffered per pod between the radio and "
        "the decoder; the oldest are dropped (and counted) when full.",
    )
    reorder_depth: int = Field(
        1,
        ge=0,
        description="Packets held back per stream to put reordered "
        "notifications back in place (adds that much latency).",
    )
    health_interval_s: float = Field(1.0, gt=0, description="Period of the per-pod health records.")
    battery_interval_s: float = Field(60.0, gt=0, description="Period of battery level reads.")


class RunnerPods(BaseModel):
    """A runner and the pods they wear (what ``build_ble_sources`` takes per runner)."""

    model_config = SETTINGS

    runner: str = Field(description="Runner name; sensor ids are ``<runner>/<placement>``.")
    pods: list[PodSettings] = Field(default_factory=list, description="BLE pods worn by the runner.")

    @model_validator(mode="after")
    def _unique_placements(self) -> Self:
        seen = [p.placement for p in self.pods]
        if len(seen) != len(set(seen)):
            raise ValueError(f"runner {self.runner!r}: two pods share a placement")
        return self
