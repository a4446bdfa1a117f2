"""Find the system's audio output: a player command that works here, or None (write WAVs)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path


async def _ok(argv: list[str], must_contain: str = "") -> bool:
    try:
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.DEVNULL)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 3.0)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return False
    except OSError:
        return False
    return proc.returncode == 0 and must_contain in out.decode(errors="replace")


async def detect_player() -> list[str] | None:
    """A player argv (the WAV path is appended) for the first audio system that answers."""
    if sys.platform == "darwin" and shutil.which("afplay"):
        return ["afplay"]
    if shutil.which("paplay") and shutil.which("pactl") and await _ok(["pactl", "info"]):
        return ["paplay"]  # PulseAudio, or PipeWire's pulse server
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if shutil.which("pw-play") and runtime and (Path(runtime) / "pipewire-0").exists():
        return ["pw-play"]
    if shutil.which("aplay") and await _ok(["aplay", "-l"], must_contain="card "):
        return ["aplay", "-q"]
    has_pcm: bool = await asyncio.to_thread(_has_pcm_device)
    if has_pcm and shutil.which("play"):
        return ["play", "-q"]
    return None


def _has_pcm_device() -> bool:
    snd = Path("/dev/snd")
    return snd.is_dir() and any(p.name.startswith("pcm") for p in snd.iterdir())
