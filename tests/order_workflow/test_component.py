"""The OrderWorkflow component as `pulumi up` would declare it, checked on the inputs that reach each resource."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

from components.order_workflow import events
from offline.mocks import ACCOUNT_ID, RecordedResource
from offline.runner import PlanGraph, read_stack_config

SFN = "aws:sfn/stateMachine:StateMachine"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
POLICY = "aws:iam/rolePolicy:RolePolicy"
FUNCTION = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"


def _orders(plan: PlanGraph, type_token: str) -> list[RecordedResource]:
    component = plan.one("platform:index:OrderWorkflow")
    return [r for r in plan.descendants(component) if r.type == type_token]


def _one(plan: PlanGraph, type_token: str, name: str) -> RecordedResource:
    found = [r for r in _orders(plan, type_token) if r.name == f"orders-{name}"]
    assert len(found) == 1, (type_token, name, [r.name for r in _orders(plan, type_token)])
    return found[0]


def _definition(plan: PlanGraph) -> dict[str, Any]:
    return json.loads(_one(plan, SFN, "workflow").inputs["definition"])


def _grants(plan: PlanGraph, function: str) -> dict[str, set[str]]:
    """Actions granted by a function's role policy, per resource."""
    document = json.loads(_one(plan, POLICY, f"{function}-policy").inputs["policy"])
    grants: dict[str, set[str]] = {}
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            grants.setdefault(resource, set()).update(actions)
    return grants


def _arn(plan: PlanGraph, type_token: str, name: str) -> str:
    return _one(plan, type_token, name).outputs["arn"]


def test_order_placed_rule_starts_the_state_machine_with_the_order(dev_plan: PlanGraph) -> None:
    rule = _one(dev_plan, RULE, "order-placed")
    assert json.loads(rule.inputs["eventPattern"]) == events.ORDER_PLACED_PATTERN
    assert rule.inputs["eventBusName"] == _one(dev_plan, "aws:cloudwatch/eventBus:EventBus", "bus").outputs["name"]
    target = _one(dev_plan, TARGET, "order-placed-target")
    assert target.inputs["rule"] == rule.outputs["name"]
    assert target.inputs["arn"] == _arn(dev_plan, SFN, "workflow")
    assert target.inputs["inputTransformer"] == {
        "inputPaths": {"order": "$.detail.orderData", "eventId": "$.id"},
        "inputTemplate": '{"order": <order>, "eventId": "<eventId>"}',
    }
    # dev: eventRetryAttempts 3, eventMaxAgeSeconds 900
    assert target.inputs["retryPolicy"] == {"maximumEventAgeInSeconds": 900, "maximumRetryAttempts": 3}
    assert target.inputs["deadLetterConfig"] == {"arn": _arn(dev_plan, QUEUE, "events-dlq")}
    role_policy = json.loads(_one(dev_plan, POLICY, "events-policy").inputs["policy"])
    start = next(s for s in role_policy["Statement"] if s["Sid"] == "StartWorkflow")
    assert (start["Action"], start["Resource"]) == ("states:StartExecution", _arn(dev_plan, SFN, "workflow"))


def test_lifecycle_rules_route_to_the_queue_with_retry_and_dlq(prod_plan: PlanGraph) -> None:
    lifecycle_arn = _arn(prod_plan, QUEUE, "lifecycle")
    expected = {
        "payment-completed": events.PAYMENT_COMPLETED_PATTERN,
        "order-fulfilled": events.ORDER_FULFILLED_PATTERN,
        "payment-progress": events.PAYMENT_PROGRESS_PATTERN,  # prod uses the callback gateway
    }
    for purpose, pattern in expected.items():
        assert json.loads(_one(prod_plan, RULE, purpose).inputs["eventPattern"]) == pattern
    targets = [t for t in _orders(prod_plan, TARGET) if t.inputs["arn"] == lifecycle_arn]
    assert len(targets) == 3
    for target in targets:
        assert target.inputs["retryPolicy"] == {"maximumEventAgeInSeconds": 14400, "maximumRetryAttempts": 20}
        assert target.inputs["deadLetterConfig"] == {"arn": _arn(prod_plan, QUEUE, "events-dlq")}
    queue_policy = json.loads(_one(prod_plan, "aws:sqs/queuePolicy:QueuePolicy", "lifecycle-policy").inputs["policy"])
    sources = queue_policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sorted(sources) == sorted(_arn(prod_plan, RULE, p) for p in expected)


def test_dev_direct_variant_has_no_callback_rule(dev_plan: PlanGraph) -> None:
    bus = _one(dev_plan, "aws:cloudwatch/eventBus:EventBus", "bus").outputs["name"]
    assert sorted(r.name for r in _orders(dev_plan, RULE) if r.inputs.get("eventBusName") == bus) == [
        "orders-order-fulfilled", "orders-order-placed", "orders-payment-completed",
    ]  # fmt: skip


def test_archive_keeps_the_bus_events_for_the_configured_days(dev_plan: PlanGraph, prod_plan: PlanGraph) -> None:
    for plan, days in ((dev_plan, 7), (prod_plan, 90)):
        archive = _one(plan, "aws:cloudwatch/eventArchive:EventArchive", "archive")
        assert archive.inputs["eventSourceArn"] == _arn(plan, "aws:cloudwatch/eventBus:EventBus", "bus")
        assert archive.inputs["retentionDays"] == days
        assert len(archive.inputs["name"]) <= 48


def test_tables_on_demand_pitr_cmk_and_protected_in_prod(dev_plan: PlanGraph, prod_plan: PlanGraph) -> None:
    key_arn = _arn(prod_plan, "aws:kms/key:Key", "data-key-key")
    for purpose in ("orders", "inventory", "callbacks"):
        table = _one(prod_plan, "aws:dynamodb/table:Table", purpose)
        assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
        assert table.inputs["pointInTimeRecovery"]["enabled"] is True
        assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key_arn}
        assert table.protect is True
        assert _one(dev_plan, "aws:dynamodb/table:Table", purpose).protect is False
    orders = _one(prod_plan, "aws:dynamodb/table:Table", "orders")
    assert orders.inputs["hashKey"] == "orderId"
    assert orders.inputs["globalSecondaryIndexes"] == [
        {
            "name": "CustomerIndex",
            "keySchemas": [{"attributeName": "customerId", "keyType": "HASH"}],
            "projectionType": "ALL",
        }
    ]
    assert _one(prod_plan, "aws:dynamodb/table:Table", "inventory").inputs["hashKey"] == "productId"
    assert _one(prod_plan, "aws:dynamodb/table:Table", "callbacks").inputs["ttl"] == {
        "attributeName": "expiresAt",
        "enabled": True,
    }


EXPECTED_TABLE_GRANTS = {
    # UpdateItem: an order whose execution stopped without finishing it is taken over.
    "validate": {"orders": {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"}},
    "refund": {"orders": {"dynamodb:GetItem", "dynamodb:UpdateItem"}},
    "reserve": {"orders": {"dynamodb:GetItem", "dynamodb:UpdateItem"}, "inventory": {"dynamodb:UpdateItem"}},
    "payment": {"orders": {"dynamodb:GetItem", "dynamodb:UpdateItem"}},
    "fulfil": {"orders": {"dynamodb:GetItem", "dynamodb:UpdateItem"}, "inventory": {"dynamodb:UpdateItem"}},
    "release": {"orders": {"dynamodb:GetItem", "dynamodb:UpdateItem"}, "inventory": {"dynamodb:UpdateItem"}},
    "lifecycle": {"orders": {"dynamodb:GetItem", "dynamodb:UpdateItem"}},
}
PUBLISHERS = {"payment", "fulfil"}


@pytest.mark.parametrize("function", sorted(EXPECTED_TABLE_GRANTS))
def test_each_function_gets_exactly_its_table_actions_and_this_bus(dev_plan: PlanGraph, function: str) -> None:
    grants = _grants(dev_plan, function)
    tables = {p: _arn(dev_plan, "aws:dynamodb/table:Table", p) for p in ("orders", "inventory", "callbacks")}
    table_grants = {purpose: grants[arn] for purpose, arn in tables.items() if arn in grants}
    assert table_grants == EXPECTED_TABLE_GRANTS[function]
    bus_arn = _arn(dev_plan, "aws:cloudwatch/eventBus:EventBus", "bus")
    assert (grants.get(bus_arn) == {"events:PutEvents"}) == (function in PUBLISHERS)
    every_action = set().union(*grants.values())
    assert not any(a.startswith("events:") for r, acts in grants.items() if r != bus_arn for a in acts)
    assert "dynamodb:Scan" not in every_action and "dynamodb:DeleteItem" not in every_action


@pytest.mark.parametrize("function", sorted(EXPECTED_TABLE_GRANTS))
def test_each_function_reads_its_settings_from_the_component_parameter_path(dev_plan: PlanGraph, function: str) -> None:
    env = _one(dev_plan, "aws:lambda/function:Function", f"{function}-function").inputs["environment"]["variables"]
    assert env["PARAMETERS_PATH"] == "/platform/dev/orders"
    assert "PAYMENT_GATEWAY" not in env and "CALLBACK_TTL_SECONDS" not in env
    path_arn = f"arn:aws:ssm:eu-west-1:{ACCOUNT_ID}:parameter/platform/dev/orders"
    grants = _grants(dev_plan, function)
    assert grants[path_arn] == grants[f"{path_arn}/*"] == {"ssm:GetParametersByPath"}
    assert not any(a.startswith("ssm:") for r, acts in grants.items() if not r.startswith(path_arn) for a in acts)


def test_settings_parameters_hold_the_configured_gateway_and_token_lifetime(prod_plan: PlanGraph) -> None:
    parameters = {
        r.inputs["name"]: r.inputs
        for r in prod_plan.of_type("aws:ssm/parameter:Parameter")
        if r.inputs["name"].startswith("/platform/prod/orders/")
    }
    assert set(parameters) == {
        f"/platform/prod/orders/{name}"
        for name in ("paymentGateway", "callbackTtlSeconds", "maxAutoRedrives", "reapAfterSeconds")
    }
    assert parameters["/platform/prod/orders/maxAutoRedrives"]["insecureValue"] == "3"
    assert parameters["/platform/prod/orders/reapAfterSeconds"]["insecureValue"] == "86400"
    assert all(p["type"] == "String" for p in parameters.values())
    # Prod's callback gateway is external: refunds go to reconciliation, never to the sandbox.
    assert parameters["/platform/prod/orders/paymentGateway"]["insecureValue"] == "external"
    timeout = read_stack_config("prod")["platform:orders"]["paymentTimeoutSeconds"]
    assert parameters["/platform/prod/orders/callbackTtlSeconds"]["insecureValue"] == str(timeout + 86_400)


def test_callback_functions_grants(prod_plan: PlanGraph) -> None:
    tables = {p: _arn(prod_plan, "aws:dynamodb/table:Table", p) for p in ("orders", "callbacks")}
    request = _grants(prod_plan, "request-payment")
    assert request[tables["orders"]] == {"dynamodb:GetItem"}
    assert request[tables["callbacks"]] == {"dynamodb:PutItem"}
    consumer = _grants(prod_plan, "lifecycle")
    assert consumer[tables["callbacks"]] == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert consumer["*"] >= {"states:SendTaskSuccess", "states:SendTaskHeartbeat"}
    assert "states:SendTaskFailure" not in consumer["*"]
    assert consumer[_arn(prod_plan, QUEUE, "lifecycle")] == {
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility",
    }  # fmt: skip
    assert not [f for f in _orders(prod_plan, FUNCTION) if f.name == "orders-payment-function"]


def _task_arns(definition: dict[str, Any]) -> set[str]:
    return {s["Parameters"]["FunctionName"] for s in definition["States"].values() if s["Type"] == "Task"}


def test_definition_invokes_exactly_this_stacks_functions(dev_plan: PlanGraph, prod_plan: PlanGraph) -> None:
    for plan in (dev_plan, prod_plan):
        not_tasks = {f"orders-{p}-function" for p in ("lifecycle", "redrive", "reaper")}
        functions = {f.outputs["arn"] for f in _orders(plan, FUNCTION) if f.name not in not_tasks}
        assert _task_arns(_definition(plan)) == functions
        invoke = json.loads(_one(plan, POLICY, "workflow-policy").inputs["policy"])["Statement"][0]
        assert invoke["Action"] == "lambda:InvokeFunction"
        assert set(invoke["Resource"]) == functions
        assert all(f":function:platform-{plan.stack}-orders-" in arn for arn in functions)


def test_callback_definition_waits_for_the_token_with_heartbeat_and_timeout(prod_plan: PlanGraph) -> None:
    payment = _definition(prod_plan)["States"]["ProcessPayment"]
    assert payment["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert payment["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
    assert (payment["HeartbeatSeconds"], payment["TimeoutSeconds"]) == (300, 3600)
    assert payment["Parameters"]["FunctionName"] == _arn(prod_plan, FUNCTION, "request-payment-function")


def test_state_machine_logging_tracing_and_encryption(dev_plan: PlanGraph, prod_plan: PlanGraph) -> None:
    for plan, level, data in ((dev_plan, "ALL", True), (prod_plan, "ERROR", False)):
        machine = _one(plan, SFN, "workflow")
        logs = _one(plan, "aws:cloudwatch/logGroup:LogGroup", "workflow-logs")
        assert machine.inputs["type"] == "STANDARD"
        assert machine.inputs["loggingConfiguration"] == {
            "logDestination": f"{logs.outputs['arn']}:*",
            "includeExecutionData": data,
            "level": level,
        }
        assert machine.inputs["tracingConfiguration"] == {"enabled": True}
        key_arn = _arn(plan, "aws:kms/key:Key", "data-key-key")
        assert machine.inputs["encryptionConfiguration"]["kmsKeyId"] == key_arn
        assert logs.inputs["kmsKeyId"] == key_arn
        assert logs.inputs["retentionInDays"] == (14 if plan is dev_plan else 365)
        assert machine.inputs["name"] == f"platform-{plan.stack}-orders-workflow"


def test_consumer_mapping_reports_partial_failures_with_bounded_concurrency(prod_plan: PlanGraph) -> None:
    mapping = _one(prod_plan, "aws:lambda/eventSourceMapping:EventSourceMapping", "lifecycle-source")
    assert mapping.inputs["eventSourceArn"] == _arn(prod_plan, QUEUE, "lifecycle")
    assert mapping.inputs["functionName"] == _arn(prod_plan, FUNCTION, "lifecycle-function")
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping.inputs["scalingConfig"] == {"maximumConcurrency": 20}
    redrive = json.loads(_one(prod_plan, QUEUE, "lifecycle").inputs["redrivePolicy"])
    assert redrive == {"deadLetterTargetArn": _arn(prod_plan, QUEUE, "lifecycle-dlq"), "maxReceiveCount": 5}


def test_failed_execution_alarm_watches_the_share_of_failed_executions(prod_plan: PlanGraph) -> None:
    """Declined cards and stock-outs end in Fail states: the alarm watches the failed share of at least ten
    started executions in 15 minutes, not every failed one."""
    alarm = _one(prod_plan, "aws:cloudwatch/metricAlarm:MetricAlarm", "failed-executions").inputs
    assert "metricName" not in alarm and "namespace" not in alarm
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    machine = {"StateMachineArn": _arn(prod_plan, SFN, "workflow")}
    for query_id, metric in (("failed", "ExecutionsFailed"), ("started", "ExecutionsStarted")):
        assert queries[query_id]["metric"] == {
            "namespace": "AWS/States",
            "metricName": metric,
            "dimensions": machine,
            "period": 900,
            "stat": "Sum",
        }
        assert queries[query_id]["returnData"] is False
    rate = queries["failure_rate"]
    assert rate["returnData"] is True
    assert rate["expression"] == "IF(FILL(started, 0) >= 10, 100 * FILL(failed, 0) / FILL(started, 1), 0)"
    assert (alarm["threshold"], alarm["comparisonOperator"]) == (50, "GreaterThanOrEqualToThreshold")
    assert alarm["treatMissingData"] == "notBreaching"
    assert alarm["alarmActions"] == [_arn(prod_plan, "aws:sns/topic:Topic", "alarms")]
    body = json.loads(_one(prod_plan, "aws:cloudwatch/dashboard:Dashboard", "dashboard").inputs["dashboardBody"])
    metrics = [m[1] for w in body["widgets"] for m in w["properties"]["metrics"]]
    assert {"ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut", "Invocations"} <= set(metrics)


def test_outputs(staging_plan: PlanGraph) -> None:
    outputs = staging_plan.outputs["orders"]
    assert outputs["busName"] == "platform-staging-orders-bus"
    assert outputs["stateMachineArn"].endswith(":stateMachine:platform-staging-orders-workflow")
    assert set(outputs["tables"]) == {"orders", "inventory", "callbacks"}
    assert outputs["queues"]["lifecycle"].startswith("https://sqs.eu-west-2.amazonaws.com/")


def test_callback_with_express_is_rejected_naming_the_keys(plan_with: Any) -> None:
    with pytest.raises(pulumi.RunError, match=r"paymentIntegration 'callback'.*stateMachineType"):
        plan_with("dev", {"platform:orders": {"paymentIntegration": "callback", "stateMachineType": "EXPRESS"}})
    with pytest.raises(pulumi.RunError, match=r"platform:orders.logLevel"):
        plan_with("dev", {"platform:orders": {"logLevel": "DEBUG"}})


def test_consumer_knows_whether_tokens_wait_and_has_callback_grants_only_then(
    dev_plan: PlanGraph, prod_plan: PlanGraph
) -> None:
    for plan, integration in ((dev_plan, "direct"), (prod_plan, "callback")):
        consumer = _one(plan, FUNCTION, "lifecycle-function")
        assert consumer.inputs["environment"]["variables"]["PAYMENT_INTEGRATION"] == integration
        callbacks = _arn(plan, "aws:dynamodb/table:Table", "callbacks")
        assert (callbacks in _grants(plan, "lifecycle")) is (integration == "callback")


# ------------------------------------------------------------------------------ gateway path (prod)

DESTINATION = "aws:cloudwatch/eventApiDestination:EventApiDestination"
CONNECTION = "aws:cloudwatch/eventConnection:EventConnection"
SECRET = "aws:secretsmanager/secret:Secret"  # pragma: allowlist secret
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def test_prod_payment_requests_reach_the_gateway_api_destination_with_retry_and_dlq(prod_plan: PlanGraph) -> None:
    config = read_stack_config("prod")["platform:orders"]
    rule = _one(prod_plan, RULE, "payment-requested")
    assert json.loads(rule.inputs["eventPattern"]) == events.PAYMENT_REQUESTED_PATTERN
    assert rule.inputs["eventBusName"] == _one(prod_plan, "aws:cloudwatch/eventBus:EventBus", "bus").outputs["name"]
    destination = _one(prod_plan, DESTINATION, "gateway-destination")
    assert destination.inputs["invocationEndpoint"] == config["gatewayEndpoint"]
    assert destination.inputs["httpMethod"] == "POST"
    connection = _one(prod_plan, CONNECTION, "gateway-connection")
    assert destination.inputs["connectionArn"] == connection.outputs["arn"]

    target = _one(prod_plan, TARGET, "payment-requested-target")
    assert (target.inputs["rule"], target.inputs["arn"]) == (rule.outputs["name"], destination.outputs["arn"])
    assert target.inputs["retryPolicy"] == {"maximumEventAgeInSeconds": 14400, "maximumRetryAttempts": 20}
    assert target.inputs["deadLetterConfig"] == {"arn": _arn(prod_plan, QUEUE, "gateway-dlq")}
    # The gateway gets the request (a payment reference, never a token), not the envelope.
    transformer = target.inputs["inputTransformer"]
    assert transformer["inputPaths"] == events.PAYMENT_REQUEST_INPUT_PATHS
    assert "paymentReference" in transformer["inputTemplate"] and "Token" not in transformer["inputTemplate"]
    role_policy = json.loads(_one(prod_plan, POLICY, "gateway-policy").inputs["policy"])
    [statement] = role_policy["Statement"]
    assert (statement["Action"], statement["Resource"]) == ("events:InvokeApiDestination", destination.outputs["arn"])
    assert target.inputs["roleArn"] == _one(prod_plan, "aws:iam/role:Role", "gateway-role").outputs["arn"]
    assert _one(prod_plan, ALARM, "gateway-dlq-messages").inputs["dimensions"] == {
        "QueueName": _one(prod_plan, QUEUE, "gateway-dlq").outputs["name"]
    }


def test_gateway_api_key_comes_from_an_encrypted_secret_never_from_config(prod_plan: PlanGraph) -> None:
    key_arn = _arn(prod_plan, "aws:kms/key:Key", "data-key-key")
    secret = _one(prod_plan, SECRET, "gateway-credentials")
    assert secret.inputs["kmsKeyId"] == key_arn
    assert secret.protect, "the credentials secret is data: protected in prod"
    # It survives a region loss: replicated to the DR region under a key of that region.
    replica_key = _one(prod_plan, "aws:kms/key:Key", "gateway-replica-key-key")
    assert prod_plan.provider_inputs(replica_key)["region"] == "us-west-2"
    assert secret.inputs["replicas"] == [{"region": "us-west-2", "kmsKeyId": replica_key.outputs["arn"]}]
    # Created empty: no version (value) is declared anywhere in the program.
    assert not _orders(prod_plan, "aws:secretsmanager/secretVersion:SecretVersion")
    connection = _one(prod_plan, CONNECTION, "gateway-connection")
    assert connection.inputs["authorizationType"] == "API_KEY"
    assert connection.inputs["kmsKeyIdentifier"] == key_arn
    # EventBridge's service-linked role uses a customer managed key for connections only when it is tagged so.
    data_key = next(k for k in _orders(prod_plan, "aws:kms/key:Key") if k.outputs["arn"] == key_arn)
    assert data_key.inputs["tags"] == {"EventBridgeApiDestinations": "true"}
    auth = connection.inputs["authParameters"]
    # Recorded as a Pulumi secret (what the engine encrypts in state), then the value itself.
    assert auth[rpc._special_sig_key] == rpc._special_secret_sig
    api_key = auth["value"]["apiKey"]
    assert api_key["key"] == "x-api-key"
    # What the mocks' GetSecretVersion answers for the secret: the value is read from it at deploy time.
    assert api_key["value"] == "offline-placeholder-not-a-credential"
    config = json.dumps(read_stack_config("prod")["platform:orders"])
    assert "apiKey" not in config and "offline-placeholder" not in config


def test_only_the_gateway_account_may_put_only_its_answers_on_the_bus(prod_plan: PlanGraph) -> None:
    account = read_stack_config("prod")["platform:orders"]["gatewayAccountId"]
    bus = _one(prod_plan, "aws:cloudwatch/eventBus:EventBus", "bus")
    policy = _one(prod_plan, "aws:cloudwatch/eventBusPolicy:EventBusPolicy", "gateway-replies")
    assert policy.inputs["eventBusName"] == bus.outputs["name"]
    [statement] = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
    assert (statement["Action"], statement["Resource"]) == ("events:PutEvents", bus.outputs["arn"])
    assert statement["Condition"] == {
        "StringEquals": {"events:source": "ecommerce.payments"},
        "ForAllValues:StringEquals": {
            "events:detail-type": ["Payment Completed", "Payment Declined", "Payment Processing"]
        },
    }


def test_callback_without_a_gateway_is_refused_naming_the_keys(plan_with: Any) -> None:
    with pytest.raises(pulumi.RunError, match=r"paymentIntegration 'callback' needs gatewayEndpoint"):
        plan_with("dev", {"platform:orders": {"paymentIntegration": "callback"}})


def test_dev_direct_variant_builds_no_gateway_path(dev_plan: PlanGraph) -> None:
    for type_token in (DESTINATION, CONNECTION, SECRET, "aws:cloudwatch/eventBusPolicy:EventBusPolicy"):
        assert not _orders(dev_plan, type_token), type_token


# ------------------------------------------------------------------------------ redrive and reaper


def test_failed_executions_are_redriven_within_a_bound_then_alarm(prod_plan: PlanGraph) -> None:
    machine_arn = _arn(prod_plan, SFN, "workflow")
    rule = _one(prod_plan, RULE, "execution-stopped")
    assert "eventBusName" not in rule.inputs, "Step Functions sends its events to the default bus"
    assert json.loads(rule.inputs["eventPattern"]) == events.execution_stopped_pattern(machine_arn)
    function = _one(prod_plan, FUNCTION, "redrive-function")
    target = _one(prod_plan, TARGET, "execution-stopped-target")
    assert (target.inputs["rule"], target.inputs["arn"]) == (rule.outputs["name"], function.outputs["arn"])
    recovery_dlq = _arn(prod_plan, QUEUE, "recovery-dlq")
    assert target.inputs["deadLetterConfig"] == {"arn": recovery_dlq}
    assert function.inputs["deadLetterConfig"] == {"targetArn": recovery_dlq}
    permission = _one(prod_plan, "aws:lambda/permission:Permission", "redrive-invoke")
    assert (permission.inputs["principal"], permission.inputs["sourceArn"]) == (
        "events.amazonaws.com",
        rule.outputs["arn"],
    )
    region = machine_arn.split(":")[3]
    executions = f"arn:aws:states:{region}:{ACCOUNT_ID}:execution:platform-prod-orders-workflow:*"
    grants = _grants(prod_plan, "redrive")
    assert grants[executions] == {"states:DescribeExecution", "states:RedriveExecution"}
    assert not any(a.startswith("dynamodb:") for acts in grants.values() for a in acts)
    abandoned = _one(prod_plan, ALARM, "executions-abandoned")
    assert (abandoned.inputs["namespace"], abandoned.inputs["metricName"]) == ("Platform", "ExecutionsAbandoned")
    assert abandoned.inputs["dimensions"] == {"FunctionName": function.outputs["name"]}


def test_reaper_runs_on_a_schedule_with_only_what_it_settles(prod_plan: PlanGraph) -> None:
    schedule = _one(prod_plan, RULE, "reaper-schedule")
    assert schedule.inputs["scheduleExpression"] == "rate(15 minutes)"
    target = _one(prod_plan, TARGET, "reaper-target")
    assert target.inputs["arn"] == _arn(prod_plan, FUNCTION, "reaper-function")
    assert target.inputs["deadLetterConfig"] == {"arn": _arn(prod_plan, QUEUE, "recovery-dlq")}
    tables = {p: _arn(prod_plan, "aws:dynamodb/table:Table", p) for p in ("orders", "inventory", "callbacks")}
    grants = _grants(prod_plan, "reaper")
    assert grants[tables["orders"]] == {"dynamodb:Scan", "dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert grants[tables["inventory"]] == {"dynamodb:UpdateItem"}
    assert tables["callbacks"] not in grants
    assert grants[_arn(prod_plan, QUEUE, "refund-reconciliation")] == {"sqs:SendMessage"}
    assert _one(prod_plan, FUNCTION, "reaper-function").inputs["timeout"] == 300
    assert _one(prod_plan, ALARM, "reaper-errors").inputs["metricName"] == "Errors"


def test_alarms_apart_from_declined_cards(prod_plan: PlanGraph) -> None:
    machine = {"StateMachineArn": _arn(prod_plan, SFN, "workflow")}
    timed_out = _one(prod_plan, ALARM, "timed-out-executions")
    assert (timed_out.inputs["metricName"], timed_out.inputs["dimensions"]) == ("ExecutionsTimedOut", machine)
    release = _one(prod_plan, ALARM, "release-failures")
    assert (release.inputs["namespace"], release.inputs["metricName"]) == ("AWS/Lambda", "Errors")
    assert release.inputs["dimensions"] == {
        "FunctionName": _one(prod_plan, FUNCTION, "release-function").outputs["name"]
    }
    for queue in ("refund-reconciliation", "bus-dlq", "recovery-dlq", "gateway-dlq"):
        alarm = _one(prod_plan, ALARM, f"{queue}-messages")
        assert alarm.inputs["dimensions"] == {"QueueName": _one(prod_plan, QUEUE, queue).outputs["name"]}, queue
        assert alarm.inputs["alarmActions"] == [_arn(prod_plan, "aws:sns/topic:Topic", "alarms")]


def test_the_cmk_bus_has_its_own_dead_letter_queue(prod_plan: PlanGraph) -> None:
    bus = _one(prod_plan, "aws:cloudwatch/eventBus:EventBus", "bus")
    assert bus.inputs["deadLetterConfig"] == {"arn": _arn(prod_plan, QUEUE, "bus-dlq")}
    policy = json.loads(_one(prod_plan, "aws:sqs/queuePolicy:QueuePolicy", "bus-dlq-policy").inputs["policy"])
    assert policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == [bus.outputs["arn"]]


def test_state_machine_role_encrypts_its_logs_with_the_logs_context_only(prod_plan: PlanGraph) -> None:
    document = json.loads(_one(prod_plan, POLICY, "workflow-policy").inputs["policy"])
    logs = next(s for s in document["Statement"] if s["Sid"] == "EncryptExecutionLogs")
    assert (logs["Action"], logs["Resource"]) == (
        "kms:GenerateDataKey",
        _arn(prod_plan, "aws:kms/key:Key", "data-key-key"),
    )
    region = _arn(prod_plan, SFN, "workflow").split(":")[3]
    assert logs["Condition"] == {
        "StringEquals": {"kms:EncryptionContext:SourceArn": f"arn:aws:logs:{region}:{ACCOUNT_ID}:*"}
    }


def test_no_catch_of_the_deployed_definitions_hides_an_infrastructure_error(
    dev_plan: PlanGraph, prod_plan: PlanGraph
) -> None:
    for plan in (dev_plan, prod_plan):
        document = json.dumps(_definition(plan))
        assert "States.ALL" not in document and "States.TaskFailed" not in document
        assert "RefundPayment" in _definition(plan)["States"]


# ------------------------------------------------------------------------- direct variant, http gateway

HTTP_GATEWAY = {"paymentGateway": "http", "gatewayEndpoint": "https://pay.gateway.invalid/v1/charges"}


def test_direct_http_gateway_is_charged_by_an_http_task_through_the_connection(plan_with: Any) -> None:
    plan = plan_with("dev", {"platform:orders": HTTP_GATEWAY})
    connection = _one(plan, CONNECTION, "gateway-connection")
    key = next(k for k in _orders(plan, "aws:kms/key:Key") if k.outputs["arn"] == connection.inputs["kmsKeyIdentifier"])
    assert key.inputs["tags"] == {"EventBridgeApiDestinations": "true"}
    payment = _definition(plan)["States"]["ProcessPayment"]
    assert payment["Resource"] == "arn:aws:states:::http:invoke"
    assert payment["Parameters"]["ApiEndpoint"] == HTTP_GATEWAY["gatewayEndpoint"]
    assert payment["Parameters"]["Method"] == "POST"
    assert payment["Parameters"]["Authentication"] == {"ConnectionArn": connection.outputs["arn"]}
    assert payment["Parameters"]["Headers"]["Idempotency-Key.$"] == "$.order.orderId"
    assert _definition(plan)["States"]["RecordPayment"]["Parameters"]["FunctionName"] == _arn(
        plan, FUNCTION, "record-payment-function"
    )
    assert not [f for f in _orders(plan, FUNCTION) if f.name == "orders-payment-function"]

    role = json.loads(_one(plan, POLICY, "workflow-policy").inputs["policy"])
    by_sid = {s["Sid"]: s for s in role["Statement"]}
    call = by_sid["CallGatewayEndpoint"]
    assert (call["Action"], call["Resource"]) == ("states:InvokeHTTPEndpoint", _arn(plan, SFN, "workflow"))
    assert call["Condition"]["StringEquals"] == {
        "states:HTTPMethod": "POST",
        "states:HTTPEndpoint": HTTP_GATEWAY["gatewayEndpoint"],
    }
    assert by_sid["UseGatewayConnection"]["Resource"] == connection.outputs["arn"]
    assert by_sid["ReadGatewayConnectionSecret"]["Resource"] == connection.outputs["secretArn"]
    # The API key reaches the connection from the secret only; no function can read it.
    for function in _orders(plan, FUNCTION):
        policy = _one(plan, POLICY, f"{function.name.removeprefix('orders-').removesuffix('-function')}-policy")
        assert "secretsmanager:GetSecretValue" not in policy.inputs["policy"], function.name


def test_http_gateway_without_an_endpoint_is_refused(plan_with: Any) -> None:
    with pytest.raises(pulumi.RunError, match=r"paymentGateway 'http' needs gatewayEndpoint"):
        plan_with("dev", {"platform:orders": {"paymentGateway": "http"}})
