"""The monitoring stack (devkit/monitoring.py): alarms, the SNS topic they notify and
the CloudWatch dashboard, deployed by `python -m devkit deploy` after Chalice, offline
against moto as in tests/test_deploy.py (whose fixtures these are).

moto's CloudFormation gains AWS::CloudWatch::Alarm and AWS::SNS::Subscription from
tests/moto_monitoring.py; what it cannot prove is said there. cfn-lint checks the
templates against AWS's own resource schemas, and the dashboard's body is read back
from moto's CloudWatch (GetDashboard) and checked against the structure AWS documents.
"""
import json
import re

import pytest

from chalicelib import metrics
from devkit import deploy, infra, monitoring
from tests import test_deploy
from tests.test_deploy import (CHALICE_FUNCTIONS, REGION, STAGE, RecordingChalice,
                               _stack_names, _template, cfn_lint, function_name, unsubstituted)

# tests/test_deploy.py's fixtures, found here by their names: moto's server, emptied
# for each test, with the models its CloudFormation lacks (autouse), and a copy of the
# project.
moto_url, aws, project = test_deploy.moto_url, test_deploy.aws, test_deploy.project
moto_updates_stages = test_deploy.moto_updates_stages
moto_serves_cloudfront = test_deploy.moto_serves_cloudfront
moto_serves_monitoring = test_deploy.moto_serves_monitoring

STACK = "emojiboard-prod-monitoring"
FUNCTIONS = {name: function_name(STAGE, name) for name in CHALICE_FUNCTIONS}
# The catalogue's metric names: chalicelib/metrics.py's constants that name a metric
# (not the namespace, a dimension or a unit).
NOT_METRICS = {"NAMESPACE", "STAGE", "REASON", "COUNT", "MILLISECONDS"}
CATALOGUE = {value for name, value in vars(metrics).items()
             if name.isupper() and isinstance(value, str) and name not in NOT_METRICS}


def _deploy(aws, project, env=None, chalice=None, lines=None):
    chalice = chalice or RecordingChalice(project)
    return deploy.deploy(STAGE, aws, chalice, out_dir=project / "dist", env=env or {},
                         echo=(lines if lines is not None else []).append)


def _alarms(aws) -> dict:
    found = aws.client("cloudwatch").describe_alarms(
        AlarmNamePrefix=monitoring.alarm_prefix(STAGE))["MetricAlarms"]
    return {alarm["AlarmName"]: alarm for alarm in found}


def _subscriptions(aws, topic_arn):
    return [(s["Protocol"], s["Endpoint"]) for s in aws.client("sns").list_subscriptions_by_topic(
        TopicArn=topic_arn)["Subscriptions"]]


def _stat(query: dict) -> tuple:
    """(namespace, metric, {dimension: value}, stat, period) of a MetricDataQuery."""
    stat = query["MetricStat"]
    metric = stat["Metric"]
    return (metric["Namespace"], metric["MetricName"],
            {d["Name"]: d["Value"] for d in metric["Dimensions"]}, stat["Stat"], stat["Period"])


# ---- the template --------------------------------------------------------------

@pytest.mark.parametrize("email, hours", [(None, None), ("ops@example.com", 24)])
def test_the_monitoring_template_passes_cfn_lint(tmp_path, email, hours):
    template = monitoring.monitoring_template(STAGE, functions=FUNCTIONS, alarm_email=email,
                                              no_events_hours=hours)
    path = tmp_path / "monitoring.json"
    path.write_text(json.dumps(template, indent=1))
    cfn_lint(path)
    assert unsubstituted(template) == []


def test_the_packaged_monitoring_passes_cfn_lint(tmp_path):
    """As `merge_template` adds it: the email and the hours as parameters, what they
    add conditional (the whole packaged template is linted in test_deploy.py too)."""
    parts = monitoring.package_parts(STAGE, {"api_handler": "emojiboard-prod",
                                             "counts_changed": "emojiboard-prod-counts_changed"})
    path = tmp_path / "packaged.json"
    path.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", **parts}, indent=1))
    cfn_lint(path)
    assert unsubstituted(parts) == []
    description = parts["Resources"]["NoEventsCountedAlarm"]["Properties"]["AlarmDescription"]
    assert description["Fn::Sub"].startswith("No reaction was counted for "
                                             "${NoEventsAlarmHours} hours")


def _metrics_named(template: dict, body: dict):
    """Every (namespace, metric, dimensions) the alarms and the dashboard read."""
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        if "MetricName" in props:
            yield (props["Namespace"], props["MetricName"],
                   {d["Name"]: d["Value"] for d in props["Dimensions"]})
        for query in props.get("Metrics", []):
            if "MetricStat" in query:
                yield _stat(query)[:3]
    for widget in body["widgets"]:
        for row in widget["properties"]["metrics"]:
            names = [item for item in row if isinstance(item, str)]
            if names:  # not an expression
                yield names[0], names[1], dict(zip(names[2::2], names[3::2]))


def test_only_the_catalogue_s_metric_names_are_read():
    """No typo can slip in: the app's metrics are those of chalicelib/metrics.py, in
    its namespace, by Stage (and refusals by a Reason it lists); AWS's are the few
    monitoring.AWS_METRICS names. And every metric of the catalogue is on the
    dashboard."""
    template = monitoring.monitoring_template(STAGE, functions=FUNCTIONS, no_events_hours=1)
    body = json.loads(template["Resources"]["MonitoringDashboard"]["Properties"][
        "DashboardBody"]["Fn::Sub"])
    named = list(_metrics_named(template, body))
    assert CATALOGUE >= {"EventsReceived", "EventsFailed", "FanoutLatency"}  # it is read
    app = [(name, dims) for namespace, name, dims in named if namespace == metrics.NAMESPACE]
    assert {name for name, _ in app} <= CATALOGUE
    assert {name for name, _ in app} == CATALOGUE, "a metric of chalicelib/metrics.py has no graph"
    for name, dims in app:
        assert dims.get(metrics.STAGE) == STAGE, name
        assert set(dims) - {metrics.STAGE} <= ({metrics.REASON} if name == metrics.EVENTS_REFUSED
                                               else set()), name
        assert dims.get(metrics.REASON, metrics.REFUSALS[0]) in metrics.REFUSALS
    others = {(namespace, name) for namespace, name, _ in named if namespace != metrics.NAMESPACE}
    assert others == {(namespace, name) for namespace, names in monitoring.AWS_METRICS.items()
                      for name in names}


def test_the_dashboard_body_is_what_cloudwatch_documents():
    """"Dashboard Body Structure and Syntax": a `widgets` array of metric widgets on a
    24-column grid, each with its region and a `metrics` array whose rows are
    [namespace, name, dimension name, value..., {options}] or [{expression}]; ids
    start with a lowercase letter and every expression names only ids of its widget."""
    body = json.loads(monitoring.dashboard_body(STAGE, FUNCTIONS)["Fn::Sub"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles == ["Slack events", "Slack events refused, by reason", "Slack route 5xx rate",
                      "Fan-out latency (ms, stream record to last push)", "Pushes to dashboards",
                      "Stream batches", "Dashboards open",
                      "Store errors (DynamoDB calls that failed)", "History import",
                      "Function errors", "DynamoDB throttles"]
    places = set()
    for widget in body["widgets"]:
        assert widget["type"] == "metric"
        assert widget["x"] + widget["width"] <= 24 and widget["height"] > 0
        places.add((widget["x"], widget["y"]))
        props = widget["properties"]
        assert props["region"] == "${AWS::Region}" and props["view"] == "timeSeries"
        ids = set()
        for row in props["metrics"]:
            options = row[-1] if isinstance(row[-1], dict) else {}
            names = [item for item in row if isinstance(item, str)]
            assert len(names) in (0, 4, 6), row  # namespace, name, then dimension pairs
            if "id" in options:
                assert re.fullmatch(r"[a-z][A-Za-z0-9_]*", options["id"])
                ids.add(options["id"])
        expressions = [row[-1]["expression"] for row in props["metrics"]
                       if isinstance(row[-1], dict) and "expression" in row[-1]]
        for expression in expressions:
            assert set(re.findall(r"\b[a-z][A-Za-z0-9_]*\b", expression)) <= ids, expression
    assert len(places) == len(body["widgets"])  # no two in one place
    stats = {w["properties"]["title"]: w["properties"]["stat"] for w in body["widgets"]}
    assert stats["Dashboards open"] == "Maximum"
    latency = [row[-1]["stat"] for row in body["widgets"][3]["properties"]["metrics"]]
    assert latency == ["p50", "p95"]


def test_the_settings_are_checked():
    assert monitoring.checked_alarm_email(" ops@example.com ") == "ops@example.com"
    assert monitoring.checked_alarm_email("") is None
    assert monitoring.checked_alarm_email(None) is None
    for bad in ("ops", "ops@example", "ops@@example.com", "a@b.com,c@d.com", "ops @example.com"):
        with pytest.raises(ValueError, match="ALARM_EMAIL must be one email address"):
            monitoring.checked_alarm_email(bad)
    assert monitoring.checked_no_events_hours(" 24 ") == 24
    assert monitoring.checked_no_events_hours("168") == 168 == monitoring.MAX_NO_EVENTS_HOURS
    assert monitoring.checked_no_events_hours(None) is None
    for bad in ("0", "169", "1.5", "-3", "two", "24h"):
        with pytest.raises(ValueError, match="whole number of hours from 1 to 168"):
            monitoring.checked_no_events_hours(bad)
    # CloudWatch's limit: Period x EvaluationPeriods at most 604,800 s for hourly periods.
    assert monitoring.MAX_NO_EVENTS_HOURS * monitoring.HOUR == 604_800


def test_the_packaged_parameters_check_what_a_deploy_checks():
    """AllowedPattern (a Java regular expression; these use nothing Python reads
    otherwise) accepts exactly what the deploy accepts."""
    parameters = monitoring.package_parts(STAGE, {})["Parameters"]
    hours = re.compile(parameters["NoEventsAlarmHours"]["AllowedPattern"])
    assert [n for n in range(0, 1000) if hours.fullmatch(str(n))] == list(range(1, 169))
    assert hours.fullmatch("") and not hours.fullmatch("024")
    email = re.compile(parameters["AlarmEmail"]["AllowedPattern"])
    for value in ("", "ops@example.com", "ops", "a@b.com,c@d.com"):
        try:
            accepted = monitoring.checked_alarm_email(value) is not None or value == ""
        except ValueError:
            accepted = False
        assert bool(email.fullmatch(value)) == accepted, value


def test_the_console_url_of_the_dashboard():
    assert monitoring.dashboard_url("eu-west-1", "emojiboard-prod") == (
        "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        "#dashboards:name=emojiboard-prod")
    assert monitoring.dashboard_url("cn-north-1", "emojiboard-prod", "aws-cn").startswith(
        "https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1#")


def test_merge_template_adds_the_monitoring_and_stage():
    chalice_template = {"Resources": {
        "APIHandler": {"Type": "AWS::Serverless::Function", "Properties": {
            "Handler": "app.app", "Role": {"Fn::GetAtt": ["DefaultRole", "Arn"]}}},
        "CountsChanged": {"Type": "AWS::Serverless::Function", "Properties": {
            "Handler": "app.counts_changed", "Role": {"Fn::GetAtt": ["DefaultRole", "Arn"]}}}}}
    merged = deploy.merge_template(STAGE, chalice_template, headers={})
    resources = merged["Resources"]
    assert resources["APIHandler"]["Properties"]["Environment"]["Variables"]["STAGE"] == STAGE
    assert resources["ApiHandlerErrorsAlarm"]["Properties"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": "emojiboard-prod"}]
    assert "CountsChangedIteratorAgeAlarm" in resources
    assert set(merged["Conditions"]) == {"HasAlarmEmail", "HasNoEventsAlarm"}
    assert {"AlarmEmail", "NoEventsAlarmHours"} <= set(merged["Parameters"])
    assert merged["Outputs"]["CloudWatchDashboard"] == {"Value": {"Ref": "MonitoringDashboard"}}


# ---- deployed, against moto --------------------------------------------------------

def test_a_deploy_creates_the_alarms_the_topic_and_the_dashboard(aws, project):
    lines = []
    result = _deploy(aws, project, lines=lines)
    cfn = aws.client("cloudformation")
    assert result.stacks[STACK] == "created"
    assert STACK in _stack_names(cfn)
    # After Chalice (the alarms name its functions), before the site is uploaded.
    created = lines.index(f"stack {STACK}: creating")
    assert created > max(i for i, line in enumerate(lines) if line.startswith("chalice deploy"))
    assert created < min(i for i, line in enumerate(lines) if line.startswith("uploaded "))
    outputs = infra.stack_outputs(cfn, STACK)
    topic = outputs["AlarmTopicArn"]
    assert topic == f"arn:aws:sns:{REGION}:123456789012:emojiboard-prod-alarms"
    assert result.monitoring == outputs and outputs["CloudWatchDashboard"] == "emojiboard-prod"
    assert _subscriptions(aws, topic) == []  # no ALARM_EMAIL

    alarms = _alarms(aws)
    prefix = "emojiboard-prod-"
    assert set(alarms) == {prefix + name for name in (
        "slack-5xx-rate", "stream-iterator-age", "dynamodb-throttles",
        *(f"errors-{function}" for function in CHALICE_FUNCTIONS))}  # no no-events alarm
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]
        assert alarm["ActionsEnabled"] is True
        assert 200 < len(alarm["AlarmDescription"]) <= 1024
        assert alarm["EvaluationPeriods"] == 1 and alarm["TreatMissingData"] == "notBreaching"

    rate = alarms[prefix + "slack-5xx-rate"]
    assert (rate["ComparisonOperator"], rate["Threshold"]) == ("GreaterThanThreshold", 0.05)
    queries = {q["Id"]: q for q in rate["Metrics"]}
    assert _stat(queries["failed"]) == ("Emojiboard", "EventsFailed", {"Stage": "prod"}, "Sum", 300)
    assert _stat(queries["received"]) == ("Emojiboard", "EventsReceived", {"Stage": "prod"},
                                          "Sum", 300)
    assert queries["rate"]["Expression"] == "IF(received > 0, FILL(failed, 0) / received, 0)"
    assert [q["Id"] for q in rate["Metrics"] if q["ReturnData"]] == ["rate"]
    assert "Period" not in rate or not rate["Period"]  # each query has its own

    age = alarms[prefix + "stream-iterator-age"]
    assert (age["Namespace"], age["MetricName"], age["Statistic"], age["Period"]) \
        == ("AWS/Lambda", "IteratorAge", "Maximum", 300)
    assert age["Dimensions"] == [{"Name": "FunctionName",
                                  "Value": "emojiboard-prod-counts_changed"}]
    assert (age["ComparisonOperator"], age["Threshold"]) == ("GreaterThanThreshold", 60000)

    throttles = alarms[prefix + "dynamodb-throttles"]
    queries = {q["Id"]: q for q in throttles["Metrics"]}
    assert [_stat(q) for q in queries.values() if "MetricStat" in q] == [
        ("AWS/DynamoDB", f"{kind}ThrottleEvents", {"TableName": table}, "Sum", 300)
        for table in ("emojiboard-prod-counts", "emojiboard-prod-connections")
        for kind in ("Read", "Write")]
    assert queries["throttles"]["Expression"] == (
        "FILL(read_counts, 0) + FILL(write_counts, 0) + FILL(read_connections, 0) + "
        "FILL(write_connections, 0)")
    assert (throttles["ComparisonOperator"], throttles["Threshold"]) == ("GreaterThanThreshold", 0)

    for function in CHALICE_FUNCTIONS:
        errors = alarms[f"{prefix}errors-{function}"]
        assert (errors["Namespace"], errors["MetricName"], errors["Statistic"]) \
            == ("AWS/Lambda", "Errors", "Sum")
        assert errors["Dimensions"] == [{"Name": "FunctionName",
                                         "Value": function_name(STAGE, function)}]
        assert (errors["ComparisonOperator"], errors["Threshold"]) == ("GreaterThanThreshold", 0)
        assert function_name(STAGE, function) in errors["AlarmDescription"]

    # The dashboard, as CloudWatch keeps it: the region filled in.
    dashboard = aws.client("cloudwatch").get_dashboard(DashboardName="emojiboard-prod")
    body = json.loads(dashboard["DashboardBody"])
    assert {w["properties"]["region"] for w in body["widgets"]} == {REGION}
    assert result.cloudwatch_url == monitoring.dashboard_url(REGION, "emojiboard-prod")
    assert f"CloudWatch:         {result.cloudwatch_url}" in lines
    assert f"Alarms:             emojiboard-prod-*, to SNS topic {topic}" in lines
    assert "  - nobody is subscribed (set ALARM_EMAIL, or subscribe to the topic)" in lines
    assert "  - the no-events alarm: off (NO_EVENTS_ALARM_HOURS sets the hours)" in lines


def test_alarm_email_and_no_events_hours(aws, project):
    """ALARM_EMAIL from SSM, NO_EVENTS_ALARM_HOURS from the deployer's environment, as
    every setting is read; changed later, the stack follows."""
    aws.client("ssm").put_parameter(Name="/emojiboard/prod/alarm-email",
                                    Value="ops@example.com", Type="String")
    lines = []
    result = _deploy(aws, project, env={"NO_EVENTS_ALARM_HOURS": "24"}, lines=lines)
    topic = result.monitoring["AlarmTopicArn"]
    assert _subscriptions(aws, topic) == [("email", "ops@example.com")]
    assert "  - ops@example.com must confirm the subscription: SNS has mailed it a link " \
           "(\"AWS Notification - Subscription Confirmation\"), and nothing reaches it before " \
           "it is followed" in lines
    assert "  - the no-events alarm: after 24 hours without a counted event" in lines
    quiet = _alarms(aws)["emojiboard-prod-no-events-counted"]
    assert (quiet["Namespace"], quiet["MetricName"], quiet["Statistic"], quiet["Period"]) \
        == ("Emojiboard", "EventsCounted", "Sum", 3600)
    assert quiet["Dimensions"] == [{"Name": "Stage", "Value": "prod"}]
    assert quiet["EvaluationPeriods"] == quiet["DatapointsToAlarm"] == 24
    assert (quiet["ComparisonOperator"], quiet["Threshold"]) == ("LessThanThreshold", 1)
    assert quiet["TreatMissingData"] == "breaching"
    assert quiet["AlarmActions"] == quiet["OKActions"] == [topic]
    assert quiet["AlarmDescription"].startswith("No reaction was counted for 24 hours")
    # The functions never see these settings.
    assert not {"ALARM_EMAIL", "NO_EVENTS_ALARM_HOURS"} & set(result.environment)

    again = _deploy(aws, project, env={"ALARM_EMAIL": "oncall@example.com",
                                       "NO_EVENTS_ALARM_HOURS": "48"})
    assert again.stacks[STACK] == "updated"
    assert _subscriptions(aws, topic) == [("email", "oncall@example.com")]
    assert _alarms(aws)["emojiboard-prod-no-events-counted"]["EvaluationPeriods"] == 48

    _deploy(aws, project, env={})  # unset in the environment, but still in SSM
    assert _subscriptions(aws, topic) == [("email", "ops@example.com")]
    assert "emojiboard-prod-no-events-counted" not in _alarms(aws)


@pytest.mark.parametrize("env, message", [
    ({"ALARM_EMAIL": "ops at example.com"},
     r"ALARM_EMAIL must be one email address .*'ops at example.com'.*/emojiboard/prod/alarm-email"),
    ({"ALARM_EMAIL": "a@example.com, b@example.com"}, r"ALARM_EMAIL must be one email address"),
    ({"NO_EVENTS_ALARM_HOURS": "0"},
     r"NO_EVENTS_ALARM_HOURS must be a whole number of hours from 1 to 168 .*'0'.*"
     r"/emojiboard/prod/no-events-alarm-hours"),
    ({"NO_EVENTS_ALARM_HOURS": "169"}, r"from 1 to 168 \(CloudWatch evaluates an alarm over "
                                       r"at most seven days\)"),
    ({"NO_EVENTS_ALARM_HOURS": "2.5"}, r"NO_EVENTS_ALARM_HOURS must be a whole number"),
])
def test_a_bad_monitoring_setting_stops_before_anything(aws, project, env, message):
    test_deploy.stops_before_anything(aws, project, env, message)


def test_a_second_deploy_changes_nothing_and_destroy_removes_it(aws, project):
    cfn, cloudwatch = aws.client("cloudformation"), aws.client("cloudwatch")
    env = {"ALARM_EMAIL": "ops@example.com", "NO_EVENTS_ALARM_HOURS": "6"}
    first = _deploy(aws, project, env=env)
    events = len(cfn.describe_stack_events(StackName=STACK)["StackEvents"])
    template = _template(cfn, STACK)
    alarms = _alarms(aws)
    lines = []
    again = _deploy(aws, project, env=env, lines=lines)
    assert again.stacks[STACK] == "unchanged"
    assert f"stack {STACK}: unchanged" in lines
    assert len(cfn.describe_stack_events(StackName=STACK)["StackEvents"]) == events
    assert "LastUpdatedTime" not in cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert _template(cfn, STACK) == template
    assert _alarms(aws) == alarms
    assert again.monitoring == first.monitoring

    lines = []
    deploy.destroy(STAGE, aws, RecordingChalice(project), echo=lines.append)
    assert lines[0] == f"stack {STACK}: deleting"
    assert STACK not in _stack_names(cfn)
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []
    assert aws.client("sns").list_topics()["Topics"] == []
    assert aws.client("sns").list_subscriptions()["Subscriptions"] == []


def _as_cloudwatch_extracts(cloudwatch, blobs) -> None:
    """What CloudWatch Logs does with the functions' EMF lines: each valid blob's
    metrics, under each of its dimension sets (devkit/emf.py reads them as the
    specification says), put into moto's CloudWatch."""
    from datetime import datetime, timezone

    from devkit import emf
    for datum in emf.data(blobs):
        cloudwatch.put_metric_data(Namespace=datum.namespace, MetricData=[{
            "MetricName": datum.name, "Values": list(datum.values),
            "Dimensions": [{"Name": k, "Value": v} for k, v in datum.dimensions],
            "Timestamp": datetime.fromtimestamp(datum.timestamp_ms / 1000, timezone.utc)}])


def test_status_of_a_deployed_stage_reads_cloudwatch_the_tables_and_the_alarms(
        aws, project, monkeypatch):
    """`status --stage`: the metrics from CloudWatch (here moto's, fed the app's own
    blobs as CloudWatch Logs extracts them; moto gains percentiles for this, see
    tests/moto_monitoring.py), dashboards open from the connections table, and the
    alarms in alarm by their prefix."""
    import time

    from devkit import status
    from tests import moto_monitoring
    moto_monitoring.percentile_statistics(monkeypatch)
    _deploy(aws, project)
    now = time.time()
    blobs = []
    for ago, sent in ((50 * 60, [("EventsReceived", {}), ("EventsCounted", {})]),
                      (600, [("EventsReceived", {}), ("EventsCounted", {})]),
                      (300, [("EventsReceived", {}), ("EventsRefused", {"Reason": "signature"})]),
                      (120, [("EventsReceived", {}), ("EventsFailed", {})]),
                      (5 * 3600, [("EventsReceived", {}), ("EventsCounted", {})])):
        measured = metrics.Metrics()
        for name, dims in sent:
            measured.add(name, **dims)
        blobs += measured.blobs(STAGE, int((now - ago) * 1000))
    latencies = metrics.Metrics()
    for ms in range(1, 101):  # 1..100 ms: p95 is 95
        latencies.add(metrics.FANOUT_LATENCY, ms)
    blobs += latencies.blobs(STAGE, int((now - 240) * 1000))
    blobs += latencies.blobs("dev", int((now - 240) * 1000))  # another stage: not read
    _as_cloudwatch_extracts(aws.client("cloudwatch"), blobs)
    aws.client("dynamodb").put_item(
        TableName=infra.table_names(STAGE)["connections"],
        Item={"pk": {"S": "CONN"}, "sk": {"S": "c1"}, "topic": {"S": "all"},
              "expires_at": {"N": str(int(now) + 3600)}})
    firing = f"{monitoring.alarm_prefix(STAGE)}errors-push_shard"
    aws.client("cloudwatch").set_alarm_state(AlarmName=firing, StateValue="ALARM",
                                             StateReason="test")

    report = status.deployed(STAGE, aws, now=now)
    assert (report.counted_hour, report.counted_day) == (2, 3)
    assert report.received_hour == 4 and report.refused_hour["signature"] == 1
    assert report.failed_hour == 1 and report.failed_rate == 0.25
    assert report.last_counted == (now - 600) // 60 * 60
    assert report.latency_p95_ms == 95
    assert report.dashboards_open == 1
    assert report.alarms == [firing]
    assert report.history["state"] == "idle"
    assert report.verdict().startswith("NEEDS ATTENTION: 1 alarm")
    assert firing in status.render(report)
