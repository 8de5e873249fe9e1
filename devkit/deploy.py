"""`python -m devkit deploy|destroy|package`: the app on AWS in one command.

deploy:
  1. the stacks Chalice does not create (`infra.py`): tables, the push queue, the
     tasks queue and the site bucket;
  2. `chalice deploy --stage S` through Chalice's own Python API (what its CLI runs),
     with the stacks' table names, the counts table's stream, the push queue and the
     tasks queue (URL and ARN of each), the WebSocket API's id and the Slack settings as
     the functions' environment variables, and the policy rendered for these resources;
  3. Chalice learns the WebSocket API's id only by creating it: when the id was not
     known before this deploy (the first one), deploy once more with WEBSOCKET_API_ID
     and the policy's `execute-api:ManageConnections` naming that API
     (docs/architecture.md, "Deploying"); then the WebSocket stage's route throttling;
  4. the dashboard built with the deployed URLs (`site.py`) and uploaded (`publish.py`);
     then, unless JOIN_PUBLIC_CHANNELS is off, `{"task": "join_all"}` on the tasks
     queue: `slack_tasks` joins every public channel (chalicelib/coverage.py), so the
     bot hears their reactions from the first day (`queue_join_all`);
  5. the dashboard URL, the Slack Request URL, and a Slack app manifest.
"""
import json
import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Optional

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.settings import SettingsError, switch

from . import infra, manifest, policy, publish, site

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
# Secrets are never committed: the deployer's environment, or SSM Parameter Store.
SECRETS = ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN")
# Plain settings a deployer may pass from the shell (or SSM), e.g. SLACK_TEAM_ID.
OPTIONAL_SETTINGS = ("SLACK_TEAM_ID", "PEOPLE_BOARDS", "EXCLUDED_CHANNELS",
                     "JOIN_PUBLIC_CHANNELS")
# What app.py reads at import (the event sources its handlers are registered on), not
# only at run time: the counts table's stream (`counts_changed`), the push queue
# (`push_shard`) and the tasks queue (`slack_tasks`).
IMPORT_SETTINGS = ("COUNTS_STREAM_ARN", "PUSH_QUEUE_ARN", "TASKS_QUEUE_ARN")
# After a deploy: join every public channel (chalicelib/tasks.py, coverage.py).
JOIN_ALL_TASK = {"task": "join_all"}
# Route throttling of the WebSocket API's stage (every route: $connect, $default,
# $disconnect). The API is open to any browser, and API Gateway's account-level
# throttle (10,000 requests/s per region by default) is shared by the Slack route's
# REST API and the Management API the fan-out pushes through ("Amazon API Gateway
# quotas", docs.aws.amazon.com/apigateway/latest/developerguide/limits.html), so
# dashboards must not be able to use it up. 1,000 dashboards send about 17 messages/s
# (a ping a minute): 100/s leaves 6x headroom, and a reconnect storm beyond the burst
# gets 429s, which the page retries with backoff. Route-level throttling through
# UpdateStage's DefaultRouteSettings: "Protect your WebSocket APIs in API Gateway",
# docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-protect.html
WEBSOCKET_THROTTLE = {"ThrottlingBurstLimit": 200, "ThrottlingRateLimit": 100.0}
# `aws cloudformation deploy` of the packaged template: its IAM roles have no custom
# names (so not CAPABILITY_NAMED_IAM), and `deploy` goes through a change set, to
# which CAPABILITY_AUTO_EXPAND "doesn't apply" (CreateChangeSet, Capabilities), even
# with the AWS::Serverless transform.
CAPABILITIES = "CAPABILITY_IAM"


class DeployError(RuntimeError):
    """Something the deployer can act on; the CLI shows it as one line."""


@contextmanager
def _temporary_environment(values: Dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def fanout_environment(counts_stream_arn, push_queue_url, push_queue_arn) -> dict:
    """What the fan-out needs, in every stage: the counts table's stream that feeds
    `counts_changed`, and the push queue it sends shards to (URL) and `push_shard` is
    fed from (ARN). Each an actual value, or a CloudFormation reference to one."""
    return {"COUNTS_STREAM_ARN": counts_stream_arn, "PUSH_QUEUE_URL": push_queue_url,
            "PUSH_QUEUE_ARN": push_queue_arn}


def tasks_environment(tasks_queue_url, tasks_queue_arn) -> dict:
    """The tasks queue: the Slack route (a new channel to join) and `slack_tasks`
    (each slice's continuation) send to it (URL), and `slack_tasks` is fed from it
    (ARN). Each an actual value, or a CloudFormation reference to one."""
    return {"TASKS_QUEUE_URL": tasks_queue_url, "TASKS_QUEUE_ARN": tasks_queue_arn}


def ssm_name(stage: str, variable: str) -> str:
    """/emojiboard/prod/slack-signing-secret for SLACK_SIGNING_SECRET."""
    return f"/{infra.APP_NAME}/{stage}/{variable.lower().replace('_', '-')}"


def slack_settings(stage: str, ssm, env=os.environ, echo=log.info) -> Dict[str, str]:
    """Each Slack setting from the deployer's environment, else from SSM Parameter
    Store (SecureString, decrypted here and handed to Lambda as an environment
    variable, which Lambda encrypts at rest)."""
    found = {}
    for variable in SECRETS + OPTIONAL_SETTINGS:
        if env.get(variable):
            found[variable] = env[variable]
            continue
        name = ssm_name(stage, variable)
        try:
            found[variable] = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            if variable in SECRETS:
                echo(f"note: {variable} is not set (environment, or SSM parameter {name})")
    return found


@dataclass
class Deployed:
    rest_api_url: Optional[str] = None
    websocket_api_url: Optional[str] = None
    websocket_api_id: Optional[str] = None
    resources: list = field(default_factory=list)

    @classmethod
    def from_values(cls, values: Optional[dict]) -> "Deployed":
        deployed = cls(resources=(values or {}).get("resources", []))
        for resource in deployed.resources:
            if resource.get("resource_type") == "rest_api":
                deployed.rest_api_url = resource["rest_api_url"]
            if resource.get("resource_type") == "websocket_api":
                deployed.websocket_api_url = resource["websocket_api_url"]
                deployed.websocket_api_id = resource["websocket_api_id"]
        return deployed

    @classmethod
    def recorded(cls, project_dir: Path, stage: str) -> "Deployed":
        """What `.chalice/deployed/{stage}.json` says (Chalice's own record)."""
        path = Path(project_dir) / ".chalice" / "deployed" / f"{stage}.json"
        return cls.from_values(json.loads(path.read_text()) if path.exists() else None)


class Chalice:
    """`chalice deploy` / `chalice delete` / `chalice package` through Chalice's Python
    API, so the environment variables and the policy can be given per deploy."""

    def __init__(self, project_dir: Path = ROOT, profile: Optional[str] = None,
                 region: Optional[str] = None):
        self.project_dir, self.profile, self.region = Path(project_dir), profile, region

    def _factory(self):
        from chalice.cli.factory import CLIFactory
        return CLIFactory(project_dir=str(self.project_dir), profile=self.profile)

    def _session(self, factory):
        session = factory.create_botocore_session()
        if self.region:
            session.set_config_variable("region", self.region)
        return session

    def deploy(self, stage: str, environment: Dict[str, str], policy_document: dict) -> dict:
        """`chalice deploy --stage S` with these environment variables and this policy
        (given as the stage's iam_policy_file, from a temporary file: the committed
        `.chalice/policy-{stage}.json` stays as it is)."""
        with tempfile.TemporaryDirectory(prefix="emojiboard-policy-") as tmp:
            policy_file = Path(tmp) / f"policy-{stage}.json"
            policy_file.write_text(policy.as_text(policy_document))
            return self._deploy(stage, environment, policy_file)

    def _deploy(self, stage: str, environment: Dict[str, str], policy_file: Path) -> dict:
        from chalice.utils import UI
        factory = self._factory()
        # Chalice joins .chalice/ and the file name: an absolute path wins.
        config = factory.create_config_obj(
            chalice_stage_name=stage, autogen_policy=False,
            user_provided_params={"environment_variables": dict(environment),
                                  "iam_policy_file": str(policy_file)})
        deployer = factory.create_default_deployer(session=self._session(factory),
                                                   config=config, ui=UI())
        # app.py registers the stream and queue handlers at import, on the ARNs in
        # IMPORT_SETTINGS, so Chalice imports it afresh with this deploy's.
        with _temporary_environment({k: environment.get(k, "") for k in IMPORT_SETTINGS}):
            sys.modules.pop("app", None)
            try:
                return deployer.deploy(config, chalice_stage_name=stage)
            finally:
                sys.modules.pop("app", None)

    def delete(self, stage: str) -> None:
        from chalice.utils import UI
        factory = self._factory()
        config = factory.create_config_obj(chalice_stage_name=stage)
        factory.create_deletion_deployer(session=self._session(factory), ui=UI()).deploy(
            config, chalice_stage_name=stage)


@dataclass
class Result:
    dashboard_url: str
    request_url: str
    manifest_path: Path
    site_files: Dict[str, Dict[str, str]]
    stacks: Dict[str, str]
    chalice_passes: int
    environment: Dict[str, str]
    join_all_queued: bool = False


def policy_values(stage: str, region: str, account: str, partition: str,
                  tables: Dict[str, str], websocket_api_id: Optional[str]) -> Dict[str, Optional[str]]:
    return {"AWS::Partition": partition, "AWS::Region": region, "AWS::AccountId": account,
            "CountsTable": tables["counts"], "ConnectionsTable": tables["connections"],
            "PushQueueName": infra.push_queue_name(stage),
            "TasksQueueName": infra.tasks_queue_name(stage),
            "WebsocketAPI": websocket_api_id,
            "WebsocketStage": infra.stage_setting(stage, "WEBSOCKET_STAGE"),
            "AppName": infra.APP_NAME, "Stage": stage}


def deploy(stage: str, session: boto3.session.Session, chalice: Chalice,
           out_dir: Path = DIST, title: str = "Emojiboard", workspace: str = "",
           env=os.environ, echo: Callable[[str], None] = print) -> Result:
    region = session.region_name
    # Credentials first (GetCallerIdentity needs no permission): a deploy that cannot
    # authenticate stops before it changes anything.
    account = caller_account(session)
    cfn = session.client("cloudformation")
    s3 = session.client("s3")

    # 1. What Chalice does not create.
    outputs = infra.provision(cfn, stage, echo)
    tables = {"counts": outputs["CountsTable"], "connections": outputs["ConnectionsTable"]}
    environment = {"COUNTS_TABLE": tables["counts"], "CONNECTIONS_TABLE": tables["connections"]}
    environment.update(fanout_environment(outputs["CountsStreamArn"], outputs["PushQueueUrl"],
                                          outputs["PushQueueArn"]))
    environment.update(tasks_environment(outputs["TasksQueueUrl"], outputs["TasksQueueArn"]))
    environment.update(slack_settings(stage, session.client("ssm"), env, echo))
    try:  # the functions would fail on it at every request: stop before deploying them
        join_public_channels = switch(environment, "JOIN_PUBLIC_CHANNELS", True)
    except SettingsError as error:
        raise DeployError(f"{error} (the deployer's environment, or SSM parameter "
                          f"{ssm_name(stage, 'JOIN_PUBLIC_CHANNELS')})") from None

    # 2 and 3. chalice deploy, twice when the WebSocket API id was not known before.
    partition = session.get_partition_for_region(region)
    known = Deployed.recorded(chalice.project_dir, stage).websocket_api_id
    passes = 0
    while True:
        if known:
            environment["WEBSOCKET_API_ID"] = known
        document = policy.render(policy_values(stage, region, account, partition, tables, known))
        echo(f"chalice deploy --stage {stage}"
             + (f" (WEBSOCKET_API_ID={known})" if known else " (WebSocket API id not known yet)"))
        deployed = Deployed.from_values(chalice.deploy(stage, environment, document))
        passes += 1
        if deployed.websocket_api_id == known or passes == 2:
            break
        known = deployed.websocket_api_id
        echo(f"WebSocket API id is {known}: deploying again so the functions can push to it")
    if deployed.websocket_api_id != environment.get("WEBSOCKET_API_ID"):
        raise DeployError("the WebSocket API id changed during the deploy; run it again")
    throttle_websocket_stage(session.client("apigatewayv2"), deployed.websocket_api_id,
                             infra.stage_setting(stage, "api_gateway_stage"), echo)

    # 4. The dashboard, pointed at what was just deployed.
    api_url = deployed.rest_api_url.rstrip("/")
    ws_url = deployed.websocket_api_url.rstrip("/")
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="emojiboard-site-") as tmp:
        site_dir = Path(tmp) / "site"
        site.build(site_dir, api_url=api_url, ws_url=ws_url, title=title, workspace=workspace,
                   people_boards=switch(environment, "PEOPLE_BOARDS", True))
        files = publish.upload(s3, outputs["SiteBucket"], site_dir)
    echo(f"uploaded {len(files)} files to s3://{outputs['SiteBucket']}")
    joining = queue_join_all(session.client("sqs"), outputs["TasksQueueUrl"],
                             join_public_channels, "SLACK_BOT_TOKEN" in environment, echo)

    # 5. What the user needs next.
    request_url = f"{api_url}/slack/events"
    manifest_path = manifest.write(out_dir / f"slack-manifest-{stage}.json", request_url)
    result = Result(dashboard_url=outputs["SiteURL"], request_url=request_url,
                    manifest_path=manifest_path, site_files=files,
                    stacks=outputs["_status"], chalice_passes=passes,
                    environment={k: ("(set)" if k in SECRETS else v)
                                 for k, v in environment.items()},
                    join_all_queued=joining)
    echo("")
    echo(f"Dashboard:         {result.dashboard_url}")
    echo(f"Slack Request URL: {result.request_url}")
    echo(f"Slack app manifest: {manifest_path} (paste it at https://api.slack.com/apps -> "
         "Create New App -> From an app manifest)")
    missing = [s for s in SECRETS if s not in environment]
    if missing:
        echo("Next: put the Slack app's " + " and ".join(missing) + " in SSM ("
             + ", ".join(ssm_name(stage, s) for s in missing)
             + f") and run `make deploy STAGE={stage}` again (README, Deploying to AWS).")
    return result


def queue_join_all(sqs, tasks_queue_url: str, join_public_channels: bool, bot_token: bool,
                   echo: Callable[[str], None] = print) -> bool:
    """Join every public channel after install: JOIN_ALL_TASK on the tasks queue, for
    `slack_tasks` (every deploy: joining is idempotent, and a sweep joins only the
    channels the bot is not in yet). Not when JOIN_PUBLIC_CHANNELS is off, nor without
    the bot token (the app is not installed yet: `slack_tasks` could not join, and the
    deploy after the install queues it). Whether it was queued; a failure to queue is a
    warning, not a failed deploy: the app is deployed, and new channels are joined as
    Slack announces them."""
    if not join_public_channels:
        echo("JOIN_PUBLIC_CHANNELS is off: public channels are not joined")
        return False
    if not bot_token:
        echo("public channels not joined yet: no SLACK_BOT_TOKEN (the deploy after "
             "installing the Slack app joins them)")
        return False
    try:
        sqs.send_message(QueueUrl=tasks_queue_url, MessageBody=json.dumps(JOIN_ALL_TASK))
    except (BotoCoreError, ClientError) as error:
        echo(f"warning: could not queue joining every public channel ({error}); the "
             "next deploy queues it again")
        return False
    echo(f"queued joining every public channel on {tasks_queue_url.rsplit('/', 1)[-1]}")
    return True


def caller_account(session: boto3.session.Session) -> str:
    """The account the credentials belong to; fails early (NoCredentialsError,
    ExpiredToken...) before anything is created or deleted."""
    if not session.region_name:
        raise DeployError("no AWS region: pass --region, set AWS_REGION, or give the "
                          "profile a region")
    return session.client("sts").get_caller_identity()["Account"]


def throttle_websocket_stage(v2, api_id: str, stage_name: str,
                             echo: Callable[[str], None] = print) -> str:
    """Set WEBSOCKET_THROTTLE as the stage's default route settings; "unchanged" when
    they already are (Chalice's later deploys keep the stage, and with it these)."""
    current = v2.get_stage(ApiId=api_id, StageName=stage_name).get("DefaultRouteSettings", {})
    if all(current.get(k) == v for k, v in WEBSOCKET_THROTTLE.items()):
        return "unchanged"
    # The other default route settings (logging, metrics) are sent back as they are.
    v2.update_stage(ApiId=api_id, StageName=stage_name,
                    DefaultRouteSettings={**current, **WEBSOCKET_THROTTLE})
    echo(f"WebSocket stage {stage_name}: throttled to {WEBSOCKET_THROTTLE['ThrottlingRateLimit']:g} "
         f"messages/s, bursts of {WEBSOCKET_THROTTLE['ThrottlingBurstLimit']}")
    return "updated"


def destroy(stage: str, session: boto3.session.Session, chalice: Chalice,
            delete_data: bool = False, echo: Callable[[str], None] = print) -> None:
    """The Chalice app, the site and the app stack; the counters only with delete_data.
    Writes nothing when there is nothing to delete, or when it cannot authenticate."""
    caller_account(session)
    if Deployed.recorded(chalice.project_dir, stage).resources:
        echo(f"chalice delete --stage {stage}")
        chalice.delete(stage)
    else:
        # Chalice's delete would record an empty .chalice/deployed/{stage}.json.
        echo(f"no Chalice app recorded for stage {stage} (.chalice/deployed/{stage}.json): "
             "nothing to delete there")
    infra.teardown(session.client("cloudformation"), session.client("s3"),
                   session.client("dynamodb"), stage, delete_data, echo)


# ---- chalice package --merge-template ------------------------------------------

PACKAGE_PARAMETERS = {
    "SlackSigningSecret": ("SLACK_SIGNING_SECRET", "The Slack app's signing secret", True),
    "SlackBotToken": ("SLACK_BOT_TOKEN", "The Slack app's bot token (xoxb-...), for custom emoji", True),
    "SlackTeamId": ("SLACK_TEAM_ID", "Count only this workspace (empty: any)", False),
    "PeopleBoards": ("PEOPLE_BOARDS", "on or off: the givers and receivers boards (empty: on)", False),
    "ExcludedChannels": ("EXCLUDED_CHANNELS", "Channel ids whose reactions count nowhere, comma-separated", False),
    "JoinPublicChannels": ("JOIN_PUBLIC_CHANNELS", "on or off: join every public channel (empty: on)", False),
}
# The queue each `@app.on_sqs_message` handler of app.py reads, by the resource in
# `infra.app_resources` (a new queue handler must be added here).
QUEUE_OF_HANDLER = {"push_shard": "PushQueue", "slack_tasks": "TasksQueue"}


def _chalice_cli(args, project_dir: Path, region: str, settings: Dict[str, str]) -> None:
    import subprocess
    env = dict(os.environ, AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", region),
               **settings)
    done = subprocess.run([sys.executable, "-c", "import sys; from chalice.cli import main; "
                           "sys.argv[0] = 'chalice'; sys.exit(main())", *args],
                          cwd=project_dir, env=env)
    if done.returncode:
        raise DeployError(f"chalice {' '.join(args[:3])} failed (exit {done.returncode}); "
                          "its output is above")


def merge_template(stage: str, chalice_template: dict) -> dict:
    """The resources of both stacks, and what ties Chalice's functions to them: each
    function's environment (Refs to the tables, the queues, the WebSocket API and the
    Slack parameters), the event sources (the counts table's stream; each queue
    handler's own queue, QUEUE_OF_HANDLER) and each function role's policy (the
    hand-written one, `Fn::Sub`)."""
    resources = {**infra.data_resources(stage), **infra.app_resources(stage)}
    variables = {name: {"Ref": param} for param, (name, _, _) in PACKAGE_PARAMETERS.items()}
    variables.update(COUNTS_TABLE={"Ref": "CountsTable"},
                     CONNECTIONS_TABLE={"Ref": "ConnectionsTable"},
                     WEBSOCKET_API_ID={"Ref": "WebsocketAPI"})
    counts_stream = {"Fn::GetAtt": ["CountsTable", "StreamArn"]}
    queue_arns = {queue: {"Fn::GetAtt": [queue, "Arn"]} for queue in QUEUE_OF_HANDLER.values()}
    variables.update(fanout_environment(counts_stream, {"Ref": "PushQueue"},
                                        queue_arns["PushQueue"]))
    variables.update(tasks_environment({"Ref": "TasksQueue"}, queue_arns["TasksQueue"]))
    document = policy.as_cloudformation({
        "WebsocketStage": infra.stage_setting(stage, "WEBSOCKET_STAGE"),
        # In Fn::Sub `${PushQueue}` would be its Ref, the URL: the policy names the queue.
        "PushQueueName": {"Fn::GetAtt": ["PushQueue", "QueueName"]},
        "TasksQueueName": {"Fn::GetAtt": ["TasksQueue", "QueueName"]},
        "AppName": infra.APP_NAME, "Stage": stage})
    for logical_id, resource in chalice_template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        # The names `chalice deploy` gives them, which the policy's log groups name.
        handler = resource["Properties"]["Handler"].split(".", 1)[1]
        name = f"{infra.APP_NAME}-{stage}" + ("" if handler == "app" else f"-{handler}")
        properties = {"FunctionName": name, "Environment": {"Variables": variables}}
        # The event sources, which Chalice writes as the literal ARNs app.py was
        # imported with: the stream of the table and the queues this template creates,
        # each handler its own.
        sources = {}
        for event, source in resource["Properties"].get("Events", {}).items():
            if source["Type"] == "DynamoDB":
                sources[event] = {"Properties": {"Stream": counts_stream}}
            elif source["Type"] == "SQS":
                if handler not in QUEUE_OF_HANDLER:
                    raise DeployError(f"app.py's queue handler {handler} reads no queue "
                                      "this template knows: add it to QUEUE_OF_HANDLER")
                sources[event] = {"Properties": {"Queue": queue_arns[QUEUE_OF_HANDLER[handler]]}}
        if sources:
            properties["Events"] = sources
        resources[logical_id] = {"Properties": properties}
        role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
        resources[role] = {"Properties": {"Policies": [
            {"PolicyName": f"{role}Policy", "PolicyDocument": document}]}}
    if "WebsocketAPIStage" in chalice_template["Resources"]:
        resources["WebsocketAPIStage"] = {
            "Properties": {"DefaultRouteSettings": dict(WEBSOCKET_THROTTLE)}}
    return {
        "Parameters": {param: {"Type": "String", "Default": "", "Description": text,
                               **({"NoEcho": True} if secret else {})}
                       for param, (_, text, secret) in PACKAGE_PARAMETERS.items()},
        "Resources": resources,
        "Outputs": {
            "DashboardURL": {"Value": {"Fn::GetAtt": ["SiteBucket", "WebsiteURL"]}},
            "SiteBucket": {"Value": {"Ref": "SiteBucket"}},
            "SlackRequestURL": {"Value": {"Fn::Sub": "https://${RestAPI}.execute-api."
                                          "${AWS::Region}.${AWS::URLSuffix}/%s/slack/events"
                                          % infra.stage_setting(stage, "api_gateway_stage")}},
        },
    }


def package(stage: str, out_dir: Path, project_dir: Path = ROOT,
            region: str = "us-east-1") -> Path:
    """`chalice package --merge-template` for `stage` into `out_dir`; the path of the
    one template (sam.json) that deploys the whole app with CloudFormation."""
    if stage not in infra.stages():
        raise DeployError(f"unknown stage {stage!r}: .chalice/config.json has "
                          f"{', '.join(infra.stages())}")
    out_dir = Path(out_dir).resolve()
    # Chalice reads the stage's committed policy file (.chalice/policy-{stage}.json);
    # the merge template replaces each role's policy with the Fn::Sub form.
    # app.py needs the stream's and the queues' ARNs at import to register its
    # handlers; these stand-ins are replaced in the template by the template's own
    # table stream and queues (Fn::GetAtt), the URLs by the queues' Refs.
    settings = fanout_environment(
        f"arn:aws:dynamodb:{region}:000000000000:table/"
        f"{infra.table_names(stage)['counts']}/stream/packaged",
        f"https://sqs.{region}.amazonaws.com/000000000000/{infra.push_queue_name(stage)}",
        f"arn:aws:sqs:{region}:000000000000:{infra.push_queue_name(stage)}")
    settings.update(tasks_environment(
        f"https://sqs.{region}.amazonaws.com/000000000000/{infra.tasks_queue_name(stage)}",
        f"arn:aws:sqs:{region}:000000000000:{infra.tasks_queue_name(stage)}"))
    with tempfile.TemporaryDirectory(prefix="emojiboard-package-") as tmp:
        plain = Path(tmp) / "plain"
        _chalice_cli(["package", "--stage", stage, str(plain)], project_dir, region, settings)
        chalice_template = json.loads((plain / "sam.json").read_text())
        merge_path = Path(tmp) / "resources.json"
        merge_path.write_text(json.dumps(merge_template(stage, chalice_template), indent=1))
        if out_dir.exists():
            import shutil
            shutil.rmtree(out_dir)
        _chalice_cli(["package", "--stage", stage, "--merge-template", str(merge_path),
                      str(out_dir)], project_dir, region, settings)
    return out_dir / "sam.json"


def cloudformation_commands(stage: str, template: Path) -> str:
    """How to deploy the packaged template with the AWS CLI (README says the same)."""
    packaged = Path(template).parent / "packaged.yaml"
    return (f"aws cloudformation package --template-file {template} --s3-bucket BUCKET "
            f"--output-template-file {packaged} && aws cloudformation deploy "
            f"--template-file {packaged} --stack-name {infra.APP_NAME}-{stage} "
            f"--capabilities {CAPABILITIES} --parameter-overrides SlackSigningSecret=... "
            "SlackBotToken=...")
