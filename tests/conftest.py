"""Suite-wide fixtures and guards.

* ``datasets_dir`` skips with a clear reason when ../shared/datasets is absent.
* A run in which no test passed fails (exit 5) instead of passing silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("SENSORKIT_DATASETS", REPO.parent / "shared" / "datasets"))
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture
def datasets_dir() -> Path:
    if not (DATASETS / "README.md").exists():
        pytest.skip(f"real datasets not found at {DATASETS} (set SENSORKIT_DATASETS to run these)")
    return DATASETS


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """A kept folder for screenshots, WAVs and reports a test wants a human to look at."""
    path = ARTIFACTS / request.node.name.replace("/", "_").replace("[", "_").replace("]", "")
    path.mkdir(parents=True, exist_ok=True)
    return path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    passed = len(reporter.stats.get("passed", [])) if reporter else 0
    if exitstatus == 0 and passed == 0 and not session.config.option.collectonly:
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED


@pytest.fixture
def mosquitto(tmp_path_factory: pytest.TempPathFactory):
    """A real mosquitto broker on loopback (plain and TLS+password listeners)."""
    from tests.support.servers import start_mosquitto

    broker = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory):
    """A real InfluxDB 1.x (Debian's 1.6.7) on loopback, auth off; tests use their own databases."""
    from tests.support.servers import start_influxd

    server = start_influxd(tmp_path_factory.mktemp("influxd"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def influxd_auth(tmp_path_factory: pytest.TempPathFactory):
    """InfluxDB 1.x with authentication on and an ``admin`` user."""
    from tests.support.servers import start_influxd

    server = start_influxd(tmp_path_factory.mktemp("influxd-auth"), auth=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def influxd_private(tmp_path_factory: pytest.TempPathFactory):
    """An InfluxDB 1.x of this test alone, free to be killed and restarted."""
    from tests.support.servers import start_influxd

    server = start_influxd(tmp_path_factory.mktemp("influxd-private"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory):
    """A real VictoriaMetrics on loopback: accepts influxdb-client's v2 writes."""
    from tests.support.servers import start_victoria_metrics

    server = start_victoria_metrics(tmp_path_factory.mktemp("victoria-metrics"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def victoria_metrics_auth(tmp_path_factory: pytest.TempPathFactory):
    """VictoriaMetrics behind HTTP basic auth: any v2 token is refused (401)."""
    from tests.support.servers import start_victoria_metrics

    server = start_victoria_metrics(tmp_path_factory.mktemp("victoria-metrics-auth"),
                                    basic_auth=("vmuser", "vm-test-pw"))
    try:
        yield server
    finally:
        server.stop()
