"""Emojiboard's Chalice app: routes and WebSocket handlers, wired to chalicelib."""
from chalice import Chalice, Response

from chalicelib import api, ingest, live, services
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

