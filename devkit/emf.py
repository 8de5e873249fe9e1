"""Embedded metric format, read as CloudWatch reads it: which log lines are metric
blobs, whether a blob is valid, and the metrics in them (for `status --local` and the
tests). The rules are the specification's ("Specification: Embedded metric format",
CloudWatch User Guide, docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Embedded_Metric_Format_Specification.html):

- the root holds `_aws`, an object with `Timestamp` (a number: milliseconds since the
  epoch) and `CloudWatchMetrics` (an array of MetricDirective);
- a MetricDirective holds `Namespace` (a string of 1 to 1024 characters),
  `Dimensions` (an array of DimensionSet: arrays of at most 30 strings, each naming a
  root member) and `Metrics` (an array of at most 100 MetricDefinition);
- a MetricDefinition holds `Name` (1 to 1024 characters, naming a root member), and
  may hold `Unit` (one of MetricDatum's units) and `StorageResolution` (1 or 60);
- the members they name are on the root: a dimension's value a string, a metric's a
  number or an array of at most 100 numbers.

CloudWatch ignores the metrics of a blob that breaks these (the line stays a log
line); so does `LocalMetrics`. Percentiles here are nearest-rank over the raw values;
CloudWatch's are estimates over the same values.
"""
import math
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

# "MetricDatum", CloudWatch API reference: Unit's valid values.
UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
    "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
    "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
    "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
    "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}
MAX_DIMENSIONS, MAX_METRICS, MAX_VALUES, MAX_NAME = 30, 100, 100, 1024


def is_blob(line: dict) -> bool:
    return isinstance(line, dict) and "_aws" in line


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def problems(blob: dict) -> List[str]:
    """What makes `blob` not a valid EMF document; [] when it is one."""
    meta = blob.get("_aws")
    if not isinstance(meta, dict):
        return ["_aws must be an object"]
    found = []
    if not _number(meta.get("Timestamp")):
        found.append("_aws.Timestamp must be a number (epoch milliseconds)")
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        return found + ["_aws.CloudWatchMetrics must be an array"]
    for i, directive in enumerate(directives):
        where = f"CloudWatchMetrics[{i}]"
        if not isinstance(directive, dict):
            found.append(f"{where} must be an object")
            continue
        namespace = directive.get("Namespace")
        if not (isinstance(namespace, str) and 1 <= len(namespace) <= MAX_NAME):
            found.append(f"{where}.Namespace must be a string of 1 to {MAX_NAME} characters")
        sets = directive.get("Dimensions")
        if not isinstance(sets, list):
            found.append(f"{where}.Dimensions must be an array")
            sets = []
        for dims in sets:
            if not (isinstance(dims, list) and len(dims) <= MAX_DIMENSIONS):
                found.append(f"{where}: a dimension set must be an array of at most "
                             f"{MAX_DIMENSIONS} names")
                continue
            for name in dims:
                if not isinstance(blob.get(name) if isinstance(name, str) else None, str):
                    found.append(f"{where}: dimension {name!r} has no string value on the root")
        definitions = directive.get("Metrics")
        if not (isinstance(definitions, list) and len(definitions) <= MAX_METRICS):
            found.append(f"{where}.Metrics must be an array of at most {MAX_METRICS}")
            continue
        for definition in definitions:
            name = definition.get("Name") if isinstance(definition, dict) else None
            if not (isinstance(name, str) and 1 <= len(name) <= MAX_NAME):
                found.append(f"{where}: a metric needs a Name of 1 to {MAX_NAME} characters")
                continue
            if "Unit" in definition and definition["Unit"] not in UNITS:
                found.append(f"{where}: {name} has unit {definition['Unit']!r}")
            if definition.get("StorageResolution", 60) not in (1, 60):
                found.append(f"{where}: {name}'s StorageResolution must be 1 or 60")
            value = blob.get(name)
            if not (_number(value) or (isinstance(value, list) and 0 < len(value) <= MAX_VALUES
                                       and all(map(_number, value)))):
                found.append(f"{where}: {name} must be a number or an array of at most "
                             f"{MAX_VALUES} numbers on the root")
    return found


@dataclass(frozen=True)
class Datum:
    """One metric's values from one blob, with the dimension values it was filed under."""
    namespace: str
    name: str
    dimensions: Tuple[Tuple[str, str], ...]
    timestamp_ms: float
    values: Tuple[float, ...]


def data(lines: Iterable[dict]) -> Iterable[Datum]:
    """The metric values in these log lines, as CloudWatch extracts them: every valid
    blob's metrics, once under each of its dimension sets."""
    for line in lines:
        if not is_blob(line) or problems(line):
            continue
        meta = line["_aws"]
        for directive in meta["CloudWatchMetrics"]:
            for dims in directive["Dimensions"] or [[]]:
                key = tuple(sorted((name, line[name]) for name in dims))
                for definition in directive["Metrics"]:
                    value = line[definition["Name"]]
                    yield Datum(directive["Namespace"], definition["Name"], key,
                                meta["Timestamp"], tuple(value if isinstance(value, list)
                                                         else [value]))


class LocalMetrics:
    """CloudWatch's GetMetricData, as far as `status` asks it, over local log lines."""

    def __init__(self, lines: Iterable[dict]):
        self._data = list(data(lines))

    def values(self, namespace: str, name: str, dimensions: Dict[str, str],
               start_ms: float, end_ms: float) -> List[Tuple[float, float]]:
        """(timestamp, value) of the metric with exactly these dimensions, in [start, end)."""
        key = tuple(sorted(dimensions.items()))
        return [(d.timestamp_ms, value) for d in self._data
                if d.namespace == namespace and d.name == name and d.dimensions == key
                and start_ms <= d.timestamp_ms < end_ms for value in d.values]


def percentile(values: List[float], p: float) -> Optional[float]:
    """Nearest-rank percentile: the smallest value with at least p % at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]
