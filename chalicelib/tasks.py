"""The tasks queue: work that talks to Slack at Slack's pace, away from the Slack
route's 3-second deadline. Lambda feeds `slack_tasks` one message at a time; a task
that cannot finish inside the invocation queues its own continuation (with a delay
when Slack asked to wait), so long work runs as a chain of slices.

Messages (JSON bodies; docs/architecture.md, "Tasks queue"):

  {"task": "join", "channel": "C…"}                join one new public channel
  {"task": "join_all", "cursor": "", "index": 0}   join every public channel, from there
  {"task": "import", "job": "…", "days": 30}       start a history import (or attach)
  {"task": "import", "job": "…", "ckpt": 7}        go on with it from checkpoint 7
  {"task": "import", "job": "…", "resume": true}   go on if it stalled (history.py)
  {"task": "home", "user": "U…", "window": "7d"}   publish that person's Home tab (home.py)

A task that fails (Slack or the store down) is tried again later with backoff; a
Lambda timeout or crash has SQS deliver its message again after the queue's
visibility timeout. Every task is idempotent, so either is safe.
"""
import json
import logging
from dataclasses import dataclass
from typing import Callable, Optional

from botocore.exceptions import BotoCoreError, ClientError

from . import coverage, logs, slack_calls
from .history import History

log = logging.getLogger(__name__)

# SQS DelaySeconds: "Valid values: 0 to 900" (SendMessage, API reference).
MAX_DELAY = 900
SLICE_SECONDS = 120  # at most, per invocation; less when Lambda's timeout says so
MARGIN_SECONDS = 15  # left at the end of a slice for its last page and checkpoint
MAX_JOIN_ATTEMPTS = 5


class BadTask(ValueError):
    """A message that is no task: dropped, with a log line, never retried."""


@dataclass(frozen=True)
class Next:
    """A task's continuation: the message to queue, after `delay` seconds."""
    body: dict
    delay: float = 0


class TasksQueue:
    """The tasks queue (SQS). Its client is made on first use."""

    def __init__(self, make_client: Callable[[], object], url: str):
        self._make_client, self._url, self._client = make_client, url, None

    def send(self, body: dict, delay: float = 0) -> None:
        if self._client is None:
            self._client = self._make_client()
        self._client.send_message(QueueUrl=self._url, MessageBody=json.dumps(body),
                                  DelaySeconds=int(min(MAX_DELAY, max(0, round(delay)))))


def parse(body: str) -> dict:
    try:
        task = json.loads(body)
    except ValueError:
        raise BadTask("not JSON") from None
    if not isinstance(task, dict) or task.get("task") not in ("join", "join_all", "import", "home"):
        raise BadTask("no known task")
    return task


def handle(task: dict, services, deadline: float) -> Optional[Next]:
    """Do (a slice of) `task` until `deadline`; its continuation, if any."""
    settings, workspace = services.settings, services.workspace
    if task["task"] in ("join", "join_all"):
        return _join(task, settings, deadline)
    if task["task"] == "home":  # one publish; a failure is logged, not retried
        from . import home  # home imports the board reads; only this task needs them
        user = task.get("user")
        if not isinstance(user, str) or not user.isalnum():
            raise BadTask("a home task names its user")
        home.publish(services, user, str(task.get("window", home.DEFAULT_WINDOW)))
        return None

    history: History = services.history
    job = task.get("job")
    if not isinstance(job, str):
        raise BadTask("an import task names its job")
    if "days" in task:
        try:
            started, status = history.start(workspace, job, int(task["days"]))
        except (TypeError, ValueError) as error:
            raise BadTask(str(error)) from None
        if not started:
            log.info("history import %s not started: import %s is %s", job, status.job,
                     status.state)
            return None
        # Bots' reactions are skipped as the bots set says: have it current first.
        services.directory.refresh_if_stale(workspace)
        ckpt = 0
    elif task.get("resume") is True:
        ckpt = history.stalled_at(workspace, job)
        if ckpt is None:
            return None
        log.warning("history import %s had stalled; going on from checkpoint %d", job, ckpt)
    else:
        ckpt = task.get("ckpt")
        if not isinstance(ckpt, int) or isinstance(ckpt, bool):
            raise BadTask("an import task names its checkpoint")
    try:
        going_on = history.run(workspace, job, ckpt, deadline)
    except (slack_calls.SlackUnavailable, ClientError, BotoCoreError, RuntimeError) as error:
        # Slack or the store down: try again later from the last checkpoint. (What
        # the failed slice counted counts once: the retry finds it counted.)
        log.warning("history import %s: slice failed at checkpoint %d: %r", job, ckpt, error)
        failures = history.record_failure(workspace, job, ckpt, f"{type(error).__name__}: {error}")
        if failures is None:
            return None
        return Next({"task": "import", "job": job, "ckpt": ckpt}, min(MAX_DELAY, 5 * 3 ** failures))
    if going_on is None:
        return None
    ckpt, delay = going_on
    return Next({"task": "import", "job": job, "ckpt": ckpt}, delay)



def _join(task: dict, settings, deadline: float) -> Optional[Next]:
    if not settings.join_public_channels or not settings.slack_bot_token:
        return None
    web = slack_calls.client(settings.slack_bot_token, settings.slack_api_url)
    try:
        if task["task"] == "join":
            channel = task.get("channel")
            if not isinstance(channel, str) or channel in settings.excluded_channels:
                return None
            coverage.join(web, channel, deadline)
            return None
        at = coverage.SweepPosition(str(task.get("cursor") or ""), int(task.get("index") or 0))
        paused = coverage.sweep(web, settings.excluded_channels, deadline, at)
    except slack_calls.Throttled as throttled:  # only a single join gets here
        return Next(task, throttled.retry_after)
    except slack_calls.SlackRefused as refused:
        # The app's token or scopes (channels:join) must change first: no retry mends it.
        log.error("cannot join channels: %s", refused)
        return None
    except slack_calls.SlackUnavailable as error:
        attempt = int(task.get("attempt") or 0) + 1
        if attempt > MAX_JOIN_ATTEMPTS:
            log.error("gave up joining (%s) after %d attempts: %s", task["task"], attempt, error)
            return None
        log.warning("joining failed, trying again: %s", error)
        return Next(dict(task, attempt=attempt), min(MAX_DELAY, 5 * 3 ** attempt))
    if paused is None:
        log.info("every public channel joined")
        return None
    position, delay = paused
    return Next({"task": "join_all", "cursor": position.cursor, "index": position.index}, delay)


def run(body: str, services, seconds_left: Optional[float], now: float) -> None:
    """One message of the tasks queue: its task's slice, then its continuation queued.
    A failure to queue that raises, so SQS delivers this message again."""
    try:
        task = parse(body)
    except BadTask as error:
        log.error("tasks queue: message dropped (%s): %.200r", error, body)
        return
    logs.note(task=task["task"], job=task.get("job") if isinstance(task.get("job"), str) else None)
    budget = SLICE_SECONDS if seconds_left is None else min(SLICE_SECONDS,
                                                              seconds_left - MARGIN_SECONDS)
    try:
        following = handle(task, services, now + max(1.0, budget))
    except BadTask as error:
        log.error("tasks queue: %s task dropped (%s)", task["task"], error)
        return
    if following is not None:
        services.tasks.send(following.body, following.delay)
