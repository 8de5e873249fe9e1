"""Counted changes to the dashboards: the new absolute counts of the emoji that
changed, in one `update` to every open dashboard.

Two ways in, chosen by FANOUT_MODE:
  inline  the Slack route pushes each counted event itself (`push`), before replying;
  stream  the counts table's stream handler folds a batch of stream records into one
          update per dashboard (`from_stream`), so a burst of events costs one push per
          dashboard per batch instead of one per event.
"""
import logging
from typing import Dict, Iterable, List, Mapping, Optional, Set

from . import messages
from .broadcast import FanoutReport
from .counts import counter_pk
from .emoji import safe_decorate
from .services import Services

log = logging.getLogger(__name__)

# The stream handler's event source mapping. A counted event writes about five items
# (dedupe record, reaction, three counters), so a batch holds up to ~200 events; the
# window (Lambda takes whole seconds) bounds how long a change waits to be batched.
STREAM_BATCH_SIZE = 1000
STREAM_BATCH_WINDOW_S = 1


def push(services: Services, changed: Mapping[str, Iterable[str]], at: float,
         wait_for_all: bool = False) -> Optional[FanoutReport]:
    """Send every dashboard the counts of the `changed` emoji (emoji -> the buckets
    written) in each window those buckets belong to at time `at`. Store errors
    propagate (nothing was sent); push failures are the broadcaster's to log."""
    if not changed:
        return None
    dashboards = services.connections.list_ids()
    if not dashboards:  # the new totals cost reads: only when someone is watching
        return None
    rows: List[dict] = []
    for emoji, touched in changed.items():
        rows += [c.to_json() for c in
                 services.counts.current_counts(services.workspace, emoji, list(touched), at)]
    rows = safe_decorate(services.emoji, services.workspace, rows)
    return services.broadcaster.broadcast(messages.update(rows), dashboards,
                                          wait_for_all=wait_for_all)


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


def from_stream(records: List[dict], services: Services, now: float) -> Optional[FanoutReport]:
    """The stream handler's work: one update for the whole batch. A store error
    raises, so Lambda delivers the batch again; the counts it pushes are absolute and
    versioned, so a batch pushed twice changes nothing on a dashboard."""
    changed = changed_counters(records, services.workspace)
    if changed:
        log.info("stream batch: %d records, %d emoji changed", len(records), len(changed))
    # Nobody waits on this reply, so every send is finished before returning: Lambda
    # freezes a container between invocations, and a send left running would stall.
    return push(services, changed, now, wait_for_all=True)
