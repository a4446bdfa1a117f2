"""The data model: sample blocks validate their shapes; records serialise to plain values."""

import json

import numpy as np
import pytest

from sensorkit.model import (
    FatigueState,
    Placement,
    SampleBlock,
    SensorInfo,
    Side,
    StepMetrics,
    StrikeClass,
    to_row,
)


def test_a_block_converts_to_float64_and_checks_shapes() -> None:
    b = SampleBlock("s", [0, 1], [[0, 0, 1], [0, 0, 1]], gyr_dps=np.zeros((2, 3), np.float32))
    assert b.time_s.dtype == np.float64 and b.gyr_dps is not None and b.gyr_dps.dtype == np.float64
    assert len(b) == 2 and (b.start_s, b.end_s) == (0.0, 1.0)
    with pytest.raises(ValueError, match="acc_g has shape"):
        SampleBlock("s", [0, 1], [[0, 0, 1]])
    with pytest.raises(ValueError, match="gyr_dps has shape"):
        SampleBlock("s", [0, 1], np.zeros((2, 3)), gyr_dps=np.zeros((2, 2)))


def test_slices_and_concatenation_round_trip() -> None:
    t = np.arange(10.0)
    b = SampleBlock("s", t, np.c_[t, t, t], np.c_[t, -t, t])
    joined = SampleBlock.concat([b.slice(0, 3), b.slice(3, 10)])
    assert np.array_equal(joined.acc_g, b.acc_g) and np.array_equal(joined.gyr_dps, b.gyr_dps)
    with pytest.raises(ValueError, match="present in some blocks only"):
        SampleBlock.concat([b, SampleBlock("s", [11.0], [[0, 0, 1]])])


def test_phone_wear_is_required_for_phones_only() -> None:
    with pytest.raises(ValueError, match="phone_wear"):
        SensorInfo("a/phone", "a", Placement.PHONE, 100.0)
    with pytest.raises(ValueError, match="sampling_rate_hz"):
        SensorInfo("a/lb", "a", Placement.LOWER_BACK, 0.0)


def test_rows_are_plain_json_even_when_a_stage_hands_over_numpy_scalars() -> None:
    step = StepMetrics("ann", np.float64(1.5), Side.LEFT, cadence_spm=np.float64(172.25),
                       strike_class=StrikeClass.MIDFOOT, impact_saturated=np.bool_(True))
    row = to_row(step)
    assert row["cadence_spm"] == 172.25 and type(row["cadence_spm"]) is float
    assert row["side"] == "left" and row["strike_class"] == "midfoot" and row["impact_saturated"] is True
    text = json.dumps(to_row(FatigueState("ann", 3.0, 40.0, True, {"lean": np.float32(0.5)})))
    assert "np." not in text and json.loads(text)["components"] == {"lean": 0.5}


def _valid_as_the_constructor_makes_it(b: SampleBlock) -> bool:
    arrays = [(b.time_s, ()), (b.acc_g, (3,))] + [(a, (3,)) for a in (b.gyr_dps, b.mag_ut) if a is not None]
    return all(a.dtype == np.float64 and a.flags.c_contiguous and a.shape[1:] == tail
               and a.shape[0] == len(b) for a, tail in arrays)


def test_a_slice_is_a_valid_block_sharing_memory_without_a_second_check() -> None:
    rng = np.random.default_rng(1)
    b = SampleBlock("p", np.arange(20.0), rng.normal(size=(20, 3)), rng.normal(size=(20, 3)))
    s = b.slice(5, 13)
    assert _valid_as_the_constructor_makes_it(s)
    assert np.shares_memory(s.acc_g, b.acc_g) and s.mag_ut is None
    assert np.array_equal(s.gyr_dps, b.gyr_dps[5:13]) and s.start_s == 5.0 and s.end_s == 12.0


def test_simulated_pods_make_blocks_the_constructor_would_accept_unchanged() -> None:
    """The simulator builds its blocks with ``SampleBlock.trusted``: this holds it to the contract."""
    from sensorkit.sources.simulator import SimulatedRun, demo_runners
    from sensorkit.sources.simulator.feed import ItemFeed

    for cfg in demo_runners(2, duration_s=12.0):  # runner 2: 208 Hz pods with clock drift
        blocks = [x for w in ItemFeed(SimulatedRun(cfg), 0.04, 1.0).windows() for _, x in w
                  if isinstance(x, SampleBlock)]
        assert len(blocks) > 500
        assert all(_valid_as_the_constructor_makes_it(b) for b in blocks)
        checked = [SampleBlock(b.sensor_id, b.time_s, b.acc_g, b.gyr_dps, b.mag_ut) for b in blocks[:50]]
        assert all(c.time_s is b.time_s and c.acc_g is b.acc_g for c, b in zip(checked, blocks[:50], strict=True))
