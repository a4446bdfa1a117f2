"""BLE failures: bleak and OS errors wrapped where they enter, and the backoff each kind earns."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakCharacteristicNotFoundError,
    BleakDeviceNotFoundError,
    BleakError,
)

from sensorkit.errors import AdapterError, ProtocolError, SensorkitError, SensorUnavailableError, SourceError

_ADAPTER_HINTS = (
    "no bluetooth adapter",
    "adapter",
    "bluetooth is not available",
    "powered off",
    "org.bluez",
    "dbus",
)


def no_adapter_message(detail: str) -> str:
    return f"no usable Bluetooth adapter ({detail}); is Bluetooth present and switched on?"


def wrap_ble_error(exc: BaseException, what: str) -> SensorkitError:
    """The sensorkit error for a failure of ``what`` (``"connect to X"``)."""
    if isinstance(exc, SensorkitError):
        return exc
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return AdapterError(no_adapter_message(str(exc.reason.name.lower().replace("_", " "))))
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError | PermissionError):
        # BlueZ is reached over the D-Bus system socket: missing socket = no Bluetooth stack
        return AdapterError(no_adapter_message("the BlueZ service is not reachable over D-Bus"))
    if isinstance(exc, BleakDeviceNotFoundError | TimeoutError):
        return SensorUnavailableError(f"{what}: device not reachable ({exc or 'timed out'})")
    if isinstance(exc, BleakCharacteristicNotFoundError):
        return ProtocolError(f"{what}: {exc}")
    if isinstance(exc, BleakError):
        text = str(exc).lower()
        if any(h in text for h in _ADAPTER_HINTS) and "not found" in text:
            return AdapterError(no_adapter_message(str(exc)))
        return SourceError(f"{what}: {exc}")
    if isinstance(exc, OSError | EOFError):
        return SourceError(f"{what}: {type(exc).__name__}: {exc}")
    return SourceError(f"{what}: {type(exc).__name__}: {exc}")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry ``attempt`` (0-based), chosen by what went wrong.

    A pod that just dropped is retried almost at once (it is usually still there); one that
    cannot be found backs off faster, since scanning costs battery and radio time;
    other failures sit in between. Full jitter between 50 % and 100 % of the step keeps
    several pods from retrying in lock-step.
    """

    min_s: float = 0.2
    max_s: float = 15.0

    def delay_s(self, error: BaseException | None, attempt: int, rng: random.Random) -> float:
        if isinstance(error, AdapterError):
            base, factor = 5.0, 2.0
        elif error is None:  # the link dropped while streaming
            base, factor = self.min_s, 2.0
        elif isinstance(error, SensorUnavailableError):
            base, factor = max(self.min_s, 0.5), 2.0
        else:
            base, factor = max(self.min_s, 1.0), 2.0
        step = min(self.max_s, base * factor ** min(attempt, 16))
        return step * rng.uniform(0.5, 1.0)
