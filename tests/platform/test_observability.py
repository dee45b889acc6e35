"""components/observability.py: alarm topics and metric alarms, checked on the inputs they send."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

from components.config import load_stack_config
from components.context import StackContext
from components.observability import (
    CLOUDWATCH_ALARMS,
    Metric,
    Publisher,
    alarm_topic,
    iterator_age,
    lambda_errors,
    metric_alarm,
    queue_depth,
    vpc_flow_logs,
)
from offline.checkov_plan import evaluate_plan
from offline.mocks import ACCOUNT_ID
from offline.policy_run import evaluate
from offline.runner import PlanGraph, run_program
from tests.conftest import stack_config

KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/00000000-0000-0000-0000-000000000001"


@pytest.fixture(scope="module")
def alarms_plan() -> PlanGraph:
    def program() -> None:
        ctx = StackContext.create(load_stack_config())
        opts = pulumi.ResourceOptions(provider=ctx.primary)
        quiet = alarm_topic("quiet-topic", ctx, component="demo", kms_key_arn=KEY_ARN, opts=opts)
        alarm_topic(
            "loud-topic",
            ctx,
            component="demo",
            purpose="notifications",
            display_name="Demo notifications",
            kms_key_arn=KEY_ARN,
            publishers=[Publisher("BackupPublishes", "backup.amazonaws.com"), CLOUDWATCH_ALARMS],
            email="oncall@example.com",
            opts=opts,
        )
        metric_alarm(
            "errors-alarm",
            ctx,
            component="demo",
            purpose="fn-errors",
            description="fn failed",
            metric=lambda_errors("demo-fn"),
            threshold=0,
            topic_arn=quiet.arn,
            opts=opts,
        )
        metric_alarm(
            "dlq-alarm",
            ctx,
            component="demo",
            purpose="dlq-messages",
            description="dead letters",
            metric=queue_depth("demo-dlq"),
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            notify_ok=False,
            topic_arn=quiet.arn,
            opts=opts,
        )

    return run_program("dev", stack_config("dev"), program=program)


def test_topic_is_named_per_component_and_encrypted_with_the_given_key(alarms_plan: PlanGraph) -> None:
    quiet = alarms_plan.one("aws:sns/topic:Topic", "quiet-topic")
    assert quiet.inputs["name"] == "platform-dev-demo-alarms"
    assert quiet.inputs["kmsMasterKeyId"] == KEY_ARN
    loud = alarms_plan.one("aws:sns/topic:Topic", "loud-topic")
    assert loud.inputs["name"] == "platform-dev-demo-notifications"
    assert loud.inputs["displayName"] == "Demo notifications"


def test_topic_policy_only_when_publishers_are_named(alarms_plan: PlanGraph) -> None:
    policies = alarms_plan.of_type("aws:sns/topicPolicy:TopicPolicy")
    assert [p.name for p in policies] == ["loud-topic-policy"]
    loud = alarms_plan.one("aws:sns/topic:Topic", "loud-topic")
    document = json.loads(policies[0].inputs["policy"])
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert set(by_sid) == {"BackupPublishes", "CloudWatchAlarmsPublish", "DenyInsecureTransport"}
    for sid, service in (
        ("BackupPublishes", "backup.amazonaws.com"),
        ("CloudWatchAlarmsPublish", CLOUDWATCH_ALARMS.service),
    ):
        assert by_sid[sid]["Principal"] == {"Service": service}
        assert by_sid[sid]["Action"] == "sns:Publish"
        assert by_sid[sid]["Resource"] == loud.outputs["arn"]
        assert by_sid[sid]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    deny = by_sid["DenyInsecureTransport"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_email_subscription_only_when_an_address_is_given(alarms_plan: PlanGraph) -> None:
    subscriptions = alarms_plan.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert [(s.name, s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions] == [
        ("loud-topic-email", "email", "oncall@example.com")
    ]


def test_alarm_notifies_the_topic_on_alarm_and_ok(alarms_plan: PlanGraph) -> None:
    alarm = alarms_plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "errors-alarm").inputs
    topic_arn = alarms_plan.one("aws:sns/topic:Topic", "quiet-topic").outputs["arn"]
    assert alarm["name"] == "platform-dev-demo-fn-errors"
    assert alarm["alarmDescription"] == "fn failed"
    assert (alarm["namespace"], alarm["metricName"], alarm["dimensions"]) == (
        "AWS/Lambda",
        "Errors",
        {"FunctionName": "demo-fn"},
    )
    assert (alarm["statistic"], alarm["period"], alarm["evaluationPeriods"]) == ("Sum", 300, 1)
    assert (alarm["threshold"], alarm["comparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarm["treatMissingData"] == "notBreaching"
    assert alarm["alarmActions"] == [topic_arn]
    assert alarm["okActions"] == [topic_arn]


def test_alarm_without_ok_notification_sends_no_ok_actions(alarms_plan: PlanGraph) -> None:
    alarm = alarms_plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "dlq-alarm").inputs
    assert alarm["name"] == "platform-dev-demo-dlq-messages"
    assert (alarm["metricName"], alarm["dimensions"], alarm["statistic"]) == (
        "ApproximateNumberOfMessagesVisible",
        {"QueueName": "demo-dlq"},
        "Maximum",
    )
    assert (alarm["threshold"], alarm["comparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert len(alarm["alarmActions"]) == 1
    assert "okActions" not in alarm


def test_iterator_age_watches_the_worst_minute_five_times_in_a_row() -> None:
    assert iterator_age("fn") == Metric(
        "AWS/Lambda", "IteratorAge", {"FunctionName": "fn"}, "Maximum", period=60, evaluation_periods=5
    )


# --- VPC flow logs --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flow_logs_plan() -> PlanGraph:
    def program() -> None:
        ctx = StackContext.create(load_stack_config())
        opts = pulumi.ResourceOptions(provider=ctx.primary)
        vpc = aws.ec2.Vpc("demo-vpc", cidr_block="10.9.0.0/16", opts=opts)
        vpc_flow_logs(
            "demo-vpc-flow-logs",
            ctx,
            component="demo",
            purpose="vpc",
            vpc_id=vpc.id,
            kms_key_arn=KEY_ARN,
            retention_days=ctx.config.log_retention_days,
            opts=opts,
        )

    return run_program("prod", stack_config("prod"), program=program)


def test_flow_logs_capture_all_traffic_of_the_vpc_into_an_encrypted_log_group(flow_logs_plan: PlanGraph) -> None:
    vpc = flow_logs_plan.one("aws:ec2/vpc:Vpc", "demo-vpc")
    group = flow_logs_plan.one("aws:cloudwatch/logGroup:LogGroup", "demo-vpc-flow-logs-logs")
    role = flow_logs_plan.one("aws:iam/role:Role", "demo-vpc-flow-logs-role")
    flow_log = flow_logs_plan.one("aws:ec2/flowLog:FlowLog", "demo-vpc-flow-logs")
    assert group.inputs["name"] == "/aws/vpc/flow-logs/platform-prod-demo-vpc"
    assert group.inputs["kmsKeyId"] == KEY_ARN
    assert group.inputs["retentionInDays"] == stack_config("prod")["platform:logRetentionDays"]
    assert flow_log.inputs == {
        "vpcId": vpc.id,
        "trafficType": "ALL",
        "logDestinationType": "cloud-watch-logs",
        "logDestination": group.outputs["arn"],
        "iamRoleArn": role.outputs["arn"],
        "maxAggregationInterval": 60,
    }


def test_only_flow_logs_of_this_account_write_and_only_to_their_group(flow_logs_plan: PlanGraph) -> None:
    role = flow_logs_plan.one("aws:iam/role:Role", "demo-vpc-flow-logs-role")
    [trust] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    group_arn = flow_logs_plan.one("aws:cloudwatch/logGroup:LogGroup", "demo-vpc-flow-logs-logs").outputs["arn"]
    delivery = flow_logs_plan.one("aws:iam/rolePolicy:RolePolicy", "demo-vpc-flow-logs-delivery")
    assert delivery.inputs["role"] == role.id
    write, find = json.loads(delivery.inputs["policy"])["Statement"]
    assert write["Resource"] == [group_arn, f"{group_arn}:*"]
    assert sorted(write["Action"]) == ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    assert find == {"Effect": "Allow", "Sid": "FindLogGroup", "Action": "logs:DescribeLogGroups", "Resource": "*"}


def test_the_pack_and_checkov_see_the_vpc_logged(flow_logs_plan: PlanGraph) -> None:
    """The plan adapter carries the flow log's vpc_id as a reference: checkov's CKV2_AWS_11 graph check passes."""
    assert evaluate(flow_logs_plan).violations == []
    report = evaluate_plan(flow_logs_plan, skips=[])
    assert ("CKV2_AWS_11", "demo-vpc") in {(f.check, f.resource) for f in report.passed}
    assert ("CKV2_AWS_11", "demo-vpc") not in {(f.check, f.resource) for f in report.failed}
