"""What one Lambda container of the app needs: `python -m devkit.measure [--events N]`.

Runs in a fresh interpreter, as a cold container does: imports `app.py`, then calls
its handlers through Chalice's own LocalGateway (the Slack route, the leaderboard
route, a WebSocket snapshot) against DynamoDB Local in a child process, and prints
the peak resident memory after each phase and the handlers' durations. The figures
behind `lambda_memory_size` / `lambda_timeout` in .chalice/config.json are in
.chalice/README.md.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _timed(durations, fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    durations.append(time.perf_counter() - started)
    return result


def _summary(durations) -> str:
    ms = sorted(d * 1000 for d in durations)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (f"n={len(ms)} p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, "
            f"max {ms[-1]:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--reads", type=int, default=50)
    args = parser.parse_args()

    from devkit import dynamodb, simulate, tables  # devkit's own imports: not the app's
    url, stop = dynamodb.start("local", None)
    try:
        import boto3
        client = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id="local", aws_secret_access_key="local")
        tables.ensure(client, "measure-counts", "measure-connections")
        secret = "measure-secret"
        os.environ.update(COUNTS_TABLE="measure-counts", CONNECTIONS_TABLE="measure-connections",
                          DYNAMODB_ENDPOINT_URL=url, SLACK_SIGNING_SECRET=secret,
                          WEBSOCKET_ENDPOINT_URL="http://127.0.0.1:9", AWS_REGION="us-east-1",
                          AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")
        baseline = peak_mb()
        started = time.perf_counter()
        sys.path.insert(0, str(ROOT))
        import app as app_module
        from chalice.config import Config
        from chalice.local import LocalGateway
        import_s = time.perf_counter() - started
        after_import = peak_mb()
        gateway = LocalGateway(app_module.app, Config.create(
            chalice_stage="measure", project_dir=str(ROOT), app_name="emojiboard",
            lambda_timeout=30))

        slack = []
        for i in range(args.events):
            body = simulate.encode(simulate.reaction_event(
                simulate.POPULAR[i % len(simulate.POPULAR)][0], item_ts=f"1700000000.{i:06d}"))
            response = _timed(slack, gateway.handle_request, "POST", "/slack/events",
                              simulate.signed_headers(body, secret), body)
            assert response["statusCode"] == 200, response
        after_events = peak_mb()

        reads = []
        for i in range(args.reads):
            window = ("all", "24h", "7d", "30d")[i % 4]
            response = _timed(reads, gateway.handle_request, "GET",
                              f"/api/leaderboard?window={window}", {}, b"")
            assert response["statusCode"] == 200, response
        after_reads = peak_mb()
        from chalicelib import live, services
        snapshot = []
        for _ in range(args.reads):
            _timed(snapshot, live.reply_to, json.dumps({"action": "snapshot", "window": "30d"}),
                   services.get())

        print(f"python {sys.version.split()[0]}, DynamoDB Local at {url}")
        print(f"peak RSS: interpreter {baseline:.0f} MB; after `import app` {after_import:.0f} MB "
              f"({import_s * 1000:.0f} ms); after {args.events} Slack events "
              f"{after_events:.0f} MB; after {args.reads} leaderboard reads {after_reads:.0f} MB; "
              f"after snapshots {peak_mb():.0f} MB")
        print(f"POST /slack/events: {_summary(slack)}")
        print(f"GET /api/leaderboard: {_summary(reads)}")
        print(f"WebSocket snapshot (30d): {_summary(snapshot)}")
    finally:
        stop()


if __name__ == "__main__":
    main()
