"""The dashboards' WebSocket: connect, disconnect, and the messages they send."""
import json
import logging

from botocore.exceptions import BotoCoreError, ClientError

from . import messages
from .queries import BadQuery, leaderboard_query, standings
from .services import Services

log = logging.getLogger(__name__)
MAX_CLIENT_MESSAGE = 4096


def connect(connection_id: str, services: Services) -> None:
    services.connections.add(connection_id)


def disconnect(connection_id: str, services: Services) -> None:
    services.connections.remove(connection_id)


def reply_to(body: str, services: Services) -> list:
    """The messages that answer one client message (never raises for bad input)."""
    if len(body) > MAX_CLIENT_MESSAGE:
        return [messages.error(f"message larger than {MAX_CLIENT_MESSAGE} bytes")]
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):
        return [messages.error("message is not JSON")]
    if not isinstance(request, dict):
        return [messages.error("message must be a JSON object with an action")]
    action = request.get("action")
    if action == "ping":
        return [messages.pong()]
    if action == "snapshot":
        try:
            window, limit = leaderboard_query(request.get("window"), request.get("limit"))
        except BadQuery as error:
            return [messages.error(str(error))]
        try:
            rows, total = standings(services, window, limit)
        except (ClientError, BotoCoreError) as error:
            log.error("snapshot failed: %s", error)
            return [messages.error("the counter store is unavailable; try again")]
        return messages.snapshot(window, rows, total)
    return [messages.error(f"unknown action {action!r}; use 'snapshot' or 'ping'")]


def message(connection_id: str, body: str, services: Services) -> None:
    services.broadcaster.send(connection_id, reply_to(body, services))
