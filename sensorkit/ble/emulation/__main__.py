"""Run emulated pods in their own process on an HCI transport (cross-process tests, demos).

    python -m sensorkit.ble.emulation --pod "SK Pod left@tcp-client:127.0.0.1:9002" --kind diy

Several ``--pod NAME@HCI`` run several pods (one host each) in this one process. Prints
``ready <address>`` per pod once it advertises, then runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import signal
import sys

from sensorkit.ble.emulation.diy import DiyPodEmulator
from sensorkit.ble.emulation.metamotion import MetaMotionEmulator
from sensorkit.ble.emulation.motion import CounterMotion, Motion, RunningMotion
from sensorkit.ble.emulation.movesense import MovesenseEmulator
from sensorkit.ble.emulation.peripheral import EmulatedPeripheral, Faults
from sensorkit.ble.emulation.polar import PolarH10Emulator, PolarVerityEmulator
from sensorkit.ble.emulation.radio import open_hci_device
from sensorkit.ble.emulation.rsc import RscEmulator
from sensorkit.ble.emulation.thingy import ThingyEmulator

KINDS: dict[str, type[EmulatedPeripheral]] = {
    "diy": DiyPodEmulator,
    "polar_h10": PolarH10Emulator,
    "polar_verity": PolarVerityEmulator,
    "movesense": MovesenseEmulator,
    "metamotion": MetaMotionEmulator,
    "thingy52": ThingyEmulator,
    "rsc": RscEmulator,
}


def address_for(name: str) -> str:
    """A static random address (top bits 11) that is stable for a name."""
    h = hashlib.sha256(name.encode()).digest()
    return ":".join(f"{b:02X}" for b in (0xC0 | h[0] & 0x3F, *h[1:6]))


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sensorkit.ble.emulation", description=__doc__)
    p.add_argument(
        "--pod",
        action="append",
        required=True,
        metavar="NAME@HCI",
        help="advertised name and HCI transport, e.g. 'SK Pod@tcp-client:127.0.0.1:9002'",
    )
    p.add_argument("--kind", choices=sorted(KINDS), default="diy")
    p.add_argument("--max-mtu", type=int, default=247)
    p.add_argument("--motion", choices=["running", "counter"], default="running")
    p.add_argument("--loss", type=float, default=0.0)
    p.add_argument("--jitter-s", type=float, default=0.0)
    p.add_argument("--reorder", type=float, default=0.0)
    p.add_argument("--drift-ppm", type=float, default=0.0)
    p.add_argument("--clock-offset-s", type=float, default=1000.0)
    p.add_argument("--drop-every-s", type=float, default=0.0, help="drop the link periodically (0: never)")
    p.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="NAME",
        help="pods that drop their link every --drop-every-s (default: all)",
    )
    p.add_argument("--seed", type=int, default=None)
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        droppers: list[EmulatedPeripheral] = []
        for i, spec in enumerate(args.pod):
            name, _, hci = spec.partition("@")
            # Each process counts addresses from 1: derive a distinct one from the name instead.
            address = address_for(name)
            device, transport = await open_hci_device(name, hci, address)
            stack.push_async_callback(transport.close)
            faults = Faults(
                loss=args.loss,
                jitter_s=args.jitter_s,
                reorder=args.reorder,
                drift_ppm=args.drift_ppm,
                clock_offset_s=args.clock_offset_s + 37.0 * i,
                seed=None if args.seed is None else args.seed + i,
            )
            motion: Motion = CounterMotion() if args.motion == "counter" else RunningMotion()
            pod = await stack.enter_async_context(
                KINDS[args.kind](device, name=name, faults=faults, motion=motion, max_mtu=args.max_mtu)
            )
            if args.drop_every_s and (not args.drop or name in args.drop):
                droppers.append(pod)
            print(f"ready {address} {name}", flush=True)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.drop_every_s or None):
                    await stop.wait()
            if not stop.is_set():
                for pod in droppers:
                    await pod.drop_link()


def main(argv: list[str] | None = None) -> int:
    asyncio.run(serve(parse(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
