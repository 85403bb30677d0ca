"""Prometheus metrics of one server process, with the official ``prometheus_client``.

One :class:`Metrics` per application. With one worker its metrics live in a registry of its
own and ``/metrics`` is that registry. With ``--workers N`` every worker shares the listening
socket, so a scrape reaches one worker at random: ``tryvoga serve`` then gives the workers a
fresh directory in ``PROMETHEUS_MULTIPROC_DIR`` before it forks them, each worker's values
live in memory-mapped files there (prometheus_client's multiprocess mode), and ``/metrics``
on any worker answers the sum over all of them (gauges as stated per gauge below). An
operator may set ``PROMETHEUS_MULTIPROC_DIR`` themselves; it must then be an empty directory
at start, as prometheus_client requires.

What the hot paths pay: nothing of prometheus_client's per request. A request answered by
aiohttp adds to plain per-route numbers (``api/ops.py``), the read front (``api/front.py``) and
the stream hub keep plain integer counts, and ``api/ops.sample`` copies their growth into the
Prometheus metrics once a second and at every scrape: a worker's own figures are current when
it is scraped, the other workers' at most a second old.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The classic text format every Prometheus reads (our names need none of 1.0.0's escaping).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# Seconds; a polled read through aiohttp takes ~0.1 ms, a command with its fsync a few ms.
LATENCY_BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                  2.5, 5.0, 10.0)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    """The metrics of this process; ``exposition()`` is what ``/metrics`` answers."""

    def __init__(self) -> None:
        # The *_created series double the output and say little.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated upstream
        self.shared = multiprocess_dir()
        if self.shared is not None:
            # The value class is chosen when prometheus_client is first imported; a worker
            # forked after that import must be switched to the shared files explicitly.
            values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]  # unannotated in prometheus_client
            registry = None  # collected from the files by MultiProcessCollector
        else:
            registry = CollectorRegistry(auto_describe=True)
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
        self.registry = registry
        self.events_appended = Counter(
            "tryvoga_events_appended", "Events this node appended to the log.",
            registry=registry)
        self.log_head = Gauge(
            "tryvoga_log_head_seq", "Sequence of the last event this node's projection applied.",
            multiprocess_mode="livemax", registry=registry)
        self.projection_lag = Gauge(
            "tryvoga_projection_lag_events",
            "Events in the log that this node's projection has not applied yet (largest over "
            "the node's workers).", multiprocess_mode="livemax", registry=registry)
        self.subscribers = Gauge(
            "tryvoga_stream_subscribers", "Open stream subscribers, per transport.",
            ["transport"], multiprocess_mode="livesum", registry=registry)
        self.frames_dropped = Counter(
            "tryvoga_stream_frames_dropped",
            "Frames not written because the subscriber read too slowly; it was sent a "
            "reconnect frame and resumes from its last event id.", registry=registry)
        self.webhook_attempts = Counter(
            "tryvoga_webhook_attempts", "Webhook delivery attempts by outcome: delivered, "
            "failed (retried later) or gave_up (retry window over).", ["outcome"],
            registry=registry)
        self.requests = Counter(
            "tryvoga_http_requests", "HTTP requests answered by aiohttp, per route template, "
            "method and status.", ["route", "method", "status"], registry=registry)
        self.latency = Histogram(
            "tryvoga_http_request_duration_seconds", "Time from handler start to the answer "
            "(streams and WebSockets excluded), per route template and method.",
            ["route", "method"], buckets=LATENCY_BOUNDS, registry=registry)
        self.front_reads = Counter(
            "tryvoga_front_reads", "Polled reads answered from cached bytes by the read front "
            "(not in the latency histogram).", registry=registry)
        self.db_errors = Counter(
            "tryvoga_database_errors", "Database calls that failed (requests, health checks "
            "and the projection's follower).", registry=registry)
        for outcome in ("delivered", "failed", "gave_up"):
            self.webhook_attempts.labels(outcome)
        self._seen: dict[str, int] = {}

    def add_growth(self, name: str, total: int, counter: Counter) -> None:
        """Add to ``counter`` what the plain count ``total`` (named ``name``) grew by."""
        grown = total - self._seen.get(name, 0)
        if grown > 0:
            counter.inc(grown)
        self._seen[name] = total

    def add_latencies(self, route: str, method: str, buckets: Sequence[int],
                      seconds: float) -> None:
        """Add many observations at once: ``buckets[i]`` of them fell in bucket ``i`` (up to
        ``LATENCY_BOUNDS[i]``, the last above every bound), ``seconds`` their sum.

        prometheus_client observes one value at a time; this writes the histogram child's
        per-bucket values (``_buckets``, ``_sum``: not cumulative, as ``observe`` keeps
        them), so a request costs a list increment instead of three locked updates.
        ``tests/test_ops.py`` checks the exposed buckets, count and sum against the requests
        made, so a change of those internals fails there."""
        child = self.latency.labels(route, method)
        for index, count in enumerate(buckets):
            if count:
                child._buckets[index].inc(count)
        child._sum.inc(seconds)

    def set_subscribers(self, counts: Mapping[str, int]) -> None:
        for transport, count in counts.items():
            self.subscribers.labels(transport).set(count)

    def exposition(self) -> bytes:
        if self.shared is None:
            assert self.registry is not None
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.shared)  # type: ignore[no-untyped-call]  # unannotated in prometheus_client
        return generate_latest(registry)

    def process_exit(self) -> None:
        """This worker ends: its live gauges leave the sums."""
        if self.shared is not None:
            multiprocess.mark_process_dead(os.getpid(), self.shared)  # type: ignore[no-untyped-call]  # unannotated in prometheus_client


__all__ = ["CONTENT_TYPE", "MULTIPROC_ENV", "Metrics", "multiprocess_dir"]
