"""Emulated radios and pods in child processes (HCI over TCP), for cross-process tests and benches.

    with EmulatedPodsProcess({"SK Pod L": "left"}, motion="counter") as world:
        async with BumbleCentral(transport=world.host_transport) as central: ...

The controllers run in one child (``sensorkit.ble.emulation.radio`` or bumble's own
``apps.controllers`` for two), the pods' hosts in another; both are stopped by PID on exit.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Self


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class EmulatedPodsProcess:
    """A controllers process plus one process hosting the named pods; a context manager."""

    def __init__(
        self,
        names: Sequence[str],
        *pod_args: str,
        controllers: str = "sensorkit.ble.emulation.radio",
        ready_timeout_s: float = 60.0,
    ) -> None:
        self.names = list(names)
        self.pod_args = list(pod_args)
        self.controllers = controllers
        self.ready_timeout_s = ready_timeout_s
        self.ports = free_ports(len(self.names) + 1)
        self.procs: list[subprocess.Popen[str]] = []

    @property
    def host_transport(self) -> str:
        return f"tcp-client:127.0.0.1:{self.ports[0]}"

    def __enter__(self) -> Self:
        servers = [f"tcp-server:127.0.0.1:{p}" for p in self.ports]
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", self.controllers, *servers],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        )
        pods = [
            a
            for name, port in zip(self.names, self.ports[1:], strict=True)
            for a in ("--pod", f"{name}@tcp-client:127.0.0.1:{port}")
        ]
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "sensorkit.ble.emulation", *pods, *self.pod_args],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        )
        return self

    def wait_ready(self) -> None:
        """Block until every pod advertises (call via asyncio.to_thread from async code)."""
        out = self.procs[-1].stdout
        assert out is not None
        for _ in self.names:
            line = out.readline()
            if not line.startswith("ready"):
                raise RuntimeError(f"emulated pods failed to start: {line!r}")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for p in reversed(self.procs):  # pods first, then the controllers they talk to
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
            if p.stdout is not None:
                p.stdout.close()
        self.procs.clear()
