"""Lambda's SQS event source mapping, for the laptop.

Reads a real queue (moto's SQS server, devkit/moto_sqs.py) and invokes one
`@app.on_sqs_message` handler as Lambda does. What AWS documents
(https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html) and this does:

- the mapping's own settings, read from the app (chalice.app.SQSEventConfig): the
  queue's ARN, batch size, batching window;
- long polls; a batch goes out when it holds `batch_size` messages, when the batching
  window has passed since its first message (no window: as soon as one receive brought
  anything), or before it would pass the 6 MB synchronous invocation payload limit;
- on success the batch's messages are deleted; when the handler raises, nothing is
  deleted and every message of the batch comes back after the queue's visibility
  timeout ("By default, if your function encounters an error while processing a batch,
  all messages in that batch become visible in the queue again after the visibility
  timeout expires");
- events shaped as Lambda delivers them (the "Example standard queue message event"):
  `{"Records": [{"messageId", "receiptHandle", "body", "attributes": {
  "ApproximateReceiveCount", "SentTimestamp", "SenderId",
  "ApproximateFirstReceiveTimestamp"}, "messageAttributes", "md5OfBody", "eventSource":
  "aws:sqs", "eventSourceARN", "awsRegion"}]}`, message attributes in Lambda's camel
  case (`stringValue`, `binaryValue` as base64, `stringListValues`, `binaryListValues`,
  `dataType`), and `md5OfMessageAttributes` only on a message that has attributes.

One poller is one concurrent invocation: Lambda runs five and more at once, the devkit
runs one poller per pusher process (devkit/pusher.py). Not modelled: partial batch
responses (ReportBatchItemFailures, which Chalice cannot configure anyway: a returned
value is ignored, as Lambda ignores it without that setting), filters, Lambda's
backoff after failures, FIFO queues' per-group ordering.
"""
import base64
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from botocore.exceptions import BotoCoreError, ClientError

from . import moto_sqs

log = logging.getLogger(__name__)

WAIT_S = 1              # each long poll: short, so stop() returns within about a second
RETRY_DELAY_S = 1.0     # after the queue could not be read
MAX_PAYLOAD = 6 * 1024 * 1024  # Lambda's synchronous invocation payload limit
# The system attributes Lambda's event carries: the documented four, plus the ones SQS
# adds for X-Ray and FIFO queues when they exist.
SYSTEM_ATTRIBUTES = ("ApproximateReceiveCount", "SentTimestamp", "SenderId",
                     "ApproximateFirstReceiveTimestamp", "AWSTraceHeader", "SequenceNumber",
                     "MessageGroupId", "MessageDeduplicationId")


@dataclass
class MappingSettings:
    """What `@app.on_sqs_message(...)` registered (chalice.app.SQSEventConfig)."""
    handler_name: str
    queue_arn: Optional[str]
    queue_name: Optional[str]  # Chalice's `queue=`, when no ARN was given
    batch_size: int
    batching_window_s: float

    @classmethod
    def of(cls, source) -> "MappingSettings":
        return cls(source.name, source.queue_arn, source.queue, source.batch_size,
                   source.maximum_batching_window_in_seconds)


def lambda_message_attribute(value: dict) -> dict:
    """A ReceiveMessage MessageAttributeValue as Lambda's event spells it."""
    shaped = {"stringListValues": list(value.get("StringListValues", [])),
              "binaryListValues": [base64.b64encode(v).decode()
                                   for v in value.get("BinaryListValues", [])],
              "dataType": value["DataType"]}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:  # boto3 hands bytes; the event carries base64
        shaped["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return shaped


def lambda_record(message: dict, queue_arn: str) -> dict:
    """A ReceiveMessage message as Lambda hands it to the function."""
    attributes = message.get("Attributes", {})
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: attributes[name] for name in SYSTEM_ATTRIBUTES
                       if name in attributes},
        "messageAttributes": {name: lambda_message_attribute(value) for name, value
                              in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message["MD5OfBody"],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({"eventSource": "aws:sqs", "eventSourceARN": queue_arn,
                   "awsRegion": queue_arn.split(":")[3]})
    return record


class QueuePoller:
    """Feeds one handler from one queue, one batch at a time."""

    def __init__(self, endpoint_url: str, mapping: MappingSettings,
                 invoke: Callable[[dict], Any], wait_s: int = WAIT_S):
        self.mapping, self._invoke, self._wait_s = mapping, invoke, wait_s
        self._sqs = moto_sqs.client(endpoint_url)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.queue_url: Optional[str] = None
        self.queue_arn: Optional[str] = None
        self.batches = 0   # handled and deleted, for the logs and the tests
        self.failures = 0  # batches whose handler raised (left for redelivery)

    def start(self) -> "QueuePoller":
        """Find the queue (an error here is a configuration error: raised), then poll."""
        self.queue_url, self.queue_arn = self._resolve()
        self._thread = threading.Thread(target=self._run, name="queue-poller", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        """Stop polling; a batch being handled is finished (and deleted) first."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=timeout)

    def _resolve(self):
        """The queue's URL and ARN from the mapping, which names it as Lambda's does."""
        if self.mapping.queue_arn:
            _, _, _, _, account, name = self.mapping.queue_arn.split(":", 5)
            url = self._sqs.get_queue_url(QueueName=name,
                                          QueueOwnerAWSAccountId=account)["QueueUrl"]
        else:
            url = self._sqs.get_queue_url(QueueName=self.mapping.queue_name)["QueueUrl"]
        arn = self._sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        if self.mapping.queue_arn and arn != self.mapping.queue_arn:
            raise ValueError(f"{self.mapping.handler_name} is registered for "
                             f"{self.mapping.queue_arn}, but that queue is {arn} here")
        return url, arn

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._gather()
            except (ClientError, BotoCoreError) as error:
                log.warning("reading %s failed: %s", self.queue_arn, error)
                self._stop.wait(RETRY_DELAY_S)
                continue
            except Exception:  # never a silent end of polling: say why, and go on
                log.exception("polling %s failed", self.queue_arn)
                self._stop.wait(RETRY_DELAY_S)
                continue
            if batch:
                self._deliver(batch)

    def _gather(self) -> List[dict]:
        """The next batch: whatever one receive brings without a batching window (and at
        most 10, SQS's limit per call), else receives until full or the window passes."""
        records: List[dict] = []
        size = 0
        first_at = 0.0
        while not self._stop.is_set():
            room = self.mapping.batch_size - len(records)
            wait = self._wait_s
            if records:
                left = self.mapping.batching_window_s - (time.monotonic() - first_at)
                if left <= 0:
                    break
                wait = min(wait, max(1, int(left)))  # SQS waits in whole seconds
            messages = self._sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=min(room, 10),
                WaitTimeSeconds=wait, MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"]).get("Messages", [])
            for message in messages:
                record = lambda_record(message, self.queue_arn)
                record_size = len(json.dumps(record))
                if records and size + record_size > MAX_PAYLOAD:
                    # Over the payload limit: back to the queue at once, for a later batch.
                    self._sqs.change_message_visibility(
                        QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=0)
                    continue
                if not records:
                    first_at = time.monotonic()
                records.append(record)
                size += record_size
            if records and (len(records) >= self.mapping.batch_size
                            or size >= MAX_PAYLOAD
                            or self.mapping.batching_window_s <= 0):
                break
        return records

    def _deliver(self, records: List[dict]) -> None:
        try:
            self._invoke({"Records": records})
        except Exception:  # what Lambda sees as a failed invocation
            self.failures += 1
            log.exception("SQS handler %s failed on a batch of %d messages; they come back "
                          "after the queue's visibility timeout", self.mapping.handler_name,
                          len(records))
            return
        self._delete(records)
        self.batches += 1

    def _delete(self, records: List[dict]) -> None:
        for start in range(0, len(records), 10):  # DeleteMessageBatch takes 10 at most
            chunk = records[start:start + 10]
            try:
                response = self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"]}
                    for i, r in enumerate(chunk)])
            except (ClientError, BotoCoreError) as error:
                log.warning("deleting %d handled messages from %s failed (they will be "
                            "delivered again): %s", len(chunk), self.queue_arn, error)
                continue
            for failed in response.get("Failed", []):
                log.warning("deleting a handled message from %s failed (it will be delivered "
                            "again): %s", self.queue_arn, failed.get("Message"))
