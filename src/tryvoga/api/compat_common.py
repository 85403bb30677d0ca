"""What the alerts.in.ua and ukrainealarm façades share: access, limits, ids and validators.

Both façades serve the same follower projection as the native API, in the shapes that existing
clients of those two public APIs expect (``docs/compat.md``). They differ from the native API in
three ways that the clients depend on:

* errors are ``{"message": "..."}`` (the clients read that key), never the native error shape;
* every request passes a :class:`Gate`: the allowed client networks (403), a per-address and a
  per-token rate limit (429 with ``Retry-After``), and a token unless anonymous reads are on
  (401); every 503 (the database unavailable, too many commands waiting) carries
  ``Retry-After`` too;
* regions are named by the numeric id the two APIs share (``Region.api_id``), not by KATOTTG
  code. An alert declared on a region that has no such id (the whole country, a Crimean raion)
  is shown on every largest region inside it that has one: :meth:`CompatIds.targets`.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web

from tryvoga.api import limits
from tryvoga.api.context import CONTEXT, Context
from tryvoga.api.front import Asked
from tryvoga.api.http import JSON, Rendered, dumps, rendered
from tryvoga.api.limits import LIMITS as NATIVE_LIMITS
from tryvoga.api.limits import RateLimiter, TooManyRequests, give_both, take_both
from tryvoga.domain.model import Alert, AlertStatus
from tryvoga.domain.regions import Catalogue, Level, Region
from tryvoga.domain.state import State
from tryvoga.errors import Forbidden, TryvogaError, Unauthorized
from tryvoga.service import Actor
from tryvoga.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def message_response(status: int, message: str,
                     headers: dict[str, str] | None = None) -> web.Response:
    """The façades' error shape: the clients of both APIs read ``message``."""
    return web.Response(body=dumps({"message": message}), status=status, content_type=JSON,
                        charset="utf-8", headers=headers)


RETRY_AFTER = 1  # seconds, for a 503 or 429 whose cause names no time of its own


def retry_after(status: int, exc: BaseException) -> dict[str, str] | None:
    """``Retry-After`` for every 503 (the database unavailable, the writer's queue full) and
    429 (a rate limit), from the error's own ``retry_after`` where it has one."""
    if status not in (429, 503):
        return None
    seconds = getattr(exc, "retry_after", None)
    if not isinstance(seconds, int | float) or seconds < 1:
        seconds = RETRY_AFTER
    return {"Retry-After": str(math.ceil(seconds))}


def compat_errors(handler: Handler) -> Handler:
    """Give a façade handler's errors the ``{"message": ...}`` shape instead of the native one."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except TryvogaError as exc:
            return message_response(exc.status, exc.message, retry_after(exc.status, exc))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            # e.g. a body over --max-body
            return message_response(exc.status, exc.reason, retry_after(exc.status, exc))
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            return message_response(500, "internal error; it has been logged")

    return wrapped


def not_found_handler(prefix: str) -> Handler:
    """Unknown paths (and methods) under a façade's prefix, answered in its error shape."""

    async def not_found(request: web.Request) -> web.Response:
        allowed: set[str] = set()
        path = request.rel_url.path
        for resource in request.app.router.resources():  # the error path alone looks
            canonical = resource.canonical
            if "{tail" in canonical or not path.startswith(canonical.partition("{")[0]):
                continue
            match, methods = await resource.resolve(request)
            if match is None:
                allowed |= methods
        if allowed:
            response = message_response(405, f"{request.method} is not allowed on "
                                             f"{request.path}")
            response.headers["Allow"] = ", ".join(sorted(allowed))
            return response
        return message_response(404, f"no such endpoint: {request.method} {request.path} "
                                     f"(this server offers the {prefix} API)")

    return not_found


# ---- rate limits -----------------------------------------------------------------------------

# The buckets (``RateLimiter``) and the 429 (``TooManyRequests``) are those of the native
# API's limits, api/limits.py.


# ---- access ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class GateSettings:
    public_reads: bool
    per_token: int
    per_address: int
    networks: tuple[str, ...]
    keys: int = 100_000  # tokens or addresses each limit tracks (--rate-limit-keys)

    @classmethod
    def of(cls, settings: Settings) -> GateSettings:
        return cls(settings.compat_public_reads, settings.compat_rate_token,
                   settings.compat_rate_ip, settings.compat_networks, settings.rate_limit_keys)


class Limits:
    """The budgets both façades draw on: a token or an address has one, whichever it uses."""

    def __init__(self, settings: GateSettings) -> None:
        self.by_token = RateLimiter(settings.per_token, settings.keys)
        self.by_address = RateLimiter(settings.per_address, settings.keys)


LIMITS = web.AppKey("compat_limits", Limits)
# Requests of one address that the read front's answer again from memory (``Gate.fast``)
# counts at once, at most.
LEND = 16


class Gate:
    """Who may use a façade: network, rate limits, token; one instance per façade."""

    def __init__(self, context: Context, settings: GateSettings, api_name: str,
                 limits: Limits | None = None) -> None:
        self.context = context
        self.settings = settings
        self.api_name = api_name
        self.networks = [ipaddress.ip_network(n) for n in settings.networks]
        limits = limits or Limits(settings)
        self.by_token = limits.by_token
        self.by_address = limits.by_address
        # Who the client is: the peer, or as a trusted proxy says (api/limits.py).
        self.client_of: Callable[[web.Request], str] = lambda r: r.remote or "unknown"
        # Is this peer a trusted proxy (whose X-Forwarded-For names the client)? The read
        # front then leaves the request to aiohttp, which reads that header.
        self.proxied: Callable[[str], bool] = lambda peer: False
        self.clock: Callable[[], float] = time.monotonic
        self._allowed: dict[str, bool] = {}  # address → within the networks, remembered
        self._address_keys: dict[str, str] = {}  # address → its key in by_address

    @classmethod
    def of(cls, app: web.Application, api_name: str) -> Gate:
        """The gate of a façade of ``app``, sharing the app's limits with the other façade."""
        context = app[CONTEXT]
        settings = GateSettings.of(context.settings)
        if LIMITS not in app:
            app[LIMITS] = Limits(settings)
        gate = cls(context, settings, api_name, app[LIMITS])
        if NATIVE_LIMITS in app:
            native = app[NATIVE_LIMITS]
            gate.client_of = native.client_of
            if native.client.proxies:
                gate.proxied = native.client.trusted
        return gate

    def _within(self, address: str) -> bool:
        if not self.networks:
            return True
        known = self._allowed.get(address)
        if known is None:
            try:
                ip = ipaddress.ip_address(address.split("%", 1)[0])
            except ValueError:
                ip = None
            known = ip is not None and any(ip in network for network in self.networks)
            if len(self._allowed) >= 10_000:
                self._allowed.clear()
            self._allowed[address] = known
        return known

    def _check_network(self, address: str) -> None:
        if not self._within(address):
            raise Forbidden(f"the {self.api_name} API of this server is not available from "
                            f"your network ({address})")

    def admit_fast(self, address: str, secret: str | None) -> bool:
        """The read front's admission (``api/front.py``): True, and the request counted
        against its limits, only if :meth:`admit` would let it through and its token was found
        seconds ago (``Tokens.cached``: no database). False changes nothing: aiohttp then
        answers the request, through :meth:`admit`, as if the front had never seen it."""
        return self.fast(secret)[0](address)

    def fast(self, secret: str | None) -> tuple[
            Callable[[str], bool], Callable[[str], bool], Callable[[], None]]:
        """For the requests with ``secret`` that the front answers: ``admit(address)`` as
        :meth:`admit_fast`; ``again(address)``, the same for a request the front answers again
        from what it remembers (``Front.recall``), which counts up to ``LEND`` such requests
        of the address at once while both budgets have plenty of room (``limits.take_both``); and
        ``release()``, which hands back what ``again`` counted and no request used, once the
        front forgets the answer (at the end of its second, or when the state changes). The
        token is looked at when a request is counted, not for each one counted ahead: those
        are answered within the same second and state version."""
        networks, proxied, cached, clock = (self.networks, self.proxied,
                                            self.context.tokens.cached, self.clock)
        public = self.settings.public_reads
        by_address, by_token = self.by_address, self.by_token
        keys = self._address_keys
        # address → [counted ahead and not used, the buckets they were counted in]
        lent: dict[str, list[Any]] = {}

        def count(address: str, most: int) -> int:
            if (networks and not self._within(address)) or proxied(address):
                return 0
            if not secret:
                if not public:
                    return 0
                token_key = None
            else:
                actor = cached(secret)
                if actor is None:
                    return 0
                token_key = "token:" + actor.name
            address_key = keys.get(address)
            if address_key is None:
                if len(keys) >= 10_000:
                    keys.clear()
                address_key = keys[address] = "ip:" + limits.address_key(address)
            buckets = ((by_address, address_key),) if token_key is None else (
                (by_address, address_key), (by_token, token_key))
            got = take_both(buckets, clock(), most)
            if got > 1:
                lent[address] = [got - 1, buckets]
            return got

        def admit(address: str) -> bool:
            return count(address, 1) > 0

        def again(address: str) -> bool:
            ahead = lent.get(address)
            if ahead is not None and ahead[0]:
                ahead[0] -= 1
                return True
            return count(address, LEND) > 0

        def release() -> None:
            now = clock()
            for left, buckets in lent.values():
                if left:
                    give_both(buckets, now, left)
            lent.clear()

        return admit, again, release

    def admit_read(self, asked: Asked, secret: str | None, item: Rendered) -> Rendered | None:
        """A façade read of the read front: ``item`` if :meth:`admit_fast` lets the request
        through; None (aiohttp's answer) otherwise, having asked the front to look up a token
        it does not know yet (``Asked.lookup``)."""
        if secret and self.context.tokens.cached(secret) is None:
            asked.lookup = secret  # the front looks it up, off the loop, and asks again
            return None
        admit, again, release = self.fast(secret)
        if not admit(asked.address):
            return None
        # The same request again in this second: counted again before it is answered.
        asked.recheck, asked.release = again, release
        return item

    async def admit(self, request: web.Request, secret: str | None, *,
                    token_required: bool = False) -> Actor | None:
        """The caller's token (None when anonymous reads are allowed), or a 401/403/429."""
        address = self.client_of(request)
        self._check_network(address)
        now = self.clock()
        address_key = "ip:" + limits.address_key(address)
        wait = self.by_address.wait(address_key, now)
        if wait > 0:
            raise TooManyRequests(f"too many requests from {address}: at most "
                                  f"{self.settings.per_address} a minute", wait)
        if not secret:
            self.by_address.take(address_key, now)
            if token_required or not self.settings.public_reads:
                raise Unauthorized(f"the {self.api_name} API of this server needs a token "
                                   "(tryvoga token create)")
            return None
        try:
            # A read may take a token found seconds ago (api/tokens.py); what needs a token
            # (the webhook registrations) asks the database.
            tokens = self.context.tokens
            actor = await (tokens.fresh(secret) if token_required else tokens.lookup(secret))
        except Unauthorized:
            self.by_address.take(address_key, now)
            raise Unauthorized("unknown or revoked token") from None
        token_key = "token:" + actor.name
        wait = self.by_token.wait(token_key, now)
        if wait > 0:
            self.by_address.take(address_key, now)
            raise TooManyRequests(f"too many requests for this token: at most "
                                  f"{self.settings.per_token} a minute", wait)
        self.by_address.take(address_key, now)
        self.by_token.take(token_key, now)
        return actor


# ---- ids and names ---------------------------------------------------------------------------

UA_TYPE = {Level.OBLAST: "State", Level.SPECIAL_CITY: "State", Level.RAION: "District",
           Level.HROMADA: "Community"}


class CompatIds:
    """The numeric ids of the two APIs over the catalogue, and alerts projected onto them."""

    # ukrainealarm names Crimea 9999 where alerts.in.ua (and the catalogue) say 29.
    UKRAINEALARM_OVERRIDES: ClassVar[dict[int, str]] = {29: "9999"}
    # The two hromadas that alerts.in.ua calls by their cities (each holds only its city).
    ALERTS_IN_UA_TITLES: ClassVar[dict[int, str]] = {564: "м. Запоріжжя", 1293: "м. Харків"}

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._targets: dict[str, tuple[Region, ...]] = {}
        self.by_ukrainealarm_id = {self.ukrainealarm_id(r): r
                                   for r in catalogue.by_api_id.values()}

    @classmethod
    def of(cls, catalogue: Catalogue) -> CompatIds:
        """One per catalogue, shared by both façades."""
        found = _IDS.get(id(catalogue))
        if found is None or found.catalogue is not catalogue:
            found = _IDS[id(catalogue)] = cls(catalogue)
        return found

    @staticmethod
    def ukrainealarm_id(region: Region) -> str:
        assert region.api_id is not None
        return CompatIds.UKRAINEALARM_OVERRIDES.get(region.api_id, str(region.api_id))

    def title(self, region: Region) -> str:
        """The Ukrainian name as those APIs spell it: "м. Київ", a plain apostrophe."""
        if region.api_id in self.ALERTS_IN_UA_TITLES:
            return self.ALERTS_IN_UA_TITLES[region.api_id]
        name = region.name_uk
        if region.level in (Level.SPECIAL_CITY, Level.CITY) and not name.startswith("м. "):
            name = "м. " + name
        return name.replace("’", "'").replace("ʼ", "'")

    def targets(self, code: str) -> tuple[Region, ...]:
        """The largest regions with an id at or inside ``code``: itself if it has one.

        Empty for a region below every region with an id (a city, a city district): those
        APIs cannot name it.
        """
        found = self._targets.get(code)
        if found is None:
            out: list[Region] = []
            stack = [code]
            while stack:
                current = self.catalogue[stack.pop()]
                if current.api_id is not None:
                    out.append(current)
                else:
                    stack.extend(reversed(self.catalogue.children[current.code]))
            found = self._targets[code] = tuple(sorted(out, key=lambda r: r.api_id or 0))
        return found

    def target_on_path(self, alert_region: str, region: Region) -> Region | None:
        """For an alert on ``alert_region`` covering ``region``: where those APIs show it."""
        for target in self.targets(alert_region):
            if self.catalogue.is_within(region.code, target.code):
                return target
        return None


_IDS: dict[int, CompatIds] = {}


def actual(alert: Alert) -> bool:
    """Only actual alerts reach the façades: their APIs have no way to flag an exercise."""
    return alert.status is AlertStatus.ACTUAL


def covering(state: State, region: str) -> list[Alert]:
    """Active actual alerts on ``region`` or any region above it, oldest first."""
    return state.covering_alerts(region, include_drills=False)


# ---- validators ------------------------------------------------------------------------------



def iso_seconds(log_time: str) -> str:
    """A log time (``...T21:41:31.000Z``) without its milliseconds: ``...T21:41:31Z``."""
    return log_time[:19] + "Z"


# A read front's renderings by path segment, with the state version each was made for.
Memo = dict[str, tuple[int, Rendered]]


def memoized(memo: Memo, build: Callable[[State, str], Rendered], state: State,
             param: str) -> Rendered:
    """``build(state, param)``, kept for the state's version: a polled read's second and later
    requests of a version skip the look-ups that find the rendering (a few microseconds each,
    at tens of thousands a second). Errors are not kept; at most 4,096 segments are."""
    hit = memo.get(param)
    if hit is not None and hit[0] == state.seq:
        return hit[1]
    item = build(state, param)
    if len(memo) >= 4096:
        memo.clear()
    memo[param] = (state.seq, item)
    return item


def query_secret(request: web.Request) -> str | None:
    token = request.query.get("token", "").strip()
    return token or None


__all__ = [
    "UA_TYPE",
    "CompatIds",
    "Gate",
    "GateSettings",
    "Handler",
    "Memo",
    "RateLimiter",
    "TooManyRequests",
    "actual",
    "compat_errors",
    "covering",
    "iso_seconds",
    "memoized",
    "message_response",
    "not_found_handler",
    "query_secret",
    "rendered",
    "retry_after",
]
