"""`python -m devkit deploy|destroy|package`, offline: no AWS account, no network.

moto stands in for AWS. It runs as a server (`ThreadedMotoServer`, in this process)
and the real deploy code reaches it through `AWS_ENDPOINT_URL`, as it reaches AWS:
CloudFormation, DynamoDB, SQS, S3, SSM, STS, CloudFront, and for the Chalice rehearsal
IAM, Lambda (functions and their event source mappings, from the counts table's stream,
the push queue and the tasks queue) and API Gateway. What moto 5.2.5 does not serve,
and how these tests deal with it:

- its CloudFormation creates the tables and the bucket, but drops some properties:
  TimeToLiveSpecification, PointInTimeRecoverySpecification, the bucket's
  OwnershipControls and PublicAccessBlockConfiguration, and AWS::S3::BucketPolicy.
  Those are checked in the template the stack holds (`GetTemplate`), and that
  template's properties are checked against AWS's own resource schemas by cfn-lint
  (test_package..., test_the_edge_stack...); the site test applies the bucket policy
  and the public access block by hand;
- its CloudFormation has no AWS::CloudFront:: resource at all (the edge stack would
  not even create), and moto has no response headers policies: `moto_serves_cloudfront`
  gives its CloudFormation models backed by moto's own CloudFront API (distributions,
  origin access controls, functions; tests/moto_cloudfront.py), so the deploy's edge
  stack is created, updated and deleted and its distribution read back through the
  CloudFront API. moto's distribution keeps origins, behaviours and their policy ids,
  not an origin's origin access control nor a behaviour's function: those, and the
  headers policy, are checked in the stored template (and by cfn-lint);
- its CloudFormation has no AWS::CloudWatch::Alarm nor AWS::SNS::Subscription (the
  monitoring stack would create without its alarms): `moto_serves_monitoring` gives it
  models backed by moto's CloudWatch and SNS (tests/moto_monitoring.py), so the alarms
  are read back with DescribeAlarms. moto stores a metric math expression without
  parsing or evaluating it, and confirms an email subscription at once;
- API Gateway's ImportRestApi takes only OpenAPI 3 (Chalice sends Swagger 2.0) and
  needs `info.description` and a `uri` on every integration (Chalice's CORS preflight
  is a mock integration without one): `_moto_imports_swagger` converts the document
  moto receives;
- API Gateway v2's CreateDeployment is not implemented: `_answer_create_deployment`
  answers it on the client side with a deployment id;
- API Gateway v2's UpdateStage (the WebSocket stage's throttling) is not implemented:
  `moto_updates_stages` adds it to moto's server, so the deploy's real request reaches
  it and a later GetStage reads what it set;
- nothing runs: moto stores the Lambda functions but does not invoke them (that
  needs Docker), so the deployed app is not exercised through API Gateway here. The
  local stack tests (the rest of the suite) run the same app code.

`chalice deploy|package` build the Lambda bundle from `.wheels/` (`make install`
downloads it), with pip's index turned off.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import boto3
import pytest
import requests
from moto.apigateway.models import APIGatewayBackend
from moto.apigatewayv2.responses import ApiGatewayV2Response
from moto.server import ThreadedMotoServer

from chalicelib import fanout, sessions, signin
from devkit import deploy, infra, manifest, monitoring, policy, publish, site, tables
from tests import moto_cloudfront, moto_monitoring

ROOT = Path(__file__).resolve().parent.parent
STAGE = "prod"
REGION = "eu-west-1"
COPY_IGNORE = shutil.ignore_patterns(".venv", "node_modules", ".git", ".data", "dist",
                                     ".pytest_cache", "__pycache__", "artifacts", ".wheels",
                                     "deployed", "deployments")


@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def moto_updates_stages(monkeypatch):
    """moto 5.2.5 has no API Gateway v2 UpdateStage; this adds it to moto's server
    (as AWS does, a stage's DefaultRouteSettings take the request's values). Returns
    the request bodies moto received."""
    received = []

    def update_stage(self):
        api_id, stage_name = self.path.split("/")[-3], unquote(self.path.split("/")[-1])
        stage = self.apigatewayv2_backend.get_stage(api_id, stage_name)
        body = json.loads(self.body)
        received.append(body)
        stage.default_route_settings.update(body.get("defaultRouteSettings", {}))
        return 200, {}, json.dumps(stage.to_json())

    monkeypatch.setattr(ApiGatewayV2Response, "update_stage", update_stage, raising=False)
    return received


@pytest.fixture(autouse=True)
def moto_serves_cloudfront(monkeypatch):
    """AWS::CloudFront:: resources in moto's CloudFormation (module docstring); the
    response headers policies it keeps, by id."""
    from moto.cloudformation import parsing
    models = parsing.get_model_map()
    monkeypatch.setattr(parsing, "get_model_map", lambda: {**models, **moto_cloudfront.MODELS})
    moto_cloudfront.ResponseHeadersPolicy.stored.clear()
    return moto_cloudfront.ResponseHeadersPolicy.stored


@pytest.fixture(autouse=True)
def moto_serves_monitoring(monkeypatch, moto_serves_cloudfront):
    """AWS::CloudWatch::Alarm and AWS::SNS::Subscription in moto's CloudFormation
    (module docstring), beside the CloudFront models."""
    from moto.cloudformation import parsing
    models = parsing.get_model_map()
    monkeypatch.setattr(parsing, "get_model_map", lambda: {**models, **moto_monitoring.MODELS})


@pytest.fixture
def aws(moto_url, monkeypatch):
    """A boto3 session whose every client talks to moto; moto starts empty."""
    requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in deploy.SECRETS + deploy.OPTIONAL_SETTINGS + deploy.MONITORING_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return boto3.session.Session(region_name=REGION)


@pytest.fixture
def project(tmp_path):
    """A copy of the project: deploys write `.chalice/deployed/` and the policy."""
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=COPY_IGNORE)
    return copy


@pytest.fixture
def offline_pip(monkeypatch):
    wheels = ROOT / ".wheels"
    if not any(wheels.glob("*.whl")):
        pytest.fail("no wheels in .wheels/: run `make install`")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))


def _template(cfn, stack: str) -> dict:
    body = cfn.get_template(StackName=stack)["TemplateBody"]
    return json.loads(body) if isinstance(body, str) else body


def _stack_names(cfn):
    return {s["StackName"] for s in cfn.describe_stacks()["Stacks"]}


def _queue(sqs, outputs: dict, output: str, name: str) -> dict:
    """A queue of the stack, read back from SQS: its output is its Ref, as on AWS (moto's
    own API answers with its server's address), its ARN the output's when there is one;
    encrypted. Its attributes."""
    assert outputs[f"{output}Url"] == f"https://sqs.{REGION}.amazonaws.com/123456789012/{name}"
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["QueueArn"] == outputs.get(f"{output}Arn", attributes["QueueArn"]) \
        == f"arn:aws:sqs:{REGION}:123456789012:{name}"
    assert attributes["SqsManagedSseEnabled"] == "true"
    return attributes


def _tables(session):
    return set(session.client("dynamodb").list_tables()["TableNames"])


def _queues(session):
    urls = session.client("sqs").list_queues().get("QueueUrls", [])
    return {url.rsplit("/", 1)[1] for url in urls}


QUEUES = {"emojiboard-prod-push", "emojiboard-prod-tasks", "emojiboard-prod-tasks-dead"}


def _tasks(session, stage=STAGE):
    """The bodies waiting on the stage's tasks queue (received, so gone after)."""
    sqs = session.client("sqs")
    url = sqs.get_queue_url(QueueName=f"emojiboard-{stage}-tasks")["QueueUrl"]
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return bodies
        for message in got:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


# ---- the stacks ---------------------------------------------------------------

def test_provisioning_creates_the_tables_and_the_bucket_the_app_expects(aws):
    cfn, ddb = aws.client("cloudformation"), aws.client("dynamodb")
    outputs = infra.provision(cfn, STAGE)
    names = infra.table_names(STAGE)
    assert names == {"counts": "emojiboard-prod-counts",
                     "connections": "emojiboard-prod-connections"}
    assert outputs["CountsTable"] == names["counts"]
    assert outputs["ConnectionsTable"] == names["connections"]
    expected = tables.definition("x")
    for name in names.values():
        table = ddb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == expected["KeySchema"]
        assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) \
            == expected["AttributeDefinitions"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert aws.client("s3").head_bucket(Bucket=outputs["SiteBucket"])
    # The edge stack's origin for it: the bucket's regional endpoint (no website).
    assert outputs["SiteBucketDomain"] == f"{outputs['SiteBucket']}.s3.{REGION}.amazonaws.com"
    assert "SiteURL" not in outputs

    # The push queue, read back from SQS: encrypted, 6 x push_shard's 15 s timeout,
    # kept only as long as a shard is worth pushing.
    sqs = aws.client("sqs")
    attributes = _queue(sqs, outputs, "PushQueue", "emojiboard-prod-push")
    assert attributes["VisibilityTimeout"] == "90"
    assert attributes["MessageRetentionPeriod"] == "60"
    assert "RedrivePolicy" not in attributes  # no dead-letter queue
    assert attributes.get("FifoQueue", "false") == "false"

    # The tasks queue: encrypted, 6 x slack_tasks' 150 s timeout (a 120 s slice and its
    # margin), kept SQS's default 4 days, and a dead-letter queue after 5 receives.
    attributes = _queue(sqs, outputs, "TasksQueue", "emojiboard-prod-tasks")
    assert infra.function_setting(STAGE, "slack_tasks", "lambda_timeout") == 150
    assert attributes["VisibilityTimeout"] == "900"
    assert attributes["MessageRetentionPeriod"] == str(4 * 24 * 3600)
    assert attributes.get("FifoQueue", "false") == "false"
    dead_arn = f"arn:aws:sqs:{REGION}:123456789012:emojiboard-prod-tasks-dead"
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": dead_arn,
                                                       "maxReceiveCount": 5}
    dead = _queue(sqs, outputs, "TasksDeadLetterQueue", "emojiboard-prod-tasks-dead")
    assert dead["QueueArn"] == dead_arn
    # Longer than the source's: a dead letter keeps its first enqueue time.
    assert int(dead["MessageRetentionPeriod"]) == 14 * 24 * 3600 \
        > int(attributes["MessageRetentionPeriod"])
    assert "RedrivePolicy" not in dead

    # What moto's CloudFormation drops, read from the templates the stacks hold.
    data = _template(cfn, "emojiboard-prod-data")["Resources"]["CountsTable"]
    app = _template(cfn, "emojiboard-prod")["Resources"]
    for table in (data, app["ConnectionsTable"]):
        assert table["Properties"]["TimeToLiveSpecification"] == {
            "AttributeName": tables.TTL_ATTRIBUTE, "Enabled": True}
    assert data["Properties"]["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True}
    assert data["DeletionPolicy"] == data["UpdateReplacePolicy"] == "Retain"
    assert "PointInTimeRecoverySpecification" not in app["ConnectionsTable"]["Properties"]
    assert app["PushQueue"]["Properties"] == {
        "QueueName": "emojiboard-prod-push", "SqsManagedSseEnabled": True,
        "VisibilityTimeout": 90, "MessageRetentionPeriod": 60,
        "Tags": [{"Key": "app", "Value": "emojiboard-prod"}]}
    assert app["TasksQueue"]["Properties"] == {
        "QueueName": "emojiboard-prod-tasks", "SqsManagedSseEnabled": True,
        "VisibilityTimeout": 900, "MessageRetentionPeriod": 345600,
        "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["TasksDeadLetterQueue", "Arn"]},
                          "maxReceiveCount": 5},
        "Tags": [{"Key": "app", "Value": "emojiboard-prod"}]}
    assert app["TasksDeadLetterQueue"]["Properties"] == {
        "QueueName": "emojiboard-prod-tasks-dead", "SqsManagedSseEnabled": True,
        "MessageRetentionPeriod": 1209600,
        "Tags": [{"Key": "app", "Value": "emojiboard-prod"}]}
    # The site bucket is private: no website, every public access blocked, no ACLs, and
    # no bucket policy here (the edge stack's lets CloudFront alone read it).
    assert app["SiteBucket"]["Properties"] == {
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True, "IgnorePublicAcls": True,
            "BlockPublicPolicy": True, "RestrictPublicBuckets": True},
        "Tags": [{"Key": "app", "Value": "emojiboard-prod"}]}
    assert [r["Type"] for r in app.values()].count("AWS::S3::BucketPolicy") == 0


def test_a_second_provisioning_changes_nothing(aws):
    cfn = aws.client("cloudformation")
    first = infra.provision(cfn, STAGE)
    assert set(first["_status"].values()) == {"created"}
    events = {name: len(cfn.describe_stack_events(StackName=name)["StackEvents"])
              for name in infra.stack_names(STAGE).values()}
    second = infra.provision(cfn, STAGE)
    assert set(second["_status"].values()) == {"unchanged"}
    assert {k: v for k, v in second.items() if k != "_status"} \
        == {k: v for k, v in first.items() if k != "_status"}
    for name in infra.stack_names(STAGE).values():
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        assert "LastUpdatedTime" not in stack
        assert len(cfn.describe_stack_events(StackName=name)["StackEvents"]) == events[name]


# The Lambda functions Chalice makes of app.py (its names for them), as the rehearsal
# against moto finds them (test_chalice_deploy_rehearsed_against_moto).
CHALICE_FUNCTIONS = ("api_handler", "websocket_connect", "websocket_message",
                     "websocket_disconnect", "counts_changed", "push_shard", "slack_tasks",
                     "weekly_digest")


def function_name(stage: str, function: str) -> str:
    """What `chalice deploy` names a function: the app and stage, then its own name."""
    return f"emojiboard-{stage}" + ("" if function == "api_handler" else f"-{function}")


class RecordingChalice(deploy.Chalice):
    """Stands in for Chalice where only the orchestration is under test: records each
    deploy's environment and policy, creates the WebSocket API and its stage in moto
    on the first deploy, and writes `.chalice/deployed/{stage}.json`, as Chalice does
    (the APIs and CHALICE_FUNCTIONS; no function is created in moto)."""

    def __init__(self, project_dir, rest_id="rest0api1"):
        super().__init__(project_dir)
        self.api_id, self.rest_id = None, rest_id
        self.deploys, self.deletes = [], []
        self.edge_stack_at_delete = []

    def deploy(self, stage, environment, policy_document):
        self.deploys.append({"environment": dict(environment),
                             "policy": json.loads(json.dumps(policy_document))})
        self.api_id = deploy.Deployed.recorded(self.project_dir, stage).websocket_api_id
        if not self.api_id:
            v2 = boto3.client("apigatewayv2")
            self.api_id = v2.create_api(Name="emojiboard-websocket-api", ProtocolType="WEBSOCKET",
                                        RouteSelectionExpression="$request.body.action")["ApiId"]
            v2.create_stage(ApiId=self.api_id, StageName="api")
        values = {"schema_version": "2.0", "backend": "api", "resources": [
            {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": self.rest_id,
             "rest_api_url": f"https://{self.rest_id}.execute-api.{REGION}.amazonaws.com/api/"},
            {"name": "websocket_api", "resource_type": "websocket_api",
             "websocket_api_id": self.api_id,
             "websocket_api_url": f"wss://{self.api_id}.execute-api.{REGION}.amazonaws.com/api/"},
        ] + [{"name": name, "resource_type": "lambda_function",
              "lambda_arn": f"arn:aws:lambda:{REGION}:123456789012:function:"
                            f"{function_name(stage, name)}"} for name in CHALICE_FUNCTIONS]}
        deployed = self.project_dir / ".chalice" / "deployed"
        deployed.mkdir(parents=True, exist_ok=True)
        (deployed / f"{stage}.json").write_text(json.dumps(values))
        return values

    def delete(self, stage):
        self.deletes.append(stage)
        self.edge_stack_at_delete.append(
            infra._stack(boto3.client("cloudformation"), infra.edge_stack_name(stage)))
        api_id = deploy.Deployed.recorded(self.project_dir, stage).websocket_api_id
        if api_id:
            boto3.client("apigatewayv2").delete_api(ApiId=api_id)
        (self.project_dir / ".chalice" / "deployed" / f"{stage}.json").unlink(missing_ok=True)


def test_destroy_removes_the_app_and_site_and_keeps_the_counters(aws, project):
    cfn, ddb = aws.client("cloudformation"), aws.client("dynamodb")
    chalice = RecordingChalice(project)
    result = deploy.deploy(STAGE, aws, chalice, out_dir=project / "dist", env={},
                           echo=lambda _: None)
    bucket = infra.outputs(cfn, STAGE)["SiteBucket"]
    assert result.site_files
    ddb.put_item(TableName="emojiboard-prod-counts",
                 Item={"pk": {"S": "C#any#all#ALL"}, "sk": {"S": "tada"}, "n": {"N": "3"}})

    assert _queues(aws) == QUEUES

    cloudfront = aws.client("cloudfront")
    assert cloudfront.list_distributions()["DistributionList"]["Quantity"] == 1
    lines = []
    deploy.destroy(STAGE, aws, chalice, echo=lines.append)
    assert chalice.deletes == [STAGE]
    # The edge stack (the distribution in front of the APIs) went first.
    assert chalice.edge_stack_at_delete == [None]
    # The alarms first (their functions are about to go), then the edge stack.
    assert lines[:2] == ["stack emojiboard-prod-monitoring: deleting",
                         "stack emojiboard-prod-edge: deleting (CloudFront takes several "
                         "minutes (often 5 to 15) to deploy a distribution)"]
    assert cloudfront.list_distributions()["DistributionList"]["Quantity"] == 0
    assert cloudfront.list_functions()["FunctionList"]["Quantity"] == 0
    assert cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Quantity"] == 0
    assert _stack_names(cfn) == {"emojiboard-prod-data"}
    assert _tables(aws) == {"emojiboard-prod-counts"}
    # The queues go with the app: the push queue holds nothing worth keeping, and the
    # tasks are for a deployment that is gone.
    assert _queues(aws) == set()
    assert bucket not in {b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]}
    # The committed policy is not the deploy's to change.
    assert (project / ".chalice" / "policy-prod.json").read_text() \
        == policy.as_text(policy.committed(STAGE))
    item = ddb.get_item(TableName="emojiboard-prod-counts",
                        Key={"pk": {"S": "C#any#all#ALL"}, "sk": {"S": "tada"}})["Item"]
    assert item["n"] == {"N": "3"}

    # Deploying again finds the counters where they were.
    again = deploy.deploy(STAGE, aws, RecordingChalice(project), out_dir=project / "dist",
                          env={}, echo=lambda _: None)
    assert again.stacks == {"emojiboard-prod-data": "unchanged", "emojiboard-prod": "created",
                            "emojiboard-prod-edge": "created",
                            "emojiboard-prod-monitoring": "created"}
    assert ddb.get_item(TableName="emojiboard-prod-counts",
                        Key={"pk": {"S": "C#any#all#ALL"}, "sk": {"S": "tada"}})["Item"]

    deploy.destroy(STAGE, aws, chalice, delete_data=True, echo=lambda _: None)
    assert _stack_names(cfn) == set()
    assert _tables(aws) == set()


def test_destroy_asks_first(aws, project):
    from click.testing import CliRunner
    from devkit.cli import main
    infra.provision(aws.client("cloudformation"), STAGE)
    result = CliRunner().invoke(main, ["destroy", "--stage", STAGE, "--delete-data"], input="n\n")
    assert result.exit_code == 1  # aborted
    assert "AND the counters (table emojiboard-prod-counts)" in result.output
    assert "the CloudFront distribution (stack emojiboard-prod-edge)" in result.output
    assert _stack_names(aws.client("cloudformation")) == {"emojiboard-prod-data", "emojiboard-prod"}


# ---- the site -----------------------------------------------------------------

def _resolved(node, names: dict):
    """`node` with every Fn::Sub resolved from `names` (and its own variables), as
    CloudFormation would; Refs as `names` says."""
    if isinstance(node, dict):
        if "Fn::Sub" in node:
            text, variables = (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) \
                else node["Fn::Sub"]
            values = {**names, **{k: _resolved(v, names) for k, v in variables.items()}}
            return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], text)
        if "Ref" in node:
            return names[node["Ref"]]
        return {k: _resolved(v, names) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolved(v, names) for v in node]
    return node


def _apply_the_public_access_block(aws, bucket: str) -> None:
    """The app stack's, which moto's CloudFormation skips, as its template has it."""
    app = _template(aws.client("cloudformation"), "emojiboard-prod")["Resources"]
    aws.client("s3").put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=app[
        "SiteBucket"]["Properties"]["PublicAccessBlockConfiguration"])


def _apply_the_bucket_policy(aws, bucket: str) -> str:
    """The edge stack's, which moto's CloudFormation skips, as its template has it;
    the distribution's ARN the policy names."""
    cfn, s3 = aws.client("cloudformation"), aws.client("s3")
    edge = _template(cfn, "emojiboard-prod-edge")["Resources"]
    distribution = infra.edge_outputs(cfn, STAGE)["DistributionId"]
    document = _resolved(edge["SiteBucketPolicy"]["Properties"]["PolicyDocument"], {
        "AWS::Partition": "aws", "AWS::AccountId": "123456789012",
        "SiteDistribution": distribution})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(document))
    return f"arn:aws:cloudfront::123456789012:distribution/{distribution}"


def _config_of(html: str) -> dict:
    match = re.search(r'<script id="emojiboard-config" type="application/json">(.*?)</script>',
                      html, re.S)
    return json.loads(match.group(1))


def test_the_site_bucket_is_private_and_serves_every_file_with_its_headers(aws, moto_url,
                                                                           tmp_path):
    """Anonymous reads are refused; the files read back with the deploy's credentials
    carry their Content-Type and Cache-Control, which CloudFront passes on. The edge
    stack's bucket policy grants CloudFront alone, for this distribution: checked as
    written, since moto lets an anonymous read through any bucket policy statement that
    allows the action, whatever its principal and condition (so anonymous reads are
    tried before it is applied), and only AWS can show CloudFront's signed reads pass."""
    cfn = aws.client("cloudformation")
    outputs = infra.provision(cfn, STAGE)
    bucket = outputs["SiteBucket"]
    built = site.build(tmp_path / "site", workspace="Acme")
    infra.provision_edge(cfn, STAGE, REGION, rest_api_id="abc123", websocket_api_id="def456",
                         bucket=bucket, bucket_domain=outputs["SiteBucketDomain"],
                         headers=site.security_headers(built.csp))
    _apply_the_public_access_block(aws, bucket)
    s3 = aws.client("s3")
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True}
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_website(Bucket=bucket)  # no website endpoint

    site_dir = built.index.parent
    uploaded = publish.upload(s3, bucket, site_dir)
    files = sorted(p.relative_to(site_dir).as_posix() for p in site_dir.rglob("*")
                   if p.is_file() and p.name != site.MARKER)
    assert sorted(uploaded) == files and "index.html" in files
    assert list(uploaded)[-1].endswith(".html")  # the pages last, after what they name
    pages = [f for f in files if f.endswith(".html")]
    assets = [f for f in files if f not in pages]
    assert assets and all(re.fullmatch(r"[\w-]+\.[0-9a-f]{8}\.(js|css|svg)", f) for f in assets)
    types = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
             "svg": "image/svg+xml", "html": "text/html; charset=utf-8"}
    for key in files:
        # Not to anyone: an anonymous GET of the object is refused.
        assert requests.get(f"{moto_url}/{bucket}/{key}", timeout=10).status_code == 403, key
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == (site_dir / key).read_bytes()
        assert got["ContentType"] == types[key.rsplit(".", 1)[1]]
        expected = publish.NO_CACHE if key in pages else publish.IMMUTABLE
        assert got["CacheControl"] == expected, key
    assert publish.NO_CACHE.startswith("no-cache")
    assert publish.IMMUTABLE == "public, max-age=31536000, immutable"

    distribution_arn = _apply_the_bucket_policy(aws, bucket)
    statement, = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] == "s3:GetObject"
    assert statement["Resource"] == f"arn:aws:s3:::{bucket}/*"
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceArn": distribution_arn}}

    html = s3.get_object(Bucket=bucket, Key="index.html")["Body"].read().decode()
    # The page names no host: it talks to its own origin (/api/..., /ws).
    assert _config_of(html) == {"title": "Emojiboard", "workspace": "Acme", "peopleBoards": True}
    assert "execute-api" not in html and "wss://" not in html
    for asset in assets:  # the page (or its import map) names every asset it loads
        assert f"./{asset}" in html, asset


def _headers_sent(config: dict) -> dict:
    """The headers a response headers policy makes CloudFront send, written as CloudFront
    writes them ("Understand response headers policies", CloudFront Developer Guide);
    each must override the origin's."""
    security, sent = config.get("SecurityHeadersConfig", {}), {}
    assert all(header["Override"] is True for header in security.values())
    if "ContentSecurityPolicy" in security:
        sent["Content-Security-Policy"] = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    if "StrictTransportSecurity" in security:
        hsts = security["StrictTransportSecurity"]
        sent["Strict-Transport-Security"] = "; ".join(
            [f"max-age={hsts['AccessControlMaxAgeSec']}"]
            + (["includeSubDomains"] if hsts.get("IncludeSubdomains") else [])
            + (["preload"] if hsts.get("Preload") else []))
    if "ContentTypeOptions" in security:
        sent["X-Content-Type-Options"] = "nosniff"
    if "ReferrerPolicy" in security:
        sent["Referrer-Policy"] = security["ReferrerPolicy"]["ReferrerPolicy"]
    if "FrameOptions" in security:
        sent["X-Frame-Options"] = security["FrameOptions"]["FrameOption"]
    assert "XSSProtection" not in security
    for custom in config.get("CustomHeadersConfig", {}).get("Items", []):
        assert custom["Override"] is True
        sent[custom["Header"]] = custom["Value"]
    return sent


def test_headers_for_names():
    assert publish.headers_for("index.html") == {"ContentType": "text/html; charset=utf-8",
                                                 "CacheControl": publish.NO_CACHE}
    assert publish.headers_for("app.3f9a12bc.js")["CacheControl"] == publish.IMMUTABLE
    assert publish.headers_for("app.js")["CacheControl"] == publish.NO_CACHE  # no fingerprint
    assert publish.headers_for("page.0a1b2c3d.html")["CacheControl"] == publish.NO_CACHE


# ---- the whole deploy -----------------------------------------------------------

SLACK_ENV = {"SLACK_BOT_TOKEN": "xoxb-from-env", "SLACK_CLIENT_ID": "1234.5678",
             "SLACK_CLIENT_SECRET": "client-s3cret", "SLACK_TEAM_ID": "T0123"}


def test_deploy_passes_resources_and_websocket_id_to_the_functions(aws, project,
                                                                  moto_updates_stages):
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/emojiboard/prod/slack-signing-secret", Value="s3cret",
                      Type="SecureString")
    chalice = RecordingChalice(project)
    lines = []
    result = deploy.deploy(STAGE, aws, chalice, out_dir=project / "dist",
                           env=SLACK_ENV, echo=lines.append)

    # The first deploy cannot know the WebSocket API's id nor the distribution's
    # domain: a second chalice deploy, after the edge stack, passes both.
    assert result.chalice_passes == 2
    first, second = chalice.deploys
    assert "WEBSOCKET_API_ID" not in first["environment"]
    assert "PUBLIC_URL" not in first["environment"]
    edge = infra.edge_outputs(aws.client("cloudformation"), STAGE)
    domain = aws.client("cloudfront").get_distribution(Id=edge["DistributionId"])[
        "Distribution"]["DomainName"]
    assert edge["PublicURL"] == result.dashboard_url == f"https://{domain}"
    assert domain.endswith(".cloudfront.net")
    assert lines.index(f"stack emojiboard-prod-edge: creating ({infra.EDGE_WAIT_NOTE})") \
        < [i for i, line in enumerate(lines) if line.startswith("chalice deploy")][1]
    keys = ssm.get_parameter(Name="/emojiboard/prod/session-keys", WithDecryption=True)[
        "Parameter"]["Value"]
    stream = aws.client("dynamodb").describe_table(
        TableName="emojiboard-prod-counts")["Table"]["LatestStreamArn"]
    queue_url = f"https://sqs.{REGION}.amazonaws.com/123456789012/emojiboard-prod-push"
    queue_arn = f"arn:aws:sqs:{REGION}:123456789012:emojiboard-prod-push"
    tasks_url = f"https://sqs.{REGION}.amazonaws.com/123456789012/emojiboard-prod-tasks"
    tasks_arn = f"arn:aws:sqs:{REGION}:123456789012:emojiboard-prod-tasks"
    outputs = infra.outputs(aws.client("cloudformation"), STAGE)
    assert outputs["PushQueueUrl"] == queue_url and outputs["TasksQueueUrl"] == tasks_url
    assert second["environment"] == {
        "COUNTS_TABLE": "emojiboard-prod-counts",
        "CONNECTIONS_TABLE": "emojiboard-prod-connections",
        "COUNTS_STREAM_ARN": stream, "PUSH_QUEUE_URL": queue_url, "PUSH_QUEUE_ARN": queue_arn,
        "TASKS_QUEUE_URL": tasks_url, "TASKS_QUEUE_ARN": tasks_arn,
        "SLACK_SIGNING_SECRET": "s3cret", **SLACK_ENV, "ACCESS": "slack",
        "SESSION_KEYS": keys, "PUBLIC_URL": result.dashboard_url,
        "WEBSOCKET_API_ID": chalice.api_id, "STAGE": "prod"}
    assert first["environment"]["STAGE"] == "prod"  # the metrics' dimension, from the start
    # Secrets and session keys are never shown.
    assert {k: v for k, v in result.environment.items() if v == "(set)"} == {
        k: "(set)" for k in ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_CLIENT_ID",
                             "SLACK_CLIENT_SECRET", "SESSION_KEYS")}
    shown = "\n".join(lines)
    assert keys.split(":")[1] not in shown and "client-s3cret" not in shown
    assert not [line for line in lines if line.startswith("Next:")]  # nothing is missing
    assert "FANOUT_MODE" not in first["environment"]  # one fan-out, no modes
    assert "Dashboards" not in {s["Sid"] for s in first["policy"]["Statement"]}
    statements = {s["Sid"]: s for s in second["policy"]["Statement"]}
    assert statements["Dashboards"]["Resource"] == [
        f"arn:aws:execute-api:{REGION}:123456789012:{chalice.api_id}/api/POST/@connections/*",
        f"arn:aws:execute-api:{REGION}:123456789012:{chalice.api_id}/api/DELETE/@connections/*"]
    assert statements["Tables"]["Resource"] == [
        f"arn:aws:dynamodb:{REGION}:123456789012:table/emojiboard-prod-counts",
        f"arn:aws:dynamodb:{REGION}:123456789012:table/emojiboard-prod-connections"]
    # Exactly the queues the stack created, each its own grants, in both passes.
    for document in (first["policy"], second["policy"]):
        queue_statements = {s["Sid"]: s for s in document["Statement"]
                            if s["Sid"].startswith(("PushQueue", "TasksQueue"))}
        assert {sid: s["Resource"] for sid, s in queue_statements.items()} == {
            "PushQueueSend": [queue_arn], "PushQueueEventSource": [queue_arn],
            "TasksQueueSend": [tasks_arn], "TasksQueueEventSource": [tasks_arn]}

    # After the site, joining every public channel is queued for slack_tasks (the
    # bot token is there: the app is installed), once per deploy.
    assert result.join_all_queued
    assert _tasks(aws) == [{"task": "join_all"}]
    assert "queued joining every public channel on emojiboard-prod-tasks" in lines
    assert lines.index("queued joining every public channel on emojiboard-prod-tasks") \
        > [i for i, line in enumerate(lines) if line.startswith("uploaded ")][0]

    bucket = infra.outputs(aws.client("cloudformation"), STAGE)["SiteBucket"]
    html = aws.client("s3").get_object(Bucket=bucket, Key="index.html")["Body"].read().decode()
    assert set(_config_of(html)) == {"title", "workspace", "peopleBoards"}  # no URL
    # The headers policy carries the CSP of exactly the build that was uploaded.
    assert result.csp and "'sha256-" in result.csp
    policy_config = _template(aws.client("cloudformation"), "emojiboard-prod-edge")[
        "Resources"]["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    assert _headers_sent(policy_config) == site.security_headers(result.csp)

    # Slack's Request URL stays on API Gateway; Sign in with Slack returns to the
    # distribution. The one https URL people open is the distribution's.
    request_url = f"https://rest0api1.execute-api.{REGION}.amazonaws.com/api/slack/events"
    assert result.request_url == request_url
    assert result.redirect_url == f"{result.dashboard_url}/auth/callback"
    assert f"Slack Request URL:  {request_url}" in lines
    assert f"Slack redirect URL: {result.redirect_url}" in lines
    assert f"Dashboard:          {result.dashboard_url}" in lines
    # The slash command and the Home tab's buttons reach the REST API beside the events.
    commands_url = f"https://rest0api1.execute-api.{REGION}.amazonaws.com/api/slack/commands"
    interactions_url = \
        f"https://rest0api1.execute-api.{REGION}.amazonaws.com/api/slack/interactions"
    assert (result.commands_url, result.interactions_url) == (commands_url, interactions_url)
    assert f"Slash command URL:  {commands_url}" in lines
    assert f"Interactivity URL:  {interactions_url}" in lines
    assert "Weekly digest:      off (no DIGEST_CHANNEL)" in lines
    written = json.loads(result.manifest_path.read_text())
    assert written == manifest.manifest(request_url, result.redirect_url, commands_url,
                                        interactions_url)
    # No earlier manifest in dist/: the first steps in Slack, after the manifest's line.
    assert result.slack_changes == manifest.FIRST_STEPS
    first_steps = lines.index("In Slack (no earlier manifest in dist/: a first deploy from "
                              "this clone):")
    assert lines[first_steps + 1:first_steps + 4] == [f"  - {s}" for s in manifest.FIRST_STEPS]
    assert written["oauth_config"]["redirect_urls"] == [f"https://{domain}/auth/callback"]
    assert written["oauth_config"]["scopes"]["user"] == ["openid", "profile"] \
        == signin.SCOPES.split()
    assert written["settings"]["event_subscriptions"] == {
        "request_url": request_url,
        "bot_events": ["reaction_added", "reaction_removed", "emoji_changed", "user_change",
                       "team_join", "channel_created", "channel_rename", "group_rename",
                       "app_home_opened"]}
    assert written["oauth_config"]["scopes"]["bot"] == [
        "reactions:read", "emoji:read", "users:read", "channels:read", "groups:read",
        "im:read", "mpim:read", "channels:join", "channels:history", "groups:history",
        "commands", "chat:write"]
    assert written["features"]["slash_commands"] == [{
        "command": "/emojiboard", "url": commands_url,
        "description": "Show the top emoji, or a channel's or a person's",
        "usage_hint": "[24h|7d|30d|all] [#channel | @person | given | received]",
        "should_escape": True}]
    assert written["features"]["app_home"] == {"home_tab_enabled": True,
                                               "messages_tab_enabled": False}
    assert written["settings"]["interactivity"] == {"is_enabled": True,
                                                    "request_url": interactions_url}

    # The WebSocket stage's route throttling, read back from the API.
    v2 = aws.client("apigatewayv2")
    settings = v2.get_stage(ApiId=chalice.api_id, StageName="api")["DefaultRouteSettings"]
    assert settings["ThrottlingBurstLimit"] == 200 and settings["ThrottlingRateLimit"] == 100.0
    assert settings["LoggingLevel"] == "OFF"  # the stage's other settings kept
    assert len(moto_updates_stages) == 1
    assert "WebSocket stage api: throttled to 100 messages/s, bursts of 200" in lines

    # The id and the public URL are known from now on: one chalice deploy, with both
    # from its start, and nothing else changes (the edge stack included: no event).
    cfn = aws.client("cloudformation")
    edge_events = len(cfn.describe_stack_events(StackName="emojiboard-prod-edge")["StackEvents"])
    again_chalice = RecordingChalice(project)
    again = deploy.deploy(STAGE, aws, again_chalice, out_dir=project / "dist",
                          env=SLACK_ENV, echo=lines.append)
    assert again.chalice_passes == 1
    only, = again_chalice.deploys
    assert only["environment"] == second["environment"]  # the same session keys too
    assert set(again.stacks.values()) == {"unchanged"}
    assert set(again.stacks) == {"emojiboard-prod-data", "emojiboard-prod", "emojiboard-prod-edge",
                                 "emojiboard-prod-monitoring"}
    assert len(cfn.describe_stack_events(StackName="emojiboard-prod-edge")["StackEvents"]) \
        == edge_events
    assert again.dashboard_url == result.dashboard_url
    # The same manifest as the last deploy's: nothing to change in Slack.
    assert again.slack_changes == []
    assert "In Slack: nothing to change since the last deploy's manifest" in lines
    assert _tasks(aws) == [{"task": "join_all"}]  # a sweep again: it joins what is new
    assert len(moto_updates_stages) == 1  # the throttling too: no second UpdateStage
    assert v2.get_stage(ApiId=chalice.api_id, StageName="api")["DefaultRouteSettings"] == settings


def test_deploy_says_what_is_missing_for_slack(aws, project):
    lines = []
    result = deploy.deploy(STAGE, aws, RecordingChalice(project), out_dir=project / "dist",
                           env={}, echo=lines.append)
    # ACCESS=slack (the default) and nothing for Sign in with Slack: the line says what
    # to set, and where, as for the signing secret.
    line, = [line for line in lines if line.startswith("Next:")]
    for variable in ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_CLIENT_ID",
                     "SLACK_CLIENT_SECRET", "SLACK_TEAM_ID"):
        assert variable in line and deploy.ssm_name(STAGE, variable) in line, variable
    assert "/emojiboard/prod/slack-signing-secret" in line
    assert "Sign in with Slack (ACCESS=slack, the default) needs SLACK_CLIENT_ID, " \
           "SLACK_CLIENT_SECRET, SLACK_TEAM_ID" in line
    # Not installed yet (no bot token): nothing to join with, the next deploy queues it.
    assert not result.join_all_queued and _tasks(aws) == []
    assert any(line.startswith("public channels not joined yet: no SLACK_BOT_TOKEN")
               for line in lines)


def test_deploy_joins_no_channel_when_join_public_channels_is_off(aws, project):
    lines = []
    aws.client("ssm").put_parameter(Name="/emojiboard/prod/join-public-channels", Value="off",
                                    Type="String")
    chalice = RecordingChalice(project)
    result = deploy.deploy(STAGE, aws, chalice, out_dir=project / "dist",
                           env={"SLACK_BOT_TOKEN": "xoxb-1"}, echo=lines.append)
    assert chalice.deploys[-1]["environment"]["JOIN_PUBLIC_CHANNELS"] == "off"
    assert not result.join_all_queued and _tasks(aws) == []
    assert "JOIN_PUBLIC_CHANNELS is off: public channels are not joined" in lines


def test_a_malformed_join_public_channels_stops_before_chalice(aws, project):
    chalice = RecordingChalice(project)
    with pytest.raises(deploy.DeployError, match="JOIN_PUBLIC_CHANNELS must be on or off.*"
                                                 "/emojiboard/prod/join-public-channels"):
        deploy.deploy(STAGE, aws, chalice, out_dir=project / "dist",
                      env={"JOIN_PUBLIC_CHANNELS": "sometimes"}, echo=lambda _: None)
    assert chalice.deploys == []
    assert _stack_names(aws.client("cloudformation")) == set()  # nothing created at all


def test_deploy_warns_when_joining_cannot_be_queued(aws, project, monkeypatch):
    """The app is deployed by then: a failure to queue the sweep is a warning line."""
    from botocore.stub import Stubber
    real_client = aws.client
    stubbers = []

    def client(service, *args, **kwargs):
        made = real_client(service, *args, **kwargs)
        if service == "sqs":
            stubber = Stubber(made)
            stubber.add_client_error("send_message", service_error_code="AccessDenied",
                                     service_message="not allowed", http_status_code=403)
            stubber.activate()
            stubbers.append(stubber)
        return made

    monkeypatch.setattr(aws, "client", client)
    lines = []
    result = deploy.deploy(STAGE, aws, RecordingChalice(project), out_dir=project / "dist",
                           env={"SLACK_BOT_TOKEN": "xoxb-1"}, echo=lines.append)
    assert stubbers and not result.join_all_queued
    warning, = [line for line in lines if line.startswith("warning:")]
    assert "could not queue joining every public channel" in warning and "AccessDenied" in warning
    assert f"Slack Request URL:  {result.request_url}" in lines  # the deploy went on


def test_queue_join_all_sends_exactly_the_join_all_task():
    sent = []

    class Queue:
        def send_message(self, **kwargs):
            sent.append(kwargs)

    lines = []
    url = f"https://sqs.{REGION}.amazonaws.com/123456789012/emojiboard-prod-tasks"
    assert deploy.queue_join_all(Queue(), url, True, True, lines.append)
    assert sent == [{"QueueUrl": url, "MessageBody": '{"task": "join_all"}'}]
    assert deploy.queue_join_all(Queue(), url, False, True, lines.append) is False
    assert deploy.queue_join_all(Queue(), url, True, False, lines.append) is False
    assert len(sent) == 1 and len(lines) == 3


def test_manifest_needs_https_urls():
    urls = manifest.slack_urls("https://a.example/api/")
    redirect = "https://d1.cloudfront.net/auth/callback"
    with pytest.raises(ValueError, match="Request URL"):
        manifest.manifest(**dict(urls, request_url="http://127.0.0.1:8000/slack/events"),
                          redirect_url=redirect)
    with pytest.raises(ValueError, match="redirect URL"):
        manifest.manifest(**urls, redirect_url="http://127.0.0.1:8000/auth/callback")
    with pytest.raises(ValueError, match="slash command URL"):
        manifest.manifest(**dict(urls, commands_url="http://a.example/slack/commands"),
                          redirect_url=redirect)
    with pytest.raises(ValueError, match="interactivity Request URL"):
        manifest.manifest(**dict(urls, interactions_url="http://a.example/slack/interactions"),
                          redirect_url=redirect)


def _manifest(rest="https://r1.execute-api.eu-west-1.amazonaws.com/api/",
              redirect="https://d1.cloudfront.net/auth/callback"):
    return manifest.manifest(redirect_url=redirect, **manifest.slack_urls(rest))


def test_the_manifest_has_the_command_the_home_tab_and_interactivity():
    """docs.slack.dev/reference/app-manifest: `features.slash_commands` (command,
    url, description, usage_hint, should_escape), `features.app_home`,
    `settings.interactivity` (is_enabled, request_url)."""
    urls = manifest.slack_urls("https://r1.execute-api.eu-west-1.amazonaws.com/api/")
    assert urls == {
        "request_url": "https://r1.execute-api.eu-west-1.amazonaws.com/api/slack/events",
        "commands_url": "https://r1.execute-api.eu-west-1.amazonaws.com/api/slack/commands",
        "interactions_url":
            "https://r1.execute-api.eu-west-1.amazonaws.com/api/slack/interactions"}
    written = _manifest()
    command, = written["features"]["slash_commands"]
    assert command["command"] == "/emojiboard" and command["url"] == urls["commands_url"]
    # Escaped: a #channel or @person picked in Slack arrives as its id.
    assert command["should_escape"] is True
    assert command["usage_hint"] == "[24h|7d|30d|all] [#channel | @person | given | received]"
    assert len(command["command"]) <= 32 and len(command["usage_hint"]) <= 1000
    assert written["features"]["app_home"] == {"home_tab_enabled": True,
                                               "messages_tab_enabled": False}
    assert written["settings"]["interactivity"] == {"is_enabled": True,
                                                    "request_url": urls["interactions_url"]}
    assert written["settings"]["event_subscriptions"]["request_url"] == urls["request_url"]
    assert "app_home_opened" in written["settings"]["event_subscriptions"]["bot_events"]
    # The command needs `commands`, chat.postMessage `chat:write`; views.publish none.
    assert {"commands", "chat:write"} <= set(written["oauth_config"]["scopes"]["bot"])
    assert not [s for s in written["oauth_config"]["scopes"]["bot"] if s.startswith("views")]


def test_changes_on_a_first_deploy_are_the_first_steps():
    assert manifest.changes(None, _manifest()) == manifest.FIRST_STEPS
    assert "From an app manifest" in manifest.FIRST_STEPS[0]


def test_an_unchanged_manifest_changes_nothing_in_slack():
    assert manifest.changes(_manifest(), _manifest()) == []


def _before_issue_15(document):
    """The manifest as deploys wrote it before the slash command and the Home tab."""
    old = json.loads(json.dumps(document))
    old["oauth_config"]["scopes"]["bot"] = [
        s for s in old["oauth_config"]["scopes"]["bot"] if s not in ("commands", "chat:write")]
    old["settings"]["event_subscriptions"]["bot_events"].remove("app_home_opened")
    del old["features"]["slash_commands"], old["features"]["app_home"]
    del old["settings"]["interactivity"]
    return old


def test_changes_name_new_scopes_and_the_reinstall_they_need():
    new = _manifest()
    lines = manifest.changes(_before_issue_15(new), new)
    commands_url = new["features"]["slash_commands"][0]["url"]
    interactions_url = new["settings"]["interactivity"]["request_url"]
    assert lines == [
        "new bot scopes commands, chat:write (OAuth & Permissions -> Bot Token Scopes): "
        "reinstall the app to grant them (Install App -> Reinstall to Workspace)",
        "subscribe to the bot events app_home_opened (Event Subscriptions -> Subscribe to "
        "bot events)",
        f"new slash command /emojiboard, Request URL {commands_url}, usage hint "
        "\"[24h|7d|30d|all] [#channel | @person | given | received]\", \"Escape channels, "
        "users, and links\" on (Slash Commands -> Create New Command)",
        "turn on the Home tab (App Home -> Show Tabs)",
        f"turn on Interactivity with the Request URL {interactions_url} (Interactivity & "
        "Shortcuts)"]
    # And back: what is no longer needed.
    back = manifest.changes(new, _before_issue_15(new))
    assert back[0].startswith("bot scopes no longer needed: commands, chat:write")
    assert "slash command /emojiboard is no longer used (Slash Commands: delete it)" in back
    assert "turn off Interactivity (Interactivity & Shortcuts)" in back


def test_changes_name_every_url_that_moved():
    old = _manifest()
    new = _manifest(rest="https://r2.execute-api.eu-west-1.amazonaws.com/api/",
                    redirect="https://d2.cloudfront.net/auth/callback")
    lines = manifest.changes(old, new)
    assert lines == [
        "the events Request URL is now https://r2.execute-api.eu-west-1.amazonaws.com/api/"
        "slack/events (Event Subscriptions; Slack verifies it)",
        "slash command /emojiboard: its Request URL is now https://r2.execute-api.eu-west-1"
        ".amazonaws.com/api/slack/commands (Slash Commands)",
        "the interactivity Request URL is now https://r2.execute-api.eu-west-1.amazonaws.com"
        "/api/slack/interactions (Interactivity & Shortcuts)",
        "add the redirect URL https://d2.cloudfront.net/auth/callback (OAuth & Permissions "
        "-> Redirect URLs)",
        "redirect URLs no longer used: https://d1.cloudfront.net/auth/callback (OAuth & "
        "Permissions -> Redirect URLs)"]
    renamed = json.loads(json.dumps(old))
    renamed["display_information"]["description"] = "Other words"
    assert manifest.changes(old, renamed) == [
        "other settings changed (the name, a description...): paste the manifest at the "
        "app's App Manifest page"]


def test_an_unreadable_earlier_manifest_counts_as_none(tmp_path):
    assert manifest.read(tmp_path / "missing.json") is None
    (tmp_path / "broken.json").write_text("{not json")
    assert manifest.read(tmp_path / "broken.json") is None
    path = manifest.write(tmp_path / "m.json", _manifest())
    assert manifest.read(path) == _manifest()


def test_deploy_prints_what_to_change_in_slack(aws, project):
    """A manifest from before the slash command in dist/: the deploy says what to
    change in Slack, the new scopes' reinstall first."""
    out = project / "dist"
    deploy.deploy(STAGE, aws, RecordingChalice(project), out_dir=out, env=SLACK_ENV,
                  echo=lambda _: None)
    path = out / f"slack-manifest-{STAGE}.json"
    current = json.loads(path.read_text())
    manifest.write(path, _before_issue_15(current))
    lines = []
    result = deploy.deploy(STAGE, aws, RecordingChalice(project), out_dir=out, env=SLACK_ENV,
                           echo=lines.append)
    assert json.loads(path.read_text()) == current  # the new manifest is written
    assert result.slack_changes == manifest.changes(_before_issue_15(current), current)
    header = [i for i, line in enumerate(lines) if line.startswith("In Slack, since the last")]
    assert len(header) == 1 and f"paste {path}" in lines[header[0]]
    shown = lines[header[0] + 1:header[0] + 1 + len(result.slack_changes)]
    assert shown == [f"  - {line}" for line in result.slack_changes]
    assert shown[0].startswith("  - new bot scopes commands, chat:write") \
        and "Reinstall to Workspace" in shown[0]


@pytest.mark.parametrize("env, message", [
    ({"DIGEST_TZ": "Europe/Nowhere"}, r"DIGEST_TZ must be an IANA time zone name .*"
                                      r"'Europe/Nowhere'.*/emojiboard/prod/digest-tz"),
    ({"DIGEST_TZ": "../etc/passwd"}, r"DIGEST_TZ must be an IANA time zone name"),
    ({"DIGEST_CHANNEL": "#general"}, r"DIGEST_CHANNEL must be a Slack channel id .*"
                                     r"'#general'.*/emojiboard/prod/digest-channel"),
    ({"DIGEST_CHANNEL": "U0123ABCD"}, r"DIGEST_CHANNEL must be a Slack channel id"),
])
def test_a_bad_digest_setting_stops_before_anything(aws, project, env, message):
    stops_before_anything(aws, project, env, message)


def stops_before_anything(aws, project, env: dict, message: str) -> None:
    """A deploy with a bad setting in `env` stops with one line matching `message`,
    having run no Chalice, created no stack and written no SSM parameter (not even the
    session keys)."""
    chalice = RecordingChalice(project)
    with pytest.raises(deploy.DeployError, match=message) as raised:
        deploy.deploy(STAGE, aws, chalice, out_dir=project / "dist", env=env,
                      echo=lambda _: None)
    assert "\n" not in str(raised.value)  # one line
    assert chalice.deploys == []
    assert _stack_names(aws.client("cloudformation")) == set()
    assert aws.client("ssm").describe_parameters()["Parameters"] == []
    assert chalice.deploys == []
    assert _stack_names(aws.client("cloudformation")) == set()  # nothing created at all


def test_the_digest_settings_reach_the_functions(aws, project):
    aws.client("ssm").put_parameter(Name="/emojiboard/prod/digest-tz", Value="Europe/Berlin",
                                    Type="String")
    chalice, lines = RecordingChalice(project), []
    deploy.deploy(STAGE, aws, chalice, out_dir=project / "dist",
                  env={"DIGEST_CHANNEL": " C0123ABCD "}, echo=lines.append)
    env = chalice.deploys[-1]["environment"]
    assert (env["DIGEST_CHANNEL"], env["DIGEST_TZ"]) == ("C0123ABCD", "Europe/Berlin")
    assert "Weekly digest:      C0123ABCD, Mondays 09:00 Europe/Berlin" in lines


def test_digest_settings_defaults():
    assert deploy.digest_settings({}, STAGE) == (None, "UTC")
    assert deploy.digest_settings({"DIGEST_CHANNEL": "G01PRIVATE", "DIGEST_TZ": "UTC"},
                                  STAGE) == ("G01PRIVATE", "UTC")


# ---- the edge: one HTTPS origin --------------------------------------------------------

def _deployed_edge(aws, project, env=None, **kwargs):
    lines = []
    result = deploy.deploy(STAGE, aws, RecordingChalice(project), out_dir=project / "dist",
                           env=dict(SLACK_ENV) if env is None else env, echo=lines.append,
                           **kwargs)
    return result, lines


def test_the_edge_stack_puts_site_api_and_websocket_on_one_https_origin(aws, project, tmp_path,
                                                                         moto_serves_cloudfront):
    result, _ = _deployed_edge(aws, project)
    cfn, cloudfront = aws.client("cloudformation"), aws.client("cloudfront")
    outputs = infra.outputs(cfn, STAGE)
    edge = infra.edge_outputs(cfn, STAGE)
    api_id = deploy.Deployed.recorded(project, STAGE).websocket_api_id

    # What moto's CloudFront serves: the distribution, as the CloudFront API reads it.
    config = cloudfront.get_distribution_config(Id=edge["DistributionId"])["DistributionConfig"]
    assert config["Enabled"] is True and config["DefaultRootObject"] == "index.html"
    origins = {o["Id"]: o for o in config["Origins"]["Items"]}
    assert origins["site"]["DomainName"] == outputs["SiteBucketDomain"] \
        == f"{outputs['SiteBucket']}.s3.{REGION}.amazonaws.com"  # the bucket, not a website
    assert origins["api"]["DomainName"] == f"rest0api1.execute-api.{REGION}.amazonaws.com"
    assert origins["api"]["OriginPath"] == "/api"  # Chalice's stage
    assert origins["websocket"]["DomainName"] == f"{api_id}.execute-api.{REGION}.amazonaws.com"
    assert origins["websocket"]["OriginPath"] == ""  # the function rewrites the path
    for origin in ("api", "websocket"):
        assert origins[origin]["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    headers_policy, = moto_serves_cloudfront  # the one response headers policy
    default = config["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == "site"
    assert default["CachePolicyId"] == infra.CACHING_OPTIMIZED == "658327ea-f89d-4fab-a63d-7e88639e58f6"
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]["Items"]}
    assert list(behaviours) == ["/api/*", "/auth/*", "/slack/*", "/ws"]
    for path, behaviour in behaviours.items():
        assert behaviour["TargetOriginId"] == ("websocket" if path == "/ws" else "api")
        # Managed CachingDisabled, managed AllViewerExceptHostHeader (AWS's ids).
        assert behaviour["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
        assert behaviour["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
        if path != "/ws":
            assert set(behaviour["AllowedMethods"]["Items"]) == {
                "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    for behaviour in [default, *behaviours.values()]:
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"  # HTTPS only
        assert behaviour["ResponseHeadersPolicyId"] == headers_policy  # on every behaviour
    control, = cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    assert (control["OriginAccessControlOriginType"], control["SigningBehavior"],
            control["SigningProtocol"]) == ("s3", "always", "sigv4")
    function, = cloudfront.list_functions()["FunctionList"]["Items"]
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert function["FunctionMetadata"]["Stage"] == "LIVE"  # published

    # What moto's distribution drops, in the template the stack holds.
    template = _template(cfn, "emojiboard-prod-edge")
    resources = template["Resources"]
    distribution = resources["SiteDistribution"]["Properties"]["DistributionConfig"]
    site_origin, = [o for o in distribution["Origins"] if o["Id"] == "site"]
    assert site_origin["OriginAccessControlId"] == {"Fn::GetAtt": ["SiteOriginAccessControl", "Id"]}
    assert site_origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # OAC, not OAI
    ws, = [b for b in distribution["CacheBehaviors"] if b["PathPattern"] == "/ws"]
    assert ws["FunctionAssociations"] == [{"EventType": "viewer-request", "FunctionARN": {
        "Fn::GetAtt": ["WebSocketPathFunction", "FunctionARN"]}}]
    assert resources["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"] \
        == moto_serves_cloudfront[headers_policy]
    assert _headers_sent(moto_serves_cloudfront[headers_policy]) \
        == site.security_headers(result.csp) == {
            "Content-Security-Policy": result.csp,
            "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY"}
    statement, = resources["SiteBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert _resolved(statement, {"AWS::Partition": "aws", "AWS::AccountId": "123456789012",
                                 "SiteDistribution": edge["DistributionId"]}) == {
        "Sid": "CloudFrontReadsTheSite", "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{outputs['SiteBucket']}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": cloudfront.get_distribution(
            Id=edge["DistributionId"])["Distribution"]["ARN"]}}}
    assert template["Outputs"]["PublicURL"] == {
        "Value": {"Fn::Sub": "https://${SiteDistribution.DomainName}"}}
    # The stored template against AWS's own resource schemas.
    path = tmp_path / "edge.json"
    path.write_text(json.dumps(template, indent=1))
    cfn_lint(path)


def test_the_websocket_function_sends_ws_to_the_stage_path(tmp_path):
    """The function's code, run by Node (CloudFront Functions' JavaScript 2.0 runtime is
    not Node, but this code uses nothing either lacks): /ws, with or without a query,
    becomes the stage path API Gateway accepts; the querystring is untouched."""
    code = infra.websocket_function_code("api")
    script = tmp_path / "run.mjs"
    script.write_text(code + """
const event = {request: {method: "GET", uri: "/ws", querystring: {screen: {value: "x"}},
                         headers: {"sec-websocket-key": {value: "k"}}}};
const out = await handler(event);
console.log(JSON.stringify(out));
""")
    done = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"method": "GET", "uri": "/api",
                                       "querystring": {"screen": {"value": "x"}},
                                       "headers": {"sec-websocket-key": {"value": "k"}}}
    assert infra.stage_setting(STAGE, "api_gateway_stage") == "api"


def test_a_new_csp_updates_the_headers_policy_and_keeps_the_url(aws, project, monkeypatch,
                                                               moto_serves_cloudfront):
    first, _ = _deployed_edge(aws, project)
    real_build = site.build

    def build_with_another_csp(*args, **kwargs):
        built = real_build(*args, **kwargs)
        return built._replace(csp=built.csp + "; upgrade-insecure-requests")

    monkeypatch.setattr(site, "build", build_with_another_csp)
    second, lines = _deployed_edge(aws, project)
    assert second.stacks["emojiboard-prod-edge"] == "updated"
    assert f"stack emojiboard-prod-edge: updating ({infra.EDGE_WAIT_NOTE})" in lines
    assert second.chalice_passes == 1 and second.dashboard_url == first.dashboard_url
    policy_config, = moto_serves_cloudfront.values()
    assert _headers_sent(policy_config)["Content-Security-Policy"] == second.csp \
        == first.csp + "; upgrade-insecure-requests"


def test_a_deploy_of_other_pages_keeps_the_last_build_s_scripts_allowed(
        aws, project, monkeypatch, moto_serves_cloudfront):
    """The pages (S3) and the header (CloudFront's edges) change minutes apart: the new
    header also allows the import map of the build before, and only that one."""
    first, _ = _deployed_edge(aws, project)
    old_hash, = re.findall(r"'sha256-[^']+'", first.csp)
    real_build = site.build

    def build_of_other_assets(*args, **kwargs):
        built = real_build(*args, **kwargs)
        return built._replace(csp=built.csp.replace(old_hash, "'sha256-NEWBUILD='"))

    monkeypatch.setattr(site, "build", build_of_other_assets)
    second, _ = _deployed_edge(aws, project)
    policy_config, = moto_serves_cloudfront.values()
    sent = _headers_sent(policy_config)["Content-Security-Policy"]
    assert sent == second.csp
    assert re.findall(r"'sha256-[^']+'", sent) == ["'sha256-NEWBUILD='", old_hash]


def test_a_csp_over_cloudfronts_quota_stops_the_deploy_first(aws, project, monkeypatch):
    assert infra.CSP_QUOTA == 1783
    chalice = RecordingChalice(project)
    monkeypatch.setattr(site, "security_headers",
                        lambda csp: {"Content-Security-Policy": "default-src 'self'" + " x" * 900})
    with pytest.raises(deploy.DeployError, match=r"Content-Security-Policy is 1818 characters, "
                                                 r"and CloudFront takes at most 1783"):
        deploy.deploy(STAGE, aws, chalice, out_dir=project / "dist", env={}, echo=lambda _: None)
    assert chalice.deploys == [] and _stack_names(aws.client("cloudformation")) == set()


@pytest.mark.parametrize("headers, problem", [
    ({"X-Content-Type-Options": "sniff"}, "nosniff only"),
    ({"Referrer-Policy": "never"}, "Referrer-Policy: never"),
    ({"X-Frame-Options": "ALLOW-FROM x"}, "X-Frame-Options"),
    ({"Strict-Transport-Security": "max-age=abc"}, "Strict-Transport-Security")])
def test_headers_cloudfront_cannot_send_are_refused(headers, problem):
    with pytest.raises(ValueError, match=problem):
        infra.response_headers_config(headers)
    # Any other header goes out as a custom header.
    assert infra.response_headers_config({"Permissions-Policy": "camera=()"}) == {
        "SecurityHeadersConfig": {}, "CustomHeadersConfig": {"Items": [
            {"Header": "Permissions-Policy", "Value": "camera=()", "Override": True}]}}


# ---- access, session keys ---------------------------------------------------------------

def test_access_public_warns_loudly_and_needs_no_sign_in(aws, project):
    result, lines = _deployed_edge(aws, project, env={"ACCESS": "public"})
    warning = "WARNING: ACCESS=public: anyone with the URL sees the workspace's reactions"
    assert [line for line in lines if line.startswith(warning)] and lines[-1].startswith(warning)
    assert result.environment["ACCESS"] == "public"
    next_line, = [line for line in lines if line.startswith("Next:")]
    assert "SLACK_CLIENT_ID" not in next_line and "SLACK_TEAM_ID" not in next_line


def test_an_unknown_access_stops_before_anything(aws, project):
    chalice = RecordingChalice(project)
    aws.client("ssm").put_parameter(Name="/emojiboard/prod/access", Value="everyone",
                                    Type="String")
    with pytest.raises(deploy.DeployError, match="ACCESS must be slack or public, not "
                                                 "'everyone'.*/emojiboard/prod/access"):
        deploy.deploy(STAGE, aws, chalice, out_dir=project / "dist", env={}, echo=lambda _: None)
    assert chalice.deploys == [] and _stack_names(aws.client("cloudformation")) == set()


def test_session_keys_are_made_once_kept_in_ssm_and_rotated(aws, project):
    ssm = aws.client("ssm")
    first, lines = _deployed_edge(aws, project)
    name = "/emojiboard/prod/session-keys"
    parameter = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString"
    made = parameter["Value"]
    assert re.fullmatch(r"[0-9a-f]{8}:[A-Za-z0-9_-]{43}", made)  # kid:32 bytes, base64url
    assert len(sessions.Keyring.parse(made)._keys) == 1
    assert f"session keys: made one, kept in SSM parameter {name} (SecureString)" in lines
    assert made.split(":")[1] not in "\n".join(lines)
    _deployed_edge(aws, project)
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == made

    # Rotation: the new key first, the previous one kept to verify; two rotations on,
    # the first key is gone (its sessions end).
    new, kept = deploy.rotate_session_keys(ssm, STAGE)
    once = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert once["Type"] == "SecureString"
    assert [k.split(":")[0] for k in once["Value"].split(",")] == [new, made.split(":")[0]]
    assert kept == made.split(":")[0] and once["Value"].endswith("," + made)
    new2, kept2 = deploy.rotate_session_keys(ssm, STAGE)
    twice = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    assert [k.split(":")[0] for k in twice.split(",")] == [new2, new] and kept2 == new
    assert made not in twice
    # A session signed by the first key is refused now; one by the second still passes.
    claims = sessions.Claims("person", "s1", "U1", "Ann", "T0123", 2_000_000_000)
    by_first = sessions.Keyring.parse(made).sign(claims)
    by_second = sessions.Keyring.parse(once["Value"]).sign(claims)
    keyring = sessions.Keyring.parse(twice)
    assert keyring.verify(by_second, "T0123", 1_900_000_000) == claims
    with pytest.raises(sessions.Invalid):
        keyring.verify(by_first, "T0123", 1_900_000_000)
    # The next deploy hands the functions the rotated keys.
    chalice = RecordingChalice(project)
    deploy.deploy(STAGE, aws, chalice, out_dir=project / "dist", env=SLACK_ENV,
                  echo=lambda _: None)
    assert chalice.deploys[-1]["environment"]["SESSION_KEYS"] == twice


def test_session_keys_rotate_command(aws):
    from click.testing import CliRunner
    from devkit.cli import main
    runner = CliRunner()
    first = runner.invoke(main, ["session-keys", "rotate", "--stage", STAGE, "--region", REGION])
    assert first.exit_code == 0, first.output
    value = aws.client("ssm").get_parameter(Name="/emojiboard/prod/session-keys",
                                            WithDecryption=True)["Parameter"]["Value"]
    kid, secret = value.split(":")
    assert first.output.splitlines() == [
        f"/emojiboard/prod/session-keys: new key {kid} signs from the next deploy (there was "
        "no usable key before); any older key is gone.",
        f"Next: make deploy STAGE=prod REGION={REGION}"]
    second = runner.invoke(main, ["session-keys", "rotate", "--stage", STAGE, "--region", REGION])
    assert second.exit_code == 0, second.output
    assert f"; key {kid} still verifies the sessions it signed" in second.output
    assert secret not in first.output + second.output  # ids only, never keys
    # A value no deploy could use is replaced, not kept (a deploy stops on it, naming it).
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/emojiboard/prod/session-keys", Value="nonsense", Type="SecureString",
                      Overwrite=True)
    with pytest.raises(deploy.DeployError, match="/emojiboard/prod/session-keys: SESSION_KEYS "
                                                 "must be kid:secret pairs"):
        deploy.session_keys(ssm, STAGE)
    assert deploy.rotate_session_keys(ssm, STAGE)[1] is None
    fresh = ssm.get_parameter(Name="/emojiboard/prod/session-keys",
                              WithDecryption=True)["Parameter"]["Value"]
    assert "," not in fresh and len(sessions.Keyring.parse(fresh)._keys) == 1


# ---- chalice deploy itself, against moto -------------------------------------------

@pytest.fixture
def moto_serves_chalice(monkeypatch):
    """The two gaps of moto's API Gateway that a Chalice deploy hits (module docstring)."""
    original_import = APIGatewayBackend.import_rest_api
    original_put = APIGatewayBackend.put_rest_api

    def _as_openapi3(api_doc):
        if api_doc.pop("swagger", None) == "2.0":  # what Chalice sends; AWS takes it
            api_doc["openapi"] = "3.0.1"
            for methods in api_doc["paths"].values():
                for method in methods.values():
                    integration = method.get("x-amazon-apigateway-integration", {})
                    integration.setdefault("uri", "")
                    integration.setdefault("httpMethod", "POST")
        return api_doc

    def _moto_imports_swagger(self, api_doc, fail_on_warnings):
        api_doc["info"].setdefault("description", "")
        return original_import(self, _as_openapi3(api_doc), False)

    def _moto_puts_swagger(self, function_id, api_doc, fail_on_warnings, mode="merge"):
        return original_put(self, function_id, _as_openapi3(api_doc), False, mode)

    monkeypatch.setattr(APIGatewayBackend, "import_rest_api", _moto_imports_swagger)
    monkeypatch.setattr(APIGatewayBackend, "put_rest_api", _moto_puts_swagger)


class MotoChalice(deploy.Chalice):
    """The real Chalice deployer; API Gateway v2 CreateDeployment answered here."""

    def _session(self, factory):
        session = super()._session(factory)

        def _answer_create_deployment(**_):
            return type("Answer", (), {"status_code": 201})(), {
                "DeploymentId": "dep0001", "DeploymentStatus": "DEPLOYED"}

        session.register("before-call.apigatewayv2.CreateDeployment", _answer_create_deployment)
        return session


@pytest.mark.parametrize("stage", ["prod", "dev"])
def test_chalice_deploy_rehearsed_against_moto(aws, project, offline_pip, moto_serves_chalice,
                                               stage):
    """Every stage fans out the same way: dev too gets the stream handler, the push
    queue and its pusher; and the tasks queue and `slack_tasks`."""
    committed = {p.name: p.read_text() for p in (project / ".chalice").glob("policy-*.json")}
    chalice = MotoChalice(project, region=REGION)
    result = deploy.deploy(stage, aws, chalice, out_dir=project / "dist", env={
        "SLACK_SIGNING_SECRET": "s3cret", "SLACK_BOT_TOKEN": "xoxb-1"}, echo=lambda _: None)
    assert result.chalice_passes == 2

    recorded = deploy.Deployed.recorded(project, stage)
    api_id = recorded.websocket_api_id
    assert api_id and result.request_url.endswith("/api/slack/events")
    v2 = aws.client("apigatewayv2")
    assert {r["RouteKey"] for r in v2.get_routes(ApiId=api_id)["Items"]} \
        == {"$connect", "$disconnect", "$default"}
    # The stage Chalice created, throttled after the deploy.
    route_settings = v2.get_stage(ApiId=api_id, StageName="api")["DefaultRouteSettings"]
    assert {k: route_settings[k] for k in deploy.WEBSOCKET_THROTTLE} == deploy.WEBSOCKET_THROTTLE
    assert aws.client("apigateway").get_rest_apis()["items"][0]["name"] == "emojiboard"

    lam, iam, sqs = aws.client("lambda"), aws.client("iam"), aws.client("sqs")
    prefix = f"emojiboard-{stage}"
    functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    assert set(functions) == {prefix, f"{prefix}-websocket_connect",
                              f"{prefix}-websocket_message", f"{prefix}-websocket_disconnect",
                              f"{prefix}-counts_changed", f"{prefix}-push_shard",
                              f"{prefix}-slack_tasks", f"{prefix}-weekly_digest"}
    # What Chalice recorded is what RecordingChalice records, and what the monitoring
    # stack's alarms watch: one errors alarm per function, the stream handler's age.
    recorded = deploy.Deployed.recorded(project, stage).functions
    assert recorded == {name: function_name(stage, name) for name in CHALICE_FUNCTIONS}
    assert set(recorded.values()) == set(functions)
    alarms = aws.client("cloudwatch").describe_alarms(
        AlarmNamePrefix=monitoring.alarm_prefix(stage))["MetricAlarms"]
    assert {a["Dimensions"][0]["Value"] for a in alarms if a.get("MetricName") == "Errors"} \
        == set(functions)
    iterator_age, = [a for a in alarms if a.get("MetricName") == "IteratorAge"]
    assert iterator_age["Dimensions"] == [{"Name": "FunctionName",
                                           "Value": f"{prefix}-counts_changed"}]
    stream = aws.client("dynamodb").describe_table(
        TableName=f"{prefix}-counts")["Table"]["LatestStreamArn"]
    queue_url = sqs.get_queue_url(QueueName=f"{prefix}-push")["QueueUrl"]  # moto's address
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    assert queue_arn == f"arn:aws:sqs:{REGION}:123456789012:{prefix}-push"
    outputs = infra.outputs(aws.client("cloudformation"), stage)
    assert outputs["PushQueueArn"] == queue_arn
    tasks_url = sqs.get_queue_url(QueueName=f"{prefix}-tasks")["QueueUrl"]  # moto's address
    tasks_arn = sqs.get_queue_attributes(QueueUrl=tasks_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    assert tasks_arn == outputs["TasksQueueArn"] == \
        f"arn:aws:sqs:{REGION}:123456789012:{prefix}-tasks"
    mappings = {m["FunctionArn"]: m for m in lam.list_event_source_mappings()["EventSourceMappings"]}
    assert set(mappings) == {functions[f"{prefix}-counts_changed"]["FunctionArn"],
                             functions[f"{prefix}-push_shard"]["FunctionArn"],
                             functions[f"{prefix}-slack_tasks"]["FunctionArn"]}
    # The counts table's stream feeds counts_changed (batches of up to 1,000 records)...
    from_stream = mappings[functions[f"{prefix}-counts_changed"]["FunctionArn"]]
    assert from_stream["EventSourceArn"] == stream
    assert from_stream["BatchSize"] == fanout.STREAM_BATCH_SIZE == 10000
    assert from_stream["MaximumBatchingWindowInSeconds"] == 0  # no batching window
    # ...and the push queue feeds push_shard, one shard per invocation.
    from_queue = mappings[functions[f"{prefix}-push_shard"]["FunctionArn"]]
    assert from_queue["EventSourceArn"] == queue_arn
    assert from_queue["BatchSize"] == 1
    # Lambda's advice: the queue's visibility timeout at least 6 x the function timeout.
    visibility = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
        "VisibilityTimeout"])["Attributes"]["VisibilityTimeout"]
    assert int(visibility) >= 6 * functions[f"{prefix}-push_shard"]["Timeout"]
    # ...and the tasks queue feeds slack_tasks, one task per invocation, each slice
    # given 150 s; the queue hides a message for 6 x that.
    from_tasks = mappings[functions[f"{prefix}-slack_tasks"]["FunctionArn"]]
    assert from_tasks["EventSourceArn"] == tasks_arn
    assert from_tasks["BatchSize"] == 1
    assert functions[f"{prefix}-slack_tasks"]["Timeout"] == 150
    visibility = sqs.get_queue_attributes(QueueUrl=tasks_url, AttributeNames=[
        "VisibilityTimeout"])["Attributes"]["VisibilityTimeout"]
    assert int(visibility) == 6 * functions[f"{prefix}-slack_tasks"]["Timeout"]
    # Joining every public channel was queued for it (the bot token was given).
    assert result.join_all_queued and _tasks(aws, stage) == [{"task": "join_all"}]
    # The weekly digest: an EventBridge rule every hour (the function posts only at
    # Monday 09:00 in DIGEST_TZ), allowed to invoke it; 60 s for Slack's calls.
    digest = functions[f"{prefix}-weekly_digest"]
    assert _schedules(aws) == {digest["FunctionArn"]: "rate(1 hour)"}
    assert digest["Timeout"] == 60
    allowed = json.loads(lam.get_policy(FunctionName=digest["FunctionName"])["Policy"])
    assert [s["Principal"] for s in allowed["Statement"]] == [{"Service": "events.amazonaws.com"}]

    expected_policy = policy.render(deploy.policy_values(
        stage, REGION, "123456789012", "aws", infra.table_names(stage), api_id))
    keys = aws.client("ssm").get_parameter(Name=f"/emojiboard/{stage}/session-keys",
                                           WithDecryption=True)["Parameter"]["Value"]
    # The distribution in front of the APIs Chalice created: their ids, read back
    # through moto's CloudFront API.
    edge = infra.edge_outputs(aws.client("cloudformation"), stage)
    origins = {o["Id"]: o for o in aws.client("cloudfront").get_distribution_config(
        Id=edge["DistributionId"])["DistributionConfig"]["Origins"]["Items"]}
    rest_id = aws.client("apigateway").get_rest_apis()["items"][0]["id"]
    assert origins["api"]["DomainName"] == f"{rest_id}.execute-api.{REGION}.amazonaws.com"
    assert origins["websocket"]["DomainName"] == f"{api_id}.execute-api.{REGION}.amazonaws.com"
    assert result.request_url == f"https://{rest_id}.execute-api.{REGION}.amazonaws.com/api/slack/events"
    for name, function in functions.items():
        env = function["Environment"]["Variables"]
        assert env["WEBSOCKET_API_ID"] == api_id and env["WEBSOCKET_STAGE"] == "api"
        assert env["PUBLIC_URL"] == result.dashboard_url == edge["PublicURL"]
        assert env["ACCESS"] == "slack" and env["SESSION_KEYS"] == keys
        sessions.Keyring.parse(env["SESSION_KEYS"])  # what the functions will parse
        assert env["COUNTS_TABLE"] == f"{prefix}-counts"
        assert env["COUNTS_STREAM_ARN"] == stream
        assert env["PUSH_QUEUE_URL"] == outputs["PushQueueUrl"]
        assert env["PUSH_QUEUE_URL"].endswith(f"/123456789012/{prefix}-push")
        assert env["PUSH_QUEUE_ARN"] == queue_arn
        assert env["TASKS_QUEUE_URL"] == outputs["TasksQueueUrl"]
        assert env["TASKS_QUEUE_URL"].endswith(f"/123456789012/{prefix}-tasks")
        assert env["TASKS_QUEUE_ARN"] == tasks_arn
        assert "FANOUT_MODE" not in env
        assert env["STAGE"] == stage  # the metrics' Stage dimension
        assert env["SLACK_SIGNING_SECRET"] == "s3cret"
        # The pushers are CPU-bound (botocore signs every push): a full vCPU each.
        pusher = name.endswith(("-counts_changed", "-push_shard"))
        assert function["MemorySize"] == (1769 if pusher else 256), name
        assert function["Timeout"] == {f"{prefix}-slack_tasks": 150,
                                       f"{prefix}-weekly_digest": 60}.get(name, 15), name
        role = function["Role"].rsplit("/", 1)[1]
        policies = iam.list_role_policies(RoleName=role)["PolicyNames"]
        document = iam.get_role_policy(RoleName=role, PolicyName=policies[0])["PolicyDocument"]
        assert document == expected_policy
        assert not iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]

    again = deploy.deploy(stage, aws, chalice, out_dir=project / "dist", env={
        "SLACK_SIGNING_SECRET": "s3cret", "SLACK_BOT_TOKEN": "xoxb-1"}, echo=lambda _: None)
    assert again.chalice_passes == 1
    assert again.stacks[f"{prefix}-edge"] == "unchanged"
    assert deploy.Deployed.recorded(project, stage).websocket_api_id == api_id
    # Updated in place: the same three event source mappings, no second of any.
    assert {m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]} \
        == {m["UUID"] for m in mappings.values()}
    assert _schedules(aws) == {digest["FunctionArn"]: "rate(1 hour)"}  # still one rule
    # Chalice's update keeps the stage, and with it the throttling.
    assert v2.get_stage(ApiId=api_id, StageName="api")["DefaultRouteSettings"] == route_settings
    # The exact policy went to Chalice from a temporary file; the committed ones stay.
    assert {p.name: p.read_text() for p in (project / ".chalice").glob("policy-*.json")} \
        == committed

    deploy.destroy(stage, aws, chalice, echo=lambda _: None)
    assert lam.list_functions()["Functions"] == []
    assert _schedules(aws) == {}
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    assert _tables(aws) == {f"{prefix}-counts"}
    assert _queues(aws) == set()
    assert aws.client("cloudfront").list_distributions()["DistributionList"]["Quantity"] == 0
    assert _stack_names(aws.client("cloudformation")) == {f"{prefix}-data"}
    assert aws.client("cloudwatch").describe_alarms()["MetricAlarms"] == []


def _schedules(session) -> dict:
    """Each EventBridge rule's target function, and its schedule."""
    events = session.client("events")
    return {target["Arn"]: rule["ScheduleExpression"]
            for rule in events.list_rules()["Rules"]
            for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]}


# ---- one CloudFormation template --------------------------------------------------

PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
# IAM resources with custom names need CAPABILITY_NAMED_IAM instead of CAPABILITY_IAM.
IAM_NAMES = ("RoleName", "UserName", "GroupName", "ManagedPolicyName", "InstanceProfileName")


def unsubstituted(node, path="$"):
    """Every string holding `${...}` that no Fn::Sub substitutes, with where it is.
    CloudFormation fills in `${}` only in an Fn::Sub's string (or the first item of
    its [string, variables] form); anywhere else, variables' values included, it
    stays a literal."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::Sub":
                if isinstance(value, list):
                    found += unsubstituted(value[1], f"{path}.Fn::Sub[1]")
                continue
            found += unsubstituted(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += unsubstituted(value, f"{path}[{i}]")
    elif isinstance(node, str) and PLACEHOLDER.search(node):
        found.append(f"{path}: {node}")
    return found


def cfn_lint(path):
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(path)],
                          capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_placeholder_check_finds_literals():
    assert unsubstituted({"A": {"Fn::Sub": "arn:${AWS::Partition}:x"},
                          "B": {"Fn::Sub": ["${X}", {"X": {"Ref": "Y"}}]}}) == []
    assert unsubstituted({"R": ["arn:${AWS::Partition}:x"],
                          "S": {"Fn::Sub": ["${X}", {"X": "${Z}"}]}}) == [
        "$.R[0]: arn:${AWS::Partition}:x", "$.S.Fn::Sub[1].X: ${Z}"]


def test_package_merge_template_passes_cfn_lint(project, offline_pip, tmp_path):
    committed = (project / ".chalice" / f"policy-{STAGE}.json").read_text()
    template_path = deploy.package(STAGE, tmp_path / "cfn", project_dir=project)
    cfn_lint(template_path)

    template = json.loads(template_path.read_text())
    # Deployable as written: every ${...} is one that CloudFormation fills in.
    assert unsubstituted(template) == []
    # Packaging leaves the tree alone (it once left placeholders in the stage's policy
    # file, which a bare `chalice deploy|package` then used as they were).
    assert (project / ".chalice" / f"policy-{STAGE}.json").read_text() == committed
    resources = template["Resources"]
    # The WebSocket stage is throttled as `devkit deploy` throttles it.
    assert resources["WebsocketAPIStage"]["Properties"]["DefaultRouteSettings"] \
        == deploy.WEBSOCKET_THROTTLE
    # CAPABILITY_IAM is enough: no IAM resource has a custom name.
    iam = [r for r in resources.values() if r["Type"].startswith("AWS::IAM::")]
    assert iam and not [r for r in iam if set(IAM_NAMES) & set(r["Properties"])]
    assert resources["CountsTable"]["DeletionPolicy"] == "Retain"
    assert {"ConnectionsTable", "SiteBucket", "SiteBucketPolicy", "WebsocketAPI", "RestAPI"} \
        <= set(resources)
    # The edge, in front of Chalice's own APIs (Refs), with the headers of the site
    # built beside the template.
    built = template_path.parent / "site"
    assert (built / "index.html").is_file()
    assert {"SiteDistribution", "SiteOriginAccessControl", "SecurityHeadersPolicy",
            "WebSocketPathFunction"} <= set(resources)
    # The monitoring stack's resources, on the packaged functions (tests/
    # test_monitoring_stack.py has the rest); ALARM_EMAIL and NO_EVENTS_ALARM_HOURS as
    # parameters, empty by default, what they add conditional on them.
    packaged = {r["Properties"]["FunctionName"] for r in resources.values()
                if r["Type"] == "AWS::Serverless::Function"}
    errors = {r["Properties"]["Dimensions"][0]["Value"] for r in resources.values()
              if r["Type"] == "AWS::CloudWatch::Alarm"
              and r["Properties"].get("MetricName") == "Errors"}
    assert errors == packaged and len(packaged) == 8
    assert resources["CountsChangedIteratorAgeAlarm"]["Properties"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": "emojiboard-prod-counts_changed"}]
    assert resources["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"
    assert resources["NoEventsCountedAlarm"]["Condition"] == "HasNoEventsAlarm"
    assert {template["Parameters"][p]["Default"] for p in ("AlarmEmail", "NoEventsAlarmHours")} \
        == {""}
    assert template["Outputs"]["AlarmTopicArn"] == {"Value": {"Ref": "AlarmTopic"}}
    origins = {o["Id"]: o for o in resources["SiteDistribution"]["Properties"][
        "DistributionConfig"]["Origins"]}
    assert origins["api"]["DomainName"] == {"Fn::Sub": [
        "${Id}.execute-api.${AWS::Region}.${AWS::URLSuffix}", {"Id": {"Ref": "RestAPI"}}]}
    assert origins["websocket"]["DomainName"]["Fn::Sub"][1] == {"Id": {"Ref": "WebsocketAPI"}}
    assert origins["site"]["DomainName"] == {"Fn::GetAtt": ["SiteBucket", "RegionalDomainName"]}
    assert resources["SiteBucketPolicy"]["Properties"]["Bucket"] == {"Ref": "SiteBucket"}
    policy_config = resources["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    csp = _headers_sent(policy_config)["Content-Security-Policy"]
    assert "'sha256-" in csp
    assert _headers_sent(policy_config) == site.security_headers(csp)
    assert csp == site.build(tmp_path / "again").csp  # the same files, the same CSP
    # The Lambda bundle has PyJWT and cryptography, the latter a wheel Lambda's
    # python3.11 (glibc 2.26) can load: manylinux2014 (glibc 2.17), cp311 abi3.
    import zipfile
    bundle = zipfile.ZipFile(template_path.parent / "deployment.zip")
    names = set(bundle.namelist())
    assert "jwt/__init__.py" in names and "cryptography/hazmat/bindings/_rust.abi3.so" in names
    wheel, = [n for n in names if re.fullmatch(r"cryptography-[\d.]+\.dist-info/WHEEL", n)]
    tags = re.findall(r"^Tag: (\S+)$", bundle.read(wheel).decode(), re.M)
    glibc = [tuple(map(int, m)) for t in tags for m in re.findall(r"manylinux_(\d+)_(\d+)_x86_64", t)]
    assert tags and all(t.startswith("cp311-abi3-") for t in tags) and max(glibc) <= (2, 26), tags
    # The queues, as the app stack has them.
    assert resources["PushQueue"] == infra.push_queue_resource(STAGE)
    assert resources["PushQueue"]["Properties"]["VisibilityTimeout"] == 90
    assert resources["TasksQueue"] == infra.tasks_queue_resource(STAGE)
    assert resources["TasksQueue"]["Properties"]["VisibilityTimeout"] == 900
    assert resources["TasksDeadLetterQueue"] == infra.tasks_dead_letter_queue_resource(STAGE)
    functions = {r["Properties"]["Handler"]: r for r in resources.values()
                 if r["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == {"app.app", "app.ws_connect", "app.ws_message", "app.ws_disconnect",
                              "app.counts_changed", "app.push_shard", "app.slack_tasks",
                              "app.weekly_digest"}
    assert functions["app.weekly_digest"]["Properties"]["FunctionName"] \
        == "emojiboard-prod-weekly_digest"
    assert functions["app.weekly_digest"]["Properties"]["Timeout"] == 60
    assert functions["app.slack_tasks"]["Properties"]["FunctionName"] == "emojiboard-prod-slack_tasks"
    assert functions["app.slack_tasks"]["Properties"]["Timeout"] == 150
    assert functions["app.push_shard"]["Properties"]["FunctionName"] == "emojiboard-prod-push_shard"
    events = {name: list(f["Properties"].get("Events", {}).values())
              for name, f in functions.items()}
    # Chalice wrote the stand-in ARNs app.py was imported with; the merge template
    # points the event sources at the table and the queues this template creates, each
    # queue handler at its own queue.
    stream, = [e for e in events["app.counts_changed"] if e["Type"] == "DynamoDB"]
    assert stream["Properties"]["Stream"] == {"Fn::GetAtt": ["CountsTable", "StreamArn"]}
    assert stream["Properties"]["BatchSize"] == fanout.STREAM_BATCH_SIZE
    assert stream["Properties"]["MaximumBatchingWindowInSeconds"] == 0
    queue, = events["app.push_shard"]
    assert queue["Type"] == "SQS"
    assert queue["Properties"] == {"Queue": {"Fn::GetAtt": ["PushQueue", "Arn"]},
                                   "BatchSize": 1, "MaximumBatchingWindowInSeconds": 0}
    tasks, = events["app.slack_tasks"]
    assert tasks["Type"] == "SQS"
    assert tasks["Properties"] == {"Queue": {"Fn::GetAtt": ["TasksQueue", "Arn"]},
                                   "BatchSize": 1, "MaximumBatchingWindowInSeconds": 0}
    # The digest's schedule, as Chalice writes it (SAM's Schedule event: an
    # AWS::Events::Rule and the permission to invoke the function).
    assert events["app.weekly_digest"] == [{"Type": "Schedule",
                                            "Properties": {"Schedule": "rate(1 hour)"}}]
    assert [e for name, es in events.items() for e in es
            if name not in ("app.counts_changed", "app.push_shard", "app.slack_tasks",
                            "app.weekly_digest")] == []
    assert "000000000000" not in json.dumps(template)  # no stand-in ARN is left
    for name, function in functions.items():
        props = function["Properties"]
        env = props["Environment"]["Variables"]
        assert env["COUNTS_TABLE"] == {"Ref": "CountsTable"}
        assert env["WEBSOCKET_API_ID"] == {"Ref": "WebsocketAPI"}
        assert env["COUNTS_STREAM_ARN"] == {"Fn::GetAtt": ["CountsTable", "StreamArn"]}
        assert env["PUSH_QUEUE_URL"] == {"Ref": "PushQueue"}
        assert env["PUSH_QUEUE_ARN"] == {"Fn::GetAtt": ["PushQueue", "Arn"]}
        assert env["TASKS_QUEUE_URL"] == {"Ref": "TasksQueue"}
        assert env["TASKS_QUEUE_ARN"] == {"Fn::GetAtt": ["TasksQueue", "Arn"]}
        assert env["JOIN_PUBLIC_CHANNELS"] == {"Ref": "JoinPublicChannels"}
        assert env["STAGE"] == "prod"
        assert "FANOUT_MODE" not in env
        assert env["SLACK_SIGNING_SECRET"] == {"Ref": "SlackSigningSecret"}
        assert props["FunctionName"].startswith("emojiboard-prod")
        pusher = name in ("app.counts_changed", "app.push_shard")
        assert props["MemorySize"] == (1769 if pusher else 256), name
        role = resources[props["Role"]["Fn::GetAtt"][0]]
        document = role["Properties"]["Policies"][0]["PolicyDocument"]
        assert [s["Action"] for s in document["Statement"]] \
            == [s["Action"] for s in policy.load_template()["Statement"]]
        # Each queue's grants name the template's queue by its name (its Ref is the URL).
        queue_sids = set()
        for statement in document["Statement"]:
            for queue in ("PushQueue", "TasksQueue"):
                if statement["Sid"].startswith(queue):
                    queue_sids.add(statement["Sid"])
                    assert statement["Resource"] == [{"Fn::Sub": [
                        "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${%sName}"
                        % queue, {f"{queue}Name": {"Fn::GetAtt": [queue, "QueueName"]}}]}]
        assert queue_sids == {"PushQueueSend", "PushQueueEventSource", "TasksQueueSend",
                              "TasksQueueEventSource"}
    assert template["Parameters"]["SlackSigningSecret"]["NoEcho"] is True
    assert template["Parameters"]["JoinPublicChannels"] == {
        "Type": "String", "Default": "",
        "Description": "on or off: join every public channel (empty: on)"}
    secrets = {name for name, parameter in template["Parameters"].items() if parameter.get("NoEcho")}
    assert secrets == {"SlackSigningSecret", "SlackBotToken", "SlackClientId",
                       "SlackClientSecret", "SessionKeys"}
    assert template["Parameters"]["Access"]["AllowedValues"] == ["", "slack", "public"]
    assert template["Parameters"]["DigestChannel"]["AllowedPattern"] == "^([CG][A-Z0-9]{2,})?$"
    assert template["Parameters"]["DigestTz"]["Default"] == ""
    for name, function in functions.items():
        env = function["Properties"]["Environment"]["Variables"]
        assert {k: env[k] for k in ("ACCESS", "PUBLIC_URL", "SESSION_KEYS")} == {
            "ACCESS": {"Ref": "Access"}, "PUBLIC_URL": {"Ref": "PublicUrl"},
            "SESSION_KEYS": {"Ref": "SessionKeys"}}, name
        assert {k: env[k] for k in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "DASHBOARD_ADMINS")} \
            == {"SLACK_CLIENT_ID": {"Ref": "SlackClientId"},
                "SLACK_CLIENT_SECRET": {"Ref": "SlackClientSecret"},
                "DASHBOARD_ADMINS": {"Ref": "DashboardAdmins"}}
        assert (env["DIGEST_CHANNEL"], env["DIGEST_TZ"]) == ({"Ref": "DigestChannel"},
                                                             {"Ref": "DigestTz"})
    assert template["Outputs"]["DashboardURL"] == {
        "Value": {"Fn::Sub": "https://${SiteDistribution.DomainName}"}}
    assert template["Outputs"]["SlackRedirectURL"] == {
        "Value": {"Fn::Sub": "https://${SiteDistribution.DomainName}/auth/callback"}}
    assert "SlackRequestURL" in template["Outputs"] and "SiteBucket" in template["Outputs"]
    for output, path in (("SlackRequestURL", "events"), ("SlackCommandsURL", "commands"),
                         ("SlackInteractivityURL", "interactions")):
        assert template["Outputs"][output] == {"Value": {"Fn::Sub": "https://${RestAPI}"
                                               ".execute-api.${AWS::Region}.${AWS::URLSuffix}"
                                               f"/api/slack/{path}"}}


def _capabilities(text):
    return [m.split() for m in re.findall(r"--capabilities((?:\s+CAPABILITY_\w+)+)", text)]


def test_package_hint_and_readme_ask_for_the_same_capabilities():
    """`aws cloudformation deploy` runs a change set, which expands the SAM transform
    without CAPABILITY_AUTO_EXPAND; the roles are unnamed, so CAPABILITY_IAM."""
    hint = deploy.cloudformation_commands(STAGE, Path("dist/cloudformation/sam.json"))
    assert _capabilities(hint) == [["CAPABILITY_IAM"]]
    readme = (ROOT / "README.md").read_text()
    assert _capabilities(readme) == _capabilities(hint)


def test_a_bare_chalice_package_after_make_package_is_deployable(project, offline_pip, tmp_path):
    """`make package` then `chalice package --stage dev` (a Chalice user's habit): the
    second template must not carry the first one's placeholders. A bare `chalice`
    needs the event sources' ARNs app.py registers its handlers on (without them it
    stops with one line, tests/test_cli.py): a user who has the stacks passes them."""
    deploy.package("dev", tmp_path / "cfn", project_dir=project)
    out = tmp_path / "bare"
    arns = {"COUNTS_STREAM_ARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/"
                                 "emojiboard-dev-counts/stream/2026-01-01T00:00:00.000",
            "PUSH_QUEUE_ARN": f"arn:aws:sqs:{REGION}:123456789012:emojiboard-dev-push",
            "TASKS_QUEUE_ARN": f"arn:aws:sqs:{REGION}:123456789012:emojiboard-dev-tasks"}
    done = subprocess.run([str(Path(sys.executable).parent / "chalice"), "package", "--stage",
                           "dev", str(out)], cwd=project, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "AWS_DEFAULT_REGION": REGION, **arns})
    assert done.returncode == 0, done.stdout + done.stderr
    template = json.loads((out / "sam.json").read_text())
    assert unsubstituted(template) == []
    roles = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert roles and all(r["Properties"]["Policies"][0]["PolicyDocument"]
                         == policy.committed("dev") for r in roles)
    # Chalice subscribes the handlers to exactly the ARNs it was given.
    sources = {(r["Properties"]["Handler"], e["Type"]): e["Properties"]
               for r in template["Resources"].values()
               for e in r.get("Properties", {}).get("Events", {}).values()}
    assert set(sources) == {("app.push_shard", "SQS"), ("app.slack_tasks", "SQS"),
                            ("app.counts_changed", "DynamoDB"), ("app.weekly_digest", "Schedule")}
    assert sources["app.push_shard", "SQS"]["Queue"] == arns["PUSH_QUEUE_ARN"]
    assert sources["app.slack_tasks", "SQS"]["Queue"] == arns["TASKS_QUEUE_ARN"]
    assert sources["app.counts_changed", "DynamoDB"]["Stream"] == arns["COUNTS_STREAM_ARN"]


def _chalice_function(handler, events=None):
    return {"Type": "AWS::Serverless::Function", "Properties": {
        "Handler": f"app.{handler}", "Role": {"Fn::GetAtt": [f"{handler}Role", "Arn"]},
        **({"Events": events} if events else {})}}


def _sqs_event(arn):
    return {"Type": "SQS", "Properties": {"Queue": arn, "BatchSize": 1}}


def test_merge_template_points_each_queue_handler_at_its_own_queue():
    """Not every SQS event source at one queue: Chalice names each by the ARN app.py
    was imported with, and the merge template maps it by the handler."""
    chalice_template = {"Resources": {
        "PushShard": _chalice_function("push_shard", {"PushShardSqsEventSource": _sqs_event(
            "arn:aws:sqs:us-east-1:000000000000:emojiboard-prod-push")}),
        "SlackTasks": _chalice_function("slack_tasks", {"SlackTasksSqsEventSource": _sqs_event(
            "arn:aws:sqs:us-east-1:000000000000:emojiboard-prod-tasks")}),
        "APIHandler": _chalice_function("app"),
    }}
    merged = deploy.merge_template(STAGE, chalice_template)["Resources"]
    assert merged["PushShard"]["Properties"]["Events"] == {"PushShardSqsEventSource": {
        "Properties": {"Queue": {"Fn::GetAtt": ["PushQueue", "Arn"]}}}}
    assert merged["SlackTasks"]["Properties"]["Events"] == {"SlackTasksSqsEventSource": {
        "Properties": {"Queue": {"Fn::GetAtt": ["TasksQueue", "Arn"]}}}}
    assert "Events" not in merged["APIHandler"]["Properties"]
    assert merged["SlackTasks"]["Properties"]["FunctionName"] == "emojiboard-prod-slack_tasks"
    for name in ("PushShard", "SlackTasks", "APIHandler"):
        env = merged[name]["Properties"]["Environment"]["Variables"]
        assert env["TASKS_QUEUE_URL"] == {"Ref": "TasksQueue"}
        assert env["TASKS_QUEUE_ARN"] == {"Fn::GetAtt": ["TasksQueue", "Arn"]}
    assert {"PushQueue", "TasksQueue", "TasksDeadLetterQueue"} <= set(merged)


def test_merge_template_refuses_a_queue_handler_it_has_no_queue_for():
    chalice_template = {"Resources": {"Drain": _chalice_function("drain", {
        "DrainSqsEventSource": _sqs_event("arn:aws:sqs:us-east-1:000000000000:other")})}}
    with pytest.raises(deploy.DeployError, match="drain.*QUEUE_OF_HANDLER"):
        deploy.merge_template(STAGE, chalice_template)


def test_import_settings_name_every_event_source_app_py_registers():
    """`chalice deploy` imports app.py with these set (deploy.Chalice._deploy), and
    `package` passes a stand-in for each: without one a handler would be left out."""
    assert deploy.IMPORT_SETTINGS == ("COUNTS_STREAM_ARN", "PUSH_QUEUE_ARN", "TASKS_QUEUE_ARN")
    source = (ROOT / "app.py").read_text()
    assert set(re.findall(r'_event_source\("([A-Z_]+)"', source)) == set(deploy.IMPORT_SETTINGS)
    assert "JOIN_PUBLIC_CHANNELS" in deploy.OPTIONAL_SETTINGS
    assert deploy.PACKAGE_PARAMETERS["JoinPublicChannels"][0] == "JOIN_PUBLIC_CHANNELS"


# ---- between the two passes of a first deploy ------------------------------------

def test_until_the_websocket_api_id_is_set_only_pushes_fail(monkeypatch):
    from chalicelib import services, settings
    monkeypatch.setenv("COUNTS_TABLE", "c")
    monkeypatch.setenv("CONNECTIONS_TABLE", "d")
    monkeypatch.setenv("WEBSOCKET_STAGE", "api")
    monkeypatch.setenv("AWS_REGION", REGION)
    for name in ("WEBSOCKET_API_ID", "WEBSOCKET_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    services.get.cache_clear()
    try:
        built = services.get()  # the leaderboard and $connect need no more than this
        with pytest.raises(settings.SettingsError, match="WEBSOCKET_API_ID"):
            built.broadcaster.send("conn1", [b"{}"])
        monkeypatch.setenv("WEBSOCKET_API_ID", "abc123")
        services.get.cache_clear()
        client = services.get().broadcaster._client
        assert client.endpoint_url == \
            f"https://abc123.execute-api.{REGION}.amazonaws.com/api"
    finally:
        services.get.cache_clear()


def test_site_upload_command(aws, tmp_path):
    from click.testing import CliRunner
    from devkit.cli import main
    bucket = infra.provision(aws.client("cloudformation"), STAGE)["SiteBucket"]
    runner = CliRunner()
    built = runner.invoke(main, ["site", "build", "--out", str(tmp_path / "s")])
    assert built.exit_code == 0, built.output
    result = runner.invoke(main, ["site", "upload", "--dir", str(tmp_path / "s"),
                                  "--bucket", bucket])
    assert result.exit_code == 0, result.output
    head = aws.client("s3").head_object(Bucket=bucket, Key="index.html")
    assert head["CacheControl"] == publish.NO_CACHE
    assert head["ContentType"] == "text/html; charset=utf-8"
