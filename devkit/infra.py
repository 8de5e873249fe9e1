"""What Chalice does not create, as CloudFormation: the tables, the two queues, the
site bucket, the CloudFront distribution in front of it all, and the alarms.

Four stacks per stage, deployed with boto3:

  emojiboard-{stage}-data   the counts table (the counters: on-demand, TTL, point-in-time
                            recovery, a stream that feeds the fan-out, DeletionPolicy
                            Retain). `destroy` keeps this stack unless asked to delete
                            the data, so a later deploy finds the counters where it
                            left them.
  emojiboard-{stage}        the connections table (on-demand, TTL), the push queue (the
                            fan-out's shards for `push_shard`, `push_queue_resource`),
                            the tasks queue (joining channels and importing history,
                            slice by slice, for `slack_tasks`, `tasks_queue_resource`)
                            with its dead-letter queue, and the S3 bucket that holds
                            the dashboard's files (private).
  emojiboard-{stage}-edge   after `chalice deploy` (it names Chalice's APIs): the
                            CloudFront distribution, the app's one HTTPS origin (the
                            site from the bucket through origin access control, the
                            REST API at /api/*, /auth/*, /slack/*, the WebSocket API at
                            /ws), its security headers policy, the CloudFront Function
                            of /ws and the bucket policy (`edge_resources`).
  emojiboard-{stage}-monitoring
                            after `chalice deploy` too (its alarms name the
                            functions): the alarms, the SNS topic they notify (and
                            ALARM_EMAIL's subscription) and the CloudWatch dashboard
                            (devkit/monitoring.py).

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
        "SiteBucket": site_bucket_resource(stage),
    }


def site_bucket_resource(stage: str) -> dict:
    """The bucket the dashboard's files are uploaded to: private. Only CloudFront reads
    it, through origin access control (the edge stack's `SiteBucketPolicy`); no website
    configuration (an S3 website endpoint cannot be an OAC origin: "Restrict access to
    an Amazon S3 origin", CloudFront Developer Guide); every Block Public Access
    setting on; no ACLs (OAC wants Object Ownership "Bucket owner enforced", the same
    page)."""
    return {
        "Type": "AWS::S3::Bucket",
        "Properties": {
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True, "IgnorePublicAcls": True,
                "BlockPublicPolicy": True, "RestrictPublicBuckets": True},
            "Tags": [{"Key": "app", "Value": f"{APP_NAME}-{stage}"}],
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
            "SiteBucketDomain": {"Value": {"Fn::GetAtt": ["SiteBucket", "RegionalDomainName"]}},
        },
    }


def templates(stage: str) -> Dict[str, dict]:
    names = stack_names(stage)
    return {names["data"]: data_template(stage), names["app"]: app_template(stage)}


# ---- the edge: the app on one HTTPS origin (CloudFront) ------------------------------

def edge_stack_name(stage: str) -> str:
    """The stack of the CloudFront distribution, deployed after `chalice deploy`: it
    names the REST and WebSocket APIs, which Chalice creates."""
    return f"{APP_NAME}-{stage}-edge"


def monitoring_stack_name(stage: str) -> str:
    """The stack of the alarms and the CloudWatch dashboard (devkit/monitoring.py),
    deployed after `chalice deploy`: its alarms name the functions Chalice creates."""
    return f"{APP_NAME}-{stage}-monitoring"


# CloudFront's managed policies, by the ids AWS gives for CloudFormation.
# "Use managed cache policies", CloudFront Developer Guide
# (docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html):
# CachingOptimized for the site's files (it honours their Cache-Control: index.html is
# revalidated, fingerprinted assets are kept); CachingDisabled ("useful for dynamic
# content and for requests that are not cacheable") for the app's paths.
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
# "Use managed origin request policies", CloudFront Developer Guide
# (docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-origin-request-policies.html):
# AllViewerExceptHostHeader forwards every header, cookie and query string but Host,
# "intended for use with Amazon API Gateway and AWS Lambda function URL origins", which
# expect their own domain as Host (API Gateway without a custom domain answers 403 to
# the viewer's). It forwards Sec-WebSocket-Key and Sec-WebSocket-Version too, which a
# WebSocket behaviour needs ("Use WebSockets with CloudFront distributions",
# docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/distribution-working-with.websockets.html:
# "Forward all viewer request headers ... or specifically forward the Sec-WebSocket-Key
# and Sec-WebSocket-Version request headers").
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
# The paths of the app's REST API (Chalice's routes) and the page's WebSocket.
API_PATHS = ("/api/*", "/auth/*", "/slack/*")
WEBSOCKET_PATH = "/ws"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]
# CloudFront quota "Maximum length of the Content-Security-Policy header value" in a
# response headers policy: 1,783 characters ("Quotas", CloudFront Developer Guide,
# docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html;
# beyond it CreateResponseHeadersPolicy fails with TooLongCSPInResponseHeadersPolicy).
CSP_QUOTA = 1783
# What CloudFront's SecurityHeadersConfig can send ("Understand response headers
# policies", CloudFront Developer Guide).
REFERRER_POLICIES = ("no-referrer", "no-referrer-when-downgrade", "origin",
                     "origin-when-cross-origin", "same-origin", "strict-origin",
                     "strict-origin-when-cross-origin", "unsafe-url")
FRAME_OPTIONS = ("DENY", "SAMEORIGIN")


def response_headers_config(headers: Dict[str, str]) -> dict:
    """The `SecurityHeadersConfig` (and `CustomHeadersConfig` for any other header) of
    a response headers policy that sends exactly `headers` (`site.security_headers`),
    each overriding what an origin sends. ValueError when CloudFront cannot send one
    as given, or the CSP is over CloudFront's quota."""
    rest = dict(headers)
    security: Dict[str, dict] = {}
    csp = rest.pop("Content-Security-Policy", None)
    if csp is not None:
        if len(csp) > CSP_QUOTA:
            raise ValueError(
                f"the dashboard's Content-Security-Policy is {len(csp)} characters, and "
                f"CloudFront takes at most {CSP_QUOTA} in a response headers policy (quota "
                "\"Maximum length of the Content-Security-Policy header value\", "
                "docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html): "
                "shorten it (devkit/site.py) before deploying")
        security["ContentSecurityPolicy"] = {"ContentSecurityPolicy": csp, "Override": True}
    hsts = rest.pop("Strict-Transport-Security", None)
    if hsts is not None:
        directives = [d.strip() for d in hsts.split(";") if d.strip()]
        max_age = [d for d in directives if d.lower().startswith("max-age=")]
        flags = {d.lower() for d in directives} - {d.lower() for d in max_age}
        if len(max_age) != 1 or not max_age[0][8:].isdigit() \
                or flags - {"includesubdomains", "preload"}:
            raise ValueError(f"CloudFront cannot send Strict-Transport-Security: {hsts}")
        security["StrictTransportSecurity"] = {
            "AccessControlMaxAgeSec": int(max_age[0][8:]),
            "IncludeSubdomains": "includesubdomains" in flags,
            "Preload": "preload" in flags, "Override": True}
    nosniff = rest.pop("X-Content-Type-Options", None)
    if nosniff is not None:
        if nosniff != "nosniff":
            raise ValueError(f"CloudFront sends X-Content-Type-Options: nosniff only, not {nosniff}")
        security["ContentTypeOptions"] = {"Override": True}
    referrer = rest.pop("Referrer-Policy", None)
    if referrer is not None:
        if referrer not in REFERRER_POLICIES:
            raise ValueError(f"CloudFront cannot send Referrer-Policy: {referrer}")
        security["ReferrerPolicy"] = {"ReferrerPolicy": referrer, "Override": True}
    frame = rest.pop("X-Frame-Options", None)
    if frame is not None:
        if frame not in FRAME_OPTIONS:
            raise ValueError(f"CloudFront cannot send X-Frame-Options: {frame}")
        security["FrameOptions"] = {"FrameOption": frame, "Override": True}
    config = {"SecurityHeadersConfig": security}
    if rest:
        config["CustomHeadersConfig"] = {"Items": [
            {"Header": name, "Value": value, "Override": True} for name, value in rest.items()]}
    return config


def websocket_function_code(stage: str) -> str:
    """The viewer-request CloudFront Function of the WebSocket behaviour: the page
    connects to `/ws` on its own origin, and API Gateway accepts a WebSocket API's
    connections only at its stage's path, so the URI becomes `/{stage}` (a URI rewrite
    as in "Add index.html to request URLs without a file name in a CloudFront Functions
    viewer request event", CloudFront Developer Guide,
    docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/example-function-add-index.html;
    JavaScript runtime 2.0). The behaviour's path pattern matches `/ws` only; the query
    string is kept (it is not part of the URI)."""
    return ("async function handler(event) {\n"
            "    // The dashboard's WebSocket at /ws; API Gateway's WebSocket stage path.\n"
            "    var request = event.request;\n"
            f"    request.uri = '/{stage}';\n"
            "    return request;\n"
            "}\n")


def _named(names, suffix: str):
    return f"{names}-{suffix}" if isinstance(names, str) \
        else {"Fn::Sub": ["${Names}-%s" % suffix, {"Names": names}]}


def _execute_api_domain(api_id) -> dict:
    return {"Fn::Sub": ["${Id}.execute-api.${AWS::Region}.${AWS::URLSuffix}", {"Id": api_id}]}


def edge_resources(stage: str, *, names, rest_api_id, websocket_api_id, bucket,
                   bucket_domain, headers: Dict[str, str]) -> dict:
    """The distribution in front of everything, and what it needs. `names` prefixes the
    names CloudFront wants unique in the account (the OAC, the headers policy, the
    function); the API ids and the bucket are literal values (the edge stack) or
    references (`deploy.merge_template`).

    - `SiteOriginAccessControl`: CloudFront signs its requests to the bucket (SigV4,
      always), "Restrict access to an Amazon S3 origin", CloudFront Developer Guide
      (docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html);
    - `SiteBucketPolicy`: the bucket lets `cloudfront.amazonaws.com` GetObject only for
      requests of this distribution (`AWS:SourceArn`), the policy that page gives;
    - `SecurityHeadersPolicy` (AWS::CloudFront::ResponseHeadersPolicy, "AWS::CloudFront::
      ResponseHeadersPolicy", CloudFormation Template Reference): exactly `headers`, on
      every behaviour, so the API's answers carry them as the pages do;
    - `WebSocketPathFunction`: `websocket_function_code`, published (AutoPublish);
    - `SiteDistribution`: HTTPS only (`redirect-to-https` on every behaviour),
      `index.html` at `/`; the site from the bucket by default; `API_PATHS` to the REST
      API with its stage as the origin path (`/api/leaderboard` reaches the route
      `/api/leaderboard` at `…/api/api/leaderboard`), `/ws` to the WebSocket API; the
      app's behaviours uncached, every method, every viewer value but Host."""
    api_stage = stage_setting(stage, "api_gateway_stage")
    https_origin = {"OriginProtocolPolicy": "https-only", "HTTPSPort": 443,
                    "OriginSSLProtocols": ["TLSv1.2"]}
    headers_policy = {"Ref": "SecurityHeadersPolicy"}

    def app_behaviour(path: str, origin: str, methods: list, **more) -> dict:
        return {"PathPattern": path, "TargetOriginId": origin,
                "ViewerProtocolPolicy": "redirect-to-https",
                "AllowedMethods": methods, "CachedMethods": ["GET", "HEAD"],
                "CachePolicyId": CACHING_DISABLED,
                "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST_HEADER,
                "ResponseHeadersPolicyId": headers_policy, **more}

    behaviours = [app_behaviour(path, "api", ALL_METHODS) for path in API_PATHS]
    behaviours.append(app_behaviour(WEBSOCKET_PATH, "websocket", ["GET", "HEAD"], FunctionAssociations=[
        {"EventType": "viewer-request",
         "FunctionARN": {"Fn::GetAtt": ["WebSocketPathFunction", "FunctionARN"]}}]))
    return {
        "SiteOriginAccessControl": {
            "Type": "AWS::CloudFront::OriginAccessControl",
            "Properties": {"OriginAccessControlConfig": {
                "Name": _named(names, "site"),
                "Description": f"Emojiboard {stage}: CloudFront reads the site bucket",
                "OriginAccessControlOriginType": "s3",
                "SigningBehavior": "always", "SigningProtocol": "sigv4"}},
        },
        "SecurityHeadersPolicy": {
            "Type": "AWS::CloudFront::ResponseHeadersPolicy",
            "Properties": {"ResponseHeadersPolicyConfig": {
                "Name": _named(names, "security-headers"),
                "Comment": f"Emojiboard {stage}: the site's security headers",
                **response_headers_config(headers)}},
        },
        "WebSocketPathFunction": {
            "Type": "AWS::CloudFront::Function",
            "Properties": {
                "Name": _named(names, "ws-path"),
                "AutoPublish": True,
                "FunctionConfig": {"Comment": f"Emojiboard {stage}: /ws to the WebSocket "
                                              f"API's stage path /{api_stage}",
                                   "Runtime": "cloudfront-js-2.0"},
                "FunctionCode": websocket_function_code(api_stage)},
        },
        "SiteDistribution": {
            "Type": "AWS::CloudFront::Distribution",
            "Properties": {"DistributionConfig": {
                "Comment": f"Emojiboard {stage}",
                "Enabled": True,
                "DefaultRootObject": "index.html",
                "HttpVersion": "http2and3",
                "IPV6Enabled": True,
                "Origins": [
                    {"Id": "site", "DomainName": bucket_domain,
                     "S3OriginConfig": {"OriginAccessIdentity": ""},
                     "OriginAccessControlId": {"Fn::GetAtt": ["SiteOriginAccessControl", "Id"]}},
                    {"Id": "api", "DomainName": _execute_api_domain(rest_api_id),
                     "OriginPath": f"/{api_stage}", "CustomOriginConfig": dict(https_origin)},
                    {"Id": "websocket", "DomainName": _execute_api_domain(websocket_api_id),
                     "CustomOriginConfig": dict(https_origin)},
                ],
                "DefaultCacheBehavior": {
                    "TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https",
                    "AllowedMethods": ["GET", "HEAD"], "CachedMethods": ["GET", "HEAD"],
                    "Compress": True, "CachePolicyId": CACHING_OPTIMIZED,
                    "ResponseHeadersPolicyId": headers_policy},
                "CacheBehaviors": behaviours,
                "ViewerCertificate": {"CloudFrontDefaultCertificate": True},
            }},
        },
        "SiteBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": bucket,
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Sid": "CloudFrontReadsTheSite", "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}/*",
                                             {"Bucket": bucket}]},
                    "Condition": {"StringEquals": {"AWS:SourceArn": {"Fn::Sub":
                        "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${SiteDistribution}"}}},
                }]},
            },
        },
    }


EDGE_OUTPUTS = {
    "DistributionId": {"Value": {"Ref": "SiteDistribution"}},
    "PublicURL": {"Value": {"Fn::Sub": "https://${SiteDistribution.DomainName}"}},
}


def edge_template(stage: str, region: str, *, rest_api_id: str, websocket_api_id: str,
                  bucket: str, bucket_domain: str, headers: Dict[str, str]) -> dict:
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Emojiboard {stage}: one HTTPS origin (CloudFront) for the site, "
                       "the REST API and the WebSocket API",
        "Resources": edge_resources(stage, names=f"{APP_NAME}-{stage}-{region}",
                                    rest_api_id=rest_api_id, websocket_api_id=websocket_api_id,
                                    bucket=bucket, bucket_domain=bucket_domain, headers=headers),
        # The CSP as sent, so the next deploy can keep this build's scripts allowed while
        # its own pages reach the edges (site.with_earlier_scripts).
        "Outputs": {**EDGE_OUTPUTS, "ContentSecurityPolicy": {
            "Value": headers.get("Content-Security-Policy", "")}},
    }


# Creating a distribution, or changing one (the CSP of a new build), takes CloudFront
# minutes: its configuration reaches every edge location before the stack completes.
EDGE_WAIT_NOTE = "CloudFront takes several minutes (often 5 to 15) to deploy a distribution"
EDGE_WAIT = {"Delay": 15, "MaxAttempts": 240}  # up to an hour


def provision_edge(cfn, stage: str, region: str, *, rest_api_id: str, websocket_api_id: str,
                   bucket: str, bucket_domain: str, headers: Dict[str, str],
                   echo=log.info):
    """The edge stack, idempotently, after `chalice deploy`: what it did ("created",
    "updated", "unchanged") and its outputs (`PublicURL`, `DistributionId`)."""
    name = edge_stack_name(stage)
    template = edge_template(stage, region, rest_api_id=rest_api_id,
                             websocket_api_id=websocket_api_id, bucket=bucket,
                             bucket_domain=bucket_domain, headers=headers)
    status = ensure_stack(cfn, name, template, echo, note=EDGE_WAIT_NOTE, wait=EDGE_WAIT)
    return status, _outputs(_stack(cfn, name))


def delete_edge(cfn, stage: str, echo=log.info) -> bool:
    """The edge stack first when tearing down: the distribution (CloudFront disables it,
    then deletes it) and the bucket policy that lets it read the site."""
    return delete_stack(cfn, edge_stack_name(stage), echo, note=EDGE_WAIT_NOTE, wait=EDGE_WAIT)


def edge_outputs(cfn, stage: str) -> Dict[str, str]:
    """What the edge stack says (empty before the first deploy has created it)."""
    stack = _stack(cfn, edge_stack_name(stage))
    return _outputs(stack) if stack and stack["StackStatus"].endswith("_COMPLETE") \
        and "DELETE" not in stack["StackStatus"] else {}


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


def stack_outputs(cfn, name: str) -> Dict[str, str]:
    """One stack's outputs (empty when it does not exist)."""
    stack = _stack(cfn, name)
    return _outputs(stack) if stack else {}


def _body(template: dict) -> str:
    return json.dumps(template, indent=1, sort_keys=True)


def ensure_stack(cfn, name: str, template: dict, echo=log.info, note: str = "",
                 wait: dict = WAIT) -> str:
    """Create or update one stack; "created", "updated" or "unchanged".

    A stack whose template is already this one is left alone (no API write at all);
    otherwise CloudFormation's own answer "No updates are to be performed" also counts
    as unchanged. `note` is said when the stack is created or updated (a slow one)."""
    body = _body(template)
    note = f" ({note})" if note else ""
    stack = _stack(cfn, name)
    if stack and stack["StackStatus"] == "ROLLBACK_COMPLETE":
        # A first create that failed leaves a stack that can only be deleted.
        echo(f"stack {name}: deleting the failed first attempt")
        cfn.delete_stack(StackName=name)
        cfn.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=wait)
        stack = None
    if stack is None:
        echo(f"stack {name}: creating{note}")
        cfn.create_stack(StackName=name, TemplateBody=body,
                         Tags=[{"Key": "app", "Value": APP_NAME}])
        cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=wait)
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
    echo(f"stack {name}: updating{note}")
    cfn.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=wait)
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


def delete_stack(cfn, name: str, echo=log.info, note: str = "", wait: dict = WAIT) -> bool:
    if _stack(cfn, name) is None:
        return False
    echo(f"stack {name}: deleting" + (f" ({note})" if note else ""))
    cfn.delete_stack(StackName=name)
    cfn.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=wait)
    return True


def teardown(cfn, s3, dynamodb, stage: str, delete_data: bool, echo=log.info) -> None:
    """Delete the edge stack (if `destroy` has not already), empty the site bucket and
    delete the app stack (the connections table and the queues with it); with
    `delete_data`, the data stack too and the counts table it retains."""
    delete_edge(cfn, stage, echo)
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
