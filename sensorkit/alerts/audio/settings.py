"""User-settable audio output: the ``[audio]`` config section."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from sensorkit.model.settings import SETTINGS


class AudioSettings(BaseModel):
    """Spoken cues and earcons (section ``[audio]``); wording and language come from ``[alerts]``."""

    model_config = SETTINGS

    enabled: bool = Field(True, description="Speak cues (or write them as WAV files).")
    output: Literal["auto", "speaker", "wav"] = Field(
        "auto", description="`speaker` plays through the system's audio output, `wav` writes one WAV file "
        "per cue to `wav_dir`, `auto` plays when an audio output is found and writes WAVs otherwise.")
    player: list[str] = Field(default_factory=list, description="Player command to use instead of detecting "
                              "one (the WAV path is appended), e.g. `[\"paplay\"]` or `[\"play\", \"-q\"]`.")
    wav_dir: Path = Field(Path("sensorkit-cues"), description="Folder for cue WAV files in `wav` output.")
    max_wav_files: int = Field(1000, ge=1, description="Oldest cue WAVs beyond this many are deleted.")
    cache_dir: Path | None = Field(None, description="Where rendered phrases are cached; default "
                                   "`$XDG_CACHE_HOME/sensorkit/cues` (`~/.cache/...`).")
    speech: bool = Field(True, description="Speak the cue's phrase with espeak-ng (offline).")
    earcon: bool = Field(True, description="Play a short tone pattern before the phrase (one per cue kind), "
                         "the fastest thing a runner can hear.")
    voice: str = Field("", description="espeak-ng voice; empty uses the phrase book's voice "
                       "(`espeak-ng --voices` lists them).")
    words_per_minute: int = Field(170, ge=80, le=450, description="Speech rate.")
    volume_pct: int = Field(100, ge=0, le=200, description="Loudness of speech and earcons.")
    runners: list[str] = Field(default_factory=list, description="Only speak cues for these runners "
                               "(the one wearing the headphones); empty speaks every runner's cues.")
    queue_size: int = Field(4, ge=1, description="Cues waiting for the speaker; when full the least urgent "
                            "is dropped (counted). Cues past their expiry are dropped, never spoken late.")
    player_timeout_s: float = Field(15.0, gt=0, description="A player still running after this is stopped.")
