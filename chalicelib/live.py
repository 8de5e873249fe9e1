"""The dashboards' WebSocket: connect, disconnect, and the messages they send."""
import json
import logging
import time
from typing import Optional

from botocore.exceptions import BotoCoreError, ClientError

from . import logs, messages
from .connections import ASK_LIMIT, ASK_WINDOW_SECONDS
from . import queries
from .views import BadQuery
from .services import Services

log = logging.getLogger(__name__)
MAX_CLIENT_MESSAGE = 4096


def connect(connection_id: str, viewer, services: Services) -> None:
    """A dashboard let in (chalicelib/access.py): recorded with its grant, so ending
    that session or revoking that screen link can close it."""
    services.connections.add(connection_id, viewer.grant)
    if viewer.kind == "screen":
        services.access.used_screen(viewer.sid, time.time())


def disconnect(connection_id: str, services: Services) -> None:
    services.connections.remove(connection_id)


def reply_to(body: str, services: Services, connection_id: Optional[str] = None) -> list:
    """The messages that answer one client message (never raises for bad input). A
    snapshot request subscribes `connection_id` to its view first, so the page gets
    every change committed after the snapshot's read."""
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
            view, limit = queries.request(request, services)
            # A request naming no board is a page of an earlier release: it keeps
            # the topic it connected with, the emoji board in every window.
            if "board" in request and connection_id is not None \
                    and not services.connections.subscribe(connection_id, view.topic):
                return []  # gone meanwhile: nobody to answer
            board = queries.standings(services, view, limit)
        except BadQuery as error:
            return [messages.error(str(error))]
        except (ClientError, BotoCoreError) as error:
            logs.store_error(log, "snapshot failed: %s", error)
            return [messages.error("the counter store is unavailable; try again")]
        return messages.snapshot(view.head(), board.rows, board.total, board.size)
    return [messages.error(f"unknown action {action!r}; use 'snapshot' or 'ping'")]


def message(connection_id: str, body: str, services: Services) -> None:
    try:
        admission = services.connections.admit(connection_id)
        logs.note(outcome=admission)
    except (ClientError, BotoCoreError) as error:
        logs.store_error(log, "could not check %s's allowance: %s", connection_id, error)
        admission = "ok"  # the store is the bottleneck either way; the reply will say so
    if admission == "ok":
        try:
            replies = reply_to(body, services, connection_id)
        except Exception:  # noqa: BLE001 -- a page must hear back, whatever the bug
            log.exception("could not answer a message from %s", connection_id)
            replies = [messages.error("the server could not answer; try again")]
    elif admission == "limited":
        replies = [messages.error(f"too many messages: at most {ASK_LIMIT} in "
                                  f"{ASK_WINDOW_SECONDS} s; the rest are dropped")]
    else:  # "quiet" (already told) or "gone" (nobody to tell)
        return
    services.broadcaster.send(connection_id, replies)
