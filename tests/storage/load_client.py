"""One load process for the several-writers proof: declares and ends alerts in its own region,
each command with an idempotency key sent to two nodes at once.

    python -m tests.storage.load_client TOKEN REGION ROUNDS BASE_URL [BASE_URL ...]

Prints one JSON line: the commands acknowledged, per node.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import urllib.error
import urllib.request
from typing import Any


def send(base: str, token: str, path: str, body: dict[str, Any], key: str) -> tuple[int, Any]:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                     method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def twice(bases: list[str], token: str, path: str, body: dict[str, Any],
          key: str) -> list[tuple[int, Any]]:
    """The same command, same key, to two different nodes at the same moment."""
    pair = random.sample(bases, 2)
    answers: list[tuple[int, Any]] = [(0, None), (0, None)]
    start = threading.Barrier(2)

    def one(index: int) -> None:
        start.wait()
        answers[index] = send(pair[index], token, path, body, key)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def main() -> None:
    token, region, rounds, *bases = sys.argv[1:]
    declared: list[int] = []
    for index in range(int(rounds)):
        answers = twice(bases, token, "/api/v1/alerts",
                        {"regions": [region], "type": "air_raid"}, f"{region}-d{index}")
        statuses = sorted(status for status, _ in answers)
        assert statuses == [201, 201], answers  # one applied, the other its replay
        ids = {body["alerts"][0]["id"] for _, body in answers}
        assert len(ids) == 1, answers
        alert_id = ids.pop()
        declared.append(alert_id)
        answers = twice(bases, token, f"/api/v1/alerts/{alert_id}/end", {},
                        f"{region}-e{index}")
        assert sorted(s for s, _ in answers) == [200, 200], answers
    print(json.dumps({"region": region, "declared": declared}))


if __name__ == "__main__":
    main()
