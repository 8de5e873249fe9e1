"""Emoji counters in DynamoDB: exactly-once counting and leaderboard reads.

Table layout (see docs/architecture.md for the full picture):

  pk                                  sk               what
  C#{workspace}#{scope}#ALL           {emoji}          all-time count n, version v
  C#{workspace}#{scope}#H#{hour}      {emoji}          count n in that UTC hour (TTL)
  C#{workspace}#{scope}#D#{day}       {emoji}          count n on that UTC day (TTL)
  R#{workspace}#{item}                {user}#{reaction} one reaction's state
  E#{workspace}#{event_id}            E                dedupe record (TTL)

Every counted event is ONE TransactWriteItems: the dedupe record, the reaction's
new state (guarded by its version) and every counter change commit together or
not at all. Only GetItem, Query and TransactGetItems are used to read: no Scan.
Boto3 *clients* only: Chalice's policy generator does not see resource calls.
"""
import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Optional

from botocore.exceptions import ClientError

from . import windows
from .slack_events import Reaction

log = logging.getLogger(__name__)

SCOPE = "all"  # the workspace-wide board; per-user / per-channel scopes slot in here
DEDUPE_TTL = 2 * windows.DAY  # Slack retries for about an hour at most
TOMBSTONE_TTL = 7 * windows.DAY
MAX_ATTEMPTS = 8  # optimistic-concurrency retries when two events race on one reaction
# AWS allows 100 items per TransactGetItems, moto only 25: use what both serve.
TRANSACT_GET_LIMIT = 25
_READ_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="counts-read")


@dataclass(frozen=True)
class Change:
    """The absolute new count of one emoji in one window."""
    emoji: str
    window: str
    count: int
    version: int  # grows with every change of this emoji: newer wins on a dashboard

    def to_json(self) -> dict:
        return {"emoji": self.emoji, "count": self.count, "window": self.window,
                "version": self.version}


@dataclass(frozen=True)
class Outcome:
    status: str  # "counted", "duplicate" (same event_id seen) or "unchanged"
    emoji: str
    touched: List[str]  # the buckets whose counts changed
    at: float  # when it was counted: decides which windows the buckets belong to


def counter_pk(workspace: str, bucket: str) -> str:
    return f"C#{workspace}#{SCOPE}#{bucket}"


def _n(value: int) -> dict:
    return {"N": str(value)}


def _reaction_key(event: Reaction, workspace: str) -> dict:
    return {"pk": {"S": f"R#{workspace}#{event.item}"}, "sk": {"S": f"{event.user}#{event.reaction}"}}


def dedupe_put(table: str, workspace: str, event_id: str, now: float) -> dict:
    """The transaction item that makes an event count once: a Slack retry of the
    same event_id fails its condition, and with it the whole transaction."""
    return {"Put": {
        "TableName": table,
        "Item": {"pk": {"S": f"E#{workspace}#{event_id}"}, "sk": {"S": "E"},
                 "expires_at": _n(int(now) + DEDUPE_TTL)},
        "ConditionExpression": "attribute_not_exists(pk)",
    }}


def is_duplicate(error: ClientError) -> bool:
    """A cancelled transaction whose first item, the dedupe record, already existed."""
    reasons = error.response.get("CancellationReasons") or [{}]
    return (error.response["Error"]["Code"] == "TransactionCanceledException"
            and reasons[0].get("Code") == "ConditionalCheckFailed")


class CountStore:
    def __init__(self, client, table: str, clock=time.time):
        self._db = client
        self._table = table
        self._clock = clock

    # ---- writes -------------------------------------------------------------

    def record(self, event: Reaction, workspace: str) -> Outcome:
        """Count one reaction event exactly once; say which buckets changed.

        What an event does depends on its reaction's current record. An add skips
        reading it: nearly every add is of a reaction not made before, so the write
        assumes there is no record, its condition checks that, and if there is one the
        cancelled transaction hands it back (ReturnValuesOnConditionCheckFailure) for
        the next attempt. A removal, which needs the record, reads it first."""
        current, known = None, event.added
        for attempt in range(MAX_ATTEMPTS):
            now = self._clock()
            if not known:
                current = self._db.get_item(TableName=self._table, ConsistentRead=True,
                                            Key=_reaction_key(event, workspace)).get("Item")
            items, delta, touched = self.transaction(event, workspace, current, now)
            try:
                self._db.transact_write_items(TransactItems=items)
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                if is_duplicate(error):
                    return Outcome("duplicate", event.emoji, [], now)
                reasons = error.response.get("CancellationReasons", [])
                if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons[2:]):
                    # A decrement would go below zero: the counters disagree with the
                    # reaction records (edited by hand?). Never go negative; say so.
                    log.error("counter below zero refused for %s; event %s not counted",
                              event.emoji, event.event_id)
                    return Outcome("unchanged", event.emoji, [], now)
                # The reaction's record was not what we wrote against: use the one the
                # cancellation returned, or (after a conflict with another transaction)
                # back off and read it again.
                current = reasons[1].get("Item") if len(reasons) > 1 else None
                known = current is not None
                if not known:
                    time.sleep(min(0.2, 0.005 * 2 ** attempt))
                continue
            return Outcome("counted" if delta else "unchanged", event.emoji, touched, now)
        raise RuntimeError(f"event {event.event_id} kept conflicting; Slack will retry it")

    def transaction(self, event: Reaction, workspace: str, current: Optional[dict],
                    now: float):
        """The one TransactWriteItems that counts `event`, given the reaction's
        `current` record: (items, delta, touched buckets)."""
        delta, bucket_time, new_state = _transition(current, event, now)
        touched = windows.buckets_for_event(bucket_time, now) if delta else []
        items = [dedupe_put(self._table, workspace, event.event_id, now),
                 self._reaction_put(_reaction_key(event, workspace), current, new_state)]
        items += [self._counter_update(workspace, event.emoji, b, delta, bucket_time)
                  for b in touched]
        return items, delta, touched

    def _reaction_put(self, key: dict, current: Optional[dict], state: dict) -> dict:
        version = int(current["ver"]["N"]) if current else 0
        item = dict(key, ver=_n(version + 1), **state)
        put = {"TableName": self._table, "Item": item,
               "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
        if current:
            put["ConditionExpression"] = "ver = :ver"
            put["ExpressionAttributeValues"] = {":ver": _n(version)}
        else:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        return {"Put": put}

    def _counter_update(self, workspace: str, emoji: str, bucket: str, delta: int,
                        t: float) -> dict:
        update = {
            "TableName": self._table,
            "Key": {"pk": {"S": counter_pk(workspace, bucket)}, "sk": {"S": emoji}},
            "UpdateExpression": "ADD n :d",
            "ExpressionAttributeValues": {":d": _n(delta)},
        }
        if bucket == windows.ALL_TIME:
            update["UpdateExpression"] += ", v :one"
            update["ExpressionAttributeValues"][":one"] = _n(1)
        else:
            update["UpdateExpression"] += " SET expires_at = :exp"
            update["ExpressionAttributeValues"][":exp"] = _n(windows.bucket_expiry(bucket, t))
        if delta < 0:
            update["ConditionExpression"] = "n >= :min"
            update["ExpressionAttributeValues"][":min"] = _n(-delta)
        return {"Update": update}

    # ---- reads --------------------------------------------------------------

    def current_counts(self, workspace: str, emoji: str, touched: List[str],
                       now: float) -> List[Change]:
        """The emoji's new total in every window that `touched` buckets belong to.

        The buckets are read with TransactGetItems in chunks that each include the
        all-time item. Every change to the emoji bumps its version there in the same
        transaction, so chunks that agree on the version form one consistent snapshot.
        """
        per_window = windows.windows_touched(touched, now)
        others = [b for b in dict.fromkeys(b for bs in per_window.values() for b in bs)
                  if b != windows.ALL_TIME]
        step = TRANSACT_GET_LIMIT - 1
        chunks = [others[i:i + step] for i in range(0, len(others), step)] or [[]]
        for _ in range(MAX_ATTEMPTS):
            counts, versions = {}, set()
            for chunk_counts, version in _READ_POOL.map(
                    lambda chunk: self._read_buckets(workspace, emoji, chunk), chunks):
                counts.update(chunk_counts)
                versions.add(version)
            if len(versions) == 1:
                version = versions.pop()
                return [Change(emoji, window, max(0, sum(counts[b] for b in members)), version)
                        for window, members in per_window.items()]
        raise RuntimeError(f"counts of {emoji} kept changing while being read")

    def _read_buckets(self, workspace: str, emoji: str, buckets: List[str]):
        """One atomic read of the emoji's all-time item and `buckets`: (counts, version)."""
        wanted = [windows.ALL_TIME] + buckets
        response = self._db.transact_get_items(TransactItems=[
            {"Get": {"TableName": self._table,
                     "Key": {"pk": {"S": counter_pk(workspace, b)}, "sk": {"S": emoji}}}}
            for b in wanted])
        items = [entry.get("Item") or {} for entry in response["Responses"]]
        counts = {b: int(item.get("n", {"N": "0"})["N"]) for b, item in zip(wanted, items)}
        return counts, int(items[0].get("v", {"N": "0"})["N"])

    def leaderboard(self, workspace: str, window: str, limit: int) -> "Standings":
        """The window's rows by count descending, then name, emoji at 0 left out, each
        with the emoji's version; and the window's total over every emoji."""
        totals: Dict[str, int] = defaultdict(int)
        all_time = counter_pk(workspace, windows.ALL_TIME)
        pks = [counter_pk(workspace, b) for b in windows.buckets(window, self._clock())]
        partitions = list(_READ_POOL.map(self._read_partition, pks))
        for partition in partitions:
            for emoji, n, _ in partition:
                totals[emoji] += n
        # Versions are read after the counts (or with them, for `all`), so a row's
        # version is never older than its count: a page that drops updates older than
        # the version it holds can then never drop a newer count.
        latest = partitions[0] if pks == [all_time] else self._read_partition(all_time)
        versions = {emoji: v for emoji, _, v in latest}
        rows = sorted(((e, n) for e, n in totals.items() if n > 0), key=lambda r: (-r[1], r[0]))
        return Standings(
            rows=[{"emoji": e, "count": n, "version": versions.get(e, 0)} for e, n in rows[:limit]],
            total=sum(n for _, n in rows))

    def _read_partition(self, pk: str) -> List[tuple]:
        """(emoji, count, version) of every counter in one bucket partition."""
        paginator = self._db.get_paginator("query")
        found = []
        for page in paginator.paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
                ProjectionExpression="sk, n, v"):
            found += [(i["sk"]["S"], int(i.get("n", {"N": "0"})["N"]),
                       int(i.get("v", {"N": "0"})["N"])) for i in page["Items"]]
        return found


@dataclass(frozen=True)
class Standings:
    rows: List[dict]  # {"emoji", "count", "version"}
    total: int        # over every emoji in the window, not only the rows


def _transition(current: Optional[dict], event: Reaction, now: float):
    """What this event does to its reaction: (delta, bucket time, new state).

    A reaction is `added` or `removed`, moving only forward in Slack's event time,
    so a reordered or replayed delivery counts nothing. A removal of a reaction we
    never counted (added before install) counts nothing: no count goes below zero.
    """
    t = min(event.event_time, now)  # a clock ahead of ours must not pick a future bucket
    state = current["state"]["S"] if current else None
    last = float(current["ts"]["N"]) if current else 0.0
    if event.added:
        if state == "added" or (state == "removed" and t <= last):
            return 0, t, _keep(current)
        return 1, t, {"state": {"S": "added"}, "ts": _n_float(t), "added_at": _n_float(t)}
    if state == "added" and t >= last:
        added_at = float(current["added_at"]["N"])
        return -1, added_at, _tombstone(t, now)
    if state is None:
        return 0, t, _tombstone(t, now)
    return 0, t, _keep(current)


def _tombstone(t: float, now: float) -> dict:
    return {"state": {"S": "removed"}, "ts": _n_float(t),
            "expires_at": _n(int(now) + TOMBSTONE_TTL)}


def _keep(current: dict) -> dict:
    return {k: v for k, v in current.items() if k not in ("pk", "sk", "ver")}


def _n_float(t: float) -> dict:
    return {"N": repr(round(t, 6))}
