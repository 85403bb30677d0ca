"""The façades' pure parts: rate limiting, ids, Last-Modified per state, webhook bodies."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from tests.regions import KYIV
from tryvoga.api.compat_common import CompatIds, Gate, GateSettings, RateLimiter
from tryvoga.api.compat_ukrainealarm import duration_text, webhook_payloads
from tryvoga.api.formats import outbox
from tryvoga.api.limits import give_both, take_both
from tryvoga.commands import Declare
from tryvoga.domain.regions import COUNTRY, Catalogue, Level
from tryvoga.service import Actor, Service
from tryvoga.storage.sqlite import SQLiteStorage

from ..conftest import by_api_id


def test_rate_limiter_refills_at_its_rate() -> None:
    limiter = RateLimiter(per_minute=3)
    for _ in range(3):
        assert limiter.wait("a", 100.0) == 0
        limiter.take("a", 100.0)
    assert limiter.wait("a", 100.0) == 20.0  # one request every 20 s
    assert limiter.wait("b", 100.0) == 0  # another key has its own bucket
    assert limiter.wait("a", 110.0) == 10.0
    assert limiter.wait("a", 120.0) == 0
    assert RateLimiter(0).wait("a", 0.0) == 0  # 0: no limit


def test_rate_limiter_memory_is_bounded() -> None:
    limiter = RateLimiter(per_minute=60, max_keys=10)
    for i in range(25):
        limiter.take(f"k{i}", float(i))
    assert len(limiter._buckets) <= 10
    assert limiter.wait("k24", 24.0) == 0  # the newest keys are kept


def test_durations_as_dotnet_writes_a_timespan() -> None:
    assert duration_text(0) == "00:00:00"
    assert duration_text(2 * 3600 + 20 * 60 + 4.9) == "02:20:04"
    assert duration_text(86400 + 3661) == "1.01:01:01"


def test_ids_and_names(catalogue: Catalogue) -> None:
    ids = CompatIds(catalogue)
    crimea = by_api_id(catalogue, 29)
    assert ids.ukrainealarm_id(crimea) == "9999" and ids.by_ukrainealarm_id["9999"] is crimea
    assert "29" not in ids.by_ukrainealarm_id
    assert ids.title(catalogue[KYIV]) == "м. Київ"
    assert ids.title(by_api_id(catalogue, 1293)) == "м. Харків"
    assert ids.title(by_api_id(catalogue, 42)) == "Кам'янський район"  # plain apostrophe
    # The whole country: every top-level region; a region with an id: itself.
    assert [r.api_id for r in ids.targets(COUNTRY)] == sorted(
        r.api_id or 0 for r in catalogue.top_level())
    assert ids.targets(KYIV) == (catalogue[KYIV],)
    # A Kyiv district has no id and nothing with one inside it.
    district = next(c for c in catalogue.children[KYIV]
                    if catalogue[c].level is Level.CITY_DISTRICT)
    assert ids.targets(district) == ()
    assert ids.target_on_path(COUNTRY, catalogue[KYIV]) == catalogue[KYIV]


def test_webhook_payloads_are_the_region_models(tmp_path: Path, catalogue: Catalogue) -> None:
    storage = SQLiteStorage(tmp_path / "t.db")
    try:
        service = Service(storage, catalogue, outbox=outbox(catalogue))
        oblast = by_api_id(catalogue, 22)
        raion = next(catalogue[c] for c in catalogue.children[oblast.code])
        assert raion.api_id is not None
        declared = service.handle(
            Actor("t"),
            Declare.of(
                regions=[oblast.code],
                threats=[{"type": "drones", "level": "yellow"}],
                type="air_raid",
            ),
        )
        event = declared.events[0]
        ids = CompatIds(catalogue)
        [(region_id, body)] = webhook_payloads(event, service.state, ids, None)
        model = json.loads(body)
        assert region_id == "22" and model["regionId"] == "22"
        assert [(a["type"], a["activeAlertLevels"][0]["alertLevel"])
                for a in model["activeAlerts"]] == [("AIR", "Yellow")]
        # A registration for a district inside hears of its parent's alert; others do not.
        [(inside, _)] = webhook_payloads(event, service.state, ids, (str(raion.api_id), "31"))
        assert inside == str(raion.api_id)
        exercise = service.handle(
            Actor("t"),
            Declare.of(regions=[KYIV], status="exercise", type="air_raid"),
        )
        assert webhook_payloads(exercise.events[0], service.state, ids, None) == []
    finally:
        storage.close()


class _Tokens:
    """``Tokens.cached`` for one known token."""

    def __init__(self) -> None:
        self.known: dict[str, Actor] = {"s3cret": Actor("led-map", token="1")}

    def cached(self, secret: str) -> Actor | None:
        return self.known.get(secret)


def _gate(per_token: int, per_address: int) -> tuple[Gate, list[float]]:
    now = [1000.0]
    gate = Gate(cast(Any, SimpleNamespace(tokens=_Tokens())),
                GateSettings(True, per_token, per_address, ()), "test")
    gate.clock = lambda: now[0]
    return gate, now


def test_counting_ahead_only_with_room_to_spare() -> None:
    tight, roomy = RateLimiter(per_minute=120), RateLimiter(per_minute=60_000)
    both = ((roomy, "ip:a"), (tight, "token:t"))
    assert take_both(both, 0.0, 16) == 1  # 120 left: no room to count ahead
    assert take_both(((roomy, "ip:a"),), 0.0, 16) == 16  # the address budget alone has room
    assert roomy.level("ip:a", 0.0) == 60_000 - 17 and tight.level("token:t", 0.0) == 119
    give_both(((roomy, "ip:a"),), 0.0, 15)
    assert roomy.level("ip:a", 0.0) == 60_000 - 2
    give_both(((roomy, "ip:a"),), 0.0, 100)  # never above the capacity
    assert roomy.level("ip:a", 0.0) == 60_000
    empty = RateLimiter(per_minute=1)
    assert take_both(((empty, "ip:b"), (tight, "token:t")), 0.0, 16) == 1
    assert take_both(((empty, "ip:b"), (tight, "token:t")), 0.0, 16) == 0
    assert tight.level("token:t", 0.0) == 118  # refused: nothing taken from either


def test_answers_again_never_exceed_the_limit() -> None:
    """Requests the front answers again from memory: exactly as many as the budgets allow,
    counted ahead or not, and what was counted ahead and not used is handed back."""
    for per_token in (120, 6_000, 100_000):
        gate, now = _gate(per_token, 0)
        admit, again, release = gate.fast("s3cret")
        answered = int(admit("10.0.0.1"))
        while again("10.0.0.1"):
            answered += 1
            assert answered <= per_token
        assert answered == per_token, per_token
        release()
        assert gate.by_token.level("token:led-map", now[0]) < 1
        # Used less than was counted ahead: handed back when the front forgets the answer.
        gate, now = _gate(per_token, 0)
        admit, again, release = gate.fast("s3cret")
        assert admit("10.0.0.1") and again("10.0.0.1") and again("10.0.0.1")
        release()
        assert gate.by_token.level("token:led-map", now[0]) == per_token - 3
        # An address's own budget holds too, whatever the token's.
        gate, now = _gate(per_token, 600)
        admit, again, _ = gate.fast("s3cret")
        answered = int(admit("10.0.0.2"))
        while again("10.0.0.2"):
            answered += 1
        assert answered == min(per_token, 600)


def test_an_unknown_or_forgotten_token_is_not_admitted() -> None:
    gate, _ = _gate(6_000, 600)
    assert not gate.admit_fast("10.0.0.1", "wrong")
    admit, _, _ = gate.fast("s3cret")
    assert admit("10.0.0.1")
    cast(_Tokens, gate.context.tokens).known.clear()  # expired from the cache
    assert not admit("10.0.0.1")
