"""Open dashboard WebSocket connections, one item each in the connections table.

  pk       sk               attributes
  CONN     {connectionId}   topic, grant, connected_at, expires_at (TTL), ask_window, asks

All connections share one partition, so the fan-out lists them, grouped by the topic
each subscribes to, with a single Query. A topic names the view a page shows
(`views.View.topic`: `emoji/7d`, `givers/all`, `emoji/24h/channel=C123`), so all of a
topic's pages get the same update. A page subscribes with each snapshot it asks
for; until then it has `emoji`: the emoji board in every window, as pages of earlier
releases expect (records without a topic are theirs too). `grant` is how the page
got in (chalicelib/access.py: `person:{session}`, `screen:{link}` or `public`), so
ending a session or revoking a link finds its open pages.
"""
import time
from typing import Dict, List

from botocore.exceptions import ClientError

# API Gateway closes every WebSocket after 2 hours; keep the record a while past
# that so TTL only ever removes connections that are certainly gone.
CONNECTION_TTL = 3 * 3600
PARTITION = "CONN"
EVERY_WINDOW = "emoji"  # views.EVERY_WINDOW (imported there: this module is lower)
# What one dashboard may ask: a page sends a snapshot request when it connects or
# opens a tab, and a ping a minute; a loop sending more only loads the store for
# everyone. API Gateway's stage throttling is per route, not per connection.
ASK_LIMIT = 20
ASK_WINDOW_SECONDS = 10


class ConnectionStore:
    def __init__(self, client, table: str, clock=time.time):
        self._db = client
        self._table = table
        self._clock = clock

    def add(self, connection_id: str, grant: str = "public") -> None:
        now = int(self._clock())
        self._db.put_item(TableName=self._table, Item={
            "pk": {"S": PARTITION}, "sk": {"S": connection_id}, "topic": {"S": EVERY_WINDOW},
            "grant": {"S": grant},
            "connected_at": {"N": str(now)}, "expires_at": {"N": str(now + CONNECTION_TTL)},
        })

    def subscribe(self, connection_id: str, topic: str) -> bool:
        """Point the connection's updates at `topic`; False if it is gone. Done before
        the snapshot is read, so every change committed after that read reaches it."""
        try:
            self._db.update_item(
                TableName=self._table, Key={"pk": {"S": PARTITION}, "sk": {"S": connection_id}},
                UpdateExpression="SET topic = :t", ConditionExpression="attribute_exists(sk)",
                ExpressionAttributeValues={":t": {"S": topic}})
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def admit(self, connection_id: str) -> str:
        """Count one message from a dashboard against its allowance: "ok"; "limited"
        for the first message over it in a window (answer it, once); "quiet" for the
        rest (drop them); "gone" when the connection has disconnected (do no work for
        it). One conditional write, two when a window already has messages."""
        now = int(self._clock())
        window = {"N": str(now - now % ASK_WINDOW_SECONDS)}
        key = {"pk": {"S": PARTITION}, "sk": {"S": connection_id}}
        try:  # the window's first message
            self._db.update_item(
                TableName=self._table, Key=key, UpdateExpression="SET ask_window = :w, asks = :one",
                ConditionExpression="attribute_exists(sk) AND "
                                    "(attribute_not_exists(ask_window) OR ask_window <> :w)",
                ExpressionAttributeValues={":w": window, ":one": {"N": "1"}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return "ok"
        except ClientError as error:
            if not _condition_failed(error):
                raise
            if "Item" not in error.response:
                return "gone"
        try:  # a later message in the same window
            asks = int(self._db.update_item(
                TableName=self._table, Key=key, UpdateExpression="ADD asks :one",
                ConditionExpression="attribute_exists(sk) AND ask_window = :w",
                ExpressionAttributeValues={":w": window, ":one": {"N": "1"}},
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD")["Attributes"]["asks"]["N"])
        except ClientError as error:
            if not _condition_failed(error):
                raise
            # Gone meanwhile, or another message just opened the next window.
            return "ok" if "Item" in error.response else "gone"
        if asks <= ASK_LIMIT:
            return "ok"
        return "limited" if asks == ASK_LIMIT + 1 else "quiet"

    def remove(self, connection_id: str) -> None:
        self._db.delete_item(TableName=self._table,
                             Key={"pk": {"S": PARTITION}, "sk": {"S": connection_id}})

    def subscribers(self) -> Dict[str, List[str]]:
        """Open connections by topic. Strongly consistent, so a page whose connection
        was written before a change was committed is listed for that change's update
        (the page's snapshot covers everything committed before)."""
        # TTL deletes lazily (up to days late), so expired records are filtered here.
        topics: Dict[str, List[str]] = {}
        for page in self._db.get_paginator("query").paginate(
                TableName=self._table, ConsistentRead=True,
                KeyConditionExpression="pk = :pk",
                FilterExpression="expires_at > :now",
                ExpressionAttributeValues={":pk": {"S": PARTITION},
                                           ":now": {"N": str(int(self._clock()))}},
                ProjectionExpression="sk, topic"):
            for item in page["Items"]:
                topic = item.get("topic", {}).get("S", EVERY_WINDOW)
                topics.setdefault(topic, []).append(item["sk"]["S"])
        return topics


    def with_grant(self, grant: str) -> List[str]:
        """The open connections that came in with `grant` (a sign-out or a revoked
        link: rare, so one Query of the partition, filtered, is fine)."""
        found = []
        for page in self._db.get_paginator("query").paginate(
                TableName=self._table, ConsistentRead=True,
                KeyConditionExpression="pk = :pk", FilterExpression="#g = :g",
                ExpressionAttributeNames={"#g": "grant"},
                ExpressionAttributeValues={":pk": {"S": PARTITION}, ":g": {"S": grant}},
                ProjectionExpression="sk"):
            found.extend(item["sk"]["S"] for item in page["Items"])
        return found


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
