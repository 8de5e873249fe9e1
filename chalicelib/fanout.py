"""Counted changes to the dashboards: one path, fed by the counts table's stream.

  stream batch -> which counters changed (`changed_counters`)
               -> per topic (a view pages show), one update with the new absolute
                  counts of its board's changed keys in its window (`updates`)
               -> the topic's connections in shards of FANOUT_SHARD_SIZE (`shards.split`)
               -> the stream handler pushes the first shard and queues the rest
               -> `push_shard` pushes each queued shard, as many in parallel as there are

A burst of events costs one push per dashboard per batch, not per event: a batch
forms while the previous one is pushed. Pushes are absolute and versioned, so a batch
or a shard delivered twice (Lambda retries) changes nothing on a dashboard.
"""
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterable, List, Optional, Set, Tuple

from . import logs, messages, metrics
from .broadcast import FanoutReport
from .counts import counter_pk
from .queries import dress, public_channels
from .services import Services
from .shards import Shard, split
from .views import PEOPLE, PERSON_FILTERS, View, from_topic
from .windows import ALL_TIME, WINDOWS

log = logging.getLogger(__name__)

# The stream handler's event source mapping. A counted event writes up to 25 items
# (dedupe record, reaction, 23 counters: docs/architecture.md), so a batch of
# 10,000 records (Lambda's most for a DynamoDB stream) holds 400 events or more. No
# batching window: Lambda invokes as soon as it has records, and while one batch is
# pushed the next gathers (one batch at a time per stream shard), so the batch size
# grows with the load by itself (docs/performance.md has the measurement).
STREAM_BATCH_SIZE = 10000
STREAM_BATCH_WINDOW_S = 0
# Each changed key of each watched board is one consistent read of its buckets.
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fanout-read")


Changed = Dict[Tuple[str, str], Set[str]]  # (scope, key) -> buckets written


def changed_counters(records: Iterable[dict], workspace: str) -> Changed:
    """Which counters the stream records wrote: (scope, key) -> buckets.

    Only keys are read (the stream is KEYS_ONLY): a counted event writes each of its
    boards' all-time item and hour and day buckets (docs/architecture.md); other items
    (dedupe records, reactions, the emoji catalog, the directory) and TTL deletions of
    old buckets change no count a dashboard shows, so they are skipped."""
    prefix = counter_pk(workspace, "", "")[:-1]  # "C#{workspace}#"
    changed: Changed = {}
    for record in records:
        if record.get("eventName") not in ("INSERT", "MODIFY"):
            continue
        keys = record.get("dynamodb", {}).get("Keys", {})
        pk, sk = keys.get("pk", {}).get("S", ""), keys.get("sk", {}).get("S")
        if not (pk.startswith(prefix) and sk):
            continue
        rest = pk[len(prefix):]  # "{scope}#ALL" or "{scope}#H#2026-11-23T14"
        if rest.endswith("#" + ALL_TIME):
            scope, bucket = rest[:-len(ALL_TIME) - 1], ALL_TIME
        else:
            scope, kind, stamp = rest.rsplit("#", 2)
            bucket = f"{kind}#{stamp}"
        changed.setdefault((scope, sk), set()).add(bucket)
    return changed


def updates(services: Services, changed: Changed, at: float,
            topics: Iterable[str]) -> Dict[str, List[bytes]]:
    """The update messages of each topic that has subscribers: the absolute counts,
    in the topic's window, of the topic's board's keys that `changed`, dressed as its
    rows are. Topics sharing a board and window share the reads. A topic this code
    does not know (a page of a newer release) or whose keys did not change gets
    nothing. Store errors propagate."""
    wanted: Dict[str, View] = {}
    for topic in topics:
        view = from_topic(topic)
        if view is not None and _allowed(view, services):
            wanted[topic] = view
    # A channel learned to be private after a page subscribed to it gets no more.
    narrowed = [v.narrowed[1] for v in wanted.values() if v.narrowed and v.narrowed[0] == "channel"]
    if narrowed:
        public = public_channels(services, narrowed)
        wanted = {t: v for t, v in wanted.items()
                  if not (v.narrowed and v.narrowed[0] == "channel" and v.narrowed[1] not in public)}
    # One consistent read per changed key, of the windows its topics show.
    reads: Dict[Tuple[str, str], Set[str]] = {}
    for view in wanted.values():
        for scope, key in changed:
            if scope == view.scope:
                reads.setdefault((scope, key), set()).update(
                    WINDOWS if view.window is None else [view.window])
    found = dict(zip(reads, _POOL.map(
        lambda read: services.counts.current_counts(
            services.workspace, read[0], read[1], list(changed[read]), at, wanted=reads[read]),
        reads)))
    result: Dict[str, List[bytes]] = {}
    for topic, view in wanted.items():
        rows = [{view.row_key: c.key, "count": c.count, "window": c.window,
                 "version": c.version}
                for (scope, _), changes in found.items() if scope == view.scope
                for c in changes if view.window in (None, c.window)]
        rows = _visible(services, view, rows)
        if rows:
            result[topic] = messages.update(view.head(), dress(services, view, rows))
    return result


def _allowed(view: View, services: Services) -> bool:
    """People topics are refused at subscription while PEOPLE_BOARDS is off; a record
    from before the switch still gets nothing."""
    return services.settings.people_boards or not (
        view.board in PEOPLE or (view.narrowed and view.narrowed[0] in PERSON_FILTERS))


def _visible(services: Services, view: View, rows: List[dict]) -> List[dict]:
    """The rows a page of this view may see: the channel board never names a private
    conversation; the unused board is about custom emoji only."""
    if view.board == "channels":
        public = public_channels(services, [r["channel"] for r in rows])
        return [r for r in rows if r["channel"] in public]
    if view.board == "unused":
        custom = services.emoji.custom(services.workspace)
        return [r for r in rows if r["emoji"] in custom]
    return rows


def committed_at(records: Iterable[dict]) -> Optional[float]:
    """When the oldest change in a batch was committed: its stream record's
    ApproximateCreationDateTime, epoch seconds rounded down ("StreamRecord", DynamoDB
    Streams API reference), so a latency measured from it may read up to 1 s high."""
    times = [record["dynamodb"]["ApproximateCreationDateTime"] for record in records
             if record.get("eventName") in ("INSERT", "MODIFY")  # not TTL's deletions
             and isinstance(record.get("dynamodb", {}).get("ApproximateCreationDateTime"),
                            (int, float))]
    return min(times) if times else None


def from_stream(records: List[dict], services: Services, now: float) -> Optional[FanoutReport]:
    """The stream handler's work. A store or queue error raises, so Lambda delivers
    the batch again. Every send is finished before returning: Lambda freezes a
    container between invocations, and a send left running would stall."""
    logs.count(metrics.STREAM_BATCH_SIZE, len(records))
    changed = changed_counters(records, services.workspace)
    if not changed:
        return None
    audience = services.connections.subscribers()
    logs.count(metrics.DASHBOARDS_OPEN, sum(map(len, audience.values())))
    if not audience:  # the new totals cost reads: only when someone is watching
        return None
    shards = split(updates(services, changed, now, audience), audience,
                   services.settings.fanout_shard_size, committed_at(records))
    logs.note(changed=len(changed), shards=len(shards))
    if not shards:
        return None
    if services.push_queue is None:  # no queue configured: push every shard here
        return sum((push(shard, services) for shard in shards), FanoutReport(0, 0, 0))
    if len(shards) > 1:  # queued first, so the pushers start while this one pushes
        services.push_queue.send(shards[1:])
    return push(shards[0], services)


def push_shard(body: str, services: Services) -> FanoutReport:
    """The push queue's handler: one shard, as the stream handler queued it."""
    return push(Shard.from_body(body), services)


def push(shard: Shard, services: Services) -> FanoutReport:
    """One shard pushed, and measured: pushes by result, and the time from the commit
    to this shard's last page (the fan-out's latency, when the shard knows the commit)."""
    report = services.broadcaster.broadcast(shard.messages, shard.connections)
    logs.count(metrics.PUSHES_SENT, report.sent)
    logs.count(metrics.PUSHES_GONE, report.gone)
    logs.count(metrics.PUSHES_FAILED, report.failed)
    if shard.committed is not None and report.sent:
        logs.count(metrics.FANOUT_LATENCY, round((time.time() - shard.committed) * 1000))
    return report
