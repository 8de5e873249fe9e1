"""CloudWatch alarms and SNS subscriptions inside moto's CloudFormation, for the
monitoring stack (devkit/monitoring.py) in tests/test_deploy.py.

moto 5.2.5's CloudFormation knows AWS::SNS::Topic and AWS::CloudWatch::Dashboard, but
neither AWS::CloudWatch::Alarm nor AWS::SNS::Subscription: it skips them with a warning,
so a stack "creates" without its alarms. `MODELS` gives its CloudFormation a model for
each (without registering it globally), backed by moto's own backends, so the alarms
the stack creates are read back with CloudWatch's DescribeAlarms and the subscription
with SNS's ListSubscriptionsByTopic:

- Alarm: the template's properties as PutMetricAlarm takes them (a metric math alarm's
  `Metrics` as moto's MetricDataQuery objects, built as moto's own PutMetricAlarm
  handler builds them), put, updated (renamed: the old name deleted) and deleted in
  moto's CloudWatch. Its Ref is its name, as on AWS;
- Subscription: Subscribe / Unsubscribe in moto's SNS. Its Ref is its ARN.

What neither proves: that CloudWatch accepts the metric math (moto stores the
expression, it does not parse or evaluate it), that an alarm ever changes state or
notifies, that SNS mails a confirmation (moto's subscriptions are confirmed at once).
"""
from moto.cloudwatch.models import (Dimension, Metric, MetricDataQuery, MetricStat,
                                    cloudwatch_backends)
from moto.sns.models import sns_backends

from tests.moto_cloudfront import _Shim  # what moto's CloudFormation asks of a model


def _query(query: dict) -> MetricDataQuery:
    stat = query.get("MetricStat")
    metric_stat = None
    if stat:
        metric = stat["Metric"]
        metric_stat = MetricStat(
            metric=Metric(metric_name=metric["MetricName"], namespace=metric["Namespace"],
                          dimensions=[Dimension(d["Name"], d["Value"])
                                      for d in metric.get("Dimensions", [])]),
            period=stat["Period"], stat=stat["Stat"], unit=stat.get("Unit"))
    return MetricDataQuery(query_id=query["Id"], label=query.get("Label"),
                           period=query.get("Period"), return_data=query.get("ReturnData"),
                           expression=query.get("Expression"), metric_stat=metric_stat)


def _put_alarm(account_id: str, region_name: str, properties: dict):
    p = properties
    return cloudwatch_backends[account_id][region_name].put_metric_alarm(
        name=p["AlarmName"], namespace=p.get("Namespace"), metric_name=p.get("MetricName"),
        metric_data_queries=[_query(q) for q in p["Metrics"]] if "Metrics" in p else None,
        comparison_operator=p["ComparisonOperator"], evaluation_periods=p["EvaluationPeriods"],
        datapoints_to_alarm=p.get("DatapointsToAlarm"), period=p.get("Period"),
        threshold=p["Threshold"], statistic=p.get("Statistic"),
        extended_statistic=p.get("ExtendedStatistic"), description=p.get("AlarmDescription"),
        dimensions=p.get("Dimensions", []), alarm_actions=p.get("AlarmActions", []),
        ok_actions=p.get("OKActions", []),
        insufficient_data_actions=p.get("InsufficientDataActions", []), unit=p.get("Unit"),
        actions_enabled=p.get("ActionsEnabled", True),
        treat_missing_data=p.get("TreatMissingData"))


class Alarm(_Shim):
    ATTRIBUTES = ("Arn",)

    def __init__(self, account_id, region_name, alarm):
        self.account_id, self.region_name, self.alarm = account_id, region_name, alarm

    @property
    def physical_resource_id(self):
        return self.alarm.name

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        return cls(account_id, region_name,
                   _put_alarm(account_id, region_name, cloudformation_json["Properties"]))

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        properties = cloudformation_json["Properties"]
        if properties["AlarmName"] != original_resource.alarm.name:
            original_resource.delete(account_id, region_name)
        original_resource.alarm = _put_alarm(account_id, region_name, properties)
        return original_resource

    def get_cfn_attribute(self, name):
        return {"Arn": self.alarm.alarm_arn}[name]

    def delete(self, account_id, region_name):
        cloudwatch_backends[account_id][region_name].delete_alarms([self.alarm.name])


class Subscription(_Shim):
    ATTRIBUTES = ()

    def __init__(self, account_id, region_name, subscription):
        self.account_id, self.region_name, self.subscription = \
            account_id, region_name, subscription

    @property
    def physical_resource_id(self):
        return self.subscription.arn

    @staticmethod
    def _subscribe(account_id, region_name, properties):
        return sns_backends[account_id][region_name].subscribe(
            properties["TopicArn"], properties["Endpoint"], properties["Protocol"])

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        return cls(account_id, region_name,
                   cls._subscribe(account_id, region_name, cloudformation_json["Properties"]))

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        # A new endpoint, protocol or topic replaces a subscription on AWS too.
        original_resource.delete(account_id, region_name)
        original_resource.subscription = cls._subscribe(account_id, region_name,
                                                        cloudformation_json["Properties"])
        return original_resource

    def delete(self, account_id, region_name):
        sns_backends[account_id][region_name].unsubscribe(self.subscription.arn)


MODELS = {"AWS::CloudWatch::Alarm": Alarm, "AWS::SNS::Subscription": Subscription}


def percentile_statistics(monkeypatch) -> None:
    """moto 5.2.5's GetMetricData answers a percentile Stat (`p95`) with no value and
    fails to serialise it; CloudWatch computes it over the values in the period. This
    gives moto's Statistics the nearest-rank percentile of the values it holds (single
    values only, which is what an EMF array becomes), so `devkit status` can be read
    against moto. CloudWatch's own percentiles are estimates over the same values."""
    import math
    import re

    from moto.cloudwatch.models import Statistics

    real = Statistics.get_statistics_for_type

    def statistic(self, stat):
        found = re.fullmatch(r"p(\d+(?:\.\d+)?)", stat)
        if not found:
            return real(self, stat)
        values = sorted(self.metric_single_values_list)
        if not values:
            return None
        rank = math.ceil(float(found.group(1)) / 100 * len(values))
        return values[max(0, rank - 1)]

    monkeypatch.setattr(Statistics, "get_statistics_for_type", statistic)
