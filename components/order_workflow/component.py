"""The OrderWorkflow component: EventBridge bus and rules -> Step Functions order state machine ->
Lambda tasks over DynamoDB, plus an EventBridge -> SQS -> Lambda consumer for lifecycle events.

    Order Placed --OrderPlaced rule--> state machine (ValidateOrder -> ReserveInventory -> ProcessPayment
                                        -> FulfilOrder; ReleaseInventory on every failed path)
    Payment Completed / Order Fulfilled (/ Payment Declined, Processing) --rules--> lifecycle queue
                                        --> lifecycle consumer (records events, resumes callback tasks)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.context import BACKUP_TAG, StackContext
from components.iam import LOG_DELIVERY_ACTIONS, Statement, policy_document, service_trust_policy
from components.kms import key_use_through
from components.lambda_function import FunctionSpec, PythonFunction
from components.observability import Metric, queue_depth
from components.order_workflow import events
from components.order_workflow.args import OrderWorkflowArgs
from components.order_workflow.definition import render_definition
from components.queues import MAX_RETENTION_SECONDS, allow_service_to_send
from components.runtime_params import RuntimeParameters
from components.scope import Scope, component_options

# Physical-name slug of an order workflow unless the program gives another one.
COMPONENT = "orders"
LIFECYCLE_TIMEOUT_SECONDS = 30


def _dynamodb(actions: Sequence[str], *tables: aws.dynamodb.Table, sid: str) -> Statement:
    return Statement(sid=sid, actions=list(actions), resources=[t.arn for t in tables])


class OrderWorkflow(pulumi.ComponentResource):
    """Event-driven order processing that never oversells (see module docstring)."""

    def __init__(
        self,
        name: str,
        ctx: StackContext,
        args: OrderWorkflowArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        slug: str = COMPONENT,
    ) -> None:
        super().__init__("platform:index:OrderWorkflow", name, None, component_options(ctx, opts))
        self._name = name
        self._ctx = ctx
        self._args = args
        self._scope = Scope.of(self, ctx, name, slug)
        self._child = self._scope.opts()
        self._retention = args.log_retention_days or ctx.config.log_retention_days
        self.state_machine_name = self._scope.physical("workflow", service="sfn")
        # Known before the state machine exists, so policies can name it without a dependency cycle.
        self.state_machine_arn_expected = ctx.arn("states", f"stateMachine:{self.state_machine_name}")

        self.key = self._scope.key(
            "data",
            description="Orders: tables, event bus and archive, queues, topic, logs, state machine",
            services=["logs", "events", "cloudwatch"],
            extra_statements=[self._log_delivery_key_statement()],
        )
        self._scope = self._scope.with_key(self.key.arn)
        self.orders_table, self.inventory_table, self.callback_table = self._tables()
        self.bus = aws.cloudwatch.EventBus(
            f"{name}-bus",
            name=self._scope.physical("bus", service="events"),
            description="Order lifecycle events (ecommerce.orders / payments / fulfillment)",
            kms_key_identifier=self.key.arn,
            opts=self._child,
        )
        self.archive = aws.cloudwatch.EventArchive(
            f"{name}-archive",
            name=self._scope.physical("archive", service="events-archive"),
            event_source_arn=self.bus.arn,
            retention_days=args.archive_retention_days,
            kms_key_identifier=self.key.arn,
            description="Every event of the orders bus, for replay",
            opts=self._scope.opts(stateful=True),
        )
        self.events_dlq = self._queue("events-dlq", retention_seconds=MAX_RETENTION_SECONDS)
        self.lifecycle_dlq = self._queue("lifecycle-dlq", retention_seconds=MAX_RETENTION_SECONDS)
        self.lifecycle_queue = self._queue(
            "lifecycle",
            retention_seconds=4 * 86_400,
            visibility_timeout=6 * LIFECYCLE_TIMEOUT_SECONDS,
            redrive_to=self.lifecycle_dlq,
        )
        # What operators tune without a deploy lives in Parameter Store; functions re-read it every few minutes.
        self.settings = RuntimeParameters(
            f"{name}-settings",
            ctx,
            component=self._scope.slug,
            kms_key_arn=self.key.arn,
            values={
                "paymentGateway": args.payment_gateway,
                "callbackTtlSeconds": str(args.payment_timeout_seconds + 86_400),
            },
            opts=self._child,
        )
        self.functions = self._task_functions()
        self.lifecycle_function = self._lifecycle_consumer()
        self.state_machine = self._state_machine()
        self.rules = self._rules()
        self.alarm_topic = self._scope.alarm_topic()
        self._scope = self._scope.with_alarm_topic(self.alarm_topic.arn)
        self.alarms = self._alarms()
        self.dashboard = self._dashboard()
        self.register_outputs(self.stack_outputs())

    # ------------------------------------------------------------------------------------------ data

    def _log_delivery_key_statement(self) -> Statement:
        # Step Functions delivers logs of a CMK-encrypted state machine through vended log delivery.
        return Statement(
            sid="AllowLogDelivery",
            principals={"Service": "delivery.logs.amazonaws.com"},
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": self._ctx.account_id}},
        )

    def _tables(self) -> tuple[aws.dynamodb.Table, aws.dynamodb.Table, aws.dynamodb.Table]:
        scope = self._scope
        orders = scope.table(
            "orders",
            hash_key="orderId",
            attributes={"customerId": "S"},
            global_secondary_indexes=[
                {
                    "name": "CustomerIndex",
                    "key_schemas": [{"attribute_name": "customerId", "key_type": "HASH"}],
                    "projection_type": "ALL",
                }
            ],
            tags=BACKUP_TAG,
        )
        inventory = scope.table("inventory", hash_key="productId", tags=BACKUP_TAG)
        # Tokens of executions that ended are useless after their timeout: they expire, and are not backed up.
        callbacks = scope.table("callbacks", hash_key="orderId", ttl_attribute="expiresAt")
        return orders, inventory, callbacks

    def _queue(
        self,
        purpose: str,
        *,
        retention_seconds: int,
        visibility_timeout: int = 30,
        redrive_to: aws.sqs.Queue | None = None,
    ) -> aws.sqs.Queue:
        return self._scope.queue(
            purpose,
            retention_seconds=retention_seconds,
            visibility_timeout_seconds=visibility_timeout,
            dead_letter_queue=redrive_to,
            max_receive_count=self._args.consumer_max_receive_count if redrive_to is not None else None,
        )

    # ------------------------------------------------------------------------------------ functions

    def _dynamodb_key_use(self) -> Statement:
        # DynamoDB encrypts and decrypts with the table's CMK on the caller's behalf.
        return key_use_through(
            "UseTableKeyThroughDynamoDB",
            self.key.arn,
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            ["dynamodb"],
            self._ctx.region,
        )

    def _put_events(self) -> Statement:
        return Statement(sid="PublishOnOrdersBus", actions=["events:PutEvents"], resources=[self.bus.arn])

    def _environment(self) -> dict[str, pulumi.Input[str]]:
        return {
            "ORDERS_TABLE": self.orders_table.name,
            "INVENTORY_TABLE": self.inventory_table.name,
            "CALLBACK_TABLE": self.callback_table.name,
            "EVENT_BUS_NAME": self.bus.name,
            "PARAMETERS_PATH": self.settings.path,
        }

    def _function(
        self, purpose: str, module: str, description: str, statements: Sequence[Statement], include: Sequence[str]
    ) -> PythonFunction:
        return self._scope.function(
            FunctionSpec(
                purpose=purpose,
                module=f"order_workflow.{module}",
                description=description,
                statements=[*statements, self._dynamodb_key_use(), *self.settings.read_statements()],
                environment=self._environment(),
                include=["runtime", *include],
                reserved_concurrency=self._args.task_reserved_concurrency,
                log_retention_days=self._retention,
            )
        )

    def _task_functions(self) -> dict[str, PythonFunction]:
        """One function per task; each may use exactly the items and actions its code touches."""
        orders, inventory, callbacks = self.orders_table, self.inventory_table, self.callback_table
        functions = {
            "ValidateOrderFunctionArn": self._function(
                "validate",
                "validate",
                "ValidateOrder: check and store the order once",
                [_dynamodb(["dynamodb:PutItem", "dynamodb:GetItem"], orders, sid="CreateOrder")],
                ["orders", "store", "gateway"],
            ),
            "ReserveInventoryFunctionArn": self._function(
                "reserve",
                "reserve",
                "ReserveInventory: one conditional transaction over every line",
                [
                    _dynamodb(["dynamodb:GetItem", "dynamodb:UpdateItem"], orders, sid="ReadAndMarkOrder"),
                    _dynamodb(["dynamodb:UpdateItem"], inventory, sid="TakeStock"),
                ],
                ["orders", "store", "gateway"],
            ),
            "FulfilOrderFunctionArn": self._function(
                "fulfil",
                "fulfil",
                "FulfilOrder: commit the reservation, announce Order Fulfilled",
                [
                    _dynamodb(["dynamodb:GetItem", "dynamodb:UpdateItem"], orders, sid="ReadAndMarkOrder"),
                    _dynamodb(["dynamodb:UpdateItem"], inventory, sid="ShipStock"),
                    self._put_events(),
                ],
                ["orders", "store", "gateway"],
            ),
            "ReleaseInventoryFunctionArn": self._function(
                "release",
                "release",
                "ReleaseInventory: compensation, restores exactly the held units once",
                [
                    _dynamodb(["dynamodb:GetItem", "dynamodb:UpdateItem"], orders, sid="ReadAndMarkOrder"),
                    _dynamodb(["dynamodb:UpdateItem"], inventory, sid="RestoreStock"),
                ],
                ["orders", "store", "gateway"],
            ),
        }
        if self._args.payment_integration == "direct":
            functions["ProcessPaymentFunctionArn"] = self._function(
                "payment",
                "payment",
                f"ProcessPayment: charge through the {self._args.payment_gateway} gateway once per order",
                [
                    _dynamodb(["dynamodb:GetItem", "dynamodb:UpdateItem"], orders, sid="ReadAndRecordPayment"),
                    self._put_events(),
                ],
                ["orders", "store", "gateway"],
            )
        else:
            functions["RequestPaymentFunctionArn"] = self._function(
                "request-payment",
                "request_payment",
                "ProcessPayment (callback): park the task token, ask the external gateway",
                [
                    _dynamodb(["dynamodb:GetItem"], orders, sid="ReadOrder"),
                    _dynamodb(["dynamodb:PutItem"], callbacks, sid="StoreTaskToken"),
                    self._put_events(),
                ],
                ["orders", "store", "gateway"],
            )
        return functions

    def _lifecycle_consumer(self) -> PythonFunction:
        statements = [
            _dynamodb(["dynamodb:GetItem", "dynamodb:UpdateItem"], self.orders_table, sid="RecordLifecycle"),
            Statement(
                sid="ConsumeLifecycleQueue",
                actions=[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:ChangeMessageVisibility",
                ],
                resources=[self.lifecycle_queue.arn],
            ),
        ]
        if self._args.payment_integration == "callback":
            statements += [
                _dynamodb(["dynamodb:GetItem", "dynamodb:UpdateItem"], self.callback_table, sid="ResolveTaskTokens"),
                Statement(sid="ResumeWaitingPayments", actions=["states:SendTaskSuccess", "states:SendTaskHeartbeat"]),
                self._state_machine_key_use("kms:GenerateDataKey", "kms:Decrypt", sid="EncryptTaskOutput"),
            ]
        consumer = self._scope.function(
            FunctionSpec(
                purpose="lifecycle",
                module="order_workflow.lifecycle",
                description="Order lifecycle consumer (SQS, partial batch failures)",
                statements=[*statements, self._dynamodb_key_use(), *self.settings.read_statements()],
                # Structural (it decides the grants above), so it travels with the deployment, not in SSM.
                environment={**self._environment(), "PAYMENT_INTEGRATION": self._args.payment_integration},
                include=["runtime", "orders", "store", "gateway"],
                timeout=LIFECYCLE_TIMEOUT_SECONDS,
                log_retention_days=self._retention,
            )
        )
        self.lifecycle_mapping = aws.lambda_.EventSourceMapping(
            f"{self._name}-lifecycle-source",
            event_source_arn=self.lifecycle_queue.arn,
            function_name=consumer.function.arn,
            batch_size=self._args.consumer_batch_size,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config={"maximum_concurrency": self._args.consumer_max_concurrency},
            opts=pulumi.ResourceOptions(parent=self, provider=self._ctx.primary, depends_on=[consumer.policy]),
        )
        return consumer

    # -------------------------------------------------------------------------------- state machine

    def _state_machine_key_use(self, *actions: str, sid: str) -> Statement:
        # Data of a CMK-encrypted state machine is encrypted with its ARN as encryption context.
        return Statement(
            sid=sid,
            actions=list(actions),
            resources=[self.key.arn],
            conditions={
                "StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": self.state_machine_arn_expected}
            },
        )

    def _state_machine(self) -> aws.sfn.StateMachine:
        ctx, args = self._ctx, self._args
        self.state_machine_logs = aws.cloudwatch.LogGroup(
            f"{self._name}-workflow-logs",
            name=f"/aws/vendedlogs/states/{self.state_machine_name}",
            retention_in_days=self._retention,
            kms_key_id=self.key.arn,
            opts=self._child,
        )
        self.state_machine_role = aws.iam.Role(
            f"{self._name}-workflow-role",
            name=self._scope.physical("workflow-sfn", service="iam"),
            description=f"Execution role of {self.state_machine_name}",
            assume_role_policy=service_trust_policy("states.amazonaws.com", source_account=ctx.account_id),
            opts=self._child,
        )
        policy = aws.iam.RolePolicy(
            f"{self._name}-workflow-policy",
            role=self.state_machine_role.id,
            name="least-privilege",
            policy=policy_document(
                Statement(
                    sid="InvokeTasks",
                    actions=["lambda:InvokeFunction"],
                    resources=[f.function.arn for f in self.functions.values()],
                ),
                Statement(
                    sid="DeliverExecutionLogs",
                    actions=list(LOG_DELIVERY_ACTIONS),
                ),
                Statement(
                    sid="Tracing",
                    actions=[
                        "xray:PutTraceSegments",
                        "xray:PutTelemetryRecords",
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                    ],
                ),
                self._state_machine_key_use("kms:Decrypt", "kms:GenerateDataKey", sid="EncryptExecutionData"),
                # The execution log group is encrypted with the same key: log delivery makes the data key
                # with this role under the logs encryption context
                # (https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
                Statement(
                    sid="EncryptExecutionLogs",
                    actions=["kms:GenerateDataKey"],
                    resources=[self.key.arn],
                    conditions={"StringEquals": {"kms:EncryptionContext:SourceArn": ctx.arn("logs", "*")}},
                ),
            ),
            opts=self._child,
        )
        values: dict[str, pulumi.Input[Any]] = {key: f.function.arn for key, f in self.functions.items()}
        if args.payment_integration == "callback":
            values["PaymentHeartbeatSeconds"] = args.payment_heartbeat_seconds
            values["PaymentTimeoutSeconds"] = args.payment_timeout_seconds
        integration = args.payment_integration
        definition = pulumi.Output.all(**values).apply(lambda resolved: render_definition(integration, resolved))
        return aws.sfn.StateMachine(
            f"{self._name}-workflow",
            name=self.state_machine_name,
            type=args.state_machine_type,
            role_arn=self.state_machine_role.arn,
            definition=definition,
            logging_configuration={
                "log_destination": pulumi.Output.concat(self.state_machine_logs.arn, ":*"),
                "include_execution_data": args.log_execution_data,
                "level": args.log_level,
            },
            tracing_configuration={"enabled": True},
            encryption_configuration={
                "type": "CUSTOMER_MANAGED_KMS_KEY",
                "kms_key_id": self.key.arn,
                "kms_data_key_reuse_period_seconds": 300,
            },
            opts=pulumi.ResourceOptions(parent=self, provider=ctx.primary, depends_on=[policy]),
        )

    # ----------------------------------------------------------------------------------------- rules

    def _rule(self, purpose: str, pattern: dict[str, Any], description: str) -> aws.cloudwatch.EventRule:
        return aws.cloudwatch.EventRule(
            f"{self._name}-{purpose}",
            name=self._scope.physical(purpose, service="events"),
            event_bus_name=self.bus.name,
            event_pattern=events.pattern_json(pattern),
            description=description,
            state="ENABLED",
            opts=self._child,
        )

    def _delivery(self) -> dict[str, Any]:
        return {
            "retry_policy": {
                "maximum_event_age_in_seconds": self._args.event_max_age_seconds,
                "maximum_retry_attempts": self._args.event_retry_attempts,
            },
            "dead_letter_config": {"arn": self.events_dlq.arn},
        }

    def _rules(self) -> dict[str, aws.cloudwatch.EventRule]:
        ctx = self._ctx
        order_placed = self._rule("order-placed", events.ORDER_PLACED_PATTERN, "OrderPlaced: start the workflow")
        lifecycle_rules = {
            "PaymentCompleted": self._rule(
                "payment-completed", events.PAYMENT_COMPLETED_PATTERN, "PaymentCompleted: to the lifecycle queue"
            ),
            "OrderFulfilled": self._rule(
                "order-fulfilled", events.ORDER_FULFILLED_PATTERN, "OrderFulfilled: to the lifecycle queue"
            ),
        }
        if self._args.payment_integration == "callback":
            lifecycle_rules["PaymentProgress"] = self._rule(
                "payment-progress", events.PAYMENT_PROGRESS_PATTERN, "Gateway declines and progress: lifecycle queue"
            )
        self.events_role = aws.iam.Role(
            f"{self._name}-events-role",
            name=self._scope.physical("start-workflow-events", service="iam"),
            description="EventBridge: start the order workflow",
            assume_role_policy=service_trust_policy("events.amazonaws.com"),
            opts=self._child,
        )
        events_policy = aws.iam.RolePolicy(
            f"{self._name}-events-policy",
            role=self.events_role.id,
            name="least-privilege",
            policy=policy_document(
                Statement(sid="StartWorkflow", actions=["states:StartExecution"], resources=[self.state_machine.arn]),
                self._state_machine_key_use("kms:GenerateDataKey", sid="EncryptExecutionInput"),
            ),
            opts=self._child,
        )
        self.targets = {
            "OrderPlaced": aws.cloudwatch.EventTarget(
                f"{self._name}-order-placed-target",
                rule=order_placed.name,
                event_bus_name=self.bus.name,
                target_id="order-workflow",
                arn=self.state_machine.arn,
                role_arn=self.events_role.arn,
                input_transformer={
                    "input_paths": events.ORDER_PLACED_INPUT_PATHS,
                    "input_template": events.ORDER_PLACED_INPUT_TEMPLATE,
                },
                **self._delivery(),
                opts=pulumi.ResourceOptions(parent=self, provider=ctx.primary, depends_on=[events_policy]),
            )
        }
        for key, rule in lifecycle_rules.items():
            self.targets[key] = aws.cloudwatch.EventTarget(
                f"{self._name}-{key}-target",
                rule=rule.name,
                event_bus_name=self.bus.name,
                target_id="lifecycle-queue",
                arn=self.lifecycle_queue.arn,
                **self._delivery(),
                opts=self._child,
            )
        self._allow_events_to_send(self.lifecycle_queue, "lifecycle", list(lifecycle_rules.values()))
        self._allow_events_to_send(self.events_dlq, "events-dlq", [order_placed, *lifecycle_rules.values()])
        return {"OrderPlaced": order_placed, **lifecycle_rules}

    def _allow_events_to_send(self, queue: aws.sqs.Queue, purpose: str, rules: list[aws.cloudwatch.EventRule]) -> None:
        allow_service_to_send(
            f"{self._name}-{purpose}-policy",
            queue,
            sid="EventBridgeRulesOfThisBus",
            service="events.amazonaws.com",
            source_arns=[r.arn for r in rules],
            opts=self._child,
        )

    # ------------------------------------------------------------------------------ observability

    def _alarms(self) -> list[aws.cloudwatch.MetricAlarm]:
        failed = self._scope.alarm(
            "failed-executions",
            "Order executions failed (declined, out of stock or errors): check the execution history",
            Metric("AWS/States", "ExecutionsFailed", {"StateMachineArn": self.state_machine.arn}, "Sum"),
            threshold=self._args.failed_executions_threshold,
            comparison_operator="GreaterThanOrEqualToThreshold",
        )
        dlq_alarms = [
            self._scope.alarm(
                f"{purpose}-messages",
                f"Messages in {purpose}: undeliverable events or failing lifecycle messages",
                queue_depth(queue.name),
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                notify_ok=False,
            )
            for purpose, queue in (("events-dlq", self.events_dlq), ("lifecycle-dlq", self.lifecycle_dlq))
        ]
        return [failed, *dlq_alarms]

    def _dashboard(self) -> aws.cloudwatch.Dashboard:
        region = self._ctx.region
        rule_names = [rule.name for rule in self.rules.values()]

        def body(values: list[Any]) -> str:
            machine_arn, bus_name, *names = values
            executions = [
                ["AWS/States", metric, "StateMachineArn", machine_arn]
                for metric in ("ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut")
            ]
            invocations = [
                ["AWS/Events", metric, "EventBusName", bus_name, "RuleName", rule]
                for rule in names
                for metric in ("Invocations", "FailedInvocations")
            ]
            widget = {"type": "metric", "width": 12, "height": 6}
            return json.dumps(
                {
                    "widgets": [
                        {**widget, "properties": {"title": "Order executions", "metrics": executions,
                                                  "stat": "Sum", "period": 300, "region": region}},
                        {**widget, "properties": {"title": "Rule invocations", "metrics": invocations,
                                                  "stat": "Sum", "period": 300, "region": region}},
                    ]
                }
            )  # fmt: skip

        return aws.cloudwatch.Dashboard(
            f"{self._name}-dashboard",
            dashboard_name=self._scope.physical("dashboard"),
            dashboard_body=pulumi.Output.all(self.state_machine.arn, self.bus.name, *rule_names).apply(body),
            opts=self._child,
        )

    def stack_outputs(self) -> dict[str, Any]:
        return {
            "busName": self.bus.name,
            "stateMachineArn": self.state_machine.arn,
            "tables": {
                "orders": self.orders_table.name,
                "inventory": self.inventory_table.name,
                "callbacks": self.callback_table.name,
            },
            "queues": {
                "lifecycle": self.lifecycle_queue.url,
                "lifecycleDlq": self.lifecycle_dlq.url,
                "eventsDlq": self.events_dlq.url,
            },
            "alarmTopicArn": self.alarm_topic.arn,
        }
