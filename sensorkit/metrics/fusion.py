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

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sensorkit.dsp.contacts import Contact
from sensorkit.model import Placement, Side

# Enum members as module names: ``Placement.LEFT_FOOT`` goes through the enum class's
# ``__getattr__`` hook (~600 instructions on Python 3.11), and fusion reads them per contact.
_LEFT_FOOT, _RIGHT_FOOT, _LOWER_BACK = Placement.LEFT_FOOT, Placement.RIGHT_FOOT, Placement.LOWER_BACK
_LEFT, _UNKNOWN = Side.LEFT, Side.UNKNOWN
_FEET = (_LEFT_FOOT, _RIGHT_FOOT)
_BODY = (_LOWER_BACK, Placement.PHONE)
_TC_SOURCES = (*_FEET, _LOWER_BACK)
_RANK = {_LEFT_FOOT: 0, _RIGHT_FOOT: 0, _LOWER_BACK: 1, Placement.PHONE: 2}
_OTHER_SIDE = {Side.LEFT: Side.RIGHT, Side.RIGHT: Side.LEFT}


@dataclass(slots=True)
class Touchdown:
    """The contacts of several sensors that belong to one foot strike.

    Contacts are added with :meth:`put`, which keeps the best-ranked one and its IC at hand:
    fusion reads a touchdown's IC several times per contact it matches, sorts and releases.
    """

    contacts: dict[Placement, Contact] = field(default_factory=dict)
    best: Contact = field(init=False, repr=False, compare=False)
    """The contact of the best-ranked placement (the first one added among equals)."""
    ic_s: float = field(init=False, repr=False, compare=False)
    rank: int = field(init=False, repr=False, compare=False)
    """Rank of ``best``'s placement (0 shoe, 1 lower back, 2 phone)."""

    def __post_init__(self) -> None:
        self.rank = len(_RANK)
        self.ic_s = math.nan
        given, self.contacts = self.contacts, {}
        for placement, contact in given.items():
            self.put(placement, contact)

    def put(self, placement: Placement, contact: Contact) -> None:
        """Add ``placement``'s contact (one per placement)."""
        self.contacts[placement] = contact
        rank = _RANK[placement]
        if rank < self.rank:
            self.best, self.ic_s, self.rank = contact, contact.ic_s, rank

    @property
    def side(self) -> Side:
        for p in _FEET:
            if p in self.contacts:
                return self.contacts[p].side
        for p in _BODY:
            if p in self.contacts:
                return self.contacts[p].side
        return _UNKNOWN

    @property
    def tc_s(self) -> float | None:
        for p in _TC_SOURCES:
            c = self.contacts.get(p)
            if c is not None and c.tc_s is not None:
                return c.tc_s
        return None

    @property
    def sources(self) -> str:
        return _sources(tuple(self.contacts))


@dataclass(slots=True)
class FusedStep:
    """A finished step: this touchdown, the one before and the one after (when known).

    Treat as immutable (not frozen for speed, as :class:`~sensorkit.dsp.contacts.Contact`).
    """

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

    @property
    def last_ic_s(self) -> float | None:
        """IC of the last step released (None: none yet)."""
        return self._last_ic

    def first_pending_ic_s(self) -> float:
        """IC of the earliest touchdown not yet released (inf: none)."""
        return self._pending[0].ic_s if self._pending else float("inf")

    @property
    def pending(self) -> bool:
        """Whether any touchdown waits to be released (else ``release`` has nothing to do)."""
        return bool(self._pending)

    def add(self, placement: Placement, contacts: list[Contact]) -> None:
        if not contacts:
            return
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
            best.put(placement, c)
        self._pending.sort(key=lambda td: td.ic_s)

    def release(self, watermark_s: float | None, shoe_watermarks: Mapping[Side, float] | None = None,
                open_ics: Mapping[Placement, Sequence[float]] | None = None,
                placement_watermarks: Mapping[Placement, float] | None = None) -> list[FusedStep]:
        """Steps that are final.

        ``watermark_s``: no live sensor will report an IC before it (None: end of stream).
        ``shoe_watermarks``: the same per live shoe pod - the next IC of a foot with a live shoe
        is that shoe's, so it is waited for. ``open_ics``: ICs a sensor has confirmed but not
        released yet (the lower back holds each contact until the next IC, a shoe until TC);
        they end a step without waiting for the whole contact. ``placement_watermarks``: the
        same per live placement; a next IC taken from a less precise source waits until no more
        precise one can still join it (a shoe contact would move the touchdown's IC).
        """
        out: list[FusedStep] = []
        end = watermark_s is None
        wm = float("inf") if watermark_s is None else watermark_s
        shoes = {} if end or shoe_watermarks is None else shoe_watermarks
        while self._pending:
            td = self._pending[0]
            if not end and td.ic_s + self.match_tol_s >= wm:
                break
            known, next_ic = self._next_ic(td, wm, shoes, open_ics or {}, end,
                                           {} if end or placement_watermarks is None else placement_watermarks)
            if not known:
                break
            self._pending.pop(0)
            if self._last_ic is not None and td.ic_s - self._last_ic < self.min_step_s:
                self.rejected += 1
                continue
            prev = self._last_ic if self._last_ic is not None and td.ic_s - self._last_ic <= self.max_step_s \
                else None
            out.append(FusedStep(td, prev, next_ic))
            self._last_ic = td.ic_s
            self._emitted_until = td.ic_s + self.match_tol_s
        return out

    def _next_ic(self, td: Touchdown, wm: float, shoes: Mapping[Side, float],
                 open_ics: Mapping[Placement, Sequence[float]], end: bool,
                 placements: Mapping[Placement, float]) -> tuple[bool, float | None]:
        """(whether the next IC is settled, its time or None when there is no next step)."""
        horizon = td.ic_s + self.max_step_s
        lo = td.ic_s + self.min_step_s
        later = [p for p in self._pending[1:] if lo <= p.ic_s <= horizon]
        early = {pl: [t for t in ts if lo <= t <= horizon] for pl, ts in open_ics.items()}
        side = _OTHER_SIDE.get(td.side)
        if side is not None and side in shoes:
            place = _LEFT_FOOT if side is _LEFT else _RIGHT_FOOT
            mine = next((p for p in later if place in p.contacts), None)
            if mine is not None:
                return True, mine.ic_s
            if early.get(place):
                return True, min(early[place])
            if shoes[side] <= horizon + self.match_tol_s:
                return False, None  # that shoe has not spoken yet
        cands: list[tuple[float, int, Touchdown | None]] = [
            (p.ic_s, p.rank, p) for p in later]
        for pl, ts in early.items():
            for t in ts:
                cands.append(self._joined(t, pl))
        if cands:
            ic, rank, owner = min(cands, key=_first)
            for pl, w in placements.items():  # a more precise pod may still add a contact there
                if _RANK[pl] < rank and w <= ic + self.match_tol_s and (owner is None or pl not in owner.contacts):
                    return False, None
            return True, ic
        if end or wm > horizon + self.match_tol_s:
            return True, None
        return False, None


    def _joined(self, ic_s: float, placement: Placement) -> tuple[float, int, Touchdown | None]:
        """(IC, rank of its source, touchdown) that an open IC of ``placement`` will be part of.

        Its contact will join the pending touchdown ``add`` would pick for it now (a more
        precise pod's IC then wins); a touchdown a pod could still add is the caller's wait.
        """
        best: Touchdown | None = None
        best_d = self.match_tol_s
        probe = Contact(ic_s, None, _UNKNOWN)
        for td in self._pending:
            d = abs(td.ic_s - ic_s)
            if d <= best_d and placement not in td.contacts and _compatible(td, placement, probe):
                best, best_d = td, d
        rank = _RANK[placement]
        if best is None:
            return ic_s, rank, None
        host = best.rank
        return (best.ic_s, host, best) if host <= rank else (ic_s, rank, best)


@functools.cache
def _sources(placements: tuple[Placement, ...]) -> str:
    """``+``-joined placements, most precise first (every step names them: one of a few dozen keys)."""
    return "+".join(p.value for p in sorted(placements, key=lambda p: (_RANK[p], p.value)))


def _first(item: tuple[float, int, Touchdown | None]) -> float:
    return item[0]


def _compatible(td: Touchdown, placement: Placement, c: Contact) -> bool:
    """Two shoe contacts of different feet are never one touchdown."""
    if placement in _FEET:
        return _LEFT_FOOT not in td.contacts and _RIGHT_FOOT not in td.contacts
    return True
