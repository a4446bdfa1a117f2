"""Run emulated pods in their own process on an HCI transport (cross-process tests, demos).

    python -m sensorkit.ble.emulation --hci tcp-client:127.0.0.1:9002 --kind diy --name "SK Pod left"

Prints ``ready <address>`` once advertising, then runs until killed. Faults are options.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sensorkit.ble.emulation", description=__doc__)
    p.add_argument("--hci", required=True, help="HCI transport, e.g. tcp-client:127.0.0.1:9002")
    p.add_argument("--kind", choices=sorted(KINDS), default="diy")
    p.add_argument("--name", default="SK Pod")
    p.add_argument("--address", default=None, help="static random address (default: generated)")
    p.add_argument("--max-mtu", type=int, default=247)
    p.add_argument("--motion", choices=["running", "counter"], default="running")
    p.add_argument("--loss", type=float, default=0.0)
    p.add_argument("--jitter-s", type=float, default=0.0)
    p.add_argument("--reorder", type=float, default=0.0)
    p.add_argument("--drift-ppm", type=float, default=0.0)
    p.add_argument("--clock-offset-s", type=float, default=1000.0)
    p.add_argument("--drop-every-s", type=float, default=0.0, help="drop the link periodically (0: never)")
    p.add_argument("--seed", type=int, default=None)
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    device, transport = await open_hci_device(args.name, args.hci, args.address)
    faults = Faults(
        loss=args.loss,
        jitter_s=args.jitter_s,
        reorder=args.reorder,
        drift_ppm=args.drift_ppm,
        clock_offset_s=args.clock_offset_s,
        seed=args.seed,
    )
    motion: Motion = CounterMotion() if args.motion == "counter" else RunningMotion()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with KINDS[args.kind](device, name=args.name, faults=faults, motion=motion, max_mtu=args.max_mtu) as pod:
            print(f"ready {device.random_address}", flush=True)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(args.drop_every_s or None):
                        await stop.wait()
                if args.drop_every_s and not stop.is_set():
                    await pod.drop_link()
    finally:
        await transport.close()


def main(argv: list[str] | None = None) -> int:
    asyncio.run(serve(parse(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
