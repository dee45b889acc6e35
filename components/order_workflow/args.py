"""Typed arguments of the OrderWorkflow component: the `orders` section of the stack configuration."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.config_types import ComponentConfig, LogRetentionDays, RuleProblem, rule


class OrderWorkflowArgs(ComponentConfig):
    """Settings of the OrderWorkflow component, with production-sensible defaults."""

    state_machine_type: Literal["STANDARD", "EXPRESS"] = Field(
        "STANDARD",
        description="Step Functions workflow type. STANDARD keeps a year of history and supports the callback "
        "variant; EXPRESS is cheaper for short, high-volume direct-payment flows.",
    )
    payment_integration: Literal["direct", "callback"] = Field(
        "direct",
        description="`direct`: the ProcessPayment task charges through `paymentGateway`. `callback`: it hands the "
        "payment to an external gateway and waits for its answer with a task token (waitForTaskToken).",
    )
    payment_gateway: Literal["local"] = Field(
        "local",
        description="Gateway used by the direct integration. `local` is a deterministic sandbox that never moves "
        "money.",
    )
    payment_heartbeat_seconds: int = Field(
        300, ge=10, le=86_400, description="Callback variant: longest silence allowed between gateway progress events."
    )
    payment_timeout_seconds: int = Field(
        3_600, ge=60, le=604_800, description="Callback variant: longest wait for the gateway's final answer."
    )
    log_level: Literal["ALL", "ERROR", "FATAL", "OFF"] = Field(
        "ERROR", description="Step Functions execution log level (CloudWatch Logs)."
    )
    log_execution_data: bool = Field(
        False, description="Include state input/output (order contents) in execution logs."
    )
    log_retention_days: LogRetentionDays | None = Field(
        None, description="Retention of this component's log groups; defaults to the stack's logRetentionDays."
    )
    archive_retention_days: int = Field(
        30, ge=0, le=3_650, description="Days the event bus archive keeps events for replay (0 = indefinitely)."
    )
    event_max_age_seconds: int = Field(
        3_600, ge=60, le=86_400, description="Rule targets: how long EventBridge retries delivering an event."
    )
    event_retry_attempts: int = Field(
        10, ge=0, le=185, description="Rule targets: delivery attempts before the event goes to the events DLQ."
    )
    consumer_batch_size: int = Field(10, ge=1, le=10, description="Lifecycle consumer: SQS messages per invocation.")
    consumer_max_concurrency: int = Field(
        5, ge=2, le=1_000, description="Lifecycle consumer: maximum concurrent invocations the SQS poller starts."
    )
    consumer_max_receive_count: int = Field(
        5, ge=1, le=1_000, description="Lifecycle queue: receives of a failing message before it moves to the DLQ."
    )
    task_reserved_concurrency: int | None = Field(
        None, ge=1, le=1_000, description="Reserved concurrency of each task function (unset: unreserved)."
    )
    failed_executions_threshold: int = Field(
        1, ge=1, le=10_000, description="Failed executions per 5 minutes that raise the ExecutionsFailed alarm."
    )

    @rule("payment_integration", "state_machine_type")
    def _callback_needs_standard(self) -> list[RuleProblem]:
        if self.payment_integration == "callback" and self.state_machine_type == "EXPRESS":
            return [
                "paymentIntegration 'callback' waits for a task token, which EXPRESS workflows do not support; "
                "use stateMachineType 'STANDARD' or paymentIntegration 'direct'"
            ]
        return []

    @rule("payment_heartbeat_seconds", "payment_timeout_seconds")
    def _heartbeat_within_timeout(self) -> list[RuleProblem]:
        if self.payment_heartbeat_seconds >= self.payment_timeout_seconds:
            return [
                f"paymentHeartbeatSeconds ({self.payment_heartbeat_seconds}) must be less than "
                f"paymentTimeoutSeconds ({self.payment_timeout_seconds})"
            ]
        return []
