"""Cue rules: fault active long enough, rule out of cooldown, global cap not reached.

A rule is *active* while any of its triggers is on (each trigger is a drift level with a
hysteresis threshold). It becomes *due* once it has been active for ``min_duration_s`` and its
last cue is a cooldown ago (``cooldown_s``, stretched by ``repeat_backoff`` for each repeat of
a fault that never cleared for a whole cooldown); due rules fire in priority order as far as the global cap
(``max_cues_per_minute`` and ``min_gap_s``) allows, and stay due until they fire or clear.
A summary rule (one that triggers only on the fatigue score, "Ease off") waits while a form
rule is due: the score is made of those same drifts, so the runner first hears what to fix, and
a form cue is not pushed a whole cap window later by the summary of its own fault.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from sensorkit.alerts.drift import Hysteresis
from sensorkit.alerts.settings import SCORE, RuleSettings
from sensorkit.model import CueKind


@dataclass(slots=True)
class RuleState:
    kind: CueKind
    settings: RuleSettings
    triggers: dict[str, Hysteresis] = field(default_factory=dict)
    since_s: float | None = None
    last_fired_s: float | None = None
    detected: bool = False
    """This active episode has lasted ``min_duration_s`` (cue due or held back by the cap)."""
    repeats: int = 0
    """Cues since the fault last cleared for a whole cooldown: each one stretches the next cooldown."""
    clear_since_s: float | None = None

    def update(self, time_s: float, levels: dict[str, float]) -> bool:
        """Feed current drift levels (missing metrics keep their state); True while active."""
        for name, hyst in self.triggers.items():
            if name in levels:
                hyst.update(levels[name])
        active = any(h.active for h in self.triggers.values())
        if not active:
            self.since_s = None
            self.detected = False
            if self.clear_since_s is None:
                self.clear_since_s = time_s
            elif time_s - self.clear_since_s >= self.settings.cooldown_s:
                self.repeats = 0  # the runner fixed it: the next cue is a first cue again
        else:
            self.clear_since_s = None
            if self.since_s is None:
                self.since_s = time_s
        return active

    @property
    def summary(self) -> bool:
        """Triggers only on the fatigue score: a summary of the form rules' drifts."""
        return bool(self.settings.triggers) and all(m == SCORE for m in self.settings.triggers)

    def cooldown_s(self) -> float:
        s = self.settings
        return s.cooldown_s * s.repeat_backoff ** max(self.repeats - 1, 0)

    def fired(self, time_s: float) -> None:
        self.last_fired_s = time_s
        self.repeats += 1

    def newly_detected(self, time_s: float) -> bool:
        """True once per active episode, when it reaches the minimum duration."""
        if self.detected or self.since_s is None or time_s - self.since_s < self.settings.min_duration_s:
            return False
        self.detected = True
        return True

    def due(self, time_s: float) -> bool:
        s = self.settings
        if self.since_s is None or time_s - self.since_s < s.min_duration_s:
            return False
        return self.last_fired_s is None or time_s - self.last_fired_s >= self.cooldown_s()

    def worst_trigger(self, levels: dict[str, float]) -> str:
        """The active trigger furthest over its threshold (named in the cue)."""
        active = [(levels.get(n, 0.0) / h.threshold if h.threshold else 0.0, n)
                  for n, h in self.triggers.items() if h.active]
        return max(active)[1] if active else next(iter(self.triggers))

    def interrupt(self) -> None:
        """A stop in running: the fault must be active continuously again before a cue."""
        self.since_s = None
        self.detected = False


class CueLimiter:
    """The global cap: at most ``per_minute`` cues in any 60 s and ``min_gap_s`` between two."""

    def __init__(self, per_minute: int, min_gap_s: float) -> None:
        self.per_minute = per_minute
        self.min_gap_s = min_gap_s
        self._fired: collections.deque[float] = collections.deque()

    def allows(self, time_s: float) -> bool:
        while self._fired and self._fired[0] <= time_s - 60.0:
            self._fired.popleft()
        if self._fired and time_s - self._fired[-1] < self.min_gap_s:
            return False
        return len(self._fired) < self.per_minute

    def record(self, time_s: float) -> None:
        self._fired.append(time_s)
