"""Open dashboard WebSocket connections, one item each in the connections table.

  pk       sk               attributes
  CONN     {connectionId}   connected_at, expires_at (TTL)

All connections share one partition so a broadcast lists them with a single Query.
"""
import time
from typing import List

# API Gateway closes every WebSocket after 2 hours; keep the record a while past
# that so TTL only ever removes connections that are certainly gone.
CONNECTION_TTL = 3 * 3600
PARTITION = "CONN"


class ConnectionStore:
    def __init__(self, client, table: str, clock=time.time):
        self._db = client
        self._table = table
        self._clock = clock

    def add(self, connection_id: str) -> None:
        now = int(self._clock())
        self._db.put_item(TableName=self._table, Item={
            "pk": {"S": PARTITION}, "sk": {"S": connection_id},
            "connected_at": {"N": str(now)}, "expires_at": {"N": str(now + CONNECTION_TTL)},
        })

    def remove(self, connection_id: str) -> None:
        self._db.delete_item(TableName=self._table,
                             Key={"pk": {"S": PARTITION}, "sk": {"S": connection_id}})

    def list_ids(self) -> List[str]:
        # TTL deletes lazily (up to days late), so expired records are filtered here.
        ids = []
        for page in self._db.get_paginator("query").paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                FilterExpression="expires_at > :now",
                ExpressionAttributeValues={":pk": {"S": PARTITION},
                                           ":now": {"N": str(int(self._clock()))}},
                ProjectionExpression="sk"):
            ids += [item["sk"]["S"] for item in page["Items"]]
        return ids
