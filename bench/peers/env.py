"""Each peer's own virtualenv under a cache folder (default ``bench/.peers/``, ignored by git).

Peers are never sensorkit dependencies: scikit-digital-health installs normally; GaitPy 1.6.1
pins 2017-era pandas/numpy/scipy that do not build on Python 3.11, so it is installed with
``--no-deps`` plus the newest versions of the libraries its ``extract_features`` path uses that
still run its code (``DataFrame.append`` needs pandas < 2; ``integrate.cumtrapz`` scipy < 1.14;
numpy < 2 for that pandas). Its classifier extras (scikit-learn, statsmodels, bokeh, deepdish,
dill) are not installed: bout classification and plots are not compared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("SENSORKIT_PEERS_DIR", Path(__file__).resolve().parents[1] / ".peers"))


@dataclass(frozen=True, slots=True)
class PeerEnv:
    """How to install one peer: pip steps run in order in a fresh virtualenv."""

    name: str
    steps: tuple[tuple[str, ...], ...]
    script: str
    """Runner script in bench/peers executed with the peer's python."""


PEERS: dict[str, PeerEnv] = {
    "skdh": PeerEnv("skdh", (("scikit-digital-health",),), "run_skdh.py"),
    "gaitpy": PeerEnv("gaitpy", (("--no-deps", "gaitpy==1.6.1"),
                                 ("numpy<2", "pandas<2", "scipy<1.12", "PyWavelets<1.7")), "run_gaitpy.py"),
}


class PeerUnavailable(Exception):
    """The peer's environment could not be made; the message says why."""


def python_of(peer: PeerEnv, cache: Path = CACHE, install: bool = True) -> Path:
    """The peer's interpreter, creating and filling its virtualenv on first use."""
    cache.mkdir(parents=True, exist_ok=True)
    ignore = cache / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    root = cache / peer.name
    py = root / "bin" / "python"
    stamp = root / ".sensorkit-installed"
    want = json.dumps(peer.steps)
    if py.exists() and stamp.exists() and stamp.read_text() == want:
        return py
    if not install:
        raise PeerUnavailable(f"{peer.name}: no environment in {root} (run without --no-install)")
    log = cache / f"{peer.name}-install.log"
    with log.open("w") as f:
        cmds = [[sys.executable, "-m", "venv", "--clear", str(root)],
                [str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"],
                *[[str(py), "-m", "pip", "install", *step] for step in peer.steps]]
        for cmd in cmds:
            f.write(f"$ {' '.join(cmd)}\n")
            f.flush()
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=False).returncode
            if rc != 0:
                raise PeerUnavailable(f"{peer.name}: '{' '.join(cmd[2:])}' failed (exit {rc}); see {log}")
    stamp.write_text(want)
    return py
