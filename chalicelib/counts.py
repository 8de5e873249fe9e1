"""Emoji counters in DynamoDB: exactly-once counting and leaderboard reads.

Table layout (see docs/architecture.md for the full picture):

  pk                                  sk               what
  C#{workspace}#{scope}#ALL           {key}            all-time count n, version v
  C#{workspace}#{scope}#H#{hour}      {key}            count n in that UTC hour (TTL)
  C#{workspace}#{scope}#D#{day}       {key}            count n on that UTC day (TTL)
  C#{workspace}#all#M#{month}         {emoji}          count n in that UTC month (TTL)
  R#{workspace}#{item}                {user}#{reaction} one reaction's state
  E#{workspace}#{event_id}            E                dedupe record (TTL)

A scope is one board: `all` (the workspace's emoji), `C:{channel}`, `G:{giver}`,
`R:{receiver}` (emoji narrowed to one of them), and `channels`, `givers`,
`receivers` (whose keys are channel and user ids). Every counted event is ONE
TransactWriteItems: the dedupe record, the reaction's new state (guarded by its
version), a check that the reacting user is no bot, and every counter change
commit together or not at all. Only GetItem, Query and TransactGetItems are used to read: no Scan.
Boto3 *clients* only: Chalice's policy generator does not see resource calls.
"""
import logging
import random
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

from botocore.exceptions import ClientError

from . import windows
from .directory import BOTS_ATTRIBUTE, bots_key
from .slack_events import Reaction

log = logging.getLogger(__name__)

SCOPE = "all"  # the workspace's emoji board
CHANNELS, GIVERS, RECEIVERS = "channels", "givers", "receivers"
DEDUPE_TTL = 2 * windows.DAY  # Slack retries for about an hour at most
TOMBSTONE_TTL = 7 * windows.DAY
MAX_ATTEMPTS = 10  # optimistic-concurrency retries: events racing on one reaction or counter
# AWS allows 100 items per TransactGetItems, moto only 25: use what both serve.
TRANSACT_GET_LIMIT = 25
_READ_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="counts-read")


@dataclass(frozen=True)
class Change:
    """The absolute new count of one key (an emoji, a channel, a person) of a board
    in one window."""
    key: str
    window: str
    count: int
    version: int  # grows with every change of this key: newer wins on a dashboard


@dataclass(frozen=True)
class Outcome:
    status: str  # "counted", "duplicate" (same event_id seen), "unchanged" or "bot"
    emoji: str
    touched: List[str]  # the buckets whose counts changed
    at: float  # when it was counted: decides which windows the buckets belong to


def counter_pk(workspace: str, bucket: str, scope: str = SCOPE) -> str:
    return f"C#{workspace}#{scope}#{bucket}"


def counters_of(event: Reaction) -> List[Tuple[str, str]]:
    """(scope, key) of every counter the reaction moves: the workspace's emoji, the
    emoji of its channel, giver and receiver, and the channel, giver and receiver
    boards. A file has no channel; an event without item_user has no receiver."""
    emoji, found = event.emoji, [(SCOPE, event.emoji)]
    if event.channel:
        found += [(f"C:{event.channel}", emoji), (CHANNELS, event.channel)]
    found += [(f"G:{event.user}", emoji), (GIVERS, event.user)]
    if event.item_user:
        found += [(f"R:{event.item_user}", emoji), (RECEIVERS, event.item_user)]
    return found


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
                if len(reasons) > 2 and reasons[2].get("Code") == "ConditionalCheckFailed":
                    return Outcome("bot", event.emoji, [], now)  # counted nowhere
                if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons[3:]):
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
                    # Full jitter: events on one popular emoji share its counters, and
                    # retrying in lockstep would conflict again.
                    time.sleep(random.uniform(0, min(0.25, 0.01 * 2 ** attempt)))
                continue
            return Outcome("counted" if delta else "unchanged", event.emoji, touched, now)
        raise RuntimeError(f"event {event.event_id} kept conflicting; Slack will retry it")

    def transaction(self, event: Reaction, workspace: str, current: Optional[dict],
                    now: float):
        """The one TransactWriteItems that counts `event`, given the reaction's
        `current` record: (items, delta, the workspace emoji's touched buckets).

        Items, in this order (a cancellation's reasons are read by position): the
        dedupe record, the reaction, the not-a-bot check, the counters. Every board's
        counters share the hour and day buckets; only the workspace's emoji have
        months (the 12-month trend)."""
        delta, bucket_time, new_state = _transition(current, event, now)
        touched = windows.buckets_for_event(bucket_time, now, months=True) if delta else []
        items = [dedupe_put(self._table, workspace, event.event_id, now),
                 self._reaction_put(_reaction_key(event, workspace), current, new_state),
                 self._not_a_bot(workspace, event.user)]
        for scope, key in counters_of(event) if delta else []:
            items += [self._counter_update(workspace, scope, key, b, delta, bucket_time)
                      for b in touched if scope == SCOPE or not b.startswith("M#")]
        return items, delta, touched

    def _not_a_bot(self, workspace: str, user: str) -> dict:
        """Reactions by bots count nowhere. Which users are bots is kept in one item
        (chalicelib/directory.py, from users.list and user events), checked inside the
        transaction: no extra call on the Slack route, and no stale copy in memory."""
        return {"ConditionCheck": {
            "TableName": self._table, "Key": bots_key(workspace),
            "ConditionExpression": "attribute_not_exists(#ids) OR NOT contains(#ids, :user)",
            "ExpressionAttributeNames": {"#ids": BOTS_ATTRIBUTE},
            "ExpressionAttributeValues": {":user": {"S": user}},
        }}

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

    def _counter_update(self, workspace: str, scope: str, key: str, bucket: str,
                        delta: int, t: float) -> dict:
        update = {
            "TableName": self._table,
            "Key": {"pk": {"S": counter_pk(workspace, bucket, scope)}, "sk": {"S": key}},
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

    def current_counts(self, workspace: str, scope: str, key: str, touched: List[str],
                       now: float, wanted: Iterable[str] = windows.WINDOWS) -> List[Change]:
        """The key's new count in each `wanted` window that `touched` buckets belong to.

        The buckets are read with TransactGetItems in chunks that each include the
        all-time item. Every change to the key bumps its version there in the same
        transaction, so chunks that agree on the version form one consistent snapshot.
        """
        per_window = {w: members for w, members in windows.windows_touched(touched, now).items()
                      if w in wanted}
        others = [b for b in dict.fromkeys(b for bs in per_window.values() for b in bs)
                  if b != windows.ALL_TIME]
        if not per_window:
            return []
        step = TRANSACT_GET_LIMIT - 1
        chunks = [others[i:i + step] for i in range(0, len(others), step)] or [[]]
        for _ in range(MAX_ATTEMPTS):
            counts, versions = {}, set()
            for chunk_counts, version in _READ_POOL.map(
                    lambda chunk: self._read_buckets(workspace, scope, key, chunk), chunks):
                counts.update(chunk_counts)
                versions.add(version)
            if len(versions) == 1:
                version = versions.pop()
                return [Change(key, window, max(0, sum(counts[b] for b in members)), version)
                        for window, members in per_window.items()]
        raise RuntimeError(f"counts of {key} kept changing while being read")

    def _read_buckets(self, workspace: str, scope: str, key: str, buckets: List[str]):
        """One atomic read of the key's all-time item and `buckets`: (counts, version)."""
        wanted = [windows.ALL_TIME] + buckets
        response = self._db.transact_get_items(TransactItems=[
            {"Get": {"TableName": self._table,
                     "Key": {"pk": {"S": counter_pk(workspace, b, scope)}, "sk": {"S": key}}}}
            for b in wanted])
        items = [entry.get("Item") or {} for entry in response["Responses"]]
        counts = {b: int(item.get("n", {"N": "0"})["N"]) for b, item in zip(wanted, items)}
        return counts, int(items[0].get("v", {"N": "0"})["N"])

    def leaderboard(self, workspace: str, window: str, limit: Optional[int],
                    scope: str = SCOPE, keep: Optional[Callable[[List[str]], Set[str]]] = None
                    ) -> "Standings":
        """The window's rows by count descending, then key, keys at 0 left out, each
        with its version; and the window's total over every key. `keep`, given the
        keys with a count, says which may be shown (the channel board leaves private
        conversations out): the others count in neither rows nor total."""
        totals: Dict[str, int] = defaultdict(int)
        all_time = counter_pk(workspace, windows.ALL_TIME, scope)
        pks = [counter_pk(workspace, b, scope) for b in windows.buckets(window, self._clock())]
        partitions = list(_READ_POOL.map(self._read_partition, pks))
        for partition in partitions:
            for key, n, _ in partition:
                totals[key] += n
        # Versions are read after the counts (or with them, for `all`), so a row's
        # version is never older than its count: a page that drops updates older than
        # the version it holds can then never drop a newer count.
        latest = partitions[0] if pks == [all_time] else self._read_partition(all_time)
        versions = {key: v for key, _, v in latest}
        rows = [(k, n) for k, n in totals.items() if n > 0]
        if keep is not None:
            shown = keep([k for k, _ in rows])
            rows = [(k, n) for k, n in rows if k in shown]
        rows.sort(key=lambda r: (-r[1], r[0]))
        return Standings(
            rows=[{"key": k, "count": n, "version": versions.get(k, 0)}
                  for k, n in (rows if limit is None else rows[:limit])],
            total=sum(n for _, n in rows), size=len(rows))

    def versions(self, workspace: str, scope: str = SCOPE) -> Dict[str, int]:
        """Every key's version (its all-time item's `v`) on one board."""
        return {key: v for key, _, v in
                self._read_partition(counter_pk(workspace, windows.ALL_TIME, scope))}

    def bucket_counts(self, workspace: str, buckets: List[str], key: Optional[str]
                      ) -> Dict[str, int]:
        """The workspace's emoji count in each bucket: of one emoji (`key`), or of
        every emoji (each bucket's partition summed). For the trend chart."""
        if key is not None:
            return dict(_READ_POOL.map(lambda b: (b, self._read_one(workspace, b, key)), buckets))
        return dict(_READ_POOL.map(
            lambda b: (b, sum(n for _, n, _ in self._read_partition(counter_pk(workspace, b)))),
            buckets))

    def sums(self, workspace: str, buckets: List[str]) -> Dict[str, int]:
        """Every emoji's count summed over `buckets` (the `all` scope)."""
        totals: Dict[str, int] = defaultdict(int)
        for partition in _READ_POOL.map(self._read_partition,
                                        [counter_pk(workspace, b) for b in buckets]):
            for key, n, _ in partition:
                totals[key] += n
        return dict(totals)

    def _read_one(self, workspace: str, bucket: str, key: str) -> int:
        item = self._db.get_item(TableName=self._table, ProjectionExpression="n",
                                 Key={"pk": {"S": counter_pk(workspace, bucket)},
                                      "sk": {"S": key}}).get("Item") or {}
        return int(item.get("n", {"N": "0"})["N"])

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
    rows: List[dict]  # {"key", "count", "version"}
    total: int        # over every key in the window, not only the rows
    size: int         # how many keys have a count: more than the rows when cut


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
