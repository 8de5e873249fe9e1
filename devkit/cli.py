"""`python -m devkit ...`: the local stack, the Slack simulator, the AWS deploy.

Errors a user can act on (no AWS credentials, an unknown profile, an expired token,
AWS refusing a call, Chalice failing) are turned into one line, `Error: ...`, in one
place: `Commands.invoke`. Anything else is a bug and keeps its traceback."""
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import click
from botocore import exceptions as aws_errors

from . import bench as bench_module, dynamodb, simulate, site
from .stack import LOCAL_SECRET, LocalStack, PortInUse, StartError

DEFAULT_DATA_DIR = Path(".data") / "dynamodb"
CONTEXT = {"help_option_names": ["-h", "--help"]}  # subcommands inherit it
DEPLOY_DOCS = "see README, 'Deploying to AWS'"
EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
REJECTED = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
            "InvalidAccessKeyId", "AuthFailure", "InvalidSignatureException"}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


def _user_errors() -> tuple:
    """What a user can act on, as opposed to a bug."""
    from chalice.awsclient import AWSClientError
    from chalice.deploy import packager
    from chalice.deploy.appgraph import ChaliceBuildError
    from chalice.deploy.deployer import ChaliceDeploymentError
    from chalice.deploy.validate import ExperimentalFeatureError
    return (aws_errors.BotoCoreError, aws_errors.ClientError, ChaliceDeploymentError,
            AWSClientError, ChaliceBuildError, ExperimentalFeatureError,
            packager.MissingDependencyError, packager.NoSuchPackageError,
            packager.PackageDownloadError, packager.EmptyPackageError,
            packager.UnsupportedPackageError,
            # Ours (deploy.DeployError) and Chalice's (a missing policy file...).
            RuntimeError)


def explain(error: Exception) -> str:
    """One line that says what went wrong and what to do."""
    original = getattr(error, "original_error", None)  # Chalice wraps botocore's errors
    if isinstance(original, Exception):
        return explain(original)
    if isinstance(error, aws_errors.NoCredentialsError):
        return ("no AWS credentials found: set AWS_PROFILE (or pass --profile) or run "
                f"`aws configure`; {DEPLOY_DOCS}")
    if isinstance(error, aws_errors.ProfileNotFound):
        return (f"AWS profile {error.kwargs.get('profile')!r} not found in ~/.aws/config or "
                "~/.aws/credentials: pass one that `aws configure list-profiles` lists")
    if isinstance(error, aws_errors.NoRegionError):
        return "no AWS region: pass --region, set AWS_REGION, or give the profile a region"
    if isinstance(error, (aws_errors.SSOError, aws_errors.TokenRetrievalError)):
        return f"{error}: run `aws sso login` (with the same profile) and try again"
    if isinstance(error, aws_errors.EndpointConnectionError):
        return (f"cannot reach AWS at {error.kwargs.get('endpoint_url')}: check the network "
                "and the region")
    if isinstance(error, aws_errors.ClientError):
        details = error.response.get("Error", {})
        code, message = details.get("Code", "?"), details.get("Message", "")
        what = f"{error.operation_name} answered {code}"
        if code in EXPIRED:
            return (f"the AWS credentials have expired ({what}): refresh them (a new session, "
                    "or `aws sso login`) and run again")
        if code in REJECTED:
            return f"AWS does not accept these credentials ({what}: {message}); {DEPLOY_DOCS}"
        if code in DENIED:
            return (f"AWS denied {error.operation_name} ({code}): {message}; the deploying "
                    f"identity needs the permissions in README, 'Deploying to AWS'")
        return f"AWS {what}: {message}"
    if isinstance(error, aws_errors.WaiterError):
        return f"{error} (the stack's events in the CloudFormation console say why)"
    return str(error)


class Commands(click.Group):
    """The CLI boundary: a user's error becomes click's one `Error: ...` line."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as error:
            # click's own Exit and Abort are RuntimeErrors too.
            if not isinstance(error, _user_errors()) or isinstance(
                    error, (click.exceptions.Exit, click.exceptions.Abort,
                            NotImplementedError, RecursionError)):
                raise
            raise click.ClickException(" ".join(explain(error).split())) from None


class UsageLine(click.ClickException):
    """A usage error (an unknown --stage, missing options) in one line; exit code 2 as
    for click's own usage errors."""
    exit_code = 2


def _stage(ctx, param, value):
    from . import infra
    if value not in infra.stages():
        raise UsageLine(f"Invalid value for '--stage': {value!r} is not a stage of "
                         f".chalice/config.json ({', '.join(infra.stages())})")
    return value


def _help_without_command(ctx) -> None:
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(0)


@click.group(cls=Commands, context_settings=CONTEXT, invoke_without_command=True)
@click.pass_context
def main(ctx):
    """Emojiboard developer kit."""
    _help_without_command(ctx)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("botocore", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--demo/--no-demo", default=False, show_default=True,
              help="Send simulated, signed Slack reaction events.")
@click.option("--demo-rate", default=2.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Demo events per second.")
@click.option("--dynamodb", "dynamodb_choice", default="local", show_default=True,
              help="local (DynamoDB Local, data in .data/), moto (in memory), or a URL.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_DATA_DIR, show_default=True,
              help="Where DynamoDB Local keeps its data.")
@click.option("--team-id", default=None, envvar="SLACK_TEAM_ID",
              help="Count only this workspace's events (env SLACK_TEAM_ID).")
@click.option("--pushers", default=1, show_default=True, type=click.IntRange(1, 16),
              help="Pusher processes fed by the push queue, as Lambda runs push_shard.")
@click.option("--shard-size", default=None, type=click.IntRange(min=1), envvar="FANOUT_SHARD_SIZE",
              help="Dashboards per shard: beyond it the fan-out queues shards for the "
                   "pushers (default 500; env FANOUT_SHARD_SIZE).")
@click.option("--slack-workspace", "slack_workspace", metavar="FILE", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Serve this workspace (Slack's response shapes, see devkit/slack_api.py) "
                   "instead of the demo one")
@click.option("--import-history", "import_days", default=0, show_default=True,
              type=click.IntRange(0, 90), metavar="DAYS",
              help="On first start (no import yet), import this many days of the Slack "
                   "workspace's history (0: none).")
@click.option("--access", type=click.Choice(["slack", "public"]), default="slack",
              envvar="ACCESS", show_default=True,
              help="slack: sign in with Slack (the stand-in's members) or a screen link; "
                   "public: anyone who can reach the port sees the boards.")
def serve(host, port, demo, demo_rate, dynamodb_choice, data_dir, team_id, pushers, shard_size,
          slack_workspace, import_days, access):
    """Run the whole app on one port: API, WebSocket, Management API, dashboard."""
    _stop_on_signals()
    try:
        stack = LocalStack(host=host, port=port, dynamodb_choice=dynamodb_choice, data_dir=data_dir,
                           team_id=team_id, pushers=pushers, shard_size=shard_size,
                           slack_workspace=slack_workspace, access=access)
    except ValueError as error:  # a --slack-workspace file that is not a workspace
        raise click.ClickException(str(error)) from None
    try:
        stack.start()  # on any failure it has stopped what it started, children included
    except PortInUse as error:
        raise click.ClickException(f"{error}; try PORT={port + 1} make run "
                                   f"(or --port {port + 1})") from None
    except StartError as error:
        raise click.ClickException(str(error)) from None
    except KeyboardInterrupt:
        click.echo("\nStopped while starting.")
        return
    stop = threading.Event()
    try:
        click.echo(f"DynamoDB:  {stack.dynamodb_url}")
        secret = "from SLACK_SIGNING_SECRET" if stack.secret != LOCAL_SECRET else stack.secret
        click.echo(f"Slack Request URL: {stack.url}/slack/events (signing secret: {secret})")
        click.echo(f"Dashboard: {stack.url}" + (
            " (sign in as any member of the stand-in's workspace)" if access == "slack"
            else " (ACCESS=public: no sign-in)"))
        m = stack.stream_poller.mapping
        click.echo(f"Fan-out:   the counts table's stream, batches of up to {m.batch_size} "
                   f"records, {m.batching_window_s:g} s window; {stack.pushers} pusher "
                   f"process{'es' if stack.pushers > 1 else ''} on the push queue")
        click.echo(f"App logs:  {stack.logs.directory} (JSON lines, with their metrics); "
                   f"is it working? python -m devkit status --local {stack.url}")
        if import_days:
            _first_start_import(stack, import_days)
        if demo:
            threading.Thread(target=simulate.send, daemon=True, kwargs=dict(
                url=f"{stack.url}/slack/events", secret=stack.secret, rate=demo_rate,
                count=None, team_id=os.environ.get("SLACK_TEAM_ID") or "T0DEMO", stop=stop, echo=click.echo)).start()
            click.echo(f"Demo: sending {demo_rate:g} signed reaction events per second")
        click.echo("Press Ctrl-C to stop.")
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("\nStopping...")
    finally:
        stop.set()
        stack.stop()


def _first_start_import(stack: LocalStack, days: int) -> None:
    """Import the workspace's history unless an import has run (or runs) here."""
    from . import importer
    target = importer.Target.local(stack.url)
    if target.status()["state"] != "idle":
        return
    importer.request(target, days, click.echo)
    click.echo(f"History: importing the last {days} days of the Slack workspace; follow it "
               f"with python -m devkit history import --local {stack.url}")


def _stop_on_signals() -> None:
    """`kill` (SIGTERM) stops the stack as Ctrl-C does, children included; and Ctrl-C
    works even where a shell started us in the background with SIGINT ignored. Only the
    first signal interrupts: a second one while stopping must not cut the stop short and
    leave DynamoDB's child behind (it exits by itself anyway if we die: devkit/dynamodb.py)."""
    interrupted = []

    def interrupt(signum, frame):
        if not interrupted:
            interrupted.append(signum)
            raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


@main.command("simulate")
@click.option("--url", required=True, help="The Slack Request URL, e.g. http://127.0.0.1:8000/slack/events")
@click.option("--secret", required=True, envvar="SLACK_SIGNING_SECRET",
              help="The app's Slack signing secret.")
@click.option("--rate", default=5.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Events per second.")
@click.option("--count", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--team-id", default="T0DEMO", show_default=True, envvar="SLACK_TEAM_ID",
              help="The workspace the events come from: a deployment pinned to a workspace "
                   "(serve --team-id, SLACK_TEAM_ID) counts only its own (env SLACK_TEAM_ID).")
def simulate_command(url, secret, rate, count, team_id):
    """Send signed reaction_added / reaction_removed events to any deployment, and say
    what the route did with them (counted, duplicate, ignored...)."""
    started = time.monotonic()
    outcomes = simulate.send(url, secret, rate, count, team_id=team_id, echo=click.echo)
    elapsed = time.monotonic() - started
    summary = ", ".join(f"{n} x {simulate.describe(outcome)}"
                        for outcome, n in sorted(outcomes.items()))
    click.echo(f"sent {count} events in {elapsed:.1f} s ({count / elapsed:.0f}/s, one at a time): "
               f"{summary}")
    if set(outcomes) - simulate.APPLIED:
        raise SystemExit(1)


@main.group("site", cls=Commands, invoke_without_command=True)
@click.pass_context
def site_group(ctx):
    """The dashboard as a static site."""
    _help_without_command(ctx)


@site_group.command("build")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write the site into (new, empty, or an earlier build).")
@click.option("--title", default="Emojiboard", show_default=True)
@click.option("--workspace", default="", help="The workspace name shown under the title.")
@click.option("--people-boards", type=click.Choice(["on", "off"]), default="on",
              envvar="PEOPLE_BOARDS", show_default=True,
              help="off: no People view or person filters (as the app's PEOPLE_BOARDS).")
def site_build(out_dir, title, workspace, people_boards):
    """Render frontend/ into a static site, served on the app's own origin (it calls
    /api/… and /ws there) with the Content-Security-Policy it prints as a header."""
    try:
        built = site.build(out_dir, title=title, workspace=workspace, people_boards=people_boards)
    except site.SiteError as error:
        raise click.UsageError(str(error)) from None
    files = sorted(p.name for p in built.index.parent.iterdir() if not p.name.startswith("."))
    click.echo(f"built {len(files)} files into {built.index.parent}: {', '.join(files)}")
    click.echo(f"Content-Security-Policy: {built.csp}")


@site_group.command("upload")
@click.option("--dir", "site_dir", required=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="A site built with `site build`.")
@click.option("--bucket", required=True, help="The site bucket (the stack output SiteBucket).")
@click.option("--profile", default=None)
@click.option("--region", default=None)
def site_upload(site_dir, bucket, profile, region):
    """Upload a built site to S3 with its Content-Type and Cache-Control headers."""
    import boto3

    from . import publish
    s3 = boto3.session.Session(profile_name=profile, region_name=region).client("s3")
    uploaded = publish.upload(s3, bucket, site_dir)
    click.echo(f"uploaded {len(uploaded)} files to s3://{bucket}")


@main.command()
@click.option("--only", multiple=True, default=bench_module.FIGURES,
              type=click.Choice(bench_module.FIGURES), show_default=True,
              help="Which figures to measure (repeat the option for several).")
@click.option("--runs", default=3, show_default=True, type=click.IntRange(1, 50),
              help="Repeats of each measurement; figures are medians.")
@click.option("--events", default=300, show_default=True, type=click.IntRange(10),
              help="Events per ingest run.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--dashboards", default="100,1000", show_default=True,
              help="Open dashboards for the fan-out latency, comma-separated.")
@click.option("--burst-rate", default=100.0, show_default=True, type=click.FloatRange(1))
@click.option("--burst-seconds", default=5.0, show_default=True, type=click.FloatRange(1))
@click.option("--burst-dashboards", default=200, show_default=True, type=click.IntRange(1))
@click.option("--pusher-dashboards", default=2000, show_default=True, type=click.IntRange(2),
              help="Dashboards for the 1 vs 2 pusher processes comparison.")
@click.option("--shard-size", default=250, show_default=True, type=click.IntRange(1),
              help="Shard size for the pushers comparison.")
@click.option("--storm-dashboards", default=1000, show_default=True, type=click.IntRange(1))
def bench(only, runs, events, concurrency, dashboards, burst_rate, burst_seconds,
          burst_dashboards, pusher_dashboards, shard_size, storm_dashboards):
    """Measure the local stack: ingest overhead, fan-out latency, a burst, pushers,
    a reconnect storm, per-push CPU, cold start; comparisons side by side."""
    try:
        sizes = [int(n) for n in dashboards.split(",")]
    except ValueError:
        raise click.BadParameter("a comma-separated list of numbers", param_hint="--dashboards")
    if dynamodb.why_not_local():
        raise click.ClickException(f"the bench needs DynamoDB Local: {dynamodb.why_not_local()}")
    bench_module.run(list(only), runs, events, concurrency, sizes, burst_rate, burst_seconds,
                     burst_dashboards, pusher_dashboards, shard_size, storm_dashboards)


# ---- history --------------------------------------------------------------------

def _local_or_stage(command):
    """--local URL or --stage S (with --profile, --region): a local stack or a deployed
    stage, for the commands that read either."""
    for option in reversed((
            click.option("--local", "local_url", default=None, metavar="URL",
                         help="The local stack (python -m devkit serve), e.g. "
                              "http://127.0.0.1:8000."),
            click.option("--stage", default=None,
                         callback=lambda ctx, p, v: v and _stage(ctx, p, v),
                         help="A deployed Chalice stage in .chalice/config.json."),
            click.option("--profile", default=None,
                         help="AWS profile (else the default credentials)."),
            click.option("--region", default=None,
                         help="AWS region (else the profile's / AWS_REGION)."))):
        command = option(command)
    return command


@main.group("history", cls=Commands, invoke_without_command=True)
@click.pass_context
def history_group(ctx):
    """Import the reactions of the workspace's past messages."""
    _help_without_command(ctx)


@history_group.command("import")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 90),
              help="How far back to go (at most 90 days).")
@_local_or_stage
def history_import(days, local_url, stage, profile, region):
    """Import N days of reactions in the deployment, showing progress until done.
    Ctrl-C stops following, not the import; running it again follows it again."""
    from . import importer
    if bool(local_url) == bool(stage):
        raise UsageLine("pass one of --stage STAGE or --local URL")
    if local_url:
        target = importer.Target.local(local_url)
    else:
        session, _ = _aws(stage, profile, region)
        target = importer.Target.deployed(stage, session)
    try:
        job = importer.request(target, days, click.echo)
        status = importer.follow(target, job, click.echo)
    except KeyboardInterrupt:
        click.echo("\nStopped following; the import goes on in the deployment. Run the "
                   "command again to follow it.")
        sys.exit(130)
    except importer.HistoryImportError as error:
        raise click.ClickException(str(error)) from None
    if status["state"] == "failed":
        raise click.ClickException(f"the import failed: {status.get('error', 'no reason given')}")
    click.echo(f"Imported {status['reactions_imported']:,} reactions from "
               f"{status['channels_done']} channels, back to {status['oldest']}.")


# ---- AWS ------------------------------------------------------------------------

def _aws(stage, profile, region):
    import boto3

    from . import deploy as deploy_module
    session = boto3.session.Session(profile_name=profile, region_name=region)
    if not session.region_name:
        raise aws_errors.NoRegionError()
    return session, deploy_module.Chalice(profile=profile, region=session.region_name)


def _aws_options(command):
    command = click.option("--region", default=None, help="AWS region (else the profile's / AWS_REGION).")(command)
    command = click.option("--profile", default=None, help="AWS profile (else the default credentials).")(command)
    return click.option("--stage", default="dev", show_default=True, callback=_stage,
                        help="Chalice stage in .chalice/config.json.")(command)


@main.command("deploy")
@_aws_options
@click.option("--title", default="Emojiboard", show_default=True, help="The dashboard's title.")
@click.option("--workspace", default="", help="The workspace's name, shown on the dashboard.")
def deploy_command(stage, profile, region, title, workspace):
    """Deploy to AWS: tables and site bucket, the Chalice app, the CloudFront
    distribution (one HTTPS origin), the dashboard, and a Slack app manifest."""
    from . import deploy as deploy_module
    session, chalice = _aws(stage, profile, region)
    deploy_module.deploy(stage, session, chalice, title=title, workspace=workspace,
                         echo=click.echo)


@main.command("destroy")
@_aws_options
@click.option("--delete-data", is_flag=True, help="Also delete the counters (kept by default).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def destroy_command(stage, profile, region, delete_data, yes):
    """Remove the alarms, the distribution, the Chalice app, the site and the app stack;
    the counters stay unless --delete-data."""
    from . import deploy as deploy_module, infra
    session, chalice = _aws(stage, profile, region)
    what = (f"the alarms and CloudWatch dashboard (stack {infra.monitoring_stack_name(stage)}), "
            f"the CloudFront distribution (stack {infra.edge_stack_name(stage)}), the Chalice "
            f"app (stage {stage}), the dashboard site and stack "
            f"{infra.stack_names(stage)['app']} in {session.region_name}")
    if delete_data:
        what += f", AND the counters (table {infra.table_names(stage)['counts']})"
    if not yes:
        click.confirm(f"Delete {what}?", abort=True)
    deploy_module.destroy(stage, session, chalice, delete_data=delete_data, echo=click.echo)


@main.command("package")
@click.option("--stage", default="dev", show_default=True, callback=_stage,
              help="Chalice stage in .chalice/config.json.")
@click.option("--out", "out_dir", default="dist/cloudformation", show_default=True,
              type=click.Path(file_okay=False, path_type=Path))
def package_command(stage, out_dir):
    """`chalice package --merge-template`: one template (sam.json) for the whole app."""
    from . import deploy as deploy_module
    template = deploy_module.package(stage, out_dir)
    click.echo(f"Template: {template}\nDeploy it with: "
               + deploy_module.cloudformation_commands(stage, template))


@main.command("policy")
def policy_command():
    """Rewrite .chalice/policy-{stage}.json (what a bare `chalice deploy|package` uses)
    from .chalice/policy-template.json, for every stage."""
    from . import policy
    for path in policy.write_committed():
        click.echo(f"wrote {path}")


# ---- status: is it working? --------------------------------------------------------

@main.command("status")
@_local_or_stage
def status_command(local_url, stage, profile, region):
    """Is it working? The last event counted, events in the last hour and day, the
    refused and 5xx rates, dashboards open, the fan-out's p95 latency, the alarms in
    alarm and the history import. Exits 1 when something needs attention."""
    from . import deploy as deploy_module, status
    if bool(local_url) == bool(stage):
        raise UsageLine("pass one of --stage STAGE or --local URL")
    try:
        if local_url:
            report = status.local(local_url)
        else:
            session, _ = _aws(stage, profile, region)
            deploy_module.caller_account(session)  # no credentials: one line, first
            report = status.deployed(stage, session)
    except status.StatusError as error:
        raise click.ClickException(str(error)) from None
    click.echo(status.render(report))
    if report.verdict().startswith("NEEDS ATTENTION"):
        sys.exit(1)


# ---- session keys -----------------------------------------------------------------

@main.group("session-keys", cls=Commands, invoke_without_command=True)
@click.pass_context
def session_keys_group(ctx):
    """The keys that sign the dashboard's session cookies (SSM, per stage)."""
    _help_without_command(ctx)


@session_keys_group.command("rotate")
@_aws_options
def session_keys_rotate(stage, profile, region):
    """Put a new session key first in SSM and keep only the previous one: sessions
    signed before stay valid until they expire, older ones end. Takes effect with the
    next deploy. Prints key ids, never keys."""
    from . import deploy as deploy_module
    session, _ = _aws(stage, profile, region)
    deploy_module.caller_account(session)
    new, kept = deploy_module.rotate_session_keys(session.client("ssm"), stage)
    name = deploy_module.ssm_name(stage, deploy_module.SESSION_KEYS)
    click.echo(f"{name}: new key {new} signs from the next deploy"
               + (f"; key {kept} still verifies the sessions it signed" if kept
                  else " (there was no usable key before)")
               + "; any older key is gone.")
    click.echo(f"Next: make deploy STAGE={stage}"
               + (f" REGION={session.region_name}" if region else "")
               + (f" PROFILE={profile}" if profile else ""))


# ---- slash: the app's /emojiboard command, as Slack sends it ----------------------------

@main.command("slash")
@click.option("--url", required=True,
              help="The slash command's Request URL, e.g. http://127.0.0.1:8000/slack/commands")
@click.option("--secret", required=True, envvar="SLACK_SIGNING_SECRET",
              help="The app's Slack signing secret (env SLACK_SIGNING_SECRET).")
@click.option("--user", default="UDEMOADA", show_default=True, help="Who types the command.")
@click.option("--channel", default="CDEMOGENERAL", show_default=True, help="Where it is typed.")
@click.option("--team-id", default="T0DEMO", show_default=True, envvar="SLACK_TEAM_ID",
              help="The workspace it comes from (env SLACK_TEAM_ID).")
@click.argument("text", nargs=-1)
def slash_command(url, secret, user, channel, team_id, text):
    """POST a signed `/emojiboard TEXT` (as Slack sends a slash command) and print the
    app's reply as text. TEXT may start with the command itself: "/emojiboard 7d"."""
    from . import blockkit
    import requests
    words = " ".join(text).strip()
    command = "/emojiboard"
    if words.startswith("/"):
        command, _, words = words.partition(" ")
    try:
        response = simulate.post_slash(url, secret, words.strip(), user=user, channel=channel,
                                       team_id=team_id, command=command)
    except requests.ConnectionError:
        raise click.ClickException(f"cannot connect to {url}: is the app running there "
                                   "(make run)?") from None
    except requests.Timeout:
        raise click.ClickException(f"{url} did not answer within 10 s (Slack gives up after 3)") from None
    except requests.RequestException as error:
        raise click.ClickException(f"{url}: {error}") from None
    body = response.text
    if response.status_code != 200:
        shown = " ".join(body.split())[:500] or "(empty body)"
        raise click.ClickException(f"{url} answered HTTP {response.status_code}: {shown}")
    if not body.strip():
        click.echo("(acknowledged with an empty body: any reply goes to the response_url)")
        return
    try:
        reply = response.json()
    except ValueError:
        click.echo(body)  # Slack shows a plain-text answer as the reply
        return
    if not isinstance(reply, dict):
        click.echo(body)
        return
    visibility = reply.get("response_type") or "ephemeral"
    click.echo(f"({visibility}: " + ("everyone in the channel sees it)" if visibility == "in_channel"
                                     else "only you see it)"))
    if reply.get("blocks"):
        click.echo(blockkit.blocks_text(reply["blocks"]))
    elif reply.get("text") is not None:
        click.echo(blockkit.mrkdwn_text(str(reply["text"])))
    else:
        click.echo(body)
