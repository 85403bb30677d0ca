"""Rebuilding the projection from the log gives exactly the live state."""

from __future__ import annotations

import random

from tryvoga.domain.regions import Catalogue
from tryvoga.domain.state import State
from tryvoga.errors import TryvogaError
from tryvoga.service import Actor, Service

TYPES = ["air_raid", "artillery_shelling", "urban_fights", "chemical", "nuclear"]
THREATS = ["drones", "missiles", "ballistic", "guided_bombs", "aviation"]


def test_rebuild_equals_live_on_a_long_random_sequence(service: Service,
                                                       catalogue: Catalogue) -> None:
    rng = random.Random(20230520)
    codes = [r.code for r in catalogue][:: max(1, len(catalogue) // 300)]
    actor = Actor("fuzz")
    refused = 0
    for step in range(1500):
        roll = rng.random()
        active = service.state.active_alerts()
        try:
            if roll < 0.4 or not active:
                service.declare(actor, rng.sample(codes, rng.randint(1, 3)), rng.choice(TYPES),
                                [{"type": t, "level": rng.choice(["red", "yellow"])}
                                 for t in rng.sample(THREATS, rng.randint(0, 2))],
                                status=rng.choice(["actual", "actual", "exercise", "test"]),
                                idempotency_key=str(rng.randint(0, 200)) if roll < 0.1 else None)
            elif roll < 0.7:
                service.end(actor, alert_id=rng.choice(active).id,
                            withdraw=rng.random() < 0.1)
            elif roll < 0.8:
                service.update(actor, rng.choice(active).id,
                               [{"type": rng.choice(THREATS), "level": "red"}], note=str(step))
            elif roll < 0.9:
                service.report_incident(actor, kind="debris", region=rng.choice(codes),
                                        source="test", alert_id=rng.choice(active).id)
            elif service.state.incidents:
                service.update_incident(actor, rng.choice(list(service.state.incidents)),
                                        {"status": rng.choice(["confirmed", "retracted"])})
            else:
                service.configure_region(actor, rng.choice(codes),
                                         shelter_seconds=rng.randint(0, 600))
        except TryvogaError:
            refused += 1  # e.g. a reused idempotency key, or a retracted incident
    assert service.state.seq > 1000
    rebuilt = State(catalogue)
    rebuilt.apply_all(service.storage.iter_events())
    assert rebuilt.snapshot() == service.state.snapshot()
    assert refused < 300
