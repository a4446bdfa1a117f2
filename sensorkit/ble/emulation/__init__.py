"""Emulated BLE pods on bumble: GATT servers speaking each supported protocol, with faults."""
