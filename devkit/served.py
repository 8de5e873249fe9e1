"""`python -m devkit serve` in a child process: its own interpreter, as a real
gateway and Lambda would be, with a fresh DynamoDB Local. For the bench and the
tests that need a second stack (other settings) beside the session's own."""
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Dict, Optional

import requests

from . import dynamodb

ROOT = Path(__file__).resolve().parent.parent
# Settings a parent process may have exported for its own stack; never inherited.
APP_SETTINGS = ("SLACK_SIGNING_SECRET", "SLACK_TEAM_ID", "COUNTS_TABLE", "CONNECTIONS_TABLE",
                "DYNAMODB_ENDPOINT_URL", "WEBSOCKET_ENDPOINT_URL", "COUNTS_STREAM_ARN",
                "PUSH_QUEUE_URL", "PUSH_QUEUE_ARN", "SQS_ENDPOINT_URL", "FANOUT_SHARD_SIZE",
                "TASKS_QUEUE_URL", "TASKS_QUEUE_ARN", "JOIN_PUBLIC_CHANNELS", "ACCESS",
                "PUBLIC_URL", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_OPENID_URL",
                "SESSION_KEYS", "DASHBOARD_ADMINS")


class ServeProcess:
    counts_table = "emojiboard-counts"
    connections_table = "emojiboard-connections"
    host = "127.0.0.1"

    def __init__(self, *extra: str, secret: str, team_id: str,
                 env: Optional[Dict[str, str]] = None, access: str = "public"):
        self.port = dynamodb.free_port()
        self.secret, self.team_id = secret, team_id
        child_env = {k: v for k, v in os.environ.items() if k not in APP_SETTINGS}
        child_env.update(SLACK_SIGNING_SECRET=secret, **(env or {}))
        self._data = tempfile.mkdtemp(prefix="emojiboard-serve-")
        self.data_dir = self._data  # on DynamoDB Local's command line: finds its process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devkit", "serve", "--no-demo", "--port", str(self.port),
             "--team-id", team_id, "--data-dir", self._data, "--access", access, *extra],
            cwd=ROOT, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        while not any(line.startswith("Press Ctrl-C") for line in self.lines):
            line = self.process.stdout.readline()
            if not line:
                shutil.rmtree(self._data, ignore_errors=True)
                raise RuntimeError("devkit serve did not start:\n" + "".join(self.lines))
            self.lines.append(line)
        self.dynamodb_url = re.search(r"DynamoDB:\s+(\S+)", "".join(self.lines)).group(1)
        # What it logs after starting (the last lines), read on so it never blocks on a
        # full pipe.
        self.output: "collections.deque[str]" = collections.deque(maxlen=5000)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)

    def log_text(self) -> str:
        """Its output since it started (the last 5,000 lines)."""
        return "".join(list(self.output))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def dynamodb_client(self):
        return dynamodb.client(self.dynamodb_url)

    def board(self, window: str = "all") -> Dict[str, int]:
        rows = requests.get(f"{self.url}/api/leaderboard",
                            params={"window": window, "limit": 500}, timeout=30).json()
        return {row["emoji"]: row["count"] for row in rows["leaderboard"]}

    def stop(self) -> None:
        self.process.terminate()  # devkit serve stops its children on SIGTERM
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=10)  # its last lines, e.g. "Stopping..."
        shutil.rmtree(self._data, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
