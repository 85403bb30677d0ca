"""The crash soak (``make soak``): SIGKILLs while clients write, then count what survived.

A real ``tryvoga serve --workers N`` (``--workers``, 2 by default) on 127.0.0.1 and a fresh
SQLite file, or with ``--database-url`` a fresh PostgreSQL database that the script creates on
that server (and drops at the end unless ``--keep``). Client processes
(``--clients``) send declarations, threat updates, ends and incident reports, each with its own
``Idempotency-Key`` and a marker (the key) in its note, reason or description; on a lost
connection, a timeout or a 503 they retry the same command with the same key until it is
answered. Meanwhile the script SIGKILLs, every 0.3–2 s at random, either the supervising parent
(its workers die with it; the script starts the server again) or one worker (the supervisor
restarts it). Half the time, after a restart of the parent, the next interval counts from
when the server answers again; the other half it may land while the server is starting. With
``--workers 1`` the server is one process: every kill is of it.

At the end, with the server up again and left alone:
- every acknowledged command (answered 2xx) is in the log exactly once (its marker in exactly
  one event), and no command appears twice;
- ``tryvoga verify`` passes (the hash chain, the recorded head);
- the projection every worker serves (``/api/v1/alerts/active``, ``/api/v1/status``) equals a
  state rebuilt from the log by this script.

It prints the figures and exits non-zero when a check fails. Traffic only to 127.0.0.1.

    python scripts/soak.py [--commands 10000] [--clients 4] [--seconds 240] [--workers 2]
                           [--kill-every 0.3 2.0]
                           [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tryvoga.domain.model import AlertType
from tryvoga.domain.regions import Level, load_catalogue
from tryvoga.domain.render import alert_json
from tryvoga.domain.state import State
from tryvoga.storage.migrations import open_storage

TRYVOGA = [sys.executable, "-m", "tryvoga.cli"]
RETRYABLE_STATUS = (502, 503, 504)


# ---- a client process ----------------------------------------------------------------------

class Client:
    def __init__(self, port: int, token: str, number: int, regions: list[str],
                 commands: int, deadline: float, seed: int) -> None:
        self.port, self.token, self.number = port, token, number
        self.regions, self.commands, self.deadline = regions, commands, deadline
        self.rng = random.Random(seed)
        self.active: dict[str, int] = {}  # region -> alert id, as acknowledged
        self.acknowledged: list[dict[str, Any]] = []
        self.unanswered: list[str] = []  # keys given up on (deadline): at most once in the log
        self.refused: Counter[str] = Counter()
        self.retries = 0
        self.uncertain = 0  # answered after an attempt that may have reached the server
        self.failures: Counter[str] = Counter()

    def send(self, method: str, path: str, body: dict[str, Any], key: str
             ) -> tuple[int, Any] | None:
        """The answer to one command, retried with the same key until one arrives."""
        data = json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": key,
                   "Content-Type": "application/json"}
        uncertain = False
        while time.monotonic() < self.deadline + 60:  # past the deadline: finish what is open
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
            try:
                connection.request(method, path, body=data, headers=headers)
                response = connection.getresponse()
                content = response.read()
                if response.status in RETRYABLE_STATUS:
                    self.failures[str(response.status)] += 1
                else:
                    self.uncertain += uncertain
                    return response.status, json.loads(content) if content else None
            except (OSError, http.client.HTTPException) as error:
                self.failures[type(error).__name__] += 1
                # Refused: never sent. Anything else: it may have been applied, answer lost.
                uncertain = uncertain or not isinstance(error, ConnectionRefusedError)
            finally:
                connection.close()
            self.retries += 1
            time.sleep(self.rng.uniform(0.05, 0.4))
        return None

    def run(self) -> dict[str, Any]:
        sent = 0
        while sent < self.commands and time.monotonic() < self.deadline:
            region = self.rng.choice(self.regions)
            key = f"c{self.number}-{sent}"
            sent += 1
            alert = self.active.get(region)
            roll = self.rng.random()
            if alert is None:
                op, method, path = "declare", "POST", "/api/v1/alerts"
                body: dict[str, Any] = {"regions": [region], "type": "air_raid", "note": key,
                                        "threats": [{"type": "drones", "level": "red"}]}
            elif roll < 0.45:
                op, method, path = "end", "POST", f"/api/v1/alerts/{alert}/end"
                body = {"reason": key}
            elif roll < 0.7:
                op, method, path = "update", "PATCH", f"/api/v1/alerts/{alert}"
                body = {"note": key, "threats": [{"type": self.rng.choice(
                    ["drones", "missiles", "ballistic"]), "level": "red"}]}
            else:
                op, method, path = "incident", "POST", "/api/v1/incidents"
                body = {"kind": "debris", "region": region, "source": "soak",
                        "description": key, "alert_id": alert}
            answer = self.send(method, path, body, key)
            if answer is None:
                self.unanswered.append(key)
                continue
            status, payload = answer
            if status >= 300:
                self.refused[f"{op} {status}"] += 1
                continue
            self.acknowledged.append({"key": key, "op": op, "status": status})
            if op == "declare":
                self.active[region] = payload["alerts"][0]["id"]
            elif op == "end":
                del self.active[region]
        return {"acknowledged": self.acknowledged, "unanswered": self.unanswered,
                "refused": dict(self.refused), "retries": self.retries,
                "uncertain": self.uncertain,
                "failures": dict(self.failures), "sent": sent}


def client_main(args: argparse.Namespace) -> None:
    regions = json.loads(args.regions)
    client = Client(args.port, args.token, args.number, regions, args.commands,
                    time.monotonic() + args.seconds, args.seed)
    Path(args.out).write_text(json.dumps(client.run()))


# ---- the server and the killer ---------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/healthz")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except (OSError, http.client.HTTPException):
        return False


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            return True
        return False


def create_database(server_url: str) -> str:
    """A new, empty database on the PostgreSQL server of ``server_url``: its URL."""
    import psycopg

    name = f"tryvoga_soak_{os.getpid()}_{random.randrange(16**8):08x}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rpartition("/")[0] + "/" + name


def drop_database(server_url: str, database_url: str) -> None:
    import psycopg

    name = database_url.rpartition("/")[2]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ServerProcess:
    def __init__(self, where: list[str], workers: int, port: int, log: Path) -> None:
        self.where, self.workers_wanted, self.port, self.log = where, workers, port, log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        deadline = time.monotonic() + 30
        while not port_free(self.port):  # the killed parent's workers are on their way out
            if time.monotonic() > deadline:
                raise SystemExit(f"port {self.port} still served 30 s after a kill")
            time.sleep(0.05)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*TRYVOGA, "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 *self.where, "--workers", str(self.workers_wanted),
                 "--webhook-worker", "false",
                 # One token sends every command, faster than a token may by default.
                 "--write-rate-token", "0"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1

    def wait_healthy(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not healthy(self.port):
            if time.monotonic() > deadline:
                raise SystemExit(f"the server did not come up; see {self.log}")
            time.sleep(0.1)

    def workers(self) -> list[int]:
        assert self.process is not None
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def kill_parent(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL; the workers die with it (PR_SET_PDEATHSIG)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None:
            return
        pid = self.process.pid
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # The session this script started for the server: nothing of it may outlive it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


# ---- the checks ------------------------------------------------------------------------------

def read_json(port: int, path: str) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200, (path, response.status, body[:200])
        return json.loads(body)
    finally:
        connection.close()


def markers(event_payload: dict[str, Any]) -> list[str]:
    return [v for k, v in event_payload.items()
            if k in ("note", "reason", "description") and isinstance(v, str) and v]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--commands", type=int, default=10000, help="commands in all")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=240,
                        help="clients stop sending new commands after this long")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--kill-every", type=float, nargs=2, default=(0.3, 2.0),
                        metavar=("MIN", "MAX"),
                        help="seconds between SIGKILLs, drawn at random between the two")
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server (any database on it): the soak runs on a "
                             "fresh database it creates there; empty: a fresh SQLite file")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    for name in ("port", "token", "number", "regions", "out"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        args.port, args.number = int(args.port), int(args.number)
        client_main(args)
        return 0

    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="tryvoga-soak-"))
    db = workdir / "soak.db"
    database_url = create_database(args.database_url) if args.database_url else ""
    where = ["--database-url", database_url] if database_url else ["--db", str(db)]
    if database_url:
        subprocess.run([*TRYVOGA, "migrate", *where], capture_output=True, check=True)
    # `token create` takes the PostgreSQL URL from the environment only.
    created = subprocess.run([*TRYVOGA, "token", "create", "--name", "soak", "--scope", "UA",
                              "--write", "--automated", "--db", str(db)],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "TRYVOGA_DATABASE_URL": database_url})
    token = created.stdout.strip().splitlines()[-1]
    catalogue = load_catalogue()
    hromadas = sorted(r.code for r in catalogue if r.level is Level.HROMADA)
    rng.shuffle(hromadas)
    port = free_port()
    server = ServerProcess(where, args.workers, port, workdir / "server.log")
    server.start()
    server.wait_healthy()

    started = time.monotonic()
    clients = []
    per_client = args.commands // args.clients
    for number in range(args.clients):
        regions = hromadas[number * 8:(number + 1) * 8]
        out = workdir / f"client-{number}.json"
        clients.append((out, subprocess.Popen(
            [sys.executable, __file__, "--client", "--port", str(port), "--token", token,
             "--number", str(number), "--regions", json.dumps(regions), "--out", str(out),
             "--commands", str(per_client), "--seconds", str(args.seconds),
             "--seed", str(args.seed + number)])))

    kills: Counter[str] = Counter()
    try:
        while any(p.poll() is None for _, p in clients):
            time.sleep(rng.uniform(*args.kill_every))
            if all(p.poll() is not None for _, p in clients):
                break
            workers = server.workers() if args.workers > 1 else []
            if workers and rng.random() < 0.4:
                os.kill(rng.choice(workers), signal.SIGKILL)  # the supervisor restarts it
                kills["worker"] += 1
            else:
                server.kill_parent()
                kills["parent"] += 1
                server.start()
                if rng.random() < 0.5:
                    # Half the time the next kill waits until the server answers again: a
                    # start that takes longer than the kill interval (PostgreSQL's, on a
                    # loaded machine: 4-6 s) would otherwise never serve a command.
                    server.wait_healthy()
        sending = time.monotonic() - started
        server.wait_healthy()
        time.sleep(1.0)  # both workers' followers catch up with the last commands

        results = [json.loads(out.read_text()) for out, _ in clients]
        acknowledged = [a for r in results for a in r["acknowledged"]]
        unanswered = [k for r in results for k in r["unanswered"]]

        # Every acknowledged command exactly once; nothing twice.
        storage = open_storage(db, database_url)
        state = State(catalogue)
        seen: Counter[str] = Counter()
        events = 0
        for event in storage.iter_events():
            state.apply(event)
            events += 1
            seen.update(markers(event.payload))
        storage.close()
        ack_keys = [a["key"] for a in acknowledged]
        lost = [k for k in ack_keys if seen[k] == 0]
        doubled = sorted(k for k, n in seen.items() if n > 1)
        unanswered_applied = sum(1 for k in unanswered if seen[k] == 1)

        # Every worker's projection equals the rebuild (several reads, both workers).
        expected_active = [alert_json(a, state) for a in state.active_alerts()]
        effective = {t: state.effective(t) for t in AlertType}
        mismatched = 0
        reads = 0
        for _ in range(20):
            active = read_json(port, "/api/v1/alerts/active")
            status = read_json(port, "/api/v1/status")
            reads += 1
            wanted_status = {code: {t.value: effective[t].get(code, "N") for t in AlertType}
                             for code in status["regions"]}
            if (active["version"] != state.seq or active["alerts"] != expected_active
                    or status["regions"] != wanted_status):
                mismatched += 1
        workers_seen = len(server.workers()) if args.workers > 1 else 1
    finally:
        for _, process in clients:
            if process.poll() is None:
                process.kill()
                process.wait()
        server.stop()

    verify = subprocess.run([*TRYVOGA, "verify", *where], capture_output=True, text=True)
    ops = Counter(a["op"] for a in acknowledged)
    failures: Counter[str] = Counter()
    for r in results:
        failures.update(r["failures"])
    refused: Counter[str] = Counter()
    for r in results:
        refused.update(r["refused"])
    figures = {
        "seed": args.seed,
        "database": "PostgreSQL" if database_url else "SQLite",
        "workers": args.workers,
        "commands asked": args.commands,
        "seconds sending": round(sending, 1),
        "commands sent": sum(r["sent"] for r in results),
        "acknowledged": len(acknowledged),
        "acknowledged by kind": dict(ops),
        "refused (4xx answers)": dict(refused),
        "given up unanswered": len(unanswered),
        "of those in the log": unanswered_applied,
        "retries": sum(r["retries"] for r in results),
        "retry causes": dict(failures),
        "answered after an attempt that may have been applied": sum(
            r["uncertain"] for r in results),
        "SIGKILLs": dict(kills),
        "server starts": server.starts,
        "events in the log": events,
        "lost (acknowledged, not in the log)": len(lost),
        "doubled (in the log twice)": len(doubled),
        "projection reads equal to the rebuild": f"{reads - mismatched}/{reads}",
        "workers alive at the end": workers_seen,
        "verify": verify.stdout.strip().splitlines()[-1] if verify.stdout.strip() else
        verify.stderr.strip()[-300:],
    }
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    problems = []
    if lost:
        problems.append(f"lost: {lost[:10]}")
    if doubled:
        problems.append(f"doubled: {doubled[:10]}")
    if verify.returncode != 0:
        problems.append(f"verify failed: {verify.stdout}{verify.stderr}")
    if mismatched:
        problems.append(f"{mismatched} projection reads differ from the rebuild")
    if workers_seen != args.workers:
        problems.append(f"{workers_seen} workers serving at the end, not {args.workers}")
    if len(acknowledged) < args.commands // 2:
        problems.append(f"only {len(acknowledged)} commands acknowledged")
    if problems:
        print("SOAK FAILED:\n" + "\n".join(problems), file=sys.stderr)
        print(f"kept: {workdir}" + (f" and {database_url}" if database_url else ""),
              file=sys.stderr)
        return 1
    if not args.keep:
        if database_url:
            drop_database(args.database_url, database_url)
        for path in sorted(workdir.iterdir()):
            path.unlink()
        workdir.rmdir()
    else:
        print(f"kept: {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
