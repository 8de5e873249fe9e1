"""`python -m devkit deploy|destroy|package`: the app on AWS in one command.

deploy:
  0. the settings (the deployer's environment, else SSM: the functions' and the
     monitoring's, ALARM_EMAIL and NO_EVENTS_ALARM_HOURS), the session keys (made once
     and kept in SSM), and the dashboard built (`site.py`: it names no URL), for the
     Content-Security-Policy its headers carry; nothing is created before these pass;
  1. the stacks Chalice does not create (`infra.py`): tables, the push queue, the
     tasks queue and the (private) site bucket;
  2. `chalice deploy --stage S` through Chalice's own Python API (what its CLI runs),
     with the stacks' table names, the counts table's stream, the push queue and the
     tasks queue (URL and ARN of each), the WebSocket API's id, the public URL, the
     session keys, the stage (STAGE, the metrics' dimension: `stage_environment`) and
     the Slack settings as the functions' environment variables, and the policy
     rendered for these resources;
  3. the edge stack (`infra.provision_edge`): the CloudFront distribution in front of
     the site, the REST API and the WebSocket API, which Chalice has just created. Chalice
     learns the WebSocket API's id, and the edge stack the distribution's domain, only by
     creating them: when either was not known before this deploy (the first one), deploy
     once more with WEBSOCKET_API_ID, PUBLIC_URL and the policy's
     `execute-api:ManageConnections` naming that API (docs/architecture.md,
     "Deploying"); then the WebSocket stage's route throttling;
  3b. the monitoring stack (`monitoring.provision_monitoring`): the alarms on the
     functions Chalice deployed (`Deployed.functions`), the SNS topic they notify
     (ALARM_EMAIL subscribed to it) and the CloudWatch dashboard;
  4. the dashboard uploaded (`publish.py`); then, unless JOIN_PUBLIC_CHANNELS is off,
     `{"task": "join_all"}` on the tasks queue: `slack_tasks` joins every public channel
     (chalicelib/coverage.py), so the bot hears their reactions from the first day
     (`queue_join_all`);
  5. the dashboard URL, the Slack Request URLs (events, the slash command, interactivity)
     and redirect URL, a Slack app manifest, and what changed in it since the previous
     deploy's (`manifest.changes`): what to change in Slack (or, first, how to set it up).

destroy: the monitoring stack, the edge stack, the Chalice app, then the rest
(`infra.teardown`); the counters only when asked.

`session-keys rotate` (`rotate_session_keys`) puts a new session key first in SSM.
"""
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import sessions
from chalicelib.settings import ACCESS_MODES, SettingsError, switch

from . import infra, manifest, monitoring, policy, publish, site

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
# Secrets are never committed: the deployer's environment, or SSM Parameter Store.
SECRETS = ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
# Plain settings a deployer may pass from the shell (or SSM), e.g. SLACK_TEAM_ID.
OPTIONAL_SETTINGS = ("SLACK_TEAM_ID", "PEOPLE_BOARDS", "EXCLUDED_CHANNELS",
                     "JOIN_PUBLIC_CHANNELS", "ACCESS", "DASHBOARD_ADMINS",
                     "DIGEST_CHANNEL", "DIGEST_TZ")
# The deploy's own settings, read the same way but never handed to the functions: the
# address the alarms notify, and the hours without a counted event that raise an alarm
# (none unless set). devkit/monitoring.py checks them.
MONITORING_SETTINGS = ("ALARM_EMAIL", "NO_EVENTS_ALARM_HOURS")
# The weekly digest (`weekly_digest`, Mondays 09:00 in DIGEST_TZ): posted to
# DIGEST_CHANNEL, a channel's id (public C..., private G... or C...: a name can be
# renamed, and chat.postMessage takes the id); none without it. DIGEST_TZ: an IANA zone
# name (`zoneinfo`), UTC when unset.
CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")
DEFAULT_DIGEST_TZ = "UTC"
# What Sign in with Slack needs (ACCESS=slack, the default): the app's client id and
# secret, and the workspace its members sign in to (chalicelib/settings.py, sign_in).
SIGN_IN_SETTINGS = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_TEAM_ID")
# The keys that sign session cookies (chalicelib/sessions.py): made by the first deploy,
# kept in SSM as a SecureString (`session_keys`), never in the tree or the output.
SESSION_KEYS = "SESSION_KEYS"
HIDDEN = SECRETS + (SESSION_KEYS,)
PUBLIC_WARNING = ("WARNING: ACCESS=public: anyone with the URL sees the workspace's reactions "
                  "(unset ACCESS, or set it to slack, to require Sign in with Slack)")
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


def stage_environment(stage: str) -> dict:
    """STAGE, the Chalice stage: the dimension every metric the functions write carries
    (chalicelib/logs.stage), so the alarms and the dashboard read this stage's only."""
    return {"STAGE": stage}


def ssm_name(stage: str, variable: str) -> str:
    """/emojiboard/prod/slack-signing-secret for SLACK_SIGNING_SECRET."""
    return f"/{infra.APP_NAME}/{stage}/{variable.lower().replace('_', '-')}"


def slack_settings(stage: str, ssm, env=os.environ, echo=log.info) -> Dict[str, str]:
    """Each Slack setting from the deployer's environment, else from SSM Parameter
    Store (SecureString, decrypted here and handed to Lambda as an environment
    variable, which Lambda encrypts at rest)."""
    found = {}
    for variable in SECRETS + OPTIONAL_SETTINGS:
        value = _setting(stage, ssm, env, variable)
        if value is not None:
            found[variable] = value
        elif variable in SECRETS:
            echo(f"note: {variable} is not set (environment, or SSM parameter "
                 f"{ssm_name(stage, variable)})")
    return found


def _setting(stage: str, ssm, env, variable: str) -> Optional[str]:
    """One setting from the deployer's environment, else SSM (None: neither)."""
    if env.get(variable):
        return env[variable]
    try:
        return ssm.get_parameter(Name=ssm_name(stage, variable),
                                 WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None


def monitoring_settings(stage: str, ssm, env=os.environ) -> Tuple[Optional[str], Optional[int]]:
    """ALARM_EMAIL and NO_EVENTS_ALARM_HOURS (each None when unset), checked
    (`monitoring.checked_alarm_email`, `checked_no_events_hours`): a DeployError naming
    the setting and its SSM parameter otherwise."""
    def checked(variable, check):
        try:
            return check(_setting(stage, ssm, env, variable))
        except ValueError as error:
            raise DeployError(f"{error} (the deployer's environment, or SSM parameter "
                              f"{ssm_name(stage, variable)})") from None

    return (checked("ALARM_EMAIL", monitoring.checked_alarm_email),
            checked("NO_EVENTS_ALARM_HOURS", monitoring.checked_no_events_hours))


def access_mode(environment: Dict[str, str], stage: str) -> str:
    """ACCESS as the functions will read it: slack (the default) or public."""
    access = environment.get("ACCESS", "").strip().lower() or "slack"
    if access not in ACCESS_MODES:
        raise DeployError(f"ACCESS must be {' or '.join(ACCESS_MODES)}, not "
                          f"{environment['ACCESS']!r} (the deployer's environment, or SSM "
                          f"parameter {ssm_name(stage, 'ACCESS')})")
    return access


def digest_settings(environment: Dict[str, str], stage: str) -> Tuple[Optional[str], str]:
    """DIGEST_CHANNEL and DIGEST_TZ as the functions will read them (each stripped in
    `environment`): (the channel, or None: no digest; the zone). A DeployError naming
    the setting and its SSM parameter when the zone is unknown, or the channel is not a
    channel id."""
    where = "(the deployer's environment, or SSM parameter {})"
    zone = environment.get("DIGEST_TZ", "").strip()
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise DeployError(f"DIGEST_TZ must be an IANA time zone name such as Europe/Berlin "
                              f"or UTC, not {zone!r} "
                              + where.format(ssm_name(stage, "DIGEST_TZ"))) from None
        environment["DIGEST_TZ"] = zone
    channel = environment.get("DIGEST_CHANNEL", "").strip()
    if channel and not CHANNEL_ID.fullmatch(channel):
        raise DeployError(f"DIGEST_CHANNEL must be a Slack channel id (C0123ABCD: the channel's "
                          f"details, at the bottom of About), not {channel!r} "
                          + where.format(ssm_name(stage, "DIGEST_CHANNEL")))
    if channel:
        environment["DIGEST_CHANNEL"] = channel
    return channel or None, zone or DEFAULT_DIGEST_TZ


def _stored_keys(ssm, name: str) -> Optional[str]:
    try:
        return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None


def _checked_keys(value: str, name: str) -> str:
    try:
        sessions.Keyring.parse(value)
    except SettingsError as error:
        raise DeployError(f"SSM parameter {name}: {error} (`python -m devkit session-keys "
                          "rotate` writes a good one; everyone signs in again)") from None
    return value


def session_keys(ssm, stage: str, echo: Callable[[str], None] = print) -> str:
    """SESSION_KEYS from SSM (`/emojiboard/{stage}/session-keys`, a SecureString); the
    first deploy makes one key (`sessions.new_key`) and stores it there. Never echoed."""
    name = ssm_name(stage, SESSION_KEYS)
    value = _stored_keys(ssm, name)
    if value is None:
        try:
            ssm.put_parameter(Name=name, Value=sessions.new_key(), Type="SecureString",
                              Description="Emojiboard: the keys that sign session cookies "
                                          "(kid:secret, newest first)")
            echo(f"session keys: made one, kept in SSM parameter {name} (SecureString)")
        except ssm.exceptions.ParameterAlreadyExists:
            pass  # a deploy running alongside made it first: use that one
        value = _stored_keys(ssm, name)
    return _checked_keys(value, name)


def rotate_session_keys(ssm, stage: str) -> Tuple[str, Optional[str]]:
    """A new key first in SSM, then the one that signed until now; older keys are
    dropped, so sessions signed before this rotation stay valid (until they expire, or
    the next rotation), and sessions two rotations old stop working. The key ids (new,
    kept: None when there was no usable key), never the secrets. The functions get the
    new keys on the next deploy."""
    name = ssm_name(stage, SESSION_KEYS)
    current = _stored_keys(ssm, name)
    try:
        kept = [_checked_keys(current, name).split(",")[0].strip()] if current else []
    except DeployError:  # unreadable: replaced by a new key alone
        kept = []
    new = sessions.new_key()
    ssm.put_parameter(Name=name, Value=",".join([new] + kept), Type="SecureString",
                      Overwrite=True)
    return new.split(":", 1)[0], (kept[0].split(":", 1)[0] if kept else None)


@dataclass
class Deployed:
    rest_api_url: Optional[str] = None
    rest_api_id: Optional[str] = None
    websocket_api_url: Optional[str] = None
    websocket_api_id: Optional[str] = None
    resources: list = field(default_factory=list)
    # Chalice's name of each Lambda function (api_handler, websocket_connect,
    # counts_changed...) -> the function's name, from the ARN Chalice recorded.
    functions: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_values(cls, values: Optional[dict]) -> "Deployed":
        deployed = cls(resources=(values or {}).get("resources", []))
        for resource in deployed.resources:
            if resource.get("resource_type") == "lambda_function":
                # arn:aws:lambda:REGION:ACCOUNT:function:NAME
                deployed.functions[resource["name"]] = resource["lambda_arn"].split(":")[6]
            if resource.get("resource_type") == "rest_api":
                deployed.rest_api_url = resource["rest_api_url"]
                deployed.rest_api_id = resource["rest_api_id"]
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
    redirect_url: str
    manifest_path: Path
    site_files: Dict[str, Dict[str, str]]
    stacks: Dict[str, str]
    chalice_passes: int
    environment: Dict[str, str]
    join_all_queued: bool = False
    csp: str = ""
    commands_url: str = ""
    interactions_url: str = ""
    # What to change in the Slack app (`manifest.changes`): first-deploy steps, the
    # changes since the previous deploy's manifest, or none.
    slack_changes: list = field(default_factory=list)
    # The monitoring stack's outputs (AlarmTopicArn, CloudWatchDashboard) and the
    # CloudWatch dashboard in the console.
    monitoring: Dict[str, str] = field(default_factory=dict)
    cloudwatch_url: str = ""


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
    with tempfile.TemporaryDirectory(prefix="emojiboard-site-") as tmp:
        return _deploy(stage, session, chalice, Path(out_dir), title, workspace, env, echo,
                       Path(tmp) / "site")


def _deploy(stage, session, chalice, out_dir, title, workspace, env, echo, site_dir) -> Result:
    region = session.region_name
    # Credentials first (GetCallerIdentity needs no permission): a deploy that cannot
    # authenticate stops before it changes anything.
    account = caller_account(session)
    cfn, s3, ssm = session.client("cloudformation"), session.client("s3"), session.client("ssm")
    # The edge stack of an earlier deploy knows the public URL before Chalice runs.
    edge_before = infra.edge_outputs(cfn, stage)
    public_url = edge_before.get("PublicURL")

    # 0. What would fail the functions, or the edge, stops the deploy before it changes
    # anything: the settings, and the site's security headers (its CSP within CloudFront's
    # quota). The site names no URL (it talks to its own origin), so it is built first.
    environment = slack_settings(stage, ssm, env, echo)
    switches = {}
    for name in ("JOIN_PUBLIC_CHANNELS", "PEOPLE_BOARDS"):
        try:  # the functions would fail on it at every request
            switches[name] = switch(environment, name, True)
        except SettingsError as error:
            raise DeployError(f"{error} (the deployer's environment, or SSM parameter "
                              f"{ssm_name(stage, name)})") from None
    join_public_channels, people_boards = switches["JOIN_PUBLIC_CHANNELS"], switches["PEOPLE_BOARDS"]
    digest_channel, digest_zone = digest_settings(environment, stage)
    alarm_email, no_events_hours = monitoring_settings(stage, ssm, env)
    access = environment["ACCESS"] = access_mode(environment, stage)
    if access == "public":
        echo(PUBLIC_WARNING)
    built = site.build(site_dir, title=title, workspace=workspace, people_boards=people_boards)
    headers = site.security_headers(
        site.with_earlier_scripts(built.csp, edge_before.get("ContentSecurityPolicy")))
    try:
        infra.response_headers_config(headers)
    except ValueError as error:
        raise DeployError(str(error)) from None
    environment[SESSION_KEYS] = session_keys(ssm, stage, echo)

    # 1. What Chalice does not create.
    outputs = infra.provision(cfn, stage, echo)
    tables = {"counts": outputs["CountsTable"], "connections": outputs["ConnectionsTable"]}
    environment.update(COUNTS_TABLE=tables["counts"], CONNECTIONS_TABLE=tables["connections"])
    environment.update(fanout_environment(outputs["CountsStreamArn"], outputs["PushQueueUrl"],
                                          outputs["PushQueueArn"]))
    environment.update(tasks_environment(outputs["TasksQueueUrl"], outputs["TasksQueueArn"]))
    environment.update(stage_environment(stage))

    # 2 and 3. chalice deploy, then the edge stack; chalice deploy again when the
    # WebSocket API's id or the public URL were not known before (the first deploy).
    partition = session.get_partition_for_region(region)
    known = {"WEBSOCKET_API_ID": Deployed.recorded(chalice.project_dir, stage).websocket_api_id,
             "PUBLIC_URL": public_url}
    passes = 0

    def chalice_deploy() -> Deployed:
        nonlocal passes
        environment.update({k: v for k, v in known.items() if v})
        document = policy.render(policy_values(stage, region, account, partition, tables,
                                               known["WEBSOCKET_API_ID"]))
        unknown = [k for k, v in known.items() if not v]
        echo(f"chalice deploy --stage {stage}"
             + (f" ({', '.join(unknown)} not known yet)" if unknown
                else f" (WEBSOCKET_API_ID={known['WEBSOCKET_API_ID']})"))
        passes += 1
        return Deployed.from_values(chalice.deploy(stage, environment, document))

    deployed = chalice_deploy()
    edge_status, edge = infra.provision_edge(
        cfn, stage, region, rest_api_id=deployed.rest_api_id,
        websocket_api_id=deployed.websocket_api_id, bucket=outputs["SiteBucket"],
        bucket_domain=outputs["SiteBucketDomain"], headers=headers, echo=echo)
    found = {"WEBSOCKET_API_ID": deployed.websocket_api_id, "PUBLIC_URL": edge["PublicURL"]}
    if found != known:
        echo("; ".join(f"{k} is {v}" for k, v in found.items() if v != known[k])
             + ": deploying again so the functions can push to the dashboards and sign "
               "people in")
        known.update(found)
        deployed = chalice_deploy()
        if deployed.websocket_api_id != known["WEBSOCKET_API_ID"]:
            raise DeployError("the WebSocket API id changed during the deploy; run it again")
    throttle_websocket_stage(session.client("apigatewayv2"), deployed.websocket_api_id,
                             infra.stage_setting(stage, "api_gateway_stage"), echo)

    # 3b. The alarms on the functions Chalice has deployed, and the dashboard.
    monitoring_status, watching = monitoring.provision_monitoring(
        cfn, stage, functions=deployed.functions, alarm_email=alarm_email,
        no_events_hours=no_events_hours, echo=echo)

    # 4. The dashboard, on the origin its headers policy now describes.
    files = publish.upload(s3, outputs["SiteBucket"], site_dir)
    echo(f"uploaded {len(files)} files to s3://{outputs['SiteBucket']}")
    joining = queue_join_all(session.client("sqs"), outputs["TasksQueueUrl"],
                             join_public_channels, "SLACK_BOT_TOKEN" in environment, echo)

    # 5. What the user needs next. Slack's Request URL stays on API Gateway (README,
    # "Deploying to AWS"): Slack authenticates by signature, not by origin, and no change
    # to the distribution can stop the counting.
    public_url = known["PUBLIC_URL"]
    urls = manifest.slack_urls(deployed.rest_api_url)
    request_url = urls["request_url"]
    redirect_url = f"{public_url}{manifest.REDIRECT_PATH}"
    manifest_path = out_dir / f"slack-manifest-{stage}.json"
    earlier = manifest.read(manifest_path)
    written = manifest.manifest(redirect_url=redirect_url, **urls)
    manifest.write(manifest_path, written)
    slack_changes = manifest.changes(earlier, written)
    result = Result(dashboard_url=public_url, request_url=request_url,
                    commands_url=urls["commands_url"], interactions_url=urls["interactions_url"],
                    slack_changes=slack_changes,
                    redirect_url=redirect_url, manifest_path=manifest_path, site_files=files,
                    stacks={**outputs["_status"], infra.edge_stack_name(stage): edge_status,
                            infra.monitoring_stack_name(stage): monitoring_status},
                    chalice_passes=passes,
                    environment={k: ("(set)" if k in HIDDEN else v)
                                 for k, v in environment.items()},
                    join_all_queued=joining, csp=headers["Content-Security-Policy"],
                    monitoring=watching, cloudwatch_url=monitoring.dashboard_url(
                        region, watching["CloudWatchDashboard"], partition))
    echo("")
    echo(f"Dashboard:          {result.dashboard_url}")
    echo(f"Slack Request URL:  {result.request_url}")
    echo(f"Slash command URL:  {result.commands_url}")
    echo(f"Interactivity URL:  {result.interactions_url}")
    echo(f"Slack redirect URL: {result.redirect_url}")
    echo(f"Slack app manifest: {manifest_path} (paste it at https://api.slack.com/apps -> "
         "Create New App -> From an app manifest)")
    echo("Weekly digest:      " + (f"{digest_channel}, Mondays 09:00 {digest_zone}"
                                   if digest_channel else "off (no DIGEST_CHANNEL)"))
    echo(f"CloudWatch:         {result.cloudwatch_url}")
    for line in alarm_lines(stage, watching["AlarmTopicArn"], alarm_email, no_events_hours):
        echo(line)
    if earlier is None:
        echo("In Slack (no earlier manifest in dist/: a first deploy from this clone):")
    elif slack_changes:
        echo(f"In Slack, since the last deploy's manifest (all at once: paste {manifest_path} "
             "at the app's App Manifest page, then reinstall if scopes are new):")
    else:
        echo("In Slack: nothing to change since the last deploy's manifest")
    for line in slack_changes:
        echo(f"  - {line}")
    needed = SECRETS + (("SLACK_TEAM_ID",) if access == "slack" else ())
    missing = [s for s in needed if s not in environment
               and (access == "slack" or s not in SIGN_IN_SETTINGS)]
    if missing:
        echo("Next: put the Slack app's " + ", ".join(missing) + " in SSM ("
             + ", ".join(ssm_name(stage, s) for s in missing)
             + f") and run `make deploy STAGE={stage}` again (README, Deploying to AWS)"
             + (". Sign in with Slack (ACCESS=slack, the default) needs "
                + ", ".join(SIGN_IN_SETTINGS) + "; until then nobody can sign in"
                if set(missing) & set(SIGN_IN_SETTINGS) else "") + ".")
    if access == "public":
        echo(PUBLIC_WARNING)
    return result


def alarm_lines(stage: str, topic_arn: str, alarm_email: Optional[str],
                no_events_hours: Optional[int]) -> list:
    """Where the alarms go, and what the address must do first."""
    where = (f"{alarm_email} must confirm the subscription: SNS has mailed it a link "
             "(\"AWS Notification - Subscription Confirmation\"), and nothing reaches it "
             "before it is followed" if alarm_email else
             "nobody is subscribed (set ALARM_EMAIL, or subscribe to the topic)")
    quiet = (f"after {no_events_hours} hours without a counted event" if no_events_hours
             else "off (NO_EVENTS_ALARM_HOURS sets the hours)")
    return [f"Alarms:             {monitoring.alarm_prefix(stage)}*, to SNS topic {topic_arn}",
            f"  - {where}",
            f"  - the no-events alarm: {quiet}"]


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
    """The monitoring stack (alarms on functions about to go), the edge stack (the
    distribution), then the Chalice app, the site and the app stack; the counters only
    with delete_data. Writes nothing when there is nothing to delete, or when it cannot
    authenticate."""
    caller_account(session)
    cfn = session.client("cloudformation")
    monitoring.delete_monitoring(cfn, stage, echo)
    infra.delete_edge(cfn, stage, echo)
    if Deployed.recorded(chalice.project_dir, stage).resources:
        echo(f"chalice delete --stage {stage}")
        chalice.delete(stage)
    else:
        # Chalice's delete would record an empty .chalice/deployed/{stage}.json.
        echo(f"no Chalice app recorded for stage {stage} (.chalice/deployed/{stage}.json): "
             "nothing to delete there")
    infra.teardown(cfn, session.client("s3"), session.client("dynamodb"), stage, delete_data,
                   echo)


# ---- chalice package --merge-template ------------------------------------------

PACKAGE_PARAMETERS = {
    "SlackSigningSecret": ("SLACK_SIGNING_SECRET", "The Slack app's signing secret", True),
    "SlackBotToken": ("SLACK_BOT_TOKEN", "The Slack app's bot token (xoxb-...), for custom emoji", True),
    "SlackClientId": ("SLACK_CLIENT_ID", "The Slack app's client id, for Sign in with Slack (Access slack)", True),
    "SlackClientSecret": ("SLACK_CLIENT_SECRET", "The Slack app's client secret, for Sign in with Slack (Access slack)", True),
    "SlackTeamId": ("SLACK_TEAM_ID", "Count only this workspace (empty: any); with Access slack, the workspace whose members sign in (needed)", False),
    "Access": ("ACCESS", "slack (empty: slack): members of the workspace sign in with Slack; public: anyone with the URL sees the workspace's reactions", False),
    "DashboardAdmins": ("DASHBOARD_ADMINS", "Slack user ids who may manage screen links besides the workspace's admins, comma-separated", False),
    "SessionKeys": ("SESSION_KEYS", "The keys that sign session cookies: kid:secret, newest first (README, Deploying to AWS)", True),
    "PublicUrl": ("PUBLIC_URL", "This stack's DashboardURL output (empty on the first deploy; deploy again with it: Sign in with Slack's redirect URI)", False),
    "PeopleBoards": ("PEOPLE_BOARDS", "on or off: the givers and receivers boards (empty: on)", False),
    "ExcludedChannels": ("EXCLUDED_CHANNELS", "Channel ids whose reactions count nowhere, comma-separated", False),
    "JoinPublicChannels": ("JOIN_PUBLIC_CHANNELS", "on or off: join every public channel (empty: on)", False),
    "DigestChannel": ("DIGEST_CHANNEL", "The channel id (C0123ABCD) the weekly digest is posted to, Mondays 09:00 in DigestTz (empty: no digest)", False),
    "DigestTz": ("DIGEST_TZ", "The weekly digest's IANA time zone, e.g. Europe/Berlin (empty: UTC)", False),
}
PARAMETER_VALUES = {"Access": ["", "slack", "public"]}
# What `digest_settings` checks in a deploy, as far as a parameter can: a channel id.
PARAMETER_PATTERNS = {"DigestChannel": f"^({CHANNEL_ID.pattern})?$"}
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


def site_headers() -> Dict[str, str]:
    """The security headers of the site this tree builds (its CSP names the build's
    import map by hash; the same files build the same CSP)."""
    with tempfile.TemporaryDirectory(prefix="emojiboard-site-") as tmp:
        return site.security_headers(site.build(Path(tmp) / "site").csp)


def merge_template(stage: str, chalice_template: dict,
                   headers: Optional[Dict[str, str]] = None) -> dict:
    """The resources of the four stacks, and what ties Chalice's functions to them:
    each function's environment (Refs to the tables, the queues, the WebSocket API and
    the parameters, and STAGE), the event sources (the counts table's stream; each queue
    handler's own queue, QUEUE_OF_HANDLER), each function role's policy (the hand-written
    one, `Fn::Sub`), the edge's distribution in front of Chalice's `RestAPI` and
    `WebsocketAPI` with `headers` (the site's, `site_headers`, by default), and the
    monitoring (`monitoring.package_parts`: alarms on these functions, ALARM_EMAIL and
    NO_EVENTS_ALARM_HOURS as parameters).

    PUBLIC_URL is a parameter, not the distribution's domain: the distribution names the
    REST API, whose definition names the API handler function, so the function's
    environment cannot name the distribution (a circular dependency)."""
    try:
        edge = infra.edge_resources(
            stage, names={"Ref": "AWS::StackName"}, rest_api_id={"Ref": "RestAPI"},
            websocket_api_id={"Ref": "WebsocketAPI"}, bucket={"Ref": "SiteBucket"},
            bucket_domain={"Fn::GetAtt": ["SiteBucket", "RegionalDomainName"]},
            headers=site_headers() if headers is None else headers)
    except ValueError as error:
        raise DeployError(str(error)) from None
    resources = {**infra.data_resources(stage), **infra.app_resources(stage), **edge}
    variables = {name: {"Ref": param} for param, (name, _, _) in PACKAGE_PARAMETERS.items()}
    variables.update(COUNTS_TABLE={"Ref": "CountsTable"},
                     CONNECTIONS_TABLE={"Ref": "ConnectionsTable"},
                     WEBSOCKET_API_ID={"Ref": "WebsocketAPI"})
    counts_stream = {"Fn::GetAtt": ["CountsTable", "StreamArn"]}
    queue_arns = {queue: {"Fn::GetAtt": [queue, "Arn"]} for queue in QUEUE_OF_HANDLER.values()}
    variables.update(fanout_environment(counts_stream, {"Ref": "PushQueue"},
                                        queue_arns["PushQueue"]))
    variables.update(tasks_environment({"Ref": "TasksQueue"}, queue_arns["TasksQueue"]))
    variables.update(stage_environment(stage))
    document = policy.as_cloudformation({
        "WebsocketStage": infra.stage_setting(stage, "WEBSOCKET_STAGE"),
        # In Fn::Sub `${PushQueue}` would be its Ref, the URL: the policy names the queue.
        "PushQueueName": {"Fn::GetAtt": ["PushQueue", "QueueName"]},
        "TasksQueueName": {"Fn::GetAtt": ["TasksQueue", "QueueName"]},
        "AppName": infra.APP_NAME, "Stage": stage})
    functions = {}  # as Deployed.functions: the HTTP function is Chalice's api_handler
    for logical_id, resource in chalice_template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        # The names `chalice deploy` gives them, which the policy's log groups name.
        handler = resource["Properties"]["Handler"].split(".", 1)[1]
        name = f"{infra.APP_NAME}-{stage}" + ("" if handler == "app" else f"-{handler}")
        functions["api_handler" if handler == "app" else handler] = name
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
    watching = monitoring.package_parts(stage, functions)
    clashes = set(watching["Resources"]) & (set(chalice_template["Resources"]) | set(resources)) \
        | set(watching["Parameters"]) & set(PACKAGE_PARAMETERS)
    if clashes:
        raise DeployError(f"the monitoring's logical ids {', '.join(sorted(clashes))} are "
                          "also Chalice's or the template's: rename them (devkit/monitoring.py)")
    resources.update(watching["Resources"])
    return {
        "Parameters": {**{param: {"Type": "String", "Default": "", "Description": text,
                                  **({"NoEcho": True} if secret else {}),
                                  **({"AllowedValues": PARAMETER_VALUES[param]}
                                     if param in PARAMETER_VALUES else {}),
                                  **({"AllowedPattern": PARAMETER_PATTERNS[param]}
                                     if param in PARAMETER_PATTERNS else {})}
                          for param, (_, text, secret) in PACKAGE_PARAMETERS.items()},
                       **watching["Parameters"]},
        "Conditions": watching["Conditions"],
        "Resources": resources,
        "Outputs": {
            **watching["Outputs"],
            "DashboardURL": infra.EDGE_OUTPUTS["PublicURL"],
            "DistributionId": infra.EDGE_OUTPUTS["DistributionId"],
            "SlackRedirectURL": {"Value": {"Fn::Sub": "https://${SiteDistribution.DomainName}"
                                                      + manifest.REDIRECT_PATH}},
            "SiteBucket": {"Value": {"Ref": "SiteBucket"}},
            **{output: {"Value": {"Fn::Sub": "https://${RestAPI}.execute-api."
                                             "${AWS::Region}.${AWS::URLSuffix}/%s%s"
                                             % (infra.stage_setting(stage, "api_gateway_stage"),
                                                path)}}
               for output, path in (("SlackRequestURL", manifest.EVENTS_PATH),
                                    ("SlackCommandsURL", manifest.COMMANDS_PATH),
                                    ("SlackInteractivityURL", manifest.INTERACTIONS_PATH))},
        },
    }


def package(stage: str, out_dir: Path, project_dir: Path = ROOT,
            region: str = "us-east-1") -> Path:
    """`chalice package --merge-template` for `stage` into `out_dir`; the path of the
    one template (sam.json) that deploys the whole app with CloudFormation. The site
    whose CSP the template's headers policy carries is built into `out_dir/site`."""
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
        built = site.build(Path(tmp) / "site")
        plain = Path(tmp) / "plain"
        _chalice_cli(["package", "--stage", stage, str(plain)], project_dir, region, settings)
        chalice_template = json.loads((plain / "sam.json").read_text())
        merge_path = Path(tmp) / "resources.json"
        merge_path.write_text(json.dumps(merge_template(
            stage, chalice_template, site.security_headers(built.csp)), indent=1))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        _chalice_cli(["package", "--stage", stage, "--merge-template", str(merge_path),
                      str(out_dir)], project_dir, region, settings)
        shutil.copytree(built.index.parent, out_dir / "site")
    return out_dir / "sam.json"


def cloudformation_commands(stage: str, template: Path) -> str:
    """How to deploy the packaged template with the AWS CLI (README says the same)."""
    packaged = Path(template).parent / "packaged.yaml"
    built = Path(template).parent / "site"
    return (f"aws cloudformation package --template-file {template} --s3-bucket BUCKET "
            f"--output-template-file {packaged} && aws cloudformation deploy "
            f"--template-file {packaged} --stack-name {infra.APP_NAME}-{stage} "
            f"--capabilities {CAPABILITIES} --parameter-overrides SlackSigningSecret=... "
            "SlackBotToken=... SlackClientId=... SlackClientSecret=... SlackTeamId=... "
            "SessionKeys=...; then the same deploy with --parameter-overrides "
            "PublicUrl=<its output DashboardURL>, and python -m devkit site upload --dir "
            f"{built} --bucket <its output SiteBucket>")
