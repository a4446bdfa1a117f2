"""User settings of the InfluxDB sink: the ``[influx]`` section of the sensorkit config.

Secrets never live in the config or on the command line: the config names an environment
variable or a file holding them, and they are read when the writer opens.
"""

from __future__ import annotations

import hashlib
import os
import re
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from sensorkit.model.settings import SETTINGS


class InfluxApi(StrEnum):
    V2 = "v2"
    """InfluxDB 2.x/3.x/Cloud (and v2-compatible stores such as VictoriaMetrics): org, bucket, token."""
    V1 = "v1"
    """InfluxDB 1.x: database, retention policy, user/password; ``/write`` and InfluxQL."""


class RawImuMode(StrEnum):
    FULL = "full"
    """Every IMU sample: one point per sample (hundreds of points per second per pod)."""
    DOWNSAMPLED = "downsampled"
    """The first sample of every ``1/raw_imu_rate_hz`` interval; enough to eyeball signals."""
    OFF = "off"
    """No raw samples; metrics, cues and health only."""


def default_spool_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "sensorkit" / "influx-spool"


class InfluxSettings(BaseModel):
    """Where and how live streams are written to InfluxDB (see docs/influxdb.md)."""

    model_config = SETTINGS

    enabled: bool = Field(False, description="Write live sessions to InfluxDB.")
    api: InfluxApi = Field(
        InfluxApi.V2,
        description="`v2` for InfluxDB 2.x/3.x/Cloud or VictoriaMetrics (org, bucket, token); "
                    "`v1` for InfluxDB 1.x (database, retention policy, user/password).")
    url: str = Field("http://127.0.0.1:8086", description="Base URL of the server, http:// or https://.")
    org: str = Field("", description="v2: organization name or ID (empty for InfluxDB 3 / VictoriaMetrics).")
    bucket: str = Field("sensorkit", description="v2: bucket (InfluxDB 3: database) to write to.")
    token_env: str = Field("INFLUX_TOKEN", description="Environment variable holding the API token.")
    token_file: Path | None = Field(
        None, description="File holding the API token (used when set; wins over `token_env`).")
    database: str = Field("sensorkit", description="v1: database to write to (must exist).")
    retention_policy: str = Field("", description="v1: retention policy; empty for the database default.")
    username: str = Field("", description="v1: user name; empty when authentication is off.")
    password_env: str = Field("INFLUX_PASSWORD", description="v1: environment variable holding the password.")
    password_file: Path | None = Field(
        None, description="v1: file holding the password (used when set; wins over `password_env`).")
    raw_imu: RawImuMode = Field(
        RawImuMode.DOWNSAMPLED,
        description="Raw IMU samples: `full` (every sample), `downsampled` (`raw_imu_rate_hz`) or `off`.")
    raw_imu_rate_hz: float = Field(10.0, gt=0, description="Rate of raw IMU points when `downsampled`, Hz.")
    numeric_fields_only: bool = Field(
        False, description="Leave out string fields (cue text, strike class...); set it for "
                           "VictoriaMetrics, which stores every string field as 0.")
    batch_points: int = Field(5000, ge=1, description="Points per write request.")
    flush_interval_s: float = Field(
        1.0, gt=0, description="Longest time a point waits in memory before its batch is sent, s.")
    queue_size: int = Field(
        20000, ge=1, description="Bus items buffered before new ones are dropped (and counted).")
    max_pending_points: int = Field(
        200_000, ge=1, description="Points held in memory while a write is in flight; beyond it "
                                   "the sink stops taking items and its bus queue fills.")
    timeout_s: float = Field(10.0, gt=0, description="Timeout of one write request, s.")
    spool_dir: Path | None = Field(
        None, description="Folder of the on-disk outage queue (default "
                          "$XDG_STATE_HOME/sensorkit/influx-spool); one subfolder per target.")
    spool_max_mb: float = Field(
        1024.0, gt=0, description="Largest size of the outage queue, MB; beyond it new batches are "
                                  "dropped with an error log line.")
    retry_initial_s: float = Field(0.5, gt=0, description="First retry delay after a failed write, s.")
    retry_max_s: float = Field(30.0, gt=0, description="Longest retry delay (exponential backoff), s.")
    shutdown_drain_s: float = Field(
        15.0, ge=0, description="At session end, how long to keep sending before leaving the rest "
                                "in the spool for the next start, s.")
    require_server_at_start: bool = Field(
        False, description="Fail at start when the server does not answer (otherwise spool and retry).")
    verify_tls: bool = Field(True, description="Verify the server's TLS certificate (https).")

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"url {v!r} must look like http://HOST:PORT or https://HOST:PORT")
        return v.rstrip("/")

    def token(self) -> str | None:
        """The API token from ``token_file`` or ``token_env``; None when neither is set."""
        return _secret(self.token_env, self.token_file, "influx token")

    def password(self) -> str | None:
        """The v1 password from ``password_file`` or ``password_env``; None when neither is set."""
        return _secret(self.password_env, self.password_file, "influx password")

    @property
    def target(self) -> str:
        """Human name of where points go, for log lines and errors (no secrets)."""
        if self.api is InfluxApi.V1:
            rp = f", retention policy {self.retention_policy!r}" if self.retention_policy else ""
            return f"InfluxDB 1.x at {self.url} (database {self.database!r}{rp})"
        org = f", org {self.org!r}" if self.org else ""
        return f"InfluxDB v2 API at {self.url} (bucket {self.bucket!r}{org})"

    def spool_path(self) -> Path:
        """The spool folder of this target: batches spooled for one database never reach another."""
        where = self.database + "." + self.retention_policy if self.api is InfluxApi.V1 else self.bucket
        key = f"{self.api.value}|{self.url}|{self.org}|{where}"
        host = urlsplit(self.url).netloc
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.api.value}-{host}-{where}")[:80]
        digest = hashlib.sha256(key.encode()).hexdigest()[:10]
        return (self.spool_dir or default_spool_dir()) / f"{name}-{digest}"


def _secret(env: str, path: Path | None, what: str) -> str | None:
    # Imported here: sensorkit.config imports this module to compose the [influx] section.
    from sensorkit.config.secrets import read_secret

    # The default variable names need not exist: servers without authentication take none.
    return read_secret(env, path, what, env_optional=True)
