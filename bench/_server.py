"""A gunicorn serving the app for a benchmark: started on a free loopback port, polled until it answers,
measured (its workers' memory), and stopped. Linux only: memory is read from ``/proc``."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
_KIB = re.compile(r"^(?P<field>\w+):\s+(?P<value>\d+)\s+kB\s*$", re.MULTILINE)


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: IO[bytes]

    def log_tail(self, lines: int = 30) -> str:
        self.log.flush()
        text = Path(self.log.name).read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    """A port nothing listens on now (the OS's choice; gunicorn binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def start(env: Mapping[str, str], *, workers: int, log: IO[bytes], timeout: float = 60.0) -> Server:
    """``gunicorn -w WORKERS --bind 127.0.0.1:PORT wsgi:app`` from the project root, ready to serve."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "--bind", f"{HOST}:{port}", "wsgi:app"],
        cwd=PROJECT_ROOT,
        env=dict(env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(process, f"http://{HOST}:{port}", log)
    try:
        _wait_until_ready(server, workers, timeout)
    except BaseException:
        stop(server)
        raise
    return server


def _wait_until_ready(server: Server, workers: int, timeout: float) -> None:
    """Poll ``/healthz`` until it answers 200 and every worker has started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            ready = requests.get(server.base_url + "/healthz", timeout=5).status_code == 200
        except requests.ConnectionError:
            ready = False
        if ready and len(worker_pids(server.process.pid)) == workers:
            return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s:\n{server.log_tail()}")


def stop(server: Server, timeout: float = 20.0) -> None:
    """SIGTERM (gunicorn's graceful stop), then SIGKILL if it is still there after ``timeout``."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def parse_ppid(stat: str) -> int:
    """The parent pid from the text of ``/proc/<pid>/stat`` (the name, in parentheses, may hold spaces)."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1])


def parse_cpu_seconds(stat: str) -> float:
    """User plus system CPU time from the text of ``/proc/<pid>/stat`` (fields 14 and 15, in clock ticks)."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_status_kib(status: str) -> dict[str, int]:
    """The ``kB`` fields of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``...), in KiB."""
    return {match["field"]: int(match["value"]) for match in _KIB.finditer(status)}


def worker_pids(master_pid: int) -> list[int]:
    """The children of gunicorn's master: its workers."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if parse_ppid((entry / "stat").read_text()) == master_pid:
                children.append(int(entry.name))
        except (OSError, ValueError):
            continue  # gone, or not ours to read
    return sorted(children)


def cpu_seconds(pids: list[int]) -> float:
    """CPU time used so far by the processes ``pids``, together."""
    return sum(parse_cpu_seconds((Path("/proc") / str(pid) / "stat").read_text()) for pid in pids)


def memory_kib(pid: int) -> dict[str, int]:
    return parse_status_kib((Path("/proc") / str(pid) / "status").read_text())


def environment(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with ``settings`` as ``CARELOOP_*`` variables."""
    env = dict(os.environ)
    env.update({f"CARELOOP_{name}": value for name, value in settings.items()})
    return env
