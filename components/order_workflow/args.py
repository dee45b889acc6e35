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
    payment_gateway: Literal["local", "http"] = Field(
        "local",
        description="Gateway used by the direct integration. `local` is a deterministic sandbox that never moves "
        "money; `http` charges `gatewayEndpoint` through a Step Functions HTTP Task with the gateway connection.",
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
    failed_executions_percent: int = Field(
        50,
        ge=1,
        le=100,
        description="Share of the executions started in 15 minutes (at least 10) that, failed, raise the "
        "failed-executions alarm: declined cards and stock-outs fail a few; an outage fails most.",
    )
    gateway_endpoint: str | None = Field(
        None,
        pattern=r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?$",
        description="HTTPS URL of the payment gateway: the callback variant POSTs Payment Requested there (EventBridge "
        "API destination), the direct variant with paymentGateway `http` each charge (HTTP Task). Its API key lives "
        "in the component's Secrets Manager secret, never in config.",
    )
    gateway_account_id: str | None = Field(
        None,
        pattern=r"^[0-9]{12}$",
        description="Callback variant: AWS account of the payment gateway, allowed to put its answers "
        "(ecommerce.payments Payment Completed / Declined / Processing) on the orders bus.",
    )
    gateway_api_key_header: str = Field(
        "x-api-key", pattern=r"^[A-Za-z0-9-]{1,64}$", description="Header that carries the gateway's API key."
    )
    gateway_rate_limit_per_second: int = Field(
        10, ge=1, le=300, description="Most payment requests per second sent to the gateway."
    )
    max_auto_redrives: int = Field(
        3,
        ge=0,
        le=10,
        description="Times a failed or timed-out execution is redriven automatically before the "
        "ExecutionsAbandoned alarm; an operator may still redrive it.",
    )
    reap_after_seconds: int = Field(
        86_400,
        ge=900,
        le=1_209_600,
        description="How long after its execution stopped for good (past the automatic redrives) an order's "
        "stock is released and its capture refunded by the reaper: the operators' window for a manual redrive.",
    )
    dr_intake_bus: bool = Field(
        False,
        description="A bus of the same name in the DR region (DR key, archive) whose rules forward order events to "
        "the primary bus, retrying up to 24 h, so orders accepted during an outage are processed afterwards.",
    )
    global_endpoint: bool = Field(
        False,
        description="An EventBridge global endpoint producers publish through (output orders.globalEndpointId), "
        "failing over to the DR intake bus when the primary bus delivers events more than 30 s late for 5 minutes.",
    )

    @rule("global_endpoint", "dr_intake_bus")
    def _endpoint_needs_a_dr_bus(self) -> list[RuleProblem]:
        if self.global_endpoint and not self.dr_intake_bus:
            return [
                "globalEndpoint needs drIntakeBus: true: an EventBridge global endpoint fails over to a bus of the "
                "same name in the DR region, which drIntakeBus creates"
            ]
        return []

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

    @rule("payment_integration", "payment_gateway", "gateway_endpoint")
    def _http_gateway_needs_its_endpoint(self) -> list[RuleProblem]:
        if self.payment_integration == "direct" and self.payment_gateway == "http" and self.gateway_endpoint is None:
            return ["paymentGateway 'http' needs gatewayEndpoint: the URL the HTTP Task POSTs each charge to"]
        return []

    @rule("payment_integration", "gateway_endpoint", "gateway_account_id")
    def _callback_needs_a_gateway(self) -> list[RuleProblem]:
        if self.payment_integration != "callback":
            return []
        return [
            f"paymentIntegration 'callback' needs {key}: {why}"
            for key, value, why in (
                ("gatewayEndpoint", self.gateway_endpoint, "where the payment requests go"),
                ("gatewayAccountId", self.gateway_account_id, "whose answers the bus accepts"),
            )
            if value is None
        ]
