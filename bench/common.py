"""What the benchmarks share: processes to start and stop, and their costs read from /proc."""

from __future__ import annotations

import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = sys.executable
NCHAN_MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so"


def round_ratios(a: dict[str, Any], b: dict[str, Any], key: str) -> list[float]:
    """Server ``a``'s figure over server ``b``'s in each interleaved round of a polled read."""
    return [x / y for x, y in zip(a[key], b[key], strict=True) if y]


def write_section(start: str, end: str, text: str, heading: str) -> None:
    """Put ``text`` between the ``start`` and ``end`` markers of bench/RESULTS.md; a file without
    them yet gets them at its end, under ``heading``."""
    results = BENCH / "RESULTS.md"
    current = results.read_text("utf-8") if results.exists() else "# Benchmarks\n"
    if start not in current:
        current = f"{current.rstrip()}\n\n{heading}\n\n{start}\n{end}\n"
    head, _, rest = current.partition(start)
    _, _, tail = rest.partition(end)
    results.write_text(f"{head}{start}\n{text}\n{end}{tail}", "utf-8")


def raise_open_files(want: int = 0) -> int:
    """Lift the soft open-files limit to the hard one, or to ``want`` if that is more and this
    process may raise the hard limit too (root, up to ``fs.nr_open``); children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if want > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            pass  # not allowed: the hard limit is what there is
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine_memory_used() -> int:
    """Bytes of the whole machine's memory in use (MemTotal − MemAvailable, /proc/meminfo):
    the servers, the load clients and the kernel's socket buffers together."""
    fields = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, rest = line.partition(":")
        fields[name] = int(rest.split()[0]) * 1024
    return fields["MemTotal"] - fields["MemAvailable"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pids: list[int]) -> float:
    """CPU time of every thread of the processes, from /proc/<pid>/task/*/schedstat (ns)."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
    return total / 1e9


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_seconds_stat(pids: list[int]) -> float:
    """utime + stime from /proc/<pid>/stat (clock ticks), for a cross-check."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def wait_http(port: int, path: str = "/", timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port}{path}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Tryvoga:
    process: subprocess.Popen[bytes]
    port: int
    token: str
    folder: Path

    @property
    def pids(self) -> list[int]:
        return [self.process.pid]

    def request(self, method: str, path: str, body: Any = None,
                conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
        own = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        own.request(method, path, None if body is None else json.dumps(body), headers)
        response = own.getresponse()
        data = response.read()
        if conn is None:
            own.close()
        return response.status, data


def start_tryvoga(folder: Path, *args: str, gc_log: Path | None = None) -> Tryvoga:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "bench.db"
    for old in folder.glob("bench.db*"):
        old.unlink()  # every run starts from an empty log
    tryvoga = [PYTHON, "-m", "tryvoga.cli"]
    made = subprocess.run([*tryvoga, "token", "create", "--name", f"bench{time.time_ns()}",
                           "--scope", "UA", "--write", "--db", str(db)],
                          capture_output=True, text=True, check=True)
    token = made.stdout.strip().splitlines()[-1]
    port = free_port()
    log = (folder / f"tryvoga-{port}.log").open("wb")
    # With gc_log, every garbage collection of the server is timed into it (gcprobe.py).
    serve = tryvoga if gc_log is None else [PYTHON, str(BENCH / "gcprobe.py"), str(gc_log),
                                            "-m", "tryvoga.cli"]
    process = subprocess.Popen([*serve, "serve", "--host", "127.0.0.1", "--port", str(port),
                                "--db", str(db), "--log-level", "warning", *args],
                               stdout=log, stderr=subprocess.STDOUT)
    wait_http(port, "/healthz")
    return Tryvoga(process, port, token, folder)


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    port: int
    folder: Path

    @property
    def pids(self) -> list[int]:
        """The worker processes (the master only forks and waits)."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)],
                             capture_output=True, text=True).stdout.split()
        return [int(p) for p in out]


def start_nginx(folder: Path, server_block: str, *, nchan: bool = False) -> Nginx:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        raise RuntimeError("nginx is not installed: run scripts/system-deps.sh "
                           "bench/bench-packages.txt")
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("tmp", "logs"):
        (folder / sub).mkdir(exist_ok=True)
    port = free_port()
    nofile = raise_open_files()
    conf = f"""
{"load_module " + NCHAN_MODULE + ";" if nchan else ""}
worker_processes 1;
worker_rlimit_nofile {nofile};
daemon off;
master_process on;
{"user root;" if os.getuid() == 0 else ""}
pid {folder}/nginx.pid;
error_log {folder}/logs/error.log warn;
events {{ worker_connections {max(nofile - 100, 1024)}; multi_accept on; }}
http {{
    # What an operator sets for small static files (issue 16: the baseline is tuned nginx):
    # descriptors, sizes and mtimes cached instead of open/fstat/close per request, sendfile
    # with tcp_nopush (headers and body in one segment), keep-alive connections kept.
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    open_file_cache_min_uses 1;
    open_file_cache_errors on;
    keepalive_timeout 75s;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        {server_block}
    }}
}}
"""
    (folder / "nginx.conf").write_text(conf)
    process = subprocess.Popen(["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_http(port)
    return Nginx(process, port, folder)
