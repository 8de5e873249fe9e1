"""A local API Gateway for the laptop, on one port (aiohttp serves HTTP and WebSockets):

  /slack/*, /api/*        the app's HTTP routes, through Chalice's own LocalGateway
  GET /ws                 WebSocket upgrade -> the app's $connect / $default / $disconnect
                          handlers, with events shaped as API Gateway sends them
  /@connections/{id}      the API Gateway Management API (POST, GET, DELETE), so the
                          app's boto3 `apigatewaymanagementapi` client works unchanged
  /slack-api/*            a stand-in for Slack's Web API (devkit/slack_api.py): emoji.list
  /demo-emoji/{name}.svg  the demo workspace's custom emoji images
  everything else         the dashboard's static files

Like Lambda, each app instance serves one request at a time: Chalice keeps the
current request on the app object, so instances are never shared between threads.
"""
import asyncio
import base64
import importlib.util
import logging
import os
import queue
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Optional

from aiohttp import WSMsgType, web
from chalice.app import DynamoDBEventConfig
from chalice.config import Config
from chalice.local import LambdaContext, LocalGateway, LocalGatewayException

from . import slack_api

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
STAGE = "local"
API_ID = "local"
MAX_FRAME = 32 * 1024         # API Gateway's WebSocket frame limit
MAX_MESSAGE = 128 * 1024      # and its message limit
CHALICE_PREFIXES = ("/slack/", "/api/")


class AppInstance:
    """One independent copy of app.py: what a warm Lambda container holds."""

    def __init__(self, index: int, app_path: Path):
        spec = importlib.util.spec_from_file_location(f"_emojiboard_app_{index}", app_path)
        self.module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.module)
        self.app = self.module.app
        config = Config.create(chalice_stage=STAGE, project_dir=str(app_path.parent),
                               app_name=self.app.app_name, lambda_timeout=30)
        self.http = LocalGateway(self.app, config)

    def invoke_websocket(self, route_key: str, event: dict) -> dict:
        return self.invoke(self.app.websocket_handlers[route_key].name, event)

    def invoke(self, handler_name: str, event: dict):
        """Call one of the app's Lambda handlers by name, as Lambda would."""
        context = LambdaContext(function_name=f"{self.app.app_name}-{handler_name}",
                                memory_size=256, max_runtime_ms=30_000)
        return getattr(self.module, handler_name)(event, context)


class AppPool:
    def __init__(self, size: int, app_path: Path = ROOT / "app.py"):
        if str(app_path.parent) not in sys.path:
            sys.path.insert(0, str(app_path.parent))
        self._idle: "queue.Queue[AppInstance]" = queue.Queue()
        for i in range(size):
            self._idle.put(AppInstance(i, app_path))
        self.executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="lambda")

    def call(self, fn, *args):
        """fn(instance, *args) on a free instance, in this thread."""
        instance = self._idle.get()
        try:
            return fn(instance, *args)
        finally:
            self._idle.put(instance)

    def run(self, fn, *args):
        """Run fn(instance, *args) on a free instance, off the event loop."""
        return asyncio.get_running_loop().run_in_executor(self.executor, self.call, fn, *args)

    def stream_sources(self) -> list:
        """The app's `@app.on_dynamodb_record` registrations (none in inline mode)."""
        instance = self._idle.get()
        self._idle.put(instance)
        return [s for s in instance.app.event_sources if isinstance(s, DynamoDBEventConfig)]


@dataclass
class Connection:
    id: str
    socket: web.WebSocketResponse
    source_ip: str
    user_agent: str
    connected_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    last_active_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _gone() -> web.Response:
    # What AWS answers for an unknown or closed connection; botocore maps the
    # x-amzn-ErrorType header to client.exceptions.GoneException.
    return web.json_response({"message": None}, status=410,
                             headers={"x-amzn-ErrorType": "GoneException"})


class Gateway:
    def __init__(self, pool: AppPool, static_dir: Optional[Path] = None,
                 slack: Optional[slack_api.SlackWebAPI] = None):
        self.pool = pool
        self.static_dir = static_dir
        self.connections: Dict[str, Connection] = {}
        # Fault injection for tests: connection id -> how many pushes to throttle first.
        self.throttle: Dict[str, int] = {}
        self.web = web.Application(client_max_size=10 * 1024 * 1024)  # API Gateway's payload limit
        self.web.router.add_get("/ws", self.websocket)
        self.web.router.add_route("*", "/@connections/{connection_id}", self.management)
        # Slack's Web API as far as the app uses it (emoji.list) and the demo emoji
        # images; the stack passes its own so it outlives gateway restarts.
        self.slack = slack if slack is not None else slack_api.SlackWebAPI()
        self.slack.add_routes(self.web)
        self.web.router.add_route("*", "/{tail:.*}", self.http)

    # ---- HTTP routes, through Chalice --------------------------------------

    async def http(self, request: web.Request) -> web.StreamResponse:
        if not request.path.startswith(CHALICE_PREFIXES):
            return await self.static(request)
        body = await request.read()
        path = request.path_qs
        headers = dict(request.headers)
        try:
            response = await self.pool.run(
                lambda inst: inst.http.handle_request(request.method, path, headers, body))
        except LocalGatewayException as error:
            return web.Response(status=error.CODE, headers=error.headers, body=error.body)
        payload = response.get("body") or b""
        if response.get("isBase64Encoded"):
            payload = base64.b64decode(payload)
        elif isinstance(payload, str):
            payload = payload.encode("utf-8")
        headers = dict(response.get("headers") or {})
        return web.Response(status=response["statusCode"], headers=headers, body=payload)

    async def static(self, request: web.Request) -> web.StreamResponse:
        if self.static_dir is None or request.method not in ("GET", "HEAD"):
            raise web.HTTPNotFound()
        relative = request.path.lstrip("/") or "index.html"
        target = (self.static_dir / relative).resolve()
        if not target.is_relative_to(self.static_dir.resolve()) or not target.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(target, headers={"Cache-Control": "no-cache"})

    # ---- WebSockets ----------------------------------------------------------

    def _event(self, request: web.Request, route_key: str, connection_id: str,
               body: Optional[str] = None) -> dict:
        now = time.time()
        event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
        event = {
            "requestContext": {
                "routeKey": route_key, "eventType": event_type, "stage": STAGE,
                "apiId": API_ID, "domainName": request.host, "connectionId": connection_id,
                "requestId": str(uuid.uuid4()), "messageDirection": "IN",
                "requestTimeEpoch": int(now * 1000),
                "connectedAt": int(self.connections[connection_id].connected_at.timestamp() * 1000)
                if connection_id in self.connections else int(now * 1000),
                "identity": {"sourceIp": request.remote or "127.0.0.1",
                             "userAgent": request.headers.get("User-Agent", "")},
            },
            "isBase64Encoded": False,
        }
        if route_key == "$connect":
            event["headers"] = dict(request.headers)
            event["queryStringParameters"] = dict(request.query) or None
        if body is not None:
            event["body"] = body
        return event

    async def _invoke(self, request, route_key, connection_id, body=None) -> int:
        event = self._event(request, route_key, connection_id, body)
        try:
            result = await self.pool.run(lambda inst: inst.invoke_websocket(route_key, event))
        except Exception:  # what API Gateway sees when the Lambda function fails
            log.exception("%s handler failed for %s", route_key, connection_id)
            return 500
        return int((result or {}).get("statusCode", 200))

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        # API Gateway's connection ids are short base64 strings such as "L0SM9cOFvHcCIhw=".
        connection_id = base64.b64encode(uuid.uuid4().bytes[:10]).decode()
        status = await self._invoke(request, "$connect", connection_id)
        if status != 200:
            return web.Response(status=status if status >= 400 else 403,
                                text="connection refused by the $connect handler")
        # API Gateway does not negotiate permessage-deflate: frames go uncompressed.
        socket = web.WebSocketResponse(max_msg_size=MAX_MESSAGE, autoping=True, compress=False)
        await socket.prepare(request)
        self.connections[connection_id] = Connection(
            connection_id, socket, request.remote or "127.0.0.1", request.headers.get("User-Agent", ""))
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self.connections[connection_id].last_active_at = datetime.now(timezone.utc)
                    await self._invoke(request, "$default", connection_id, message.data)
                elif message.type == WSMsgType.BINARY:
                    await self._invoke(request, "$default", connection_id,
                                       message.data.decode("utf-8", "replace"))
        finally:
            # The handler runs while the record still exists (for its connectedAt);
            # pushes to the closed socket already answer GoneException.
            await self._invoke(request, "$disconnect", connection_id)
            self.connections.pop(connection_id, None)
        return socket

    # ---- the Management API --------------------------------------------------

    async def management(self, request: web.Request) -> web.Response:
        if not request.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256"):
            return web.json_response({"message": "Missing Authentication Token"}, status=403,
                                     headers={"x-amzn-ErrorType": "ForbiddenException"})
        connection = self.connections.get(request.match_info["connection_id"])
        if connection is None or connection.socket.closed:
            return _gone()
        if request.method == "POST":
            if self.throttle.get(connection.id, 0) > 0:
                self.throttle[connection.id] -= 1
                return web.json_response({"message": "Rate exceeded"}, status=429,
                                         headers={"x-amzn-ErrorType": "LimitExceededException"})
            data = await request.read()
            if len(data) > MAX_MESSAGE:
                return web.json_response({"message": "Message too long"}, status=413,
                                         headers={"x-amzn-ErrorType": "PayloadTooLargeException"})
            try:
                await connection.socket.send_str(data.decode("utf-8"))
            except UnicodeDecodeError:
                await connection.socket.send_bytes(data)
            except ConnectionError:
                return _gone()
            return web.Response(status=200)
        if request.method == "GET":
            return web.json_response({
                "connectedAt": _iso(connection.connected_at),
                "lastActiveAt": _iso(connection.last_active_at),
                "identity": {"sourceIp": connection.source_ip,
                             "userAgent": connection.user_agent},
            })
        if request.method == "DELETE":
            await connection.socket.close()
            return web.Response(status=204)
        raise web.HTTPMethodNotAllowed(request.method, ["POST", "GET", "DELETE"])

    async def close_all(self) -> None:
        for connection in list(self.connections.values()):
            await connection.socket.close(code=1001, message=b"gateway shutting down")


def app_environment(dynamodb_url: str, gateway_url: str, counts_table: str,
                    connections_table: str, secret: str, team_id: Optional[str],
                    fanout: str = "inline", counts_stream_arn: str = "") -> Dict[str, str]:
    """The environment the app sees locally: only endpoints differ from AWS."""
    env = {
        "FANOUT_MODE": fanout, "COUNTS_STREAM_ARN": counts_stream_arn,
        "COUNTS_TABLE": counts_table, "CONNECTIONS_TABLE": connections_table,
        "DYNAMODB_ENDPOINT_URL": dynamodb_url, "WEBSOCKET_ENDPOINT_URL": gateway_url,
        "SLACK_SIGNING_SECRET": secret, "AWS_DEFAULT_REGION": "us-east-1",
        "SLACK_BOT_TOKEN": slack_api.LOCAL_TOKEN,
        "SLACK_API_URL": gateway_url.rstrip("/") + slack_api.PREFIX,
        "AWS_REGION": "us-east-1",
        # The local stand-ins accept any credentials, but boto3 signs with some.
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
    }
    if team_id:
        env["SLACK_TEAM_ID"] = team_id
    return env
