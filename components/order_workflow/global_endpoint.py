"""Order intake that survives the loss of the primary region: an EventBridge global endpoint.

Producers publish through the endpoint (PutEvents with `EndpointId`, stack output `orders.globalEndpointId`)
instead of to the bus directly. While the primary region is healthy the endpoint routes to the primary
bus; when the Route 53 health check turns unhealthy it routes to a bus of the same name in the DR region.

The health check follows a CloudWatch alarm in the primary region on EventBridge's
`IngestionToInvocationStartLatency` (average above the threshold, 30 s, for 5 minutes: events are accepted
but no longer delivered) — the publisher-side metric AWS recommends, never a subscriber's, so one failing
consumer cannot fail the whole intake over.

The DR bus is intake only: the order workflow's state machine and tables live in the primary region. Its
rules (the same patterns as the primary bus's) forward what arrives there to the primary bus with the longest
retry EventBridge allows (24 h), so orders accepted during the outage are processed once the primary region
is back; what still cannot be delivered goes to a dead-letter queue in the DR region, and the DR bus archives
every event for replay. Event replication is off: with no consumers of its own in the DR region, a replicated
copy of every healthy-time event would only be forwarded back to the primary bus and processed twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws

from components.iam import Statement, service_trust_policy
from components.kms import CustomerManagedKey
from components.observability import Metric
from components.queues import MAX_RETENTION_SECONDS, allow_service_to_send
from components.scope import Scope

# EventBridge retries delivery to a target for at most 24 hours and 185 attempts.
MAX_EVENT_AGE_SECONDS = 86_400
MAX_RETRY_ATTEMPTS = 185
# Average ingestion-to-invocation latency that means the primary bus no longer delivers (AWS's template).
LATENCY_THRESHOLD_MS = 30_000
LATENCY_EVALUATION_MINUTES = 5


@dataclass(frozen=True)
class DrIntake:
    bus: aws.cloudwatch.EventBus
    key: CustomerManagedKey
    archive: aws.cloudwatch.EventArchive
    dlq: aws.sqs.Queue
    forward_rules: dict[str, aws.cloudwatch.EventRule]


@dataclass(frozen=True)
class GlobalEndpoint:
    endpoint: aws.cloudwatch.EventEndpoint
    health_check: aws.route53.HealthCheck
    latency_alarm: aws.cloudwatch.MetricAlarm


def intake_latency() -> Metric:
    """How long accepted events wait before EventBridge starts invoking targets, per minute, 5 minutes in a row.

    Published per account and region (no dimension), as AWS's global-endpoint template alarms on it."""
    return Metric(
        "AWS/Events",
        "IngestionToInvocationStartLatency",
        {},
        "Average",
        period=60,
        evaluation_periods=LATENCY_EVALUATION_MINUTES,
    )


def dr_intake(
    scope: Scope,
    *,
    bus: aws.cloudwatch.EventBus,
    bus_name: str,
    patterns: Mapping[str, dict[str, Any]],
    archive_retention_days: int,
) -> DrIntake:
    """The DR intake bus: same name as the primary bus, DR key, archive, rules forwarding to the primary bus.

    `scope` is the component's primary-region scope; `patterns` maps a rule purpose to an event pattern the
    primary bus routes (the same events are forwarded from the DR bus)."""
    ctx = scope.ctx
    dr = scope.in_dr()
    dr_key = dr.key(
        "intake",
        description=f"{ctx.project}-{ctx.stack} {scope.slug} DR intake: bus, archive and dead letters",
        services=["events"],
    )
    dr = dr.with_key(dr_key.arn)
    dr_bus = aws.cloudwatch.EventBus(
        dr.child("dr-bus"),
        # A global endpoint needs buses of the same name in both regions.
        name=bus_name,
        description="Order intake in the DR region while the primary bus is failed over (global endpoint)",
        kms_key_identifier=dr_key.arn,
        opts=dr.opts(),
    )
    dr_archive = aws.cloudwatch.EventArchive(
        dr.child("dr-archive"),
        name=scope.physical("dr-archive", service="events-archive"),
        event_source_arn=dr_bus.arn,
        retention_days=archive_retention_days,
        kms_key_identifier=dr_key.arn,
        description="Every event that reached the DR intake bus, for replay",
        opts=dr.opts(stateful=True),
    )
    dr_dlq = dr.queue("dr-intake-dlq", retention_seconds=MAX_RETENTION_SECONDS)
    forward_role, forward_policy = scope.service_role(
        "dr-forward",
        name=scope.physical("dr-forward-events", service="iam"),
        description="EventBridge: forward events from the DR intake bus to the primary bus",
        trust=service_trust_policy("events.amazonaws.com"),
        statements=[Statement(sid="ForwardToPrimaryBus", actions=["events:PutEvents"], resources=[bus.arn])],
    )
    forward_rules: dict[str, aws.cloudwatch.EventRule] = {}
    for purpose, pattern in sorted(patterns.items()):
        rule = aws.cloudwatch.EventRule(
            dr.child(f"dr-{purpose}"),
            name=scope.physical(f"dr-{purpose}", service="events"),
            description=f"DR intake: {purpose} events to the primary bus",
            event_bus_name=dr_bus.name,
            event_pattern=json.dumps(pattern, sort_keys=True),
            opts=dr.opts(),
        )
        aws.cloudwatch.EventTarget(
            dr.child(f"dr-{purpose}-forward"),
            rule=rule.name,
            event_bus_name=dr_bus.name,
            target_id="primary-bus",
            arn=bus.arn,
            role_arn=forward_role.arn,
            retry_policy={
                "maximum_event_age_in_seconds": MAX_EVENT_AGE_SECONDS,
                "maximum_retry_attempts": MAX_RETRY_ATTEMPTS,
            },
            dead_letter_config={"arn": dr_dlq.arn},
            opts=dr.opts(depends_on=[forward_policy]),
        )
        forward_rules[purpose] = rule
    allow_service_to_send(
        dr.child("dr-intake-dlq-policy"),
        dr_dlq,
        sid="ForwardRulesDeadLetters",
        service="events.amazonaws.com",
        source_arns=[rule.arn for rule in forward_rules.values()],
        opts=dr.opts(),
    )
    return DrIntake(dr_bus, dr_key, dr_archive, dr_dlq, forward_rules)


def global_endpoint(scope: Scope, *, bus: aws.cloudwatch.EventBus, intake: DrIntake) -> GlobalEndpoint:
    """The endpoint producers publish through, failing over from `bus` to the DR intake bus on the latency
    alarm. `scope` carries the component's alarm topic (the alarm also notifies on-call)."""
    ctx = scope.ctx
    latency_alarm = scope.alarm(
        "intake-latency",
        "EventBridge delivers accepted events more than 30 s late in the primary region: the global endpoint "
        "fails order intake over to the DR region",
        intake_latency(),
        threshold=LATENCY_THRESHOLD_MS,
    )
    health_check = aws.route53.HealthCheck(
        scope.child("intake-health"),
        type="CLOUDWATCH_METRIC",
        cloudwatch_alarm_name=latency_alarm.name,
        cloudwatch_alarm_region=ctx.region,
        # No data (no events for a while) is a healthy intake, as the alarm treats it.
        insufficient_data_health_status="Healthy",
        opts=scope.opts(),
    )
    endpoint = aws.cloudwatch.EventEndpoint(
        scope.child("global-endpoint"),
        name=scope.physical("intake", service="events"),
        description="Order intake: the primary bus, failing over to the same-name bus in the DR region",
        event_buses=[{"event_bus_arn": bus.arn}, {"event_bus_arn": intake.bus.arn}],
        routing_config={
            "failover_config": {
                "primary": {"health_check": health_check.arn},
                "secondary": {"route": ctx.dr_region},
            }
        },
        replication_config={"state": "DISABLED"},
        opts=scope.opts(),
    )
    return GlobalEndpoint(endpoint, health_check, latency_alarm)
