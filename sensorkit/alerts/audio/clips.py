"""Cue audio clips: numpy earcons, espeak-ng speech, rendered once and cached as WAV files.

A clip is earcon + short pause + phrase, mono 16-bit PCM. Clips are keyed by everything that
changes their sound (text, voice, rate, volume, earcon), so a cache never serves stale audio.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import wave
from pathlib import Path

import numpy as np

from sensorkit.model import CueKind

log = logging.getLogger(__name__)

RATE_HZ = 22050
"""espeak-ng's output rate; earcons are made at the same rate so clips concatenate."""

EARCON_NOTES_HZ: dict[CueKind, tuple[float, ...]] = {
    CueKind.TRUNK_LEAN: (660.0, 990.0),           # rising: "up"
    CueKind.OVERSTRIDE: (880.0, 880.0, 880.0),    # quick triple: "quicker"
    CueKind.IMPACT: (990.0, 660.0),               # falling: "softer"
    CueKind.ASYMMETRY: (740.0, 988.0, 740.0),     # left-right-left
    CueKind.FATIGUE: (988.0, 784.0, 587.0),       # descending: "ease off"
}
NOTE_S = 0.09
NOTE_GAP_S = 0.03
PAUSE_S = 0.12


def earcon(kind: CueKind, volume_pct: int = 100, rate_hz: int = RATE_HZ) -> np.ndarray:
    """A short tone pattern (int16) for one cue kind, with raised-cosine edges (no clicks)."""
    n = int(NOTE_S * rate_hz)
    t = np.arange(n) / rate_hz
    edge = int(0.01 * rate_hz)
    env = np.ones(n)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(edge) / edge)
    env[:edge], env[-edge:] = ramp, ramp[::-1]
    gap = np.zeros(int(NOTE_GAP_S * rate_hz))
    amp = 0.45 * min(volume_pct, 200) / 100.0
    parts = []
    for f in EARCON_NOTES_HZ[kind]:
        tone = np.sin(2 * np.pi * f * t) + 0.25 * np.sin(4 * np.pi * f * t)
        parts += [amp / 1.25 * env * tone, gap]
    return np.asarray(np.clip(np.concatenate(parts), -1, 1) * 32767, dtype=np.int16)


def write_wav(path: Path, pcm: np.ndarray, rate_hz: int = RATE_HZ) -> None:
    """Write mono int16 PCM atomically (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(np.ascontiguousarray(pcm, dtype="<i2").tobytes())
    os.replace(tmp, path)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono int16 PCM and its rate (first channel if several)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM is supported")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data[:: w.getnchannels()].astype(np.int16), w.getframerate()


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sensorkit" / "cues"


class ClipCache:
    """Renders and caches one clip per (kind, text); ``get`` never raises, it degrades.

    Without espeak-ng (or if it fails) a clip is the earcon alone and the failure is counted.
    """

    def __init__(self, cache_dir: Path, *, voice: str, words_per_minute: int, volume_pct: int,
                 speech: bool, earcon: bool, espeak: str | None = None) -> None:
        self.cache_dir = cache_dir
        self.voice = voice
        self.words_per_minute = words_per_minute
        self.volume_pct = volume_pct
        self.speech = speech
        self.earcon = earcon
        self.espeak = espeak if espeak is not None else (shutil.which("espeak-ng") or "")
        self.render_errors = 0
        self._clips: dict[tuple[CueKind, str], Path] = {}

    def _key(self, kind: CueKind, text: str) -> str:
        raw = "|".join(map(str, ("v1", kind.value, text, self.voice, self.words_per_minute, self.volume_pct,
                                 self.speech, self.earcon)))
        return hashlib.sha1(raw.encode()).hexdigest()[:16]

    async def get(self, kind: CueKind, text: str) -> Path | None:
        """The clip for this cue, rendering it on first use; None if there is nothing to play."""
        known = self._clips.get((kind, text))
        if known is not None and known.exists():
            return known
        path = self.cache_dir / f"{kind.value}-{self._key(kind, text)}.wav"
        if not path.exists():
            pcm = await self._render(kind, text)
            if pcm is None or pcm.size == 0:
                return None
            await asyncio.to_thread(self._store, path, pcm)
        self._clips[(kind, text)] = path
        return path

    def _store(self, path: Path, pcm: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, pcm)

    async def _render(self, kind: CueKind, text: str) -> np.ndarray | None:
        parts: list[np.ndarray] = []
        if self.earcon:
            parts.append(earcon(kind, self.volume_pct))
        if self.speech:
            speech = await self._speak(text)
            if speech is not None:
                if parts:
                    parts.append(np.zeros(int(PAUSE_S * RATE_HZ), dtype=np.int16))
                parts.append(speech)
        return np.concatenate(parts) if parts else None

    async def _speak(self, text: str) -> np.ndarray | None:
        if not self.espeak:
            self.render_errors += 1
            log.warning("espeak-ng not found: cues are earcons only (install espeak-ng for speech)")
            return None
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_dir / f".speech-{os.getpid()}-{self._key(CueKind.FATIGUE, text)}.wav"
        argv = [self.espeak, "-v", self.voice, "-s", str(self.words_per_minute),
                "-a", str(self.volume_pct), "-w", str(tmp), "--", text]
        try:
            proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.PIPE)
            try:
                _, err = await asyncio.wait_for(proc.communicate(), 20.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise
            if proc.returncode != 0:
                raise RuntimeError(err.decode(errors="replace").strip() or f"exit {proc.returncode}")
            pcm, rate = await asyncio.to_thread(read_wav, tmp)
        except (OSError, RuntimeError, TimeoutError, ValueError, EOFError, wave.Error) as exc:
            self.render_errors += 1
            log.warning("espeak-ng could not speak %r with voice %r: %s", text, self.voice, exc)
            return None
        finally:
            tmp.unlink(missing_ok=True)
        if rate != RATE_HZ:
            # Resample (linear) so the clip has one rate; espeak-ng normally gives 22050 Hz.
            x = np.arange(0, pcm.size, rate / RATE_HZ)
            pcm = np.interp(x, np.arange(pcm.size), pcm).astype(np.int16)
        return pcm
