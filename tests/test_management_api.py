"""chalicelib.management.ManagementAPI against its three contracts: botocore's service
model for PostToConnection, the request a real boto3 client sends (byte for byte), and
the local gateway's real Management API over HTTP. The one mock is the signer's clock,
frozen so two signatures can be compared."""
import contextlib
import datetime
import http.server
import io
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.auth
import botocore.session
import pytest
import urllib3
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials, RefreshableCredentials
from botocore.exceptions import (BotoCoreError, ClientError, EndpointConnectionError,
                                 NoCredentialsError, ReadTimeoutError)
from botocore.retries import standard

from chalicelib.management import ManagementAPI
from devkit import dynamodb
from tests.conftest import SECRET, TEAM
from tests.helpers import connection_ids, dashboard, receive, wait_for

MODEL = botocore.session.get_session().get_service_model("apigatewaymanagementapi")
OPERATION = MODEL.operation_model("PostToConnection")
LOCAL = Credentials("local", "local")  # what the local gateway checks signatures against
EXPOSED = {"GoneException": 410, "LimitExceededException": 429, "ForbiddenException": 403,
           "PayloadTooLargeException": 413}


# ---- 1. the service model: what the client writes by hand is what botocore reads ------

def test_post_to_connection_is_what_the_service_model_says():
    assert MODEL.metadata["protocol"] == "rest-json"
    assert MODEL.signing_name == "execute-api"
    assert MODEL.metadata["signatureVersion"] == "v4"
    assert OPERATION.http["method"] == "POST"
    assert OPERATION.http["requestUri"] == "/@connections/{connectionId}"
    members = OPERATION.input_shape.members
    assert set(members) == {"ConnectionId", "Data"}
    assert set(OPERATION.input_shape.required_members) == {"ConnectionId", "Data"}
    assert members["ConnectionId"].type_name == "string"
    assert members["ConnectionId"].serialization == {"location": "uri", "name": "connectionId"}
    assert OPERATION.input_shape.serialization["payload"] == "Data"
    assert members["Data"].type_name == "blob"
    assert OPERATION.output_shape is None  # a 200 carries nothing to parse


@pytest.mark.parametrize("name,status", sorted(EXPOSED.items()))
def test_each_exception_is_an_error_of_the_operation_with_its_status(name, status):
    [shape] = [shape for shape in OPERATION.error_shapes if shape.name == name]
    assert shape.metadata["error"]["httpStatusCode"] == status
    exceptions = ManagementAPI("http://127.0.0.1:9", "us-east-1", credentials=LOCAL).exceptions
    error_class = getattr(exceptions, name)
    assert issubclass(error_class, ClientError)
    assert exceptions.from_code(name) is error_class


def test_the_operation_has_no_other_errors():
    assert {shape.name for shape in OPERATION.error_shapes} == set(EXPOSED)


def test_limit_exceeded_is_a_throttling_error_in_botocore_s_standard_mode():
    # What makes the client retry it with the throttling backoff (1 s base).
    assert "LimitExceededException" in standard.ThrottledRetryableChecker._THROTTLED_ERROR_CODES


# ---- 2. byte for byte: the request a real boto3 client sends -----------------------

FROZEN = datetime.datetime(2026, 5, 9, 12, 34, 56)
IDS = ["abc=", "a+b/c=", "abc", "L0SM9cOFvHcCIhw=", "é ~*%"]
CREDENTIALS = {"no token": Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
               "token": Credentials("ASIAEXAMPLE", "c2VjcmV0/c2VjcmV0+c2VjcmV0",
                                    "IQoJb3JpZ2luX2VjEXAMPLE//token==")}


@pytest.fixture
def frozen_clock(monkeypatch):
    # THE MOCK, of the clock only: botocore's SigV4Auth.add_auth reads the time through
    # botocore.auth.get_current_datetime (botocore 1.44.5; older releases called
    # datetime.datetime.utcnow() in botocore.auth), for boto3 and this client alike.
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda remove_tzinfo=True: FROZEN)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def boto3_request(endpoint: str, region: str, credentials: Credentials, connection_id: str,
                  data: bytes):
    """What a boto3 client sends: captured at its `before-send` event, answered there
    with a 200 of its own, so nothing goes out."""
    client = boto3.session.Session().client(
        "apigatewaymanagementapi", endpoint_url=endpoint, region_name=region,
        aws_access_key_id=credentials.access_key, aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
        config=Config(retries={"mode": "standard", "max_attempts": 4}))
    sent = []

    def before_send(request, **_):
        sent.append(request)
        return AWSResponse(request.url, 200, {}, urllib3.HTTPResponse(
            body=io.BytesIO(b""), status=200, preload_content=False))

    client.meta.events.register("before-send", before_send)
    client.post_to_connection(ConnectionId=connection_id, Data=data)
    [request] = sent
    headers = {name: _text(value) for name, value in request.headers.items()}
    # The Host header botocore signs; its HTTP client writes the same.
    signer = botocore.auth.SigV4Auth(None, "execute-api", region)
    headers["Host"] = signer.headers_to_sign(request)["host"]
    return request.method, request.url, request.body, headers


def signed_names(authorization: str) -> list:
    return authorization.split("SignedHeaders=")[1].split(",")[0].split(";")


@pytest.mark.parametrize("token", sorted(CREDENTIALS))
@pytest.mark.parametrize("connection_id", IDS)
def test_the_signed_request_equals_boto3_s(frozen_clock, connection_id, token):
    # The shape of a real endpoint: https, the stage in the path, not us-east-1.
    endpoint, region = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod", "eu-west-1"
    credentials = CREDENTIALS[token]
    data = b'{"type": "update", "changes": []}'
    method, url, body, headers = boto3_request(endpoint, region, credentials, connection_id, data)
    client = ManagementAPI(endpoint, region, credentials=credentials)
    ours = client.signed_request(connection_id, data)
    assert (ours.method, ours.url, ours.body) == (method, url, body)
    names = signed_names(headers["Authorization"])
    assert names == (["host", "x-amz-date", "x-amz-security-token"] if credentials.token
                     else ["host", "x-amz-date"])
    for name in ["Authorization", "X-Amz-Date", "Host"] + \
            (["X-Amz-Security-Token"] if credentials.token else []):
        assert ours.headers[name] == headers[name], name
    assert "X-Amz-Security-Token" in ours.headers if credentials.token else \
        "X-Amz-Security-Token" not in ours.headers


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A server that answers every POST with 200 and keeps what it received."""
    protocol_version = "HTTP/1.1"
    received: list

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((self.command, self.path, dict(self.headers.items()), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.RequestHandlerClass = type("Recorder", (_Recorder,), {"received": []})
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("token", sorted(CREDENTIALS))
@pytest.mark.parametrize("connection_id", IDS)
def test_what_goes_on_the_wire_equals_boto3_s_request(frozen_clock, recorder, connection_id,
                                                      token):
    """Not only the signed request: what post_to_connection really writes to a socket."""
    endpoint = f"http://127.0.0.1:{recorder.server_port}/local/"
    credentials = CREDENTIALS[token]
    data = b"\x00binary\xff" if token == "token" else '{"text": "é"}'.encode()
    method, url, body, headers = boto3_request(endpoint, "us-east-1", credentials,
                                               connection_id, data)
    client = ManagementAPI(endpoint, "us-east-1", credentials=credentials)
    client.post_to_connection(ConnectionId=connection_id, Data=data)
    [(sent_method, path, sent_headers, sent_body)] = recorder.RequestHandlerClass.received
    assert sent_method == method
    assert f"http://{sent_headers['Host']}{path}" == url
    assert sent_body == body
    for name in signed_names(headers["Authorization"]) + ["authorization"]:
        [ours] = [value for key, value in sent_headers.items() if key.lower() == name]
        [theirs] = [value for key, value in headers.items() if key.lower() == name]
        assert ours == theirs, name
    client.close()


def test_text_data_is_sent_as_utf8_as_boto3_sends_it(frozen_clock):
    endpoint = "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
    _, _, body, headers = boto3_request(endpoint, "us-east-1", CREDENTIALS["no token"], "a=",
                                        "é")
    ours = ManagementAPI(endpoint, "us-east-1", credentials=CREDENTIALS["no token"])
    request = ours.signed_request("a=", "é".encode())
    assert request.body == body == "é".encode()
    assert request.headers["Authorization"] == headers["Authorization"]


# ---- 3. the local gateway's real Management API, over HTTP ---------------------------

@pytest.fixture(scope="module")
def served():
    """`devkit serve` in a child process: its gateway checks SigV4 as API Gateway does."""
    from devkit.served import ServeProcess
    with ServeProcess(secret=SECRET, team_id=TEAM) as process:
        yield process


@pytest.fixture
def lean(served):
    client = ManagementAPI(served.url, "us-east-1", credentials=LOCAL)
    yield client
    client.close()


@contextlib.contextmanager
def connected(stack):
    """A dashboard and its connection id: the one its connect added (records of
    dashboards closed just before may still be there: $disconnect runs after the close)."""
    before = set(connection_ids(stack))
    with dashboard(stack) as page:
        added = wait_for(lambda: set(connection_ids(stack)) - before)
        assert len(added) == 1, added
        yield page, added.pop()


def test_a_push_arrives_on_the_dashboard(served, lean):
    with connected(served) as (page, connection_id):
        assert lean.post_to_connection(ConnectionId=connection_id, Data=b'{"hello": 1}') is None
        assert receive(page) == {"hello": 1}
        lean.post_to_connection(ConnectionId=connection_id, Data='{"text": "é"}')
        assert receive(page) == {"text": "é"}


def test_credentials_from_botocore_s_default_chain(served, monkeypatch):
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    client = ManagementAPI(served.url, "us-east-1")
    with connected(served) as (page, connection_id):
        client.post_to_connection(ConnectionId=connection_id, Data=b'{"chain": 1}')
        assert receive(page) == {"chain": 1}


def test_refreshable_credentials_are_refreshed_before_signing(served):
    refreshed = []

    def refresh():
        refreshed.append(time.time())
        expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        return {"access_key": "local", "secret_key": "local", "token": None,
                "expiry_time": expiry.isoformat()}

    expired = (datetime.datetime.now(datetime.timezone.utc)
               - datetime.timedelta(minutes=1)).isoformat()
    credentials = RefreshableCredentials.create_from_metadata(
        {"access_key": "local", "secret_key": "stale", "token": None, "expiry_time": expired},
        refresh_using=refresh, method="test")
    client = ManagementAPI(served.url, "us-east-1", credentials=credentials)
    with connected(served) as (page, connection_id):
        client.post_to_connection(ConnectionId=connection_id, Data=b'{"fresh": 1}')
        assert receive(page) == {"fresh": 1}
    assert len(refreshed) == 1


def _boto3(served, secret: str = "local"):
    return boto3.session.Session().client(
        "apigatewaymanagementapi", endpoint_url=served.url, region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key=secret,
        config=Config(retries={"mode": "standard", "max_attempts": 4}))


def _same_error(ours: ClientError, theirs: ClientError) -> None:
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.response["Error"] == theirs.response["Error"]
    for key in ("HTTPStatusCode", "RetryAttempts"):
        assert ours.response["ResponseMetadata"][key] == theirs.response["ResponseMetadata"][key]
    assert str(ours) == str(theirs)


def test_an_unknown_connection_raises_gone_as_boto3_does(served, lean):
    with pytest.raises(lean.exceptions.GoneException) as ours:
        lean.post_to_connection(ConnectionId="bm9wZQ==", Data=b"x")
    assert ours.value.response["Error"]["Code"] == "GoneException"
    assert ours.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    assert ours.value.response["ResponseMetadata"]["RetryAttempts"] == 0
    boto3_client = _boto3(served)
    with pytest.raises(boto3_client.exceptions.GoneException) as theirs:
        boto3_client.post_to_connection(ConnectionId="bm9wZQ==", Data=b"x")
    _same_error(ours.value, theirs.value)


def test_wrong_credentials_are_a_403_client_error_as_boto3_s(served):
    lean = ManagementAPI(served.url, "us-east-1", credentials=Credentials("local", "wrong"))
    with connected(served) as (_, connection_id):
        with pytest.raises(ClientError) as ours:
            lean.post_to_connection(ConnectionId=connection_id, Data=b"x")
        with pytest.raises(ClientError) as theirs:
            _boto3(served, secret="wrong").post_to_connection(ConnectionId=connection_id, Data=b"x")
    assert ours.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert ours.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert not isinstance(ours.value, lean.exceptions.GoneException)
    _same_error(ours.value, theirs.value)


def test_no_credentials_anywhere_is_botocore_s_error(served, monkeypatch, tmp_path):
    # Nothing for the default chain to find: no keys in the environment, no files, no
    # container or instance role. boto3 raises the same, at the call.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = ManagementAPI(served.url, "us-east-1")
    with pytest.raises(NoCredentialsError):
        client.post_to_connection(ConnectionId="abc", Data=b"x")


def test_pushes_from_many_threads_all_arrive(served, lean):
    # One client shared by more threads than its pool keeps connections (16), as the
    # fan-out shares it.
    with contextlib.ExitStack() as opened:
        pages, ids = zip(*(opened.enter_context(connected(served)) for _ in range(4)))

        def push(n: int) -> None:
            lean.post_to_connection(ConnectionId=ids[n % 4], Data=json.dumps({"n": n}).encode())

        with ThreadPoolExecutor(32) as pool:
            list(pool.map(push, range(400)))
        got = [receive(page)["n"] for page in pages for _ in range(100)]
    assert sorted(got) == list(range(400))


def test_a_refused_connection_is_endpoint_connection_error_after_retries():
    # A port nothing listens on: connection refused, a transient error, retried.
    client = ManagementAPI(f"http://127.0.0.1:{dynamodb.free_port()}", "us-east-1",
                           credentials=LOCAL, max_attempts=2)
    with pytest.raises(EndpointConnectionError) as raised:
        client.post_to_connection(ConnectionId="abc", Data=b"x")
    assert isinstance(raised.value, BotoCoreError)


def test_a_silent_server_is_a_read_timeout():
    # It accepts the connection (the kernel's backlog) but never answers.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        client = ManagementAPI(f"http://127.0.0.1:{listener.getsockname()[1]}", "us-east-1",
                               credentials=LOCAL, read_timeout=0.2, max_attempts=1)
        with pytest.raises(ReadTimeoutError):
            client.post_to_connection(ConnectionId="abc", Data=b"x")


# Throttling needs the gateway's fault injection, which only the in-process stack (the
# session's `stack` fixture) exposes.

def test_throttled_pushes_are_retried_and_delivered(stack):
    client = ManagementAPI(stack.url, "us-east-1", credentials=LOCAL)
    with connected(stack) as (page, connection_id):
        stack.gateway.throttle[connection_id] = 2  # the next 2 pushes: LimitExceededException
        client.post_to_connection(ConnectionId=connection_id, Data=b'{"after": "throttling"}')
        assert receive(page) == {"after": "throttling"}
        assert stack.gateway.throttle[connection_id] == 0


def test_more_throttling_than_attempts_raises_limit_exceeded(stack):
    client = ManagementAPI(stack.url, "us-east-1", credentials=LOCAL, max_attempts=2)
    with connected(stack) as (_, connection_id):
        stack.gateway.throttle[connection_id] = 5
        with pytest.raises(client.exceptions.LimitExceededException) as raised:
            client.post_to_connection(ConnectionId=connection_id, Data=b"x")
        assert stack.gateway.throttle[connection_id] == 3  # exactly 2 attempts
    metadata = raised.value.response["ResponseMetadata"]
    assert (metadata["HTTPStatusCode"], metadata["RetryAttempts"]) == (429, 1)
    assert metadata["MaxAttemptsReached"] is True
    assert raised.value.response["Error"]["Code"] == "LimitExceededException"
