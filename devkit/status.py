"""`python -m devkit status --stage S | --local URL`: one screen that says whether the
app is working: the last event counted and when, events in the last hour and day,
the refused and 5xx rates, dashboards open, the fan-out's latency (p95), the alarms
in alarm and the history import.

Both read the same metrics (chalicelib/metrics.py) through a `Source`: on AWS from
CloudWatch (GetMetricData, DescribeAlarms), locally from the stack's own log lines
(devkit/local_logs.py, read as CloudWatch would by devkit/emf.py). Dashboards open
and the import's state are read from the tables, the same way in both.
"""
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Dict, List, Optional, Tuple

import requests

from chalicelib import metrics
from chalicelib.connections import ConnectionStore

from . import emf

HOUR, DAY, MINUTE = 3600, 86400, 60
P95 = 95


class StatusError(RuntimeError):
    """What stops `status` (no stack at the URL, a stage not deployed), in one line."""


@dataclass
class Report:
    where: str
    now: float
    last_counted: Optional[float]  # the start of the last minute with an event counted
    counted_hour: float
    counted_day: float
    received_hour: float
    refused_hour: Dict[str, float]
    failed_hour: float
    latency_p95_ms: Optional[float]
    dashboards_open: Optional[int]
    alarms: Optional[List[str]]  # None where there are no alarms (locally)
    history: Optional[dict]
    notes: List[str] = field(default_factory=list)

    @property
    def refused_rate(self) -> Optional[float]:
        return sum(self.refused_hour.values()) / self.received_hour if self.received_hour else None

    @property
    def failed_rate(self) -> Optional[float]:
        return self.failed_hour / self.received_hour if self.received_hour else None

    def verdict(self) -> str:
        if self.alarms:
            return f"NEEDS ATTENTION: {len(self.alarms)} alarm(s) in alarm"
        if (self.failed_rate or 0) > 0.05:
            return "NEEDS ATTENTION: over 5 % of Slack's deliveries answered 5xx in the last hour"
        if not self.counted_day:
            return "QUIET: no event counted in the last day (is the app installed and in channels?)"
        return "working"


class Source:
    """Per-minute sums and a percentile of a metric (Stage and any extra dimensions)."""

    def minutes(self, name: str, dims: Dict[str, str], start: float, end: float
                ) -> Dict[float, float]:
        raise NotImplementedError

    def percentile(self, name: str, p: float, dims: Dict[str, str], start: float,
                   end: float) -> Optional[float]:
        raise NotImplementedError


class LocalSource(Source):
    """Metrics as CloudWatch would extract them from the local stack's log lines."""

    def __init__(self, lines: List[dict]):
        self._metrics = emf.LocalMetrics(lines)

    def _values(self, name, dims, start, end) -> List[Tuple[float, float]]:
        return self._metrics.values(metrics.NAMESPACE, name, dims, start * 1000, end * 1000)

    def minutes(self, name, dims, start, end):
        sums: Dict[float, float] = {}
        for at_ms, value in self._values(name, dims, start, end):
            minute = at_ms // 60000 * 60
            sums[minute] = sums.get(minute, 0) + value
        return sums

    def percentile(self, name, p, dims, start, end):
        return emf.percentile([value for _, value in self._values(name, dims, start, end)], p)


class CloudWatchSource(Source):
    """GetMetricData: one-minute sums, and a percentile over the whole span."""

    def __init__(self, cloudwatch):
        self._cloudwatch = cloudwatch

    def _query(self, name, dims, start, end, period: int, stat: str) -> Dict[float, float]:
        query = {"Id": "m", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": metrics.NAMESPACE, "MetricName": name,
                       # Sorted by name: CloudWatch takes any order; moto 5.2 matches
                       # a metric's dimensions only in the order they were put in.
                       "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dims.items())]},
            "Period": period, "Stat": stat}}
        found: Dict[float, float] = {}
        for page in self._cloudwatch.get_paginator("get_metric_data").paginate(
                MetricDataQueries=[query], StartTime=_utc(start), EndTime=_utc(end)):
            for result in page["MetricDataResults"]:
                for at, value in zip(result["Timestamps"], result["Values"]):
                    found[at.timestamp()] = value
        return found

    def minutes(self, name, dims, start, end):
        return self._query(name, dims, start, end, MINUTE, "Sum")

    def percentile(self, name, p, dims, start, end):
        # One period as long as the span: CloudWatch's percentile over all its values.
        span = int(end - start) // MINUTE * MINUTE
        values = self._query(name, dims, end - span, end, span, f"p{p:g}")
        return max(values.values()) if values else None


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def gather(where: str, stage: str, source: Source, now: float,
           dashboards_open: Callable[[], int], history: Callable[[], dict],
           alarms: Optional[Callable[[], List[str]]]) -> Report:
    """Every figure, each read on its own: one that fails is noted, not fatal."""
    # Whole minutes, as CloudWatch keeps them; the current one is still filling.
    end = (now // MINUTE + 1) * MINUTE
    dims = {metrics.STAGE: stage}
    notes: List[str] = []

    def sums(name: str, span: float, **extra: str) -> Dict[float, float]:
        return source.minutes(name, {**dims, **extra}, end - span, end)

    counted = sums(metrics.EVENTS_COUNTED, DAY)
    hour_start = end - HOUR
    received = sums(metrics.EVENTS_RECEIVED, HOUR)
    refused = {reason: sum(sums(metrics.EVENTS_REFUSED, HOUR, **{metrics.REASON: reason}).values())
               for reason in metrics.REFUSALS}

    def attempt(what: str, read: Callable, default=None):
        try:
            return read()
        except Exception as error:  # noqa: BLE001 - one figure missing, the rest shown
            notes.append(f"{what}: {error}")
            return default
    return Report(
        where=where, now=now,
        last_counted=max((minute for minute, n in counted.items() if n > 0), default=None),
        counted_hour=sum(n for minute, n in counted.items() if minute >= hour_start),
        counted_day=sum(counted.values()),
        received_hour=sum(received.values()),
        refused_hour=refused,
        failed_hour=sum(sums(metrics.EVENTS_FAILED, HOUR).values()),
        latency_p95_ms=source.percentile(metrics.FANOUT_LATENCY, P95, dims, end - HOUR, end),
        dashboards_open=attempt("dashboards open", dashboards_open),
        alarms=attempt("alarms", alarms) if alarms else None,
        history=attempt("history import", history),
        notes=notes)


def render(report: Report) -> str:
    rows: List[Tuple[str, str]] = []
    if report.last_counted is None:
        last = "none in the last day"
    else:
        ago = max(0, report.now - report.last_counted - MINUTE)
        last = (f"{_ago(ago)} ({_utc(report.last_counted):%Y-%m-%d %H:%M} UTC, to the minute)")
    rows.append(("last event counted", last))
    rows.append(("events counted", f"{report.counted_hour:,.0f} in the last hour, "
                                   f"{report.counted_day:,.0f} in the last day"))
    if report.received_hour:
        reasons = ", ".join(f"{reason.replace('_', ' ')} {n:,.0f}"
                            for reason, n in report.refused_hour.items() if n)
        rows.append(("Slack deliveries", f"{report.received_hour:,.0f} in the last hour"))
        rows.append(("  refused", f"{report.refused_rate:.1%}" + (f" ({reasons})" if reasons else "")))
        rows.append(("  answered 5xx", f"{report.failed_rate:.1%}" + (
            "  (over 5 %: the alarm's line; Slack retries, then may disable the app)"
            if report.failed_rate > 0.05 else "")))
    else:
        rows.append(("Slack deliveries", "none in the last hour"))
    rows.append(("dashboards open", "?" if report.dashboards_open is None
                 else f"{report.dashboards_open:,}"))
    rows.append(("fan-out latency p95", "no pushes in the last hour"
                 if report.latency_p95_ms is None
                 else f"{report.latency_p95_ms:,.0f} ms (commit to last page, last hour)"))
    if report.alarms is None:
        rows.append(("alarms in alarm", "none here (the alarms exist on AWS only)"))
    else:
        rows.append(("alarms in alarm", ", ".join(report.alarms) if report.alarms else "none"))
    rows.append(("history import", _history(report.history)))
    width = max(len(label) for label, _ in rows)
    lines = [f"Emojiboard {report.where}: {report.verdict()}", ""]
    lines += [f"  {label.ljust(width)}  {value}" for label, value in rows]
    lines += [f"  (could not read {note})" for note in report.notes]
    return "\n".join(lines)


def _ago(seconds: float) -> str:
    if seconds < 2 * MINUTE:
        return "within the last 2 minutes"
    if seconds < 2 * HOUR:
        return f"{seconds / MINUTE:.0f} minutes ago"
    return f"{seconds / HOUR:.1f} hours ago"


def _history(status: Optional[dict]) -> str:
    if not status:
        return "?"
    state = status.get("state")
    if state in (None, "idle"):
        return "never run"
    done = (f"{status.get('reactions_imported', 0):,} reactions from "
            f"{status.get('channels_done', 0)}/{status.get('channels_total', 0)} channels")
    if state == "failed":
        return f"failed ({status.get('error', 'no reason given')}): {done}"
    return f"{state}: {done}, back to {status.get('oldest')}"


# ---- where: the local stack, or a deployed stage -------------------------------------

def local(url: str, now: Optional[float] = None) -> Report:
    """The local stack at `url`: its endpoints and log lines over HTTP, its tables."""
    from .importer import HistoryImportError, Target, local_client, local_endpoints
    now = time.time() if now is None else now
    base = url.rstrip("/")
    try:
        found = local_endpoints(base)
        answer = requests.get(base + "/_devkit/logs",
                              params={"since": int((now - DAY - HOUR) * 1000)}, timeout=30)
    except (HistoryImportError, requests.RequestException) as error:
        raise StatusError(str(error)) from None
    if answer.status_code != 200:
        raise StatusError(f"{url} keeps no logs (GET /_devkit/logs: {answer.status_code}): "
                          "is it an older `devkit serve`?")
    lines = [json.loads(text) for text in answer.text.splitlines() if text.strip()]
    connections = ConnectionStore(local_client(found, "dynamodb"), found["connections_table"])
    return gather(f"at {base}", found.get("stage", "local"), LocalSource(lines), now,
                  lambda: sum(map(len, connections.subscribers().values())),
                  Target.of_local(found).status, None)


def deployed(stage: str, session, now: Optional[float] = None) -> Report:
    """A deployed stage: CloudWatch's metrics and alarms, the stage's tables."""
    from . import infra, monitoring
    from .importer import HistoryImportError, Target
    now = time.time() if now is None else now
    try:
        target = Target.deployed(stage, session)
    except HistoryImportError as error:
        raise StatusError(str(error)) from None
    cloudwatch = session.client("cloudwatch")
    connections = ConnectionStore(session.client("dynamodb"),
                                  infra.table_names(stage)["connections"])

    def in_alarm() -> List[str]:
        found = []
        for page in cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmNamePrefix=monitoring.alarm_prefix(stage), StateValue="ALARM"):
            # Checked again here: moto 5.2 applies only one of the two filters.
            found += [alarm["AlarmName"] for alarm in page["MetricAlarms"]
                      if alarm["StateValue"] == "ALARM"]
        return found
    return gather(f"{stage} ({session.region_name})", stage, CloudWatchSource(cloudwatch), now,
                  lambda: sum(map(len, connections.subscribers().values())),
                  target.status, in_alarm)

