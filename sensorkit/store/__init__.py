"""Storage of live streams: recording files (``recording``) and time-series databases (``influx``)."""
