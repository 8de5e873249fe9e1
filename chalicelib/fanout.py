"""Counted changes to the dashboards: one path, fed by the counts table's stream.

  stream batch -> which emoji changed (`changed_counters`)
               -> per topic, one update with their new absolute counts (`updates`)
               -> the topic's connections in shards of FANOUT_SHARD_SIZE (`shards.split`)
               -> the stream handler pushes the first shard and queues the rest
               -> `push_shard` pushes each queued shard, as many in parallel as there are

A burst of events costs one push per dashboard per batch, not per event: a batch
forms while the previous one is pushed. Pushes are absolute and versioned, so a batch
or a shard delivered twice (Lambda retries) changes nothing on a dashboard.
"""
import logging
from typing import Dict, Iterable, List, Mapping, Optional, Set

from . import messages
from .broadcast import FanoutReport
from .connections import EMOJI_BOARD
from .counts import counter_pk
from .emoji import safe_decorate
from .services import Services
from .shards import Shard, split

log = logging.getLogger(__name__)

# The stream handler's event source mapping. A counted event writes about five items
# (dedupe record, reaction, three counters), so a batch holds up to ~200 events. No
# batching window: Lambda invokes as soon as it has records, and while one batch is
# pushed the next gathers (one batch at a time per stream shard), so the batch size
# grows with the load by itself (docs/performance.md has the measurement).
STREAM_BATCH_SIZE = 1000
STREAM_BATCH_WINDOW_S = 0


def changed_counters(records: Iterable[dict], workspace: str) -> Dict[str, Set[str]]:
    """Which emoji's counters the stream records wrote, and in which buckets.

    Only keys are read (the stream is KEYS_ONLY): every counted event writes the
    emoji's all-time item and its hour and day buckets; other items (dedupe records,
    reactions, the emoji catalog) and TTL deletions of old buckets change no count
    a dashboard shows, so they are skipped."""
    prefix = counter_pk(workspace, "")
    changed: Dict[str, Set[str]] = {}
    for record in records:
        if record.get("eventName") not in ("INSERT", "MODIFY"):
            continue
        keys = record.get("dynamodb", {}).get("Keys", {})
        pk, sk = keys.get("pk", {}).get("S", ""), keys.get("sk", {}).get("S")
        if pk.startswith(prefix) and sk:
            changed.setdefault(sk, set()).add(pk[len(prefix):])
    return changed


def updates(services: Services, changed: Mapping[str, Iterable[str]], at: float,
            topics: Iterable[str]) -> Dict[str, List[bytes]]:
    """The update messages of each topic that has subscribers: the counts of the
    `changed` emoji (emoji -> buckets written) in each window those buckets belong to
    at time `at`. A topic this code does not know (a page of a newer release) gets
    nothing. Store errors propagate."""
    result: Dict[str, List[bytes]] = {}
    if EMOJI_BOARD in topics:
        rows: List[dict] = []
        for emoji, touched in changed.items():
            rows += [c.to_json() for c in
                     services.counts.current_counts(services.workspace, emoji, list(touched), at)]
        result[EMOJI_BOARD] = messages.update(safe_decorate(services.emoji, services.workspace, rows))
    return result


def from_stream(records: List[dict], services: Services, now: float) -> Optional[FanoutReport]:
    """The stream handler's work. A store or queue error raises, so Lambda delivers
    the batch again. Every send is finished before returning: Lambda freezes a
    container between invocations, and a send left running would stall."""
    changed = changed_counters(records, services.workspace)
    if not changed:
        return None
    audience = services.connections.subscribers()
    if not audience:  # the new totals cost reads: only when someone is watching
        return None
    shards = split(updates(services, changed, now, audience), audience,
                   services.settings.fanout_shard_size)
    if not shards:
        return None
    log.info("stream batch: %d records, %d emoji changed, %d dashboards in %d shards",
             len(records), len(changed), sum(map(len, audience.values())), len(shards))
    if services.push_queue is None:  # no queue configured: push every shard here
        return sum((push(shard, services) for shard in shards), FanoutReport(0, 0, 0))
    if len(shards) > 1:  # queued first, so the pushers start while this one pushes
        services.push_queue.send(shards[1:])
    return push(shards[0], services)


def push_shard(body: str, services: Services) -> FanoutReport:
    """The push queue's handler: one shard, as the stream handler queued it."""
    shard = Shard.from_body(body)
    report = push(shard, services)
    log.info("pushed a queued shard: %d dashboards, %s", len(shard.connections), report)
    return report


def push(shard: Shard, services: Services) -> FanoutReport:
    return services.broadcaster.broadcast(shard.messages, shard.connections)
