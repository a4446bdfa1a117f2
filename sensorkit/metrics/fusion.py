"""Fuse the contacts of a runner's sensors into one sequence of steps.

Contacts from different sensors within ``match_tol_s`` of each other are the same touchdown.
Per field the most precise source wins: shoe pods for IC/TC, impact and strike (their own
foot), the lower back for side (when no shoe names it), vertical oscillation and trunk lean,
the phone only when nothing else saw the step. Which source gives impact is fixed per runner
(a shoe pod on that side if one is worn, else the back), so its scale never changes mid-run.

A step can only be finished when the next IC is known (its flight time ends there) and when
every live sensor has moved past it (``watermark``), so fusion never emits a step that a
slower sensor would still have changed. Sensors not yet calibrated or silent for
``stale_s`` are not waited for; their late contacts are dropped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sensorkit.dsp.contacts import Contact
from sensorkit.model import Placement, Side

_FEET = (Placement.LEFT_FOOT, Placement.RIGHT_FOOT)
_RANK = {Placement.LEFT_FOOT: 0, Placement.RIGHT_FOOT: 0, Placement.LOWER_BACK: 1, Placement.PHONE: 2}


@dataclass(slots=True)
class Touchdown:
    """The contacts of several sensors that belong to one foot strike."""

    contacts: dict[Placement, Contact] = field(default_factory=dict)

    @property
    def best(self) -> Contact:
        return min(self.contacts.items(), key=lambda kv: _RANK[kv[0]])[1]

    @property
    def ic_s(self) -> float:
        return self.best.ic_s

    @property
    def side(self) -> Side:
        for p in _FEET:
            if p in self.contacts:
                return self.contacts[p].side
        for p in (Placement.LOWER_BACK, Placement.PHONE):
            if p in self.contacts:
                return self.contacts[p].side
        return Side.UNKNOWN

    @property
    def tc_s(self) -> float | None:
        for p in (*_FEET, Placement.LOWER_BACK):
            c = self.contacts.get(p)
            if c is not None and c.tc_s is not None:
                return c.tc_s
        return None

    @property
    def sources(self) -> str:
        return "+".join(p.value for p in sorted(self.contacts, key=lambda p: (_RANK[p], p.value)))


@dataclass(frozen=True, slots=True)
class FusedStep:
    """A finished step: this touchdown, the one before and the one after (when known)."""

    touchdown: Touchdown
    prev_ic_s: float | None
    next_ic_s: float | None


class StepFusion:
    """Collects contacts per placement and releases finished steps in time order."""

    def __init__(self, match_tol_s: float = 0.08, min_step_s: float = 0.21, max_step_s: float = 0.75) -> None:
        self.match_tol_s = match_tol_s
        self.min_step_s = min_step_s
        self.max_step_s = max_step_s
        self._pending: list[Touchdown] = []
        self._last_ic: float | None = None
        self._emitted_until = float("-inf")
        self.late = 0
        self.rejected = 0

    def add(self, placement: Placement, contacts: list[Contact]) -> None:
        for c in contacts:
            if c.ic_s <= self._emitted_until:
                self.late += 1
                continue
            best: Touchdown | None = None
            best_d = self.match_tol_s
            for td in self._pending:
                d = abs(td.ic_s - c.ic_s)
                if d <= best_d and placement not in td.contacts and _compatible(td, placement, c):
                    best, best_d = td, d
            if best is None:
                best = Touchdown()
                self._pending.append(best)
            best.contacts[placement] = c
        self._pending.sort(key=lambda td: td.ic_s)

    def release(self, watermark_s: float | None) -> list[FusedStep]:
        """Steps final given that no sensor will report an IC before ``watermark_s`` (None: end)."""
        out: list[FusedStep] = []
        end = watermark_s is None
        wm = float("inf") if watermark_s is None else watermark_s
        while self._pending:
            td = self._pending[0]
            if not end and td.ic_s + self.match_tol_s >= wm:
                break
            nxt = self._pending[1] if len(self._pending) > 1 else None
            next_closed = nxt is not None and (end or nxt.ic_s + self.match_tol_s < wm)
            no_next = (nxt is None or nxt.ic_s - td.ic_s > self.max_step_s) and (
                end or wm > td.ic_s + self.max_step_s + self.match_tol_s)
            if not (next_closed or no_next):
                break
            self._pending.pop(0)
            if self._last_ic is not None and td.ic_s - self._last_ic < self.min_step_s:
                self.rejected += 1
                continue
            next_ic = nxt.ic_s if nxt is not None and nxt.ic_s - td.ic_s <= self.max_step_s else None
            prev = self._last_ic if self._last_ic is not None and td.ic_s - self._last_ic <= self.max_step_s \
                else None
            out.append(FusedStep(td, prev, next_ic))
            self._last_ic = td.ic_s
            self._emitted_until = td.ic_s + self.match_tol_s
        return out


def _compatible(td: Touchdown, placement: Placement, c: Contact) -> bool:
    """Two shoe contacts of different feet are never one touchdown."""
    if placement in _FEET:
        return not any(p in td.contacts for p in _FEET)
    return True
