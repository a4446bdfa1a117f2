"""User settings of phone sources: one ``[[phones]]`` entry per phone, ``app`` selects the protocol.

Every listening endpoint binds to 127.0.0.1 unless ``host`` says otherwise; a non-loopback
HTTP endpoint then requires a token (``token_env`` / ``token_file``), and a non-loopback
HyperIMU socket (the app cannot send a token) requires ``allowed_senders``. Secrets are read
from the environment or a file when the source opens; they never appear in the config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, IPvAnyNetwork, model_validator

from sensorkit.model import PhoneWear
from sensorkit.model.settings import SETTINGS, is_loopback

RUNNER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"


def _written_as_text(value: object) -> object:
    """``false`` or ``3232235777`` would otherwise pass as an address (pydantic takes ints)."""
    if not isinstance(value, str):
        raise ValueError("write an address or network as a string, e.g. \"192.168.1.0/24\"")
    return value


SenderNetwork = Annotated[IPvAnyNetwork, BeforeValidator(_written_as_text)]


class _PhoneBase(BaseModel):
    model_config = SETTINGS

    runner: str = Field(pattern=RUNNER_NAME, description="Runner carrying the phone (a name from `runners`).")
    wear: PhoneWear = Field(PhoneWear.ARMBAND,
                            description="Where the phone is carried: `pocket`, `armband`, `waist` or `hand`.")
    name: str = Field("phone", pattern=r"^[A-Za-z0-9_.-]{1,40}$",
                      description="Sensor name; the sensor id is `<runner>/<name>`.")
    sampling_rate_hz: float = Field(100.0, gt=0, le=2000,
                                    description="Nominal IMU rate set in the app, Hz (used to detect gaps).")
    has_gyro: bool = Field(True, description="The app sends gyroscope data.")
    has_mag: bool = Field(False, description="The app sends magnetometer data and it should be kept.")
    hold_s: float = Field(0.5, gt=0, le=10,
                          description="Reorder window, s: added latency, and how late a message may arrive.")
    use_gps: bool = Field(True, description="Turn location reports into speed and distance.")
    max_gps_speed_mps: float = Field(12.0, gt=0, description="GPS moves faster than this are rejected, m/s.")
    max_gps_accuracy_m: float = Field(30.0, gt=0,
                                      description="GPS fixes less accurate than this are ignored, m.")
    health_interval_s: float = Field(1.0, gt=0, description="Period of health records, s.")
    stale_after_s: float = Field(3.0, gt=0,
                                 description="No data for this long reports the phone as disconnected, s.")

    @property
    def sensor_id(self) -> str:
        return f"{self.runner}/{self.name}"


class _Listen(BaseModel):
    """An endpoint sensorkit serves for the phone to push to."""

    host: str = Field("127.0.0.1",
                      description="Address to bind; anything but loopback requires a token (or allowlist).")
    port: int = Field(8000, ge=0, le=65535, description="Port to bind (0: any free port, logged).")
    max_messages_per_s: float = Field(50.0, gt=0,
                                      description="Sustained message rate; more is rejected and counted.")
    burst_messages: int = Field(100, ge=1, description="Messages accepted in a burst above the rate.")
    queue_messages: int = Field(256, ge=1, description="Messages waiting to be processed before new ones "
                                                      "are dropped (and counted).")


class _Token(BaseModel):
    token_env: str | None = Field(None, description="Environment variable holding the ingest token.")
    token_file: Path | None = Field(None, description="File holding the ingest token (first line).")

    @property
    def token_configured(self) -> bool:
        return bool(self.token_env or self.token_file)


PlatformName = Literal["android", "ios"]


class SensorLoggerHttpSettings(_PhoneBase, _Listen, _Token):
    """Sensor Logger's HTTP push to an endpoint sensorkit serves (`http://<host>:<port><path>`)."""

    app: Literal["sensorlogger_http"] = Field(description="Protocol: Sensor Logger HTTP push.")
    path: str = Field("/sensorlogger", pattern=r"^/[A-Za-z0-9_./-]{0,60}$",
                      description="URL path the phone posts to.")
    platform: PlatformName = Field(
        "android", description="Phone OS: `ios` flips acceleration signs (not needed when the app's "
                               "'Standardise Units & Frames' is on).")
    device_id: str | None = Field(None, max_length=128,
                                  description="Accept only messages with this `deviceId` (None: any).")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024,
                                description="Largest accepted request body, bytes.")
    max_readings: int = Field(50_000, ge=1, description="Largest number of readings in one message.")

    @model_validator(mode="after")
    def _token_off_loopback(self) -> SensorLoggerHttpSettings:
        if not is_loopback(self.host) and not self.token_configured:
            raise ValueError(f"host {self.host!r} is not loopback: set token_env or token_file")
        return self


class SensorLoggerMqttSettings(_PhoneBase):
    """Sensor Logger's MQTT publish, read from a broker (the phone publishes over websockets)."""

    app: Literal["sensorlogger_mqtt"] = Field(description="Protocol: Sensor Logger MQTT publish.")
    broker_host: str = Field("127.0.0.1", description="MQTT broker host.")
    broker_port: int = Field(1883, ge=1, le=65535, description="MQTT broker port (TCP listener).")
    topic: str = Field("sensor-logger", min_length=1, max_length=200, description="Topic the phone uses.")
    username: str | None = Field(None, description="Broker user name.")
    password_env: str | None = Field(None, description="Environment variable holding the broker password.")
    password_file: Path | None = Field(None, description="File holding the broker password (first line).")
    tls: bool = Field(False, description="Connect with TLS.")
    ca_file: Path | None = Field(None, description="CA certificate for TLS (system store if unset).")
    client_id: str | None = Field(None, max_length=64, description="MQTT client id (random if unset).")
    platform: PlatformName = Field("android", description="Phone OS, as for HTTP push.")
    device_id: str | None = Field(None, max_length=128,
                                  description="Accept only messages with this `deviceId` (None: any).")
    max_payload_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Largest accepted message, bytes.")
    max_readings: int = Field(50_000, ge=1, description="Largest number of readings in one message.")
    max_messages_per_s: float = Field(50.0, gt=0, description="Sustained message rate accepted.")
    burst_messages: int = Field(100, ge=1, description="Messages accepted in a burst above the rate.")
    reconnect_max_s: float = Field(30.0, gt=0, description="Longest wait between reconnect attempts, s.")


class PhyphoxSettings(_PhoneBase):
    """phyphox remote access: sensorkit polls the phone's web server (enable 'Allow remote access')."""

    app: Literal["phyphox"] = Field(description="Protocol: phyphox remote access.")
    url: str = Field(pattern=r"^https?://[^\s/]+(:\d+)?/?$",
                     description="Address phyphox shows, e.g. `http://192.168.0.42:8080` (iOS: port 80).")
    poll_interval_s: float = Field(0.1, gt=0, le=10, description="Time between /get requests, s.")
    timeout_s: float = Field(2.0, gt=0, description="Timeout of one request, s.")
    start_measurement: bool = Field(False, description="Send `control?cmd=start` when the session starts.")
    max_response_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="Largest accepted answer, bytes.")
    reconnect_max_s: float = Field(10.0, gt=0, description="Longest wait between retries, s.")


HyperImuSensor = Literal[
    "accelerometer", "linear_acceleration", "gravity", "gyroscope", "magnetometer", "other"]


def _default_hyperimu_sensors() -> list[HyperImuSensor]:
    return ["accelerometer", "gyroscope"]


class HyperImuSettings(_PhoneBase, _Listen):
    """HyperIMU streaming CSV lines over UDP or TCP to sensorkit."""

    app: Literal["hyperimu"] = Field(description="Protocol: HyperIMU CSV stream.")
    transport: Literal["udp", "tcp"] = Field("udp", description="`udp` or `tcp`, as set in the app.")
    port: int = Field(2055, ge=0, le=65535, description="Port to bind (0: any free port, logged).")
    sensors: list[HyperImuSensor] = Field(
        default_factory=_default_hyperimu_sensors, min_length=1, max_length=32,
        description="The app's enabled sensors in its settings order (three values each); "
                    "`other` skips a sensor sensorkit does not use.")
    timestamp: bool = Field(True, description="The app's 'timestamp' option is on (strongly recommended).")
    mac_address: bool = Field(False, description="The app's 'MAC address' option is on.")
    gps: bool = Field(False, description="The app appends latitude, longitude, altitude.")
    line_end: Literal["crlf", "hash"] = Field("crlf", description="Line terminator: CR LF or `#`.")
    allowed_senders: list[SenderNetwork] = Field(
        default_factory=list, description="Senders accepted (addresses or networks); required off loopback, "
                                          "since HyperIMU cannot send a token.")
    max_line_bytes: int = Field(4096, ge=64, le=65536, description="Longest accepted line, bytes.")
    max_connections: int = Field(2, ge=1, le=64, description="TCP: simultaneous connections accepted.")
    max_messages_per_s: float = Field(500.0, gt=0, description="Sustained datagrams/lines per s.")
    burst_messages: int = Field(1000, ge=1, description="Datagrams/lines accepted in a burst.")
    queue_messages: int = Field(2048, ge=1, description="Datagrams/lines waiting before drops.")

    @model_validator(mode="after")
    def _allowlist_off_loopback(self) -> HyperImuSettings:
        if not is_loopback(self.host) and not self.allowed_senders:
            raise ValueError(f"host {self.host!r} is not loopback: list allowed_senders "
                             "(HyperIMU cannot send a token)")
        return self


PhoneSettings = Annotated[
    SensorLoggerHttpSettings | SensorLoggerMqttSettings | PhyphoxSettings | HyperImuSettings,
    Field(discriminator="app"),
]
"""One ``[[phones]]`` entry; ``app`` picks the model (so errors name only that model's keys)."""

AnyPhoneSettings = PhoneSettings
"""The same type under the name the config schema imports."""
