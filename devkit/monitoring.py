"""What tells someone the app is unwell, as CloudFormation: alarms, the SNS topic they
notify, and a CloudWatch dashboard. One stack per stage, deployed with boto3 after
`chalice deploy` (its alarms name the functions Chalice creates):

  emojiboard-{stage}-monitoring
      AlarmTopic              the SNS topic `emojiboard-{stage}-alarms`: every alarm
                              notifies it on ALARM and on OK; with ALARM_EMAIL an email
                              subscription (`AlarmEmailSubscription`), which the address
                              must confirm before anything reaches it
      the alarms              all named `alarm_prefix(stage)` + what they watch
                              (`python -m devkit status` lists those in ALARM):
        slack-5xx-rate            over 5 % of the Slack route's requests answered 5xx
                                  in 5 minutes (EventsFailed / EventsReceived)
        stream-iterator-age       the counts table's stream over 60 s behind
                                  (AWS/Lambda IteratorAge of the stream handler)
        dynamodb-throttles        any throttled read or write of either table
        errors-{function}         any error of one function (AWS/Lambda Errors), one
                                  alarm per function Chalice deployed
        no-events-counted         no event counted for NO_EVENTS_ALARM_HOURS hours
                                  (only with that setting)
      MonitoringDashboard     the CloudWatch dashboard `emojiboard-{stage}`
                              (`dashboard_url` opens it)
  Outputs: AlarmTopicArn, CloudWatchDashboard.

The app's metrics are its own log lines in CloudWatch's embedded metric format
(chalicelib/metrics.py: namespace Emojiboard, dimension Stage, the names imported from
there, never retyped); the rest are AWS's (AWS/Lambda, AWS/DynamoDB). The same
resources go into `chalice package --merge-template` (`package_parts`), where the
email and the hours are parameters and what they add is conditional.
"""
import functools
import json
import logging
import re
from typing import Dict, Optional, Tuple, Union
from urllib.parse import quote

from chalicelib import metrics

from . import infra, policy

log = logging.getLogger(__name__)

# What the alarms watch over. CloudWatch evaluates an alarm every period; these are
# standard (one minute or longer) periods, so no high-resolution alarm charge.
FIVE_MINUTES = 300
SLACK_5XX_RATE = 0.05       # EventsFailed / EventsReceived
ITERATOR_AGE_MS = 60_000    # AWS/Lambda IteratorAge is in milliseconds
HOUR = 3600                 # the no-events alarm's period
# "An alarm's total current evaluation period can be no longer than seven days, so
# Period multiplied by EvaluationPeriods can't be more than 604,800 seconds. For alarms
# with a period of less than one hour (3,600 seconds), the total evaluation period
# can't be longer than one day" (PutMetricAlarm, Period, Amazon CloudWatch API
# Reference). The no-events alarm's period is one hour, so at most 168 of them.
MAX_EVALUATION_SECONDS = 604_800
MAX_NO_EVENTS_HOURS = MAX_EVALUATION_SECONDS // HOUR

LAMBDA, DYNAMODB = "AWS/Lambda", "AWS/DynamoDB"
# The AWS metrics used, per namespace (a test holds the template to these and to
# chalicelib/metrics.py, so a misspelt name cannot slip in).
AWS_METRICS = {LAMBDA: ("Errors", "IteratorAge"),
               DYNAMODB: ("ReadThrottleEvents", "WriteThrottleEvents")}

# One address, as SNS's email protocol takes it (no list: a second one would be a
# second subscription). Checked loosely: SNS itself refuses what it cannot send to.
EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;.]+(\.[^@\s,;.]+)+")
# NO_EVENTS_ALARM_HOURS as the packaged template's parameter checks it: 1 to 168.
HOURS_PATTERN = r"[1-9]|[1-9][0-9]|1[0-5][0-9]|16[0-8]"

# The packaged template's parameters and the conditions on what they add.
ALARM_EMAIL_PARAMETER, NO_EVENTS_PARAMETER = "AlarmEmail", "NoEventsAlarmHours"
HAS_ALARM_EMAIL, HAS_NO_EVENTS_ALARM = "HasAlarmEmail", "HasNoEventsAlarm"

Value = Union[str, int, dict]  # a value, or a CloudFormation reference to a parameter


# ---- names -------------------------------------------------------------------

def alarm_prefix(stage: str) -> str:
    """What every alarm of the stage is named with (DescribeAlarms' AlarmNamePrefix)."""
    return f"{infra.APP_NAME}-{stage}-"


def dashboard_name(stage: str) -> str:
    """The CloudWatch dashboard's name. Dashboards are global to the account, not
    regional ("AWS::CloudWatch::Dashboard", CloudFormation Template Reference): one
    stage deployed to two regions of one account would want the name twice, and the
    second region's monitoring stack would fail to create."""
    return f"{infra.APP_NAME}-{stage}"


def topic_name(stage: str) -> str:
    return f"{infra.APP_NAME}-{stage}-alarms"


# The CloudWatch console of each partition.
CONSOLES = {"aws": "console.aws.amazon.com", "aws-cn": "console.amazonaws.cn",
            "aws-us-gov": "console.amazonaws-us-gov.com"}


def dashboard_url(region: str, name: str, partition: str = "aws") -> str:
    """The dashboard in the CloudWatch console (the console's own link form)."""
    return (f"https://{CONSOLES.get(partition, CONSOLES['aws'])}/cloudwatch/home"
            f"?region={region}#dashboards:name={quote(name)}")


# ---- the settings ------------------------------------------------------------

def checked_alarm_email(value: Optional[str]) -> Optional[str]:
    """ALARM_EMAIL stripped (None when unset); ValueError when it is not one address."""
    value = (value or "").strip()
    if value and not EMAIL.fullmatch(value):
        raise ValueError(f"ALARM_EMAIL must be one email address (alarms@example.com), "
                         f"not {value!r}")
    return value or None


def checked_no_events_hours(value: Optional[str]) -> Optional[int]:
    """NO_EVENTS_ALARM_HOURS as a number of hours (None when unset: no such alarm);
    ValueError unless a whole number from 1 to MAX_NO_EVENTS_HOURS."""
    value = (value or "").strip()
    if not value:
        return None
    if not re.fullmatch(r"[0-9]+", value) or not 1 <= int(value) <= MAX_NO_EVENTS_HOURS:
        raise ValueError(f"NO_EVENTS_ALARM_HOURS must be a whole number of hours from 1 to "
                         f"{MAX_NO_EVENTS_HOURS} (CloudWatch evaluates an alarm over at most "
                         f"seven days), not {value!r}")
    return int(value)


# ---- the alarms ------------------------------------------------------------------

TOPIC = {"Ref": "AlarmTopic"}


def _dimensions(dimensions: Dict[str, str]) -> list:
    return [{"Name": name, "Value": value} for name, value in dimensions.items()]


def _query(query_id: str, namespace: str, metric: str, dimensions: Dict[str, str],
           stat: str = "Sum", period: int = FIVE_MINUTES) -> dict:
    """One metric of a metric math alarm (MetricDataQuery), not itself alarmed on."""
    return {"Id": query_id, "ReturnData": False, "MetricStat": {
        "Metric": {"Namespace": namespace, "MetricName": metric,
                   "Dimensions": _dimensions(dimensions)},
        "Period": period, "Stat": stat}}


def _text(description: str) -> str:
    return " ".join(description.split())


def _alarm(stage: str, name: str, description: Union[str, dict], **properties) -> dict:
    """An alarm that notifies the topic when it goes to ALARM and back to OK; its
    description says what it means and what to do (at most 1,024 characters)."""
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": alarm_prefix(stage) + name,
        "AlarmDescription": _text(description) if isinstance(description, str) else description,
        "ActionsEnabled": True, "AlarmActions": [TOPIC], "OKActions": [TOPIC],
        **properties}}


def _log_group(function: str) -> str:
    return f"/aws/lambda/{function}"


def slack_5xx_alarm(stage: str, http_function: str) -> dict:
    """EventsFailed / EventsReceived over one 5-minute period above 5 %. The guard
    (`IF(received > 0, ...)`) makes a period without requests no division by zero, and
    FILL counts a period with requests but no failure as 0 % rather than missing (the
    app writes EventsFailed only when it fails): IF and FILL, "Metric math syntax and
    functions", CloudWatch User Guide (using-metric-math.html). No request at all is
    missing data, and missing data is not breaching."""
    stage_only = {metrics.STAGE: stage}
    return _alarm(
        stage, "slack-5xx-rate",
        f"""Over {SLACK_5XX_RATE:.0%} of the Slack route's requests (POST /slack/events) were
        answered 5xx in 5 minutes ({metrics.EVENTS_FAILED} / {metrics.EVENTS_RECEIVED},
        namespace {metrics.NAMESPACE}, {metrics.STAGE} {stage}). Slack retries such events
        a few times, then drops them: reactions go uncounted while it lasts. Open the
        dashboard {dashboard_name(stage)} (store errors, DynamoDB throttles) and the log
        group {_log_group(http_function)} (Logs Insights: filter level = "ERROR"); a
        DynamoDB outage answers 503 until it is over, a bug needs a fix deployed.""",
        Metrics=[
            _query("failed", metrics.NAMESPACE, metrics.EVENTS_FAILED, stage_only),
            _query("received", metrics.NAMESPACE, metrics.EVENTS_RECEIVED, stage_only),
            {"Id": "rate", "Label": "Slack route 5xx rate", "ReturnData": True,
             "Expression": "IF(received > 0, FILL(failed, 0) / received, 0)"}],
        ComparisonOperator="GreaterThanThreshold", Threshold=SLACK_5XX_RATE,
        EvaluationPeriods=1, DatapointsToAlarm=1, TreatMissingData="notBreaching")


def iterator_age_alarm(stage: str, stream_function: str) -> dict:
    """The oldest stream record the stream handler got in 5 minutes was over 60 s old."""
    return _alarm(
        stage, "stream-iterator-age",
        f"""The counts table's stream is over {ITERATOR_AGE_MS // 1000} s behind (AWS/Lambda
        IteratorAge, Maximum, of {stream_function}): the fan-out is not keeping up, or a
        batch fails and is retried, so dashboards update late or not at all. Look at the
        function's errors alarm and its log group {_log_group(stream_function)}, its
        Duration and Throttles (AWS/Lambda) and the DynamoDB throttles on the dashboard
        {dashboard_name(stage)}. A batch that fails every time is retried until its
        records leave the stream (24 hours), holding back every change after it.""",
        Namespace=LAMBDA, MetricName="IteratorAge",
        Dimensions=_dimensions({"FunctionName": stream_function}),
        Statistic="Maximum", Period=FIVE_MINUTES, EvaluationPeriods=1, DatapointsToAlarm=1,
        ComparisonOperator="GreaterThanThreshold", Threshold=ITERATOR_AGE_MS,
        TreatMissingData="notBreaching")


def throttles_alarm(stage: str) -> dict:
    """Read and write throttle events of both tables, summed: any at all. DynamoDB
    reports them only when there are some, so each is FILLed with 0 before adding."""
    tables = infra.table_names(stage)
    queries = [_query(f"{kind.lower()}_{key}", DYNAMODB, f"{kind}ThrottleEvents",
                      {"TableName": table})
               for key, table in tables.items() for kind in ("Read", "Write")]
    return _alarm(
        stage, "dynamodb-throttles",
        f"""DynamoDB throttled reads or writes of {tables['counts']} or
        {tables['connections']} in the last 5 minutes (ReadThrottleEvents +
        WriteThrottleEvents). Both tables are on-demand, so it takes a burst far above the
        table's previous peak, one hot key (one partition takes at most 1,000 writes a
        second, and every counted event writes the workspace's totals), or the account's
        throughput quota. The SDK retries a throttled call; one that still fails is a
        StoreErrors, answered 503 on the Slack route (Slack retries it). The dashboard
        {dashboard_name(stage)} shows which table and which operation; if it lasts, check
        the account's DynamoDB quotas (Service Quotas) and the load on the app.""",
        Metrics=queries + [{
            "Id": "throttles", "Label": "DynamoDB throttle events", "ReturnData": True,
            "Expression": " + ".join(f"FILL({q['Id']}, 0)" for q in queries)}],
        ComparisonOperator="GreaterThanThreshold", Threshold=0,
        EvaluationPeriods=1, DatapointsToAlarm=1, TreatMissingData="notBreaching")


def errors_alarm(stage: str, label: str, function: str) -> dict:
    """Any error of one function in 5 minutes, so the alarm names the function."""
    return _alarm(
        stage, f"errors-{label}",
        f"""The Lambda function {function} ({label}) failed at least once in the last 5
        minutes (AWS/Lambda Errors): an exception, a timeout or running out of memory.
        Read its log group {_log_group(function)} (Logs Insights: filter level = "ERROR";
        a timeout logs "Task timed out"). Lambda retries stream, queue and schedule
        events; an HTTP or WebSocket request got an error.""",
        Namespace=LAMBDA, MetricName="Errors",
        Dimensions=_dimensions({"FunctionName": function}),
        Statistic="Sum", Period=FIVE_MINUTES, EvaluationPeriods=1, DatapointsToAlarm=1,
        ComparisonOperator="GreaterThanThreshold", Threshold=0,
        TreatMissingData="notBreaching")


def no_events_alarm(stage: str, hours: Value) -> dict:
    """No EventsCounted in `hours` hourly periods in a row. The app writes the metric
    only when it counts, so an hour without is missing data: breaching here."""
    shown = "${%s}" % NO_EVENTS_PARAMETER if isinstance(hours, dict) else hours
    description = _text(
        f"""No reaction was counted for {shown} hours ({metrics.EVENTS_COUNTED},
        {metrics.STAGE} {stage}, missing data breaching): Slack may have stopped sending
        events (the app uninstalled, the Request URL changed, the event subscriptions
        turned off), the signing secret may be wrong (see EventsRefused by Reason on the
        dashboard {dashboard_name(stage)}), or the workspace was simply quiet. Check the
        app's Event Subscriptions page at api.slack.com/apps, then send a signed test
        event with `python -m devkit simulate` (README).""")
    return _alarm(
        stage, "no-events-counted",
        {"Fn::Sub": description} if isinstance(hours, dict) else description,
        Namespace=metrics.NAMESPACE, MetricName=metrics.EVENTS_COUNTED,
        Dimensions=_dimensions({metrics.STAGE: stage}),
        Statistic="Sum", Period=HOUR, EvaluationPeriods=hours, DatapointsToAlarm=hours,
        ComparisonOperator="LessThanThreshold", Threshold=1, TreatMissingData="breaching")


def stream_functions(functions: Dict[str, str]) -> Dict[str, str]:
    """Those of `functions` that app.py registers on a DynamoDB stream
    (`@app.on_dynamodb_record`, `policy.stream_handlers`): `counts_changed`."""
    return {label: functions[label] for label in sorted(policy.stream_handlers() & set(functions))}


def _logical_id(label: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", label) if part)


def alarm_resources(stage: str, functions: Dict[str, str],
                    no_events_hours: Optional[Value] = None) -> Dict[str, dict]:
    """Every alarm, by logical id. `functions`: Chalice's name of each function
    (`api_handler`, `counts_changed`...) -> its Lambda function name. The stream
    handler (app.py's `@app.on_dynamodb_record`, `policy.stream_handlers`) gets the
    iterator age alarm; the HTTP function's log group is the 5xx alarm's."""
    http_function = functions.get("api_handler", f"{infra.APP_NAME}-{stage}")
    alarms = {"Slack5xxRateAlarm": slack_5xx_alarm(stage, http_function),
              "DynamoDBThrottlesAlarm": throttles_alarm(stage)}
    for label, function in stream_functions(functions).items():
        alarms[f"{_logical_id(label)}IteratorAgeAlarm"] = iterator_age_alarm(stage, function)
    for label in sorted(functions):
        alarms[f"{_logical_id(label)}ErrorsAlarm"] = errors_alarm(stage, label, functions[label])
    if no_events_hours is not None:
        alarms["NoEventsCountedAlarm"] = _when(no_events_alarm(stage, no_events_hours),
                                               no_events_hours, HAS_NO_EVENTS_ALARM)
    return alarms


def _when(resource: dict, value: Value, condition: str) -> dict:
    """A resource made by a parameter's value is conditional on it in the packaged
    template (a reference); with a deploy's value it is simply there."""
    return {**resource, "Condition": condition} if isinstance(value, dict) else resource


# ---- the dashboard ----------------------------------------------------------------

REGION = "${AWS::Region}"  # filled in by the DashboardBody's Fn::Sub
WIDGET_WIDTH, WIDGET_HEIGHT, GRID_WIDTH = 12, 6, 24  # the dashboard's grid is 24 wide


def _metric(namespace: str, name: str, dimensions: Dict[str, str], **options) -> list:
    """One row of a widget's `metrics`: namespace, name, dimension names and values,
    then its rendering options ("Metric Widget: Format for Each Metric in the Array",
    Dashboard Body Structure and Syntax, CloudWatch API Reference)."""
    row = [namespace, name]
    for dimension, value in dimensions.items():
        row += [dimension, value]
    return row + ([options] if options else [])


def _app_metric(stage: str, name: str, **options) -> list:
    return _metric(metrics.NAMESPACE, name, {metrics.STAGE: stage}, **options)


def _widget(title: str, rows: list, stat: str = "Sum", **properties) -> dict:
    """A time series graph of `rows` over 5-minute periods."""
    return {"type": "metric", "width": WIDGET_WIDTH, "height": WIDGET_HEIGHT,
            "properties": {"title": title, "view": "timeSeries", "region": REGION,
                           "stat": stat, "period": FIVE_MINUTES, "metrics": rows,
                           **properties}}


def dashboard_widgets(stage: str, functions: Dict[str, str]) -> list:
    """The dashboard's graphs, two to a row."""
    app = functools.partial(_app_metric, stage)
    tables = infra.table_names(stage)
    widgets = [
        _widget("Slack events", [
            app(metrics.EVENTS_RECEIVED, label="received"),
            app(metrics.EVENTS_COUNTED, label="counted"),
            app(metrics.EVENTS_DUPLICATE, label="duplicate (Slack's retries)")]),
        _widget("Slack events refused, by reason", [
            _metric(metrics.NAMESPACE, metrics.EVENTS_REFUSED,
                    {metrics.STAGE: stage, metrics.REASON: reason}, label=reason)
            for reason in metrics.REFUSALS]),
        _widget("Slack route 5xx rate", [
            app(metrics.EVENTS_FAILED, id="failed", visible=False),
            app(metrics.EVENTS_RECEIVED, id="received", visible=False),
            [{"id": "rate", "label": "5xx / requests",
              "expression": "IF(received > 0, FILL(failed, 0) / received, 0)"}]],
            yAxis={"left": {"min": 0}},
            annotations={"horizontal": [{"label": "alarm", "value": SLACK_5XX_RATE}]}),
        _widget("Fan-out latency (ms, stream record to last push)", [
            app(metrics.FANOUT_LATENCY, stat="p50", label="p50"),
            app(metrics.FANOUT_LATENCY, stat="p95", label="p95")]),
        _widget("Pushes to dashboards", [app(metrics.PUSHES_SENT, label="sent"),
                                         app(metrics.PUSHES_GONE, label="gone (page closed)"),
                                         app(metrics.PUSHES_FAILED, label="failed")]),
        _widget("Stream batches", [app(metrics.STREAM_BATCH_SIZE, stat="Maximum",
                                       label="records in a batch (max)")]
                + [_metric(LAMBDA, "IteratorAge", {"FunctionName": name}, stat="Maximum",
                           yAxis="right", label=f"iterator age, ms ({name})")
                   for name in stream_functions(functions).values()]),
        _widget("Dashboards open", [app(metrics.DASHBOARDS_OPEN, label="open")],
                stat="Maximum"),
        _widget("Store errors (DynamoDB calls that failed)",
                [app(metrics.STORE_ERRORS, label="store errors")]),
        _widget("History import", [app(metrics.HISTORY_REACTIONS, label="reactions imported"),
                                   app(metrics.HISTORY_CHANNELS, label="channels done")]),
        _widget("Function errors", [_metric(LAMBDA, "Errors", {"FunctionName": name},
                                            label=label)
                                    for label, name in sorted(functions.items())]),
        _widget("DynamoDB throttles", [
            _metric(DYNAMODB, f"{kind}ThrottleEvents", {"TableName": table},
                    label=f"{key} {kind.lower()}s")
            for key, table in tables.items() for kind in ("Read", "Write")]),
    ]
    per_row = GRID_WIDTH // WIDGET_WIDTH
    for i, widget in enumerate(widgets):
        widget.update(x=(i % per_row) * WIDGET_WIDTH, y=(i // per_row) * WIDGET_HEIGHT)
    return widgets


def dashboard_body(stage: str, functions: Dict[str, str]) -> dict:
    """DashboardBody, a JSON string ("Dashboard Body Structure and Syntax"), in an
    Fn::Sub for the region every metric widget must name."""
    return {"Fn::Sub": json.dumps({"widgets": dashboard_widgets(stage, functions)},
                                  separators=(",", ":"))}


# ---- the stack ---------------------------------------------------------------------

def monitoring_resources(stage: str, *, functions: Dict[str, str],
                         alarm_email: Optional[Value] = None,
                         no_events_hours: Optional[Value] = None) -> Dict[str, dict]:
    """The topic, its email subscription (with `alarm_email`), the alarms and the
    dashboard. `alarm_email` and `no_events_hours` are the deploy's checked values
    (None: none), or references to the packaged template's parameters."""
    # No KMS encryption on the topic: CloudWatch publishes to an encrypted topic only
    # through a customer managed key whose policy grants it kms:Decrypt and
    # kms:GenerateDataKey* ("Enable compatibility between event sources from AWS
    # services and encrypted topics", SNS Developer Guide), a key to keep for messages
    # that carry no secret (an alarm's name, state and description).
    resources = {"AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {
        "TopicName": topic_name(stage),
        "DisplayName": f"Emojiboard {stage} alarms",
        "Tags": [{"Key": "app", "Value": f"{infra.APP_NAME}-{stage}"}]}}}
    if alarm_email is not None:
        # SNS mails the address a confirmation link, and "will not send messages to
        # the endpoint until the subscription has been confirmed": until then it is
        # PendingConfirmation ("Confirm the subscription", SNS Developer Guide).
        resources["AlarmEmailSubscription"] = _when(
            {"Type": "AWS::SNS::Subscription", "Properties": {
                "TopicArn": TOPIC, "Protocol": "email", "Endpoint": alarm_email}},
            alarm_email, HAS_ALARM_EMAIL)
    resources.update(alarm_resources(stage, functions, no_events_hours))
    resources["MonitoringDashboard"] = {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
        "DashboardName": dashboard_name(stage), "DashboardBody": dashboard_body(stage, functions)}}
    return resources


OUTPUTS = {"AlarmTopicArn": {"Value": TOPIC},
           "CloudWatchDashboard": {"Value": {"Ref": "MonitoringDashboard"}}}


def monitoring_template(stage: str, *, functions: Dict[str, str],
                        alarm_email: Optional[str] = None,
                        no_events_hours: Optional[int] = None) -> dict:
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Emojiboard {stage}: alarms, the topic they notify, and the "
                       "CloudWatch dashboard",
        "Resources": monitoring_resources(stage, functions=functions, alarm_email=alarm_email,
                                          no_events_hours=no_events_hours),
        "Outputs": OUTPUTS,
    }


def provision_monitoring(cfn, stage: str, *, functions: Dict[str, str],
                         alarm_email: Optional[str] = None,
                         no_events_hours: Optional[int] = None,
                         echo=log.info) -> Tuple[str, Dict[str, str]]:
    """The monitoring stack, idempotently, after `chalice deploy`: what it did
    ("created", "updated", "unchanged") and its outputs."""
    name = infra.monitoring_stack_name(stage)
    template = monitoring_template(stage, functions=functions, alarm_email=alarm_email,
                                   no_events_hours=no_events_hours)
    status = infra.ensure_stack(cfn, name, template, echo)
    return status, infra.stack_outputs(cfn, name)


def delete_monitoring(cfn, stage: str, echo=log.info) -> bool:
    return infra.delete_stack(cfn, infra.monitoring_stack_name(stage), echo)


# ---- in the packaged template ---------------------------------------------------------

def package_parts(stage: str, functions: Dict[str, str]) -> Dict[str, dict]:
    """What `deploy.merge_template` adds: Parameters (ALARM_EMAIL and
    NO_EVENTS_ALARM_HOURS, empty by default, checked as a deploy checks them),
    Conditions, Resources and Outputs."""
    email, hours = {"Ref": ALARM_EMAIL_PARAMETER}, {"Ref": NO_EVENTS_PARAMETER}
    return {
        "Parameters": {
            ALARM_EMAIL_PARAMETER: {
                "Type": "String", "Default": "", "AllowedPattern": f"^({EMAIL.pattern})?$",
                "Description": "An email address the alarms notify (it must confirm the "
                               "subscription SNS mails it); empty: none"},
            NO_EVENTS_PARAMETER: {
                "Type": "String", "Default": "", "AllowedPattern": f"^({HOURS_PATTERN})?$",
                "Description": "Alarm when no event was counted for this many hours, 1 to "
                               f"{MAX_NO_EVENTS_HOURS}; empty: no such alarm"}},
        "Conditions": {
            HAS_ALARM_EMAIL: {"Fn::Not": [{"Fn::Equals": [email, ""]}]},
            HAS_NO_EVENTS_ALARM: {"Fn::Not": [{"Fn::Equals": [hours, ""]}]}},
        "Resources": monitoring_resources(stage, functions=functions, alarm_email=email,
                                          no_events_hours=hours),
        "Outputs": OUTPUTS,
    }
