"""The DynamoDB tables the app expects: one definition for every environment."""
import logging

log = logging.getLogger(__name__)

DEFAULT_NAMES = {"counts": "emojiboard-counts", "connections": "emojiboard-connections"}
TTL_ATTRIBUTE = "expires_at"
# The counts table's stream feeds the fan-out. Keys are all the handler reads (which
# emoji, which bucket), so the records stay small.
COUNTS_STREAM = {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}


def definition(name: str, stream: bool = False) -> dict:
    """Both tables: string partition key `pk`, string sort key `sk`, on-demand; the
    counts table (`stream=True`) also keeps a stream of the keys it writes."""
    d = {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "sk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                      {"AttributeName": "sk", "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if stream:
        d["StreamSpecification"] = dict(COUNTS_STREAM)
    return d


def ensure(client, counts: str, connections: str) -> None:
    """Create each table (with TTL on) unless it exists; the counts table keeps a
    stream (one made without it gets it)."""
    existing = set()
    for page in client.get_paginator("list_tables").paginate():
        existing.update(page["TableNames"])
    for name, with_stream in ((counts, True), (connections, False)):
        if name in existing:
            if with_stream:
                enable_stream(client, name)
            continue
        client.create_table(**definition(name, with_stream))
        client.get_waiter("table_exists").wait(TableName=name,
                                               WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        client.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": TTL_ATTRIBUTE})
        log.info("created table %s", name)


def enable_stream(client, table: str) -> None:
    """Give `table` its stream, unless it has one."""
    described = client.describe_table(TableName=table)["Table"]
    if not described.get("StreamSpecification", {}).get("StreamEnabled"):
        client.update_table(TableName=table, StreamSpecification=COUNTS_STREAM)
        log.info("turned on the stream of table %s", table)


def latest_stream_arn(client, table: str) -> str:
    """The table's current stream ('' when it has none)."""
    return client.describe_table(TableName=table)["Table"].get("LatestStreamArn", "")


def clear(client, table: str, workers: int = 4) -> int:
    """Delete every item of `table` in place; how many there were. For the tests,
    which start each test from empty tables: deleting and recreating a table is what
    they did before, but DynamoDB Local keeps every deleted table's stream, and each
    one it keeps slows every later write (measured here: a 25-item transaction took
    25 ms on a fresh DynamoDB Local, 70 ms after 5 recreations, 190 ms after 20,
    and over 500 ms after 25; clearing in place stays at 9-17 ms)."""
    from concurrent.futures import ThreadPoolExecutor
    keys = [item for page in client.get_paginator("scan").paginate(
        TableName=table, ProjectionExpression="pk, sk") for item in page["Items"]]

    def delete(batch):
        pending = {table: [{"DeleteRequest": {"Key": key}} for key in batch]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending)["UnprocessedItems"]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(delete, [keys[i:i + 25] for i in range(0, len(keys), 25)]))
    return len(keys)
