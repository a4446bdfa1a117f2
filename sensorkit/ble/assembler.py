"""Per-pod assembly of timed streams into SampleBlocks and Gaps, across reconnects.

Lives as long as the pod's session (not a connection) so a reconnect is seen for what it
is: a hole in the stream, recorded as a :class:`~sensorkit.model.Gap` with the number of
samples it swallowed, never filled in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensorkit.ble.profiles.base import ImuPacket, StreamFormat
from sensorkit.ble.timing import StreamMerger, StreamTimer, TimedPacket, samples_between
from sensorkit.model import Gap, SampleBlock
from sensorkit.sources.clock_sync import ClockSyncSettings

Output = SampleBlock | Gap


@dataclass(slots=True)
class AssemblyStats:
    samples: int = 0
    lost_samples: int = 0
    gaps: int = 0
    late_packets: int = 0
    unmatched_secondary: int = 0


class PodAssembler:
    """Turns one pod's decoded packets into blocks on the host timeline."""

    def __init__(
        self,
        sensor_id: str,
        *,
        reorder_depth: int = 1,
        merge_hold_s: float = 0.5,
        sync_settings: ClockSyncSettings | None = None,
    ) -> None:
        self.sensor_id = sensor_id
        self.reorder_depth = reorder_depth
        self.merge_hold_s = merge_hold_s
        self.sync_settings = sync_settings
        self.format: StreamFormat | None = None
        self.timers: dict[str, StreamTimer] = {}
        self.merger: StreamMerger | None = None
        self.stats = AssemblyStats()
        self._last_end_s: float | None = None
        self._disconnected = False

    # -- connection lifecycle -----------------------------------------------------------------

    def start(self, fmt: StreamFormat) -> None:
        """Streaming (re)started with this format; keeps clock fits when nothing changed."""
        same = self.format is not None and self.format.streams == fmt.streams
        if same:
            for t in self.timers.values():
                t.new_connection()
        else:
            self.timers = {
                name: StreamTimer(
                    spec,
                    name=f"{self.sensor_id}:{name}",
                    reorder_depth=self.reorder_depth,
                    sync_settings=self.sync_settings,
                )
                for name, spec in fmt.streams.items()
            }
            self.merger = None
            if len(fmt.streams) > 1:
                self.merger = StreamMerger(1.0 / fmt.streams[fmt.primary].rate_hz, self.merge_hold_s)
        self.format = fmt

    def stop(self, now_s: float) -> list[Output]:
        """The link went down: release what is held back; the next samples open a gap."""
        out: list[Output] = []
        for name, timer in self.timers.items():
            out += self._route(name, timer.flush(), now_s)
        out += self._merged(now_s, everything=True)
        if self._last_end_s is not None:
            self._disconnected = True
        return out

    def end_gap(self, now_s: float) -> Gap | None:
        """The session ends while the pod is away: the hole from its last sample to now.

        Without it a pod that never came back would just fall silent in the recording.
        """
        if not self._disconnected or self._last_end_s is None or self.format is None:
            return None
        self._disconnected = False
        rate = self.format.streams[self.format.primary].rate_hz
        start = self._last_end_s
        return self._gap(start, now_s, "disconnected", samples_between(start, now_s, rate))

    # -- data -------------------------------------------------------------------------------

    @property
    def primary_timer(self) -> StreamTimer | None:
        if self.format is None:
            return None
        return self.timers.get(self.format.primary)

    def push(self, packet: ImuPacket, arrival_s: float) -> list[Output]:
        timer = self.timers.get(packet.stream)
        if timer is None:
            return []
        out = self._route(packet.stream, timer.push(packet, arrival_s), arrival_s)
        out += self._merged(arrival_s)
        self.stats.late_packets = sum(t.late_packets for t in self.timers.values())
        return out

    def _route(self, stream: str, timed: list[TimedPacket], now_s: float) -> list[Output]:
        assert self.format is not None
        primary = stream == self.format.primary
        out: list[Output] = []
        for tp in timed:
            if not primary:
                if self.merger is not None and tp.packet.gyr_dps is not None:
                    self.merger.add_secondary(tp.host_s, tp.packet.gyr_dps)
                continue
            if self.merger is not None and tp.packet.acc_g is not None:
                gaps = self._gap_before(tp)
                if gaps:  # what came before the hole leaves first, so items stay in time order
                    out += self._merged(now_s, everything=True)
                out += gaps
                self.merger.add_primary(tp.host_s, tp.packet.acc_g)
                continue
            if tp.packet.acc_g is None:
                continue
            out += self._gap_before(tp)
            gyr = tp.packet.gyr_dps
            if gyr is None and self.format.has_gyro:
                gyr = np.full_like(tp.packet.acc_g, np.nan)
            out.append(self._block(tp.host_s, tp.packet.acc_g, gyr, tp.packet.mag_ut))
        return out

    def _merged(self, now_s: float, everything: bool = False) -> list[Output]:
        if self.merger is None:
            return []
        m = self.merger.release(now_s, everything=everything)
        self.stats.unmatched_secondary = self.merger.unmatched
        if m is None:
            return []
        return [self._block(m.host_s, m.acc_g, m.gyr_dps, m.mag_ut)]

    def _gap_before(self, tp: TimedPacket) -> list[Output]:
        start = self._last_end_s
        end = float(tp.host_s[0])
        self._last_end_s = float(tp.host_s[-1])
        if start is None:
            return []
        assert self.format is not None
        rate = self.format.streams[self.format.primary].rate_hz
        if self._disconnected:
            self._disconnected = False
            lost = tp.lost_before if tp.lost_before else samples_between(start, end, rate)
            return [self._gap(start, end, "disconnected", lost)]
        if tp.clock_jump:
            return [self._gap(start, end, "clock jump", tp.lost_before)]
        if tp.lost_before:
            return [
                self._gap(
                    tp.gap_start_s if tp.gap_start_s is not None else start,
                    end,
                    "lost packets",
                    tp.lost_before,
                )
            ]
        return []

    def _gap(self, start: float, end: float, reason: str, lost: int) -> Gap:
        self.stats.gaps += 1
        self.stats.lost_samples += lost
        return Gap(self.sensor_id, start, max(end, start), reason, lost)

    def _block(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None, mag: np.ndarray | None) -> SampleBlock:
        self.stats.samples += int(t.shape[0])
        return SampleBlock(self.sensor_id, t, acc, gyr, mag)

    def clock_residual_ms(self) -> float | None:
        timer = self.primary_timer
        return None if timer is None else timer.sync.stats().residual_ms
