"""bleak scanner backend over a bumble host: advertisements become bleak's AdvertisementData."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bumble.core import UUID, AdvertisingData
from bumble.device import Advertisement

from sensorkit.ble.bumble.client import uuid_str

if TYPE_CHECKING:
    from sensorkit.ble.bumble.host import BumbleCentral

log = logging.getLogger(__name__)

_UUID_LISTS = (
    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
)


def advertisement_data(adv: Advertisement, previous: AdvertisementData | None) -> AdvertisementData:
    """Merge one report (advertisement or scan response) into what was known of the device."""
    data = adv.data
    name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(AdvertisingData.SHORTENED_LOCAL_NAME)
    uuids: list[str] = []
    for t in _UUID_LISTS:
        listed = data.get(t)
        if isinstance(listed, list):
            uuids += [uuid_str(u) for u in listed if isinstance(u, UUID)]
    manufacturer: dict[int, bytes] = {}
    for item in data.get_all(AdvertisingData.MANUFACTURER_SPECIFIC_DATA):
        company, payload = item
        manufacturer[int(company)] = bytes(payload)
    tx = data.get(AdvertisingData.TX_POWER_LEVEL)
    if previous is not None:
        name = name or previous.local_name
        uuids = sorted(set(uuids) | set(previous.service_uuids))
        manufacturer = {**previous.manufacturer_data, **manufacturer}
        tx = tx if tx is not None else previous.tx_power
    return AdvertisementData(
        local_name=name if isinstance(name, str) else None,
        manufacturer_data=manufacturer,
        service_data={},
        service_uuids=uuids,
        tx_power=tx if isinstance(tx, int) else None,
        rssi=int(adv.rssi),
        platform_data=(adv,),
    )


class BumbleBleakScanner(BaseBleakScanner):
    """Active scanning on the bound :class:`BumbleCentral`; several scanners may run at once."""

    central: ClassVar[BumbleCentral]

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None = None,
        service_uuids: list[str] | None = None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._listening = False

    def _on_advertisement(self, adv: Advertisement) -> None:
        key = str(adv.address)
        prev = self.seen_devices.get(key)
        ad = advertisement_data(adv, prev[1] if prev else None)
        if not self.is_allowed_uuid(ad.service_uuids):
            return
        device = self.create_or_update_device(key, key, ad.local_name, adv.address, ad)
        self.call_detection_callbacks(device, ad)

    async def start(self) -> None:
        self.seen_devices = {}
        if not self._listening:
            self.central.device.on("advertisement", self._on_advertisement)
            self._listening = True
            await self.central.acquire_scanning()

    async def stop(self) -> None:
        if self._listening:
            self.central.device.remove_listener("advertisement", self._on_advertisement)
            self._listening = False
            await self.central.release_scanning()
