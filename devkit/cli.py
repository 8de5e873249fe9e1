"""`python -m devkit ...`: the local stack and the Slack simulator."""
import logging
import signal
import threading
import time
from pathlib import Path

import click

from . import bench as bench_module, dynamodb, simulate, site
from .stack import LOCAL_SECRET, LocalStack

DEFAULT_DATA_DIR = Path(".data") / "dynamodb"


@click.group()
def main():
    """Emojiboard developer kit."""
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
@click.option("--fanout", type=click.Choice(["inline", "stream"]), default="inline",
              show_default=True, envvar="FANOUT_MODE",
              help="inline: the Slack route pushes every event; stream: the counts table's "
                   "stream handler pushes one update per batch (env FANOUT_MODE).")
def serve(host, port, demo, demo_rate, dynamodb_choice, data_dir, team_id, fanout):
    """Run the whole app on one port: API, WebSocket, Management API, dashboard."""
    _stop_on_signals()
    stack = LocalStack(host=host, port=port, dynamodb_choice=dynamodb_choice, data_dir=data_dir,
                       team_id=team_id, fanout=fanout)
    try:
        stack.start()
    except (dynamodb.DynamoDBUnavailable, OSError) as error:
        raise click.ClickException(str(error)) from None
    stop = threading.Event()
    try:
        click.echo(f"DynamoDB:  {stack.dynamodb_url}")
        secret = "from SLACK_SIGNING_SECRET" if stack.secret != LOCAL_SECRET else stack.secret
        click.echo(f"Slack Request URL: {stack.url}/slack/events (signing secret: {secret})")
        click.echo(f"Dashboard: {stack.url}")
        if stack.stream_poller:
            m = stack.stream_poller.mapping
            click.echo(f"Fan-out:   stream (batches of up to {m.batch_size} records, "
                       f"{m.batching_window_s:g} s window)")
        else:
            click.echo("Fan-out:   inline (the Slack route pushes every event)")
        if demo:
            threading.Thread(target=simulate.send, daemon=True, kwargs=dict(
                url=f"{stack.url}/slack/events", secret=stack.secret, rate=demo_rate,
                count=None, team_id=team_id or "T0DEMO", stop=stop, echo=click.echo)).start()
            click.echo(f"Demo: sending {demo_rate:g} signed reaction events per second")
        click.echo("Press Ctrl-C to stop.")
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("\nStopping...")
    finally:
        stop.set()
        stack.stop()


def _stop_on_signals() -> None:
    """`kill` (SIGTERM) stops the stack as Ctrl-C does, children included; and Ctrl-C
    works even where a shell started us in the background with SIGINT ignored."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


@main.command("simulate")
@click.option("--url", required=True, help="The Slack Request URL, e.g. http://127.0.0.1:8000/slack/events")
@click.option("--secret", required=True, envvar="SLACK_SIGNING_SECRET",
              help="The app's Slack signing secret.")
@click.option("--rate", default=5.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Events per second.")
@click.option("--count", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--team-id", default="T0DEMO", show_default=True)
def simulate_command(url, secret, rate, count, team_id):
    """Send signed reaction_added / reaction_removed events to any deployment."""
    started = time.monotonic()
    statuses = simulate.send(url, secret, rate, count, team_id=team_id, echo=click.echo)
    elapsed = time.monotonic() - started
    summary = ", ".join(f"{n} x {code or 'no answer'}" for code, n in sorted(statuses.items()))
    click.echo(f"sent {count} events in {elapsed:.1f} s ({count / elapsed:.0f}/s, one at a time): "
               f"{summary}")
    if set(statuses) - {200}:
        raise SystemExit(1)


@main.group("site")
def site_group():
    """The dashboard as a static site."""


@site_group.command("build")
@click.option("--api-url", required=True, help="Where the HTTP API is, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/api")
@click.option("--ws-url", required=True, help="Where the WebSocket API is, e.g. wss://def.execute-api.eu-west-1.amazonaws.com/api")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write the site into (new, empty, or an earlier build).")
@click.option("--title", default="Emojiboard", show_default=True)
@click.option("--workspace", default="", help="The workspace name shown under the title.")
def site_build(api_url, ws_url, out_dir, title, workspace):
    """Render frontend/ into a static site for S3 or any web server."""
    try:
        index = site.build(out_dir, api_url=api_url, ws_url=ws_url, title=title,
                           workspace=workspace)
    except site.SiteError as error:
        raise click.UsageError(str(error)) from None
    files = sorted(p.name for p in index.parent.iterdir() if not p.name.startswith("."))
    click.echo(f"built {len(files)} files into {index.parent}: {', '.join(files)}")


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
@click.option("--only", multiple=True, default=("ingest", "fanout", "burst", "cold-start"),
              type=click.Choice(["ingest", "fanout", "burst", "cold-start"]), show_default=True,
              help="Which figures to measure (repeat the option for several).")
@click.option("--runs", default=3, show_default=True, type=click.IntRange(1, 50),
              help="Repeats of each measurement; figures are medians.")
@click.option("--events", default=300, show_default=True, type=click.IntRange(10),
              help="Events per ingest run.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--dashboards", default="100,1000", show_default=True,
              help="Open dashboards for the fan-out latency, comma-separated.")
@click.option("--burst-rate", default=200.0, show_default=True, type=click.FloatRange(1))
@click.option("--burst-seconds", default=10.0, show_default=True, type=click.FloatRange(1))
@click.option("--burst-dashboards", default=200, show_default=True, type=click.IntRange(1))
@click.option("--fanout", "modes", multiple=True, default=("inline", "stream"),
              type=click.Choice(["inline", "stream"]), show_default=True,
              help="The fan-out modes to compare (repeat the option for several).")
def bench(only, runs, events, concurrency, dashboards, burst_rate, burst_seconds,
          burst_dashboards, modes):
    """Measure the local stack: ingest overhead, fan-out latency, a burst, cold start;
    each in both fan-out modes, side by side."""
    try:
        sizes = [int(n) for n in dashboards.split(",")]
    except ValueError:
        raise click.BadParameter("a comma-separated list of numbers", param_hint="--dashboards")
    if dynamodb.why_not_local():
        raise click.ClickException(f"the bench needs DynamoDB Local: {dynamodb.why_not_local()}")
    bench_module.run(list(only), runs, events, concurrency, sizes, burst_rate, burst_seconds,
                     burst_dashboards, list(modes))


# ---- AWS ------------------------------------------------------------------------

def _aws(stage, profile, region):
    import boto3

    from . import deploy as deploy_module, infra
    if stage not in infra.stages():
        raise click.BadParameter(f"must be one of {', '.join(infra.stages())}", param_hint="--stage")
    session = boto3.session.Session(profile_name=profile, region_name=region)
    if not session.region_name:
        raise click.ClickException("no AWS region: pass --region, set AWS_REGION, "
                                   "or give the profile a region")
    return session, deploy_module.Chalice(profile=profile, region=session.region_name)


def _aws_options(command):
    command = click.option("--region", default=None, help="AWS region (else the profile's / AWS_REGION).")(command)
    command = click.option("--profile", default=None, help="AWS profile (else the default credentials).")(command)
    return click.option("--stage", default="dev", show_default=True,
                        help="Chalice stage in .chalice/config.json.")(command)


@main.command("deploy")
@_aws_options
@click.option("--title", default="Emojiboard", show_default=True, help="The dashboard's title.")
@click.option("--workspace", default="", help="The workspace's name, shown on the dashboard.")
def deploy_command(stage, profile, region, title, workspace):
    """Deploy to AWS: tables and site bucket, the Chalice app, the dashboard, and a
    Slack app manifest."""
    from . import deploy as deploy_module
    session, chalice = _aws(stage, profile, region)
    deploy_module.deploy(stage, session, chalice, title=title, workspace=workspace,
                         echo=click.echo)


@main.command("destroy")
@_aws_options
@click.option("--delete-data", is_flag=True, help="Also delete the counters (kept by default).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def destroy_command(stage, profile, region, delete_data, yes):
    """Remove the Chalice app, the site and the app stack; the counters stay unless
    --delete-data."""
    from . import deploy as deploy_module, infra
    session, chalice = _aws(stage, profile, region)
    what = (f"the Chalice app (stage {stage}), the dashboard site and stack "
            f"{infra.stack_names(stage)['app']} in {session.region_name}")
    if delete_data:
        what += f", AND the counters (table {infra.table_names(stage)['counts']})"
    if not yes:
        click.confirm(f"Delete {what}?", abort=True)
    deploy_module.destroy(stage, session, chalice, delete_data=delete_data, echo=click.echo)


@main.command("package")
@click.option("--stage", default="dev", show_default=True)
@click.option("--out", "out_dir", default="dist/cloudformation", show_default=True,
              type=click.Path(file_okay=False, path_type=Path))
def package_command(stage, out_dir):
    """`chalice package --merge-template`: one template (sam.json) for the whole app."""
    from . import deploy as deploy_module
    template = deploy_module.package(stage, out_dir)
    click.echo(f"Template: {template}\nDeploy it with: aws cloudformation package "
               f"--template-file {template} --s3-bucket BUCKET --output-template-file "
               f"{out_dir}/packaged.yaml && aws cloudformation deploy --template-file "
               f"{out_dir}/packaged.yaml --stack-name emojiboard-{stage} "
               "--capabilities CAPABILITY_IAM --parameter-overrides SlackSigningSecret=... "
               "SlackBotToken=...")
