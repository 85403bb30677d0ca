"""One typed settings object, read from ``TRYVOGA_*`` environment variables; flags override.

Every setting is listed once in ``SETTINGS`` with its flag, variable, default and meaning; the
README's configuration table is generated from it and a test keeps the two in step. A secret
may also come from a file named by ``TRYVOGA_<NAME>_FILE``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from tryvoga.cap.options import (
    parse_base_url,
    parse_feeds,
    parse_languages,
    parse_pem,
    parse_sender,
)
from tryvoga.errors import BadRequest


class SettingsError(BadRequest):
    default_code = "bad_setting"


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("expected a port number 0-65535")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("expected a whole number of at least 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("expected a whole number of at least 0")
    return value


def _event_loop(text: str) -> str:
    value = text.strip().lower()
    if value not in ("auto", "uvloop", "asyncio"):
        raise ValueError("expected auto, uvloop or asyncio")
    return value


def _log_format(text: str) -> str:
    value = text.strip().lower()
    if value not in ("text", "json"):
        raise ValueError("expected text or json")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("expected a positive number")
    return value


def _networks(text: str) -> tuple[str, ...]:
    out = []
    for part in text.split(","):
        if part.strip():
            try:
                out.append(str(ipaddress.ip_network(part.strip(), strict=False)))
            except ValueError:
                raise ValueError(f"{part.strip()!r} is not a CIDR range such as "
                                 "127.0.0.0/8 or ::1/128") from None
    return tuple(out)


def _database_url(text: str) -> str:
    value = text.strip()
    if value and not value.startswith(("postgresql://", "postgres://")):
        raise ValueError("expected a PostgreSQL URL such as postgresql://user@host/dbname")
    return value


def _hosts(text: str) -> tuple[str, ...]:
    out = []
    for part in text.replace(" ", ",").split(","):
        host = part.strip().lower().rstrip(".")
        if not host:
            continue
        if "/" in host or ("]:" in host) or (":" in host and not host.startswith("[")
                                             and host.count(":") == 1):
            raise ValueError(f"{part.strip()!r} is not a host name (no scheme, port or path)")
        out.append(host.strip("[]"))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    flag: str
    default: Any
    parse: Callable[[str], Any]
    help: str

    @property
    def env(self) -> str:
        return "TRYVOGA_" + self.name.upper()

    @property
    def value(self) -> Any:
        """The default as ``Settings`` holds it: a default written as text is parsed."""
        return self.parse(self.default) if isinstance(self.default, str) else self.default


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "--host", "127.0.0.1", str, "address to listen on"),
    Setting("port", "--port", 8000, _port, "TCP port to listen on"),
    Setting("db", "--db", "tryvoga.db", str,
            "SQLite database file (created if missing)"),
    Setting("database_url", "--database-url", "", _database_url,
            "PostgreSQL URL, e.g. postgresql://tryvoga@db.internal/tryvoga: production mode, "
            "any number of nodes on one database (run `tryvoga migrate` first); empty: the "
            "SQLite file --db"),
    Setting("workers", "--workers", 1, _positive_int,
            "server worker processes sharing the port and the database"),
    Setting("max_body", "--max-body", 1_048_576, _positive_int,
            "largest request body accepted, in bytes"),
    Setting("poll_interval", "--poll-interval", 0.05, _positive_float,
            "seconds between checks for events written by other processes"),
    Setting("public_reads", "--public-reads", True, _bool,
            "serve read endpoints without a token"),
    Setting("log_level", "--log-level", "info", str, "debug, info, warning or error"),
    Setting("log_format", "--log-format", "text", _log_format,
            "text (one readable line per record) or json (one JSON object per line); each "
            "carries the request id of the request it was written for"),
    Setting("access_log", "--access-log", False, _bool,
            "log one line per request answered by aiohttp (method, route, path without query, "
            "status, milliseconds, request id); the read front's polled reads are counted in "
            "/metrics, not logged"),
    Setting("event_loop", "--event-loop", "auto", _event_loop,
            "auto (uvloop where it is installed, else asyncio's own), uvloop or asyncio"),
    Setting("fast_reads", "--fast-reads", True, _bool,
            "answer plain polled reads of /api/v1/status and /api/v1/alerts/active from their "
            "cached bytes in front of aiohttp (the same bytes; false: aiohttp answers all)"),
    Setting("header_timeout", "--header-timeout", 30.0, _positive_float,
            "seconds a request head may take to arrive whole, however often a byte of it "
            "comes; then the connection is closed"),
    Setting("connections_per_address", "--connections-per-address", 0, _non_negative_int,
            "open connections one client address may hold (streams included); one more is "
            "closed at once; 0 (the default): no limit, since behind a reverse proxy or a "
            "carrier's NAT thousands of people share one address"),
    Setting("write_queue", "--write-queue", 256, _positive_int,
            "commands a server process lets wait for its writer (one sender: an eighth of "
            "them); one more is answered 503 with Retry-After at once"),
    # Per-address and per-token limits (api/limits.py); each server process counts its own.
    Setting("trusted_proxies", "--trusted-proxies", "", _networks,
            "comma-separated CIDR ranges of reverse proxies whose X-Forwarded-For names the "
            "client address that per-address limits count (and the façades' --compat-rate-ip); "
            "empty: the TCP peer is the client"),
    Setting("read_rate_address", "--read-rate-address", 0, _non_negative_int,
            "reads a minute per client address (IPv6: per /64), in bursts of as many; 0 (the "
            "default): no limit, since behind a carrier's NAT thousands share one address"),
    Setting("read_rate_token", "--read-rate-token", 6000, _non_negative_int,
            "reads a minute per token, in bursts of as many; 0: no limit"),
    Setting("write_rate_address", "--write-rate-address", 0, _non_negative_int,
            "writes (any method but GET, HEAD and OPTIONS) a minute per client address, in "
            "bursts of as many; 0 (the default): no limit"),
    Setting("write_rate_token", "--write-rate-token", 6000, _non_negative_int,
            "writes a minute per token, in bursts of as many; 0: no limit"),
    Setting("streams_per_address", "--streams-per-address", 0, _non_negative_int,
            "open streams (SSE, NDJSON, WebSocket) per client address; 0 (the default): no "
            "limit"),
    Setting("streams_per_token", "--streams-per-token", 100, _non_negative_int,
            "open streams per token; 0: no limit"),
    Setting("rate_limit_keys", "--rate-limit-keys", 100_000, _positive_int,
            "addresses (and tokens) each limit keeps track of; beyond it the least recently "
            "seen is forgotten"),
    # Tamper evidence (storage/integrity.py).
    Setting("allow_broken_chain", "--allow-broken-chain", False, _bool,
            "serve (and append to) a log whose newest events or recorded head fail the "
            "hash-chain check at start; off: refuse to start, naming the broken event"),
    Setting("anchor_file", "--anchor-file", "", str,
            "file, best kept off the database's disk, that each server process appends the "
            "log's head to (seq hash time); `tryvoga verify --anchor FILE` checks them; "
            "empty: none"),
    Setting("anchor_interval", "--anchor-interval", 60.0, _positive_float,
            "seconds between anchors of the head, when it moved"),
    # CAP 1.2 (cap/).
    Setting("cap_sender", "--cap-sender", "tryvoga@localhost", parse_sender,
            "CAP sender of every message published here: globally unique, e.g. "
            "cap@warnings.example.org"),
    Setting("cap_sender_name", "--cap-sender-name", "Tryvoga", str,
            "CAP senderName: the publishing authority as people read it"),
    Setting("cap_expiry", "--cap-expiry", 86400, _positive_int,
            "seconds after it is sent that a CAP alert or update expires (an all-clear or "
            "cancel: at most an hour)"),
    Setting("cap_languages", "--cap-languages", "uk,en", parse_languages,
            "languages of each CAP message, one info block each, in order: uk, en"),
    Setting("cap_signing_key", "--cap-signing-key", "", parse_pem,
            "PEM RSA private key that signs every CAP message (XML-DSig, RSA-SHA256); give it "
            "as a file with TRYVOGA_CAP_SIGNING_KEY_FILE; empty: unsigned"),
    Setting("cap_signing_cert", "--cap-signing-cert", "", parse_pem,
            "PEM X.509 certificate of the signing key, carried in each signature "
            "(TRYVOGA_CAP_SIGNING_CERT_FILE)"),
    Setting("cap_base_url", "--cap-base-url", "", parse_base_url,
            "absolute URL of this server for the links in CAP feeds, e.g. "
            "https://warnings.example.org; empty: from each request's Host"),
    Setting("cap_feeds", "--cap-feeds", "", parse_feeds,
            "CAP messages or Atom/RSS feeds of CAP messages to ingest, space- or "
            "comma-separated URLs; empty: none"),
    Setting("cap_poll_interval", "--cap-poll-interval", 30.0, _positive_float,
            "seconds between polls of --cap-feeds"),
    Setting("cap_fetch_timeout", "--cap-fetch-timeout", 30.0, _positive_float,
            "seconds a whole fetch of a CAP feed, page or message may take, however slowly the "
            "source sends it"),
    Setting("cap_link_hosts", "--cap-link-hosts", "", _hosts,
            "comma-separated host names that a polled feed's entries may link to besides the "
            "feed's own server (checked as webhooks' addresses are); empty: none"),
    # Live streams (live/).
    Setting("stream_keepalive", "--stream-keepalive", 15.0, _positive_float,
            "seconds between keepalives on idle streams (SSE comment, NDJSON empty line, "
            "WebSocket ping)"),
    Setting("stream_buffer", "--stream-buffer", 262_144, _positive_int,
            "bytes a stream subscriber may leave unread beyond its socket buffer before it "
            "is sent a final reconnect frame and closed"),
    # Webhooks (delivery/).
    Setting("webhook_worker", "--webhook-worker", True, _bool,
            "deliver webhooks from inside each server process (off: run `tryvoga worker`)"),
    Setting("webhook_allow_networks", "--webhook-allow-networks", "", _networks,
            "comma-separated CIDR ranges that webhooks may reach although private, loopback "
            "or link-local, e.g. 127.0.0.0/8; empty: only public addresses"),
    Setting("webhook_retry_window", "--webhook-retry-window", 86400.0, _positive_float,
            "seconds a failing webhook delivery is retried; a subscription that fails for "
            "that long is disabled"),
    Setting("webhook_backoff", "--webhook-backoff", 10.0, _positive_float,
            "seconds before the first webhook retry; doubled for each next one, up to an "
            "hour, with jitter"),
    Setting("webhook_connect_timeout", "--webhook-connect-timeout", 5.0, _positive_float,
            "seconds to connect to a webhook receiver"),
    Setting("webhook_read_timeout", "--webhook-read-timeout", 10.0, _positive_float,
            "seconds to wait for a webhook receiver's answer"),
    Setting("webhook_concurrency", "--webhook-concurrency", 64, _positive_int,
            "webhook deliveries in flight per worker"),
    # alerts.in.ua and ukrainealarm façades (api/compat_*.py).
    Setting("compat_public_reads", "--compat-public-reads", True, _bool,
            "serve the alerts.in.ua and ukrainealarm façades without a token (Home Assistant's "
            "ukraine_alarm sends none)"),
    Setting("compat_rate_token", "--compat-rate-token", 120, _non_negative_int,
            "requests a minute per token to the façades, in bursts of as many; 0: no limit"),
    Setting("compat_rate_ip", "--compat-rate-ip", 600, _non_negative_int,
            "requests a minute per client address to the façades, in bursts of as many; "
            "0: no limit"),
    Setting("compat_networks", "--compat-networks", "", _networks,
            "comma-separated CIDR ranges whose clients may use the façades (others get 403); "
            "empty: every address"),
    Setting("ukrainealarm_webhooks_read_only", "--ukrainealarm-webhooks-read-only", True, _bool,
            "read-only tokens may register webhooks through /api/v3/webhook, as ukrainealarm's "
            "own API keys can (false: a write token is needed)"),
    Setting("ukrainealarm_webhooks_per_token", "--ukrainealarm-webhooks-per-token", 10,
            _positive_int, "webhooks one token may register through /api/v3/webhook"),
    Setting("ukrainealarm_webhooks_total", "--ukrainealarm-webhooks-total", 1000,
            _positive_int, "webhooks all tokens together may register through /api/v3/webhook"),
    # Replay (ingest/replay.py).
    Setting("demo", "--demo", False, _bool,
            "on a database without events, replay the night of 2023-05-20 in the background "
            "as an exercise, so a new installation does not open on an empty map"),
    # Operator console and the two-person rule (web/console*.py, approval.py).
    Setting("console_session", "--console-session", 3600, _positive_int,
            "seconds an idle console session lasts (a session lasts at most 12 hours)"),
    Setting("console_lockout_failures", "--console-lockout-failures", 5, _positive_int,
            "failed console logins in a row that lock an operator's account"),
    Setting("console_lockout", "--console-lockout", 300, _positive_int,
            "seconds the first lockout lasts; each further failure doubles it, up to a day"),
    Setting("console_secure_cookie", "--console-secure-cookie", False, _bool,
            "mark console cookies Secure (set it when the console is served behind TLS; "
            "requests that arrive over TLS get Secure cookies anyway)"),
    Setting("approval_all_actual", "--approval-all-actual", False, _bool,
            "every actual alert needs a second operator's approval, not only chemical, nuclear "
            "and several-oblast ones (docs/console.md)"),
    Setting("approval_seconds", "--approval-seconds", 900, _positive_int,
            "seconds an approval request waits for its approver before it lapses"),
)


def default(name: str) -> Any:
    """The default of setting ``name`` as ``Settings`` holds it: each default is written once,
    in ``SETTINGS``."""
    return _BY_NAME[name].value


_BY_NAME = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    """The settings as parsed; the defaults are those of ``SETTINGS``."""

    host: str = default("host")
    port: int = default("port")
    db: str = default("db")
    database_url: str = default("database_url")
    workers: int = default("workers")
    max_body: int = default("max_body")
    poll_interval: float = default("poll_interval")
    public_reads: bool = default("public_reads")
    log_level: str = default("log_level")
    log_format: str = default("log_format")
    access_log: bool = default("access_log")
    event_loop: str = default("event_loop")
    fast_reads: bool = default("fast_reads")
    header_timeout: float = default("header_timeout")
    connections_per_address: int = default("connections_per_address")
    write_queue: int = default("write_queue")
    trusted_proxies: tuple[str, ...] = default("trusted_proxies")
    read_rate_address: int = default("read_rate_address")
    read_rate_token: int = default("read_rate_token")
    write_rate_address: int = default("write_rate_address")
    write_rate_token: int = default("write_rate_token")
    streams_per_address: int = default("streams_per_address")
    streams_per_token: int = default("streams_per_token")
    rate_limit_keys: int = default("rate_limit_keys")
    allow_broken_chain: bool = default("allow_broken_chain")
    anchor_file: str = default("anchor_file")
    anchor_interval: float = default("anchor_interval")
    cap_sender: str = default("cap_sender")
    cap_sender_name: str = default("cap_sender_name")
    cap_expiry: int = default("cap_expiry")
    cap_languages: tuple[str, ...] = default("cap_languages")
    cap_signing_key: str = default("cap_signing_key")
    cap_signing_cert: str = default("cap_signing_cert")
    cap_base_url: str = default("cap_base_url")
    cap_feeds: tuple[str, ...] = default("cap_feeds")
    cap_poll_interval: float = default("cap_poll_interval")
    cap_fetch_timeout: float = default("cap_fetch_timeout")
    cap_link_hosts: tuple[str, ...] = default("cap_link_hosts")
    stream_keepalive: float = default("stream_keepalive")
    stream_buffer: int = default("stream_buffer")
    webhook_worker: bool = default("webhook_worker")
    webhook_allow_networks: tuple[str, ...] = default("webhook_allow_networks")
    webhook_retry_window: float = default("webhook_retry_window")
    webhook_backoff: float = default("webhook_backoff")
    webhook_connect_timeout: float = default("webhook_connect_timeout")
    webhook_read_timeout: float = default("webhook_read_timeout")
    webhook_concurrency: int = default("webhook_concurrency")
    compat_public_reads: bool = default("compat_public_reads")
    compat_rate_token: int = default("compat_rate_token")
    compat_rate_ip: int = default("compat_rate_ip")
    compat_networks: tuple[str, ...] = default("compat_networks")
    ukrainealarm_webhooks_read_only: bool = default("ukrainealarm_webhooks_read_only")
    ukrainealarm_webhooks_per_token: int = default("ukrainealarm_webhooks_per_token")
    ukrainealarm_webhooks_total: int = default("ukrainealarm_webhooks_total")
    demo: bool = default("demo")
    console_session: int = default("console_session")
    console_lockout_failures: int = default("console_lockout_failures")
    console_lockout: int = default("console_lockout")
    console_secure_cookie: bool = default("console_secure_cookie")
    approval_all_actual: bool = default("approval_all_actual")
    approval_seconds: int = default("approval_seconds")

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None,
             **overrides: Any) -> Settings:
        """Environment first, then the non-None overrides (command-line flags)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = environ.get(setting.env)
            file_name = environ.get(setting.env + "_FILE")
            if raw is None and file_name:
                try:
                    raw = Path(file_name).read_text("utf-8").strip()
                except OSError as exc:
                    raise SettingsError(f"{setting.env}_FILE: cannot read {file_name}: "
                                        f"{exc.strerror}") from None
            if raw is not None:
                try:
                    values[setting.name] = setting.parse(raw)
                except ValueError as exc:
                    raise SettingsError(f"{setting.env}={raw!r}: {exc}") from None
        by_name = {s.name: s for s in SETTINGS}
        for name, value in overrides.items():
            if value is None:
                continue
            if isinstance(value, str) and name in by_name:
                try:
                    value = by_name[name].parse(value)
                except ValueError as exc:
                    raise SettingsError(f"{by_name[name].flag} {value!r}: {exc}") from None
            values[name] = value
        settings = replace(cls(), **values)
        if settings.log_level.lower() not in ("debug", "info", "warning", "error"):
            raise SettingsError(f"log level {settings.log_level!r}: expected debug, info, "
                                "warning or error")
        return settings


def markdown_table() -> str:
    rows = ["| flag | environment variable | default | meaning |", "|---|---|---|---|"]
    for setting in SETTINGS:
        default = str(setting.default).lower() if isinstance(setting.default,
                                                             bool) else setting.default
        rows.append(f"| `{setting.flag}` | `{setting.env}` | `{default}` | {setting.help} |")
    return "\n".join(rows)


assert [f.name for f in fields(Settings)] == [s.name for s in SETTINGS]
assert all(f.default == default(f.name) for f in fields(Settings))
