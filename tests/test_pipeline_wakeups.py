"""The live loop's poll quantum: blocking polls at least a quantum apart, ready work never held."""

import asyncio
import selectors
import socket

import pytest

from sensorkit.compose import Mode, assemble
from sensorkit.config import parse_config
from sensorkit.errors import ConfigError
from sensorkit.metrics import RunnerMetrics
from sensorkit.model import RunnerInfo, SessionInfo
from sensorkit.pipeline.session import Session
from sensorkit.pipeline.wakeups import CoalescingSelector, loop_factory
from sensorkit.sources.simulator import SimulatorSource, steady_config
from tests.support.sources import CollectSink


class FakeTime:
    """A clock that only moves when the selector sleeps, or when the test says so."""

    def __init__(self) -> None:
        self.now_s = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now_s

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now_s += s


@pytest.fixture
def polls(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """The timeouts the platform selector was asked for (it returns nothing at once)."""
    asked: list[float | None] = []

    def fake_select(self: selectors.BaseSelector, timeout: float | None = None) -> list:
        asked.append(timeout)
        return []

    monkeypatch.setattr(selectors.DefaultSelector, "select", fake_select)
    return asked


def test_the_first_poll_and_a_poll_after_a_quiet_quantum_wait_as_asked(polls: list[float | None]) -> None:
    t = FakeTime()
    sel = CoalescingSelector(0.010, clock=t.clock, sleep=t.sleep)
    sel.select(0.003)
    t.now_s += 0.020  # the work after that wake-up took longer than a quantum
    sel.select(0.003)
    assert polls == [0.003, 0.003]
    assert t.sleeps == [] and sel.held == 0


def test_a_timer_due_within_the_quantum_waits_for_the_quantum_and_is_then_polled_without_blocking(
        polls: list[float | None]) -> None:
    t = FakeTime()
    sel = CoalescingSelector(0.010, clock=t.clock, sleep=t.sleep)
    sel.select(0.001)
    t.now_s += 0.002
    sel.select(0.001)
    assert t.sleeps == [pytest.approx(0.008)]
    assert polls == [0.001, 0]
    assert sel.held == 1


def test_a_longer_wait_sleeps_out_the_quantum_then_blocks_for_the_rest(polls: list[float | None]) -> None:
    t = FakeTime()
    sel = CoalescingSelector(0.010, clock=t.clock, sleep=t.sleep)
    sel.select(None)
    sel.select(0.5)
    sel.select(None)
    assert t.sleeps == [pytest.approx(0.010), pytest.approx(0.010)]
    assert polls[0] is None
    assert polls[1:3] == [0, pytest.approx(0.490)]
    assert polls[3:] == [0, None]


def test_ready_callbacks_are_never_held(polls: list[float | None]) -> None:
    t = FakeTime()
    sel = CoalescingSelector(0.010, clock=t.clock, sleep=t.sleep)
    sel.select(None)
    for _ in range(3):
        sel.select(0)
    assert t.sleeps == [] and polls == [None, 0, 0, 0]


def test_a_negative_quantum_is_refused() -> None:
    with pytest.raises(ValueError, match="quantum"):
        CoalescingSelector(-0.001)


def test_timers_sockets_and_callbacks_from_threads_all_run_on_a_coalescing_loop() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        seen: list[str] = []
        a, b = socket.socketpair()
        try:
            got = asyncio.Event()
            loop.add_reader(b.fileno(), lambda: (seen.append(b.recv(10).decode()), got.set()))
            loop.call_later(0.002, seen.append, "timer")
            await asyncio.sleep(0.02)
            a.send(b"socket")
            await got.wait()
            seen.append(await asyncio.to_thread(lambda: "thread"))
            loop.remove_reader(b.fileno())
        finally:
            a.close()
            b.close()
        return seen

    with asyncio.Runner(loop_factory=loop_factory(0.005)) as runner:
        assert isinstance(runner.get_loop()._selector, CoalescingSelector)  # type: ignore[attr-defined]
        assert runner.run(main()) == ["timer", "socket", "thread"]


def test_quantum_zero_is_asyncios_default_loop() -> None:
    assert loop_factory(0.0) is asyncio.new_event_loop


def test_a_live_session_on_a_coalescing_loop_gives_the_records_of_the_default_loop() -> None:
    def run(quantum_s: float) -> list[str]:
        src = SimulatorSource(steady_config(duration_s=2.0, seed=3, name="r0"), speed=1.0)
        runner = RunnerInfo("r0")
        info = SessionInfo("wake-test", 0.0, (runner,), tuple(src.sensors), "test")
        sink = CollectSink()
        session = Session(info, [src], {"r0": [RunnerMetrics(runner, info.sensors_of("r0"))]}, [sink])
        with asyncio.Runner(loop_factory=loop_factory(quantum_s)) as loop:
            loop.run(session.run())
        return [repr(x) for x in sink.items]

    held, default = run(0.010), run(0.0)
    assert len(held) > 100
    assert held == default


def test_live_sessions_take_the_quantum_from_the_config_off_by_default_and_never_at_other_speeds() -> None:
    cfg = parse_config({"session": {"wake_quantum_ms": 7}, "simulator": {"runners": 1},
                        "terminal": {"enabled": False}, "recording": {"enabled": False}})
    assert assemble(cfg, Mode.DEMO, speed=1.0).wake_quantum_s == pytest.approx(0.007)
    default = parse_config({"simulator": {"runners": 1}, "terminal": {"enabled": False},
                            "recording": {"enabled": False}})
    assert assemble(default, Mode.DEMO, speed=1.0).wake_quantum_s == 0.0
    assert assemble(cfg, Mode.DEMO, speed=30.0).wake_quantum_s == 0.0


def test_a_quantum_beyond_the_latency_budget_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="wake_quantum_ms"):
        parse_config({"session": {"wake_quantum_ms": 80}})
