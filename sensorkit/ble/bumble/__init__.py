"""A bleak backend on bumble: the real BLE host stack against emulated or HCI-attached radios."""
