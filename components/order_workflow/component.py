"""The OrderWorkflow component: EventBridge bus and rules -> Step Functions order state machine ->
Lambda tasks over DynamoDB, plus an EventBridge -> SQS -> Lambda consumer for lifecycle events.

    Order Placed --OrderPlaced rule--> state machine (ValidateOrder -> ReserveInventory -> ProcessPayment
                                        -> FulfilOrder; ReleaseInventory on every failed path)
    Payment Completed / Order Fulfilled (/ Payment Declined, Processing) --rules--> lifecycle queue
                                        --> lifecycle consumer (records events, resumes callback tasks)
    callback: Payment Requested --rule--> gateway API destination; the gateway's account puts its
                                        answers on the bus (gateway.py)
    FAILED / TIMED_OUT executions --default bus--> redrive function (bounded); scheduled reaper
                                        (recovery.py)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.context import BACKUP_TAG, StackContext
from components.iam import Statement
from components.kms import key_use_through
from components.lambda_function import FunctionSpec, PythonFunction
from components.order_workflow import events
from components.order_workflow.args import OrderWorkflowArgs
from components.order_workflow.definition import variant_for
from components.order_workflow.gateway import gateway_connection, payment_gateway_path
from components.order_workflow.global_endpoint import DrIntake, dr_intake, global_endpoint
from components.order_workflow.observability import order_alarms, order_dashboard
from components.order_workflow.recovery import recovery
from components.order_workflow.rules import order_rules, retry_policy
from components.order_workflow.state_machine import (
    StateMachineNames,
    order_state_machine,
    state_machine_key_use,
)
from components.queues import MAX_RETENTION_SECONDS, allow_service_to_send
from components.runtime_params import RuntimeParameters
from components.scope import Scope, component_options

# Physical-name slug of an order workflow unless the program gives another one.
COMPONENT = "orders"
LIFECYCLE_TIMEOUT_SECONDS = 30
TASK_TIMEOUT_SECONDS = 30
CONNECTION_KEY_TAG = {"EventBridgeApiDestinations": "true"}


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
        self._machine_names = StateMachineNames.of(self._scope)
        self._variant = variant_for(args.payment_integration, args.payment_gateway)
        self.state_machine_name = self._machine_names.name

        self.key = self._scope.key(
            "data",
            description="Orders: tables, event bus and archive, queues, topic, logs, state machine",
            services=["logs", "events", "cloudwatch"],
            extra_statements=[self._log_delivery_key_statement()],
            # EventBridge encrypts a connection's credential (the payment gateway's) with a customer managed
            # key only if the key carries this tag: its service-linked role may use no other
            # (https://docs.aws.amazon.com/eventbridge/latest/userguide/encryption-connections.html).
            tags=CONNECTION_KEY_TAG if self._uses_gateway_connection(args) else None,
        )
        self._scope = self._scope.with_key(self.key.arn)
        self.alarm_topic = self._scope.alarm_topic()
        self._scope = self._scope.with_alarm_topic(self.alarm_topic.arn)
        self.orders_table, self.inventory_table, self.callback_table = self._tables()
        # Events the CMK-encrypted bus cannot deliver to a target (e.g. it cannot use the key) land here.
        self.bus_dlq = self._queue("bus-dlq", retention_seconds=MAX_RETENTION_SECONDS)
        self.bus = aws.cloudwatch.EventBus(
            f"{name}-bus",
            name=self._scope.physical("bus", service="events"),
            description="Order lifecycle events (ecommerce.orders / payments / fulfillment)",
            kms_key_identifier=self.key.arn,
            dead_letter_config={"arn": self.bus_dlq.arn},
            opts=self._child,
        )
        allow_service_to_send(
            f"{name}-bus-dlq-policy",
            self.bus_dlq,
            sid="EventsTheOrdersBusCouldNotDeliver",
            service="events.amazonaws.com",
            source_arns=[self.bus.arn],
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
        # Refunds the gateway refused wait here for an operator (alarmed below, apart from declined cards).
        self.reconciliation_queue = self._queue("refund-reconciliation", retention_seconds=MAX_RETENTION_SECONDS)
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
                # The gateway the functions refund through: the callback variant's is external (the
                # sandbox must never claim refunds there).
                "paymentGateway": args.payment_gateway if args.payment_integration == "direct" else "external",
                "callbackTtlSeconds": str(args.payment_timeout_seconds + 86_400),
                "maxAutoRedrives": str(args.max_auto_redrives),
                "reapAfterSeconds": str(args.reap_after_seconds),
            },
            opts=self._child,
        )
        self.functions = self._task_functions()
        self.lifecycle_function = self._lifecycle_consumer()
        # direct + http: the state machine charges the gateway itself, through the gateway connection.
        self.gateway_connection = gateway_connection(self._scope, args)[1] if self._variant == "direct-http" else None
        workflow = order_state_machine(
            self._scope,
            args,
            names=self._machine_names,
            key_arn=self.key.arn,
            functions=self.functions,
            retention_days=self._retention,
            gateway_connection=self.gateway_connection,
        )
        self.state_machine, self.state_machine_role, self.state_machine_logs = (
            workflow.machine,
            workflow.role,
            workflow.logs,
        )
        routing = order_rules(
            self._scope,
            args,
            bus=self.bus,
            state_machine=self.state_machine,
            encrypt_execution_input=self._state_machine_key_use("kms:GenerateDataKey", sid="EncryptExecutionInput"),
            lifecycle_queue=self.lifecycle_queue,
            events_dlq=self.events_dlq,
        )
        self.rules, self.targets, self.events_role = routing.rules, routing.targets, routing.events_role
        self.gateway = (
            payment_gateway_path(self._scope, args, self.bus, retry_policy=retry_policy(args))
            if args.payment_integration == "callback"
            else None
        )
        self.recovery = recovery(
            self._scope,
            # One run at a time is what they need: no share of the account's concurrency is reserved.
            make_function=functools.partial(self._function, reserved=False),
            state_machine_arn=self._machine_names.arn,
            executions_arn=self._machine_names.executions_arn,
            orders_table=self.orders_table,
            inventory_table=self.inventory_table,
            reconcile_refunds=self._reconcile_refunds(),
            queue_key_use=self._queue_key_use(),
            retry_policy=retry_policy(args),
        )
        dead_letters = [
            ("events-dlq", self.events_dlq),
            ("lifecycle-dlq", self.lifecycle_dlq),
            ("refund-reconciliation", self.reconciliation_queue),
            ("bus-dlq", self.bus_dlq),
            *([("gateway-dlq", self.gateway.dead_letters)] if self.gateway is not None else []),
        ]
        self.alarms = [
            *order_alarms(
                self._scope,
                args,
                machine_arn=self.state_machine.arn,
                release_function_name=self.functions["ReleaseInventoryFunctionArn"].function.name,
                queues=dead_letters,
            ),
            *self.recovery.alarms,
        ]
        self.dashboard = order_dashboard(
            self._scope,
            machine_arn=self.state_machine.arn,
            bus_name=self.bus.name,
            rule_names=[rule.name for rule in self.rules.values()],
        )
        self.dr_intake = self._dr_intake() if args.dr_intake_bus else None
        self.global_endpoint = (
            global_endpoint(self._scope, bus=self.bus, intake=self.dr_intake)
            if args.global_endpoint and self.dr_intake is not None
            else None
        )
        self.register_outputs(self.stack_outputs())

    def _dr_intake(self) -> DrIntake:
        """The same-name bus in the DR region, forwarding the events the primary bus's rules route."""
        patterns = {
            "order-placed": events.ORDER_PLACED_PATTERN,
            "payment-completed": events.PAYMENT_COMPLETED_PATTERN,
            "order-fulfilled": events.ORDER_FULFILLED_PATTERN,
        }
        if self._args.payment_integration == "callback":
            patterns["payment-progress"] = events.PAYMENT_PROGRESS_PATTERN
        return dr_intake(
            self._scope,
            bus=self.bus,
            bus_name=self._scope.physical("bus", service="events"),
            patterns=patterns,
            archive_retention_days=self._args.archive_retention_days,
        )

    # ------------------------------------------------------------------------------------------ data

    def _uses_gateway_connection(self, args: OrderWorkflowArgs) -> bool:
        """An EventBridge connection to the payment gateway: the callback path's API destination, or the
        direct variant's HTTP Task."""
        return args.payment_integration == "callback" or self._variant == "direct-http"

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
            "RECONCILIATION_QUEUE_URL": self.reconciliation_queue.url,
        }

    def _reconcile_refunds(self) -> list[Statement]:
        return [
            Statement(
                sid="QueueRefundForReconciliation",
                actions=["sqs:SendMessage"],
                resources=[self.reconciliation_queue.arn],
            ),
            self._queue_key_use(),
        ]

    def _queue_key_use(self) -> Statement:
        # Sending to a CMK-encrypted queue: SQS asks KMS for data keys on the sender's behalf.
        return key_use_through(
            "UseQueueKeyThroughSqs", self.key.arn, ["kms:GenerateDataKey", "kms:Decrypt"], ["sqs"], self._ctx.region
        )

    def _function(
        self,
        purpose: str,
        module: str,
        description: str,
        statements: Sequence[Statement],
        include: Sequence[str],
        timeout: int = TASK_TIMEOUT_SECONDS,
        dead_letter_arn: pulumi.Input[str] | None = None,
        *,
        reserved: bool = True,
    ) -> PythonFunction:
        return self._scope.function(
            FunctionSpec(
                purpose=purpose,
                module=f"order_workflow.{module}",
                description=description,
                statements=[*statements, self._dynamodb_key_use(), *self.settings.read_statements()],
                environment=self._environment(),
                include=["runtime", *include],
                reserved_concurrency=self._args.task_reserved_concurrency if reserved else None,
                log_retention_days=self._retention,
                timeout=timeout,
                dead_letter_arn=dead_letter_arn,
            )
        )

    def _state_machine_key_use(self, *actions: str, sid: str) -> Statement:
        return state_machine_key_use(self.key.arn, self._machine_names, *actions, sid=sid)

    def _task_functions(self) -> dict[str, PythonFunction]:
        """One function per task; each may use exactly the items and actions its code touches."""
        orders, inventory, callbacks = self.orders_table, self.inventory_table, self.callback_table
        functions = {
            "ValidateOrderFunctionArn": self._function(
                "validate",
                "validate",
                "ValidateOrder: check and store the order once",
                [
                    _dynamodb(
                        ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"], orders, sid="CreateOrder"
                    ),
                    # DuplicateOrder asks whether the execution that owns the order still runs.
                    Statement(
                        sid="AskWhetherOwnerRuns",
                        actions=["states:DescribeExecution"],
                        resources=[self._machine_names.executions_arn],
                    ),
                ],
                ["orders", "store", "gateway"],
            ),
            "RefundPaymentFunctionArn": self._function(
                "refund",
                "refund",
                "RefundPayment: give a captured payment back once, or queue it for reconciliation",
                [
                    _dynamodb(["dynamodb:GetItem", "dynamodb:UpdateItem"], orders, sid="ReadAndRecordRefund"),
                    *self._reconcile_refunds(),
                ],
                ["orders", "store", "gateway", "refunds"],
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
        if self._variant == "direct-http":
            functions["RecordPaymentFunctionArn"] = self._function(
                "record-payment",
                "record_payment",
                "RecordPayment: keep the answer the gateway gave the HTTP Task, once per order",
                [
                    _dynamodb(["dynamodb:GetItem", "dynamodb:UpdateItem"], orders, sid="ReadAndRecordPayment"),
                    self._put_events(),
                ],
                ["orders", "store", "gateway", "payment"],
            )
        elif self._args.payment_integration == "direct":
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
                    Statement(sid="AnswerWithRecordedPayment", actions=["states:SendTaskSuccess"]),
                    self._state_machine_key_use("kms:GenerateDataKey", "kms:Decrypt", sid="EncryptTaskOutput"),
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
                *self._reconcile_refunds(),
            ]
        consumer = self._scope.function(
            FunctionSpec(
                purpose="lifecycle",
                module="order_workflow.lifecycle",
                description="Order lifecycle consumer (SQS, partial batch failures)",
                statements=[*statements, self._dynamodb_key_use(), *self.settings.read_statements()],
                # Structural (it decides the grants above), so it travels with the deployment, not in SSM.
                environment={**self._environment(), "PAYMENT_INTEGRATION": self._args.payment_integration},
                include=["runtime", "orders", "store", "gateway", "refund", "refunds"],
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
            **self._multi_region_outputs(),
        }

    def _multi_region_outputs(self) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        if self.dr_intake is not None:
            outputs["drIntakeBusArn"] = self.dr_intake.bus.arn
        if self.global_endpoint is not None:
            url = self.global_endpoint.endpoint.endpoint_url
            outputs["globalEndpointUrl"] = url
            # PutEvents takes the endpoint's id: `https://<id>.endpoints.event.amazonaws.com`.
            outputs["globalEndpointId"] = url.apply(lambda u: u.split("//", 1)[-1].split(".endpoints.", 1)[0])
        return outputs
