"""``sensorkit scan``: list nearby BLE devices sensorkit can use."""

from __future__ import annotations

import argparse
import asyncio
import json
from contextlib import AsyncExitStack
from dataclasses import asdict

from sensorkit.ble.backend import PLATFORM, BleBackend
from sensorkit.ble.scan import ScanResult, scan


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "scan",
        help="list nearby Bluetooth LE pods, footpods and sensors",
        description="Scan for Bluetooth LE devices and show address, name, signal strength (RSSI) and the "
        "sensorkit profile each one matches. Polar sensors are recognised by name because they "
        "do not advertise their data service.",
    )
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS", help="how long to scan (default 5)")
    p.add_argument("--all", action="store_true", help="also list devices no profile recognises")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    p.add_argument(
        "--emulated",
        action="store_true",
        help="scan emulated pods on an in-process radio instead of real hardware (needs bumble; "
        "for demos and machines without Bluetooth)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    results = asyncio.run(_scan(args.timeout, args.emulated))
    shown = results if args.all else [r for r in results if r.profile]
    if args.json:
        for r in shown:
            print(json.dumps(asdict(r)))
        return 0
    print(format_table(shown, hidden=len(results) - len(shown), timeout_s=args.timeout))
    return 0


async def _scan(timeout_s: float, emulated: bool) -> list[ScanResult]:
    if not emulated:
        return await scan(timeout_s, PLATFORM)
    from sensorkit.ble.emulation.demo import demo_pods  # bumble is a dev dependency

    async with AsyncExitStack() as stack:
        backend: BleBackend = await demo_pods(stack)
        return await scan(timeout_s, backend)


def format_table(results: list[ScanResult], *, hidden: int = 0, timeout_s: float = 0.0) -> str:
    if not results:
        lines = [f"no usable Bluetooth LE devices found in {timeout_s:g} s"]
    else:
        rows = [("ADDRESS", "NAME", "RSSI", "PROFILE")]
        rows += [(r.address, r.name or "-", f"{r.rssi}", r.profile or "-") for r in results]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    if hidden:
        lines.append(f"({hidden} other device(s) not recognised; --all lists them)")
    return "\n".join(lines)
