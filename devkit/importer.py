"""`python -m devkit history import`: start a history import in a deployment (or the
local stack) and follow it to the end with a progress bar.

The work runs in the deployment (chalicelib/history.py, on the tasks queue); this
only queues the request, as an operator with access to the queue, then reads the
import's job item from the counts table (as GET /api/history does, but with the
operator's AWS credentials: the API is behind Sign in with Slack) until it is done. Ctrl-C stops following, not the import;
running the command again attaches to the one running (and resumes it if it stalled).
"""
import json
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Optional

import boto3
import requests
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.history import History

START_TIMEOUT = 120.0  # for the worker to pick the request up and answer with it
POLL_SECONDS = 1.0
BAR_WIDTH = 30


class HistoryImportError(RuntimeError):
    """The import could not be started or followed; the message says why."""


@dataclass
class Target:
    history: History      # reads the import's job item (History.status)
    workspace: str        # whose import: SLACK_TEAM_ID, or "any"
    queue_url: str        # the tasks queue
    sqs: object           # a boto3 SQS client that may send to it

    @classmethod
    def local(cls, url: str) -> "Target":
        """The local stack at `url` (`devkit serve`), which says where its queue is."""
        return cls.of_local(local_endpoints(url))

    @classmethod
    def of_local(cls, found: dict) -> "Target":
        """The local stack whose `local_endpoints` these are."""
        return cls(_reader(local_client(found, "dynamodb"), found["counts_table"]),
                   found["workspace"], found["tasks_queue_url"], local_client(found, "sqs"))

    @classmethod
    def deployed(cls, stage: str, session) -> "Target":
        """A deployed stage: its queue from the app stack's outputs, its API from
        Chalice's record of the deploy."""
        from . import infra
        from .deploy import slack_settings
        stack = infra.stack_names(stage)["app"]
        try:
            described = session.client("cloudformation").describe_stacks(StackName=stack)
        except ClientError as error:  # others: the CLI turns AWS errors into one line
            if "does not exist" in error.response["Error"].get("Message", ""):
                raise HistoryImportError(f"stage {stage} is not deployed in {session.region_name} "
                                   f"(no stack {stack}): run make deploy STAGE={stage}") from None
            raise
        outputs = {o["OutputKey"]: o["OutputValue"]
                   for o in described["Stacks"][0].get("Outputs", [])}
        if "TasksQueueUrl" not in outputs:
            raise HistoryImportError(f"stage {stage} was deployed by an older release: "
                               f"run make deploy STAGE={stage} first")
        # The workspace the functions count for, from where the deploy read it.
        team = slack_settings(stage, session.client("ssm"), echo=lambda _: None).get("SLACK_TEAM_ID")
        return cls(_reader(session.client("dynamodb"), infra.table_names(stage)["counts"]),
                   team or "any", outputs["TasksQueueUrl"], session.client("sqs"))

    def status(self) -> dict:
        try:
            return self.history.status(self.workspace).to_dict()
        except (ClientError, BotoCoreError) as error:
            raise HistoryImportError(f"cannot read the import's state from the counts table: "
                                     f"{error}") from None

    def send(self, task: dict) -> None:
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(task))


def local_endpoints(url: str) -> dict:
    """What the local stack at `url` says of itself (GET /_devkit/endpoints: its
    DynamoDB, tables, queues and workspace), or a HistoryImportError in one line."""
    try:
        answer = requests.get(url.rstrip("/") + "/_devkit/endpoints", timeout=5)
    except requests.RequestException as error:
        raise HistoryImportError(f"no local stack at {url}: {error.__class__.__name__}") from None
    if answer.status_code != 200:
        raise HistoryImportError(f"{url} is not a devkit stack (GET /_devkit/endpoints: "
                                 f"{answer.status_code})")
    return answer.json()


def local_client(found: dict, service: str):
    """A boto3 client for the local stack's `dynamodb` or `sqs`, signing with the
    local credentials."""
    from .gateway import LOCAL_CREDENTIALS
    return boto3.client(service, endpoint_url=found[f"{service}_endpoint_url"],
                        region_name=found["region"],
                        aws_access_key_id=LOCAL_CREDENTIALS.access_key,
                        aws_secret_access_key=LOCAL_CREDENTIALS.secret_key)


def _reader(dynamodb, counts_table: str) -> History:
    """History as far as reading its job goes (no counting, no Slack)."""
    return History(dynamodb, counts_table, None, None, "", frozenset(), False)


def request(target: Target, days: int, echo: Callable[[str], None]) -> str:
    """Queue an import of `days` days, or attach to the one running; its job id."""
    status = target.status()
    if status["state"] == "running":
        echo(f"An import is running (since {status['oldest']}): following it.")
        # If its chain of slices broke, this picks it up where it stood (history.py).
        target.send({"task": "import", "job": status["job"], "resume": True})
        return status["job"]
    job = uuid.uuid4().hex
    target.send({"task": "import", "job": job, "days": days})
    return job


def follow(target: Target, job: str, echo: Callable[..., None],
           clock: Callable[[], float] = time.monotonic, poll: float = POLL_SECONDS,
           tty: Optional[bool] = None) -> dict:
    """Show the import's progress until it ends; its last status."""
    tty = sys.stdout.isatty() if tty is None else tty
    asked = clock()
    last = None
    while True:
        status = target.status()
        if status.get("job") != job:
            if status["state"] == "running":
                raise HistoryImportError(f"another import ({status['job']}) started meanwhile; "
                                         "run the command again to follow it")
            if clock() - asked > START_TIMEOUT:
                raise HistoryImportError(
                    f"the import did not start within {START_TIMEOUT:.0f} s: nothing reads the "
                    "tasks queue (locally: is `devkit serve` running? On AWS: is slack_tasks "
                    "deployed?)")
            time.sleep(poll)
            continue
        line = progress_line(status)
        if tty:
            echo("\r" + line.ljust(last and len(last) or 0), nl=False)
        elif line != last:
            echo(line)
        last = line
        if status["state"] in ("done", "failed"):
            if tty:
                echo("")
            return status
        time.sleep(poll)


def progress_line(status: dict) -> str:
    total, done = status["channels_total"], status["channels_done"]
    share = done / total if total else 0.0
    filled = int(round(share * BAR_WIDTH))
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    state = {"running": "importing", "done": "done", "failed": "failed"}[status["state"]]
    text = (f"[{bar}] {done}/{total or '?'} channels, {status['reactions_imported']:,} "
            f"reactions since {status['oldest']}: {state}")
    if status.get("error"):
        text += f" ({status['error']})"
    return text
