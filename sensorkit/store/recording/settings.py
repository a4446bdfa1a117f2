"""User settings of the ``[recording]`` config section."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from sensorkit.model import SessionInfo
from sensorkit.model.settings import SETTINGS
from sensorkit.store.recording.layout import SUFFIX

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class RecordingSettings(BaseModel):
    """Where and how a live session is recorded (the format: docs/recording-format.md)."""

    model_config = SETTINGS

    enabled: bool = Field(True, description="Record every session to a local .skrec directory.")
    directory: Path = Field(Path("recordings"), description="Folder that receives the recordings.")
    name: str = Field(
        "{start:%Y%m%d-%H%M%S}_{session_id}",
        description="Recording name without the .skrec suffix; {start} is the local start time "
                    "(strftime format after the colon), {session_id} the session id.",
    )
    flush_interval_s: float = Field(
        0.5, gt=0, le=1.0,
        description="Buffered data is handed to the OS at least this often: the most a crash "
                    "(kill -9) can lose.")
    fsync: bool = Field(
        False, description="Also force each flush onto the disk (survives power loss; costs disk "
                           "latency, done off the event loop).")
    channel_dtype: Literal["f8", "f4"] = Field(
        "f8", description="Storage of acc/gyr/mag values: f8 keeps them bit-exact (replay gives "
                          "identical metrics); f4 halves the size but rounds to float32.")
    max_buffer_mb: float = Field(
        64.0, gt=0,
        description="Memory that holds data while the disk refuses writes (full, I/O error); "
                    "beyond it the oldest samples are dropped and recorded as gaps.")
    queue_size: int = Field(
        1024, ge=1, description="Bus items that may wait for the recording before the pipeline "
                                "slows down (the recording never drops data to keep up).")

    @field_validator("name")
    @classmethod
    def _name_formats(cls, value: str) -> str:
        try:
            value.format(start=datetime(2000, 1, 1), session_id="s")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a valid name template ({exc!r}); "
                             "use {start:...} and {session_id}") from None
        return value

    def path_for(self, info: SessionInfo) -> Path:
        """The recording directory for ``info``, e.g. ``recordings/20250101-073000_s1.skrec``.

        Characters that are unsafe in file names (``/``, spaces, ...) become ``_``.
        """
        start = datetime.fromtimestamp(info.start_unix_s)
        stem = _UNSAFE.sub("_", self.name.format(start=start, session_id=info.session_id)).strip("._")
        return self.directory / f"{stem or 'session'}{SUFFIX}"
