"""Real servers for tests, started on loopback in a temp dir and stopped by PID.

Each server can be stopped and restarted mid-test (same port, same data dir) to prove that
nothing is lost across an outage. Binaries come from Debian packages that ``make test``
installs (scripts/install-system-deps); a missing binary fails loudly, it never skips.
"""

from __future__ import annotations

import base64
import getpass
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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


@dataclass
class InfluxD:
    """An InfluxDB 1.x server (``influxd``), HTTP API on ``port``; ``admin`` credentials when auth is on."""

    host: str
    port: int
    auth: bool
    admin_user: str
    admin_password: str
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def query(self, q: str, db: str | None = None, user: str | None = None,
              password: str | None = None) -> dict[str, Any]:
        """Run InfluxQL with the admin credentials (or those given); ns epoch; raises on HTTP errors."""
        params = {"epoch": "ns"}
        if db:
            params["db"] = db
        if self.auth:  # 1.6 reads u/p from the URL only, not from a form body
            params |= {"u": user or self.admin_user, "p": password or self.admin_password}
        body = urllib.parse.urlencode({"q": q}).encode()
        url = f"{self.url}/query?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, data=body, timeout=30) as resp:
            result: dict[str, Any] = json.loads(resp.read())
        return result

    def stop(self, kill: bool = False) -> None:
        self.process.stop(kill)

    def start(self) -> None:
        self.process.start()
        _wait_http(f"{self.url}/ping", 30.0)

    def restart(self) -> None:
        self.stop()
        self.start()


def _wait_http(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers (auth errors included)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def start_influxd(workdir: Path, *, auth: bool = False) -> InfluxD:
    """Start InfluxDB 1.x with data, meta and WAL in ``workdir`` on free loopback ports.

    With ``auth`` the HTTP API requires users; an admin user is created before returning.
    """
    binary = require_binary("influxd")
    workdir.mkdir(parents=True, exist_ok=True)
    port, rpc_port = free_port(), free_port()
    conf = workdir / "influxdb.conf"
    conf.write_text(
        f'reporting-disabled = true\nbind-address = "127.0.0.1:{rpc_port}"\n'
        f'[meta]\n  dir = "{workdir / "meta"}"\n  logging-enabled = false\n'
        f'[data]\n  dir = "{workdir / "data"}"\n  wal-dir = "{workdir / "wal"}"\n'
        f'  query-log-enabled = false\n  trace-logging-enabled = false\n'
        f'[monitor]\n  store-enabled = false\n'
        f'[subscriber]\n  enabled = false\n[continuous_queries]\n  enabled = false\n'
        f'[http]\n  bind-address = "127.0.0.1:{port}"\n  auth-enabled = {"true" if auth else "false"}\n'
        f'  log-enabled = false\n  pprof-enabled = false\n'
        f'[logging]\n  level = "warn"\n'
    )
    proc = ManagedProcess([binary, "-config", str(conf)], [port, rpc_port], workdir, workdir / "influxd.log")
    proc.start()
    server = InfluxD("127.0.0.1", port, auth, "admin", "admin-test-pw", proc)
    _wait_http(f"{server.url}/ping", 30.0)
    if auth:  # the first user may be created without credentials; it must be an admin
        body = urllib.parse.urlencode(
            {"q": f"CREATE USER admin WITH PASSWORD '{server.admin_password}' WITH ALL PRIVILEGES"}).encode()
        with urllib.request.urlopen(f"{server.url}/query", data=body, timeout=30):
            pass
    return server


@dataclass
class VictoriaMetrics:
    """A single-node VictoriaMetrics; optional HTTP basic auth (which a v2 token cannot pass)."""

    host: str
    port: int
    process: ManagedProcess
    username: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _open(self, path: str, data: bytes | None = None) -> bytes:
        req = urllib.request.Request(f"{self.url}{path}", data=data)
        if self.username:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return bytes(resp.read())

    def flush(self) -> None:
        """Make just-written samples visible to queries and exports."""
        self._open("/internal/force_flush")

    def export(self, match: str) -> list[dict[str, Any]]:
        """``/api/v1/export`` as parsed JSON lines (timestamps in ms)."""
        self.flush()
        body = urllib.parse.urlencode({"match[]": match}).encode()
        return [json.loads(line) for line in self._open("/api/v1/export", body).splitlines() if line.strip()]

    def stop(self, kill: bool = False) -> None:
        self.process.stop(kill)

    def start(self) -> None:
        self.process.start()

    def restart(self) -> None:
        self.process.restart()


def start_victoria_metrics(workdir: Path, *, basic_auth: tuple[str, str] | None = None) -> VictoriaMetrics:
    """Start VictoriaMetrics with its storage in ``workdir`` on a free loopback port."""
    binary = require_binary("victoria-metrics")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [binary, f"-storageDataPath={workdir / 'data'}", f"-httpListenAddr=127.0.0.1:{port}",
            "-retentionPeriod=100y", "-loggerLevel=ERROR", "-search.disableCache"]
    if basic_auth:
        argv += [f"-httpAuth.username={basic_auth[0]}", f"-httpAuth.password={basic_auth[1]}"]
    proc = ManagedProcess(argv, [port], workdir, workdir / "victoria-metrics.log")
    proc.start()
    vm = VictoriaMetrics("127.0.0.1", port, proc, *(basic_auth or (None, None)))
    return vm
