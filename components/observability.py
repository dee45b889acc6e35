"""Observability building blocks every component uses: the CMK-encrypted topic alarms notify, metric
alarms, and VPC flow logs.

One place decides how an alarm is named (`<project>-<stack>-<component>-<purpose>` via ctx.name), where it
notifies (the component's topic, on ALARM and by default on OK) and how missing data counts (not
breaching: a queue or function with no traffic is healthy). Every VPC logs its traffic the same way:
`vpc_flow_logs` to a CMK-encrypted log group with a retention, through a role only VPC Flow Logs of this
account may assume.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.iam import Statement, policy_document, service_trust_policy

FLOW_LOGS_SERVICE = "vpc-flow-logs.amazonaws.com"
PERCENTILE = re.compile(r"^p\d{1,2}(\.\d+)?$")


@dataclass(frozen=True)
class Publisher:
    """An AWS service allowed to publish to a topic, for this account only (statement id `sid`)."""

    sid: str
    service: str


CLOUDWATCH_ALARMS = Publisher("CloudWatchAlarmsPublish", "cloudwatch.amazonaws.com")


def topic_publish_policy(
    ctx: StackContext, topic_arn: pulumi.Input[str], publishers: Sequence[Publisher]
) -> pulumi.Output[str]:
    """Named services of this account may publish; nobody may publish without TLS."""
    return policy_document(
        *(
            Statement(
                sid=publisher.sid,
                principals={"Service": publisher.service},
                actions=["sns:Publish"],
                resources=[topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": ctx.account_id}},
            )
            for publisher in publishers
        ),
        Statement(
            sid="DenyInsecureTransport",
            effect="Deny",
            principals={"AWS": "*"},
            actions=["sns:Publish"],
            resources=[topic_arn],
            conditions={"Bool": {"aws:SecureTransport": "false"}},
        ),
    )


def alarm_topic(
    name: str,
    ctx: StackContext,
    *,
    component: str,
    kms_key_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    purpose: str = "alarms",
    display_name: str | None = None,
    publishers: Sequence[Publisher] = (),
    email: str | None = None,
) -> aws.sns.Topic:
    """The SNS topic a component's alarms (and any `publishers`) notify, encrypted with the component's CMK.

    The key must let `cloudwatch.amazonaws.com` use it (CustomerManagedKey services=["cloudwatch", ...]), or
    alarms cannot publish to the encrypted topic. With `publishers` the topic gets a resource policy
    (`<name>-policy`) naming exactly those services; with `email` an email subscription (`<name>-email`).
    """
    topic = aws.sns.Topic(
        name,
        name=ctx.name(component, purpose, service="sns"),
        display_name=display_name,
        kms_master_key_id=kms_key_arn,
        opts=opts,
    )
    if publishers:
        aws.sns.TopicPolicy(
            f"{name}-policy", arn=topic.arn, policy=topic_publish_policy(ctx, topic.arn, publishers), opts=opts
        )
    if email is not None:
        aws.sns.TopicSubscription(f"{name}-email", topic=topic.arn, protocol="email", endpoint=email, opts=opts)
    return topic


@dataclass(frozen=True)
class Metric:
    """A CloudWatch metric, its statistic (Sum, Maximum, ... or a percentile such as p99), and the window
    an alarm evaluates it over."""

    namespace: str
    name: str
    dimensions: Mapping[str, pulumi.Input[str]]
    statistic: str
    period: int = 300
    evaluation_periods: int = 1


def lambda_errors(function_name: pulumi.Input[str]) -> Metric:
    """Failed invocations of one function, summed over 5 minutes."""
    return Metric("AWS/Lambda", "Errors", {"FunctionName": function_name}, "Sum")


def iterator_age(function_name: pulumi.Input[str]) -> Metric:
    """How far (ms) a stream-reading function lags behind the newest record: the worst minute, 5 in a row."""
    return Metric(
        "AWS/Lambda", "IteratorAge", {"FunctionName": function_name}, "Maximum", period=60, evaluation_periods=5
    )


def queue_depth(queue_name: pulumi.Input[str]) -> Metric:
    """The most messages visible in one queue over 5 minutes (dead letters waiting to be looked at)."""
    return Metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue_name}, "Maximum")


def metric_alarm(
    name: str,
    ctx: StackContext,
    *,
    component: str,
    purpose: str,
    description: str,
    metric: Metric,
    threshold: pulumi.Input[float],
    topic_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    comparison_operator: str = "GreaterThanThreshold",
    treat_missing_data: str = "notBreaching",
    notify_ok: bool = True,
) -> aws.cloudwatch.MetricAlarm:
    """An alarm on `metric` named via ctx.name(component, purpose, service="alarm") that notifies `topic_arn`
    when it fires and, unless `notify_ok` is False, when it recovers."""
    return aws.cloudwatch.MetricAlarm(
        name,
        name=ctx.name(component, purpose, service="alarm"),
        alarm_description=description,
        namespace=metric.namespace,
        metric_name=metric.name,
        dimensions=dict(metric.dimensions),
        # Percentiles (p99, p99.9) are extended statistics; Sum, Maximum, ... plain ones.
        statistic=None if PERCENTILE.match(metric.statistic) else metric.statistic,
        extended_statistic=metric.statistic if PERCENTILE.match(metric.statistic) else None,
        period=metric.period,
        evaluation_periods=metric.evaluation_periods,
        threshold=threshold,
        comparison_operator=comparison_operator,
        treat_missing_data=treat_missing_data,
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn] if notify_ok else None,
        opts=opts,
    )


@dataclass(frozen=True)
class FlowLogs:
    """A VPC's flow log and where it writes."""

    flow_log: aws.ec2.FlowLog
    log_group: aws.cloudwatch.LogGroup
    role: aws.iam.Role


def vpc_flow_logs(
    name: str,
    *,
    log_group_name: str,
    role_name: str,
    account_id: pulumi.Input[str],
    vpc_id: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str],
    retention_days: int,
    opts: pulumi.ResourceOptions,
) -> FlowLogs:
    """Flow logs of every accepted and rejected connection of `vpc_id`, one-minute aggregation, into the log
    group `log_group_name` (encrypted with `kms_key_arn`, whose policy must let CloudWatch Logs use it in the
    VPC's region: CustomerManagedKey services=["logs"]), written through the role `role_name`, which only VPC
    Flow Logs of `account_id` may assume. `opts` carries the provider of the VPC's region.
    Resources: `<name>-logs`, `<name>-role`, `<name>-delivery`, `<name>`."""
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name=log_group_name,
        retention_in_days=retention_days,
        kms_key_id=kms_key_arn,
        opts=opts,
    )
    role = aws.iam.Role(
        f"{name}-role",
        name=role_name,
        assume_role_policy=service_trust_policy(FLOW_LOGS_SERVICE, source_account=account_id),
        opts=opts,
    )
    aws.iam.RolePolicy(
        f"{name}-delivery",
        role=role.id,
        policy=policy_document(
            Statement(
                sid="WriteFlowLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[log_group.arn, pulumi.Output.concat(log_group.arn, ":*")],
            ),
            Statement(sid="FindLogGroup", actions=["logs:DescribeLogGroups"], resources=["*"]),
        ),
        opts=opts,
    )
    flow_log = aws.ec2.FlowLog(
        name,
        vpc_id=vpc_id,
        traffic_type="ALL",
        log_destination_type="cloud-watch-logs",
        log_destination=log_group.arn,
        iam_role_arn=role.arn,
        max_aggregation_interval=60,
        opts=opts,
    )
    return FlowLogs(flow_log=flow_log, log_group=log_group, role=role)
