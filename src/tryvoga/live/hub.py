"""The fan-out hub: every applied event, written once-encoded to every matching subscriber.

The hub listens to the ``Follower``, which hands it each applied batch in log order on the
event loop. For each event it finds the event's route once, matches it once per distinct
filter, encodes it once per format, and writes those same bytes straight to each subscriber's
transport without awaiting anything: one subscriber's socket can never hold up another's.

Overflow policy: a subscriber whose transport still buffers more than ``buffer_limit`` bytes
when the next frame is due (the kernel's socket buffer is already full by then) gets a final
``reconnect`` frame naming the last sequence it was sent everything up to, and is closed.

Resume without gap or duplicate: a new subscriber is registered first, in *pending* mode, and
remembers ``head``, the sequence the follower had reached at that moment. Live events after
``head`` are kept as (seq, frame) while the log is replayed from the client's ``since`` up to
``head`` (read in an executor); then the pending frames are written and the subscriber goes
live, with no await in between. The replay checks the buffer before every frame and waits for
the client to read while it is over ``buffer_limit``, so the bound holds during a replay too
(issue 15), and a client that stops reading for ``DRAIN_TIMEOUT`` is ended as too slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from tryvoga.domain.events import Event
from tryvoga.domain.filters import Router, StreamFilter
from tryvoga.domain.state import State
from tryvoga.live import frames
from tryvoga.live.follower import Follower
from tryvoga.live.frames import Format, Frames
from tryvoga.live.websocket import ClientFrames

log = logging.getLogger(__name__)

ReadEvents = Callable[[int, int], Awaitable[list[Event]]]
REPLAY_FRAMES = 1024  # replayed events whose frames are kept for the next replays
REPLAY_FRAMES_SECONDS = 1.0  # and for how long
REPLAY_BATCH = 25  # events read at a time: a replay holds one batch, whatever its length


class Transport(Protocol):
    def write(self, data: bytes) -> None: ...

    def get_write_buffer_size(self) -> int: ...

    def is_closing(self) -> bool: ...


class Owner(Protocol):
    """Who holds a subscriber's connection (``api/streams.py``): told once when the stream
    ends (to close the connection as its reason says) and when the connection is gone."""

    def ended(self, sub: Subscriber) -> None: ...

    def lost(self, sub: Subscriber) -> None: ...


class Subscriber(asyncio.Protocol):
    """One open stream; once its response head is written, also its connection's protocol.

    The stream's handler takes the connection from aiohttp then (``api/streams.py``), so
    an idle stream holds this object and its transport, and no request, task, coroutine
    frame or parser. An HTTP stream expects nothing from its client, so bytes are dropped;
    a WebSocket's client frames go to ``ClientFrames`` (ping, close). End-of-file ends the
    stream. ``reason`` is None while the stream is open."""

    __slots__ = ("after", "chunked", "client", "fmt", "hub", "key", "live", "owner",
                 "paused", "pending", "position", "reason", "transport", "waiter")

    def __init__(self, hub: Hub, transport: Transport, fmt: Format, chunked: bool,
                 stream_filter: StreamFilter, after: int) -> None:
        self.hub = hub
        self.transport = transport
        self.fmt = fmt
        self.chunked = chunked
        self.key = (stream_filter, fmt, chunked)
        self.after = after  # the client has everything up to here; skip it
        self.position = after  # replayed up to here (while pending)
        self.live = False
        self.pending: list[tuple[int, bytes]] | None = []
        self.reason: str | None = None
        self.owner: Owner | None = None
        self.paused = False  # the transport's buffer is over its high-water mark
        self.waiter: asyncio.Future[None] | None = None  # a replay waiting for it to drain
        self.client = ClientFrames(self._reply, self._client_closed) if fmt is Format.WS else (
            None)

    @property
    def filter(self) -> StreamFilter:
        return self.key[0]

    def _reply(self, frame: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(frame)

    def _client_closed(self) -> None:
        self.hub.remove(self, "closed")

    # ---- the connection's protocol (asyncio) -----------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.client is not None:
            self.client.feed(data)

    def eof_received(self) -> bool | None:
        self.hub.remove(self, "gone")  # the client went away: nothing more is sent
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.hub.remove(self, "gone")
        self._wake(ConnectionResetError("the client went away"))
        if self.owner is not None:
            self.owner.lost(self)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._wake(None)

    def _wake(self, error: Exception | None) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)


class Hub:
    def __init__(self, follower: Follower, *, buffer_limit: int = 256 * 1024,
                 keepalive: float = 15.0, max_pending: int = 100_000) -> None:
        self.follower = follower
        self.router = Router(follower.state.catalogue)
        self.buffer_limit = buffer_limit
        self.keepalive_interval = keepalive
        self.max_pending = max_pending
        self._groups: dict[tuple[StreamFilter, Format, bool], set[Subscriber]] = {}
        self._count = 0
        self.dropped = 0  # subscribers ended for reading too slowly (a frame not written)
        self.published = follower.state.seq  # every event up to here went to every stream
        # Replays' frames, shared by every subscriber replaying the same event under the same
        # state (a reconnect storm: thousands resume from one point); bounded, see _replayed.
        self._replay_state: State | None = None
        self._replay_until = 0.0  # monotonic: frames are kept REPLAY_FRAMES_SECONDS at most
        self._replay_frames: dict[int, Frames] = {}
        self.closed = False

    def __len__(self) -> int:
        return self._count

    def subscriber_counts(self) -> dict[str, int]:
        """Open subscribers per transport (sse, ndjson, ws)."""
        counts = dict.fromkeys((fmt.value for fmt in Format), 0)
        for (_, fmt, _), group in self._groups.items():
            counts[fmt.value] += len(group)
        return counts

    # ---- subscribing -----------------------------------------------------------------

    def subscribe(self, transport: Transport, fmt: Format, chunked: bool,
                  stream_filter: StreamFilter, after: int) -> Subscriber:
        """Register in pending mode; ``start`` must follow to replay and go live."""
        sub = Subscriber(self, transport, fmt, chunked, stream_filter, after)
        if self.closed:
            sub.reason = "shutdown"
            return sub
        group = self._groups.get(sub.key)
        if group is None:
            group = self._groups[sub.key] = set()
        else:  # a member's key: equal filters are one object, not one per stream
            sub.key = next(iter(group)).key
        group.add(sub)
        self._count += 1
        return sub

    async def start(self, sub: Subscriber, read: ReadEvents,
                    drain: Callable[[], Awaitable[None]]) -> None:
        """Replay what the client missed (up to the head at subscription), then go live."""
        head = self.published
        try:
            while sub.position < head and sub.reason is None:
                if sub.transport.is_closing():
                    raise ConnectionResetError("the client went away")
                batch = await read(sub.position, min(REPLAY_BATCH, head - sub.position))
                if sub.reason is not None:
                    return
                if not batch:
                    log.error("replay found no events after %d (head %d)", sub.position, head)
                    break
                for event in batch:
                    if event.seq > head:
                        break
                    # The bound holds here too: nothing more is written to a buffer that is
                    # over it until the client has read (or the drain times out).
                    while sub.transport.get_write_buffer_size() > self.buffer_limit:
                        await drain()
                        if sub.reason is not None:
                            return
                    state = self.follower.state
                    if sub.filter.matches(self.router.route(event, state)):
                        if sub.transport.is_closing():
                            raise ConnectionResetError("the client went away")
                        sub.transport.write(self._replayed(event, state).get(sub.fmt,
                                                                             sub.chunked))
                    sub.position = event.seq
        except TimeoutError:  # the client stopped reading during the replay
            self._end(sub, "too_slow", sub.position)
            return
        except ConnectionError:
            self.remove(sub, "gone")
            return
        if sub.reason is not None:
            return
        pending, sub.pending = sub.pending or [], None
        sub.live = True
        transport = sub.transport
        last = max(sub.after, sub.position)
        for seq, frame in pending:
            if seq <= last:
                continue
            if transport.is_closing():
                self.remove(sub, "gone")
                return
            if transport.get_write_buffer_size() > self.buffer_limit:
                self._end(sub, "too_slow", last)
                return
            transport.write(frame)
            last = seq
        sub.after = max(sub.after, head)

    def _replayed(self, event: Event, state: State) -> Frames:
        """``event``'s frames for a replay: encoded once for every subscriber replaying it
        while the state is the same one, for a second at most (an embargoed incident's
        content is withheld by the time the frame is made; at most REPLAY_FRAMES kept)."""
        now = time.monotonic()
        if (state is not self._replay_state or now > self._replay_until
                or len(self._replay_frames) >= REPLAY_FRAMES):
            self._replay_state = state
            self._replay_until = now + REPLAY_FRAMES_SECONDS
            self._replay_frames = {}
        found = self._replay_frames.get(event.seq)
        if found is None or found.event is not event:
            found = self._replay_frames[event.seq] = Frames(event, state)
        return found

    def remove(self, sub: Subscriber, reason: str) -> None:
        """Forget a subscriber without writing to it (the client went away)."""
        group = self._groups.get(sub.key)
        if group is not None and sub in group:
            group.discard(sub)
            self._count -= 1
            if not group:
                del self._groups[sub.key]
        if sub.reason is None:
            sub.reason = reason
            if sub.owner is not None:
                sub.owner.ended(sub)

    def _end(self, sub: Subscriber, reason: str, last_id: int) -> None:
        """End a stream on the server's side: one final frame, then the handler closes it."""
        if reason == "too_slow":
            self.dropped += 1
        if sub.reason is None and not sub.transport.is_closing():
            sub.transport.write(frames.reconnect(sub.fmt, sub.chunked, max(last_id, 0), reason))
        self.remove(sub, reason)

    def _last_id(self, sub: Subscriber) -> int:
        return max(sub.after, self.published) if sub.live else sub.position

    # ---- publishing ------------------------------------------------------------------

    def publish(self, events: Sequence[Event]) -> None:
        """The follower's listener: write each event to every stream that wants it.

        It runs synchronously inside ``Context.command``, before the command is answered: each
        subscriber's frame is handed to its socket (to the kernel, when the socket has room,
        which is the usual case) before the declaring client gets its response. So when an
        authority sees "declared", every connected subscriber of this process already has it
        in flight; ``bench/RESULTS.md`` measures that against nginx + nchan, which does the same.
        """
        state = self.follower.state
        limit = self.buffer_limit
        for event in events:
            seq = event.seq
            route = self.router.route(event, state)
            encoded = Frames(event, state)
            slow: list[Subscriber] = []
            too_many: list[Subscriber] = []
            gone: list[Subscriber] = []
            matched: dict[StreamFilter, bool] = {}
            for (stream_filter, fmt, chunked), group in self._groups.items():
                wanted = matched.get(stream_filter)
                if wanted is None:
                    wanted = matched[stream_filter] = stream_filter.matches(route)
                if not wanted:
                    continue
                frame = encoded.get(fmt, chunked)
                for sub in group:
                    if sub.live:
                        if seq <= sub.after:
                            continue
                        transport = sub.transport
                        if transport.get_write_buffer_size() > limit:
                            slow.append(sub)
                            continue
                        if transport.is_closing():
                            gone.append(sub)  # lost; its handler has not heard yet
                            continue
                        transport.write(frame)
                    else:
                        pending = sub.pending
                        assert pending is not None
                        pending.append((seq, frame))
                        if len(pending) > self.max_pending:
                            too_many.append(sub)
            self.published = seq
            for sub in slow:
                self._end(sub, "too_slow", seq - 1)
            for sub in too_many:
                self._end(sub, "too_slow", sub.position)
            for sub in gone:
                self.remove(sub, "gone")

    # ---- keepalives and shutdown -----------------------------------------------------

    def keepalive(self) -> None:
        slow: list[Subscriber] = []
        age = self.follower.state_age()  # stale: say how old, instead of a plain keepalive
        for (_, fmt, chunked), group in self._groups.items():
            frame = (frames.keepalive(fmt, chunked) if age is None
                     else frames.stale(fmt, chunked, age, self.follower.state.seq))
            for sub in group:
                transport = sub.transport
                if transport.is_closing():
                    continue
                if transport.get_write_buffer_size() > self.buffer_limit:
                    if sub.live:
                        slow.append(sub)
                    continue
                transport.write(frame)
        for sub in slow:
            self._end(sub, "too_slow", self._last_id(sub))

    async def run_keepalives(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_interval)
            try:
                self.keepalive()
            except Exception:
                log.exception("keepalive round failed")

    def close_all(self) -> None:
        """Shutdown: every stream gets its final frame and ends."""
        self.closed = True
        for group in list(self._groups.values()):
            for sub in list(group):
                with contextlib.suppress(Exception):
                    self._end(sub, "shutdown", self._last_id(sub))


__all__ = ["Hub", "Owner", "Subscriber"]
