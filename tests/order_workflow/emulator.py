"""An AWS account in-process (moto) where the REAL state machine definition runs our REAL handlers.

How a Task state reaches our code here, and why it is faithful:

* moto's Step Functions interpreter (`execute_state_machine: True`) evaluates the ASL document the
  component deploys: Parameters/ResultSelector/ResultPath, Retry (backoff, jitter), Catch, Choice,
  Fail (ErrorPath/CausePath), `$$` context, and `lambda:invoke[.waitForTaskToken]`.
* For a Lambda task the interpreter calls the Lambda API (`lambda:Invoke`, through boto3, inside
  moto). moto's own Lambda backend would run the function in Docker, which this machine does not
  have; its docker-less backend (`lambda.use_docker: False`) returns canned answers. We patch that
  backend's `invoke` to do what the Lambda runtime does: look up the function created through the
  API, import its configured `Handler` (e.g. `handlers.order_workflow.reserve.handler`), call it with
  the JSON payload and a context object, and return its JSON result, or for an exception the
  runtime's `{"errorType", "errorMessage"}` payload with `X-Amz-Function-Error: Unhandled`. So the
  function ARNs in the definition must point at functions that exist, and the Step Functions error
  names are our exception class names exactly as in AWS.
* The handlers' own AWS calls (DynamoDB, EventBridge, Step Functions callbacks) go to the same moto
  account.
* DynamoDB's concurrency is modelled in front of moto's tables by dynamodb_model.py: every request
  is atomic (moto's tables are not thread-safe, so requests run one at a time), and with
  `transaction_conflicts=True` requests that overlap on an item are refused as DynamoDB refuses
  them (TransactionConflict), so the retry paths run for real. A transaction snapshots only the
  items it names for its rollback, not its whole tables (TouchedItemsSnapshot). A check and a later decrement in two
  requests (the article's defect) would still race under it.
* The interpreter parses the definition once per distinct definition and gives every execution its
  own deep copy of the parsed program (moto parses it again for every execution, which dominated
  the run time of many executions); JSONPath expressions are compiled once (jsonpath_ng builds a
  parser for every expression it evaluates; the compiled expression is only read); its AWS clients
  are made once per service, not per call.
* Retry waits are recorded instead of slept, so the intervals can be asserted and tests stay fast;
  `retry_time_scale` also sleeps them, scaled (jitter then spreads contending retries as in AWS).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import io
import json
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.responses import DynamoHandler
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils, state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from components.order_workflow import events as patterns
from components.order_workflow.definition import DefinitionVariant, load_definition, placeholders, render_definition
from handlers.order_workflow import runtime
from tests.order_workflow.dynamodb_model import DynamoDbConcurrency, TouchedItemsSnapshot
from tests.order_workflow.gateway_server import API_KEY_HEADER, SandboxGateway, sandbox_gateway_server
from tests.order_workflow.http_task import http_error_names, with_http

REGION = "eu-west-1"
ACCOUNT = "123456789012"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}

ENVIRONMENT = {
    "ORDERS_TABLE": "orders",
    "INVENTORY_TABLE": "inventory",
    "CALLBACK_TABLE": "callbacks",
    "EVENT_BUS_NAME": "orders-bus",
    "PARAMETERS_PATH": "/platform/test/orders",
    "RECONCILIATION_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/refund-reconciliation",
}
# The runtime parameters the component writes to SSM under PARAMETERS_PATH.
PARAMETERS = {
    "paymentGateway": "local",
    "callbackTtlSeconds": "3600",
    "reapAfterSeconds": "3600",
    "maxAutoRedrives": "3",
}


def put_parameters(ssm: Any, values: dict[str, str] | None = None) -> None:
    for key, value in (values or PARAMETERS).items():
        ssm.put_parameter(Name=f"{ENVIRONMENT['PARAMETERS_PATH']}/{key}", Value=value, Type="String", Overwrite=True)


# Function per placeholder of the definitions, with the handler module the component packages.
FUNCTIONS = {
    "ValidateOrderFunctionArn": ("validate-order", "validate"),
    "ReserveInventoryFunctionArn": ("reserve-inventory", "reserve"),
    "ProcessPaymentFunctionArn": ("process-payment", "payment"),
    "RequestPaymentFunctionArn": ("request-payment", "request_payment"),
    "FulfilOrderFunctionArn": ("fulfil-order", "fulfil"),
    "ReleaseInventoryFunctionArn": ("release-inventory", "release"),
    "RefundPaymentFunctionArn": ("refund-payment", "refund"),
    "RecordPaymentFunctionArn": ("record-payment", "record_payment"),
}
GATEWAY_API_KEY = "sandbox-key-for-tests"  # pragma: allowlist secret


@dataclass(frozen=True)
class _Context:
    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def _invoke_in_process(self: LambdaSimpleBackend, function_name, qualifier, body, headers, response_headers):
    """Stand-in for the Lambda runtime (see module docstring)."""
    function = self.get_function(function_name, qualifier)
    missing = {k: v for k, v in function.environment_vars.items() if runtime.os.environ.get(k) != v}
    assert not missing, f"function {function.function_name} configured with {missing} but the process runs without"
    module_name, _, attribute = function.handler.rpartition(".")
    entry = getattr(importlib.import_module(module_name), attribute)
    event = json.loads(body) if body else {}
    try:
        result = entry(event, _Context(function.function_name))
    except Exception as error:
        response_headers["x-amz-function-error"] = "Unhandled"
        payload = {
            "errorType": type(error).__name__,
            "errorMessage": str(error),
            "stackTrace": traceback.format_tb(error.__traceback__),
        }
        return json.dumps(payload).encode()
    return json.dumps(result).encode()


class _RecordedSleeps:
    """Replaces `time` in moto's retrier: records each Retry wait, and sleeps it `scale` times as long."""

    def __init__(self, scale: float = 0.0) -> None:
        self.waits: list[float] = []
        self._scale = scale
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
        if self._scale:
            time.sleep(seconds * self._scale)


def _parsed_once() -> Any:
    """ExecutionWorker._get_evaluation_entrypoint, parsing each distinct definition once: every
    execution still gets a program of its own (a deep copy), as a fresh parse would give it."""
    programs: dict[str, Any] = {}
    lock = threading.Lock()

    def entrypoint(worker: ExecutionWorker) -> Any:
        definition = worker._evaluation_details.state_machine_details.definition
        with lock:
            if definition not in programs:
                programs[definition] = AmazonStateLanguageParser.parse(definition)[0]
            return copy.deepcopy(programs[definition])

    return entrypoint


def _answer_already_given(original: Any) -> Any:
    """StateTaskServiceCallback._wait_for_task_token_heartbeat, seeing an answer that arrived before
    the wait began. In AWS a token answered while the task's Lambda still runs (SendTaskSuccess from
    inside it) resolves the task; moto only looks at the answer after a heartbeat event, so such a
    task would time out. (moto gap; request_payment relies on the AWS behaviour.)"""

    def wait(self: Any, env: Any, callback_endpoint: Any, heartbeat_endpoint: Any) -> Any:
        answered = callback_endpoint.get_outcome()
        if answered is not None:
            return answered
        return original(self, env, callback_endpoint, heartbeat_endpoint)

    return wait


def _client_per_service(original: Any) -> Any:
    """moto's interpreter makes a new boto3 client for every Lambda task; clients are thread-safe,
    so one per (region, service) is what a long-lived worker would hold."""
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            if (region, service) not in clients:
                clients[(region, service)] = original(region, service, state_credentials)
            return clients[(region, service)]

    return boto_client_for


@dataclass
class Account:
    """Handles on the emulated account, with helpers the tests read like a runbook."""

    integration: DefinitionVariant
    state_machine_arn: str
    function_arns: dict[str, str]
    retry_waits: list[float]
    probe_queue_url: str
    gateway_queue_url: str

    dynamodb: DynamoDbConcurrency
    http_gateway: SandboxGateway | None = None
    ddb: Any = field(init=False)
    sfn: Any = field(init=False)
    events: Any = field(init=False)
    sqs: Any = field(init=False)

    def __post_init__(self) -> None:
        # One client each (creating one costs tens of milliseconds; using one is thread-safe).
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.events = boto3.client("events", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)

    def stock(self, product_id: str) -> dict[str, int]:
        item = self.ddb.get_item(TableName="inventory", Key={"productId": {"S": product_id}}, ConsistentRead=True)[
            "Item"
        ]
        return {"available": int(item["available"]["N"]), "reserved": int(item.get("reserved", {"N": "0"})["N"])}

    def order(self, order_id: str) -> dict[str, Any]:
        from handlers.order_workflow.store import get_order

        return get_order(self.ddb, "orders", order_id)

    def put_stock(self, product_id: str, units: int) -> None:
        self.ddb.put_item(
            TableName="inventory",
            Item={"productId": {"S": product_id}, "available": {"N": str(units)}, "reserved": {"N": "0"}},
        )

    def start(self, order: Mapping[str, Any]) -> str:
        # A fresh name per start, as EventBridge does (moto would otherwise name every execution "None").
        execution = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn,
            name=f"exec-{uuid.uuid4().hex}",
            input=json.dumps({"order": order, "eventId": f"evt-{uuid.uuid4().hex[:8]}"}),
        )
        return execution["executionArn"]

    def wait(self, execution_arn: str, *, timeout: float = 60.0, until: tuple[str, ...] = ()) -> dict[str, Any]:
        """Poll until the execution ends (or reaches a state named in `until`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if until and until[0] in self.entered_states(execution_arn):
                return described
            time.sleep(0.02)
        raise TimeoutError(f"execution {execution_arn} still running after {timeout}s")

    def wait_all(self, execution_arns: list[str], *, timeout: float = 300.0) -> list[dict[str, Any]]:
        """Wait for many executions with one ListExecutions poll per tick (polling each one would
        spend the CPU the executions need), then describe each."""
        deadline = time.monotonic() + timeout
        pending = set(execution_arns)
        while pending and time.monotonic() < deadline:
            pages = self.sfn.get_paginator("list_executions").paginate(
                stateMachineArn=self.state_machine_arn, statusFilter="RUNNING"
            )
            # Executions finishing between two pages invalidate the next-page token (the RUNNING list moved):
            # that snapshot is incomplete, so it changes nothing and the next tick polls again.
            with contextlib.suppress(self.sfn.exceptions.InvalidToken):
                pending &= {e["executionArn"] for page in pages for e in page["executions"]}
            if pending:
                time.sleep(0.25)
        if pending:
            raise TimeoutError(f"{len(pending)} executions still running after {timeout}s")
        return [self.sfn.describe_execution(executionArn=arn) for arn in execution_arns]

    def run(self, order: Mapping[str, Any]) -> dict[str, Any]:
        return self.wait(self.start(order))

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]

    def entered_states(self, execution_arn: str) -> list[str]:
        events = self.history(execution_arn)
        return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]

    def payment_requests(self) -> list[dict[str, Any]]:
        """What the gateway's API destination received (the rule's transformed input), drained."""
        return [json.loads(r["body"]) for r in self._drain(self.gateway_queue_url)]

    def lifecycle_messages(self) -> list[dict[str, Any]]:
        return self._drain(self.probe_queue_url)

    def _drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Drain the probe queue that receives what the lifecycle rules route (as SQS records)."""
        records = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return records
            for message in batch:
                records.append({"messageId": message["MessageId"], "body": message["Body"]})
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _create_tables(ddb: Any) -> None:
    """Same keys and index as the component declares."""
    ddb.create_table(
        TableName="orders",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "orderId", "AttributeType": "S"},
            {"AttributeName": "customerId", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "CustomerIndex",
                "KeySchema": [{"AttributeName": "customerId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    for name, key in (("inventory", "productId"), ("callbacks", "orderId")):
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        )


def _create_functions(variant: DefinitionVariant) -> dict[str, str]:
    """The functions the variant's definition names (by placeholder), with the component's handlers."""
    wanted = placeholders(load_definition(variant))
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="order-task", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("handlers/__init__.py", "")
    lam = boto3.client("lambda", region_name=REGION)
    arns = {}
    for placeholder, (name, module) in FUNCTIONS.items():
        if placeholder not in wanted:
            continue
        arns[placeholder] = lam.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler=f"handlers.order_workflow.{module}.handler",
            Code={"ZipFile": archive.getvalue()},
            Environment={"Variables": dict(ENVIRONMENT)},
        )["FunctionArn"]
    return arns


def _create_bus_and_probe(events: Any, sqs: Any) -> str:
    """The bus with the component's lifecycle rules, routed to a probe queue the tests drain; and the
    refund reconciliation queue."""
    reconciliation = sqs.create_queue(QueueName="refund-reconciliation")["QueueUrl"]
    assert reconciliation == ENVIRONMENT["RECONCILIATION_QUEUE_URL"], reconciliation
    events.create_event_bus(Name=ENVIRONMENT["EVENT_BUS_NAME"])
    url = sqs.create_queue(QueueName="lifecycle-probe")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for name, pattern in (
        ("payment-completed", patterns.PAYMENT_COMPLETED_PATTERN),
        ("payment-progress", patterns.PAYMENT_PROGRESS_PATTERN),
        ("order-fulfilled", patterns.ORDER_FULFILLED_PATTERN),
    ):
        events.put_rule(Name=name, EventBusName=ENVIRONMENT["EVENT_BUS_NAME"], EventPattern=json.dumps(pattern))
        events.put_targets(Rule=name, EventBusName=ENVIRONMENT["EVENT_BUS_NAME"], Targets=[{"Id": "probe", "Arn": arn}])
    return url


def _create_gateway_probe(events: Any, sqs: Any) -> str:
    """The component's Payment Requested rule and input transformer, routed to a queue standing in
    for the gateway's API destination (moto does not make the HTTP call)."""
    url = sqs.create_queue(QueueName="gateway-probe")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = ENVIRONMENT["EVENT_BUS_NAME"]
    events.put_rule(
        Name="payment-requested", EventBusName=bus, EventPattern=json.dumps(patterns.PAYMENT_REQUESTED_PATTERN)
    )
    transformer = {
        "InputPathsMap": patterns.PAYMENT_REQUEST_INPUT_PATHS,
        "InputTemplate": patterns.PAYMENT_REQUEST_INPUT_TEMPLATE,
    }
    events.put_targets(
        Rule="payment-requested",
        EventBusName=bus,
        Targets=[{"Id": "gateway", "Arn": arn, "InputTransformer": transformer}],
    )
    return url


@contextmanager
def emulated_account(
    integration: DefinitionVariant = "direct",
    *,
    heartbeat_seconds: int = 60,
    timeout_seconds: int = 300,
    transaction_conflicts: bool = False,
    retry_time_scale: float = 0.0,
) -> Iterator[Account]:
    sleeps = _RecordedSleeps(retry_time_scale)
    dynamodb = DynamoDbConcurrency(conflicts=transaction_conflicts)
    with ExitStack() as stack:
        stack.enter_context(
            mock.patch.dict(
                runtime.os.environ,
                {
                    **ENVIRONMENT,
                    "AWS_DEFAULT_REGION": REGION,
                    "PAYMENT_INTEGRATION": "callback" if integration == "callback" else "direct",
                },
            )
        )
        stack.enter_context(mock_aws(config=MOTO_CONFIG))
        stack.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", _invoke_in_process))
        stack.enter_context(mock.patch.object(DynamoHandler, "call_action", dynamodb.wrap(DynamoHandler.call_action)))
        snapshots = TouchedItemsSnapshot()
        stack.enter_context(mock.patch.object(dynamodb_models, "copy", snapshots))
        backend = dynamodb_models.DynamoDBBackend
        transact = snapshots.transact_write_items(backend.transact_write_items)
        stack.enter_context(mock.patch.object(backend, "transact_write_items", transact))
        stack.enter_context(mock.patch.object(retrier_decl, "time", sleeps))
        stack.enter_context(mock.patch.object(ExecutionWorker, "_get_evaluation_entrypoint", _parsed_once()))
        services = state_task_factory.state_task_service_for
        stack.enter_context(mock.patch.object(state_task_factory, "state_task_service_for", with_http(services)))
        stack.enter_context(mock.patch.object(CustomErrorName, "__init__", http_error_names(CustomErrorName.__init__)))
        heartbeat_wait = StateTaskServiceCallback._wait_for_task_token_heartbeat
        stack.enter_context(
            mock.patch.object(
                StateTaskServiceCallback, "_wait_for_task_token_heartbeat", _answer_already_given(heartbeat_wait)
            )
        )
        stack.enter_context(mock.patch.object(json_path, "parse", functools.lru_cache(maxsize=1024)(json_path.parse)))
        stack.enter_context(
            mock.patch.object(
                lambda_eval_utils, "boto_client_for", _client_per_service(lambda_eval_utils.boto_client_for)
            )
        )
        runtime.reset()
        stack.callback(runtime.reset)
        # A Lambda container is single-threaded; here many executions call the handlers at once, and
        # boto3's default session is not safe to create clients from concurrently: make them first.
        for service in ("dynamodb", "events", "sqs", "ssm", "stepfunctions"):
            runtime.client(service)
        _create_tables(boto3.client("dynamodb", region_name=REGION))
        # As the component writes it: the callback variant's gateway is external.
        gateway_name = "external" if integration == "callback" else "local"
        put_parameters(boto3.client("ssm", region_name=REGION), {**PARAMETERS, "paymentGateway": gateway_name})
        events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
        probe = _create_bus_and_probe(events, sqs)
        gateway = _create_gateway_probe(events, sqs)
        arns = _create_functions(integration)
        values: dict[str, Any] = dict(arns)
        if integration == "callback":
            values |= {"PaymentHeartbeatSeconds": heartbeat_seconds, "PaymentTimeoutSeconds": timeout_seconds}
        http_gateway = None
        if integration == "direct-http":
            endpoint, http_gateway = stack.enter_context(sandbox_gateway_server(GATEWAY_API_KEY))
            connection = events.create_connection(
                Name="gateway",
                AuthorizationType="API_KEY",
                AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": API_KEY_HEADER, "ApiKeyValue": GATEWAY_API_KEY}},
            )
            values |= {
                "GatewayChargeEndpoint": f"{endpoint}/charges",
                "GatewayConnectionArn": connection["ConnectionArn"],
            }
        machine = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name=f"orders-{integration}",
            definition=render_definition(integration, values),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/order-state-machine",
        )["stateMachineArn"]
        yield Account(integration, machine, arns, sleeps.waits, probe, gateway, dynamodb, http_gateway)


def order(
    order_id: str, *, reference: str = "tok_visa", lines: list[tuple[str, int, str]] | None = None
) -> dict[str, Any]:
    """An order as a shop front would publish it (numbers as JSON numbers)."""
    lines = lines or [("LAPTOP001", 1, "999.99"), ("MOUSE001", 2, "29.99")]
    total = sum((Decimal(price) * quantity for _, quantity, price in lines), Decimal("0"))
    return {
        "orderId": order_id,
        "customerId": "CUST001",
        "currency": "USD",
        "paymentReference": reference,
        "items": [{"productId": p, "quantity": q, "price": float(price)} for p, q, price in lines],
        "totalAmount": float(total),
    }
