"""Rebuilding the projection from the log gives exactly the live state."""

from __future__ import annotations

import random

from tryvoga.commands import (
    ConfigureRegion,
    Declare,
    EndAlert,
    ReportIncident,
    UpdateAlert,
    UpdateIncident,
)
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
                service.handle(
                    actor,
                    Declare.of(
                        regions=rng.sample(codes, rng.randint(1, 3)),
                        threats=[{"type": t, "level": rng.choice(["red", "yellow"])}
                                 for t in rng.sample(THREATS, rng.randint(0, 2))],
                        status=rng.choice(["actual", "actual", "exercise", "test"]),
                        type=rng.choice(TYPES),
                    ),
                    idempotency_key=str(rng.randint(0, 200)) if roll < 0.1 else None,
                )
            elif roll < 0.7:
                service.handle(
                    actor,
                    EndAlert.of(withdraw=rng.random() < 0.1),
                    rng.choice(active).id,
                )
            elif roll < 0.8:
                service.handle(
                    actor,
                    UpdateAlert.of(
                        threats=[{"type": rng.choice(THREATS), "level": "red"}],
                        note=str(step),
                    ),
                    rng.choice(active).id,
                )
            elif roll < 0.9:
                service.handle(
                    actor,
                    ReportIncident.of(
                        kind="debris",
                        region=rng.choice(codes),
                        source="test",
                        alert_id=rng.choice(active).id,
                    ),
                )
            elif service.state.incidents:
                service.handle(
                    actor,
                    UpdateIncident.of(status=rng.choice(["confirmed", "retracted"])),
                    rng.choice(list(service.state.incidents)),
                )
            else:
                service.handle(
                    actor,
                    ConfigureRegion.of(shelter_seconds=rng.randint(0, 600)),
                    rng.choice(codes),
                )
        except TryvogaError:
            refused += 1  # e.g. a reused idempotency key, or a retracted incident
    assert service.state.seq > 1000
    rebuilt = State(catalogue)
    rebuilt.apply_all(service.storage.iter_events())
    assert rebuilt.snapshot() == service.state.snapshot()
    assert refused < 300
