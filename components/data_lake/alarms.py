"""What reaches the lake's operators: the encrypted alarm topic, the ingestion dead-letter alarm,
failed Glue runs of this lake, and the dead-letter queue of every EventBridge target the lake owns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.data_lake.etl import Crawlers, Jobs
from components.observability import CLOUDWATCH_ALARMS, Publisher, queue_depth
from components.queues import allow_service_to_send
from components.scope import Scope

# Glue job states that mean a run produced no (or partial) output.
GLUE_JOB_FAILED_STATES = ["FAILED", "TIMEOUT", "ERROR"]
GLUE_STATE_EVENTS = Publisher("GlueStateEventsPublish", "events.amazonaws.com")


@dataclass
class Alarms:
    scope: Scope  # the lake's scope, now with its alarm topic
    topic: aws.sns.Topic
    alert_dlq: aws.sqs.Queue
    glue_failure_rules: dict[str, aws.cloudwatch.EventRule]


def _glue_failure_rule(
    scope: Scope,
    purpose: str,
    detail_type: str,
    detail: dict[str, Any],
    topic: aws.sns.Topic,
    alert_dlq: aws.sqs.Queue,
) -> aws.cloudwatch.EventRule:
    rule = aws.cloudwatch.EventRule(
        scope.child(purpose),
        name=scope.physical(purpose, service="events"),
        description=f"{detail_type} of this data lake that needs an operator",
        event_pattern=pulumi.Output.json_dumps(
            {"source": ["aws.glue"], "detail-type": [detail_type], "detail": detail}
        ),
        opts=scope.opts(),
    )
    aws.cloudwatch.EventTarget(
        scope.child(f"{purpose}-alert"),
        rule=rule.name,
        target_id="alarm-topic",
        arn=topic.arn,
        retry_policy={"maximum_event_age_in_seconds": 86_400, "maximum_retry_attempts": 20},
        dead_letter_config={"arn": alert_dlq.arn},
        opts=scope.opts(),
    )
    return rule


def alarms(scope: Scope, trigger_dlq: aws.sqs.Queue, jobs: Jobs, crawlers: Crawlers) -> Alarms:
    """Operators hear of object-created events the trigger gave up on and of failed Glue runs."""
    topic = scope.alarm_topic(display_name="Data lake alarms", publishers=[CLOUDWATCH_ALARMS, GLUE_STATE_EVENTS])
    scope = scope.with_alarm_topic(topic.arn)
    scope.alarm(
        "ingestion-dead-letters",
        "Object-created events the ingestion trigger gave up on: their crawlers never started",
        queue_depth(trigger_dlq.name),
    )
    alert_dlq = scope.queue("alert-dlq")
    # Alerts EventBridge could not deliver and refreshes the schedule could not start land here.
    scope.alarm(
        "alert-dead-letters",
        "Undelivered lake alerts or scheduled refreshes that never started: read the alert-dlq messages",
        queue_depth(alert_dlq.name),
    )
    job_names = [jobs.customer.name, jobs.sales.name]
    crawler_names = [crawler.name for crawler in (*crawlers.raw.values(), crawlers.processed)]
    rules = {
        "jobs": _glue_failure_rule(
            scope,
            "job-failures",
            "Glue Job State Change",
            {"jobName": job_names, "state": GLUE_JOB_FAILED_STATES},
            topic,
            alert_dlq,
        ),
        "crawlers": _glue_failure_rule(
            scope,
            "crawler-failures",
            "Glue Crawler State Change",
            {"crawlerName": crawler_names, "state": ["Failed"]},
            topic,
            alert_dlq,
        ),
    }
    return Alarms(scope=scope, topic=topic, alert_dlq=alert_dlq, glue_failure_rules=rules)


def alert_dlq_policy(scope: Scope, alert_dlq: aws.sqs.Queue, rules: Sequence[aws.cloudwatch.EventRule]) -> None:
    """Only this lake's rules may dead-letter into its alert queue."""
    allow_service_to_send(
        scope.child("alert-dlq-policy"),
        alert_dlq,
        sid="GlueFailureRulesOfThisLake",
        service="events.amazonaws.com",
        source_arns=[rule.arn for rule in rules],
        opts=scope.opts(),
    )
