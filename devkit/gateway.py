"""A local API Gateway for the laptop, on one port (aiohttp serves HTTP and WebSockets):

  /slack/*, /api/*, /auth/* the app's HTTP routes, through Chalice's own LocalGateway
  GET /ws                 WebSocket upgrade -> the app's $connect / $default / $disconnect
                          handlers, with events shaped as API Gateway sends them
  /@connections/{id}      the API Gateway Management API (POST, GET, DELETE), so the
                          app's boto3 `apigatewaymanagementapi` client works unchanged
  /slack-api/*            a stand-in for Slack's Web API (devkit/slack_api.py): emoji.list,
                          users.list, users.info, conversations.info
  /demo-emoji/{name}.svg  the demo workspace's custom emoji images
  /demo-avatar/{id}.svg   its people's avatars
  everything else         the dashboard's static files

Like Lambda, each app instance serves one request at a time: Chalice keeps the
current request on the app object, so instances are never shared between threads.

What it refuses, as API Gateway would: a WebSocket frame over 32 KB or message over
128 KB (close 1009), a GET /ws that is no upgrade (426, before any handler runs),
Management API calls without a valid SigV4 signature for the local credentials (403).
What it adds against misbehaving clients: a client's messages wait for the app at most
MAX_BACKLOG deep and are dropped once its socket closes; headers must arrive within
IDLE_TIMEOUT and a body within BODY_TIMEOUT; client errors log one line, no traceback.
"""
import asyncio
import base64
import collections
import hmac
import importlib.util
import json
import logging
import queue
import re
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

from aiohttp import WSMsgType, web
from aiohttp.http_exceptions import HttpProcessingError
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from chalice.app import DynamoDBEventConfig
from chalice.config import Config
from chalice.local import LambdaContext, LocalGateway, LocalGatewayException

from . import slack_api

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
STAGE = "local"
API_ID = "local"
# API Gateway's WebSocket quotas: "WebSocket frame size 32 KB", "Message payload size
# 128 KB"; "If a larger message (or larger frame size) is received, the connection is
# closed with code 1009." https://docs.aws.amazon.com/apigateway/latest/developerguide/
# apigateway-execution-service-websocket-limits-table.html
MAX_FRAME = 32 * 1024
MAX_MESSAGE = 128 * 1024
# API Gateway invokes the integration once per message and keeps no queue per
# connection; locally a connection's messages are handled in order, and this many at
# most wait for the app (more are dropped), so one client cannot queue work for minutes.
# Far above what the app itself answers per window (chalicelib/connections.py ASK_LIMIT),
# so the app's own allowance is what a greedy page meets, as on AWS.
MAX_BACKLOG = 100
# aiohttp's keep-alive timer runs from a connection's start, so it closes a connection
# whose request headers have not all arrived (slow-loris) as well as an idle one; it is
# off while a handler runs and for WebSockets.
IDLE_TIMEOUT = 10
BODY_TIMEOUT = 15             # for a request's body, once its headers are in
CHALICE_PREFIXES = ("/slack/", "/api/", "/auth/")
# What the app signs its Management API calls with (app_environment), and what the
# local Management API checks their SigV4 signatures against.
REGION = "us-east-1"
LOCAL_CREDENTIALS = Credentials("local", "local")
SIGNATURE_MAX_AGE = 5 * 60    # AWS refuses a signature more than 5 minutes off its clock


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
    """The app's Lambda functions, each with instances of its own, as on AWS: Chalice
    deploys the HTTP routes as one function (`api_handler`), each WebSocket route and
    each event handler as another, and one function's load never waits for another's
    containers (a reconnect storm of WebSocket messages cannot queue the Slack route)."""

    HTTP = "api_handler"

    def __init__(self, size: int, app_path: Path = ROOT / "app.py"):
        if str(app_path.parent) not in sys.path:
            sys.path.insert(0, str(app_path.parent))
        self._size, self._app_path = size, app_path
        self._idle: Dict[str, "queue.Queue[AppInstance]"] = {}
        self._executors: Dict[str, ThreadPoolExecutor] = {}
        self._count = 0
        self._lock = threading.Lock()  # functions start on first use, from any thread
        self._function(self.HTTP)  # loads app.py: a broken app fails the start at once

    def _function(self, name: str) -> "queue.Queue[AppInstance]":
        with self._lock:
            return self._start_function(name)

    def _start_function(self, name: str) -> "queue.Queue[AppInstance]":
        if name not in self._idle:
            idle: "queue.Queue[AppInstance]" = queue.Queue()
            for _ in range(self._size):
                idle.put(AppInstance(self._count, self._app_path))
                self._count += 1
            self._executors[name] = ThreadPoolExecutor(max_workers=self._size,
                                                       thread_name_prefix=name)
            self._idle[name] = idle
        return self._idle[name]

    def call(self, function: str, fn, *args):
        """fn(instance, *args) on a free instance of `function`, in this thread."""
        idle = self._function(function)
        instance = idle.get()
        try:
            return fn(instance, *args)
        finally:
            idle.put(instance)

    def run(self, function: str, fn, *args):
        """Run fn(instance, *args) on a free instance of `function`, off the event loop."""
        self._function(function)
        return asyncio.get_running_loop().run_in_executor(
            self._executors[function], self.call, function, fn, *args)

    def any_app(self):
        """The Chalice app object (of an HTTP instance), to read its registrations."""
        idle = self._function(self.HTTP)
        instance = idle.get()
        idle.put(instance)
        return instance.app

    def stream_sources(self) -> list:
        """The app's `@app.on_dynamodb_record` registrations."""
        return [s for s in self.any_app().event_sources if isinstance(s, DynamoDBEventConfig)]


@dataclass
class Connection:
    id: str
    socket: web.WebSocketResponse
    source_ip: str
    user_agent: str
    connected_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    last_active_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    dropped: int = 0  # messages refused because MAX_BACKLOG were waiting


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _not_an_upgrade(request: web.Request) -> Optional[web.Response]:
    """The answer to a request on the WebSocket route that is no WebSocket handshake:
    426 naming the protocol to upgrade to (RFC 9110, 15.5.22) when it asks for no
    upgrade to WebSocket, 400 for a broken handshake; None for a real one."""
    if "websocket" not in request.headers.get("Upgrade", "").lower():
        return web.Response(status=426, text="this is a WebSocket endpoint: upgrade to websocket",
                            headers={"Upgrade": "websocket", "Connection": "Upgrade"})
    if not web.WebSocketResponse().can_prepare(request).ok:
        return web.Response(status=400, text="invalid WebSocket handshake")
    return None


def _gone() -> web.Response:
    # What AWS answers for an unknown or closed connection; botocore maps the
    # x-amzn-ErrorType header to client.exceptions.GoneException.
    return web.json_response({"message": None}, status=410,
                             headers={"x-amzn-ErrorType": "GoneException"})


def _aws_error(error_type: str, message: str, status: int = 403) -> web.Response:
    # API Gateway's error shape; botocore reads the type from x-amzn-ErrorType.
    return web.json_response({"message": message}, status=status,
                             headers={"x-amzn-ErrorType": error_type})


_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<day>\d{8})/(?P<region>[^/,\s]+)/"
    r"(?P<service>[^/,\s]+)/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})")
_BAD_SIGNATURE = ("The request signature we calculated does not match the signature you "
                  "provided. Check your AWS Secret Access Key and signing method. Consult "
                  "the service documentation for details.")


def signature_error(request: web.Request, body: bytes,
                    credentials: Credentials = LOCAL_CREDENTIALS) -> Optional[web.Response]:
    """None when `request` carries a valid SigV4 signature (service execute-api) by
    `credentials`; else the 403 API Gateway answers. botocore's own signer recomputes
    the signature from the request as received."""
    header = request.headers.get("Authorization")
    if not header:
        return _aws_error("MissingAuthenticationTokenException", "Missing Authentication Token")
    match = _AUTHORIZATION.fullmatch(header.strip())
    if not match:
        return _aws_error("IncompleteSignatureException",
                          "Authorization header requires 'Credential', 'SignedHeaders' and "
                          f"'Signature' parameters. Authorization={header}")
    if match["key"] != credentials.access_key:
        return _aws_error("UnrecognizedClientException",
                          "The security token included in the request is invalid.")
    stamp = request.headers.get("X-Amz-Date", "")
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return _aws_error("IncompleteSignatureException",
                          "Authorization header requires existence of either a 'X-Amz-Date' "
                          "or a 'Date' header.")
    if abs(time.time() - signed_at.timestamp()) > SIGNATURE_MAX_AGE:
        return _aws_error("InvalidSignatureException",
                          f"Signature expired: {stamp} is more than 5 minutes from now.")
    if (match["day"], match["region"], match["service"]) != (stamp[:8], REGION, "execute-api"):
        return _aws_error("InvalidSignatureException",
                          f"Credential should be scoped to {stamp[:8]}/{REGION}/execute-api.")
    signed = AWSRequest(
        method=request.method, url=f"http://{request.host}{request.raw_path}", data=body,
        headers={name: ",".join(request.headers.getall(name))
                 for name in match["signed"].split(";") if name in request.headers})
    signed.context["timestamp"] = stamp
    signer = SigV4Auth(credentials, "execute-api", REGION)
    expected = signer.signature(
        signer.string_to_sign(signed, signer.canonical_request(signed)), signed)
    if not hmac.compare_digest(expected, match["signature"]):
        return _aws_error("InvalidSignatureException", _BAD_SIGNATURE)
    return None


def _payload_size(header: bytearray) -> Optional[int]:
    """A WebSocket frame's payload length from its header (RFC 6455, 5.2), or None
    while the header is incomplete."""
    if len(header) < 2:
        return None
    size, masked = header[1] & 0x7F, header[1] & 0x80
    extra = {126: 2, 127: 8}.get(size, 0)
    if len(header) < 2 + extra + (4 if masked else 0):
        return None
    return int.from_bytes(header[2:2 + extra], "big") if extra else size


class _FrameLimit:
    """In front of aiohttp's WebSocket reader, which limits whole messages only
    (max_msg_size counts all fragments together): a client frame with a payload over
    MAX_FRAME never reaches the reader, and `too_big` is called to close the
    connection with 1009, as API Gateway does. Every other byte passes unchanged."""

    def __init__(self, reader, too_big: Callable[[], None]):
        self._reader, self._too_big = reader, too_big
        self._header = bytearray()  # the current frame's header, until complete
        self._payload_left = 0      # bytes of the current frame's payload still to come
        self._dropping = False      # whether those belong to an oversized frame

    def feed_eof(self) -> None:
        self._reader.feed_eof()

    def feed_data(self, data: bytes) -> Tuple[bool, bytes]:
        passed, pos = bytearray(), 0
        while pos < len(data):
            if self._payload_left:
                step = min(self._payload_left, len(data) - pos)
                if not self._dropping:
                    passed += data[pos:pos + step]
                self._payload_left -= step
                pos += step
                continue
            self._header.append(data[pos])
            pos += 1
            size = _payload_size(self._header)
            if size is None:
                continue
            self._dropping = size > MAX_FRAME
            if self._dropping:
                self._too_big()
            else:
                passed += self._header
            self._header.clear()
            self._payload_left = size
        return self._reader.feed_data(bytes(passed)) if passed else (False, b"")


class _Overrides:
    """`target` with some attributes replaced."""

    def __init__(self, target, **overrides):
        self._target = target
        self.__dict__.update(overrides)

    def __getattr__(self, name):
        return getattr(self._target, name)


class ApiGatewaySocket(web.WebSocketResponse):
    """aiohttp's server WebSocket with API Gateway's limits: frames over MAX_FRAME and
    messages over MAX_MESSAGE close the connection with 1009 (aiohttp closes with 1009
    for messages of max_msg_size bytes or more, hence the + 1)."""

    def __init__(self):
        # API Gateway does not negotiate permessage-deflate: frames go uncompressed.
        super().__init__(max_msg_size=MAX_MESSAGE + 1, autoping=True, compress=False)
        self._closing_task: Optional[asyncio.Task] = None

    def _post_start(self, request, protocol, writer):
        # aiohttp has no hook for a frame limit. _post_start hands its reader to the
        # connection (set_parser), which then feeds it every byte, those that arrived
        # with the upgrade request included: put _FrameLimit in front on the way in.
        real = request.protocol
        installed = []

        def set_parser(parser, data_received_cb=None):
            installed.append(parser)
            real.set_parser(_FrameLimit(parser, self._frame_too_big), data_received_cb)
        super()._post_start(_Overrides(request, protocol=_Overrides(real, set_parser=set_parser)),
                            protocol, writer)
        if not installed:
            raise RuntimeError("this aiohttp no longer calls set_parser: the WebSocket "
                               "frame limit cannot be enforced (devkit/gateway.py)")

    def _frame_too_big(self) -> None:
        if self._closing_task is None:
            self._closing_task = asyncio.get_running_loop().create_task(
                self.close(code=1009, message=b"Frame too big"))


class _ServerLog(logging.LoggerAdapter):
    """aiohttp's server log without tracebacks for what clients do: a malformed or
    oversized request is one line, a client that left mid-request is a debug line."""

    def log(self, level, msg, *args, exc_info=None, **kwargs):
        error = exc_info if isinstance(exc_info, BaseException) else (
            sys.exc_info()[1] if exc_info else None)
        if isinstance(error, ConnectionError):
            self.logger.debug(msg + " (the client left: %s)", *args, error)
        elif isinstance(error, HttpProcessingError):
            detail = " ".join(str(error).split())
            self.logger.warning(msg + ": %s", *args, detail[:200])
        else:
            super().log(level, msg, *args, exc_info=exc_info, **kwargs)


async def _read_body(request: web.Request) -> bytes:
    """The request's body, or an HTTP error: 408 when it trickles in too slowly, 400
    (to nobody: logged as a client that left) when the client disconnects."""
    try:
        return await asyncio.wait_for(request.read(), BODY_TIMEOUT)
    except asyncio.TimeoutError:
        timeout = web.HTTPRequestTimeout(text=f"no body within {BODY_TIMEOUT} s")
        timeout.force_close()
        raise timeout from None
    except ConnectionError as error:
        log.debug("%s %s: the client left before its body arrived (%s)",
                  request.method, request.path, error)
        raise web.HTTPBadRequest() from None


class Gateway:
    def __init__(self, pool: AppPool, static_dir: Optional[Path] = None,
                 slack: Optional[slack_api.SlackWebAPI] = None,
                 site_headers: Optional[Dict[str, str]] = None, logs=None):
        self.pool = pool
        self.logs = logs  # the app's log lines (devkit/local_logs.py), for /_devkit/logs
        self.static_dir = static_dir
        # The site's security headers (devkit/site.py), on the site's files and the app's
        # routes, as CloudFront's response headers policy sets them on AWS.
        self.site_headers = dict(site_headers or {})
        self.connections: Dict[str, Connection] = {}
        # Fault injection for tests: connection id -> how many pushes to throttle first.
        self.throttle: Dict[str, int] = {}
        # Messages handed to the app's $default handler, per connection id (for tests).
        self.handled: "collections.Counter[str]" = collections.Counter()
        self.web = web.Application(client_max_size=10 * 1024 * 1024)  # API Gateway's payload limit
        self.web.router.add_get("/ws", self.websocket)
        self.web.router.add_route("*", "/@connections/{connection_id}", self.management)
        # Slack's Web API as far as the app uses it (emoji.list) and the demo emoji
        # images; the stack passes its own so it outlives gateway restarts.
        self.slack = slack if slack is not None else slack_api.SlackWebAPI()
        self.slack.add_routes(self.web)
        # Not AWS: where devkit commands find this stack's SQS (LocalStack sets it).
        self.devkit_endpoints: Optional[dict] = None
        self.web.router.add_get("/_devkit/endpoints", self.endpoints)
        self.web.router.add_get("/_devkit/logs", self.log_lines)
        self.web.router.add_route("*", "/{tail:.*}", self.http)

    async def endpoints(self, request: web.Request) -> web.Response:
        if self.devkit_endpoints is None:
            raise web.HTTPNotFound(text="this gateway is not part of a devkit stack")
        return web.json_response(self.devkit_endpoints)

    async def log_lines(self, request: web.Request) -> web.StreamResponse:
        """Not AWS: the app's log lines, one JSON object a line (?since=epoch ms): what
        `status --local` reads metrics from, as CloudWatch reads them from log groups."""
        if self.logs is None:
            raise web.HTTPNotFound(text="this gateway keeps no logs")
        try:
            since = int(request.query["since"]) if "since" in request.query else None
        except ValueError:
            raise web.HTTPBadRequest(text="since must be epoch milliseconds") from None
        lines = await asyncio.get_running_loop().run_in_executor(
            None, lambda: [json.dumps(line) for line in self.logs.lines(since)])
        return web.Response(text="".join(line + "\n" for line in lines),
                            content_type="application/x-ndjson")

    def runner(self) -> web.AppRunner:
        """The aiohttp runner to serve this gateway with: header, idle and log settings."""
        # lingering_time: how long aiohttp reads an unread body after answering (408 to a
        # trickling one) before closing: 2 s, not 10, so a slow client is let go sooner.
        return web.AppRunner(self.web, access_log=None, keepalive_timeout=IDLE_TIMEOUT,
                             lingering_time=2,
                             logger=_ServerLog(logging.getLogger("devkit.gateway.server")))

    # ---- HTTP routes, through Chalice --------------------------------------

    async def http(self, request: web.Request) -> web.StreamResponse:
        if not request.path.startswith(CHALICE_PREFIXES):
            return await self.static(request)
        body = await _read_body(request)
        path = request.path_qs
        headers = dict(request.headers)
        try:
            response = await self.pool.run(
                AppPool.HTTP, lambda inst: inst.http.handle_request(request.method, path, headers, body))
        except LocalGatewayException as error:
            return web.Response(status=error.CODE, headers=error.headers, body=error.body)
        payload = response.get("body") or b""
        if response.get("isBase64Encoded"):
            payload = base64.b64decode(payload)
        elif isinstance(payload, str):
            payload = payload.encode("utf-8")
        headers = {**self.site_headers, **(response.get("headers") or {})}
        reply = web.Response(status=response["statusCode"], headers=headers, body=payload)
        # API Gateway's multi-value headers: a response may set several cookies.
        for name, values in (response.get("multiValueHeaders") or {}).items():
            for value in values:
                reply.headers.add(name, value)
        return reply

    async def static(self, request: web.Request) -> web.StreamResponse:
        if self.static_dir is None or request.method not in ("GET", "HEAD"):
            raise web.HTTPNotFound()
        relative = request.path.lstrip("/") or "index.html"
        try:
            target = (self.static_dir / relative).resolve()
            found = target.is_relative_to(self.static_dir.resolve()) and target.is_file()
        except (OSError, ValueError):  # no file has such a name: a NUL byte, too long
            found = False
        if not found:
            raise web.HTTPNotFound()
        return web.FileResponse(target, headers={**self.site_headers, "Cache-Control": "no-cache"})

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
            result = await self.pool.run(route_key, lambda inst: inst.invoke_websocket(route_key, event))
        except Exception:  # what API Gateway sees when the Lambda function fails
            log.exception("%s handler failed for %s", route_key, connection_id)
            return 500
        return int((result or {}).get("statusCode", 200))

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        refused = _not_an_upgrade(request)
        if refused is not None:  # before $connect: API Gateway runs it for upgrades only
            return refused
        # API Gateway's connection ids are short base64 strings such as "L0SM9cOFvHcCIhw=".
        connection_id = base64.b64encode(uuid.uuid4().bytes[:10]).decode()
        status = await self._invoke(request, "$connect", connection_id)
        if status != 200:
            return web.Response(status=status if status >= 400 else 403,
                                text="connection refused by the $connect handler")
        socket = ApiGatewaySocket()
        await socket.prepare(request)
        connection = Connection(connection_id, socket, request.remote or "127.0.0.1",
                                request.headers.get("User-Agent", ""))
        self.connections[connection_id] = connection
        backlog: "asyncio.Queue[str]" = asyncio.Queue(MAX_BACKLOG)
        worker = asyncio.create_task(self._handle_messages(request, connection_id, backlog))
        try:
            # Read as fast as the client sends, so its close is seen at once.
            async for message in socket:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    connection.last_active_at = datetime.now(timezone.utc)
                    body = message.data if message.type == WSMsgType.TEXT else \
                        message.data.decode("utf-8", "replace")
                    self._enqueue(connection, backlog, body)
        finally:
            # Messages still waiting are never handed to the app; one being handled
            # finishes, as a running Lambda invocation would.
            worker.cancel()
            if connection.dropped:
                log.info("connection %s: dropped %d messages it sent faster than the app "
                         "answered", connection_id, connection.dropped)
            # The handler runs while the record still exists (for its connectedAt);
            # pushes to the closed socket already answer GoneException.
            await self._invoke(request, "$disconnect", connection_id)
            self.connections.pop(connection_id, None)
        return socket

    def _enqueue(self, connection: Connection, backlog: asyncio.Queue, body: str) -> None:
        try:
            backlog.put_nowait(body)
        except asyncio.QueueFull:
            if not connection.dropped:
                log.warning("connection %s sends faster than the app answers: %d messages "
                            "wait already, so more are dropped", connection.id, MAX_BACKLOG)
            connection.dropped += 1

    async def _handle_messages(self, request, connection_id: str, backlog: asyncio.Queue):
        """Hand a connection's messages to $default one at a time, in order."""
        while True:
            body = await backlog.get()
            self.handled[connection_id] += 1
            await self._invoke(request, "$default", connection_id, body)

    # ---- the Management API --------------------------------------------------

    async def management(self, request: web.Request) -> web.Response:
        data = await _read_body(request)
        refused = signature_error(request, data)
        if refused is not None:
            return refused
        connection = self.connections.get(request.match_info["connection_id"])
        if connection is None or connection.socket.closed:
            return _gone()
        if request.method == "POST":
            if self.throttle.get(connection.id, 0) > 0:
                self.throttle[connection.id] -= 1
                return web.json_response({"message": "Rate exceeded"}, status=429,
                                         headers={"x-amzn-ErrorType": "LimitExceededException"})
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
        # All at once: each close waits (up to 10 s) for its client's answer.
        await asyncio.gather(*(connection.socket.close(code=1001, message=b"gateway shutting down")
                               for connection in list(self.connections.values())),
                             return_exceptions=True)


def app_environment(dynamodb_url: str, gateway_url: str, counts_table: str,
                    connections_table: str, secret: str, team_id: Optional[str],
                    counts_stream_arn: str, push_queue: Optional[Tuple[str, str]] = None,
                    sqs_url: Optional[str] = None,
                    shard_size: Optional[int] = None,
                    tasks_queue: Optional[Tuple[str, str]] = None) -> Dict[str, str]:
    """The environment the app sees locally: only endpoints differ from AWS.
    `push_queue` and `tasks_queue` are (URL, ARN) of queues on the SQS at `sqs_url`."""
    env = {
        "COUNTS_STREAM_ARN": counts_stream_arn,
        "COUNTS_TABLE": counts_table, "CONNECTIONS_TABLE": connections_table,
        "DYNAMODB_ENDPOINT_URL": dynamodb_url, "WEBSOCKET_ENDPOINT_URL": gateway_url,
        "SLACK_SIGNING_SECRET": secret, "AWS_DEFAULT_REGION": REGION,
        "SLACK_BOT_TOKEN": slack_api.LOCAL_TOKEN,
        "SLACK_API_URL": gateway_url.rstrip("/") + slack_api.PREFIX,
        "AWS_REGION": REGION,
        # Fixed local credentials, never the developer's own: the local Management API
        # checks the app's signatures against them, and DynamoDB ignores them.
        "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS.access_key,
        "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS.secret_key,
        # DynamoDB Local runs transactions one after another: a counted event's 25
        # items take 27 ms alone and 175 ms with 8 at once here (AWS: tens of ms), so
        # the 1 s read timeout meant for AWS trips under a test's load.
        "DYNAMODB_READ_TIMEOUT": "10",
    }
    if team_id:
        env["SLACK_TEAM_ID"] = team_id
    if push_queue:
        env.update(PUSH_QUEUE_URL=push_queue[0], PUSH_QUEUE_ARN=push_queue[1],
                   SQS_ENDPOINT_URL=sqs_url)
    if tasks_queue:
        env.update(TASKS_QUEUE_URL=tasks_queue[0], TASKS_QUEUE_ARN=tasks_queue[1],
                   SQS_ENDPOINT_URL=sqs_url)
    if shard_size:
        env["FANOUT_SHARD_SIZE"] = str(shard_size)
    return env
