"""Cutting a pod's samples into BLE-like packets, some of which are lost.

Packet ``q`` of a pod holds samples ``[q * n, (q + 1) * n)`` and arrives at the true time of
its last sample. Loss comes in bursts: a burst starts at a packet with probability ``p`` and
lasts a geometric number of packets (mean ``loss_burst_packets``), with ``p`` chosen so the
long-run lost fraction is ``loss_fraction``. The draws depend only on
``(seed, pod, packet block)``, so losses are reproducible for a given packet size.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from sensorkit.sources.simulator.profile import F64
from sensorkit.sources.simulator.run import PodChunk, SimulatedRun

_LOSS_TAG = 41
_LOSS_BLOCK = 4096


class PacketLoss:
    """Which packets of one pod are lost; query in increasing packet order."""

    def __init__(self, seed: int, pod: int, loss_fraction: float, burst_packets: float) -> None:
        self._seed = seed
        self._pod = pod
        self._mean_burst = burst_packets
        q = loss_fraction
        self._p_start = 0.0 if q <= 0 else min(1.0, q / (burst_packets * (1 - q)))
        self._block = -1
        self._flags = np.zeros(0, dtype=bool)
        self._carry = -1  # lost up to (excluding) this packet index, from earlier bursts

    def lost_list(self, q0: int, q1: int) -> list[bool]:
        """:meth:`lost` as a list (without numpy when this pod loses nothing)."""
        if self._p_start == 0.0 or q1 <= q0:
            return [False] * max(0, q1 - q0)
        return self.lost(q0, q1).tolist()

    def lost(self, q0: int, q1: int) -> NDArray[np.bool_]:
        if self._p_start == 0.0 or q1 <= q0:
            return np.zeros(max(0, q1 - q0), dtype=bool)
        parts = []
        q = q0
        while q < q1:
            b = q // _LOSS_BLOCK
            while self._block < b:
                self._next_block()
            lo = q - b * _LOSS_BLOCK
            hi = min(q1 - b * _LOSS_BLOCK, _LOSS_BLOCK)
            parts.append(self._flags[lo:hi])
            q = b * _LOSS_BLOCK + hi
        return np.concatenate(parts)

    def _next_block(self) -> None:
        self._block += 1
        rng = np.random.default_rng([self._seed, _LOSS_TAG, self._pod, self._block])
        base = self._block * _LOSS_BLOCK
        idx = base + np.arange(_LOSS_BLOCK)
        starts = rng.random(_LOSS_BLOCK) < self._p_start
        lengths = rng.geometric(1.0 / self._mean_burst, _LOSS_BLOCK)
        ends = np.where(starts, idx + lengths, -1)
        until = np.maximum.accumulate(np.maximum(ends, self._carry))
        self._flags = until > idx
        self._carry = int(until[-1])


class PodStream:
    """Sequential reader of one pod's samples by packet, holding at most about two chunks.

    A chunk is synthesised whole (~1 ms for 10 s of a pod), so every pod of every simulated
    runner would synthesise its next chunk at the same data time: a burst on the event loop
    every ``chunk_s`` (~80 ms at 50 runners) that real pods never cause. Each stream fetches its
    next chunk a stream-specific number of samples ahead instead, spreading the synthesis over
    the chunk. The samples are the same.
    """

    def __init__(self, run: SimulatedRun, pod: int, packet_samples: int) -> None:
        self.run = run
        self.pod = pod
        self.n = packet_samples
        spread = ((run.config.seed * 7919 + pod * 104729) * 0.6180339887498949) % 1.0
        self._ahead = int(spread * run.chunk_samples(pod))
        self.total = run.n_samples(pod)
        self.true_rate_hz = run.true_rate_hz(pod)
        self.next_packet = 0
        self._next_chunk = 0
        self._first = 0
        self._t = np.zeros(0)
        self._acc = np.zeros((0, 3))
        self._gyr = np.zeros((0, 3))

    @property
    def exhausted(self) -> bool:
        return self.next_packet * self.n >= self.total

    def packets_before(self, true_time_s: float) -> int:
        """Index one past the last packet that has arrived before ``true_time_s``."""
        k_max = math.ceil(true_time_s * self.true_rate_hz) - 1  # last sample taken before t
        q = (k_max + 1) // self.n
        if not math.isinf(self.total) and k_max >= self.total - 1:
            q = math.ceil(self.total / self.n)
        return max(q, self.next_packet)

    def arrivals_s(self, q0: int, q1: int) -> list[float]:
        """Arrival times of packets ``[q0, q1)``: the true time of each one's last sample.

        Python floats, not numpy: a window holds ~5 packets a pod, and each numpy call costs more
        than the arithmetic (an int divided by a float is the same IEEE division either way).
        """
        n, total, rate = self.n, self.total, self.true_rate_hz
        return [((e if (e := (q + 1) * n) <= total else total) - 1) / rate for q in range(q0, q1)]  # min(), inlined

    def take(self, k0: int, k1: int) -> tuple[F64, F64, F64]:
        """Stamped time, acc and gyro of samples ``[k0, k1)`` (k0 never goes backwards)."""
        while self._first + len(self._t) < k1 + self._ahead:
            ch: PodChunk | None = self.run.chunk(self.pod, self._next_chunk)
            if ch is None:
                break
            self._next_chunk += 1
            keep = max(0, k0 - self._first)
            self._t = np.concatenate([self._t[keep:], ch.time_s])
            self._acc = np.concatenate([self._acc[keep:], ch.acc_g])
            self._gyr = np.concatenate([self._gyr[keep:], ch.gyr_dps])
            self._first += keep
        lo, hi = k0 - self._first, k1 - self._first
        return self._t[lo:hi], self._acc[lo:hi], self._gyr[lo:hi]
