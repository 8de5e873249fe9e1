"""A claim to ask Slack for a whole list (emoji.list, users.list): one caller at a
time, and after a failure nobody asks again for a while. The claim is a timestamp,
`sync_tried_at`, written on the list's marker item only if none is newer than
`retry_after` seconds."""
from botocore.exceptions import ClientError


def claim(client, table: str, key: dict, now: int, retry_after: int) -> bool:
    try:
        client.update_item(
            TableName=table, Key=key, UpdateExpression="SET sync_tried_at = :now",
            ConditionExpression="attribute_not_exists(sync_tried_at) OR sync_tried_at < :then",
            ExpressionAttributeValues={":now": {"N": str(now)},
                                       ":then": {"N": str(now - retry_after)}})
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
