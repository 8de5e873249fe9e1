"""The whole local stack in one object: DynamoDB, tables, the gateway and the app.

Used by `devkit serve` and by the tests alike, so both run the same parts.
Whatever happens during start() (a taken port, a failure, Ctrl-C or SIGTERM), it
stops what it had started, DynamoDB's child process included, before raising.
"""
import asyncio
import concurrent.futures
import errno
import logging
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Dict, Optional

from aiohttp import web

from chalicelib.settings import switch

from chalicelib import sessions

from . import dynamodb, local_logs, moto_sqs, site, slack_api, slack_openid, streams, tables
from .pusher import Pushers
from . import gateway
from .gateway import AppPool, Gateway, app_environment

log = logging.getLogger(__name__)
LOCAL_SECRET = "local-signing-secret"
PUSH_QUEUE = "emojiboard-push"
PUSH_VISIBILITY_S = 30  # gateway.AppInstance's Lambda timeout
TASKS_QUEUE = "emojiboard-tasks"
# A tasks slice that died (the worker killed) is delivered again after this; on AWS
# it is 6 x the function's timeout (devkit/infra.py), here short enough to wait for.
TASKS_VISIBILITY_S = 40


class StartError(RuntimeError):
    """The stack could not start; the message says why, in one line."""


class PortInUse(StartError):
    pass


def describe(error: BaseException) -> str:
    """One line for any error, never empty (str(TimeoutError()) is "")."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def check_port(host: str, port: int) -> None:
    """Fail at once, before anything starts, when the gateway could not listen on
    host:port. SO_REUSEADDR as aiohttp binds, so a port in TIME_WAIT counts as free."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(f"port {port} on {host} is in use") from None
        raise StartError(f"cannot listen on {host} port {port}: "
                         f"{error.strerror or describe(error)}") from None


class LocalStack:
    def __init__(self, host: str = "127.0.0.1", port: int = 8000, dynamodb_choice: str = "local",
                 data_dir: Optional[Path] = dynamodb.ROOT / ".data" / "dynamodb",
                 secret: Optional[str] = None, team_id: Optional[str] = None,
                 instances: int = 8, workspace_name: str = "Local stack",
                 pushers: int = 1, shard_size: Optional[int] = None,
                 counts_table: str = tables.DEFAULT_NAMES["counts"],
                 connections_table: str = tables.DEFAULT_NAMES["connections"],
                 slack_workspace: Optional[Path] = None, access: str = "slack"):
        self.host, self.port = host, port
        self.access = access
        self.secret = secret or os.environ.get("SLACK_SIGNING_SECRET") or LOCAL_SECRET
        self.team_id = team_id
        self.counts_table, self.connections_table = counts_table, connections_table
        self._dynamodb_choice, self._data_dir = dynamodb_choice, data_dir
        self._instances, self._workspace_name = instances, workspace_name
        self.pushers, self.shard_size = pushers, shard_size
        self.stream_poller: Optional[streams.StreamPoller] = None
        self.push_queue: Optional[tuple] = None  # (URL, ARN) on the local SQS
        self.tasks_queue: Optional[tuple] = None  # (URL, ARN): joining, history imports
        self.tasks_worker: Optional[Pushers] = None  # `slack_tasks`, fed from it
        self._stop_sqs = None
        self._pushers: Optional[Pushers] = None
        self.sqs_url: Optional[str] = None
        self._site_dir: Optional[Path] = None
        self._site_headers: Dict[str, str] = {}
        # Slack's Web API, as far as the app uses it; outlives gateway restarts.
        self.slack = slack_api.SlackWebAPI(self.url, workspace=slack_workspace)
        self._stop_dynamodb = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._runner: Optional[web.AppRunner] = None
        self.gateway: Optional[Gateway] = None
        self.dynamodb_url: Optional[str] = None
        # The app's log lines (devkit/local_logs.py): with the data when it is kept.
        self._log_dir = Path(data_dir) / "logs" if data_dir is not None else None
        self.logs: Optional[local_logs.LogStore] = None
        self._temporary_logs = False

    @property
    def url(self) -> str:
        return dynamodb.http_url(self.host, self.port)

    def dynamodb_client(self):
        return dynamodb.client(self.dynamodb_url)

    def start(self) -> "LocalStack":
        """Start everything, or raise StartError (or KeyboardInterrupt, for Ctrl-C or
        SIGTERM) having stopped whatever had started."""
        try:
            self._start()
        except BaseException as error:
            log.debug("the stack failed to start", exc_info=True)
            self.stop()
            if isinstance(error, Exception) and not isinstance(error, StartError):
                raise StartError(describe(error)) from error
            raise
        return self

    def _start(self) -> None:
        check_port(self.host, self.port)
        self._start_logs()
        self.dynamodb_url, self._stop_dynamodb = dynamodb.start(
            self._dynamodb_choice, self._data_dir, self.host)
        client = self.dynamodb_client()
        tables.ensure(client, self.counts_table, self.connections_table)
        # The push queue, on moto's SQS: the visibility timeout is the local functions'
        # timeout (a shard whose pusher failed comes back once it surely gave up).
        self.sqs_url, self._stop_sqs = moto_sqs.start(self.host)
        self.push_queue = moto_sqs.ensure_queue(self.sqs_url, PUSH_QUEUE, PUSH_VISIBILITY_S)
        self.tasks_queue = moto_sqs.ensure_queue(self.sqs_url, TASKS_QUEUE, TASKS_VISIBILITY_S)
        # Only the local credentials sign the app's calls (see app_environment).
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.update(app_environment(
            self.dynamodb_url, self.url, self.counts_table, self.connections_table,
            self.secret, self.team_id, tables.latest_stream_arn(client, self.counts_table),
            push_queue=self.push_queue, sqs_url=self.sqs_url, shard_size=self.shard_size,
            tasks_queue=self.tasks_queue))
        os.environ.update(self._access_environment())
        self._site_dir = Path(tempfile.mkdtemp(prefix="emojiboard-site-"))
        built = site.build(self._site_dir, workspace=self._workspace_name,
                           people_boards=switch(os.environ, "PEOPLE_BOARDS", True))
        self._site_headers = site.security_headers(built.csp)
        self.start_gateway()
        self._start_stream_poller()
        # Lambda's SQS event source mapping and push_shard, in processes of their own
        # (so two pushers can use two cores), with the environment set above.
        self._pushers = Pushers(self.pushers, self.sqs_url, function="push_shard").start()
        self.tasks_worker = Pushers(1, self.sqs_url, function="slack_tasks").start()

    def _start_logs(self) -> None:
        """Where the app's log lines go, as Lambda sends them to CloudWatch Logs: this
        process's, and (DEVKIT_LOG_DIR) the pusher processes'."""
        if self._log_dir is None:
            self._log_dir = Path(tempfile.mkdtemp(prefix="emojiboard-logs-"))
            self._temporary_logs = True
        self.logs = local_logs.LogStore(self._log_dir)
        self.logs.prune()
        local_logs.capture(self._log_dir, "serve")
        os.environ[local_logs.ENV] = str(self._log_dir)

    def _access_environment(self) -> Dict[str, str]:
        """Sign in with Slack against the stand-in (devkit/slack_openid.py): its client,
        its OpenID endpoints, this stack's URL as the public one. Session keys are kept
        beside the data, so a restart keeps people signed in."""
        env = {"ACCESS": self.access, "PUBLIC_URL": self.url,
               "SLACK_CLIENT_ID": slack_openid.LOCAL_CLIENT_ID,
               "SLACK_CLIENT_SECRET": slack_openid.LOCAL_CLIENT_SECRET,
               "SLACK_OPENID_URL": self.url + slack_openid.PREFIX + "connect/",
               "SESSION_KEYS": self._session_keys()}
        if self.access == "slack" and not self.team_id:
            # Only this workspace's members may sign in: the stand-in's, unless pinned.
            env["SLACK_TEAM_ID"] = self.slack.team["id"]
        return env

    def _session_keys(self) -> str:
        if self._data_dir is None:
            return sessions.new_key()
        path = Path(self._data_dir).parent / "session-keys"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(sessions.new_key())
            path.chmod(0o600)
        return path.read_text().strip()

    def set_access(self, access: str) -> None:
        """Switch ACCESS as a redeploy with another value would: the app's instances
        build their services again from the new settings (tests use both modes on one
        stack)."""
        from chalicelib import services
        self.access = access
        os.environ["ACCESS"] = access
        services.get.cache_clear()

    def endpoints(self) -> dict:
        """What devkit commands need to reach this stack as they reach AWS (served at
        /_devkit/endpoints): the API, and the SQS endpoint and queue they send to."""
        return {"api_url": self.url, "sqs_endpoint_url": self.sqs_url,
                "tasks_queue_url": self.tasks_queue[0], "region": gateway.REGION,
                "dynamodb_endpoint_url": self.dynamodb_url, "counts_table": self.counts_table,
                "connections_table": self.connections_table,
                "workspace": os.environ.get("SLACK_TEAM_ID") or "any",
                "stage": gateway.STAGE}

    def start_gateway(self) -> None:
        """Start (or restart) the gateway alone; DynamoDB and its data stay. Its event
        loop runs on a thread of its own (the caller's thread may run a loop already, as
        Playwright's does); it listens before this returns, or has cleaned up and raises."""
        loop = asyncio.new_event_loop()
        gateway = Gateway(AppPool(self._instances), self._site_dir, self.slack,
                          site_headers=self._site_headers, logs=self.logs)
        runner = gateway.runner()
        started, failure = threading.Event(), []

        def serve():
            try:
                loop.run_until_complete(runner.setup())
                loop.run_until_complete(web.TCPSite(runner, self.host, self.port).start())
            except BaseException as error:  # reported to the starting thread
                failure.append(error)
                loop.run_until_complete(runner.cleanup())
                loop.close()
                started.set()
                return
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=serve, name="gateway", daemon=True)
        thread.start()
        interrupted = None
        while not started.is_set():
            try:
                started.wait()
            except BaseException as error:  # Ctrl-C: let it finish starting, then stop it
                interrupted = error
        if failure:
            raise failure[0]
        self.gateway, self._runner, self._loop, self._thread = gateway, runner, loop, thread
        gateway.devkit_endpoints = self.endpoints()
        if interrupted is not None:
            raise interrupted  # start()'s cleanup stops the gateway

    def _start_stream_poller(self) -> None:
        """Lambda's event source mapping for the app's stream handler. It calls
        whichever gateway is running, so it outlives gateway restarts."""
        sources = self.gateway.pool.stream_sources()
        if len(sources) != 1:
            raise RuntimeError(f"the fan-out needs one @app.on_dynamodb_record handler; "
                               f"app.py registered {len(sources)}")
        mapping = streams.MappingSettings.of(sources[0])
        self.stream_poller = streams.StreamPoller(
            self.dynamodb_url, self.counts_table, mapping,
            lambda event: self.gateway.pool.call(
                mapping.handler_name, lambda app: app.invoke(mapping.handler_name, event)))
        self.stream_poller.start()

    def stop_gateway(self) -> None:
        if self._loop is None:
            return
        loop, self._loop = self._loop, None

        async def shutdown():
            await self.gateway.close_all()
            await self._runner.cleanup()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=15)
        except concurrent.futures.TimeoutError:  # stop anyway, DynamoDB after it
            log.warning("the gateway did not shut down within 15 s; stopping it anyway")
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=15)
            if not loop.is_running():
                loop.close()

    def stop(self) -> None:
        try:
            if self._pushers:
                self._pushers.stop()
                self._pushers = None
            if self.tasks_worker:
                self.tasks_worker.stop()
                self.tasks_worker = None
            if self.stream_poller:
                self.stream_poller.stop()
                self.stream_poller = None
            self.stop_gateway()
        finally:
            if self._site_dir:
                shutil.rmtree(self._site_dir, ignore_errors=True)
                self._site_dir = None
            if self.logs is not None:
                local_logs.release()
                os.environ.pop(local_logs.ENV, None)
                self.logs = None
                if self._temporary_logs:
                    shutil.rmtree(self._log_dir, ignore_errors=True)
                    self._log_dir, self._temporary_logs = None, False
            if self._stop_sqs:
                self._stop_sqs()
                self._stop_sqs = None
            if self._stop_dynamodb:
                self._stop_dynamodb()
                self._stop_dynamodb = None
