"""Fukuchi et al. (2017) treadmill running trials as sensorkit sessions with ground truth.

``load_session(trial)`` turns one RBDS trial into what a live source would deliver - a
``SessionInfo`` and time-ordered ``SampleBlock``s from three virtual pods (lower back, left and
right shoe) at ``pod_rate_hz`` - plus a :class:`~sensorkit.validation.truth.TrialTruth` built
from the force plate and the markers. The session is: quiet standing (from the static trial),
a smooth lead-in, then the 30-s run. Data are read from ``../shared/datasets``, never copied.
Treadmill running means the lab frame does not move forward: the virtual pods see exactly
what pods on a runner on a treadmill would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sensorkit import __version__
from sensorkit.model import Placement, RunnerInfo, SampleBlock, SensorInfo, SessionInfo, Side
from sensorkit.validation import forceplate
from sensorkit.validation.kinematics import UP_LAB, SegmentPose, elevation_deg, fit_segment, static_positions
from sensorkit.validation.lead_in import standing_then_running, stride_samples
from sensorkit.validation.marker_events import marker_steps
from sensorkit.validation.rbds import ForceTrial, MarkerTrial, read_forces, read_info, read_markers
from sensorkit.validation.truth import PostureTruth, StepTruth, TrialTruth
from sensorkit.validation.virtual_imu import (
    ImuErrorModel,
    ImuSignals,
    Mounting,
    apply_errors,
    ideal_signals,
    pod_times,
    resample,
)

F64 = NDArray[np.float64]

FOLDER = "fukuchi2017_rbds_subset"
PELVIS_MARKERS = ("R.PSIS", "L.PSIS", "R.ASIS", "L.ASIS", "R.Iliac.Crest", "L.Iliac.Crest")
_RUN_RE = re.compile(r"^RBDS(\d{3})(\d?)runT(\d{2})(\d?)(markers)?\.txt$")


@dataclass(frozen=True, slots=True)
class RbdsTrial:
    """One running trial's files; ``forces_path`` is None when the subset has no forces."""

    trial_id: str
    subject: int
    speed_mps: float
    markers_path: Path
    static_path: Path
    forces_path: Path | None
    info_path: Path


def discover_trials(datasets_dir: str | Path) -> list[RbdsTrial]:
    """Every running trial with a static trial in ``datasets_dir/fukuchi2017_rbds_subset``."""
    folder = Path(datasets_dir) / FOLDER
    out = []
    for path in sorted(folder.glob("RBDS*run*.txt")):
        m = _RUN_RE.match(path.name)
        if m is None:
            continue
        subj, version, speed, speed_version, _ = m.groups()
        static = folder / f"RBDS{subj}{version}static.txt"
        if not static.exists():
            continue
        forces = folder / f"RBDS{subj}{version}runT{speed}{speed_version}forces.txt"
        out.append(RbdsTrial(f"RBDS{subj}_T{speed}", int(subj), int(speed) / 10.0, path, static,
                             forces if forces.exists() else None, folder / "RBDSinfo.txt"))
    return out


@dataclass(frozen=True, slots=True)
class FukuchiSettings:
    """How virtual pods are built from a trial (all seeded: same settings, same signals)."""

    pod_rate_hz: float = 200.0
    block_size: int = 20
    sg_window: int = 9
    """Savitzky-Golay window at 150 Hz (cubic): 60 ms; the RBDS markers are already smooth."""
    standing_s: float = 5.0
    lead_in_s: float = 2.0
    errors: ImuErrorModel = field(default_factory=ImuErrorModel)
    back_mount: Mounting = field(default_factory=Mounting)
    foot_mount: Mounting = field(default_factory=Mounting)
    placements: tuple[Placement, ...] = (Placement.LOWER_BACK, Placement.LEFT_FOOT, Placement.RIGHT_FOOT)
    contacts: forceplate.ContactSettings = field(default_factory=forceplate.ContactSettings)
    align_forces: bool = True
    """Shift force-plate times by the measured marker/force lag (see docs/validation.md)."""
    seed: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class FukuchiSession:
    """A trial as a sensorkit session: ``items`` in time order, ``truth`` to score against."""

    trial: RbdsTrial
    info: SessionInfo
    items: tuple[SampleBlock, ...]
    truth: TrialTruth
    signals: dict[str, ImuSignals]
    """Per sensor id, the full signals (the same samples as the blocks)."""


@dataclass(frozen=True, slots=True, eq=False)
class _PodPose:
    static_pos: F64
    static_rot: F64
    run_pos: F64
    run_rot: F64
    ideal_axes_lab: F64


def _horizontal(v: F64) -> F64:
    h = v - np.dot(v, UP_LAB) * UP_LAB
    return np.asarray(h / np.linalg.norm(h), dtype=np.float64)


def _axes(forward: F64) -> F64:
    """Columns x forward (horizontal), y left, z up, in lab coordinates."""
    x = _horizontal(forward)
    return np.stack([x, np.cross(UP_LAB, x), UP_LAB], axis=1)


def _pod_pose(static: MarkerTrial, run: MarkerTrial, placement: Placement) -> _PodPose:
    if placement is Placement.LOWER_BACK:
        names: tuple[str, ...] = PELVIS_MARKERS
        ref = static_positions(static, names)
        point = 0.5 * (ref["R.PSIS"] + ref["L.PSIS"])
        forward = 0.5 * (ref["R.ASIS"] + ref["L.ASIS"]) - point
    else:
        prefix = "L." if placement is Placement.LEFT_FOOT else "R."
        names = tuple(prefix + m for m in forceplate.FOOT_MARKERS)
        ref = static_positions(static, names)
        toe = 0.5 * (ref[prefix + "MT1"] + ref[prefix + "MT5"])
        point = 0.5 * (ref[prefix + "Heel.Top"] + toe)  # on the laces, mid-foot
        forward = toe - ref[prefix + "Heel.Bottom"]
    pose_s = fit_segment(static, static, names)
    pose_r = fit_segment(static, run, names)
    return _PodPose(pose_s.point(point), pose_s.rot, pose_r.point(point), pose_r.rot, _axes(forward))


def repair_labels(markers: MarkerTrial) -> tuple[MarkerTrial, list[str]]:
    """Swap MT1/MT5 labels of a foot whose MT5 sits medial of MT1 in most frames.

    RBDS001runT25markers.txt has the right foot's MT1 and MT5 swapped for the whole trial;
    a rigid fit would otherwise flip the foot 180 degrees about its long axis.
    """
    fixed = dict(markers.markers)
    notes = []
    for prefix, right_sign in (("R.", 1.0), ("L.", -1.0)):
        mt1, mt5 = prefix + "MT1", prefix + "MT5"
        if mt1 not in fixed or mt5 not in fixed:
            continue
        lateral = (fixed[mt5][:, 2] - fixed[mt1][:, 2]) * right_sign
        valid = np.isfinite(lateral)
        if valid.any() and float(np.mean(lateral[valid] < 0)) > 0.9:
            fixed[mt1], fixed[mt5] = fixed[mt5], fixed[mt1]
            notes.append(f"{markers.path.name}: {mt1}/{mt5} labels swapped back")
    if not notes:
        return markers, notes
    return MarkerTrial(markers.path, markers.sampling_rate_hz, markers.time_s, fixed), notes


def foot_pitch_deg(markers: MarkerTrial, side: Side) -> F64:
    """Sagittal pitch of heel-bottom -> MT1/MT5 midpoint (deg, + = toes up), per frame."""
    p = "L." if side is Side.LEFT else "R."
    toe = 0.5 * (markers.marker(p + "MT1") + markers.marker(p + "MT5"))
    return elevation_deg(toe - markers.marker(p + "Heel.Bottom"))


def load_session(trial: RbdsTrial, settings: FukuchiSettings | None = None) -> FukuchiSession:
    """Virtual pods and ground truth for one trial (about a second of CPU)."""
    s = settings or FukuchiSettings()
    static, static_notes = repair_labels(read_markers(trial.static_path))
    run, run_notes = repair_labels(read_markers(trial.markers_path))
    rate = run.sampling_rate_hz
    subject = read_info(trial.info_path).get(trial.subject)
    runner = f"rbds{trial.subject:03d}"
    rng = np.random.default_rng([s.seed, trial.subject, round(trial.speed_mps * 10)])

    poses = {pl: _pod_pose(static, run, pl) for pl in s.placements}
    left = poses.get(Placement.LEFT_FOOT) or _pod_pose(static, run, Placement.LEFT_FOOT)
    stride = stride_samples(left.run_pos[:, 1], rate)
    offset_s = round(s.standing_s * rate) / rate + round(s.lead_in_s * rate) / rate

    sensors, blocks, signals, mounts = [], [], {}, {}
    for placement, pose in poses.items():
        sid = f"{runner}/{placement.value}"
        mount = (s.back_mount if placement is Placement.LOWER_BACK else s.foot_mount).draw(rng)
        axes = pose.ideal_axes_lab @ mount
        pos, seg_rot = standing_then_running(pose.static_pos, pose.static_rot, pose.run_pos, pose.run_rot,
                                             rate, s.standing_s, s.lead_in_s, stride)
        acc, gyr = ideal_signals(pos, seg_rot @ axes, rate, s.sg_window)
        t_marker = np.arange(pos.shape[0]) / rate
        t_pod = pod_times(0.0, float(t_marker[-1]), s.pod_rate_hz, rng)
        acc_p, gyr_p = apply_errors(resample(t_marker, acc, t_pod), resample(t_marker, gyr, t_pod),
                                    s.errors, rng)
        signals[sid] = ImuSignals(t_pod, acc_p, gyr_p)
        mounts[sid] = mount
        sensors.append(SensorInfo(sid, runner, placement, s.pod_rate_hz, device="virtual-imu (RBDS markers)",
                                  acc_range_g=s.errors.acc_range_g, gyr_range_dps=s.errors.gyr_range_dps))
        blocks += [SampleBlock(sid, t_pod[i:i + s.block_size], acc_p[i:i + s.block_size],
                               gyr_p[i:i + s.block_size]) for i in range(0, t_pod.shape[0], s.block_size)]
    blocks.sort(key=lambda b: (b.end_s, b.sensor_id))

    steps, m_steps, lag = _steps(trial, static, run, s, offset_s)
    back = poses.get(Placement.LOWER_BACK)
    posture = None if back is None else _posture(back, rate, offset_s)
    labels = {side: (subject.strike_label(side, trial.speed_mps) if subject else None)
              for side in (Side.LEFT, Side.RIGHT)}
    truth = TrialTruth(steps, m_steps, labels, (offset_s, offset_s + (len(run) - 1) / rate),
                       (0.0, round(s.standing_s * rate) / rate), posture, mounts, lag,
                       {"stride_s": f"{stride / rate:.3f}", "repairs": "; ".join(static_notes + run_notes)})
    info = SessionInfo(
        session_id=f"fukuchi2017-{trial.trial_id}", start_unix_s=0.0,
        runners=(RunnerInfo(runner, body_mass_kg=subject.mass_kg if subject else None),),
        sensors=tuple(sensors), software_version=__version__,
        notes={"dataset": "Fukuchi et al. 2017, PeerJ 5:e3298 (CC BY 4.0)", "trial": trial.trial_id,
               "speed_mps": f"{trial.speed_mps:.1f}", "treadmill": "yes", "virtual_imu": "markers"},
    )
    return FukuchiSession(trial, info, tuple(blocks), truth, signals)


def _steps(trial: RbdsTrial, static: MarkerTrial, run: MarkerTrial, s: FukuchiSettings,
           offset_s: float) -> tuple[StepTruth, StepTruth | None, float | None]:
    """Force-plate steps (primary) when forces exist, marker-based steps otherwise."""
    pitch = {side: foot_pitch_deg(run, side) - float(np.nanmedian(foot_pitch_deg(static, side)))
             for side in (Side.LEFT, Side.RIGHT)}
    kin = marker_steps(run)
    m_steps = _with_angles(kin.ic_s, kin.tc_s, kin.side, "markers", run, pitch, offset_s)
    if trial.forces_path is None:
        return m_steps, None, None
    force: ForceTrial = read_forces(trial.forces_path)
    contacts = forceplate.detect_contacts(force, s.contacts)
    lag = forceplate.marker_force_lag_s(run, force)[0] if s.align_forces else 0.0
    ic, tc = contacts.ic_s + lag, contacts.tc_s + lag
    sides = tuple(forceplate.contact_sides(run, ic, tc))
    return _with_angles(ic, tc, sides, "forceplate", run, pitch, offset_s), m_steps, lag


def _with_angles(ic: F64, tc: F64, sides: tuple[Side, ...], source: str, run: MarkerTrial,
                 pitch: dict[Side, F64], offset_s: float) -> StepTruth:
    angle = np.array([np.interp(t, run.time_s, pitch[sd]) for t, sd in zip(ic, sides, strict=True)])
    return StepTruth(source, ic + offset_s, tc + offset_s, sides, angle)


def _posture(back: _PodPose, rate: float, offset_s: float) -> PostureTruth:
    up = np.einsum("nij,j->ni", back.run_rot, back.ideal_axes_lab[:, 2])
    fwd, left = back.ideal_axes_lab[:, 0], back.ideal_axes_lab[:, 1]
    lean = np.degrees(np.arctan2(up @ fwd, up @ UP_LAB))
    lateral = np.degrees(np.arctan2(-(up @ left), up @ UP_LAB))
    return PostureTruth(offset_s + np.arange(up.shape[0]) / rate, lean, lateral)


__all__ = ["FOLDER", "FukuchiSession", "FukuchiSettings", "RbdsTrial", "SegmentPose", "discover_trials",
           "foot_pitch_deg", "load_session", "repair_labels"]
