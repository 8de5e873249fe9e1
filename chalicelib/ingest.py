"""POST /slack/events: verify, parse, count. One way, in that order; the counts
table's stream takes the change on to the dashboards (chalicelib/fanout.py).

Slack treats any answer but a 2xx within 3 seconds as a failed delivery: it retries
(up to 3 times, with `X-Slack-Retry-Num` and `X-Slack-Retry-Reason`) and counts the
failure toward disabling the app's events. So a 4xx is for a request that is not
Slack's (401, 413) or that Slack could not have meant (400), and a 5xx only ever
means "retry me": the store was down before the commit (nothing counted, the retry
counts it), or a setting is missing (app.py's 500: the retry lands once it is set).
Every retry is safe: the event id makes it count once.
"""
import logging
from typing import Mapping, Tuple

from botocore.exceptions import BotoCoreError, ClientError

from . import home, logs, metrics, slack_events, slack_request
from .services import Services

log = logging.getLogger(__name__)

Reply = Tuple[int, dict]


# What a refusal's status says, as the EventsRefused metric's Reason.
_REFUSALS = {413: "too_large", 401: "signature", 400: "malformed"}


def handle(body: bytes, headers: Mapping[str, str], services: Services) -> Reply:
    """The answer to Slack; the event id and the outcome go on the invocation's log
    line, and what happened into its metrics (chalicelib/metrics.py)."""
    status, reply = _handle(body, headers, services)
    if status in _REFUSALS:
        logs.note(outcome="refused")
        logs.count(metrics.EVENTS_REFUSED, Reason=_REFUSALS[status])
    else:
        logs.note(outcome=reply.get("result") or ("ignored" if "ignored" in reply else None))
    return status, reply


def _handle(body: bytes, headers: Mapping[str, str], services: Services) -> Reply:
    refused = slack_request.refused(body, headers)
    if refused:
        return refused
    try:
        event = slack_events.parse(body)
    except slack_events.BadRequest as error:
        return 400, {"error": str(error)}
    logs.note(event_id=getattr(event, "event_id", None),
              retry=headers.get("x-slack-retry-num") or None)
    if headers.get("x-slack-retry-num"):
        log.info("Slack retry %s of %s (%s)", headers.get("x-slack-retry-num"),
                 getattr(event, "event_id", "-"), headers.get("x-slack-retry-reason", "no reason"))

    if isinstance(event, slack_events.UrlVerification):
        return 200, {"challenge": event.challenge}
    if isinstance(event, slack_events.Ignored):
        return 200, {"ok": True, "ignored": event.reason}
    pinned = services.settings.slack_team_id
    if pinned and event.team_id != pinned:
        return 200, {"ok": True, "ignored": f"team {event.team_id} is not this deployment's"}
    if isinstance(event, slack_events.DirectoryChange):
        return _directory_change(event, services)
    if isinstance(event, slack_events.EmojiChanged):
        return _emoji_changed(event, services)
    if isinstance(event, slack_events.HomeOpened):
        # Published from the tasks queue (home.py): answered now, whatever comes of it.
        if event.tab == "home":
            home.queue(services, event.user, home.DEFAULT_WINDOW)
        return 200, {"ok": True, "result": "home"}

    if event.channel in services.settings.excluded_channels:
        return 200, {"ok": True, "ignored": f"channel {event.channel} is excluded"}
    try:
        outcome = services.counts.record(event, services.workspace)
    except (ClientError, BotoCoreError, RuntimeError) as error:
        # Nothing was committed (the write is one transaction): a 5xx makes Slack retry.
        logs.store_error(log, "could not count event %s: %s", event.event_id, error)
        return 503, {"error": "the counter store is unavailable; Slack will retry"}
    if outcome.status == "bot":
        return 200, {"ok": True, "ignored": f"user {event.user} is a bot"}
    if outcome.status == "counted":
        logs.count(metrics.EVENTS_COUNTED)
    elif outcome.status == "duplicate":
        logs.count(metrics.EVENTS_DUPLICATE)
    return 200, {"ok": True, "result": outcome.status}


def _emoji_changed(event: slack_events.EmojiChanged, services: Services) -> Reply:
    """A custom emoji added, removed or renamed: the catalog follows, exactly once."""
    try:
        result = services.emoji.apply(event, services.workspace)
    except (ClientError, BotoCoreError, RuntimeError) as error:
        logs.store_error(log, "could not apply emoji change %s: %s", event.event_id, error)
        return 503, {"error": "the store is unavailable; Slack will retry"}
    return 200, {"ok": True, "result": result}


def _directory_change(event: slack_events.DirectoryChange, services: Services) -> Reply:
    """A person or channel renamed, joined or created: newer wins, so a retry is safe.
    A new public channel is also joined (coverage.py), on the tasks queue: joining
    waits on Slack's rate limits, which this route cannot."""
    try:
        result = services.directory.apply(event, services.workspace)
    except (ClientError, BotoCoreError, RuntimeError) as error:
        logs.store_error(log, "could not apply directory change %s: %s", event.event_id, error)
        return 503, {"error": "the store is unavailable; Slack will retry"}
    settings = services.settings
    if (event.created and settings.join_public_channels and services.tasks is not None
            and event.id not in settings.excluded_channels):
        try:
            services.tasks.send({"task": "join", "channel": event.id})
        except (ClientError, BotoCoreError) as error:
            # Applied, not yet joined: Slack's retry applies it again (newer wins) and
            # queues the join.
            log.error("could not queue joining %s: %s", event.id, error)
            return 503, {"error": "the tasks queue is unavailable; Slack will retry"}
    return 200, {"ok": True, "result": result}
