"""The live-block shortcuts of the chain, the back detector and the posture give the general paths' results.

A short block is checked in Python floats (finite, no gap) before the numpy checks, the back
detector keeps its open ICs' times instead of interpolating them on every block, and the
posture averages a block that is one whole group without laying its columns side by side:
each is held here to the plain definition, byte for byte.
"""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from sensorkit.dsp import chain as chain_module
from sensorkit.dsp.back import BackStepDetector
from sensorkit.dsp.chain import DspSettings, SensorChain
from sensorkit.dsp.filters import BlockMean
from sensorkit.dsp.posture import TrunkPosture
from sensorkit.model import Placement, SampleBlock, SensorInfo
from sensorkit.sources.simulator.run import SimulatedRun
from tests.test_dsp_helpers import sim_run

FS = 200.0


def _blocks(sim: SimulatedRun, info: SensorInfo, size: int) -> list[SampleBlock]:
    """Blocks with the troubles the checks look for: holes, time going back, NaN and inf."""
    ch = sim.samples(info.placement, 0.0, 40.0)
    t, acc, gyr = ch.time_s.copy(), ch.acc_g.copy(), ch.gyr_dps.copy()
    t[3001:] += 0.5  # a hole inside a block
    t[4000:] += 0.3  # a hole between blocks
    t[5003] = t[5002]  # time standing still
    t[6004] = t[6003] - 0.001  # time going back
    acc[7005, 1] = np.nan
    gyr[7206, 2] = np.inf
    t[7407] = np.nan
    acc[7600:7640] = np.nan  # a run of bad samples: a gap by the time jump
    return [SampleBlock(info.sensor_id, t[i:i + size], acc[i:i + size], gyr[i:i + size] if info.has_gyro else None)
            for i in range(0, len(t), size)]


def _outputs(info: SensorInfo, blocks: list[SampleBlock]) -> bytes:
    chain = SensorChain(info, DspSettings())
    res = []
    for b in blocks:
        o = chain.update(b)
        res.append((o.contacts, [(x.time_s.tobytes(), x.lean_deg.tobytes(), x.lateral_deg.tobytes()) for x in o.lean],
                    [(c.time_s, c.sf_to_bf.tobytes(), c.method) for c in o.calibrations],
                    chain.watermark_s(), chain.open_ics_s(), chain.health(), chain.nonfinite_samples))
    return pickle.dumps(res)


@pytest.mark.parametrize(("placement", "gyro"), [(Placement.LOWER_BACK, True), (Placement.LOWER_BACK, False),
                                                 (Placement.LEFT_FOOT, True)])
def test_live_blocks_take_the_general_paths_decisions(placement: Placement, gyro: bool,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    sim = sim_run((placement,), 40.0)
    info = next(x for x in sim.sensors if x.placement is placement)
    info = dataclasses.replace(info, has_gyro=gyro)
    blocks = _blocks(sim, info, 8)
    fast = _outputs(info, blocks)
    monkeypatch.setattr(chain_module, "_SHORT_BLOCK", 0)  # every block through split_at_gaps and the numpy checks
    assert fast == _outputs(info, blocks)


def test_open_ic_times_are_the_interpolated_times_of_their_positions() -> None:
    sim = sim_run((Placement.LOWER_BACK,), 30.0)
    ch = sim.samples(Placement.LOWER_BACK, 0.0, 30.0)
    det = BackStepDetector(DspSettings().back, FS)
    s = det.settings
    seen_open = 0
    for i in range(0, len(ch.time_s), 8):
        det.update(ch.time_s[i:i + 8], ch.acc_g[i:i + 8], ch.gyr_dps[i:i + 8])
        plain = [det._time_at(p) + s.ic_offset_s for p, _, _, _ in det._open]
        assert det.open_ics_s() == plain
        seen_open += bool(plain)
        wm = det.watermark_s()
        if wm is not None:
            back = s.flight_search_s + 2.0 / det.fs - min(s.ic_offset_s, 0.0)
            t = det._time(det._cursor - 1) - back
            if det._rise is not None:
                t = min(t, det._time(det._rise) - back)
            if det._lobe is not None:
                t = min(t, det._time(det._lobe[0]) - back)
            if plain:
                t = min(t, plain[0])
            assert wm == t
    assert seen_open > 300  # contacts are open most of the time on a run


def test_one_group_is_the_block_mean_of_the_columns_side_by_side() -> None:
    rng = np.random.default_rng(5)
    for f in (2, 3, 8, 10):
        for scale in (1e-3, 1.0, 1e3):
            t = 1000.0 * rng.random() + np.cumsum(rng.uniform(0.001, 0.01, f))
            both = rng.normal(0.0, scale, (2, f, 3))
            want = BlockMean(f, 7)(t[:, None], both[0], both[1])
            one = BlockMean(f, 7).one_group(t, both)
            assert one is not None
            assert np.concatenate(([one[0]], one[1].ravel())).tobytes() == want.tobytes()
    pending = BlockMean(8, 7)
    pending(np.zeros((3, 1)), np.zeros((3, 3)), np.zeros((3, 3)))
    assert pending.one_group(np.zeros(8), np.zeros((2, 8, 3))) is None  # not a whole group from its start
    assert BlockMean(8, 7).one_group(np.zeros(7), np.zeros((2, 7, 3))) is None


@pytest.mark.parametrize("sizes", [[8], [8, 8, 3, 8, 8, 5, 8], [16, 8, 1, 7, 8]])
def test_posture_on_stacked_live_blocks_gives_the_general_paths_lean(sizes: list[int]) -> None:
    sim = sim_run((Placement.LOWER_BACK,), 20.0)
    ch = sim.samples(Placement.LOWER_BACK, 0.0, 20.0)
    plain, stacked = TrunkPosture(DspSettings().posture, FS), TrunkPosture(DspSettings().posture, FS)
    i = k = 0
    while i < len(ch.time_s):
        n = sizes[k % len(sizes)]
        t, acc, gyr = ch.time_s[i:i + n], ch.acc_g[i:i + n], ch.gyr_dps[i:i + n]
        both = np.stack((acc, gyr))
        a = plain.update(t, acc, gyr)
        b = stacked.update(t, both[0], both[1], both)
        assert (a.time_s.tobytes(), a.lean_deg.tobytes(), a.lateral_deg.tobytes()) == \
            (b.time_s.tobytes(), b.lean_deg.tobytes(), b.lateral_deg.tobytes())
        if k == 40:
            plain.gap()
            stacked.gap()
        i, k = i + n, k + 1
