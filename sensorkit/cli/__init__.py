"""The ``sensorkit`` command. Each subcommand is a module here with ``register(subparsers)``."""
