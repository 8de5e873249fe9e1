"""Emojiboard's Chalice app: routes, WebSocket handlers and, in stream fan-out mode,
the counts table's stream handler, wired to chalicelib."""
import time

from chalice import Chalice, Rate, Response
from chalice.app import Request, WebsocketEvent

from chalicelib import (access, api, auth, commands, digest, fanout, home, ingest, live, logs,
                        metrics, screens, services, settings, tasks)
from chalicelib.settings import SettingsError

# The app's log lines are JSON, one a line (chalicelib/logs.py), not Chalice's text.
app = Chalice(app_name="emojiboard", configure_logs=False)
app.experimental_feature_flags.update(["WEBSOCKETS"])
logs.setup()

_WEBSOCKET_FUNCTIONS = {"$connect": "websocket_connect", "$disconnect": "websocket_disconnect"}


@app.middleware("all")
def observed(event, get_response):
    """Every invocation of every function, timed, ends with one log line that holds its
    metrics (chalicelib/logs.py). Chalice runs this around the handler, and around its
    own 500 for an exception a route raised, so a Slack request's answer is seen
    whatever it was."""
    if isinstance(event, Request):
        context = event.lambda_context
        function, ids = "api_handler", {"route": f"{event.method} {event.path}"}
    elif isinstance(event, WebsocketEvent):
        context = event.context
        route = event.to_dict()["requestContext"].get("routeKey", "$default")
        function = _WEBSOCKET_FUNCTIONS.get(route, "websocket_message")
        ids = {"connection_id": event.connection_id}
    else:  # the stream, the queues, the schedule: Lambda names the function
        context = event.context
        name = getattr(context, "function_name", "") or type(event).__name__
        function, ids = name.rsplit("-", 1)[-1], {}
    ids["request_id"] = getattr(context, "aws_request_id", None)
    with logs.invocation(function, **ids) as invocation:
        response = get_response(event)
        if isinstance(event, Request):
            invocation.note(status=response.status_code)
            if event.path == "/slack/events":
                logs.count(metrics.EVENTS_RECEIVED)
                if response.status_code >= 500:  # "retry me": the 5 % alarm's numerator
                    logs.count(metrics.EVENTS_FAILED)
        elif isinstance(event, WebsocketEvent) and isinstance(response, Response):
            invocation.note(status=response.status_code)
    return response


def _json(status: int, body: dict) -> Response:
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json"})


def _misconfigured(error: SettingsError) -> Response:
    app.log.error("misconfigured: %s", error)
    return _json(500, {"error": f"server misconfigured: {error}"})


def _reply(handler, *args) -> Response:
    """A handler's (status, body) as JSON; a missing setting names the variable."""
    try:
        return _json(*handler(*args, services.get()))
    except SettingsError as error:
        return _misconfigured(error)


def _auth_reply(handler, *args) -> Response:
    """An /auth handler's Reply: a redirect or JSON, with the cookies it sets."""
    try:
        reply = handler(*args, services.get(), time.time())
    except SettingsError as error:
        return _misconfigured(error)
    headers = {"Cache-Control": "no-store"}
    if reply.location:
        headers["Location"] = reply.location
    if reply.body is not None:
        headers["Content-Type"] = "application/json"
    if reply.cookies:  # several Set-Cookie headers: API Gateway's multiValueHeaders
        headers["Set-Cookie"] = reply.cookies
    return Response(body=reply.body if reply.body is not None else "", status_code=reply.status,
                    headers=headers)


def _viewer():
    """Who the current request is from, or None (ACCESS=slack and no valid session)."""
    request = app.current_request
    return access.identify(request.headers, services.get(), time.time())


def _as_viewer(answer) -> Response:
    """`answer(viewer)` for whoever the request is from; 401 without a session."""
    try:
        viewer = _viewer()
    except SettingsError as error:
        return _misconfigured(error)
    if viewer is None:
        return _json(401, {"error": "sign in with Slack to see this board",
                           "signin": "/auth/login"})
    return answer(viewer)


def _signed_in(handler, *args) -> Response:
    """Every /api route (never the Slack ones): 401 without a session (ACCESS=slack)."""
    return _as_viewer(lambda _: _reply(handler, *args))


@app.route("/slack/events", methods=["POST"], content_types=["application/json"])
def slack_events():
    request = app.current_request
    return _reply(ingest.handle, request.raw_body, request.headers)


# Slack's other requests, signed as events are: the slash command (an ephemeral answer
# within 3 s: chalicelib/commands.py) and the Home tab's buttons (chalicelib/home.py).
@app.route("/slack/commands", methods=["POST"],
           content_types=["application/x-www-form-urlencoded"])
def slack_commands():
    request = app.current_request
    return _reply(commands.handle, request.raw_body, request.headers)


@app.route("/slack/interactions", methods=["POST"],
           content_types=["application/x-www-form-urlencoded"])
def slack_interactions():
    request = app.current_request
    return _reply(home.interaction, request.raw_body, request.headers)


@app.route("/api/leaderboard", methods=["GET"])
def leaderboard():
    return _signed_in(api.leaderboard, app.current_request.query_params)


@app.route("/api/trend", methods=["GET"])
def trend():
    return _signed_in(api.trend, app.current_request.query_params)


@app.route("/api/history", methods=["GET"])
def history():
    return _signed_in(api.history, app.current_request.query_params)


# Sign in with Slack, screen links and who is signed in (chalicelib/auth.py,
# chalicelib/screens.py, chalicelib/access.py).
@app.route("/auth/login", methods=["GET"])
def auth_login():
    return _auth_reply(auth.login, app.current_request.query_params)


@app.route("/auth/callback", methods=["GET"])
def auth_callback():
    request = app.current_request
    return _auth_reply(auth.callback, request.query_params, request.headers)


# The page's sign-out is a plain form post. SameSite=Lax keeps the cookie off other
# sites' posts, so no other site can sign anyone out.
@app.route("/auth/logout", methods=["POST"],
           content_types=["application/x-www-form-urlencoded", "application/json"])
def auth_logout():
    return _auth_reply(auth.logout, app.current_request.headers)


@app.route("/auth/screen", methods=["POST"], content_types=["application/json"])
def auth_screen():
    return _auth_reply(auth.screen, _json_body())


@app.route("/api/me", methods=["GET"])
def me():
    return _as_viewer(lambda viewer: _auth_reply(auth.me, viewer))


def _json_body():
    try:
        return app.current_request.json_body
    except Exception:  # noqa: BLE001 - Chalice raises BadRequestError: answered as no body
        return None


@app.route("/api/screens", methods=["GET"])
def screen_links():
    return _as_viewer(lambda viewer: _reply(screens.listing, viewer))


@app.route("/api/screens", methods=["POST"], content_types=["application/json"])
def new_screen_link():
    return _as_viewer(lambda viewer: _reply(screens.create, viewer, _json_body()))


@app.route("/api/screens/{ident}", methods=["DELETE"])
def revoke_screen_link(ident):
    return _as_viewer(lambda viewer: _reply(screens.revoke, viewer, ident))


@app.on_ws_connect()
def ws_connect(event):
    """The handshake is refused (401) before any record is written when the request
    has no valid session: API Gateway then closes it, as the page's socket sees."""
    headers = event.to_dict().get("headers") or {}
    try:
        viewer = access.identify(headers, services.get(), time.time())
    except SettingsError as error:
        app.log.error("misconfigured: %s", error)
        return Response(body="", status_code=500)
    if viewer is None:
        logs.note(outcome="refused")
        return Response(body="", status_code=401)
    live.connect(event.connection_id, viewer, services.get())
    logs.note(outcome="connected", grant=viewer.grant.split(":", 1)[0])
    return None


@app.on_ws_disconnect()
def ws_disconnect(event):
    live.disconnect(event.connection_id, services.get())
    logs.note(outcome="disconnected")


@app.on_ws_message()
def ws_message(event):
    live.message(event.connection_id, event.body, services.get())



# The fan-out (chalicelib/fanout.py, docs/architecture.md): Lambda reads the counts
# table's stream and hands `counts_changed` each batch of changes as soon as it has
# one (no batching window: a batch forms while the previous one is pushed); it pushes
# one update per dashboard, itself up to a shard's worth of dashboards, and puts the
# other shards on the push queue, from which Lambda feeds `push_shard` one at a time.
def _event_source(name: str, what: str):
    """An event source's ARN, which registering its handler needs at import. On
    Lambda it is set, and so it is by `devkit deploy|package|serve`. The bare
    `chalice` CLI (it sets AWS_CHALICE_CLI_MODE and the stage's config.json variables,
    then imports this file) cannot know it: stop with one line that says what to run
    instead of a traceback (a SystemExit passes Chalice's `except Exception`; nothing
    has been written by then). Anywhere else (a plain `import app`) the handler is
    left out, and counted events reach no dashboard."""
    import os
    arn = settings.event_source(name)
    if arn or not os.environ.get("AWS_CHALICE_CLI_MODE"):
        return arn
    import click  # the chalice CLI runs on click: its command and --stage
    ctx = click.get_current_context(silent=True)
    command = ctx.info_name if ctx else "deploy"
    stage = (ctx.params.get("stage") if ctx else None) or "dev"
    instead = ("python -m devkit serve" if command == "local" else
               f"make {command if command == 'package' else 'deploy'} STAGE={stage}")
    raise SystemExit(f"emojiboard: chalice {command} --stage {stage} needs {what} ({name}), "
                     f"which only exists once the stacks are deployed; run {instead}, "
                     "which creates it and passes it on")


_counts_stream = _event_source("COUNTS_STREAM_ARN", "the counts table's stream ARN")
_push_queue = _event_source("PUSH_QUEUE_ARN", "the push queue's ARN")
if _counts_stream:
    @app.on_dynamodb_record(stream_arn=_counts_stream, batch_size=fanout.STREAM_BATCH_SIZE,
                            maximum_batching_window_in_seconds=fanout.STREAM_BATCH_WINDOW_S)
    def counts_changed(event):
        fanout.from_stream(event.to_dict()["Records"], services.get(), time.time())

if _push_queue:
    @app.on_sqs_message(queue_arn=_push_queue, batch_size=1)
    def push_shard(event):
        for record in event:
            fanout.push_shard(record.body, services.get())


# Joining channels and importing history (chalicelib/tasks.py): slices of work at
# Slack's pace, each queueing the next, within the function's time limit.
_tasks_queue = _event_source("TASKS_QUEUE_ARN", "the tasks queue's ARN")
if _tasks_queue:
    @app.on_sqs_message(queue_arn=_tasks_queue, batch_size=1)
    def slack_tasks(event):
        context = event.context
        left = context.get_remaining_time_in_millis() / 1000 if context else None
        for record in event:
            tasks.run(record.body, services.get(), left, time.time())


# The weekly digest (chalicelib/digest.py): every hour, it posts only on Monday from
# 09:00 in DIGEST_TZ, once a week; without DIGEST_CHANNEL it does nothing.
@app.schedule(Rate(1, unit=Rate.HOURS))
def weekly_digest(event):
    try:
        outcome = digest.run(services.get(), time.time())
    except SettingsError as error:
        app.log.error("misconfigured: %s", error)
        return
    logs.note(outcome=outcome)
