"""The DynamoDB tables the app expects: one definition for every environment."""
import logging

log = logging.getLogger(__name__)

DEFAULT_NAMES = {"counts": "emojiboard-counts", "connections": "emojiboard-connections"}
TTL_ATTRIBUTE = "expires_at"


def definition(name: str) -> dict:
    """Both tables: string partition key `pk`, string sort key `sk`, on-demand."""
    return {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "sk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                      {"AttributeName": "sk", "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


def ensure(client, names) -> None:
    """Create each table (with TTL on) unless it exists."""
    existing = set()
    for page in client.get_paginator("list_tables").paginate():
        existing.update(page["TableNames"])
    for name in names:
        if name in existing:
            continue
        client.create_table(**definition(name))
        client.get_waiter("table_exists").wait(TableName=name,
                                               WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        client.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": TTL_ATTRIBUTE})
        log.info("created table %s", name)
