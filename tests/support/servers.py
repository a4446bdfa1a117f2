"""Real servers for tests, started on loopback in a temp dir and stopped by PID.

Each server can be stopped and restarted mid-test (same port, same data dir) to prove that
nothing is lost across an outage. Binaries come from Debian packages that ``make test``
installs (scripts/install-system-deps); a missing binary fails loudly, it never skips.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s} s")


def require_binary(name: str) -> str:
    for cand in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if cand and Path(cand).exists():
            return cand
    raise RuntimeError(f"{name} is not installed: run `make test` (it installs the test servers)")


@dataclass
class ManagedProcess:
    """A server process we start, wait for, kill and restart."""

    argv: Sequence[str]
    ports: Sequence[int]
    workdir: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self, timeout_s: float = 30.0) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(list(self.argv), cwd=self.workdir, stdout=log, stderr=log)
        for port in self.ports:
            wait_for_port(port, timeout_s, self.proc)

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Mosquitto:
    """A mosquitto broker: a plain anonymous listener and a TLS + password listener."""

    host: str
    port: int
    tls_port: int
    ca_file: Path
    username: str
    password: str
    process: ManagedProcess

    def stop(self) -> None:
        self.process.stop()

    def start(self) -> None:
        self.process.start()

    def restart(self) -> None:
        self.process.restart()


def _make_tls(dir_: Path) -> tuple[Path, Path, Path]:
    openssl = require_binary("openssl")
    ca_key, ca_crt = dir_ / "ca.key", dir_ / "ca.crt"
    key, csr, crt, ext = dir_ / "server.key", dir_ / "server.csr", dir_ / "server.crt", dir_ / "san.ext"
    run = lambda *a: subprocess.run([openssl, *a], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=sensorkit-test-ca",
        "-keyout", str(ca_key), "-out", str(ca_crt))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", str(key), "-out", str(csr))
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "2", "-extfile", str(ext), "-out", str(crt))
    return ca_crt, crt, key


def start_mosquitto(workdir: Path) -> Mosquitto:
    """Start mosquitto with a plain listener and a TLS+password listener on free ports."""
    binary = require_binary("mosquitto")
    workdir.mkdir(parents=True, exist_ok=True)
    ca, crt, key = _make_tls(workdir)
    user, password = "runner", "s3cret-test-pw"
    pwfile = workdir / "passwd"
    subprocess.run([require_binary("mosquitto_passwd"), "-c", "-b", str(pwfile), user, password],
                   check=True, capture_output=True)
    port, tls_port = free_port(), free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        # As root mosquitto would drop to user "mosquitto", which cannot read our temp dir.
        f"user {getpass.getuser()}\nper_listener_settings true\npersistence false\n"
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        f"listener {tls_port} 127.0.0.1\nallow_anonymous false\npassword_file {pwfile}\n"
        f"cafile {ca}\ncertfile {crt}\nkeyfile {key}\n"
    )
    proc = ManagedProcess([binary, "-c", str(conf)], [port, tls_port], workdir, workdir / "mosquitto.log")
    proc.start()
    return Mosquitto("127.0.0.1", port, tls_port, ca, user, password, proc)
