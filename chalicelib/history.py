"""Importing past reactions: the reactions on the messages and thread replies of the
channels the bot is in, going back N days (at most 90), so a new install's boards
and trends start with the workspace's last month.

The import runs in the deployment, on the tasks queue (tasks.py): each message runs
one slice of work inside Lambda's time limit and ends by queueing the next. All of
its state is one item, written after every Slack call as a checkpoint:

  pk             sk    attributes
  HIST#{ws}      JOB   job (id), state (running|done|failed), days, oldest, started_at,
                       finished_at, phase (list|channels), list_cursor, list_index,
                       queue (channel ids still to read, the first being read),
                       cursor, history_done, threads, replies_cursor (where the first
                       channel stands), channels_done, channels_total,
                       reactions_imported, messages_read, ckpt, failures, error

Every checkpoint is conditional on `ckpt`, the number of the last one, and bumps it.
A slice that finds it changed stops: so however SQS duplicates or redelivers the
messages, one chain of slices goes on. A slice that dies (Lambda's timeout, a crash)
has its message delivered again, which resumes from the last checkpoint, re-reading
at most one page: counting is idempotent, so nothing counts twice.

Counting an imported reaction is counting a live `reaction_added` (counts.py): the
same reaction record and single transaction, so an imported reaction and its live
event count once in either order, a reaction removed live is never brought back
(its record says removed, at a time after its message), and importing twice counts
nothing twice. Bots, Slackbot and EXCLUDED_CHANNELS are skipped as live events are.
Slack keeps no time for a reaction: an imported one is dated by its message.
"""
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, Iterable, List, Optional, Tuple

from botocore.exceptions import ClientError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from . import coverage, logs, metrics, slack_calls
from .slack_events import SLACKBOT, _ID, Reaction, reaction_name

log = logging.getLogger(__name__)

MAX_DAYS = 90
PAGE = 200  # Slack's advice for conversations.history / replies pages (at most 999)
WRITERS = 8  # reactions of one page counted at once
# Longer than any pause of a healthy import: SQS's longest delay (900 s), or a
# redelivery after the tasks queue's visibility timeout (6 x 150 s, devkit/infra.py).
STALLED_AFTER = 30 * 60
MAX_FAILURES = 5  # failed slices in a row (Slack or the store down) before giving up
# Errors that say a channel cannot be read any more (left, archived, deleted since it
# was listed): it is skipped, not failed.
GONE = ("channel_not_found", "not_in_channel", "is_archived", "thread_not_found",
        "missing_channel")
LOST = ("message_not_found", "no_item_specified")  # reactions.get on a deleted message


def job_key(workspace: str) -> dict:
    return {"pk": {"S": f"HIST#{workspace}"}, "sk": {"S": "JOB"}}


@dataclass(frozen=True)
class Status:
    """What GET /api/history answers."""
    job: Optional[str]
    state: str
    channels_done: int
    channels_total: int
    reactions_imported: int
    oldest: Optional[str]  # the first day imported, YYYY-MM-DD (UTC)
    error: Optional[str]

    def to_dict(self) -> dict:
        body = {"state": self.state, "channels_done": self.channels_done,
                "channels_total": self.channels_total,
                "reactions_imported": self.reactions_imported, "oldest": self.oldest,
                "job": self.job}
        if self.error:
            body["error"] = self.error
        return body


def _s(item: dict, name: str, default: str = "") -> str:
    return item.get(name, {}).get("S", default)


def _n(item: dict, name: str, default: float = 0) -> float:
    return float(item.get(name, {}).get("N", default))


def _list(item: dict, name: str) -> List[str]:
    return [v["S"] for v in item.get(name, {}).get("L", [])]


def day(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d")


class History:
    def __init__(self, client, table: str, counts, token: Optional[str], slack_api_url: str,
                 excluded: Iterable[str] = (), join_public: bool = True,
                 clock=time.time):
        self._db, self._table, self._counts = client, table, counts
        self._token, self._slack_api_url = token, slack_api_url
        self._excluded = frozenset(excluded)
        self._join_public = join_public
        self._clock = clock

    # ---- the job's record ----------------------------------------------------------

    def _read(self, workspace: str) -> Optional[dict]:
        return self._db.get_item(TableName=self._table, Key=job_key(workspace),
                                 ConsistentRead=True).get("Item")

    def status(self, workspace: str) -> Status:
        item = self._read(workspace)
        if item is None:
            return Status(None, "idle", 0, 0, 0, None, None)
        queue = len(_list(item, "queue"))
        done = int(_n(item, "channels_done"))
        return Status(_s(item, "job"), _s(item, "state"), done,
                      max(int(_n(item, "channels_total")), done + queue),
                      int(_n(item, "reactions_imported")), day(_n(item, "oldest")),
                      _s(item, "error") or None)

    def start(self, workspace: str, job: str, days: int) -> Tuple[bool, Status]:
        """Start import `job` going back `days`, unless one is running (then that one
        goes on: a second start attaches to it). (started, the import's status)."""
        if not 1 <= days <= MAX_DAYS:
            raise ValueError(f"days must be 1 to {MAX_DAYS}")
        if not job or not _ID.fullmatch(job):
            raise ValueError("job must be an id (letters, digits, . _ -)")
        now = self._clock()
        item = dict(job_key(workspace), job={"S": job}, state={"S": "running"},
                    days={"N": str(days)}, oldest={"N": str(int(now - days * 86400))},
                    started_at={"N": str(int(now))}, phase={"S": "list"},
                    list_cursor={"S": ""}, list_index={"N": "0"}, queue={"L": []},
                    channels_done={"N": "0"}, channels_total={"N": "0"},
                    reactions_imported={"N": "0"}, messages_read={"N": "0"},
                    ckpt={"N": "0"}, failures={"N": "0"}, updated_at={"N": str(int(now))})
        try:
            self._db.put_item(TableName=self._table, Item=item,
                              ConditionExpression="attribute_not_exists(pk) OR #state <> :running",
                              ExpressionAttributeNames={"#state": "state"},
                              ExpressionAttributeValues={":running": {"S": "running"}})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False, self.status(workspace)
        log.info("history import %s started: %d days", job, days)
        return True, self.status(workspace)

    def _checkpoint(self, workspace: str, job: dict, changes: Dict[str, dict],
                    adds: Optional[Dict[str, int]] = None, removes: Iterable[str] = ()) -> None:
        """Write `changes` (attribute -> DynamoDB value), add `adds`, remove `removes`,
        bump ckpt: only if no other slice checkpointed since `job` was read. Raises
        Superseded if one did."""
        changes = dict(changes, failures={"N": "0"},
                       updated_at={"N": str(int(self._clock()))})
        names, values, sets, add = {"#job": "job"}, {}, [], ["ckpt :one"]
        values[":one"] = {"N": "1"}
        values[":ckpt"] = job["ckpt"]
        values[":job"] = job["job"]
        for i, (name, value) in enumerate(changes.items()):
            names[f"#c{i}"], values[f":c{i}"] = name, value
            sets.append(f"#c{i} = :c{i}")
        for i, (name, amount) in enumerate((adds or {}).items()):
            names[f"#a{i}"], values[f":a{i}"] = name, {"N": str(amount)}
            add.append(f"#a{i} :a{i}")
        gone = []
        for i, name in enumerate(removes):
            names[f"#r{i}"] = name
            gone.append(f"#r{i}")
        expression = ("SET " + ", ".join(sets) + " " if sets else "") + "ADD " + ", ".join(add)
        if gone:
            expression += " REMOVE " + ", ".join(gone)
        try:
            response = self._db.update_item(
                TableName=self._table, Key=job_key(workspace), UpdateExpression=expression,
                ConditionExpression="ckpt = :ckpt AND #job = :job",
                ExpressionAttributeNames=names, ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW")
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Superseded() from None
            raise
        job.clear()
        job.update(response["Attributes"])
        for name, metric in (("reactions_imported", metrics.HISTORY_REACTIONS),
                             ("channels_done", metrics.HISTORY_CHANNELS)):
            if (adds or {}).get(name):
                logs.count(metric, adds[name])

    def record_failure(self, workspace: str, job_id: str, ckpt: int, error: str
                       ) -> Optional[int]:
        """A slice failed (Slack or the store down): count it; after MAX_FAILURES in a
        row (a checkpoint resets the count) the import has failed. How many failed in a
        row, while it should be tried again; else None."""
        try:
            item = self._db.update_item(
                TableName=self._table, Key=job_key(workspace),
                UpdateExpression="ADD failures :one SET #error = :error, updated_at = :now",
                ConditionExpression="#job = :job AND ckpt = :ckpt AND #state = :running",
                ExpressionAttributeNames={"#job": "job", "#error": "error", "#state": "state"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":error": {"S": error[:500]},
                                           ":now": {"N": str(int(self._clock()))},
                                           ":job": {"S": job_id}, ":ckpt": {"N": str(ckpt)},
                                           ":running": {"S": "running"}},
                ReturnValues="ALL_NEW")["Attributes"]
        except ClientError as failure:
            if failure.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None  # another slice went on meanwhile, or it ended
            raise
        failures = int(_n(item, "failures"))
        if failures < MAX_FAILURES:
            return failures
        self.fail(workspace, job_id, error)
        return None

    def fail(self, workspace: str, job_id: str, error: str) -> None:
        log.error("history import %s failed: %s", job_id, error)
        try:
            self._db.update_item(
                TableName=self._table, Key=job_key(workspace),
                UpdateExpression="SET #state = :failed, #error = :error, finished_at = :now",
                ConditionExpression="#job = :job AND #state = :running",
                ExpressionAttributeNames={"#job": "job", "#error": "error", "#state": "state"},
                ExpressionAttributeValues={":failed": {"S": "failed"}, ":error": {"S": error[:500]},
                                           ":job": {"S": job_id}, ":running": {"S": "running"},
                                           ":now": {"N": str(int(self._clock()))}})
        except ClientError as failure:
            if failure.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    # ---- a slice of work -----------------------------------------------------------

    def stalled_at(self, workspace: str, job_id: str) -> Optional[int]:
        """The checkpoint of import `job_id` if it is running but nothing has moved it
        for STALLED_AFTER seconds (its chain of messages broke: a continuation that
        could not be sent); else None. Resuming it from there is safe."""
        job = self._read(workspace)
        if (job is None or _s(job, "job") != job_id or _s(job, "state") != "running"
                or _n(job, "updated_at") > self._clock() - STALLED_AFTER):
            return None
        return int(_n(job, "ckpt"))

    def run(self, workspace: str, job_id: str, ckpt: int, deadline: float
            ) -> Optional[Tuple[int, float]]:
        """Work on import `job_id` from checkpoint `ckpt` until `deadline` (epoch
        seconds). None when there is nothing more to do (it finished, or this slice
        is stale); else (the checkpoint to go on from, after how many seconds)."""
        job = self._read(workspace)
        if (job is None or _s(job, "job") != job_id or _s(job, "state") != "running"
                or int(_n(job, "ckpt")) != ckpt):
            return None  # a duplicate or late message: another slice has it
        if not self._token:
            self.fail(workspace, job_id, "SLACK_BOT_TOKEN is not set")
            return None
        web = slack_calls.client(self._token, self._slack_api_url)
        try:
            while slack_calls.time_left(deadline, self._clock) > 0:
                if not self._step(workspace, job, web, deadline):
                    return None
        except Superseded:
            return None
        except slack_calls.Throttled as throttled:
            return int(_n(job, "ckpt")), throttled.retry_after
        except slack_calls.SlackRefused as refused:
            self.fail(workspace, job_id, f"Slack refused: {refused}")
            return None
        return int(_n(job, "ckpt")), 0

    def _step(self, workspace: str, job: dict, web: WebClient, deadline: float) -> bool:
        """One Slack call's worth of work and its checkpoint. False once done."""
        if _s(job, "phase") == "list":
            self._list_step(workspace, job, web, deadline)
            return True
        queue = _list(job, "queue")
        if not queue:
            self._checkpoint(workspace, job, {"state": {"S": "done"},
                                              "finished_at": {"N": str(int(self._clock()))}},
                             removes=("error",))
            log.info("history import %s done: %d channels, %d reactions", _s(job, "job"),
                     int(_n(job, "channels_done")), int(_n(job, "reactions_imported")))
            return False
        channel = queue[0]
        try:
            if _list(job, "threads"):
                self._replies_step(workspace, job, web, channel, deadline)
            elif not job.get("history_done", {}).get("BOOL"):
                self._history_step(workspace, job, web, channel, deadline)
            else:
                self._next_channel(workspace, job)
        except SlackApiError as error:  # one of GONE: the channel cannot be read now
            log.info("history import: channel %s skipped (%s)", channel,
                     error.response.get("error"))
            self._next_channel(workspace, job)
        return True

    def _list_step(self, workspace: str, job: dict, web: WebClient, deadline: float) -> None:
        """The channels to read, from one page of conversations.list: those the bot is
        in, and (JOIN_PUBLIC_CHANNELS) the public ones it joins now. A join is a call
        of its own, so it is checkpointed on its own."""
        cursor, index = _s(job, "list_cursor"), int(_n(job, "list_index"))
        channels, following = coverage.list_page(web, cursor, "public_channel,private_channel",
                                                 deadline)
        found = []
        for position in range(index, len(channels)):
            channel = channels[position]
            ident = channel["id"]
            if ident in self._excluded or not _ID.fullmatch(ident):
                continue
            if channel.get("is_member") is True:
                found.append(ident)
            elif self._join_public and coverage.should_join(channel, self._excluded):
                if slack_calls.time_left(deadline, self._clock) <= 0:
                    break
                if coverage.join(web, ident, deadline):
                    found.append(ident)
                self._checkpoint(workspace, job, {"list_index": {"N": str(position + 1)},
                                                  "queue": _append(job, found)})
                found = []
        else:
            changes = {"queue": _append(job, found)}
            changes.update({"list_cursor": {"S": following}, "list_index": {"N": "0"}}
                           if following else {"phase": {"S": "channels"}})
            self._checkpoint(workspace, job, changes)
            return
        self._checkpoint(workspace, job, {"list_index": {"N": str(position)},
                                          "queue": _append(job, found)})

    def _history_step(self, workspace: str, job: dict, web: WebClient, channel: str,
                      deadline: float) -> None:
        cursor = _s(job, "cursor")
        response = slack_calls.call(
            web, "conversations.history", deadline, expected=GONE, clock=self._clock,
            channel=channel, limit=PAGE, oldest=str(int(_n(job, "oldest"))),
            **({"cursor": cursor} if cursor else {}))
        messages = [m for m in response.get("messages") or [] if isinstance(m, dict)]
        imported = self._import(workspace, web, channel, messages, deadline)
        threads = [m["ts"] for m in messages
                   if m.get("reply_count") and m.get("thread_ts") == m.get("ts")]
        following = (response.get("response_metadata") or {}).get("next_cursor") or ""
        changes = {"threads": {"L": [{"S": ts} for ts in threads]}}
        changes.update({"cursor": {"S": following}} if following and response.get("has_more")
                       else {"history_done": {"BOOL": True}})
        self._checkpoint(workspace, job, changes, adds={"reactions_imported": imported,
                                                         "messages_read": len(messages)})

    def _replies_step(self, workspace: str, job: dict, web: WebClient, channel: str,
                      deadline: float) -> None:
        threads = _list(job, "threads")
        cursor = _s(job, "replies_cursor")
        try:
            response = slack_calls.call(
                web, "conversations.replies", deadline, expected=GONE, clock=self._clock,
                channel=channel, ts=threads[0], limit=PAGE, **({"cursor": cursor} if cursor else {}))
        except SlackApiError as error:
            if error.response.get("error") != "thread_not_found":
                raise
            response = {"messages": []}  # the thread's parent was deleted since
        # The parent comes first (in every page), and replies also sent to the channel
        # (thread_broadcast) are in its history too: both were read with the history.
        replies = [m for m in response.get("messages") or []
                   if isinstance(m, dict) and m.get("ts") != threads[0]
                   and m.get("subtype") != "thread_broadcast"]
        imported = self._import(workspace, web, channel, replies, deadline)
        following = (response.get("response_metadata") or {}).get("next_cursor") or ""
        if following and response.get("has_more"):
            changes = {"replies_cursor": {"S": following}}
        else:
            changes = {"threads": {"L": [{"S": ts} for ts in threads[1:]]},
                       "replies_cursor": {"S": ""}}
        self._checkpoint(workspace, job, changes, adds={"reactions_imported": imported,
                                                         "messages_read": len(replies)})

    def _next_channel(self, workspace: str, job: dict) -> None:
        queue = _list(job, "queue")
        self._checkpoint(workspace, job, {"queue": {"L": [{"S": c} for c in queue[1:]]},
                                          "cursor": {"S": ""}, "threads": {"L": []},
                                          "replies_cursor": {"S": ""},
                                          "history_done": {"BOOL": False}},
                         adds={"channels_done": 1})

    # ---- counting ---------------------------------------------------------------

    def _import(self, workspace: str, web: WebClient, channel: str, messages: List[dict],
                deadline: float) -> int:
        """Count every reaction on `messages` as a live reaction_added would be: how
        many were found (bots' left out)."""
        if channel in self._excluded:
            return 0
        events = [event for message in messages
                  for event in reactions_of(web, channel, message, deadline, self._clock)]
        if not events:
            return 0
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            outcomes = list(pool.map(lambda e: self._counts.record(e, workspace), events))
        return sum(1 for o in outcomes if o.status != "bot")


class Superseded(Exception):
    """Another slice checkpointed this import since this one read it."""


def _append(job: dict, channels: List[str]) -> dict:
    queue = _list(job, "queue")
    return {"L": [{"S": c} for c in queue + [c for c in channels if c not in queue]]}


def reactions_of(web: WebClient, channel: str, message: dict, deadline: float,
                 clock=time.time) -> List[Reaction]:
    """A message's reactions as reaction_added events (one per person and emoji),
    dated by the message. Slack may cut a reaction's `users` short of its `count`:
    then the whole list comes from reactions.get with full=true."""
    ts, author = message.get("ts"), message.get("user")
    try:
        when = float(ts)
    except (TypeError, ValueError):
        return []
    reactions = [r for r in message.get("reactions") or [] if isinstance(r, dict)]
    if any(len(r.get("users") or []) < (r.get("count") or 0) for r in reactions):
        try:
            full = slack_calls.call(web, "reactions.get", deadline, expected=GONE + LOST,
                                    clock=clock, channel=channel, timestamp=ts, full="true")
            reactions = [r for r in (full.get("message") or {}).get("reactions") or []
                         if isinstance(r, dict)]
        except SlackApiError:  # deleted meanwhile: what the page said is all there is
            pass
    found = []
    for reaction in reactions:
        raw = reaction.get("name")
        name = reaction_name(raw) if isinstance(raw, str) else None
        if name is None:
            log.info("history import: reaction %r skipped: not an emoji name", reaction.get("name"))
            continue
        found += [
            Reaction(event_id=f"import:{channel}/{ts}:{user}:{name}", team_id="",
                     added=True, user=user, reaction=name, item=f"{channel}/{ts}",
                     event_time=when, item_user=author if isinstance(author, str)
                     and _ID.fullmatch(author) else None)
            for user in dict.fromkeys(reaction.get("users") or [])
            if isinstance(user, str) and _ID.fullmatch(user) and user != SLACKBOT]
    return found
