"""Audio cues: real espeak-ng speech and numpy earcons, checked for real content with sox."""

from __future__ import annotations

import re
import subprocess
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from sensorkit.alerts import AlertsSettings, available_languages, load_phrasebook
from sensorkit.alerts.audio import AudioSettings, AudioSink, build_audio_sink
from sensorkit.alerts.audio.clips import RATE_HZ, ClipCache, earcon, read_wav, write_wav
from sensorkit.alerts.audio.output import detect_player
from sensorkit.model import BusItem, Cue, CueKind, FatigueState


def sox_info(path: Path) -> dict[str, float]:
    """Duration (s), sample rate and RMS/max amplitude as sox measures them."""
    duration = float(subprocess.run(["sox", "--i", "-D", str(path)], capture_output=True, text=True,
                                    check=True).stdout)
    rate = float(subprocess.run(["sox", "--i", "-r", str(path)], capture_output=True, text=True,
                                check=True).stdout)
    stat = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True, check=True).stderr
    rms = float(re.search(r"RMS\s+amplitude:\s+([\d.]+)", stat).group(1))
    peak = float(re.search(r"Maximum amplitude:\s+([\d.]+)", stat).group(1))
    return {"duration_s": duration, "rate_hz": rate, "rms": rms, "peak": peak}


def cue(kind: CueKind = CueKind.TRUNK_LEAN, t: float = 100.0, priority: int = 3, runner: str = "ann",
        expiry_s: float = 15.0, text: str | None = None) -> Cue:
    return Cue(runner, t, kind, text or load_phrasebook("en").text(kind), priority, t + expiry_s, t)


async def feed(items: Sequence[BusItem]) -> AsyncIterator[BusItem]:
    for item in items:
        yield item


def wav_settings(tmp_path: Path, **kw) -> AudioSettings:
    return AudioSettings(output="wav", wav_dir=tmp_path / "wav", cache_dir=tmp_path / "cache", **kw)


async def run_sink(sink: AudioSink, items: Sequence[BusItem]) -> AudioSink:
    async with sink:
        await sink.consume(feed(items))
    return sink


def test_each_cue_kind_has_its_own_short_audible_earcon(tmp_path: Path) -> None:
    patterns = {}
    for kind in CueKind:
        pcm = earcon(kind)
        path = tmp_path / f"{kind.value}.wav"
        write_wav(path, pcm)
        info = sox_info(path)
        assert 0.15 < info["duration_s"] < 0.5
        assert info["rms"] > 0.1 and info["peak"] < 1.0  # loud enough, never clipped
        patterns[kind] = pcm.tobytes()
    assert len(set(patterns.values())) == len(CueKind)


@pytest.mark.parametrize("language", available_languages())
async def test_espeak_renders_every_phrase_once_into_a_cached_clip(tmp_path: Path, language: str) -> None:
    book = load_phrasebook(language)
    cache = ClipCache(tmp_path, voice=book.voice, words_per_minute=170, volume_pct=100, speech=True,
                      earcon=True)
    for kind in CueKind:
        path = await cache.get(kind, book.text(kind))
        assert path is not None
        info = sox_info(path)
        assert info["rate_hz"] == RATE_HZ
        assert info["duration_s"] > earcon(kind).size / RATE_HZ + 0.4  # earcon + spoken words
        pcm, _ = read_wav(path)
        speech = pcm[earcon(kind).size:].astype(float) / 32768
        assert np.sqrt(np.mean(speech**2)) > 0.02  # not silence
    before = {p.name: p.stat().st_mtime_ns for p in sorted(tmp_path.glob("*.wav"))}  # noqa: ASYNC240
    again = await cache.get(CueKind.IMPACT, book.text(CueKind.IMPACT))
    assert again is not None and before[again.name] == again.stat().st_mtime_ns
    assert cache.render_errors == 0


async def test_without_espeak_a_cue_is_still_heard_as_its_earcon(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path, voice="en-us", words_per_minute=170, volume_pct=100, speech=True,
                      earcon=True, espeak="/nonexistent/espeak-ng")
    path = await cache.get(CueKind.FATIGUE, "Ease off")
    assert path is not None and sox_info(path)["duration_s"] == pytest.approx(
        earcon(CueKind.FATIGUE).size / RATE_HZ, abs=0.01)
    assert cache.render_errors == 1


async def test_cues_become_wav_files_with_real_speech(tmp_path: Path, artifacts_dir: Path) -> None:
    settings = AudioSettings(output="wav", wav_dir=artifacts_dir / "wav", cache_dir=tmp_path / "cache")
    sink = build_audio_sink(settings, AlertsSettings())
    assert sink is not None
    for old in settings.wav_dir.glob("*.wav"):
        old.unlink()
    cues = [cue(CueKind.TRUNK_LEAN, 100.0), cue(CueKind.IMPACT, 130.0), cue(CueKind.FATIGUE, 160.0)]
    await run_sink(sink, cues)
    files = sorted(settings.wav_dir.glob("*.wav"))
    assert [f.name.split("_")[3] for f in files] == ["trunk", "impact", "fatigue"]
    for f in files:
        info = sox_info(f)
        assert info["duration_s"] > 0.8 and info["rms"] > 0.02
    assert [d.cue for d in sink.deliveries] == cues and sink.stats().delivered == 3


async def test_german_cues_sound_different_from_english_ones(tmp_path: Path) -> None:
    de = build_audio_sink(wav_settings(tmp_path / "de"), AlertsSettings(language="de"))
    en = build_audio_sink(wav_settings(tmp_path / "en"), AlertsSettings(language="en"))
    assert de is not None and en is not None
    await run_sink(de, [cue(CueKind.IMPACT, text="Weicher aufsetzen")])
    await run_sink(en, [cue(CueKind.IMPACT)])
    (a,), (b,) = (list((tmp_path / x / "wav").glob("*.wav")) for x in ("de", "en"))
    assert de.clips.voice == "de" and a.read_bytes() != b.read_bytes()


async def test_a_cue_past_its_expiry_is_dropped_not_spoken_late(tmp_path: Path) -> None:
    sink = AudioSink(wav_settings(tmp_path), load_phrasebook("en"))
    # The data clock has moved to 200 s when a cue that expired at 115 s arrives.
    items = [FatigueState("ann", 200.0, 10.0, True), cue(CueKind.TRUNK_LEAN, 100.0),
             cue(CueKind.IMPACT, 195.0)]
    await run_sink(sink, items)
    assert [d.cue.kind for d in sink.deliveries] == [CueKind.IMPACT]
    assert sink.stats().dropped_stale == 1


async def test_live_expiry_follows_the_host_clock(tmp_path: Path) -> None:
    now = [1000.0]
    sink = AudioSink(wav_settings(tmp_path), load_phrasebook("en"), clock=lambda: now[0])
    await run_sink(sink, [cue(CueKind.TRUNK_LEAN, 100.0), cue(CueKind.IMPACT, 995.0)])
    assert [d.cue.kind for d in sink.deliveries] == [CueKind.IMPACT]
    assert sink.deliveries[0].started_s == 1000.0


async def test_a_slow_speaker_drops_the_least_urgent_cues_and_never_holds_the_bus(tmp_path: Path) -> None:
    # A real (slow) player process: each clip "plays" for 0.2 s.
    settings = AudioSettings(output="speaker", player=["sh", "-c", "sleep 0.2", "player"], queue_size=2,
                             wav_dir=tmp_path / "wav", cache_dir=tmp_path / "cache")
    sink = AudioSink(settings, load_phrasebook("en"))
    burst = [cue(CueKind.ASYMMETRY, 100.0, priority=2), cue(CueKind.IMPACT, 100.5, priority=3),
             cue(CueKind.OVERSTRIDE, 101.0, priority=3), cue(CueKind.FATIGUE, 101.5, priority=5),
             cue(CueKind.TRUNK_LEAN, 102.0, priority=4)]
    await run_sink(sink, burst)
    played = [d.cue.kind for d in sink.deliveries]
    stats = sink.stats()
    assert stats.mode == "speaker" and stats.player_errors == 0
    assert stats.delivered + stats.dropped_full == len(burst)
    assert stats.dropped_full >= 1
    assert CueKind.FATIGUE in played and CueKind.TRUNK_LEAN in played
    assert CueKind.ASYMMETRY not in played[1:]  # the least urgent never jumps the queue


async def test_a_broken_player_falls_back_to_wav_files(tmp_path: Path) -> None:
    settings = AudioSettings(output="speaker", player=["false"], queue_size=8, wav_dir=tmp_path / "wav",
                             cache_dir=tmp_path / "cache")
    sink = AudioSink(settings, load_phrasebook("en"))
    await run_sink(sink, [cue(CueKind.IMPACT, float(t)) for t in range(100, 105)])
    assert sink.stats().player_errors == 3 and sink.mode == "wav"
    assert len(list((tmp_path / "wav").glob("*.wav"))) == 2


async def test_auto_output_writes_wavs_when_this_host_has_no_sound_card(tmp_path: Path) -> None:
    sink = AudioSink(AudioSettings(wav_dir=tmp_path / "wav", cache_dir=tmp_path / "cache"),
                     load_phrasebook("en"))
    async with sink:
        expected = "wav" if await detect_player() is None else "speaker"
        assert sink.mode == expected


async def test_only_the_configured_runners_cues_are_spoken(tmp_path: Path) -> None:
    sink = AudioSink(wav_settings(tmp_path, runners=["ann"]), load_phrasebook("en"))
    await run_sink(sink, [cue(runner="bob"), cue(runner="ann", t=101.0)])
    assert [d.cue.runner for d in sink.deliveries] == ["ann"]


async def test_old_wav_files_are_pruned(tmp_path: Path) -> None:
    sink = AudioSink(wav_settings(tmp_path, max_wav_files=2), load_phrasebook("en"))
    await run_sink(sink, [cue(CueKind.IMPACT, float(t)) for t in range(100, 104)])
    assert len(list((tmp_path / "wav").glob("*.wav"))) == 2 and sink.stats().delivered == 4
