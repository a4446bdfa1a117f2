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
