"""The lake's ETL orchestration: an ASL document in `definitions/` and its deploy-time rendering.

`etl-orchestration.asl.json` crawls the raw feeds, runs the Glue jobs in parallel
(`glue:startJobRun.sync`), crawls the processed tables and announces `Lake Refreshed` with the row
counts the jobs wrote. Both crawl steps run the same per-crawler loop, `crawl-until-done.asl.json`,
which is rendered once and placed into each Map state. Values that differ per stack are whole-string
placeholders `"${Name}"` replaced by typed values (lists, numbers, the loop document).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components.iam import Statement, service_trust_policy
from components.kms import key_use_through
from components.observability import Metric
from components.scope import Scope
from components.state_machines import encrypted_state_machine, execution_statements
from components.templates import render_document
from glue.etl.tables import RAW_ENTITIES, RUN_SUMMARY_PREFIX

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
ORCHESTRATION_PATH = DEFINITIONS_DIR / "etl-orchestration.asl.json"
CRAWL_LOOP_PATH = DEFINITIONS_DIR / "crawl-until-done.asl.json"

EVENT_SOURCE = "platform.datalake"
LAKE_REFRESHED = "Lake Refreshed"
# Glue runs at most this many crawlers of an account at once by default; stay well inside it.
MAX_CRAWLER_CONCURRENCY = 10


@dataclass(frozen=True)
class OrchestrationSettings:
    """What one stack's refresh works on, and how patiently it polls crawlers."""

    raw_crawlers: Sequence[str]
    processed_crawlers: Sequence[str]
    customer_job: str
    sales_job: str
    summary_bucket: str
    event_bus: str = "default"
    crawler_poll_seconds: int = 30
    crawler_max_polls: int = 120
    crawler_concurrency: int = 4

    def __post_init__(self) -> None:
        problems = []
        if not self.raw_crawlers:
            problems.append("raw_crawlers is empty: nothing would be crawled before the jobs")
        if self.crawler_poll_seconds < 1:
            problems.append(f"crawler_poll_seconds must be at least 1, got {self.crawler_poll_seconds}")
        if self.crawler_max_polls < 1:
            problems.append(f"crawler_max_polls must be at least 1, got {self.crawler_max_polls}")
        if not 1 <= self.crawler_concurrency <= MAX_CRAWLER_CONCURRENCY:
            problems.append(f"crawler_concurrency must be 1..{MAX_CRAWLER_CONCURRENCY}, got {self.crawler_concurrency}")
        if problems:
            raise ValueError("; ".join(problems))


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def crawl_loop(settings: OrchestrationSettings) -> dict[str, Any]:
    return render_document(
        CRAWL_LOOP_PATH.name,
        load(CRAWL_LOOP_PATH),
        {"CrawlerPollSeconds": settings.crawler_poll_seconds, "CrawlerMaxPolls": settings.crawler_max_polls},
    )


def render_orchestration(settings: OrchestrationSettings) -> str:
    """The ASL JSON of the refresh with every placeholder replaced by its value."""
    values = {
        "RawCrawlerNames": list(settings.raw_crawlers),
        "ProcessedCrawlerNames": list(settings.processed_crawlers),
        "RunSummaryPrefix": RUN_SUMMARY_PREFIX,
        "RunSummaryBucket": settings.summary_bucket,
        "CrawlerConcurrency": settings.crawler_concurrency,
        "CrawlUntilDone": crawl_loop(settings),
        "CustomerJobName": settings.customer_job,
        "SalesJobName": settings.sales_job,
        "EventBusName": settings.event_bus,
        "EventSource": EVENT_SOURCE,
    }
    return json.dumps(render_document(ORCHESTRATION_PATH.name, load(ORCHESTRATION_PATH), values), indent=2)


# -- resources ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshInputs:
    """What the refresh state machine works on, as the component built it."""

    raw_crawlers: Sequence[pulumi.Output[str]]
    processed_crawlers: Sequence[pulumi.Output[str]]
    customer_job: pulumi.Output[str]
    sales_job: pulumi.Output[str]
    raw_bucket: pulumi.Output[str]
    processed_bucket: pulumi.Output[str]
    processed_bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    schedule: str
    on_new_data: bool
    poll_seconds: int
    max_polls: int
    log_retention_days: int
    dead_letter_arn: pulumi.Output[str]


@dataclass
class Refresh:
    state_machine: aws.sfn.StateMachine
    role: aws.iam.Role
    schedule: aws.scheduler.Schedule
    new_data_rule: aws.cloudwatch.EventRule | None
    failure_alarm: aws.cloudwatch.MetricAlarm


def executions_failed(state_machine_arn: pulumi.Input[str]) -> Metric:
    """Refreshes that failed (a job run, a crawl, an API error), summed over 5 minutes."""
    return Metric("AWS/States", "ExecutionsFailed", {"StateMachineArn": state_machine_arn}, "Sum")


def _crawler_arns(scope: Scope, names: Sequence[pulumi.Output[str]]) -> list[pulumi.Output[str]]:
    return [pulumi.Output.concat(scope.arn("glue", "crawler/"), name) for name in names]


def _job_arns(scope: Scope, names: Sequence[pulumi.Output[str]]) -> list[pulumi.Output[str]]:
    return [pulumi.Output.concat(scope.arn("glue", "job/"), name) for name in names]


def refresh_statements(scope: Scope, inputs: RefreshInputs, state_machine_arn: pulumi.Output[str]) -> list[Statement]:
    """Least privilege of the refresh: its crawlers, its jobs, its run summaries, one bus, its own data key use."""
    return [
        Statement(
            sid="RunCrawlers",
            actions=["glue:StartCrawler", "glue:GetCrawler"],
            resources=_crawler_arns(scope, [*inputs.raw_crawlers, *inputs.processed_crawlers]),
        ),
        Statement(
            sid="RunJobs",
            # startJobRun.sync polls GetJobRun(s) and stops the run when the execution is stopped.
            actions=["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
            resources=_job_arns(scope, [inputs.customer_job, inputs.sales_job]),
        ),
        Statement(
            sid="ReadRunSummaries",
            actions=["s3:GetObject"],
            resources=[pulumi.Output.concat(inputs.processed_bucket_arn, "/", RUN_SUMMARY_PREFIX, "*")],
        ),
        Statement(
            sid="DecryptRunSummaries",
            actions=["kms:Decrypt"],
            resources=[inputs.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{scope.where}.amazonaws.com"}},
        ),
        Statement(
            sid="AnnounceLakeRefreshed",
            actions=["events:PutEvents"],
            resources=[scope.arn("events", "event-bus/default")],
        ),
        *execution_statements(scope, inputs.key_arn, state_machine_arn),
    ]


def refresh(scope: Scope, inputs: RefreshInputs) -> Refresh:
    """The refresh state machine, its role, its schedule, the new-data trigger and the failure alarm."""
    ctx = scope.ctx
    name = scope.physical("refresh", service="sfn")
    state_machine_arn = scope.arn("states", f"stateMachine:{name}")
    role, policy = scope.service_role(
        "refresh",
        name=scope.physical("refresh-sfn", service="iam"),
        description=f"Execution role of {name}",
        trust=service_trust_policy("states.amazonaws.com", source_account=ctx.account_id),
        statements=refresh_statements(scope, inputs, state_machine_arn),
    )

    def definition(values: list[Any]) -> str:
        customer_job, sales_job, bucket, *crawlers = values
        raw, processed = crawlers[: len(inputs.raw_crawlers)], crawlers[len(inputs.raw_crawlers) :]
        return render_orchestration(
            OrchestrationSettings(
                raw_crawlers=raw,
                processed_crawlers=processed,
                customer_job=customer_job,
                sales_job=sales_job,
                summary_bucket=bucket,
                crawler_poll_seconds=inputs.poll_seconds,
                crawler_max_polls=inputs.max_polls,
            )
        )

    state_machine, _ = encrypted_state_machine(
        scope,
        "refresh",
        name=name,
        role_arn=role.arn,
        definition=pulumi.Output.all(
            inputs.customer_job,
            inputs.sales_job,
            inputs.processed_bucket,
            *inputs.raw_crawlers,
            *inputs.processed_crawlers,
        ).apply(definition),
        key_arn=inputs.key_arn,
        log_retention_days=inputs.log_retention_days,
        depends_on=[policy],
    )
    starter, _ = scope.service_role(
        "refresh-starter",
        name=scope.physical("refresh-start", service="iam"),
        description=f"EventBridge Scheduler and rules starting {name}",
        # One trust for both starters; EventBridge documents no aws:SourceAccount on role assumption.
        trust=service_trust_policy("scheduler.amazonaws.com", "events.amazonaws.com"),
        policy_name="start-refresh",
        statements=[
            Statement(sid="StartRefresh", actions=["states:StartExecution"], resources=[state_machine.arn]),
            # The state machine is CMK-encrypted: starting it encrypts the input under its ARN as context.
            Statement(
                sid="EncryptExecutionInput",
                actions=["kms:GenerateDataKey"],
                resources=[inputs.key_arn],
                conditions={"StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": state_machine.arn}},
            ),
            # The schedule's target input is encrypted with the lake key; Scheduler decrypts it as this role.
            Statement(sid="DecryptScheduleInput", actions=["kms:Decrypt"], resources=[inputs.key_arn]),
            # A start the schedule gives up on goes to its dead-letter queue, sent as this role
            # (https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html); the queue
            # is encrypted with the lake key.
            Statement(sid="ScheduleDeadLetters", actions=["sqs:SendMessage"], resources=[inputs.dead_letter_arn]),
            key_use_through(
                "ScheduleDeadLettersKey", inputs.key_arn, ["kms:GenerateDataKey", "kms:Decrypt"], ["sqs"], scope.where
            ),
        ],
    )
    schedule = aws.scheduler.Schedule(
        scope.child("refresh-schedule"),
        name=scope.physical("refresh", service="events"),
        description="Scheduled refresh of the data lake",
        schedule_expression=inputs.schedule,
        schedule_expression_timezone="UTC",
        flexible_time_window={"mode": "OFF"},
        kms_key_arn=inputs.key_arn,
        target={
            "arn": state_machine.arn,
            "role_arn": starter.arn,
            "input": json.dumps({"trigger": "schedule"}),
            "retry_policy": {"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 10},
            "dead_letter_config": {"arn": inputs.dead_letter_arn},
        },
        opts=scope.opts(),
    )
    new_data_rule = None
    if inputs.on_new_data:
        new_data_rule = aws.cloudwatch.EventRule(
            scope.child("refresh-on-new-data"),
            name=scope.physical("refresh-on-new-data", service="events"),
            description="A new raw feed object starts a lake refresh",
            event_pattern=pulumi.Output.json_dumps(new_raw_object_pattern(inputs.raw_bucket)),
            opts=scope.opts(),
        )
        aws.cloudwatch.EventTarget(
            scope.child("refresh-on-new-data-target"),
            rule=new_data_rule.name,
            target_id="refresh",
            arn=state_machine.arn,
            role_arn=starter.arn,
            retry_policy={"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 10},
            dead_letter_config={"arn": inputs.dead_letter_arn},
            opts=scope.opts(),
        )
    failure_alarm = scope.alarm(
        "refresh-failures",
        "A lake refresh failed: fix the cause, then redrive the execution from its failed state",
        executions_failed(state_machine.arn),
    )
    return Refresh(state_machine, role, schedule, new_data_rule, failure_alarm)


def new_raw_object_pattern(raw_bucket: pulumi.Input[str]) -> dict[str, Any]:
    """S3 `Object Created` events (EventBridge notifications) for the CSV feeds, not the events path."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [raw_bucket]},
            "object": {"key": [{"prefix": entity.prefix} for entity in RAW_ENTITIES]},
        },
    }
