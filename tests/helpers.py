"""Talking to the local stack the way Slack and a dashboard do."""
import json
import time
from contextlib import contextmanager
from typing import Dict, List, Optional

import requests
from websockets.sync.client import connect

from devkit import simulate
from tests.conftest import SECRET, TEAM


def post_event(stack, envelope, *, secret: str = SECRET, retry: Optional[int] = None,
               timestamp: Optional[int] = None, session=requests) -> requests.Response:
    body = envelope if isinstance(envelope, bytes) else simulate.encode(envelope)
    headers = simulate.signed_headers(body, secret, timestamp=timestamp, retry=retry)
    return session.post(f"{stack.url}/slack/events", data=body, headers=headers, timeout=10)


def envelope(kind: str, event_ts: float = None, event_id: str = None, **fields) -> dict:
    """An Events API envelope around an event of type `kind` with `fields`."""
    now = time.time() if event_ts is None else event_ts
    return {"token": "unused", "team_id": TEAM, "api_app_id": "A0EMOJIBOARD",
            "type": "event_callback",
            "event_id": event_id or f"Ev{kind}{time.time():.6f}".replace(".", ""),
            "event_time": int(now), "event": {"type": kind, "event_ts": f"{now:.6f}", **fields}}


def deliver(stack, kind: str, **fields) -> dict:
    """Post a signed event of type `kind`; its 200 answer."""
    response = post_event(stack, envelope(kind, **fields))
    assert response.status_code == 200, response.text
    return response.json()


def reaction(name: str, **kwargs) -> dict:
    kwargs.setdefault("team_id", TEAM)
    return simulate.reaction_event(name, **kwargs)


def board(stack, window: str = "all", **params) -> Dict[str, int]:
    response = requests.get(f"{stack.url}/api/leaderboard",
                            params={"window": window, **params}, timeout=10)
    assert response.status_code == 200, response.text
    return {row["emoji"]: row["count"] for row in response.json()["leaderboard"]}


@contextmanager
def dashboard(stack):
    with connect(f"ws://{stack.host}:{stack.port}/ws", open_timeout=5) as socket:
        yield socket


def receive(socket, timeout: float = 5.0) -> dict:
    return json.loads(socket.recv(timeout=timeout))


def send(socket, message: dict) -> None:
    socket.send(json.dumps(message))


def connection_ids(stack) -> List[str]:
    client = stack.dynamodb_client()
    items = client.query(TableName=stack.connections_table,
                         KeyConditionExpression="pk = :pk",
                         ExpressionAttributeValues={":pk": {"S": "CONN"}})["Items"]
    return [item["sk"]["S"] for item in items]


def served_logs(stack) -> List[dict]:
    """The app's log lines, as the stack serves them (GET /_devkit/logs)."""
    answer = requests.get(f"{stack.url}/_devkit/logs", timeout=30)
    assert answer.status_code == 200, answer.text
    return [json.loads(line) for line in answer.text.splitlines()]


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def settled(stack, timeout: float = 10.0) -> None:
    """Wait until the stack's fan-out has handed every write so far to the app (its
    pushes to the pages open now are then under way or done)."""
    assert stack.stream_poller.sync(timeout), "the stream poller did not catch up"
