"""GATT UUIDs of every profile sensorkit speaks, in bleak's normalised (lower-case) form.

Shared by the decoders' profiles and the emulated peripherals so a typo cannot make the two
agree with each other and disagree with the device.
"""

from __future__ import annotations


def sig16(short: int) -> str:
    """Full 128-bit form of a Bluetooth SIG 16-bit UUID."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


# Standard services
BATTERY_SERVICE = sig16(0x180F)
BATTERY_LEVEL = sig16(0x2A19)
RSC_SERVICE = sig16(0x1814)
RSC_MEASUREMENT = sig16(0x2A53)
RSC_FEATURE = sig16(0x2A54)
CCCD = sig16(0x2902)

# Polar Measurement Data (H10, Verity Sense)
PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

# Movesense gatt_sensordata_app
MOVESENSE_SERVICE = "34802252-7185-4d5d-b431-630e7050e8f0"
MOVESENSE_COMMAND = "34800001-7185-4d5d-b431-630e7050e8f0"
MOVESENSE_DATA = "34800002-7185-4d5d-b431-630e7050e8f0"

# MbientLab MetaWear / MetaMotion
METAWEAR_SERVICE = "326a9000-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_COMMAND = "326a9001-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_NOTIFY = "326a9006-85cb-9195-d9dd-464cfbbae75a"

# Nordic Thingy:52 motion service
THINGY_MOTION_SERVICE = "ef680400-9b35-4933-9b10-52ffa9740042"
THINGY_MOTION_CONFIG = "ef680401-9b35-4933-9b10-52ffa9740042"
THINGY_RAW = "ef680406-9b35-4933-9b10-52ffa9740042"

# sensorkit DIY pod (firmware_notes/diy_pod.md)
DIY_SERVICE = "5ec0f001-7d2b-4a3c-9e1f-736b706f6400"
DIY_DATA = "5ec0f002-7d2b-4a3c-9e1f-736b706f6400"
DIY_CONTROL = "5ec0f003-7d2b-4a3c-9e1f-736b706f6400"
