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
