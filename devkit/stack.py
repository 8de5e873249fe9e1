"""The whole local stack in one object: DynamoDB, tables, the gateway and the app.

Used by `devkit serve` and by the tests alike, so both run the same parts.
"""
import asyncio
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Optional

from aiohttp import web

from . import dynamodb, site, slack_api, streams, tables
from .gateway import AppPool, Gateway, app_environment

log = logging.getLogger(__name__)
LOCAL_SECRET = "local-signing-secret"


class LocalStack:
    def __init__(self, host: str = "127.0.0.1", port: int = 8000, dynamodb_choice: str = "local",
                 data_dir: Optional[Path] = dynamodb.ROOT / ".data" / "dynamodb",
                 secret: Optional[str] = None, team_id: Optional[str] = None,
                 instances: int = 8, workspace_name: str = "Local stack",
                 fanout: str = "inline",
                 counts_table: str = tables.DEFAULT_NAMES["counts"],
                 connections_table: str = tables.DEFAULT_NAMES["connections"]):
        self.host, self.port = host, port
        self.secret = secret or os.environ.get("SLACK_SIGNING_SECRET") or LOCAL_SECRET
        self.team_id = team_id
        self.counts_table, self.connections_table = counts_table, connections_table
        self._dynamodb_choice, self._data_dir = dynamodb_choice, data_dir
        self._instances, self._workspace_name = instances, workspace_name
        self.fanout = fanout
        self.stream_poller: Optional[streams.StreamPoller] = None
        self._site_dir: Optional[Path] = None
        # Slack's Web API, as far as the app uses it; outlives gateway restarts.
        self.slack = slack_api.SlackWebAPI(self.url)
        self._stop_dynamodb = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._runner: Optional[web.AppRunner] = None
        self.gateway: Optional[Gateway] = None
        self.dynamodb_url: Optional[str] = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def dynamodb_client(self):
        return dynamodb.client(self.dynamodb_url)

    def start(self) -> "LocalStack":
        self.dynamodb_url, self._stop_dynamodb = dynamodb.start(self._dynamodb_choice,
                                                                self._data_dir)
        try:
            client = self.dynamodb_client()
            tables.ensure(client, self.counts_table, self.connections_table,
                          stream=self.fanout == "stream")
            os.environ.update(app_environment(
                self.dynamodb_url, self.url, self.counts_table, self.connections_table,
                self.secret, self.team_id, self.fanout,
                tables.latest_stream_arn(client, self.counts_table)))
            self._site_dir = Path(tempfile.mkdtemp(prefix="emojiboard-site-"))
            site.build(self._site_dir, api_url=self.url,
                       ws_url=f"ws://{self.host}:{self.port}/ws", workspace=self._workspace_name)
            self.start_gateway()
            if self.fanout == "stream":
                self._start_stream_poller()
        except BaseException:
            self.stop()
            raise
        return self

    def start_gateway(self) -> None:
        """Start (or restart) the gateway alone; DynamoDB and its data stay."""
        started = threading.Event()
        failure = []

        def serve():
            self._loop = asyncio.new_event_loop()
            try:
                self.gateway = Gateway(AppPool(self._instances), self._site_dir, self.slack)
                self._runner = web.AppRunner(self.gateway.web, access_log=None)
                self._loop.run_until_complete(self._runner.setup())
                site = web.TCPSite(self._runner, self.host, self.port)
                self._loop.run_until_complete(site.start())
            except BaseException as error:  # reported to the starting thread
                failure.append(error)
                started.set()
                return
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="gateway", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            raise failure[0]

    def _start_stream_poller(self) -> None:
        """Lambda's event source mapping for the app's stream handler. It calls
        whichever gateway is running, so it outlives gateway restarts."""
        sources = self.gateway.pool.stream_sources()
        if len(sources) != 1:
            raise RuntimeError(f"stream fan-out needs one @app.on_dynamodb_record handler; "
                               f"app.py registered {len(sources)}")
        mapping = streams.MappingSettings.of(sources[0])
        self.stream_poller = streams.StreamPoller(
            self.dynamodb_url, self.counts_table, mapping,
            lambda event: self.gateway.pool.call(lambda app: app.invoke(mapping.handler_name, event)))
        self.stream_poller.start()

    def stop_gateway(self) -> None:
        if self._loop is None:
            return

        async def shutdown():
            await self.gateway.close_all()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=15)
        self._loop.close()
        self._loop = None

    def stop(self) -> None:
        try:
            if self.stream_poller:
                self.stream_poller.stop()
                self.stream_poller = None
            self.stop_gateway()
        finally:
            if self._site_dir:
                shutil.rmtree(self._site_dir, ignore_errors=True)
                self._site_dir = None
            if self._stop_dynamodb:
                self._stop_dynamodb()
                self._stop_dynamodb = None
