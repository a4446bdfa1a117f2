"""A live process freezes its start-up objects so full garbage collections stay short."""

from __future__ import annotations

import gc

from sensorkit.pipeline.gc_pauses import freeze_startup_objects


def test_start_up_objects_are_frozen_out_of_the_collectors_walk_and_new_garbage_is_still_collected() -> None:
    try:
        frozen = freeze_startup_objects()
        assert frozen == gc.get_freeze_count() > 10_000  # every module imported so far, at least

        class Node:
            def __init__(self) -> None:
                self.me = self  # a reference cycle: only the collector can free it

        Node()
        assert gc.collect() >= 1  # made after the freeze: collected as before
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
