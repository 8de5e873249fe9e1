"""What Chalice does not create, as CloudFormation: the tables, the two queues and the
site bucket.

Two stacks per stage, deployed with boto3:

  emojiboard-{stage}-data   the counts table (the counters: on-demand, TTL, point-in-time
                            recovery, a stream that feeds the fan-out, DeletionPolicy
                            Retain). `destroy` keeps this stack unless asked to delete
                            the data, so a later deploy finds the counters where it
                            left them.
  emojiboard-{stage}        the connections table (on-demand, TTL), the push queue (the
                            fan-out's shards for `push_shard`, `push_queue_resource`),
                            the tasks queue (joining channels and importing history,
                            slice by slice, for `slack_tasks`, `tasks_queue_resource`)
                            with its dead-letter queue, and the S3 bucket that serves
                            the dashboard as a static website.

The same resources go into `chalice package --merge-template` (`merge_template`),
so teams that deploy with CloudFormation get one template for the whole app.
Table names come from the stage's environment variables in `.chalice/config.json`:
one place names them for the app, the policy and the stacks.
"""
import json
import logging
from pathlib import Path
from typing import Dict, Optional

from botocore.exceptions import ClientError

from . import tables

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".chalice" / "config.json"
APP_NAME = "emojiboard"
WAIT = {"Delay": 5, "MaxAttempts": 360}  # CloudFormation: poll every 5 s, up to 30 min


def chalice_config() -> dict:
    return json.loads(CONFIG.read_text())


def stages() -> list:
    return sorted(chalice_config()["stages"])


def stage_setting(stage: str, name: str):
    config = chalice_config()
    if stage not in config["stages"]:
        raise ValueError(f"unknown stage {stage!r}: .chalice/config.json has {', '.join(stages())}")
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    if name in env:
        return env[name]
    return config["stages"][stage].get(name, config.get(name))


def table_names(stage: str) -> Dict[str, str]:
    return {"counts": stage_setting(stage, "COUNTS_TABLE"),
            "connections": stage_setting(stage, "CONNECTIONS_TABLE")}


def stack_names(stage: str) -> Dict[str, str]:
    return {"data": f"{APP_NAME}-{stage}-data", "app": f"{APP_NAME}-{stage}"}


def push_queue_name(stage: str) -> str:
    """The push queue's name: fixed per stage, so the committed policy can name it."""
    return f"{APP_NAME}-{stage}-push"


def tasks_queue_name(stage: str) -> str:
    """The tasks queue's name: fixed per stage, so the committed policy can name it."""
    return f"{APP_NAME}-{stage}-tasks"


def tasks_dead_letter_queue_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}-tasks-dead"


def function_setting(stage: str, function: str, name: str):
    """A Lambda setting (lambda_timeout, lambda_memory_size) of one function as Chalice
    resolves it: the stage's `lambda_functions.{function}`, the stage, the top-level
    `lambda_functions.{function}`, then the top level."""
    config = chalice_config()
    stage_config = config["stages"][stage]
    for scope in (stage_config.get("lambda_functions", {}).get(function, {}), stage_config,
                  config.get("lambda_functions", {}).get(function, {}), config):
        if scope.get(name) is not None:
            return scope[name]
    return None


# ---- the resources ----------------------------------------------------------

def _table(name: str, *, point_in_time_recovery: bool, stream: bool = False) -> dict:
    d = tables.definition(name, stream)  # the same keys as DynamoDB Local and moto locally
    props = {
        "TableName": d["TableName"],
        "AttributeDefinitions": d["AttributeDefinitions"],
        "KeySchema": d["KeySchema"],
        "BillingMode": d["BillingMode"],
        "TimeToLiveSpecification": {"AttributeName": tables.TTL_ATTRIBUTE, "Enabled": True},
        "SSESpecification": {"SSEEnabled": True},
    }
    if stream:
        props["StreamSpecification"] = {"StreamViewType": d["StreamSpecification"]["StreamViewType"]}
    if point_in_time_recovery:
        props["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
    return {"Type": "AWS::DynamoDB::Table", "Properties": props}


def data_resources(stage: str) -> dict:
    counts = _table(table_names(stage)["counts"], point_in_time_recovery=True, stream=True)
    # Deleting a stack (or replacing the table) never drops the counters.
    counts.update(DeletionPolicy="Retain", UpdateReplacePolicy="Retain")
    return {"CountsTable": counts}


# The push queue (`push_queue_resource`). Lambda's advice for a queue that feeds a
# function: "set the source queue's visibility timeout to at least six times the
# configuration timeout on your function", so a batch Lambda received while the
# function was throttled is not handed out again while Lambda still retries it ("Creating
# and configuring an Amazon SQS event source mapping", AWS Lambda Developer Guide).
PUSH_QUEUE_VISIBILITY_FACTOR = 6
# A shard is an update for dashboards that are open now; within seconds the next
# batch brings newer absolute counts, and a reconnecting page reads a snapshot. So a
# shard is kept as briefly as SQS allows: 60 s is CreateQueue's smallest
# MessageRetentionPeriod (60 s to 14 days). Whatever could not be pushed by then is
# dropped, not delivered late; for the same reason there is no dead-letter queue.
PUSH_QUEUE_RETENTION_S = 60


def _queue(stage: str, name: str, retention_s: int, **properties) -> dict:
    """A standard SQS queue of this stage, encrypted at rest with SQS-managed keys
    (SSE-SQS: no KMS key to manage or grant)."""
    return {"Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": name, "SqsManagedSseEnabled": True,
        "MessageRetentionPeriod": retention_s, **properties,
        "Tags": [{"Key": "app", "Value": f"{APP_NAME}-{stage}"}]}}


def push_queue_resource(stage: str) -> dict:
    """The standard SQS queue the stream handler sends shards to and `push_shard` reads.

    A visibility timeout of six times `push_shard`'s Lambda timeout; 60 s retention.
    Since that retention is shorter than the visibility timeout, a shard whose
    invocation failed is not retried: it expires first, and the next update (counts
    are absolute) supersedes it. No redrive policy: a dead-letter queue would only keep
    updates nobody will ever want."""
    timeout = function_setting(stage, "push_shard", "lambda_timeout")
    return _queue(stage, push_queue_name(stage), PUSH_QUEUE_RETENTION_S,
                  VisibilityTimeout=PUSH_QUEUE_VISIBILITY_FACTOR * timeout)


# The tasks queue (`tasks_queue_resource`): joining channels and importing history,
# a chain of slices (chalicelib/tasks.py), each up to SLICE_SECONDS and queueing its
# own continuation, at most 900 s later (SQS's longest DelaySeconds). Its visibility
# timeout follows Lambda's advice as the push queue's does: six times `slack_tasks`'
# Lambda timeout.
TASKS_QUEUE_VISIBILITY_FACTOR = PUSH_QUEUE_VISIBILITY_FACTOR
# A task waits in the queue minutes at most while the app is healthy (a delay of up to
# 900 s, or a redelivery after the visibility timeout). Unlike a shard it must not
# expire: a lost continuation would end its import or its sweep over the channels
# silently. So it is kept SQS's default 4 days, set explicitly, which outlasts an
# outage over a weekend.
TASKS_QUEUE_RETENTION_S = 4 * 24 * 3600
# A dead-letter queue, unlike the push queue's case: a task is worth keeping. An import
# slice that fails (Slack or the store down) catches the error and re-queues itself with
# backoff, and the import records `failed` after 5 in a row (history.py); but a message
# whose handler raises every time would otherwise come back after every visibility
# timeout (15 min) until its retention ends: a `join`/`join_all` task when Slack refuses
# the token or a scope (SlackRefused is not caught on that path, e.g. an install that
# predates channels:join), a `SettingsError`, a bug. After TASKS_MAX_RECEIVES
# deliveries SQS moves it to the dead-letter queue, where it can be read and moved back
# (SQS's dead-letter queue redrive). 5 is the least AWS advises for a queue that feeds
# a function: "Set the maxReceiveCount on the source queue's redrive policy to at least
# 5. This improves the chances of messages being processed before reaching the DLQ"
# ("Understanding SQS retries", AWS Lambda Operator Guide); at a 15-minute visibility
# timeout, that is over an hour of failing.
TASKS_MAX_RECEIVES = 5
# Longer than the source queue's: a standard queue's dead letter keeps its first
# enqueue time, "it is a best practice to always set the retention period of a
# dead-letter queue to be longer than the retention period of the original queue"
# ("Setting-up dead-letter queue retention in Amazon SQS", SQS Developer Guide). 14
# days is CreateQueue's longest MessageRetentionPeriod.
TASKS_DEAD_LETTER_RETENTION_S = 14 * 24 * 3600


def tasks_queue_resource(stage: str) -> dict:
    """The standard SQS queue the Slack route (a new channel to join), `devkit deploy`
    (join every public channel) and the tasks themselves (their continuations) send to,
    and `slack_tasks` reads.

    SSE-SQS as the push queue; a visibility timeout of six times `slack_tasks`' Lambda
    timeout, so a slice that runs its full time is not handed out again meanwhile; 4
    days' retention; a redrive policy to `TasksDeadLetterQueue` after
    TASKS_MAX_RECEIVES deliveries."""
    timeout = function_setting(stage, "slack_tasks", "lambda_timeout")
    return _queue(stage, tasks_queue_name(stage), TASKS_QUEUE_RETENTION_S,
                  VisibilityTimeout=TASKS_QUEUE_VISIBILITY_FACTOR * timeout,
                  RedrivePolicy={"deadLetterTargetArn": {"Fn::GetAtt": ["TasksDeadLetterQueue", "Arn"]},
                                 "maxReceiveCount": TASKS_MAX_RECEIVES})


def tasks_dead_letter_queue_resource(stage: str) -> dict:
    """Where tasks that failed TASKS_MAX_RECEIVES times wait for someone: nothing reads
    it, so the functions' policy does not name it."""
    return _queue(stage, tasks_dead_letter_queue_name(stage), TASKS_DEAD_LETTER_RETENTION_S)


def app_resources(stage: str) -> dict:
    return {
        "ConnectionsTable": _table(table_names(stage)["connections"],
                                   point_in_time_recovery=False),
        "PushQueue": push_queue_resource(stage),
        "TasksQueue": tasks_queue_resource(stage),
        "TasksDeadLetterQueue": tasks_dead_letter_queue_resource(stage),
        "SiteBucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "WebsiteConfiguration": {"IndexDocument": "index.html"},
                # Objects are public through the bucket policy only, never through ACLs.
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True, "IgnorePublicAcls": True,
                    "BlockPublicPolicy": False, "RestrictPublicBuckets": False},
                "Tags": [{"Key": "app", "Value": f"{APP_NAME}-{stage}"}],
            },
        },
        "SiteBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "SiteBucket"},
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Sid": "PublicReadOfTheDashboard", "Effect": "Allow", "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": {"Fn::Sub": "${SiteBucket.Arn}/*"}}]},
            },
        },
    }


def data_template(stage: str) -> dict:
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Emojiboard {stage}: the counters (kept by destroy without --delete-data)",
        "Resources": data_resources(stage),
        "Outputs": {"CountsTable": {"Value": {"Ref": "CountsTable"}},
                    "CountsStreamArn": {"Value": {"Fn::GetAtt": ["CountsTable", "StreamArn"]}}},
    }


def app_template(stage: str) -> dict:
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Emojiboard {stage}: dashboard connections, the push and tasks "
                       "queues and the site bucket",
        "Resources": app_resources(stage),
        "Outputs": {
            "ConnectionsTable": {"Value": {"Ref": "ConnectionsTable"}},
            "PushQueueUrl": {"Value": {"Ref": "PushQueue"}},
            "PushQueueArn": {"Value": {"Fn::GetAtt": ["PushQueue", "Arn"]}},
            "TasksQueueUrl": {"Value": {"Ref": "TasksQueue"}},
            "TasksQueueArn": {"Value": {"Fn::GetAtt": ["TasksQueue", "Arn"]}},
            "TasksDeadLetterQueueUrl": {"Value": {"Ref": "TasksDeadLetterQueue"}},
            "SiteBucket": {"Value": {"Ref": "SiteBucket"}},
            "SiteURL": {"Value": {"Fn::GetAtt": ["SiteBucket", "WebsiteURL"]}},
        },
    }


def templates(stage: str) -> Dict[str, dict]:
    names = stack_names(stage)
    return {names["data"]: data_template(stage), names["app"]: app_template(stage)}


# ---- deploying the stacks -----------------------------------------------------

def _stack(cfn, name: str) -> Optional[dict]:
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if "does not exist" in error.response["Error"].get("Message", ""):
            return None
        raise
    return stacks[0] if stacks else None


def _outputs(stack: dict) -> Dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _body(template: dict) -> str:
    return json.dumps(template, indent=1, sort_keys=True)


def ensure_stack(cfn, name: str, template: dict, echo=log.info) -> str:
    """Create or update one stack; "created", "updated" or "unchanged".

    A stack whose template is already this one is left alone (no API write at all);
    otherwise CloudFormation's own answer "No updates are to be performed" also counts
    as unchanged."""
    body = _body(template)
    stack = _stack(cfn, name)
    if stack and stack["StackStatus"] == "ROLLBACK_COMPLETE":
        # A first create that failed leaves a stack that can only be deleted.
        echo(f"stack {name}: deleting the failed first attempt")
        cfn.delete_stack(StackName=name)
        cfn.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
        stack = None
    if stack is None:
        echo(f"stack {name}: creating")
        cfn.create_stack(StackName=name, TemplateBody=body,
                         Tags=[{"Key": "app", "Value": APP_NAME}])
        cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
        return "created"
    current = cfn.get_template(StackName=name)["TemplateBody"]
    if not isinstance(current, str):
        current = _body(current)
    if current == body and stack["StackStatus"].endswith("_COMPLETE"):
        echo(f"stack {name}: unchanged")
        return "unchanged"
    try:
        cfn.update_stack(StackName=name, TemplateBody=body)
    except ClientError as error:
        if "No updates are to be performed" in error.response["Error"].get("Message", ""):
            echo(f"stack {name}: unchanged")
            return "unchanged"
        raise
    echo(f"stack {name}: updating")
    cfn.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=WAIT)
    return "updated"


def provision(cfn, stage: str, echo=log.info) -> Dict[str, str]:
    """Both stacks, idempotently; their outputs merged, plus what each run did."""
    outputs, status = {}, {}
    for name, template in templates(stage).items():
        status[name] = ensure_stack(cfn, name, template, echo)
        outputs.update(_outputs(_stack(cfn, name)))
    outputs["_status"] = status
    return outputs


def outputs(cfn, stage: str) -> Dict[str, str]:
    """What the stacks that exist say (empty when none does)."""
    found = {}
    for name in stack_names(stage).values():
        stack = _stack(cfn, name)
        if stack:
            found.update(_outputs(stack))
    return found


def empty_bucket(s3, bucket: str) -> int:
    deleted = 0
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"], "VersionId": o["VersionId"]}
                    for o in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucket":
            raise
    return deleted


def delete_stack(cfn, name: str, echo=log.info) -> bool:
    if _stack(cfn, name) is None:
        return False
    echo(f"stack {name}: deleting")
    cfn.delete_stack(StackName=name)
    cfn.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
    return True


def teardown(cfn, s3, dynamodb, stage: str, delete_data: bool, echo=log.info) -> None:
    """Empty the site bucket and delete the app stack (the connections table and the
    queues with it); with `delete_data`, the data
    stack too and the counts table it retains."""
    names = stack_names(stage)
    bucket = outputs(cfn, stage).get("SiteBucket")
    if bucket:
        echo(f"bucket {bucket}: emptied ({empty_bucket(s3, bucket)} objects)")
    delete_stack(cfn, names["app"], echo)
    if not delete_data:
        echo(f"kept stack {names['data']} and table {table_names(stage)['counts']} "
             "(--delete-data removes them)")
        return
    delete_stack(cfn, names["data"], echo)
    table = table_names(stage)["counts"]
    try:  # DeletionPolicy Retain kept it: delete it by name
        dynamodb.delete_table(TableName=table)
        dynamodb.get_waiter("table_not_exists").wait(TableName=table)
        echo(f"table {table}: deleted")
    except dynamodb.exceptions.ResourceNotFoundException:
        pass
