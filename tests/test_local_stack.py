"""The local stack against a hostile or unlucky user: slow starts, interrupted starts,
a taken port, other hosts, forged Management API calls, oversized frames, floods,
malformed and slow requests. Real processes, sockets, HTTP and WebSockets throughout;
the few failures injected in-process say so where they are."""
import gc
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock
from urllib.parse import quote

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed, ConnectionClosedError
from websockets.sync.client import connect

from devkit import dynamodb, stack as stack_module
from devkit.gateway import (BODY_TIMEOUT, IDLE_TIMEOUT, LOCAL_CREDENTIALS, MAX_BACKLOG,
                            MAX_FRAME, MAX_MESSAGE)
from devkit.served import APP_SETTINGS, ServeProcess
from tests.conftest import SECRET, TEAM
from tests.helpers import connection_ids, post_event, reaction, wait_for

ROOT = Path(__file__).resolve().parent.parent


# ---- what the operating system says ------------------------------------------------

def _dynamodb_local(data_dir) -> set:
    """Live DynamoDB Local processes keeping their data in `data_dir` (found by the
    `-dbPath DIR` on their command line; zombies excluded)."""
    wanted = b"\0-dbPath\0" + str(Path(data_dir).resolve()).encode() + b"\0"
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if wanted in (entry / "cmdline").read_bytes() and \
                    ") Z " not in (entry / "stat").read_text():
                found.add(int(entry.name))
        except OSError:  # it exited meanwhile
            continue
    return found


def _children(pid: int) -> set:
    """Live child processes of `pid`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.add(int(entry.name))
    return found


def _listening_addresses(port: int) -> set:
    """The local addresses with a TCP socket listening on `port` (/proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, _, state = line.split()[1:4]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            # Each 32-bit word is in the host's (little-endian) byte order.
            raw = b"".join(bytes.fromhex(address[i:i + 8])[::-1]
                           for i in range(0, len(address), 8))
            ip = ipaddress.ip_address(raw)
            found.add(getattr(ip, "ipv4_mapped", None) or ip)
    return found


def _serve_command(*args: str) -> list:
    return [sys.executable, "-m", "devkit", "serve", "--no-demo", *args]


def _user_env() -> dict:
    """A user's shell: none of the settings the session's own stack exported."""
    return {k: v for k, v in os.environ.items() if k not in APP_SETTINGS}


# ---- 1. slow and interrupted starts leave nothing behind ------------------------------

def test_a_slow_dynamodb_is_waited_for_not_given_up_on():
    """FAULT INJECTION: a stand-in server on a real socket holds its first requests
    unanswered for 3 s (longer than a read timeout), as a JVM starting on a loaded
    machine does, then answers. Waiting must treat that as "not up yet"."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    ready_at = time.monotonic() + 3

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                if time.monotonic() < ready_at:
                    time.sleep(max(0.0, ready_at - time.monotonic()))
                    continue  # closed without an answer
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        dynamodb.wait_until_up(f"http://127.0.0.1:{port}", process=sleeper, timeout=120)
        assert time.monotonic() >= ready_at
    finally:
        sleeper.kill()
        sleeper.wait()
        listener.close()


def test_a_store_that_exits_at_start_is_a_clear_error():
    command = [sys.executable, "-c", "print('cannot open the database'); raise SystemExit(3)"]
    with pytest.raises(dynamodb.DynamoDBUnavailable) as error:
        dynamodb._spawn(command, f"http://127.0.0.1:{dynamodb.free_port()}", "DynamoDB Local")
    message = str(error.value)
    assert "DynamoDB Local exited with code 3" in message
    assert "cannot open the database" in message


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_serve_while_dynamodb_starts_leaves_no_child(tmp_path, signum):
    data_dir = str(tmp_path / "db")
    serve = subprocess.Popen(_serve_command("--port", str(dynamodb.free_port()),
                                            "--data-dir", data_dir),
                             cwd=ROOT, env=_user_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        # DynamoDB Local's JVM has just been started (its command line names our data
        # dir) and is seconds away from answering: interrupt serve now.
        java = wait_for(lambda: _dynamodb_local(data_dir), timeout=120, interval=0.01)
        assert java, "DynamoDB Local never started"
        serve.send_signal(signum)
        out, _ = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
    assert serve.returncode == 0, out
    assert "Traceback" not in out, out
    assert wait_for(lambda: not (java & _dynamodb_local(data_dir)), timeout=30), \
        f"DynamoDB Local {java} outlived serve"


def test_serve_killed_outright_takes_dynamodb_with_it():
    served = ServeProcess(secret=SECRET, team_id=TEAM)
    try:
        java = _dynamodb_local(served.data_dir)
        assert java and java <= _children(served.process.pid)
        served.process.kill()  # SIGKILL: no handler runs, only the child's lifeline
        served.process.wait(timeout=30)
        assert wait_for(lambda: not (java & _dynamodb_local(served.data_dir)), timeout=60), \
            f"DynamoDB Local {java} outlived a killed serve"
    finally:
        served.stop()


def test_sigterm_after_start_stops_dynamodb_too():
    served = ServeProcess(secret=SECRET, team_id=TEAM)
    try:
        java = _dynamodb_local(served.data_dir)
        assert java
    finally:
        served.stop()  # SIGTERM
    assert served.process.returncode == 0
    assert "Traceback" not in served.log_text()
    assert wait_for(lambda: not (java & _dynamodb_local(served.data_dir)), timeout=30)


def test_a_start_failure_after_dynamodb_came_up_stops_it_and_says_why(monkeypatch):
    """FAULT INJECTION: the port check passes as if the port were taken only afterwards
    (another program binding it between the check and the gateway), so the gateway
    fails to listen once DynamoDB runs. The error must say so, at once, leaving no
    child process and no never-awaited coroutine behind."""
    holder = socket.create_server(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    monkeypatch.setattr(stack_module, "check_port", lambda host, port: None, raising=False)
    environment = dict(os.environ)  # start() exports the app's settings: restored below
    before = _children(os.getpid())
    local = stack_module.LocalStack(port=port, dynamodb_choice="moto", data_dir=None,
                                    secret=SECRET, team_id=TEAM, instances=1)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(stack_module.StartError) as error:
                local.start()
            gc.collect()
        assert "address already in use" in str(error.value).lower()
        assert not [w for w in caught if "never awaited" in str(w.message)]
        assert not _children(os.getpid()) - before
    finally:
        holder.close()
        local.stop()
        os.environ.clear()
        os.environ.update(environment)


# ---- 7. a taken port fails at once, in one line ----------------------------------------

def test_serve_on_a_taken_port_fails_at_once_in_one_line(tmp_path):
    holder = socket.create_server(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    data_dir = str(tmp_path / "db")
    try:
        result = subprocess.run(_serve_command("--port", str(port), "--data-dir", data_dir),
                                cwd=ROOT, env=_user_env(), capture_output=True, text=True,
                                timeout=120)
    finally:
        holder.close()
    assert result.returncode != 0
    assert result.stderr.strip() == (f"Error: port {port} on 127.0.0.1 is in use; try "
                                     f"PORT={port + 1} make run (or --port {port + 1})")
    assert "Traceback" not in result.stdout + result.stderr
    assert "never awaited" not in result.stdout + result.stderr
    assert not Path(data_dir).exists()  # DynamoDB was never started
    assert not _dynamodb_local(data_dir)


def test_any_other_start_error_is_one_line_with_its_message():
    result = subprocess.run(_serve_command("--host", "no-such-host.invalid",
                                           "--port", str(dynamodb.free_port())),
                            cwd=ROOT, env=_user_env(), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert re.fullmatch(r"Error: cannot listen on no-such-host\.invalid port \d+: \S.*",
                        result.stderr.strip()), result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# ---- 2. only the given host, only signed Management API calls --------------------------

def test_dynamodb_and_the_gateway_listen_on_loopback_only(stack):
    loopback = {ipaddress.ip_address("127.0.0.1")}
    dynamodb_port = int(stack.dynamodb_url.rsplit(":", 1)[1])
    assert _listening_addresses(dynamodb_port) == loopback
    assert _listening_addresses(stack.port) == loopback


@pytest.mark.parametrize("start", [
    lambda host: dynamodb.start_moto(host=host),
    lambda host: dynamodb.start_local(None, host=host),
], ids=["moto", "dynamodb-local"])
def test_each_store_listens_on_the_loopback_address_it_is_given(start):
    url, stop = start("127.0.0.2")
    try:
        assert url.startswith("http://127.0.0.2:")
        assert _listening_addresses(int(url.rsplit(":", 1)[1])) == {
            ipaddress.ip_address("127.0.0.2")}
        assert "TableNames" in dynamodb.client(url).list_tables()
    finally:
        stop()


def test_a_stack_served_to_the_network_keeps_its_store_on_loopback():
    assert dynamodb.store_host("0.0.0.0") == "127.0.0.1"
    assert dynamodb.store_host("192.168.1.20") == "127.0.0.1"
    assert dynamodb.store_host("::1") == "::1"


@contextmanager
def _dashboard_and_its_id(stack, **options):
    """A real WebSocket client and the gateway's id for it (found by its user agent)."""
    agent = f"test-{uuid.uuid4()}"
    with connect(f"ws://{stack.host}:{stack.port}/ws", open_timeout=30, proxy=None,
                 compression=None, user_agent_header=agent, **options) as socket_:
        ids = wait_for(lambda: [c.id for c in list(stack.gateway.connections.values())
                                if c.user_agent == agent], timeout=30)
        assert len(ids) == 1
        yield socket_, ids[0]


def _signed_headers(url: str, body: bytes, secret: str = "local",
                    at: datetime = None) -> dict:
    """SigV4 headers for a POST, signed by botocore's own signer (at a chosen time)."""
    request = AWSRequest(method="POST", url=url, data=body)
    signer = SigV4Auth(type(LOCAL_CREDENTIALS)("local", secret), "execute-api", "us-east-1")
    if at is None:
        signer.add_auth(request)
        return dict(request.headers)
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    request.headers["X-Amz-Date"] = stamp
    request.context["timestamp"] = stamp
    signature = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request)
    headers = dict(request.headers)
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, "
                                f"SignedHeaders={signer.signed_headers(signer.headers_to_sign(request))}, "
                                f"Signature={signature}")
    return headers


def test_the_management_api_delivers_only_validly_signed_posts(stack):
    with _dashboard_and_its_id(stack) as (socket_, connection_id):
        url = f"{stack.url}/@connections/{quote(connection_id, safe='')}"  # ids: / and +
        forged = json.dumps({"forged": str(uuid.uuid4())}).encode()
        attempts = {
            "unsigned": {},
            "any AWS4 header": {"Authorization": "AWS4-HMAC-SHA256 Credential=local/20240101/"
                                "us-east-1/execute-api/aws4_request, SignedHeaders=host, "
                                "Signature=" + "0" * 64, "X-Amz-Date": "20240101T000000Z"},
            "wrong secret": _signed_headers(url, forged, secret="guessed"),
            "another body": _signed_headers(url, b'{"what": "was signed"}'),
            "ten minutes old": _signed_headers(
                url, forged, at=datetime.now(timezone.utc) - timedelta(minutes=10)),
        }
        for what, headers in attempts.items():
            response = requests.post(url, data=forged, headers=headers, timeout=30)
            assert response.status_code == 403, what
            assert response.headers["x-amzn-ErrorType"] in (
                "MissingAuthenticationTokenException", "InvalidSignatureException"), what
            assert response.json()["message"], what
        # The app's own client, with the local credentials, gets through.
        management = boto3.client(
            "apigatewaymanagementapi", endpoint_url=stack.url, region_name="us-east-1",
            aws_access_key_id=LOCAL_CREDENTIALS.access_key,
            aws_secret_access_key=LOCAL_CREDENTIALS.secret_key)
        marker = json.dumps({"marker": str(uuid.uuid4())})
        management.post_to_connection(ConnectionId=connection_id, Data=marker.encode())
        received = []
        while marker not in received:  # whatever else the stack pushes meanwhile
            received.append(socket_.recv(timeout=30))
        assert forged.decode() not in received
        wrong = boto3.client(
            "apigatewaymanagementapi", endpoint_url=stack.url, region_name="us-east-1",
            aws_access_key_id="local", aws_secret_access_key="not-the-local-secret")
        with pytest.raises(ClientError) as refused:
            wrong.post_to_connection(ConnectionId=connection_id, Data=b"{}")
        assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"


# ---- 3. API Gateway's frame and message limits -----------------------------------------

def _closed_with(socket_, timeout: float = 30) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            socket_.recv(timeout=timeout)
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_a_frame_over_32_kb_closes_the_socket_with_1009_unseen_by_the_app(stack):
    with _dashboard_and_its_id(stack) as (socket_, connection_id):
        socket_.send(json.dumps({"action": "ping", "pad": "x" * (40 * 1024)}))
        assert _closed_with(socket_) == 1009
    assert stack.gateway.handled[connection_id] == 0


@pytest.mark.parametrize("frames", [
    [json.dumps({"action": "ping", "pad": "x" * (31 * 1024)})],  # one 31 KB frame
    ["x" * MAX_FRAME],                                              # exactly 32 KB
    ["y" * (20 * 1024)] * 3,                                        # 60 KB in 20 KB frames
], ids=["31KB", "32KB", "60KB-fragmented"])
def test_frames_up_to_32_kb_reach_the_app_and_are_answered(stack, frames):
    with _dashboard_and_its_id(stack) as (socket_, connection_id):
        socket_.send(frames if len(frames) > 1 else frames[0])
        reply = json.loads(socket_.recv(timeout=30))
        assert reply["type"] == "error" and "larger than" in reply["message"]  # the app's
        socket_.send(json.dumps({"action": "ping"}))
        assert json.loads(socket_.recv(timeout=30)) == {"type": "pong"}
    assert stack.gateway.handled[connection_id] == 2


def test_a_message_over_128_kb_in_small_frames_closes_with_1009(stack):
    with _dashboard_and_its_id(stack) as (socket_, connection_id):
        try:
            socket_.send(["z" * (30 * 1024)] * (MAX_MESSAGE // (30 * 1024) + 1))
        except ConnectionClosedError as closed:
            # The gateway may close once the limit is passed, before the last frame is out.
            assert closed.rcvd is not None and closed.rcvd.code == 1009
        else:
            assert _closed_with(socket_) == 1009
    assert stack.gateway.handled[connection_id] == 0


# ---- 4. a GET /ws that is no upgrade runs no handler -----------------------------------

def test_plain_gets_on_the_websocket_route_register_no_connection(stack):
    before = set(connection_ids(stack))
    for _ in range(50):
        response = requests.get(f"{stack.url}/ws", timeout=30)
        assert response.status_code == 426
        assert response.headers["Upgrade"].lower() == "websocket"
    # A broken handshake (no key) is refused too, before $connect.
    with socket.create_connection((stack.host, stack.port), timeout=30) as raw:
        raw.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                    b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n")
        assert raw.recv(4096).startswith(b"HTTP/1.1 400 ")
    assert set(connection_ids(stack)) - before == set()
    with _dashboard_and_its_id(stack) as (socket_, connection_id):  # real upgrades still work
        assert wait_for(lambda: connection_id in connection_ids(stack), timeout=30)


# ---- 5. odd paths, long URLs, aborted and slow requests --------------------------------

@pytest.fixture
def gateway_log(caplog):
    caplog.set_level(logging.DEBUG, logger="devkit.gateway")
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    return caplog


def _no_tracebacks(caplog):
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("path", ["/%00", "/a%00b", "/%00/index.html", "/" + "n" * 300])
def test_paths_no_file_can_have_are_404(stack, gateway_log, path):
    assert requests.get(stack.url + path, timeout=30).status_code == 404
    _no_tracebacks(gateway_log)


def test_an_over_long_url_is_a_clean_client_error(stack, gateway_log):
    response = requests.get(f"{stack.url}/api/leaderboard?pad={'a' * 9000}", timeout=30)
    assert response.status_code in (400, 414)
    _no_tracebacks(gateway_log)


def test_aborted_posts_log_no_traceback(stack, gateway_log):
    for _ in range(5):
        with socket.create_connection((stack.host, stack.port), timeout=30) as raw:
            raw.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Length: 1000\r\n\r\n{\"half\":")
    assert wait_for(lambda: sum("client left" in r.getMessage() for r in gateway_log.records) >= 5,
                    timeout=60)
    _no_tracebacks(gateway_log)


def test_slow_clients_are_cut_off_but_idle_websockets_stay(stack):
    """A half-sent request (slow-loris) and a trickling body are closed by the gateway's
    timeouts; a quiet WebSocket outlives them, and normal requests still work."""
    def closed_by_server(raw) -> bool:
        raw.settimeout(6 * max(IDLE_TIMEOUT, BODY_TIMEOUT))  # generous, for a loaded machine
        data = b""
        try:
            while chunk := raw.recv(4096):
                data += chunk
        except ConnectionResetError:
            pass
        except socket.timeout:
            return False
        return data

    with socket.create_connection((stack.host, stack.port)) as loris, \
            socket.create_connection((stack.host, stack.port)) as trickle, \
            _dashboard_and_its_id(stack) as (websocket, _):
        loris.sendall(b"GET /api/leaderboard HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        trickle.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                        b"\r\n{\"slow\":")
        results = {}
        threads = [threading.Thread(target=lambda n=n, s=s: results.update({n: closed_by_server(s)}))
                   for n, s in (("loris", loris), ("trickle", trickle))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results["loris"] is not False, "a half-sent request was never closed"
        assert results["trickle"] and results["trickle"].startswith(b"HTTP/1.1 408 ")
        # The WebSocket was quiet all along, for longer than IDLE_TIMEOUT.
        websocket.send(json.dumps({"action": "ping"}))
        assert json.loads(websocket.recv(timeout=30)) == {"type": "pong"}
    assert requests.get(f"{stack.url}/api/leaderboard", timeout=30).status_code == 200


# ---- 6. one client cannot queue work for the stack --------------------------------------

def test_a_flood_then_close_leaves_no_work_behind(stack):
    """A client sends 20,000 snapshot requests as fast as it can, then closes. The app
    handles one message at a time per connection with at most MAX_BACKLOG waiting, so
    most are dropped; once the socket is closed nothing more reaches the app (the
    gateway counts what it hands to $default, per connection: Gateway.handled)."""
    sent = 20_000
    request = json.dumps({"action": "snapshot", "window": "all"})
    with _dashboard_and_its_id(stack, max_queue=None) as (socket_, connection_id):
        for _ in range(sent):
            socket_.send(request)
        handled_before_close = stack.gateway.handled[connection_id]
    # Without the fix the gateway would go on with the queued messages for minutes and
    # run $disconnect only after the last; here it notices the close at once.
    assert wait_for(lambda: connection_id not in stack.gateway.connections, timeout=120)
    handled = stack.gateway.handled[connection_id]
    time.sleep(2)
    assert stack.gateway.handled[connection_id] == handled  # nothing after the close
    # What was still in flight when the client closed: what the gateway had not yet
    # read, bounded by the backlog as it drained; far below what was sent.
    assert handled - handled_before_close < sent // 10
    assert handled < sent // 2
    assert MAX_BACKLOG < sent // 100


def test_busy_websocket_handlers_never_queue_the_slack_route(stack):
    """As on AWS, each Lambda function has containers of its own: with every instance
    of the `$default` function busy (FAULT INJECTION: the message handler is held until
    released), the Slack route still answers at once."""
    from chalicelib import live
    size = stack._instances
    release, lock = threading.Event(), threading.Lock()
    busy, done = [0], [0]

    def held(*args):
        with lock:
            busy[0] += 1
        release.wait(30)
        with lock:
            done[0] += 1

    with ExitStack() as sockets, mock.patch.object(live, "message", side_effect=held):
        sockets.callback(release.set)  # last, whatever happened
        for _ in range(size):
            socket = sockets.enter_context(
                connect(f"ws://{stack.host}:{stack.port}/ws", open_timeout=10))
            socket.send('{"action": "ping"}')
        assert wait_for(lambda: busy[0] == size, timeout=10)
        response = post_event(stack, reaction("tada"))  # times out after 10 s if queued
        assert response.json()["result"] == "counted"
        assert done[0] == 0  # every $default instance was held all along
