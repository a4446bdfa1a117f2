"""The test servers themselves start, answer and restart (so server tests fail for the right reason)."""

import socket

from tests.support.servers import wait_for_port


def test_mosquitto_listens_and_restarts_on_the_same_port(mosquitto) -> None:
    wait_for_port(mosquitto.port)
    mosquitto.stop()
    try:
        socket.create_connection(("127.0.0.1", mosquitto.port), timeout=0.5).close()
        reachable = True
    except OSError:
        reachable = False
    assert not reachable
    mosquitto.start()
    wait_for_port(mosquitto.tls_port)
