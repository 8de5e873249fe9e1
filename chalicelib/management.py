"""A lean API Gateway Management API client: PostToConnection only.

The fan-out pushes every update to every dashboard, so a push's CPU is the app's main
cost in a busy workspace. Measured (thread CPU per push to the local gateway,
devkit/pushcost.py; cProfile for the shares): a boto3 client takes about 0.75 ms, of
which SigV4 signing itself is about 0.04 ms. Most of the rest is generic machinery a
single fixed operation does not need: about ten event-system `emit`s per call,
rebuilding the User-Agent string every call (a fifth of the profile), validating and
serializing the parameters from the service model, endpoint-rules resolution, and
URLLib3Session's per-call proxy lookup, pool lookup by URL and response wrapping
(0.29 ms per send against 0.20 ms for urllib3's urlopen alone). This client takes about
0.3 ms, two thirds of it urllib3 and http.client. It keeps AWS's own pieces wherever
they are not that machinery:

- signing: botocore's SigV4Auth on a botocore AWSRequest, with credentials frozen per
  request from botocore's credential chain (so refreshable credentials keep working);
- the URI label: botocore's percent_encode, as its rest-json serializer encodes it;
- errors: the exception classes botocore's ClientExceptionsFactory builds from the
  service model, error bodies parsed by botocore's rest-json parser;
- retries: botocore's "standard" retry mode (botocore.retries.standard), the same
  conditions, backoff and retry quota a boto3 client registers;
- HTTP: a urllib3 connection pool (what botocore uses underneath), with botocore's
  TLS context and CA bundle, and its mapping of urllib3 errors to botocore's.

Written by hand, and why:
- the request line (method, URL): one fixed operation, so no serializer or endpoint
  rules; the service model is checked against it in tests/test_management_api.py;
- the Host header, computed once by SigV4Auth itself rather than on every signature;
- the send loop: botocore's Endpoint only runs inside a client's event system;
- the urllib3 error mapping: botocore's lives inline in URLLib3Session.send.

Deliberately not sent: the SDK's amz-sdk-invocation-id / amz-sdk-request headers
(unsigned client telemetry; a uuid4 per call) and proxies from the environment
(Lambda has none; botocore reads them on every call).
"""
import socket
import time
from typing import Union
from urllib.parse import urlsplit, urlunsplit

import botocore.session
import urllib3
from botocore import parsers
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.endpoint import convert_to_response_dict
from botocore.errorfactory import ClientExceptionsFactory
from botocore.exceptions import (ConnectionClosedError, ConnectTimeoutError,
                                 EndpointConnectionError, HTTPClientError,
                                 ParamValidationError, ReadTimeoutError, SSLError)
from botocore.httpsession import create_urllib3_context, get_cert_path
from botocore.retries import quota, standard
from botocore.useragent import UserAgentString
from botocore.utils import percent_encode
from urllib3 import exceptions as urllib3_errors

SERVICE = "apigatewaymanagementapi"
OPERATION = "PostToConnection"


class _Body:
    """A read response body where AWSResponse expects urllib3's raw stream."""

    def __init__(self, data: bytes):
        self._data = data

    def stream(self):
        yield self._data


class _Status:
    """What RetryQuotaChecker.release_retry_quota reads of a successful response."""

    def __init__(self, status_code: int):
        self.status_code = status_code


class ManagementAPI:
    """PostToConnection only, as a boto3 `apigatewaymanagementapi` client does it (same
    request bytes and signature, same exceptions, same standard-mode retries) at a
    fraction of its CPU. A drop-in for the one call chalicelib/broadcast.py makes.
    Thread-safe: share one instance between the fan-out's threads."""

    def __init__(self, endpoint_url: str, region: str, *, pool_size: int = 16,
                 connect_timeout: float = 1, read_timeout: float = 2, max_attempts: int = 4,
                 credentials=None):
        session = botocore.session.Session()
        self._model = session.get_service_model(SERVICE)
        self._operation = self._model.operation_model(OPERATION)
        self._protocol = self._model.resolved_protocol  # rest-json
        self._signing_name = self._model.signing_name  # execute-api
        self._region = region
        # None: botocore's default chain (environment, config files, container/instance
        # roles...), resolved once as a client does; frozen per request below.
        self._credentials = credentials if credentials is not None else session.get_credentials()
        # `client.exceptions`: GoneException, LimitExceededException, ... (ClientError
        # subclasses), from the service model's error shapes.
        self.exceptions = ClientExceptionsFactory().create_client_exceptions(self._model)

        # The URL as botocore.awsrequest._urljoin builds it: the endpoint's path (a stage,
        # "/prod" on AWS) less one trailing slash, then the operation's requestUri.
        self.endpoint_url = endpoint_url  # as a client's meta.endpoint_url
        parts = urlsplit(endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.hostname \
                or parts.query or parts.fragment:
            raise ValueError(f"not an endpoint URL: {endpoint_url!r}")
        path = parts.path[:-1] if parts.path.endswith("/") else parts.path
        self._url_prefix = urlunsplit((parts.scheme, parts.netloc, path + "/@connections/", "", ""))
        self._target_start = len(urlunsplit((parts.scheme, parts.netloc, "", "", "")))
        # The Host header SigV4Auth would derive from the URL on every call (its
        # _host_from_url: lower case, no default port), set once: signed and sent as is,
        # where botocore leaves it to urllib3 to write the same value.
        signer = SigV4Auth(None, self._signing_name, region)
        self._host = signer.headers_to_sign(AWSRequest(url=self._url_prefix))["host"]

        # Built once; a boto3 client rebuilds it on every call (a fifth of its CPU).
        self._user_agent = UserAgentString.from_environment().to_string() + " md/emojiboard#lean"

        # The pool botocore's URLLib3Session would build: keep-alive, maxsize connections
        # kept (more open when needed, not kept: block=False), TCP_NODELAY (urllib3's
        # default socket options, as botocore's), and for https botocore's TLS context
        # and CA bundle (certifi when installed, else botocore's own).
        pool_args = dict(maxsize=pool_size, block=False, retries=False,
                         timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout))
        if parts.scheme == "https":
            pool_args.update(ssl_context=create_urllib3_context(), cert_reqs="CERT_REQUIRED",
                             ca_certs=get_cert_path(True))
        self._pool = urllib3.connection_from_url(endpoint_url, **pool_args)

        # botocore.retries.standard.register_retry_handler's objects, without a client's
        # event system: standard conditions (transient 500/502/503/504 and connection
        # errors, throttling codes such as LimitExceededException, unmodeled 429s),
        # exponential backoff with jitter (1 s base for throttling, 50 ms otherwise,
        # x-amz-retry-after honoured) and the client-wide retry quota.
        # https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
        adapter = standard.RetryEventAdapter()
        throttling = standard.ThrottlingErrorDetector(adapter)
        self._retry_quota = standard.RetryQuotaChecker(quota.RetryQuota(), throttling)
        self._retry = standard.RetryHandler(
            retry_policy=standard.RetryPolicy(
                retry_checker=standard.StandardRetryConditions(max_attempts=max_attempts),
                retry_backoff=standard.ExponentialBackoff(
                    service_name=self._model.service_id.hyphenize(),
                    throttling_detector=throttling)),
            retry_event_adapter=adapter, retry_quota=self._retry_quota,
            service_name=self._model.service_id.hyphenize())

    # ---- the request ---------------------------------------------------------------

    def signed_request(self, connection_id: str, data: bytes) -> AWSRequest:
        """The request botocore would send for PostToConnection, signed now. Each call
        signs afresh (retries too, as botocore does): a retry must not reuse a
        signature nor credentials that may have been refreshed meanwhile."""
        request = AWSRequest(method="POST", url=self._url_prefix + percent_encode(connection_id),
                             data=data, headers={"Host": self._host})
        credentials = self._credentials
        # botocore's RequestSigner does the same: frozen credentials per request, and
        # with none, SigV4Auth raises NoCredentialsError.
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
        SigV4Auth(frozen, self._signing_name, self._region).add_auth(request)
        return request

    def post_to_connection(self, *, ConnectionId: str, Data: Union[bytes, str]) -> None:
        """Send `Data` to the WebSocket connection `ConnectionId`. Raises
        `self.exceptions.GoneException` for a gone connection, other ClientErrors for
        other HTTP errors, BotoCoreErrors for connection failures and timeouts."""
        # The types botocore's parameter validation lets through for a string and a blob.
        if not isinstance(ConnectionId, str):
            raise ParamValidationError(report=f"Invalid type for parameter ConnectionId, value: "
                                              f"{ConnectionId!r}, valid types: <class 'str'>")
        if isinstance(Data, str):  # a blob given as text: botocore sends its UTF-8
            Data = Data.encode("utf-8")
        elif not isinstance(Data, (bytes, bytearray)):
            raise ParamValidationError(report=f"Invalid type for parameter Data, value: {Data!r}, "
                                              "valid types: <class 'bytes'>, <class 'str'>")
        context = {}  # what the retry quota notes of this call (botocore's request context)
        attempt = 1
        while True:
            request = self.signed_request(ConnectionId, Data)
            headers = dict(request.headers.items())
            headers["User-Agent"] = self._user_agent  # never signed (SigV4Auth skips it)
            error = response = None
            try:
                # Reads the whole (empty, or small error) body, which returns the
                # connection to the pool.
                raw = self._pool.urlopen(
                    "POST", request.url[self._target_start:], body=Data, headers=headers,
                    retries=False, redirect=False, assert_same_host=False,
                    preload_content=True, decode_content=False, enforce_content_length=False)
            except Exception as caught:  # noqa: BLE001 - mapped as botocore maps it
                error = _botocore_error(caught, request.url)
            else:
                if raw.status < 300:
                    self._retry_quota.release_retry_quota(context, _Status(raw.status))
                    return None
                response = self._error_response(request.url, raw)
            delay = self._retry.needs_retry(
                response=response, attempts=attempt, operation=self._operation,
                caught_exception=error, request_dict={"context": context})
            # As botocore's Endpoint._needs_retry: None or False ends; a delay (even 0)
            # retries.
            if delay is None or delay is False:
                break
            time.sleep(delay)
            attempt += 1
        if error is not None:
            raise error
        parsed = response[1]
        parsed["ResponseMetadata"]["RetryAttempts"] = attempt - 1
        raise self.exceptions.from_code(parsed.get("Error", {}).get("Code"))(parsed, OPERATION)

    def _error_response(self, url: str, raw) -> tuple:
        """(AWSResponse, parsed) for an HTTP error, as botocore's Endpoint parses it: the
        code from x-amzn-ErrorType, else the body's code/__type (rest-json), else the
        status for an empty or HTML 5xx; then the modeled error's own fields."""
        http_response = AWSResponse(url, raw.status, raw.headers, _Body(raw.data))
        response_dict = convert_to_response_dict(http_response, self._operation)
        parser = parsers.create_parser(self._protocol)  # one per response, as botocore
        parsed = parser.parse(response_dict, self._operation.output_shape)
        code = parsed.get("Error", {}).get("Code")
        shape = self._model.shape_for_error_code(code) if code is not None else None
        if shape is not None:  # Endpoint._add_modeled_error_fields
            parsed.update(parser.parse(response_dict, shape))
        return http_response, parsed

    def close(self) -> None:
        self._pool.close()


def _botocore_error(error: Exception, url: str) -> Exception:
    """The botocore exception URLLib3Session.send raises for a urllib3 error (same
    order: urllib3's NewConnectionError is a ConnectTimeoutError subclass)."""
    if isinstance(error, urllib3_errors.SSLError):
        return SSLError(endpoint_url=url, error=error)
    if isinstance(error, (urllib3_errors.NewConnectionError, socket.gaierror)):
        return EndpointConnectionError(endpoint_url=url, error=error)
    if isinstance(error, urllib3_errors.ConnectTimeoutError):
        return ConnectTimeoutError(endpoint_url=url, error=error)
    if isinstance(error, urllib3_errors.ReadTimeoutError):
        return ReadTimeoutError(endpoint_url=url, error=error)
    if isinstance(error, urllib3_errors.ProtocolError):
        return ConnectionClosedError(error=error, request=None, endpoint_url=url)
    return HTTPClientError(error=error)
