"""Bluetooth LE pods: profiles, links, reconnecting sessions and the BLE source."""
