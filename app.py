"""Emojiboard's Chalice app: routes, WebSocket handlers and, in stream fan-out mode,
the counts table's stream handler, wired to chalicelib."""
import time

from chalice import Chalice, Response

from chalicelib import api, fanout, ingest, live, services, settings
from chalicelib.settings import SettingsError

app = Chalice(app_name="emojiboard")
app.experimental_feature_flags.update(["WEBSOCKETS"])


def _json(status: int, body: dict) -> Response:
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json"})


def _reply(handler, *args) -> Response:
    """A handler's (status, body) as JSON; a missing setting names the variable."""
    try:
        return _json(*handler(*args, services.get()))
    except SettingsError as error:
        app.log.error("misconfigured: %s", error)
        return _json(500, {"error": f"server misconfigured: {error}"})


@app.route("/slack/events", methods=["POST"], content_types=["application/json"])
def slack_events():
    request = app.current_request
    return _reply(ingest.handle, request.raw_body, request.headers)


@app.route("/api/leaderboard", methods=["GET"], cors=True)
def leaderboard():
    return _reply(api.leaderboard, app.current_request.query_params)


@app.on_ws_connect()
def ws_connect(event):
    live.connect(event.connection_id, services.get())


@app.on_ws_disconnect()
def ws_disconnect(event):
    live.disconnect(event.connection_id, services.get())


@app.on_ws_message()
def ws_message(event):
    live.message(event.connection_id, event.body, services.get())



# Stream fan-out mode only (FANOUT_MODE=stream): Lambda reads the counts table's
# stream and hands this handler up to a batch of changes, gathered for up to the
# batching window; it pushes one update per dashboard for the whole batch.
def _counts_stream_arn():
    """The stream's ARN (None in inline mode), which registering the handler needs at
    import. On Lambda it is set, and so it is by `devkit deploy|package|serve`. The
    bare `chalice` CLI (it sets AWS_CHALICE_CLI_MODE and the stage's config.json
    variables, then imports this file) cannot know it: stop with one line that says
    what to run instead of a traceback (a SystemExit passes Chalice's `except
    Exception`; nothing has been written by then)."""
    import os
    if (os.environ.get("AWS_CHALICE_CLI_MODE") and settings.fanout_mode() == "stream"
            and not os.environ.get("COUNTS_STREAM_ARN", "").strip()):
        import click  # the chalice CLI runs on click: its command and --stage
        ctx = click.get_current_context(silent=True)
        command = ctx.info_name if ctx else "deploy"
        stage = (ctx.params.get("stage") if ctx else None) or "dev"
        instead = ("python -m devkit serve --fanout stream" if command == "local" else
                   f"make {command if command == 'package' else 'deploy'} STAGE={stage}")
        raise SystemExit(f"emojiboard: chalice {command} --stage {stage} needs the counts "
                         "table's stream ARN (COUNTS_STREAM_ARN: this stage fans out in "
                         f"stream mode), which only exists with the table; run {instead}, "
                         "which creates the table and passes its stream on")
    return settings.counts_stream_arn()


_counts_stream = _counts_stream_arn()
if _counts_stream:
    @app.on_dynamodb_record(stream_arn=_counts_stream, batch_size=fanout.STREAM_BATCH_SIZE,
                            maximum_batching_window_in_seconds=fanout.STREAM_BATCH_WINDOW_S)
    def counts_changed(event):
        fanout.from_stream(event.to_dict()["Records"], services.get(), time.time())
