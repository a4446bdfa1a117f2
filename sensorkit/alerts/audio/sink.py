"""AudioSink: speaks cues (or writes them as WAVs) without ever holding up the pipeline.

Speaker output: ``consume`` only sorts cues into a small priority queue; one player task
(owned by ``consume``'s task group) takes the most urgent cue, drops it if it has expired
meanwhile, and plays its cached clip in a subprocess. WAV output: ``consume`` copies the
cached clip to a new file right away (no queue to fall behind). Clips are rendered once in
``__aenter__``, so a cue costs a process start or a file copy.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import re
import shutil
import time
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from sensorkit.alerts.audio.clips import ClipCache, default_cache_dir
from sensorkit.alerts.audio.output import detect_player
from sensorkit.alerts.audio.settings import AudioSettings
from sensorkit.alerts.expiry import CueClock
from sensorkit.alerts.phrases import PhraseBook
from sensorkit.model import BusItem, Cue, CueKind, FatigueState
from sensorkit.pipeline.channel import OverflowPolicy

log = logging.getLogger(__name__)

PLAYER_FAILURES_BEFORE_WAV = 3


@dataclass(frozen=True, slots=True)
class AudioDelivery:
    """A cue that reached the runner's ears: ``started_s`` is host time when live, else None."""

    cue: Cue
    mode: str
    path: Path
    started_s: float | None


@dataclass(frozen=True, slots=True)
class AudioStats:
    mode: str
    delivered: int
    dropped_stale: int
    dropped_full: int
    render_errors: int
    player_errors: int


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:40] or "runner"


class AudioSink:
    """A Sink for Cue records (FatigueState only advances its clock in replays)."""

    name = "audio"
    accepts: tuple[type, ...] = (Cue, FatigueState)
    policy = OverflowPolicy.DROP_OLDEST
    queue_size = 256

    def __init__(self, settings: AudioSettings, phrasebook: PhraseBook, *,
                 clock: Callable[[], float] | None = None) -> None:
        self.settings = settings
        self.phrasebook = phrasebook
        self.clock = CueClock(clock)
        self.mode = "wav"
        self.player: list[str] = []
        self.clips = ClipCache(settings.cache_dir or default_cache_dir(),
                               voice=settings.voice or phrasebook.voice,
                               words_per_minute=settings.words_per_minute, volume_pct=settings.volume_pct,
                               speech=settings.speech, earcon=settings.earcon)
        self.deliveries: collections.deque[AudioDelivery] = collections.deque(maxlen=1000)
        self._pending: list[Cue] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._written: collections.deque[Path] = collections.deque()
        self._seq = 0
        self._stamp = time.strftime("%Y%m%d-%H%M%S")
        self._delivered = self._stale = self._full = self._player_errors = 0
        self._player_failures_in_row = 0

    def stats(self) -> AudioStats:
        return AudioStats(self.mode, self._delivered, self._stale, self._full, self.clips.render_errors,
                          self._player_errors)

    async def __aenter__(self) -> Self:
        s = self.settings
        if s.output != "wav":
            player = list(s.player) or await detect_player()
            if player:
                self.mode, self.player = "speaker", player
            elif s.output == "speaker":
                log.warning("no audio output found (no PulseAudio/PipeWire/ALSA card): "
                            "writing cue WAVs to %s", s.wav_dir)
        if self.mode == "wav":
            await asyncio.to_thread(s.wav_dir.mkdir, parents=True, exist_ok=True)
        await asyncio.gather(*(self.clips.get(k, self.phrasebook.text(k)) for k in CueKind))
        log.info("audio cues: %s%s, voice %s", self.mode,
                 f" via {self.player[0]}" if self.player else f" to {s.wav_dir}", self.clips.voice)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._closed = True
        self._wake.set()

    async def consume(self, items: AsyncIterable[BusItem]) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._play_loop(), name="audio-player")
            try:
                async for item in items:
                    t = getattr(item, "time_s", None)
                    if isinstance(t, float | int):
                        self.clock.see(float(t))
                    if isinstance(item, Cue) and self._wanted(item):
                        if self.mode == "wav":
                            await self._deliver_if_fresh(item)  # a file copy: no queue needed
                        else:
                            self._enqueue(item)
            finally:
                self._closed = True
                self._wake.set()

    def _wanted(self, cue: Cue) -> bool:
        return not self.settings.runners or cue.runner in self.settings.runners

    def _enqueue(self, cue: Cue) -> None:
        self._pending.append(cue)
        if len(self._pending) > self.settings.queue_size:
            # Drop the least urgent, and among equals the oldest: the runner hears what matters.
            victim = min(self._pending, key=lambda c: (c.priority, -c.time_s))
            self._pending.remove(victim)
            self._full += 1
            log.info("audio queue full: dropped %s cue for %s", victim.kind.value, victim.runner)
        self._wake.set()

    def _next(self) -> Cue | None:
        if not self._pending:
            return None
        cue = max(self._pending, key=lambda c: (c.priority, -c.time_s))
        self._pending.remove(cue)
        return cue

    async def _play_loop(self) -> None:
        while True:
            cue = self._next()
            if cue is None:
                if self._closed:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._deliver_if_fresh(cue)

    async def _deliver_if_fresh(self, cue: Cue) -> None:
        if self.clock.now_s() > cue.expires_s:
            self._stale += 1
            log.info("dropped stale %s cue for %s (expired at %.1f s)", cue.kind.value, cue.runner,
                     cue.expires_s)
            return
        try:
            await self._deliver(cue)
        except Exception:  # audio must never take the session down
            self._player_errors += 1
            log.exception("audio delivery failed for a %s cue", cue.kind.value)

    async def _deliver(self, cue: Cue) -> None:
        clip = await self.clips.get(cue.kind, cue.text)
        if clip is None:
            return
        if self.mode == "speaker":
            await self._play(cue, clip)
        else:
            await self._write(cue, clip)

    async def _write(self, cue: Cue, clip: Path) -> None:
        self._seq += 1
        name = f"{self._stamp}_{self._seq:05d}_{_safe(cue.runner)}_{cue.kind.value}_{cue.time_s:09.1f}.wav"
        path = self.settings.wav_dir / name
        try:
            os.link(clip, path)  # one syscall: the cached clip becomes the cue's file
        except OSError:
            await asyncio.to_thread(shutil.copyfile, clip, path)  # other file system
        self._record(cue, "wav", path)
        self._written.append(path)
        while len(self._written) > self.settings.max_wav_files:
            old = self._written.popleft()
            await asyncio.to_thread(old.unlink, missing_ok=True)

    async def _play(self, cue: Cue, clip: Path) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self.player, str(clip), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        self._record(cue, "speaker", clip)
        try:
            _, err = await asyncio.wait_for(proc.communicate(), self.settings.player_timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            err = b"timed out"
        if proc.returncode == 0:
            self._player_failures_in_row = 0
            return
        self._player_errors += 1
        self._player_failures_in_row += 1
        log.warning("audio player %s failed: %s", self.player[0], err.decode(errors="replace").strip()[:200])
        if self._player_failures_in_row >= PLAYER_FAILURES_BEFORE_WAV:
            log.warning("audio output keeps failing: writing cue WAVs to %s instead", self.settings.wav_dir)
            await asyncio.to_thread(self.settings.wav_dir.mkdir, parents=True, exist_ok=True)
            self.mode = "wav"

    def _record(self, cue: Cue, mode: str, path: Path) -> None:
        self._delivered += 1
        self.deliveries.append(AudioDelivery(cue, mode, path, self.clock.host_s()))
