"""The app's metrics, in CloudWatch's embedded metric format (EMF): values written into
the function's own log lines, from which CloudWatch Logs makes metrics with no API
call ("Specification: Embedded metric format", CloudWatch User Guide,
docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).

Every metric is in the namespace `Emojiboard` with the dimension `Stage`; the refused
events also by `Reason`. The alarms and the CloudWatch dashboard (devkit/monitoring.py)
and `python -m devkit status` (devkit/status.py) read these names, and nothing else
names them.
"""
from typing import Dict, List, Tuple

NAMESPACE = "Emojiboard"
STAGE = "Stage"
REASON = "Reason"

# The Slack route (`POST /slack/events`).
EVENTS_RECEIVED = "EventsReceived"    # every request answered, whatever the answer
EVENTS_COUNTED = "EventsCounted"      # reactions added or removed, counted once
EVENTS_DUPLICATE = "EventsDuplicate"  # an event id already counted (Slack's retries)
EVENTS_REFUSED = "EventsRefused"      # by Reason: REFUSALS
EVENTS_FAILED = "EventsFailed"        # answered 5xx: Slack retries it (the 5 % alarm)
# Any function: a DynamoDB call that failed (the request answered 503, or logged).
STORE_ERRORS = "StoreErrors"
# The fan-out (counts_changed, push_shard).
FANOUT_LATENCY = "FanoutLatency"      # ms, from the stream record's creation (commit,
                                      # whole seconds) to the last page pushed
PUSHES_SENT = "PushesSent"
PUSHES_GONE = "PushesGone"            # the page had gone: its connection was removed
PUSHES_FAILED = "PushesFailed"
STREAM_BATCH_SIZE = "StreamBatchSize"  # records in one stream batch
DASHBOARDS_OPEN = "DashboardsOpen"    # dashboards a stream batch found subscribed
# The history import (slack_tasks), per slice.
HISTORY_REACTIONS = "HistoryReactionsImported"
HISTORY_CHANNELS = "HistoryChannelsDone"

REFUSALS = ("signature", "malformed", "too_large")

COUNT, MILLISECONDS = "Count", "Milliseconds"
UNITS = {FANOUT_LATENCY: MILLISECONDS}  # the rest are counts

# EMF: at most 100 metrics in a directive, 100 values in a metric's array, 30
# dimensions in a set (the specification's "Limits").
MAX_VALUES = 100

Key = Tuple[str, Tuple[Tuple[str, str], ...]]  # (metric, ((dimension, value), ...))


class Metrics:
    """What one invocation measured: counts added up, values (latencies) kept in order,
    each under its metric name and extra dimension values; `blobs` renders them."""

    def __init__(self) -> None:
        self._values: Dict[Key, List[float]] = {}

    def add(self, name: str, value: float = 1, **dimensions: str) -> None:
        key = (name, tuple(sorted(dimensions.items())))
        values = self._values.setdefault(key, [])
        if UNITS.get(name, COUNT) == COUNT and values:
            values[0] += value  # a count is one sum per invocation
        else:
            values.append(value)

    def blobs(self, stage: str, timestamp_ms: int) -> List[dict]:
        """The EMF objects: each holds the `_aws` metadata, the dimension values and the
        metric values as root members, with one directive per set of dimensions. One
        blob holds everything unless two metrics need one dimension to have two values
        (two refusal reasons in one invocation) or a metric has over MAX_VALUES values."""
        left = {key: list(values) for key, values in self._values.items()}
        blobs = []
        while left:
            taken: Dict[Key, List[float]] = {}
            dims: Dict[str, str] = {}
            for (name, key_dims), values in left.items():
                # A root member holds one value: one per dimension, one per metric name.
                if all(dims.get(d, v) == v for d, v in key_dims) \
                        and all(name != other for other, _ in taken):
                    dims.update(key_dims)
                    taken[(name, key_dims)] = values[:MAX_VALUES]
            left = {key: values[MAX_VALUES:] if key in taken else values
                    for key, values in left.items()
                    if key not in taken or len(values) > MAX_VALUES}
            blobs.append(_blob(stage, dims, taken, timestamp_ms))
        return blobs


def _blob(stage: str, dims: Dict[str, str], taken: Dict[Key, List[float]],
          timestamp_ms: int) -> dict:
    directives: Dict[Tuple[str, ...], List[str]] = {}
    for name, key_dims in sorted(taken):
        directives.setdefault(tuple(d for d, _ in key_dims), []).append(name)
    blob = {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[STAGE, *extra]],
                "Metrics": [{"Name": name, "Unit": UNITS.get(name, COUNT)} for name in names],
            } for extra, names in directives.items()],
        },
        STAGE: stage,
        **dims,
    }
    for (name, _), values in taken.items():
        blob[name] = values[0] if len(values) == 1 else values
    return blob
