"""Emulated radios: bumble controllers on one LocalLink, in this process or behind HCI sockets.

In-process: ``LocalRadio`` hands out a central (:class:`BumbleCentral`) and peripheral
devices sharing one link. Across processes: ``python -m sensorkit.ble.emulation.radio
tcp-server:127.0.0.1:9001 tcp-server:127.0.0.1:9002 ...`` runs one controller per HCI
socket on a shared link (like ``bumble.apps.controllers``, which takes exactly two); hosts in
other processes attach with ``tcp-client:127.0.0.1:900x``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
from typing import Any

from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import Transport, open_transport
from bumble.transport.common import AsyncPipeSink

from sensorkit.ble.bumble.host import BumbleCentral

_addresses = itertools.count(1)


def next_address() -> str:
    """A fresh static random address (top two bits set, as the spec requires)."""
    n = next(_addresses)
    return f"C0:5E:00:00:{n >> 8 & 0xFF:02X}:{n & 0xFF:02X}"


class LocalRadio:
    """One emulated radio channel shared by every controller created from it."""

    def __init__(self) -> None:
        self.link = LocalLink()

    def central(self, **kwargs: Any) -> BumbleCentral:
        return BumbleCentral(link=self.link, **kwargs)

    def device(self, name: str, address: str | None = None) -> Device:
        address = address or next_address()
        controller = Controller(f"pod:{name}", link=self.link, public_address=address)
        return Device(name=name, address=Address(address), host=Host(controller, AsyncPipeSink(controller)))


async def open_hci_device(
    name: str, transport: str, address: str | None = None, wait_s: float = 20.0
) -> tuple[Device, Transport]:
    """A peripheral host on a controller reached over HCI (e.g. ``tcp-client:127.0.0.1:9002``).

    Retries for ``wait_s`` while the controller process is still starting.
    """
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        try:
            t = await open_transport(transport)
            break
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)
    return Device.with_hci(name, Address(address or next_address()), t.source, t.sink), t


async def _serve(specs: list[str]) -> None:
    link = LocalLink()
    transports = [await open_transport(spec) for spec in specs]
    for i, t in enumerate(transports):
        Controller(f"C{i}", host_source=t.source, host_sink=t.sink, link=link)
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        for t in transports:
            await t.close()


def main(argv: list[str] | None = None) -> int:
    specs = sys.argv[1:] if argv is None else argv
    if not specs:
        print(
            "usage: python -m sensorkit.ble.emulation.radio <hci-transport> [<hci-transport> ...]",
            file=sys.stderr,
        )
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(specs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
