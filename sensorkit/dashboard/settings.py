"""The ``[dashboard]`` config section: where the web dashboard listens and who may look.

Bound to loopback it is open to the local user; bound anywhere else it refuses to start
without a token, because a coach's laptop on club Wi-Fi must not show athletes' data to
everyone on the network.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator

from sensorkit.errors import ConfigError
from sensorkit.model.settings import SETTINGS, is_loopback

MIN_TOKEN_CHARS = 16


class DashboardSettings(BaseModel):
    """The live web dashboard (section ``[dashboard]``)."""

    model_config = SETTINGS

    enabled: bool | None = Field(None, description="Serve the web dashboard during `demo`, `run` and `replay`; "
                                 "unset: on for the demo only.")
    host: str = Field("127.0.0.1", min_length=1, max_length=255,
                      description="Address to listen on. Anything but loopback requires a token.")
    port: int = Field(8765, ge=0, le=65535, description="TCP port; if taken, the next free one of the 20 "
                      "after it is used (logged). 0 picks any free port.")
    token_env: str | None = Field(None, description="Environment variable holding the access token "
                                  f"(at least {MIN_TOKEN_CHARS} characters).")
    token_file: Path | None = Field(None, description="File whose first line is the access token.")
    update_hz: float = Field(4.0, ge=2.0, le=20.0, description="Rate at which browsers get the latest state "
                             "of every runner that changed (server-side coalescing).")
    history_s: float = Field(600.0, ge=60.0, le=3600.0, description="Length of the charts' history kept "
                             "per runner, seconds of data time.")
    max_runners: int = Field(64, ge=1, le=1000, description="Runners shown at most; more are ignored and "
                             "counted (bounds memory when a broker carries unexpected runners).")
    max_clients: int = Field(16, ge=1, le=1000, description="Browsers connected at once; more are refused.")
    cue_feed_size: int = Field(100, ge=10, le=1000, description="Cues kept in the feed.")
    watch_score: float = Field(30.0, ge=0, le=100, description="Fatigue score from which a tile turns amber.")
    fading_score: float = Field(50.0, ge=0, le=100, description="Fatigue score from which a tile turns red.")
    stale_after_s: float = Field(10.0, gt=0, description="A runner with no news for this long (wall clock) "
                                 "is greyed out in the browser.")
    mqtt_max_payload_bytes: int = Field(65536, ge=1024, le=16 * 1024 * 1024,
                                        description="Team mode: larger MQTT messages are dropped and counted.")

    @model_validator(mode="after")
    def _scores(self) -> DashboardSettings:
        if self.watch_score > self.fading_score:
            raise ValueError("watch_score must not exceed fading_score")
        if self.token_env and self.token_file:
            raise ValueError("set token_env or token_file, not both")
        return self

    def active(self, demo: bool) -> bool:
        """Whether the session serves the dashboard (``enabled`` unset: only the demo does)."""
        return demo if self.enabled is None else self.enabled

    @property
    def needs_token(self) -> bool:
        return not is_loopback(self.host)

    def token(self) -> str | None:
        """The access token, or None when none is configured and none is needed.

        Raises ConfigError when the dashboard is bound beyond loopback without one, or the
        token is too short to resist guessing. The token itself never appears in messages.
        """
        from sensorkit.config.secrets import read_secret  # sensorkit.config imports this module

        token = read_secret(self.token_env, self.token_file, "dashboard token", min_chars=MIN_TOKEN_CHARS)
        if token is None and self.needs_token:
            raise ConfigError(
                f"dashboard: listening on {self.host!r} (beyond this machine) needs an access token: "
                "set dashboard.token_env or dashboard.token_file, or keep host = \"127.0.0.1\"")
        return token
